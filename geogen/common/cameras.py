"""Camera conventions shared by every stage (EG3D's), documented and tested once.

World: right-handed, **y up**, the head centred at the origin and facing **+z**.
Units: "scene units"; the head and shoulders fit in the cube [-0.5, 0.5]^3 (EG3D's box_warp 1).

Camera: **OpenCV** cam2world 4x4 — camera x right, y down, z forward (the optical axis).
Intrinsics: **normalised** by image size — fx, fy in units of image width/height, principal
point (cx, cy) = (0.5, 0.5). A pixel intrinsic matrix is ``K_norm * [[W],[H],[1]]``.

Label: EG3D's 25 floats = row-major 4x4 cam2world, then row-major 3x3 normalised intrinsics.

Spherical placement: ``azimuth`` 0 deg puts the camera in front of the face (+z), 90 deg on
the head's left side (+x), 180 deg behind it; ``elevation`` > 0 looks down from above.
Defaults follow EG3D's FFHQ set-up: radius 2.7 and focal length 4.2647 (image-size units).
EG3D quotes that as "fov 18.837 deg", but its conversion divides by sqrt(2) (a diagonal
measure); the true vertical (= horizontal) field of view is 13.37 deg. At the origin the
frame spans +-0.317 scene units.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

DEFAULT_RADIUS = 2.7
DEFAULT_FOCAL = 4.2647
WORLD_UP = np.array([0.0, 1.0, 0.0])


def focal_from_fov(fov_deg: float) -> float:
    """Normalised focal length (image-size units) for a field of view in degrees."""
    return 0.5 / math.tan(math.radians(fov_deg) / 2.0)


def fov_from_focal(focal: float) -> float:
    """Field of view in degrees for a normalised focal length."""
    return math.degrees(2.0 * math.atan(0.5 / focal))


DEFAULT_FOV_DEG = fov_from_focal(DEFAULT_FOCAL)  # 13.37 deg


def normalized_intrinsics(focal: float = DEFAULT_FOCAL) -> np.ndarray:
    """3x3 intrinsics normalised by image size, principal point at the image centre."""
    f = float(focal)
    return np.array([[f, 0.0, 0.5], [0.0, f, 0.5], [0.0, 0.0, 1.0]])


def pixel_intrinsics(K_norm: np.ndarray, width: int, height: int) -> np.ndarray:
    """Convert normalised intrinsics to pixel units for a ``width`` x ``height`` image."""
    K = np.array(K_norm, dtype=np.float64).copy()
    K[0, :] *= width
    K[1, :] *= height
    return K


def look_at(eye: np.ndarray, target: np.ndarray = np.zeros(3), up: np.ndarray = WORLD_UP) -> np.ndarray:
    """OpenCV cam2world 4x4 for a camera at ``eye`` looking at ``target`` with world ``up``."""
    eye = np.asarray(eye, dtype=np.float64)
    forward = np.asarray(target, dtype=np.float64) - eye
    forward /= np.linalg.norm(forward)
    right = np.cross(forward, up)  # camera x: right in the image
    if np.linalg.norm(right) < 1e-9:  # looking straight up/down: pick any right vector
        right = np.cross(forward, np.array([0.0, 0.0, 1.0]))
    right /= np.linalg.norm(right)
    down = np.cross(forward, right)  # camera y: down in the image
    c2w = np.eye(4)
    c2w[:3, 0], c2w[:3, 1], c2w[:3, 2], c2w[:3, 3] = right, down, forward, eye
    return c2w


def spherical_position(azimuth_deg: float, elevation_deg: float, radius: float = DEFAULT_RADIUS) -> np.ndarray:
    """Camera position on a sphere around the origin (see module docstring for the angles)."""
    az, el = math.radians(azimuth_deg), math.radians(elevation_deg)
    return radius * np.array([math.cos(el) * math.sin(az), math.sin(el), math.cos(el) * math.cos(az)])


def spherical_cam2world(azimuth_deg: float, elevation_deg: float, radius: float = DEFAULT_RADIUS) -> np.ndarray:
    """OpenCV cam2world of a camera on the sphere, looking at the origin."""
    return look_at(spherical_position(azimuth_deg, elevation_deg, radius))


def azimuth_of(c2w: np.ndarray) -> float:
    """Azimuth in degrees [0, 360) of a camera's position (inverse of :func:`spherical_position`)."""
    x, _, z = np.asarray(c2w)[:3, 3]
    return math.degrees(math.atan2(x, z)) % 360.0


def elevation_of(c2w: np.ndarray) -> float:
    """Elevation in degrees of a camera's position."""
    pos = np.asarray(c2w)[:3, 3]
    return math.degrees(math.asin(pos[1] / np.linalg.norm(pos)))


def to_label(c2w: np.ndarray, K_norm: np.ndarray) -> list[float]:
    """EG3D's 25-float label: row-major cam2world then row-major normalised intrinsics."""
    return [float(v) for v in np.concatenate([np.asarray(c2w).reshape(-1), np.asarray(K_norm).reshape(-1)])]


def from_label(label) -> tuple[np.ndarray, np.ndarray]:
    """Split a 25-float label into (cam2world 4x4, normalised intrinsics 3x3)."""
    arr = np.asarray(label, dtype=np.float64).reshape(-1)
    if arr.shape[0] != 25:
        raise ValueError(f"a camera label has 25 floats, got {arr.shape[0]}")
    return arr[:16].reshape(4, 4), arr[16:].reshape(3, 3)


def world_to_camera(c2w: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(R, t) with x_cam = R @ x_world + t, as COLMAP stores poses."""
    c2w = np.asarray(c2w, dtype=np.float64)
    R = c2w[:3, :3].T
    t = -R @ c2w[:3, 3]
    return R, t


def rotation_to_quaternion(R: np.ndarray) -> np.ndarray:
    """Rotation matrix → unit quaternion (w, x, y, z) with w >= 0 (COLMAP's order)."""
    R = np.asarray(R, dtype=np.float64)
    tr = np.trace(R)
    if tr > 0:
        s = math.sqrt(tr + 1.0) * 2
        q = [0.25 * s, (R[2, 1] - R[1, 2]) / s, (R[0, 2] - R[2, 0]) / s, (R[1, 0] - R[0, 1]) / s]
    elif R[0, 0] > R[1, 1] and R[0, 0] > R[2, 2]:
        s = math.sqrt(1.0 + R[0, 0] - R[1, 1] - R[2, 2]) * 2
        q = [(R[2, 1] - R[1, 2]) / s, 0.25 * s, (R[0, 1] + R[1, 0]) / s, (R[0, 2] + R[2, 0]) / s]
    elif R[1, 1] > R[2, 2]:
        s = math.sqrt(1.0 + R[1, 1] - R[0, 0] - R[2, 2]) * 2
        q = [(R[0, 2] - R[2, 0]) / s, (R[0, 1] + R[1, 0]) / s, 0.25 * s, (R[1, 2] + R[2, 1]) / s]
    else:
        s = math.sqrt(1.0 + R[2, 2] - R[0, 0] - R[1, 1]) * 2
        q = [(R[1, 0] - R[0, 1]) / s, (R[0, 2] + R[2, 0]) / s, (R[1, 2] + R[2, 1]) / s, 0.25 * s]
    q = np.array(q)
    q /= np.linalg.norm(q)
    return -q if q[0] < 0 else q


def quaternion_to_rotation(q: np.ndarray) -> np.ndarray:
    """Unit quaternion (w, x, y, z) → rotation matrix."""
    w, x, y, z = np.asarray(q, dtype=np.float64) / np.linalg.norm(q)
    return np.array([
        [1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y)],
        [2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x)],
        [2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y)],
    ])


def opencv_to_opengl(c2w: np.ndarray) -> np.ndarray:
    """OpenCV cam2world → OpenGL/NeRF (Blender) cam2world: flip camera y and z axes."""
    out = np.asarray(c2w, dtype=np.float64).copy()
    out[:3, 1:3] *= -1.0
    return out


def pixel_rays(c2w: np.ndarray, K_norm: np.ndarray, width: int, height: int) -> tuple[np.ndarray, np.ndarray]:
    """World-space ray origins and unit directions through pixel centres, shape (H*W, 3), row-major."""
    K = pixel_intrinsics(K_norm, width, height)
    j, i = np.meshgrid(np.arange(height) + 0.5, np.arange(width) + 0.5, indexing="ij")
    x = (i - K[0, 2]) / K[0, 0]
    y = (j - K[1, 2]) / K[1, 1]
    dirs_cam = np.stack([x, y, np.ones_like(x)], axis=-1).reshape(-1, 3)
    dirs = dirs_cam @ np.asarray(c2w)[:3, :3].T
    dirs /= np.linalg.norm(dirs, axis=-1, keepdims=True)
    origins = np.broadcast_to(np.asarray(c2w)[:3, 3], dirs.shape).copy()
    return origins, dirs


@dataclass(frozen=True)
class Camera:
    """One view: OpenCV cam2world, normalised intrinsics, image size."""

    c2w: np.ndarray
    K_norm: np.ndarray
    width: int
    height: int

    @property
    def K(self) -> np.ndarray:
        return pixel_intrinsics(self.K_norm, self.width, self.height)

    def label(self) -> list[float]:
        return to_label(self.c2w, self.K_norm)

    def project(self, points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """World points (N,3) → pixel coordinates (N,2) and camera-space depth z (N,)."""
        R, t = world_to_camera(self.c2w)
        cam = np.asarray(points) @ R.T + t
        uvw = cam @ self.K.T
        return uvw[:, :2] / uvw[:, 2:3], cam[:, 2]
