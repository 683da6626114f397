"""Model files and snapshots in the SAFE format: plain data only, never pickled code; and the
one loader that builds a Generator from them (no training code needed to use a model).

A file is one ``torch.save`` of a dict holding only str/int/float/bool/None, lists, dicts
and tensors::

    format: "geogen"            format_version: 1          kind: "snapshot" | "model"
    model_config: {...}         train_config: {...}        meta: {...}   (camera stats, dataset, ...)
    G_ema: state_dict           (model files and snapshots)
    G, D, opt_G, opt_D: state_dicts, progress: {...}, schedule: {...}, rng: {...}   (snapshots only)

It is written to a temporary file and renamed (a killed write never leaves a file that looks
complete) and read ONLY with ``torch.load(weights_only=True)``, whose restricted unpickler
refuses any global it does not know instead of importing or calling it. So a model file from
a stranger cannot run code here; a truncated, foreign or future-version file is refused with a
one-line :class:`UserError`.

``load_model_file`` is the one loader geogen-gen and geogen-bench use. The training package
writes these files (:mod:`geogen.training.checkpoint`: snapshot names, ``latest``, pruning).
"""

from __future__ import annotations

import os
import pickle
import re
import warnings
import zipfile
from pathlib import Path

import torch

from geogen.common.atomic import atomic_path
from geogen.common.errors import UserError

FORMAT = "geogen"
FORMAT_VERSION = 1
SNAPSHOT_KEYS = ("model_config", "train_config", "G", "D", "G_ema", "opt_G", "opt_D", "progress")
MODEL_KEYS = ("model_config", "G_ema")


def save_file(path: str | os.PathLike, payload: dict, kind: str) -> Path:
    """Write ``payload`` (plain data + tensors) as a ``kind`` file, atomically."""
    obj = {"format": FORMAT, "format_version": FORMAT_VERSION, "kind": kind, **payload}
    path = Path(path)
    with atomic_path(path) as tmp:
        torch.save(obj, tmp)
    return path


def load_file(path: str | os.PathLike, what: str = "model file") -> dict:
    """Read a GeoGen file without executing anything from it; one-line UserError if unusable."""
    p = Path(path)
    if not p.is_file():
        raise UserError(f"{what} {p} not found")
    try:
        with warnings.catch_warnings():  # torch warns about pickle protocols of foreign files
            warnings.simplefilter("ignore")
            obj = torch.load(p, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        found = re.search(r"GLOBAL (\S+)", str(exc))
        if found:
            raise UserError(f"{what} {p} was refused and nothing in it was run: it references "
                            f"{found.group(1)}, not plain data; only load model files written by geogen-train") from None
        raise UserError(f"{what} {p} is truncated or not a GeoGen file (not a plain-data torch archive); "
                        "nothing in it was run") from None
    except (RuntimeError, EOFError, zipfile.BadZipFile, OSError, ValueError, KeyError, IndexError) as exc:
        msg = str(exc).strip().splitlines()[0][:160] if str(exc).strip() else type(exc).__name__
        raise UserError(f"{what} {p} is truncated or not a GeoGen file ({msg}); re-copy it or use an "
                        "earlier snapshot") from None
    if not isinstance(obj, dict) or obj.get("format") != FORMAT:
        raise UserError(f"{what} {p} is not a GeoGen model file (no format marker)")
    version = obj.get("format_version")
    if version != FORMAT_VERSION:
        raise UserError(f"{what} {p} has format version {version!r}; this geogen reads version "
                        f"{FORMAT_VERSION}: use the geogen release that wrote it")
    needed = SNAPSHOT_KEYS if obj.get("kind") == "snapshot" else MODEL_KEYS
    missing = [k for k in needed if k not in obj]
    if missing:
        raise UserError(f"{what} {p} lacks {', '.join(missing)}; it is incomplete")
    return obj


def load_state(module: torch.nn.Module, state: dict, what: str) -> None:
    """``load_state_dict`` (strict) with a one-line error when the file does not match the code."""
    try:
        module.load_state_dict(state)
    except (RuntimeError, KeyError, TypeError) as exc:
        first = str(exc).strip().splitlines()
        detail = " ".join(ln.strip() for ln in first[:2])[:200]
        raise UserError(f"{what} do not match this version of the model ({detail}); retrain or use the geogen release that wrote the file") from None


def build_generator(obj: dict, key: str = "G_ema"):
    """A Generator with the weights stored under ``key`` of a loaded file (eval mode, no grads)."""
    from .config import ModelConfig
    from .generator import Generator

    cfg = ModelConfig.from_dict(obj["model_config"])
    G = Generator(cfg)
    load_state(G, obj[key], f"{key} weights")
    G.eval().requires_grad_(False)
    return G, cfg


def load_model_file(path: str | os.PathLike):
    """(G_ema, ModelConfig, meta) from a ``geogen.pkl`` model file or a training snapshot.

    ``meta`` holds the training config, the camera statistics of the training data
    (``meta["camera"]``: radius, elevation, focal), the kimg trained and provenance.
    """
    obj = load_file(path, "model file")
    G, cfg = build_generator(obj)
    meta = dict(obj.get("meta", {}))
    meta.setdefault("train_config", obj.get("train_config"))
    meta.setdefault("kind", obj.get("kind"))
    return G, cfg, meta
