"""Multi-view input for reconstruction: images + known cameras (+ optional masks).

Reads the two formats the dataset writes per identity (and most capture tools export):
a NeRF-style ``transforms.json`` (OpenGL cam2world) and a COLMAP text model (PINHOLE or
SIMPLE_PINHOLE ``cameras.txt`` + ``images.txt``). Cameras are converted to the project's
convention (:mod:`geogen.common.cameras`: OpenCV cam2world, normalised intrinsics).
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
from PIL import Image

from geogen.common.cameras import Camera, opencv_to_opengl, quaternion_to_rotation
from geogen.common.errors import UserError
from dataset.format import MANIFEST

DEFAULT_BOUNDS = (np.full(3, -0.5), np.full(3, 0.5))  # the dataset's scene cube


@dataclass
class View:
    """One calibrated image: RGB float32 in [0, 1], shape (H, W, 3); mask bool (H, W) or None."""

    name: str
    image: np.ndarray
    camera: Camera
    mask: np.ndarray | None = None


@dataclass
class MVSScene:
    """Views plus an axis-aligned box known to contain the surface (None: derive from sparse points)."""

    views: list[View]
    bounds: tuple[np.ndarray, np.ndarray] | None = field(default=None)

    @property
    def size(self) -> tuple[int, int]:
        h, w = self.views[0].image.shape[:2]
        return w, h


def load_rgb(path: str | os.PathLike) -> np.ndarray:
    p = Path(path)
    if not p.is_file():
        raise UserError(f"image {p} not found; check the image folder / file_path entries")
    try:
        with Image.open(p) as im:
            return np.asarray(im.convert("RGB"), dtype=np.float32) / 255.0
    except OSError as exc:
        raise UserError(f"image {p} could not be read ({exc}); re-export it as PNG/JPEG") from None


def load_mask(path: str | os.PathLike) -> np.ndarray:
    with Image.open(path) as im:
        return np.asarray(im.convert("L")) >= 128


def _find_mask(image_path: Path, mask_dir: Path | None) -> np.ndarray | None:
    """The dataset keeps masks in ``D/masks/<id>/<vvv>.png`` beside ``D/images/<id>/<vvv>.png``."""
    candidates = []
    if mask_dir is not None:
        candidates.append(Path(mask_dir) / image_path.name)
    if image_path.parent.parent.name == "images":
        candidates.append(image_path.parent.parent.parent / "masks" / image_path.parent.name / image_path.name)
    for c in candidates:
        if c.is_file():
            return load_mask(c)
    return None


def input_root(transforms: Path) -> Path:
    """The folder a transforms.json's paths must stay inside: the nearest enclosing dataset folder
    (one holding manifest.json), else the file's own folder."""
    here = Path(transforms).resolve().parent
    for folder in (here, *here.parents):
        if (folder / MANIFEST).is_file():
            return folder
    return here


def _matrix(fr: dict, i: int, p: Path) -> np.ndarray:
    """The frame's cam2world as a finite 4x4 matrix with a rotation block, or a one-line UserError."""
    try:
        m = np.asarray(fr["transform_matrix"], dtype=np.float64)
    except (TypeError, ValueError):
        m = np.zeros(0)
    if m.shape != (4, 4) or not np.all(np.isfinite(m)):
        raise UserError(f"frame {i} of {p}: transform_matrix must be a 4x4 matrix of finite numbers")
    R = m[:3, :3]
    if np.abs(R.T @ R - np.eye(3)).max() > 1e-4 or abs(np.linalg.det(R) - 1) > 1e-4:
        raise UserError(f"frame {i} of {p}: the rotation part of transform_matrix is not a rotation "
                        "(orthonormal, determinant 1); scaled or sheared cameras are not supported")
    return m


def _intrinsics(fr: dict, meta: dict, w: int, h: int, i: int, p: Path) -> np.ndarray:
    """Normalised K of one frame (frame values override the file's), or a one-line UserError."""
    get = lambda k, d=None: fr.get(k, meta.get(k, d))  # noqa: E731 — per-frame overrides global
    try:
        if get("fl_x") is not None:
            fx, fy = float(get("fl_x")), float(get("fl_y", get("fl_x")))
        elif get("camera_angle_x") is not None:
            fx = 0.5 * w / math.tan(0.5 * float(get("camera_angle_x")))
            fy = 0.5 * h / math.tan(0.5 * float(get("camera_angle_y"))) if get("camera_angle_y") else fx
        else:
            raise UserError(f"{p} gives no focal length (fl_x or camera_angle_x); add one")
        cx, cy = float(get("cx", w / 2)), float(get("cy", h / 2))
        if "w" in meta and int(get("w")) != w:  # intrinsics given for another resolution: rescale
            s = w / float(get("w"))
            fx, fy, cx, cy = fx * s, fy * s, cx * s, cy * s
    except (TypeError, ValueError, ZeroDivisionError, OverflowError):
        raise UserError(f"frame {i} of {p}: intrinsics (fl_x/fl_y/camera_angle_x/cx/cy/w) must be numbers") from None
    if not all(math.isfinite(v) for v in (fx, fy, cx, cy)) or fx <= 0 or fy <= 0:
        raise UserError(f"frame {i} of {p}: focal length and principal point must be finite, focal > 0")
    return np.array([[fx / w, 0, cx / w], [0, fy / h, cy / h], [0, 0, 1.0]])


def read_transforms(path: str | os.PathLike, use_masks: bool = True, mask_dir: str | os.PathLike | None = None,
                    root: str | os.PathLike | None = None) -> MVSScene:
    """Read a NeRF-style ``transforms.json`` (OpenGL cam2world per frame) into an :class:`MVSScene`.

    Every ``file_path``/``mask_path`` must resolve inside ``root`` (default :func:`input_root`)."""
    from geogen.common.atomic import read_json
    from geogen.common.paths import inside_dataset

    p = Path(path)
    root = Path(root) if root is not None else input_root(p)
    meta = read_json(p, "transforms file")
    frames = meta.get("frames") if isinstance(meta, dict) else None
    if not frames or not isinstance(frames, list):
        raise UserError(f"transforms file {p} has no 'frames'; it needs one entry per image")
    views = []
    for i, fr in enumerate(frames):
        if not isinstance(fr, dict) or "file_path" not in fr or "transform_matrix" not in fr:
            raise UserError(f"frame {i} of {p} lacks 'file_path' or 'transform_matrix'")
        c2w = opencv_to_opengl(_matrix(fr, i, p))  # the flip is its own inverse
        img_path = inside_dataset(root, fr["file_path"], base=p.parent, what=f"frame {i} of {p}: file_path")
        if not img_path.suffix and img_path.with_suffix(".png").is_file():
            img_path = img_path.with_suffix(".png")
        image = load_rgb(img_path)
        h, w = image.shape[:2]
        K_norm = _intrinsics(fr, meta, w, h, i, p)
        mask = None
        mask_path = (inside_dataset(root, fr["mask_path"], base=p.parent, what=f"frame {i} of {p}: mask_path")
                     if use_masks and fr.get("mask_path") else None)
        if mask_path is not None and mask_path.is_file():
            mask = load_mask(mask_path)
        elif use_masks:
            mask = _find_mask(img_path, Path(mask_dir) if mask_dir else None)
        views.append(View(img_path.stem, image, Camera(c2w, K_norm, w, h), mask))
    return _checked(MVSScene(views), p)


def read_transforms_files(paths: list[str | os.PathLike], use_masks: bool = True,
                          root: str | os.PathLike | None = None) -> MVSScene:
    """Several ``transforms.json`` files read as one scene, e.g. a dataset identity's training views
    plus its reconstruction-only views. Each view's name is prefixed with its file's folder
    (``identities/000004`` -> ``identities_000``) so names stay unique; all images must share one size."""
    if len(paths) == 1:
        return read_transforms(paths[0], use_masks=use_masks, root=root)
    views = []
    for path in paths:
        prefix = Path(path).parent.parent.name
        views += [replace(v, name=f"{prefix}_{v.name}") for v in read_transforms(path, use_masks, root=root).views]
    return _checked(MVSScene(views), Path(paths[0]).parent)


def read_colmap_text(model_dir: str | os.PathLike, image_dir: str | os.PathLike, use_masks: bool = True,
                     mask_dir: str | os.PathLike | None = None) -> MVSScene:
    """Read a COLMAP text model (``cameras.txt`` + ``images.txt``, pinhole cameras) and its images."""
    model_dir, image_dir = Path(model_dir), Path(image_dir)
    cams_txt, imgs_txt = model_dir / "cameras.txt", model_dir / "images.txt"
    for f in (cams_txt, imgs_txt):
        if not f.is_file():
            raise UserError(f"COLMAP model file {f} not found; pass the folder holding cameras.txt and images.txt")
    cameras = {}
    for line in cams_txt.read_text().splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        tok = line.split()
        cam_id, model, w, h, params = int(tok[0]), tok[1], int(tok[2]), int(tok[3]), [float(v) for v in tok[4:]]
        if model == "PINHOLE":
            fx, fy, cx, cy = params[:4]
        elif model == "SIMPLE_PINHOLE":
            fx, cx, cy = params[:3]
            fy = fx
        else:
            raise UserError(f"camera {cam_id} in {cams_txt} uses model {model}; undistort to PINHOLE first "
                            "(colmap image_undistorter)")
        cameras[cam_id] = (w, h, np.array([[fx / w, 0, cx / w], [0, fy / h, cy / h], [0, 0, 1.0]]))
    lines = [ln for ln in imgs_txt.read_text().splitlines() if not ln.startswith("#")]
    views = []
    # images.txt alternates a pose line and a (possibly empty) 2D-points line.
    for pose_line in lines[0::2]:
        if not pose_line.strip():
            continue
        tok = pose_line.split()
        q, t, cam_id, name = np.array(tok[1:5], float), np.array(tok[5:8], float), int(tok[8]), " ".join(tok[9:])
        if cam_id not in cameras:
            raise UserError(f"image {name} refers to camera {cam_id}, which {cams_txt} does not define")
        w, h, K_norm = cameras[cam_id]
        R = quaternion_to_rotation(q)
        c2w = np.eye(4)
        c2w[:3, :3], c2w[:3, 3] = R.T, -R.T @ t
        img_path = image_dir / name
        image = load_rgb(img_path)
        if image.shape[:2] != (h, w):
            raise UserError(f"image {img_path} is {image.shape[1]}x{image.shape[0]} but camera {cam_id} says {w}x{h}")
        mask = _find_mask(img_path, Path(mask_dir) if mask_dir else None) if use_masks else None
        views.append(View(Path(name).stem, image, Camera(c2w, K_norm, w, h), mask))
    return _checked(MVSScene(views), model_dir)


def _checked(scene: MVSScene, source: Path) -> MVSScene:
    if len(scene.views) < 3:
        raise UserError(f"{source} has {len(scene.views)} views; multi-view stereo needs at least 3")
    sizes = {v.image.shape for v in scene.views}
    if len(sizes) != 1:
        raise UserError(f"{source}: all images must have the same size, found {sorted(sizes)}")
    return scene
