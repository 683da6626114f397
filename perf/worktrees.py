"""Old versions of the code for the old/new speed scripts: a detached git worktree of REF under
the temp folder (created once, reused), whose files a worker process runs with PYTHONPATH."""

from __future__ import annotations

import subprocess
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def old_tree(ref: str) -> Path:
    """Path of a worktree of ``ref`` (commit, branch or tag), created on first use."""
    path = Path(tempfile.gettempdir()) / f"geogen-old-{ref}"
    if not path.exists():
        subprocess.run(["git", "-C", str(REPO), "worktree", "add", "--detach", str(path), ref], check=True,
                       capture_output=True)
    return path
