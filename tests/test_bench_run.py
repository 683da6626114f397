"""`geogen-bench run`: dummy model end to end, resume, view choice, bad model files, GeoGen adapter."""

import subprocess
import sys
from dataclasses import replace

import numpy as np
import pytest
from cli_helpers import call_main
from typer.testing import CliRunner

from benchmark.adapters import DummySphereAdapter, load_adapter, save_dummy_model
from geogen.cli.bench import app
from benchmark.protocol import Protocol
from benchmark.pti import PTI_PRESETS
from benchmark.results import check_result
from benchmark.run import RunSettings, choose_views, run_benchmark
from benchmark.toydata import write_toy_dataset
from geogen.common.atomic import read_json
from geogen.common.errors import UserError

FAST = Protocol(n_points=4_000, emd_points=128)
PTI = PTI_PRESETS["tiny"]


@pytest.fixture(scope="module")
def toy(tmp_path_factory):
    return write_toy_dataset(tmp_path_factory.mktemp("toy") / "D", n_train=1, n_test=2, n_views=4)


@pytest.fixture(scope="module")
def dummy(tmp_path_factory):
    return save_dummy_model(tmp_path_factory.mktemp("model") / "dummy.pkl", radius=0.18)


def test_cli_run_with_dummy_model_end_to_end(toy, dummy, tmp_path):
    out = tmp_path / "res" / "dummy.json"
    r = CliRunner().invoke(app, ["run", "--model", str(dummy), "--data", str(toy), "--out", str(out),
                                 "--points", "4000", "--emd-points", "128", "--no-progress"])
    assert r.exit_code == 0, r.output
    doc = read_json(out)
    assert check_result(doc) is None and doc["n_ok"] == 2 and doc["method"]["source"] == "run"
    assert doc["method"]["details"]["kind"] == "dummy-sphere"
    assert doc["track"]["key"] == "inversion=none|mesh_resolution=128|source=run|view_seed=0|views=1"
    assert doc["provenance"]["model_sha256"] and doc["provenance"]["invert_seconds_mean"] is not None
    # a sphere of radius 0.18 vs ellipsoids of radii ~0.14-0.23: clearly imperfect, finite
    assert 0.005 < doc["summary"]["chamfer_l1"]["mean"] < 0.2
    im = doc["image_metrics"]
    assert im["psnr_input"]["n"] == 2 and im["psnr_novel"]["mean"] > 5
    for name in ("fid", "kid", "id"):
        assert im[name]["status"] == "unavailable" and im[name]["reason"]
    row = doc["samples"][0]
    assert len(row["info"]["input_views"]) == 1 and row["info"]["novel_view"] not in row["info"]["input_views"]
    assert (out.parent / "dummy.pictures" / f"{row['id']}.png").is_file()
    lb = CliRunner().invoke(app, ["leaderboard", "--results", str(out.parent), "--csv", str(tmp_path / "lb.csv")])
    assert lb.exit_code == 0 and "dummy:dummy-sphere" in (tmp_path / "lb.csv").read_text()


def test_run_resumes_from_per_sample_records(toy, dummy, tmp_path):
    out = tmp_path / "r.json"
    run_benchmark(dummy, toy, out, FAST, PTI, pictures=False, progress=False)
    rec = tmp_path / "r.records" / "000001.json"
    stamp = rec.stat().st_mtime_ns
    again = run_benchmark(dummy, toy, out, FAST, PTI, pictures=False, progress=False)
    assert rec.stat().st_mtime_ns == stamp and again["n_ok"] == 2
    other = run_benchmark(dummy, toy, out, FAST, PTI, RunSettings(views=2), pictures=False, progress=False)
    assert rec.stat().st_mtime_ns != stamp  # different settings → recomputed
    assert len(other["samples"][0]["info"]["input_views"]) == 2


def test_view_choice_is_seeded_and_distinct():
    a = choose_views(7, RunSettings(views=2, seed=3), "000005")
    assert a == choose_views(7, RunSettings(views=2, seed=3), "000005")
    assert len(set(a[0] + [a[1]])) == 3
    assert {choose_views(7, RunSettings(seed=s), "000005")[0][0] for s in range(10)} != {a[0][0]}
    with pytest.raises(UserError, match="fewer than"):
        choose_views(1, RunSettings(views=2), "000001")
    assert choose_views(1, RunSettings(views=1), "000001") == ([0], None)


def bench(*args):
    """Run geogen-bench in-process: (exit code, stdout, stderr)."""
    from geogen.cli.bench import main

    return call_main(main, "geogen-bench", *args)


def test_missing_and_truncated_model_files_are_one_line_errors(toy, dummy, tmp_path):
    trunc = tmp_path / "trunc.pkl"
    trunc.write_bytes(dummy.read_bytes()[:300])
    garbage = tmp_path / "garbage.pkl"
    garbage.write_bytes(b"not a model at all")
    for path, needle in ((tmp_path / "missing.pkl", "not found"), (trunc, "truncated"), (garbage, "truncated")):
        p = bench("run", "--model", str(path), "--data", str(toy), "--out", str(tmp_path / "o.json"))
        assert p.returncode == 2, p.stderr
        assert p.stderr.count("\n") == 1 and needle in p.stderr and "Traceback" not in p.stderr
    assert not (tmp_path / "o.json").exists()


def test_dummy_adapter_render_follows_the_input_colour():
    from geogen.common.cameras import Camera, normalized_intrinsics, spherical_cam2world

    cam = Camera(spherical_cam2world(0, 0, 2.7), normalized_intrinsics(3.2), 24, 24)
    ad = DummySphereAdapter(radius=0.2)
    red = np.zeros((8, 8, 3), np.uint8)
    red[..., 0] = 200
    img = ad.render(ad.invert([red], [cam]), cam)
    centre = img[12, 12].astype(int)
    assert centre[0] > centre[1] + 50 and img[0, 0].tolist() == [255, 255, 255]


def test_geogen_adapter_inverts_an_untrained_tiny_generator(toy, tmp_path):
    """Plumbing check of PTI + mesh extraction with the real Generator (2+1 steps, 32³ grid)."""
    torch = pytest.importorskip("torch")
    from geogen.model.config import model_config
    from geogen.model.generator import Generator
    from geogen.model.io import save_file

    torch.manual_seed(0)
    cfg = model_config("tiny", "geogen")
    path = save_file(tmp_path / "tiny.pkl", {"model_config": cfg.to_dict(), "G_ema": Generator(cfg).state_dict(),
                                             "meta": {}}, kind="model")
    pti = replace(PTI, steps_w=2, steps_g=1, w_avg_samples=8)
    adapter = load_adapter(path, pti, mesh_resolution=32)
    assert adapter.describe()["inversion"]["loss"] == "mse"
    before = {k: v.clone() for k, v in adapter.G.state_dict().items()}
    from dataset.format import Dataset
    from benchmark.run import read_image

    view = Dataset(toy).views("000001")[0]
    state = adapter.invert([read_image(view.image_path)], [view.camera])
    # pivotal tuning works on a copy: the loaded generator is unchanged, the copy moved
    assert all(torch.equal(before[k], v) for k, v in adapter.G.state_dict().items())
    assert any(not torch.equal(before[k], v) for k, v in state["G"].state_dict().items())
    assert state["ws"].shape == (1, adapter.G.num_ws, cfg.w_dim)
    assert adapter.render(state, view.camera).shape == (32, 32, 3)
    out = run_benchmark(path, toy, tmp_path / "g.json", FAST, pti, RunSettings(mesh_resolution=32, save_inversions=True),
                        limit=1, pictures=False, progress=False)
    row = out["samples"][0]
    assert row["info"]["final_loss_g"] is not None and row["info"]["invert_seconds"] > 0
    assert row["info"]["inversion_loss"] == "mse" and row["info"]["device"] == "cpu"   # what this row ran with
    assert row["status"] == "ok", row["reason"]  # seeded untrained field: a surface in the GT box
    mse_only = adapter.describe()["inversion"]["loss"] == "mse"  # the substitution is recorded in the result
    assert [w for w in out["warnings"] if "MSE only" in w] == (out["warnings"] if mse_only else [])
    assert bool(out["warnings"]) == mse_only
    # the kept inversion re-meshes to the very mesh that was scored
    from geogen.model.mesh import extract_mesh
    from geogen.model.io import build_generator, load_file

    saved = load_file(tmp_path / "g.inversions" / f"{row['id']}.pt")
    G2, _ = build_generator(saved)
    _, faces = extract_mesh(G2, saved["ws"], resolution=32)
    assert len(faces) == row["diagnostics"]["pred_faces"] > 0


@pytest.mark.parametrize("tune_beta", [False, True])
def test_pivotal_tuning_keeps_beta_unless_asked(tune_beta):
    """β is a renderer scalar: PTI's tuning stage leaves it alone by default (see benchmark.pti)."""
    torch = pytest.importorskip("torch")
    from benchmark.pti import ImageLoss, invert
    from geogen.model.config import model_config
    from geogen.model.generator import Generator
    from geogen.model.render_views import front_label

    torch.manual_seed(0)
    G = Generator(model_config("tiny", "geogen"))
    G.set_beta_trainable(True)  # as after the β switch in training
    cams = front_label()
    target = torch.zeros(1, 3, G.cfg.image_resolution, G.cfg.image_resolution)
    cfg = replace(PTI, steps_w=1, steps_g=3, w_avg_samples=4, tune_beta=tune_beta)
    tuned, _, _ = invert(G, target, cams, cfg, ImageLoss())
    moved = float((tuned.beta - G.beta).abs())
    assert (moved > 1e-5) if tune_beta else moved == 0.0
    assert any(not torch.equal(a, b) for a, b in zip(G.parameters(), tuned.parameters()))


def test_malformed_camera_file_fails_the_sample_with_a_reason(toy, dummy, tmp_path):
    import shutil

    from geogen.common.atomic import atomic_write_json

    d = tmp_path / "D"
    shutil.copytree(toy, d)
    tf = read_json(d / "identities/000001/transforms.json")
    tf["frames"][0]["transform_matrix"] = [[1, 0, 0], [0, 1, 0]]
    atomic_write_json(d / "identities/000001/transforms.json", tf)
    out = run_benchmark(dummy, d, tmp_path / "r.json", FAST, PTI, pictures=False, progress=False)
    row = out["samples"][0]
    assert row["status"] == "failed" and "malformed frame" in row["reason"] and "4x4" in row["reason"]
    assert out["samples"][1]["status"] == "ok"


def test_bench_run_threads_option(monkeypatch):
    import torch

    from benchmark.cli import _threads
    from geogen.common.threads import ThreadGovernor

    calls = []
    monkeypatch.setattr(torch, "set_num_threads", calls.append)
    assert isinstance(_threads("auto"), ThreadGovernor) and len(calls) == 1 and calls[0] >= 1
    assert _threads("3") is None and calls[-1] == 3
    assert _threads("0") is None and calls[-1] == 3          # 0: torch's default, not touched
    with pytest.raises(UserError, match="--threads 'x'"):
        _threads("x")


def test_inverter_updates_its_thread_governor_before_each_identity(toy, dummy, tmp_path):
    import pickle

    from benchmark.run import Inverter, load_adapter

    class Counting:
        updates = 0

        def update(self):
            Counting.updates += 1

    from dataset.format import Dataset
    inv = Inverter(dummy, Dataset(toy), PTI, RunSettings(), tmp_path / "r.json", "sha",
                   load_adapter(dummy, PTI, mesh_resolution=32), threads=Counting())
    inv("000001")
    inv("000002")
    assert Counting.updates == 2
    assert pickle.loads(pickle.dumps(inv))._threads is None   # a Ray worker does not take this process's


def test_rows_inverted_with_another_setup_are_warned():
    from benchmark.run import setup_warnings

    described = {"inversion": {"loss": "mse+lpips"}, "device": "cuda"}
    same = {"inversion_loss": "mse+lpips", "device": "cuda"}
    rows = [{"id": "1", "info": same}, {"id": "2", "info": {**same, "inversion_loss": "mse"}},
            {"id": "3", "info": {**same, "inversion_loss": "mse", "device": "cpu"}}, {"id": "4", "info": {}}]
    out = setup_warnings(rows, described)
    assert len(out) == 2
    assert out[0].startswith("2 identities ran with inversion_loss mse, not the mse+lpips") and "e.g. 2" in out[0]
    assert out[1].startswith("1 identities ran with device cpu, not the cuda")
    assert setup_warnings(rows[:1] + rows[3:], described) == []


def test_device_choice_is_checked(monkeypatch):
    torch = pytest.importorskip("torch")
    from benchmark.adapters import resolve_device

    assert resolve_device("cpu") == "cpu"
    with monkeypatch.context() as m:
        m.setattr(torch.cuda, "is_available", lambda: True)
        assert resolve_device("auto") == "cuda"
        m.setattr(torch.cuda, "is_available", lambda: False)
        assert resolve_device("auto") == "cpu"
    with pytest.raises(UserError, match="unknown --device"):
        resolve_device("tpu")
    if not torch.cuda.is_available():
        with pytest.raises(UserError, match="no CUDA GPU"):
            resolve_device("cuda")
