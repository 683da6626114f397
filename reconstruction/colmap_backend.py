"""Optional dense backend: COLMAP's own PatchMatch stereo through a CUDA-enabled pycolmap.

The PyPI pycolmap wheel is CPU-only ("Dense stereo reconstruction requires CUDA"), so this
backend checks ``pycolmap.has_cuda`` first and otherwise fails with a one-line error naming
the fix. With CUDA it writes a COLMAP workspace (images + our known-pose model, PINHOLE, so
no undistortion is needed), runs ``patch_match_stereo`` and reads the geometric maps back
with our reader; fusion and meshing stay ours. Not exercised on the project's CPU machines.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
from PIL import Image

from geogen.common.cameras import rotation_to_quaternion, world_to_camera
from geogen.common.errors import UserError

from .depthmap_io import read_colmap_array


def colmap_available() -> bool:
    try:
        import pycolmap
    except ImportError:
        return False
    return bool(getattr(pycolmap, "has_cuda", False))


def write_colmap_text_model(folder: Path, scene) -> list[str]:
    """cameras.txt / images.txt / points3D.txt (PINHOLE, one camera per view); returns the image names."""
    folder.mkdir(parents=True, exist_ok=True)
    cams, imgs, names = [], [], []
    for i, view in enumerate(scene.views):
        K = view.camera.K
        cams.append(f"{i + 1} PINHOLE {view.camera.width} {view.camera.height} {float(K[0, 0])!r} {float(K[1, 1])!r} "
                    f"{float(K[0, 2])!r} {float(K[1, 2])!r}")
        R, t = world_to_camera(view.camera.c2w)
        q = rotation_to_quaternion(R)
        name = f"{view.name}.png"
        names.append(name)
        imgs.append(" ".join([str(i + 1), *(repr(float(v)) for v in q), *(repr(float(v)) for v in t), str(i + 1), name]))
        imgs.append("")
    (folder / "cameras.txt").write_text("\n".join(cams) + "\n")
    (folder / "images.txt").write_text("\n".join(imgs) + "\n")
    (folder / "points3D.txt").write_text("")
    return names


def colmap_depth_maps(scene, ranges, cfg):
    """Depth maps and camera-frame normal maps from pycolmap.patch_match_stereo (CUDA only)."""
    if not colmap_available():
        raise UserError("backend 'colmap' needs a CUDA-enabled pycolmap (this one has no CUDA: pycolmap.has_cuda is "
                        "False); use --backend torch, or build pycolmap with CUDA")
    import pycolmap

    with tempfile.TemporaryDirectory(prefix="geogen-colmap-") as tmp:
        ws = Path(tmp)
        (ws / "images").mkdir()
        names = write_colmap_text_model(ws / "sparse", scene)
        for name, view in zip(names, scene.views):
            Image.fromarray(np.clip(np.round(view.image * 255), 0, 255).astype(np.uint8)).save(ws / "images" / name)
        (ws / "stereo" / "depth_maps").mkdir(parents=True)
        (ws / "stereo" / "normal_maps").mkdir(parents=True)
        # Which source images each reference image uses (COLMAP picks them from the model).
        (ws / "stereo" / "patch-match.cfg").write_text("".join(f"{n}\n__auto__, {cfg.patchmatch.num_sources}\n"
                                                               for n in names))
        options = pycolmap.PatchMatchOptions()
        options.depth_min = float(min(r[0][r[1] > r[0]].min() for r in ranges))
        options.depth_max = float(max(r[1][r[1] > r[0]].max() for r in ranges))
        options.window_radius = cfg.patchmatch.patch_size // 2
        options.window_step = cfg.patchmatch.patch_stride
        pycolmap.patch_match_stereo(ws, options=options)
        depths, normals = [], []
        for name in names:
            depths.append(read_colmap_array(ws / "stereo" / "depth_maps" / f"{name}.geometric.bin"))
            normals.append(read_colmap_array(ws / "stereo" / "normal_maps" / f"{name}.geometric.bin"))
    return depths, normals
