"""Provenance recorded in every result: versions, git commit, device, checksums, wall time."""

from __future__ import annotations

import platform
import subprocess
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path


def package_version() -> str:
    try:
        return metadata.version("geogen")
    except metadata.PackageNotFoundError:
        return "unknown"


def git_commit() -> str | None:
    """HEAD of the repository holding this package (with "+dirty" if files changed), or None."""
    root = Path(__file__).resolve().parents[1]
    try:
        head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True,
                              timeout=10, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=root,
                               capture_output=True, text=True, timeout=10).stdout.strip()
        return head + ("+dirty" if dirty else "")
    except (OSError, subprocess.SubprocessError):
        return None


def device_description() -> str:
    desc = f"{platform.machine()} {platform.processor() or platform.system()}"
    try:
        import torch

        if torch.cuda.is_available():
            return f"cuda:{torch.cuda.get_device_name(0)}"
        return f"cpu ({desc}, torch {torch.__version__}, {torch.get_num_threads()} threads)"
    except ImportError:
        return f"cpu ({desc})"


def now_utc() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def provenance(dataset_sha256: str, model_sha256: str | None, wall_time_s: float) -> dict:
    return {"dataset_manifest_sha256": dataset_sha256, "model_sha256": model_sha256,
            "package_version": package_version(), "git_commit": git_commit(),
            "device": device_description(), "python": platform.python_version(),
            "wall_time_s": round(float(wall_time_s), 3), "created_utc": now_utc()}
