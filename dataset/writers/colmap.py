"""COLMAP text model (cameras.txt, images.txt, points3D.txt) with the known poses.

One shared PINHOLE camera in pixel units (COLMAP puts the centre of the top-left pixel at
(0.5, 0.5), as our ray generator does, so cx = W/2). Poses are world-to-camera (qvec in
w, x, y, z order, tvec). Image names are relative to ``images/<id>/`` of the dataset, so point
COLMAP's ``image_path`` there. points3D.txt is empty: the poses are exact, and sparse points
are the reconstruction stage's job.
"""

from __future__ import annotations

from pathlib import Path

from geogen.common.atomic import atomic_write_text, sha256_file
from geogen.common.cameras import Camera, rotation_to_quaternion, world_to_camera


def _f(x: float) -> str:
    return format(float(x), ".17g")


def cameras_txt(cam: Camera) -> str:
    K = cam.K
    return ("# Camera list with one line of data per camera:\n"
            "#   CAMERA_ID, MODEL, WIDTH, HEIGHT, PARAMS[]\n"
            "# Number of cameras: 1\n"
            f"1 PINHOLE {cam.width} {cam.height} {_f(K[0, 0])} {_f(K[1, 1])} {_f(K[0, 2])} {_f(K[1, 2])}\n")


def images_txt(cameras: list[Camera], names: list[str]) -> str:
    lines = ["# Image list with two lines of data per image:",
             "#   IMAGE_ID, QW, QX, QY, QZ, TX, TY, TZ, CAMERA_ID, NAME",
             "#   POINTS2D[] as (X, Y, POINT3D_ID)",
             f"# Number of images: {len(cameras)}, mean observations per image: 0"]
    for image_id, (cam, name) in enumerate(zip(cameras, names), start=1):
        R, t = world_to_camera(cam.c2w)
        q = rotation_to_quaternion(R)
        lines.append(" ".join([str(image_id), *(_f(v) for v in q), *(_f(v) for v in t), "1", name]))
        lines.append("")
    return "\n".join(lines) + "\n"


POINTS3D_TXT = ("# 3D point list with one line of data per point:\n"
                "#   POINT3D_ID, X, Y, Z, R, G, B, ERROR, TRACK[] as (IMAGE_ID, POINT2D_IDX)\n"
                "# Number of points: 0, mean track length: 0\n")


def write_colmap_model(folder: Path, cameras: list[Camera], names: list[str]) -> dict[str, str]:
    """Write the three text files; return {file name: sha256}."""
    texts = {"cameras.txt": cameras_txt(cameras[0]), "images.txt": images_txt(cameras, names),
             "points3D.txt": POINTS3D_TXT}
    out = {}
    for name, text in texts.items():
        atomic_write_text(folder / name, text)
        out[name] = sha256_file(folder / name)
    return out
