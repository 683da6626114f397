"""Identity sampling: deterministic per (seed, index), order-independent, in range, JSON round-trip."""

import json

import numpy as np
import pytest

from dataset.identity import (CLOTHING_TYPES, FACIAL_HAIR, GLASSES_TYPES, HAIR_STYLES, SHAPE_PARAMS,
                              IdentityParams, sample_identity)
from geogen.common.errors import UserError

COLOUR_FIELDS = ("skin_rgb", "hair_rgb", "iris_rgb", "lip_rgb", "clothing_rgb", "clothing_rgb2", "glasses_rgb")


def test_sampling_is_deterministic_and_order_independent():
    forward = [sample_identity(5, i).to_dict() for i in range(6)]
    backward = [sample_identity(5, i).to_dict() for i in reversed(range(6))][::-1]
    assert forward == backward
    assert sample_identity(5, 3).to_dict() == sample_identity(5, 3).to_dict()
    assert sample_identity(6, 3).to_dict() != sample_identity(5, 3).to_dict()


def test_parameters_within_documented_ranges():
    assert len(SHAPE_PARAMS) >= 20
    for i in range(60):
        p = sample_identity(1, i)
        assert set(p.shape) == set(SHAPE_PARAMS)
        for name, (lo, hi, _) in SHAPE_PARAMS.items():
            assert lo <= p.shape[name] <= hi, (name, p.shape[name])
        assert p.hair_style in HAIR_STYLES and p.clothing in CLOTHING_TYPES
        assert p.glasses in GLASSES_TYPES and p.facial_hair in FACIAL_HAIR
        for field in COLOUR_FIELDS:
            rgb = getattr(p, field)
            assert len(rgb) == 3 and all(0.0 <= c <= 1.0 for c in rgb), field
        for dial in (p.hair_volume, p.hair_length, p.hairline, p.skin_tone, p.freckles, p.redness):
            assert 0.0 <= dial <= 1.0
        assert -1.0 <= p.hair_part <= 1.0


def test_every_category_and_the_skin_range_occur():
    ps = [sample_identity(2, i) for i in range(300)]
    assert {p.hair_style for p in ps} == set(HAIR_STYLES)
    assert {p.clothing for p in ps} == set(CLOTHING_TYPES)
    assert {p.glasses for p in ps} == set(GLASSES_TYPES)
    luminance = np.array([np.mean(p.skin_rgb) for p in ps])
    assert luminance.max() > 4 * luminance.min()  # light to dark skin


def test_identities_differ():
    shapes = np.array([[sample_identity(0, i).shape[k] for k in SHAPE_PARAMS] for i in range(30)])
    assert np.all(shapes.std(axis=0) > 0)
    assert len({tuple(row) for row in shapes.round(6)}) == 30


def test_json_round_trip():
    p = sample_identity(3, 11)
    text = json.dumps(p.to_dict(), sort_keys=True)
    q = IdentityParams.from_dict(json.loads(text))
    assert q == p
    assert json.dumps(q.to_dict(), sort_keys=True) == text


def test_from_dict_rejects_mismatched_parameters():
    data = sample_identity(3, 1).to_dict()
    broken = dict(data)
    del broken["hair_style"]
    with pytest.raises(UserError, match="missing"):
        IdentityParams.from_dict(broken)
    with pytest.raises(UserError, match="unknown"):
        IdentityParams.from_dict({**data, "wings": 2})
    with pytest.raises(UserError, match="version"):
        IdentityParams.from_dict({**data, "version": 999})
    shape = dict(data["shape"])
    del shape["nose_length"]
    with pytest.raises(UserError, match="nose_length"):
        IdentityParams.from_dict({**data, "shape": shape})
