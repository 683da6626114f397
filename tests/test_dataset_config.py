"""Dataset config presets/overrides and camera sampling (no rendering)."""

import math

import numpy as np
import pytest

from dataset.config import PRESETS, make_config
from dataset.views import max_azimuth_gap, sample_views, stratified_azimuths
from dataset.format import split_ids
from geogen.common.cameras import azimuth_of, elevation_of
from geogen.common.errors import UserError


def test_presets_are_valid_and_documented_scale():
    for name, cfg in PRESETS.items():
        assert cfg.validated() is cfg and cfg.preset == name
    paper = PRESETS["paper"]
    assert (paper.identities, paper.views, paper.resolution) == (19_800, 10, 512)
    assert PRESETS["tiny"].resolution == 128 and PRESETS["tiny"].radius == 2.7


@pytest.mark.parametrize("kwargs, match", [
    ({"resolution": 0}, "--resolution"), ({"views": 3}, "--views"), ({"identities": 0}, "--identities"),
    ({"elevation_min": 30.0, "elevation_max": 10.0}, "must not exceed"), ({"seed": -1}, "--seed"),
])
def test_bad_overrides_are_one_line_user_errors(kwargs, match):
    with pytest.raises(UserError, match=match) as exc:
        make_config("tiny", **kwargs)
    assert "\n" not in str(exc.value)


def test_unknown_preset_suggests_the_close_one():
    with pytest.raises(UserError, match="did you mean 'small'"):
        make_config("smal")


def test_overrides_apply_and_none_keeps_preset():
    cfg = make_config("small", identities=7, resolution=None)
    assert cfg.identities == 7 and cfg.resolution == PRESETS["small"].resolution


@pytest.mark.parametrize("n", [4, 5, 6, 7, 10, 16, 40])
def test_azimuth_gaps_never_exceed_90_deg_even_at_extreme_jitter(n):
    for offset in (0.0, 0.37, 0.99):
        for jitter in (np.ones(n), -np.ones(n), np.tile([1.0, -1.0], n)[:n], np.random.default_rng(n).uniform(-1, 1, n)):
            az = stratified_azimuths(n, offset, jitter)
            assert max_azimuth_gap(az) <= 90.0 + 1e-9


def test_max_gap_matches_a_naive_scan():
    rng = np.random.default_rng(0)
    for _ in range(20):
        az = rng.uniform(0, 360, size=rng.integers(2, 12))
        naive = max((min((b - a) % 360 or 360 for b in az if b is not a) for a in az))
        assert math.isclose(max_azimuth_gap(az), naive, abs_tol=1e-9)


def test_views_are_deterministic_and_follow_the_convention():
    cfg = make_config("tiny", elevation_min=-5.0, elevation_max=20.0)
    a, b = sample_views(cfg, 5), sample_views(cfg, 5)
    assert [v.azimuth_deg for v in a] == [v.azimuth_deg for v in b]
    assert [v.azimuth_deg for v in a] != [v.azimuth_deg for v in sample_views(cfg, 6)]
    for v in a:
        c2w = v.camera.c2w
        assert math.isclose(azimuth_of(c2w), v.azimuth_deg, abs_tol=1e-6)
        assert math.isclose(elevation_of(c2w), v.elevation_deg, abs_tol=1e-6)
        assert -5.0 <= v.elevation_deg <= 20.0
        assert math.isclose(np.linalg.norm(c2w[:3, 3]), cfg.radius)
        axis_angle = math.degrees(math.acos(np.clip(c2w[:3, 2] @ (-c2w[:3, 3]) / cfg.radius, -1, 1)))
        assert axis_angle < 1e-6
        assert np.allclose(c2w[:3, :3].T @ c2w[:3, :3], np.eye(3))
        assert np.allclose(v.camera.K_norm, [[cfg.focal, 0, 0.5], [0, cfg.focal, 0.5], [0, 0, 1]])


@pytest.mark.parametrize("preset", ["tiny", "small"])
def test_training_split_fills_every_30_deg_azimuth_bin(preset):
    cfg = make_config(preset)
    train, test = split_ids(cfg)
    assert len(test) == cfg.test_count >= 1 and not set(train) & set(test)
    az = np.array([v.azimuth_deg for i in train for v in sample_views(cfg, i)])
    counts = np.bincount((az // 30).astype(int), minlength=12)
    assert counts.min() >= 0.05 * len(az), counts
    assert all(max_azimuth_gap([v.azimuth_deg for v in sample_views(cfg, i)]) <= 90 for i in train)


def test_split_depends_only_on_seed_and_count():
    a, b = make_config("tiny", seed=3), make_config("tiny", seed=3, resolution=64)
    assert split_ids(a) == split_ids(b)
    assert split_ids(a) != split_ids(make_config("tiny", seed=4))


def test_validation_split_is_disjoint_and_keeps_the_test_split():
    import dataclasses

    from dataset.format import splits

    cfg = make_config("tiny", identities=54)
    s = splits(cfg)
    assert len(s["val"]) == cfg.val_count == 8 and len(s["test"]) == 8 and len(s["train"]) == 38
    assert not (set(s["val"]) & set(s["test"])) and not (set(s["val"]) & set(s["train"]))
    assert sorted(s["train"] + s["val"] + s["test"]) == list(range(54))
    no_val = splits(dataclasses.replace(cfg, val_fraction=0.0))
    assert no_val["test"] == s["test"] and no_val["val"] == []          # the test identities did not move
    assert split_ids(cfg) == (s["train"], s["test"])
