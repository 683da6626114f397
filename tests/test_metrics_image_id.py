"""ID: face box from the known camera, ID poses, cosine averaging, dlib embedding (when installed)."""

import itertools
import math
import sys

import numpy as np
import pytest

from benchmark import face_id
from benchmark.generation import ImageProtocol, id_cameras
from geogen.common.cameras import Camera, normalized_intrinsics, spherical_cam2world

CAMERA = {"radius": 2.7, "elevation": 5.0, "focal": 4.2647}


def frontal(res=128, az=0.0):
    return Camera(spherical_cam2world(az, 0.0, 2.7), normalized_intrinsics(4.2647), res, res)


def test_face_box_follows_the_projected_face():
    left, top, right, bottom = face_box = face_id.face_box(frontal())
    assert right - left == bottom - top                      # square
    assert abs((left + right) / 2 - 64) <= 1                 # face centred left-right
    assert (top + bottom) / 2 > 64                           # face centre below the eyes (y < 0)
    # the face region is ~0.25 units tall; the frame is 2.7 / 4.2647 ≈ 0.63 units at the head
    assert 0.3 * 128 < bottom - top < 0.6 * 128
    assert 0 <= left and right <= 128 and 0 <= top and bottom <= 128
    turned = face_id.face_box(frontal(az=30.0))
    assert turned != face_box and turned[0] >= 0 and turned[2] <= 128
    half = face_id.face_box(frontal(res=64))
    assert abs((half[2] - half[0]) - (right - left) / 2) <= 1  # scales with the resolution


def test_id_cameras_are_seeded_and_face_the_head():
    proto = ImageProtocol(samples=2, id_views=5, id_yaw_deg=25.0, id_pitch_deg=8.0)
    cams = id_cameras(3, proto, CAMERA, 64)
    again = id_cameras(3, proto, CAMERA, 64)
    assert len(cams) == 5 and all(np.array_equal(a.c2w, b.c2w) for a, b in zip(cams, again))
    assert not np.array_equal(cams[0].c2w, id_cameras(4, proto, CAMERA, 64)[0].c2w)
    for cam in cams:
        pos = cam.c2w[:3, 3]
        assert np.linalg.norm(pos) == pytest.approx(2.7)
        assert abs(math.degrees(math.atan2(pos[0], pos[2]))) <= 25.0
        assert abs(math.degrees(math.asin(pos[1] / 2.7)) - 5.0) <= 8.0 + 1e-9
        uv, depth = cam.project(np.zeros((1, 3)))
        np.testing.assert_allclose(uv[0], [32, 32], atol=1e-6)   # optical axis through the head
        assert depth[0] > 0


def test_mean_pairwise_cosine_matches_a_loop():
    rng = np.random.default_rng(0)
    e = list(rng.normal(size=(4, 128)))
    naive = [np.dot(a, b) / np.linalg.norm(a) / np.linalg.norm(b) for a, b in itertools.combinations(e, 2)]
    assert face_id.mean_pairwise_cosine(e) == pytest.approx(np.mean(naive), rel=1e-12)
    assert face_id.cosine(e[0], 3 * e[0]) == pytest.approx(1.0)
    assert face_id.cosine(e[0], -e[0]) == pytest.approx(-1.0)


def test_missing_dlib_is_reported_unavailable(monkeypatch):
    monkeypatch.setitem(sys.modules, "dlib", None)  # import dlib → ImportError
    embedder, status = face_id.load_face_embedder()
    assert embedder is None and status["status"] == "unavailable" and "dlib-bin" in status["reason"]


def test_dlib_embedding_is_128_d_deterministic_and_box_dependent():
    pytest.importorskip("dlib")
    embedder, status = face_id.load_face_embedder()
    if embedder is None:
        pytest.skip(status["reason"])
    yy, xx = np.mgrid[0:96, 0:96]
    img = np.stack([(xx * 2) % 256, (yy * 3) % 256, ((xx + yy) * 5) % 256], axis=-1).astype(np.uint8)
    box = (20, 20, 76, 76)
    e1, e2 = embedder.embed(img, box), embedder.embed(img.copy(), box)
    assert e1.shape == (128,) and np.all(np.isfinite(e1)) and np.array_equal(e1, e2)
    assert face_id.cosine(e1, e2) == pytest.approx(1.0)
    other = embedder.embed(img[::-1].copy(), (0, 0, 50, 50))
    assert face_id.cosine(e1, other) < 1.0 - 1e-6
    assert embedder.name == "id_dlib_resnet_v1" == status["embedding"]
