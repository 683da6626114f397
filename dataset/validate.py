"""Check a dataset folder against its manifest: existence, checksums, shapes and label sanity.

:func:`validate_dataset` returns a list of one-line problems (empty = clean); the CLI prints
them and exits 1 if there are any.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
from PIL import Image

from geogen.common.cameras import from_label, opencv_to_opengl, quaternion_to_rotation, world_to_camera
from geogen.common.errors import UserError

from . import format as layout
from .config import DatasetConfig
from .format import read_manifest, splits
from .views import max_azimuth_gap
from .writers.images import decode_normals
from .writers.manifest import dataset_labels, verify_files

MAX_PROBLEMS_PER_KIND = 1000


def validate_dataset(root: str | Path) -> list[str]:
    """All problems found in the dataset folder ``root`` (UserError if ``root`` is not a folder)."""
    root = Path(root)
    if not root.is_dir():
        raise UserError(f"dataset folder {root} not found")
    if not (root / layout.MANIFEST).is_file():
        done = len(list(root.glob("identities/*/record.json")))
        return [f"manifest.json missing: the build has not finished ({done} identities committed); "
                "re-run the same geogen-data build command (or geogen-data merge for shards)"]
    try:
        manifest = read_manifest(root)
        config = DatasetConfig.from_dict(manifest["config"])
    except (UserError, KeyError, TypeError) as exc:
        return [f"manifest.json unusable: {exc}"]
    problems: list[str] = []
    problems += verify_files(root, manifest["files"])
    problems += verify_files(root, manifest.get("derived_files", {}))
    problems += _check_split(manifest, config)
    for i in range(config.identities):
        entry = manifest["identities"].get(layout.id_str(i))
        if entry is None:
            problems.append(f"identity {layout.id_str(i)}: not in manifest")
            continue
        problems += _check_identity(root, manifest, config, i, entry)
    problems += _check_dataset_json(root, manifest, config)
    return problems


def _check_split(manifest: dict, config: DatasetConfig) -> list[str]:
    expected = {name: [layout.id_str(i) for i in ids] for name, ids in splits(config).items()}
    split = manifest.get("split", {})
    if any(split.get(name, []) != ids for name, ids in expected.items()):
        return ["manifest.json: split does not match the seeded train/val/test split of its config"]
    return []


def _check_identity(root: Path, manifest: dict, config: DatasetConfig, i: int, entry: dict) -> list[str]:
    problems = []
    files = manifest["files"]
    expected = [layout.gt_mesh(i), layout.transforms(i)] + [f"{layout.colmap_dir(i)}/{n}" for n in
                                                            ("cameras.txt", "images.txt", "points3D.txt")]
    views = entry.get("views", [])
    if len(views) != config.views:
        problems.append(f"identity {layout.id_str(i)}: {len(views)} views, config says {config.views}")
    for v in views:
        k = v["index"]
        expected += [layout.image(i, k), layout.depth(i, k), layout.normals(i, k), layout.mask(i, k)]
    problems += [f"{rel}: not listed in manifest" for rel in expected if rel not in files]
    if views and max_azimuth_gap([v["azimuth_deg"] for v in views]) > 90.0 + 1e-6:
        problems.append(f"identity {layout.id_str(i)}: azimuth gap > 90 deg")
    for v in views:
        problems += _check_label(f"identity {layout.id_str(i)} view {v['index']:03d}", v["label"], config)
        problems += _check_maps(root, config, i, v["index"])
    problems += _check_mesh(root, i, entry.get("mesh", {}))
    problems += _check_transforms(root, i, views)
    problems += _check_colmap(root, i, views, config)
    return problems


def _check_label(where: str, label, config: DatasetConfig) -> list[str]:
    if not isinstance(label, list) or len(label) != 25 or not all(isinstance(x, (int, float)) for x in label):
        return [f"{where}: label is not 25 numbers"]
    c2w, K = from_label(label)
    R, pos = c2w[:3, :3], c2w[:3, 3]
    out = []
    if not np.all(np.isfinite(c2w)) or np.abs(R.T @ R - np.eye(3)).max() > 1e-6 or abs(np.linalg.det(R) - 1) > 1e-6:
        out.append(f"{where}: cam2world rotation is not orthonormal")
    if not np.allclose(c2w[3], [0, 0, 0, 1]):
        out.append(f"{where}: cam2world last row is not (0, 0, 0, 1)")
    cosang = float(np.dot(R[:, 2], -pos) / max(np.linalg.norm(pos), 1e-12))
    if math.degrees(math.acos(min(1.0, max(-1.0, cosang)))) > 1.0:
        out.append(f"{where}: optical axis misses the head centre by more than 1 deg")
    if not (np.allclose(K[2], [0, 0, 1]) and abs(K[0, 2] - 0.5) < 1e-9 and abs(K[1, 2] - 0.5) < 1e-9
            and abs(K[0, 0] - config.focal) < 1e-9 and abs(K[1, 1] - config.focal) < 1e-9 and K[0, 1] == 0):
        out.append(f"{where}: intrinsics are not normalised (expected f={config.focal}, c=0.5)")
    return out


def _load_png(path: Path, mode: str, res: int) -> tuple[np.ndarray | None, str | None]:
    try:
        with Image.open(path) as im:
            if im.mode != mode or im.size != (res, res):
                return None, f"{im.mode} {im.size[0]}x{im.size[1]}, expected {mode} {res}x{res}"
            return np.asarray(im), None
    except (OSError, ValueError) as exc:
        return None, f"unreadable PNG ({exc})"


def _check_maps(root: Path, config: DatasetConfig, i: int, k: int) -> list[str]:
    res, out = config.resolution, []
    rgb, err = _load_png(root / layout.image(i, k), "RGB", res)
    if err and (root / layout.image(i, k)).is_file():
        out.append(f"{layout.image(i, k)}: {err}")
    mask, err = _load_png(root / layout.mask(i, k), "L", res)
    if err:
        if (root / layout.mask(i, k)).is_file():
            out.append(f"{layout.mask(i, k)}: {err}")
        return out
    fg = mask == 255
    if not np.all((mask == 0) | fg):
        out.append(f"{layout.mask(i, k)}: values other than 0 and 255")
    if not fg.any():
        out.append(f"{layout.mask(i, k)}: empty (the head is not in view)")
    dpath = root / layout.depth(i, k)
    try:
        depth = np.load(dpath, allow_pickle=False) if dpath.is_file() else None
    except (OSError, ValueError) as exc:
        depth, _ = None, out.append(f"{layout.depth(i, k)}: unreadable ({exc})")
    if depth is not None:
        if depth.dtype != np.float32 or depth.shape != (res, res):
            out.append(f"{layout.depth(i, k)}: {depth.dtype} {depth.shape}, expected float32 ({res}, {res})")
        elif not np.all(np.isfinite(depth)):
            out.append(f"{layout.depth(i, k)}: non-finite values")
        elif np.any(depth[~fg] != 0) or np.any(depth[fg] <= 0):
            out.append(f"{layout.depth(i, k)}: depth is not > 0 exactly on the mask and 0 elsewhere")
        elif fg.any() and (depth[fg].min() < config.radius - 0.9 or depth[fg].max() > config.radius + 0.9):
            out.append(f"{layout.depth(i, k)}: depth outside the scene cube's range")
    nrm, err = _load_png(root / layout.normals(i, k), "RGB", res)
    if err:
        if (root / layout.normals(i, k)).is_file():
            out.append(f"{layout.normals(i, k)}: {err}")
    else:
        if np.any(nrm[~fg] != 0):
            out.append(f"{layout.normals(i, k)}: background is not 0")
        length = np.linalg.norm(decode_normals(nrm[fg]), axis=-1)
        if length.size and (length.min() < 0.97 or length.max() > 1.03):
            out.append(f"{layout.normals(i, k)}: foreground normals are not unit length")
    return out


def _check_mesh(root: Path, i: int, mesh_entry: dict) -> list[str]:
    from geogen.common.meshio import load_mesh

    rel = layout.gt_mesh(i)
    if not (root / rel).is_file():
        return []
    try:
        mesh = load_mesh(root / rel, "GT mesh")
    except UserError as exc:
        return [f"{rel}: {exc}"]
    out = []
    if len(mesh.vertices) != mesh_entry.get("vertices") or len(mesh.faces) != mesh_entry.get("faces"):
        out.append(f"{rel}: vertex/face counts differ from the manifest")
    if np.abs(mesh.vertices).max() > 0.5 + 1e-3:
        out.append(f"{rel}: vertices outside the scene cube [-0.5, 0.5]^3")
    if not mesh.is_watertight:
        out.append(f"{rel}: not watertight")
    return out


def _check_transforms(root: Path, i: int, views: list[dict]) -> list[str]:
    import json

    rel = layout.transforms(i)
    try:
        data = json.loads((root / rel).read_text())
        frames = data["frames"]
    except (OSError, ValueError, KeyError):
        return [] if not (root / rel).is_file() else [f"{rel}: unreadable or has no frames"]
    if len(frames) != len(views):
        return [f"{rel}: {len(frames)} frames, expected {len(views)}"]
    for f, v in zip(frames, views):
        if f["file_path"] != "../../" + v["image"] or not np.allclose(
                np.asarray(f["transform_matrix"]), opencv_to_opengl(from_label(v["label"])[0]), atol=1e-9):
            return [f"{rel}: frame {v['index']} does not match the manifest pose/image"]
    return []


def _check_colmap(root: Path, i: int, views: list[dict], config: DatasetConfig) -> list[str]:
    rel = f"{layout.colmap_dir(i)}/images.txt"
    try:
        lines = [ln for ln in (root / rel).read_text().splitlines() if ln and not ln.startswith("#")]
    except OSError:
        return []
    if len(lines) != len(views):
        return [f"{rel}: {len(lines)} images, expected {len(views)}"]
    for ln, v in zip(lines, views):
        parts = ln.split()
        R, t = world_to_camera(from_label(v["label"])[0])
        try:
            q, tv = np.array(parts[1:5], float), np.array(parts[5:8], float)
        except ValueError:
            return [f"{rel}: malformed line {ln[:40]!r}"]
        if not (np.allclose(quaternion_to_rotation(q), R, atol=1e-9) and np.allclose(tv, t, atol=1e-9)
                and parts[9] == f"{v['index']:03d}.png"):
            return [f"{rel}: image {v['index']} does not match the manifest pose"]
    return []


def _check_dataset_json(root: Path, manifest: dict, config: DatasetConfig) -> list[str]:
    import json

    path = root / layout.DATASET_JSON
    try:
        labels = json.loads(path.read_text())["labels"]
    except (OSError, ValueError, KeyError):
        return [f"{layout.DATASET_JSON}: missing or unreadable"]
    records = {int(k): v for k, v in manifest["identities"].items()}
    train = [int(x) for x in manifest["split"]["train"]]
    try:
        expected = [[p, lab] for p, lab in dataset_labels(records, train)]
    except KeyError:
        return [f"{layout.DATASET_JSON}: cannot be compared (manifest incomplete)"]
    if labels != expected:
        return [f"{layout.DATASET_JSON}: labels differ from the manifest's training split"]
    return []
