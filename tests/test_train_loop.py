"""The training loop on CPU: every variant trains, resume is exact, NaN stops cleanly, schedules switch."""

import pytest
import torch

from geogen.common.errors import UserError
from geogen.training import checkpoint as ckpt
from geogen.training import trainer as trainer_module
from geogen.training.config import with_overrides
from geogen.training.data import ImageLabelDataset
from geogen.training.run import prepare_run, train
from geogen.training.synthetic import write_fake_dataset
from geogen.training.trainer import Trainer, TrainingDiverged
from geogen.model.config import model_config

BATCH = 4
FAST = [f"loss.batch_size={BATCH}", "keep_snapshots=0", "loss.r1_interval=2"]


def kimg_of(steps: int) -> float:
    return steps * BATCH / 1000


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    return write_fake_dataset(tmp_path_factory.mktemp("data"), identities=3, views=2, resolution=64)


def run(data, out, steps, variant="geogen", resume=None, extra=()):
    cfg, model_cfg, snap = prepare_run("tiny", variant, out, resume, kimg=kimg_of(steps), overrides=FAST + list(extra))
    return train(data, out, cfg, model_cfg, snap, progress_bar=False)


@pytest.mark.parametrize("variant, phases", [("geogen", "reuse_fakes=true"), ("geogen-nodepth", "reuse_fakes=true"),
                                            ("eg3d", "reuse_fakes=false")])
def test_every_variant_trains_two_iterations(data, tmp_path, variant, phases):
    model_path = run(data, tmp_path, 2, variant, extra=[phases])
    snap = ckpt.load_file(ckpt.find_latest(tmp_path), "snapshot")
    assert snap["progress"] == {"step": 2, "nimg": 2 * BATCH}
    assert all(torch.isfinite(v).all() for v in snap["G"].values() if v.is_floating_point())
    init = Trainer(with_overrides(prepare_run("tiny", variant, tmp_path / "fresh")[0], FAST),
                   model_config("tiny", variant), ImageLabelDataset(data, 64))
    changed = [k for k, v in init.G.state_dict().items() if not torch.equal(v, snap["G"][k])]
    assert changed, "two iterations did not change G"
    G, cfg, meta = ckpt.load_model_file(model_path)
    assert cfg.variant == variant and meta["step"] == 2
    assert (tmp_path / "tb").is_dir() and list(tmp_path.glob("samples-*.png"))


def _tensors(obj, prefix=""):
    if isinstance(obj, torch.Tensor):
        yield prefix, obj
    elif isinstance(obj, dict):
        for k, v in obj.items():
            yield from _tensors(v, f"{prefix}/{k}")
    elif isinstance(obj, (list, tuple)):
        for i, v in enumerate(obj):
            yield from _tensors(v, f"{prefix}/{i}")


def test_resume_continues_with_identical_state(data, tmp_path):
    # r1_interval=2 puts a lazy R1 step on both sides of the cut; xflip + GPC swaps are on
    run(data, tmp_path / "straight", 4)
    run(data, tmp_path / "split", 2)
    with pytest.raises(UserError, match="already holds a training run"):
        run(data, tmp_path / "split", 4)
    run(data, tmp_path / "split", 4, resume="auto")
    a = ckpt.load_file(ckpt.find_latest(tmp_path / "straight"), "snapshot")
    b = ckpt.load_file(ckpt.find_latest(tmp_path / "split"), "snapshot")
    assert a["progress"] == b["progress"] == {"step": 4, "nimg": 4 * BATCH}
    ta, tb = dict(_tensors({k: a[k] for k in ("G", "D", "G_ema", "opt_G", "opt_D")})), \
        dict(_tensors({k: b[k] for k in ("G", "D", "G_ema", "opt_G", "opt_D")}))
    assert ta.keys() == tb.keys() and len(ta) > 50
    different = [k for k in ta if not torch.equal(ta[k], tb[k])]
    assert not different, f"resumed run differs in {different[:5]}"


def test_nan_stops_and_keeps_last_good_snapshot(data, tmp_path, monkeypatch):
    calls = {"n": 0}
    real_d_logistic = trainer_module.d_logistic

    def d_logistic_nan_on_third_step(fake, real):
        calls["n"] += 1
        loss = real_d_logistic(fake, real)
        return loss * float("nan") if calls["n"] == 3 else loss

    monkeypatch.setattr(trainer_module, "d_logistic", d_logistic_nan_on_third_step)
    snap_every_step = [f"snapshot_kimg={kimg_of(1)}"]
    with pytest.raises(TrainingDiverged, match=r"D/loss became NaN/inf at iteration 2 .*last good snapshot is "
                                               r".*snapshot-00000\.008\.pt") as err:
        run(data, tmp_path, 5, extra=snap_every_step)
    assert "\n" not in str(err.value)
    assert not (tmp_path / ckpt.snapshot_name(kimg_of(3))).exists()
    assert not (tmp_path / "geogen.pkl").exists()
    last = ckpt.load_file(ckpt.find_latest(tmp_path), "snapshot")
    assert last["progress"]["step"] == 2
    assert all(torch.isfinite(t).all() for _, t in _tensors({k: last[k] for k in ("G", "D", "G_ema")})
               if t.is_floating_point())
    # the run continues from there once the loss is healthy again
    monkeypatch.setattr(trainer_module, "d_logistic", real_d_logistic)
    run(data, tmp_path, 3, resume="auto", extra=snap_every_step)
    assert ckpt.load_file(ckpt.find_latest(tmp_path), "snapshot")["progress"]["step"] == 3


def test_beta_and_lambda_switch_during_training(data, tmp_path):
    """β stays frozen and λ = 0 until the configured kimg, then β learns and λ = 0.1."""
    switch = [f"loss.switch_kimg={kimg_of(2)}"]
    cfg, _, _ = prepare_run("tiny", "geogen", tmp_path, kimg=kimg_of(4), overrides=FAST + switch)
    t = Trainer(cfg, model_config("tiny", "geogen"), ImageLabelDataset(data, 64, xflip=True))
    beta0 = float(t.G.beta)
    history = [t.train_step() for _ in range(4)]
    assert [h["schedule/beta_trainable"] for h in history] == [0.0, 0.0, 1.0, 1.0]
    assert [h["schedule/depth_weight"] for h in history] == [0.0, 0.0, 0.1, 0.1]
    assert history[0]["schedule/beta"] == history[1]["schedule/beta"] == beta0
    assert history[2]["schedule/beta"] != beta0 and t.G.field.log_beta.requires_grad


def test_branching_the_ablation_at_the_switch_equals_training_it_from_scratch(data, tmp_path):
    """geogen and geogen-nodepth train identically until the depth loss starts: a nodepth run
    branched from geogen's snapshot there ends bit-identical to one trained from scratch."""
    from geogen.training.run import branch_run

    switch = [f"loss.switch_kimg={kimg_of(2)}", "snapshot_kimg=0.004", "reuse_fakes=true"]
    run(data, tmp_path / "trunk", 2, "geogen", extra=switch)
    trunk_snap = ckpt.find_latest(tmp_path / "trunk")
    branch_run(trunk_snap, "geogen-nodepth", tmp_path / "branch")
    run(data, tmp_path / "branch", 4, "geogen-nodepth", resume="auto", extra=switch)
    run(data, tmp_path / "scratch", 4, "geogen-nodepth", extra=switch)
    a = ckpt.load_file(ckpt.find_latest(tmp_path / "branch"), "snapshot")
    b = ckpt.load_file(ckpt.find_latest(tmp_path / "scratch"), "snapshot")
    assert a["progress"] == b["progress"] == {"step": 4, "nimg": 16}
    assert a["train_config"]["variant"] == "geogen-nodepth" and a["train_config"]["loss"]["depth_loss_weight"] == 0
    for k in ("G", "G_ema", "D"):
        assert all(torch.equal(a[k][n], b[k][n]) for n in b[k]), k
    # a geogen run that has used the depth loss, or a different model, cannot be branched
    run(data, tmp_path / "trunk", 4, "geogen", resume="auto", extra=switch)
    with pytest.raises(UserError, match="after the depth loss started"):
        branch_run(ckpt.find_latest(tmp_path / "trunk"), "geogen-nodepth", tmp_path / "late")
    with pytest.raises(UserError, match="models differ"):
        branch_run(trunk_snap, "eg3d", tmp_path / "e")


def test_a_resumed_run_may_change_the_depth_gradient_path_but_not_the_architecture(data, tmp_path):
    """A screen branches geogen at the switch with ``model.depth_loss_grad=surface``: that field
    changes training, not which weights exist, so resuming with it is allowed and it takes effect;
    an architecture field (``model.z_dim``) is still refused with a one-line error."""
    run(data, tmp_path, 1)
    cfg, model_cfg, snap = prepare_run("tiny", "geogen", tmp_path, "auto", kimg=kimg_of(2),
                                       overrides=FAST + ["model.depth_loss_grad=surface"])
    assert snap is not None and model_cfg.depth_loss_grad == "surface"
    train(data, tmp_path, cfg, model_cfg, snap, progress_bar=False)        # the trainer accepts it too
    resumed = ckpt.load_file(ckpt.find_latest(tmp_path), "snapshot")
    assert resumed["progress"]["step"] == 2 and resumed["model_config"]["depth_loss_grad"] == "surface"
    with pytest.raises(UserError, match="only depth_loss_grad"):
        prepare_run("tiny", "geogen", tmp_path, "auto", kimg=kimg_of(2), overrides=FAST + ["model.z_dim=32"])
