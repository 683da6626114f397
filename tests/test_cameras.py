"""The camera convention (geogen.common.cameras), checked once for every stage."""

import numpy as np
import pytest

from geogen.common import cameras as C


@pytest.mark.parametrize("az,el", [(0, 0), (90, 10), (180, -20), (271.5, 35)])
def test_spherical_camera_looks_at_origin_opencv(az, el):
    c2w = C.spherical_cam2world(az, el)
    R, pos = c2w[:3, :3], c2w[:3, 3]
    assert np.allclose(R.T @ R, np.eye(3), atol=1e-12)
    assert np.isclose(np.linalg.det(R), 1.0)
    # z (forward) points from the camera to the origin
    assert np.allclose(R[:, 2], -pos / np.linalg.norm(pos))
    # y (down) has a negative world-up component: image top is world up
    assert R[1, 1] < 0
    assert np.isclose(C.azimuth_of(c2w), az % 360)
    assert np.isclose(C.elevation_of(c2w), el)


def test_front_camera_sees_face_axis_and_projects_origin_to_centre():
    cam = C.Camera(C.spherical_cam2world(0, 0), C.normalized_intrinsics(), 64, 64)
    assert np.allclose(cam.c2w[:3, 3], [0, 0, C.DEFAULT_RADIUS])
    uv, z = cam.project(np.array([[0.0, 0.0, 0.0], [0.0, 0.1, 0.0], [0.1, 0.0, 0.0]]))
    assert np.allclose(uv[0], [32, 32])
    assert uv[1, 1] < 32  # world up → image up (smaller row)
    assert uv[2, 0] > 32  # front camera: the head's +x (its own left) appears on the image right
    assert np.isclose(z[0], C.DEFAULT_RADIUS)


def test_label_round_trip_and_focal():
    c2w, K = C.spherical_cam2world(30, 5), C.normalized_intrinsics()
    lab = C.to_label(c2w, K)
    assert len(lab) == 25
    c2, K2 = C.from_label(lab)
    assert np.allclose(c2, c2w) and np.allclose(K2, K)
    assert np.isclose(K[0, 0], 4.2647, atol=1e-3)  # EG3D's FFHQ focal length
    assert np.isclose(C.fov_from_focal(C.focal_from_fov(33.0)), 33.0)
    assert np.isclose(C.DEFAULT_FOV_DEG, 13.37, atol=0.01)


def test_quaternion_round_trip_random_rotations():
    rng = np.random.default_rng(0)
    for _ in range(50):
        q = rng.normal(size=4)
        q /= np.linalg.norm(q)
        R = C.quaternion_to_rotation(q)
        q2 = C.rotation_to_quaternion(R)
        assert np.allclose(C.quaternion_to_rotation(q2), R, atol=1e-10)
        assert q2[0] >= 0


def test_pixel_rays_hit_projected_points():
    cam = C.Camera(C.spherical_cam2world(45, 20), C.normalized_intrinsics(), 16, 12)
    o, d = C.pixel_rays(cam.c2w, cam.K_norm, cam.width, cam.height)
    pts = o + 2.5 * d
    uv, _ = cam.project(pts)
    j, i = np.meshgrid(np.arange(12) + 0.5, np.arange(16) + 0.5, indexing="ij")
    assert np.allclose(uv, np.stack([i.ravel(), j.ravel()], -1), atol=1e-9)
