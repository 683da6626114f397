"""The one config convention (geogen.common.config): strict from_dict, the shared --set parser,
the old switch-point names, variants that are complete registry entries, and registered adapters."""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from geogen.common.config import Config, apply_sets
from geogen.common.errors import UserError
from geogen.model.config import VARIANT_REGISTRY, ModelConfig, Variant, model_config, variant_names
from geogen.training.config import LossConfig, TrainConfig, train_config, with_overrides
from geogen.training.losses import schedule_at

ROOT = Path(__file__).resolve().parent.parent


@dataclass
class Inner(Config):
    depth: int = 8
    """An int."""
    weight: float = 1.0
    """A float."""


@dataclass
class Outer(Config):
    name: str = "a"
    """A string."""
    flag: bool = False
    """A bool."""
    limit: float | None = None
    """An optional float."""
    pair: tuple[float, ...] = (0.0, 1.0)
    """Floats."""
    tags: tuple[str, ...] = ()
    """Strings."""
    inner: Inner = field(default_factory=Inner)
    """A nested config."""


# ------------------------------------------------------------------ strict from_dict / to_dict
def test_from_dict_round_trips_nested_configs_through_json():
    cfg = Outer(name="b", flag=True, limit=2.0, pair=(3.0, 4.0), tags=("x",), inner=Inner(depth=9))
    assert Outer.from_dict(json.loads(json.dumps(cfg.to_dict()))) == cfg
    assert cfg.to_dict()["inner"] == {"depth": 9, "weight": 1.0} and cfg.to_dict()["pair"] == [3.0, 4.0]


@pytest.mark.parametrize("data, match", [
    ({"nmae": "x"}, r"unknown Outer field\(s\) \['nmae'\]; known fields: \[.*'name'"),
    ({"inner": {"dpeth": 3}}, r"unknown Inner field\(s\) \['dpeth'\]"),
    ({"flag": "yes"}, r"Outer.flag must be of type bool, got 'yes' \(str\)"),
    ({"inner": {"depth": 2.5}}, r"Inner.depth must be of type int"),
    ({"inner": {"depth": True}}, r"Inner.depth must be of type int"),
    ({"limit": "1"}, r"Outer.limit must be of type float \| None"),
    ({"tags": [1]}, r"Outer.tags must be of type str"),
    ([1, 2], r"Outer must be a mapping"),
])
def test_from_dict_refuses_unknown_keys_and_wrong_types_in_one_line(data, match):
    with pytest.raises(UserError, match=match) as exc:
        Outer.from_dict(data)
    assert "\n" not in str(exc.value)


def test_ints_for_float_fields_become_floats_and_lists_tuples():
    cfg = Outer.from_dict({"limit": 3, "pair": [1, 2], "inner": {"weight": 2}})
    assert cfg.limit == 3.0 and type(cfg.limit) is float and cfg.pair == (1.0, 2.0)
    assert type(cfg.inner.weight) is float


# ------------------------------------------------------------------ the shared --set parser
def test_apply_sets_parses_every_type_and_nested_fields_without_touching_the_input():
    cfg = Outer()
    new = apply_sets(cfg, ["name=c", "flag=yes", "limit=0.5", "pair=1,2,3", "tags=a,b", "inner.depth=3",
                           "inner.weight = 2"])
    assert new == Outer(name="c", flag=True, limit=0.5, pair=(1.0, 2.0, 3.0), tags=("a", "b"),
                        inner=Inner(depth=3, weight=2.0))
    assert cfg == Outer()
    assert apply_sets(new, ["limit=none", "flag=0"]).limit is None


@pytest.mark.parametrize("item, match", [
    ("inner.dpth=3", r"--set inner.dpth: unknown inner field; known: depth, weight"),
    ("nope=1", r"--set nope: unknown field; known: .*inner.<field>"),
    ("inner.depth=3.5", r"--set inner.depth=3.5: expected an int"),
    ("flag=maybe", r"--set flag=maybe: expected a bool"),
    ("limit=x", r"expected a float \| None"),
    ("inner=3", r"inner is a group of settings"),
    ("name.x=3", r"name is a single value"),
    ("name", r"--set expects key=value"),
    ("fixed=1", r"unknown field"),
])
def test_apply_sets_errors_are_one_line(item, match):
    with pytest.raises(UserError, match=match) as exc:
        apply_sets(Outer(), [item], fixed=("fixed",))
    assert "\n" not in str(exc.value)


def test_every_cli_config_takes_the_shared_parser():
    from benchmark.pti import PTI_PRESETS
    from dataset.config import make_config
    from reconstruction.config import PRESETS as RECON, make_recon_config

    assert make_config("tiny", ["mesh_resolution=64"]).mesh_resolution == 64
    assert make_recon_config("tiny", ["meshing.depth=9"]).meshing.depth == 9
    assert RECON["tiny"].meshing.depth == 8                       # the preset is unchanged
    assert apply_sets(PTI_PRESETS["tiny"], ["tune_beta=true"]).tune_beta is True
    with pytest.raises(UserError, match="unknown meshing field"):
        make_recon_config("tiny", ["meshing.dept=9"])
    with pytest.raises(UserError, match="--views must be >= 4"):
        make_config("tiny", ["views=3"])
    with pytest.raises(UserError, match="unknown field"):
        make_config("tiny", ["preset=small"])


def test_train_unknown_key_error_names_the_loss_and_model_groups():
    with pytest.raises(UserError, match=r"--set foo: unknown field; known: .*loss\.<field>, model\.<field>$"):
        with_overrides(train_config("tiny", "geogen"), ["foo=3"])


# ------------------------------------------------------------------ the one switch point
def test_old_switch_names_migrate_when_equal_and_are_refused_when_they_differ():
    old = train_config("tiny", "geogen").to_dict()
    old["loss"].pop("switch_kimg")
    old["loss"].update(beta_fixed_kimg=6.0, depth_loss_start_kimg=6.0)
    assert TrainConfig.from_dict(old).loss.switch_kimg == 6.0
    old["loss"]["depth_loss_start_kimg"] = 7.0
    with pytest.raises(UserError, match="two switch points .*switch_kimg"):
        TrainConfig.from_dict(old)
    assert LossConfig.from_dict({"beta_fixed_kimg": 3}).switch_kimg == 3.0
    with pytest.raises(UserError, match="renamed; .*loss.switch_kimg"):
        with_overrides(train_config(), ["loss.beta_fixed_kimg=3"])


def test_the_shipped_models_written_with_the_old_names_read():
    from geogen.model.io import load_model_file

    for variant in ("geogen", "geogen-nodepth", "eg3d"):
        _, _, meta = load_model_file(ROOT / "models" / "tiny" / f"{variant}.pkl")
        assert "beta_fixed_kimg" in meta["train_config"]["loss"]            # written by the previous version
        cfg = TrainConfig.from_dict(meta["train_config"])
        assert cfg.variant == variant and cfg.loss.switch_kimg == 8.0


# ------------------------------------------------------------------ variants are registry entries
@pytest.fixture
def new_variant():
    """A variant no code knows by name: SDF with a frozen β, the depth loss on, its own overrides."""
    VARIANT_REGISTRY.add("sdf-fixed-beta", Variant("SDF, fixed β", learnable_beta=False,
                                                   model_overrides=dict(pe_levels=2),
                                                   loss_overrides=dict(depth_loss_weight=0.3)))
    yield "sdf-fixed-beta"
    VARIANT_REGISTRY.remove("sdf-fixed-beta")


def test_a_newly_registered_variant_behaves_per_its_entry(new_variant):
    assert new_variant in variant_names()
    cfg, tc = model_config("tiny", new_variant), train_config("tiny", new_variant)
    assert cfg.field == "sdf" and cfg.pe_levels == 2 and tc.loss.depth_loss_weight == 0.3
    N = tc.loss.switch_kimg
    before, after = schedule_at(tc.loss, N - 1, new_variant), schedule_at(tc.loss, N, new_variant)
    assert not before.beta_trainable and before.depth_weight == 0.0
    assert not after.beta_trainable and after.depth_weight == 0.3             # β stays frozen: learnable_beta=False
    assert TrainConfig.from_dict(tc.to_dict()) == tc and ModelConfig.from_dict(cfg.to_dict()) == cfg


@pytest.mark.parametrize("variant", variant_names())
def test_schedules_and_configs_follow_the_registry_entry(variant):
    spec, tc = VARIANT_REGISTRY.get(variant), train_config("tiny", variant)
    late = schedule_at(tc.loss, tc.loss.switch_kimg, variant)
    assert late.beta_trainable == spec.learnable_beta
    assert (late.depth_weight > 0) == spec.depth_loss
    assert model_config("tiny", variant).field == spec.field_kind
    before = schedule_at(tc.loss, tc.loss.switch_kimg - 1e-3, variant)
    switches = (before.beta_trainable, before.depth_weight > 0) != (late.beta_trainable, late.depth_weight > 0)
    assert spec.has_switch == switches          # has_switch says whether the schedule changes at switch_kimg
    assert spec.branch_of is None or VARIANT_REGISTRY.get(spec.branch_of).field_kind == spec.field_kind


def test_a_density_variant_cannot_claim_beta_or_the_depth_loss():
    with pytest.raises(UserError, match="density-field variant"):
        Variant("bad", "density")


def test_no_library_or_script_code_tests_a_variant_name():
    import re

    pattern = re.compile(r"""(==|!=)\s*["'](eg3d|geogen|geogen-nodepth)["']|["'](eg3d|geogen|geogen-nodepth)["']\s*(==|!=)""")
    offenders = []
    for folder in ("geogen", "benchmark", "dataset", "reconstruction", "leaderboard", "scripts"):
        for path in (ROOT / folder).rglob("*.py"):
            for n, line in enumerate(path.read_text().splitlines(), 1):
                if pattern.search(line):
                    offenders.append(f"{path.relative_to(ROOT)}:{n}")
    assert offenders == []


# ------------------------------------------------------------------ adapters are registered the same way
def test_adapters_are_chosen_by_the_registered_kind(tmp_path):
    from benchmark.adapters import ADAPTERS, DummySphereAdapter, load_adapter, save_dummy_model
    from benchmark.pti import PTI_PRESETS
    from geogen.model.io import save_file

    assert {"geogen", "dummy-sphere"} <= set(ADAPTERS.names())
    adapter = load_adapter(save_dummy_model(tmp_path / "d.pkl", radius=0.3), PTI_PRESETS["tiny"])
    assert isinstance(adapter, DummySphereAdapter) and adapter.radius == 0.3
    save_file(tmp_path / "o.pkl", {"model_config": {"kind": "dummy-spere"}, "G_ema": {}, "meta": {}}, kind="model")
    with pytest.raises(UserError, match="unknown model kind 'dummy-spere'.*did you mean 'dummy-sphere'"):
        load_adapter(tmp_path / "o.pkl", PTI_PRESETS["tiny"])

    seen = []
    ADAPTERS.add("test-kind", lambda obj, path, pti, res, lpips, device: seen.append(obj["model_config"]) or "ok")
    try:
        save_file(tmp_path / "t.pkl", {"model_config": {"kind": "test-kind", "x": 1}, "G_ema": {}, "meta": {}},
                  kind="model")
        assert load_adapter(tmp_path / "t.pkl", PTI_PRESETS["tiny"]) == "ok" and seen == [{"kind": "test-kind", "x": 1}]
    finally:
        ADAPTERS.remove("test-kind")


def test_presets_are_instances_in_one_dict_per_config():
    from benchmark.pti import PTI_PRESETS, PTIConfig
    from dataset.config import PRESETS as DATA, DatasetConfig
    from geogen.model.config import PRESETS as MODEL
    from geogen.training.config import PRESETS as TRAIN
    from reconstruction.config import PRESETS as RECON, ReconConfig

    for presets, cls in ((MODEL, ModelConfig), (TRAIN, TrainConfig), (DATA, DatasetConfig), (RECON, ReconConfig),
                         (PTI_PRESETS, PTIConfig)):
        assert set(presets) == {"tiny", "small", "paper"}
        assert all(isinstance(c, cls) and isinstance(c, Config) for c in presets.values())
        assert all(cls.from_dict(json.loads(json.dumps(c.to_dict()))) == c for c in presets.values())
    assert all(TRAIN[p].preset == p for p in TRAIN) and dataclasses.is_dataclass(LossConfig)
