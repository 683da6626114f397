"""geogen-train / geogen-gen end to end: one-line errors, torchrun data parallelism, sampling outputs."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from geogen.cli.generate import generate
from geogen.cli.train import main as train_main
from geogen.training import checkpoint as ckpt
from geogen.training.synthetic import write_fake_dataset


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    return write_fake_dataset(tmp_path_factory.mktemp("data"), identities=2, views=2, resolution=64)


def _cli_error(monkeypatch, capsys, args):
    monkeypatch.setattr("sys.argv", ["geogen-train", *args])
    with pytest.raises(SystemExit) as exc:
        train_main()
    assert exc.value.code == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and "\n" not in err
    return err


def test_train_cli_one_line_errors(tmp_path, data, monkeypatch, capsys):
    out = ["--out", str(tmp_path / "run")]
    assert "not found; pass --data" in _cli_error(monkeypatch, capsys, ["--data", str(tmp_path / "nope"), *out])
    assert "variant 'nerf'" in _cli_error(monkeypatch, capsys, ["--data", str(data), "--variant", "nerf", *out])
    assert "unknown loss field" in _cli_error(monkeypatch, capsys, ["--data", str(data), "--set", "loss.gama=1", *out])
    assert "no such snapshot" in _cli_error(monkeypatch, capsys, ["--data", str(data), "--resume", "x.pt", *out])
    assert "--threads 'two'" in _cli_error(monkeypatch, capsys, ["--data", str(data), "--threads", "two", *out])


def test_train_cli_then_generate(tmp_path, data, monkeypatch, capsys):
    run = tmp_path / "run"
    monkeypatch.setattr("sys.argv", ["geogen-train", "--data", str(data), "--out", str(run), "--kimg", "0.004",
                                     "--set", "loss.batch_size=4", "--set", "log_steps=1", "--no-progress"])
    thread_counts = []   # --threads auto (the default) sets torch's threads; recorded, not applied, here
    monkeypatch.setattr(torch, "set_num_threads", thread_counts.append)
    train_main()  # returns normally on success (errors exit 2, see above)
    out = capsys.readouterr().out
    assert "done:" in out and "(kimg 0.004, whole batches of 4 up to --kimg 0.004)" in out
    from geogen.common.threads import available_cores
    assert thread_counts and all(1 <= n <= available_cores() for n in thread_counts)   # depends on the load now
    logged = [json.loads(line) for line in (run / "stats.jsonl").read_text().splitlines()]
    assert logged and all(1 <= rec["progress/threads"] <= available_cores() for rec in logged)
    written = generate(run / "geogen.pkl", [3], tmp_path / "gen", views=3, grid=32, gif_frames=3)
    names = sorted(p.name for p in written)
    assert names == ["seed0003-depth.npy", "seed0003.gif", "seed0003.ply", "seed0003.png"]
    sheet = np.asarray(Image.open(tmp_path / "gen" / "seed0003.png"))
    assert sheet.shape == (2 * 64, 3 * 64, 3)  # views on top, depth maps below
    gif = Image.open(tmp_path / "gen" / "seed0003.gif")
    assert gif.n_frames == 3
    depth = np.load(tmp_path / "gen" / "seed0003-depth.npy")
    assert depth.shape == (3, 32, 32) and np.nanmin(depth) > 2.0 and np.nanmax(depth) < 3.3
    # same seed → same picture
    again = generate(run / "geogen.pkl", [3], tmp_path / "gen2", views=3, grid=32, gif_frames=3, meshes=False)
    assert np.array_equal(np.asarray(Image.open(again[0])), sheet)


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("torchrun", path=str(Path(sys.executable).parent)) is None, reason="no torchrun")
def test_torchrun_two_processes_on_cpu(tmp_path, data):
    """Snapshots and logs are written once (by rank 0), a torchrun run resumes under torchrun, and the
    result equals one process at the same global batch and batch_gpu (tests/test_train_ddp.py)."""
    import json

    from geogen.training.run import prepare_run, train

    torchrun = shutil.which("torchrun", path=str(Path(sys.executable).parent))
    out = tmp_path / "ddp"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    sets = ["loss.batch_size=4", "snapshot_kimg=0.008", "log_steps=1"]

    def launch(kimg, *extra):
        cmd = [torchrun, "--standalone", "--nproc_per_node", "2", "-m", "geogen.cli.train", "--data", str(data),
               "--out", str(out), "--preset", "tiny", "--kimg", kimg, "--no-progress", *extra]
        for s in sets:
            cmd += ["--set", s]
        proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
        assert proc.returncode == 0, proc.stderr[-2000:]
        return proc

    launch("0.016")
    snap = ckpt.load_file(ckpt.find_latest(out), "snapshot")
    assert snap["progress"] == {"step": 4, "nimg": 16} and snap["meta"]["world_size"] == 2
    assert all(torch.isfinite(v).all() for v in snap["G"].values() if v.is_floating_point())
    ckpt.load_model_file(out / "geogen.pkl")
    # written once, by rank 0: one snapshot and one sample sheet per snapshot step, one log line per step
    assert sorted(p.name for p in out.glob("snapshot-*.pt")) == [ckpt.snapshot_name(0.008), ckpt.snapshot_name(0.016)]
    assert len(list(out.glob("samples-*.png"))) == 2
    logged = [json.loads(line)["nimg"] for line in (out / "stats.jsonl").read_text().splitlines()]
    assert logged == [4, 8, 12, 16]
    # resume under torchrun, then compare with one uninterrupted process at batch_gpu 2
    assert "resuming from" in launch("0.024", "--resume", "auto").stdout
    resumed = ckpt.load_file(ckpt.find_latest(out), "snapshot")
    assert resumed["progress"] == {"step": 6, "nimg": 24}
    cfg, model_cfg, _ = prepare_run("tiny", "geogen", tmp_path / "one", kimg=0.024, overrides=[*sets, "batch_gpu=2"])
    torch.set_num_threads(1)
    train(data, tmp_path / "one", cfg, model_cfg, progress_bar=False)
    one = ckpt.load_file(ckpt.find_latest(tmp_path / "one"), "snapshot")
    for net in ("G", "D", "G_ema"):
        diff = max((one[net][k].double() - resumed[net][k].double()).abs().max().item()
                   for k in one[net] if one[net][k].is_floating_point())
        assert diff < 1e-5, (net, diff)


def test_model_camera_fills_in_and_says_so(capsys):
    from geogen.model.render_views import DEFAULT_CAMERA, model_camera

    full = {"radius": 2.5, "elevation": 5.0, "focal": 3.0}
    assert model_camera({"camera": full}) == full and capsys.readouterr().err == ""
    cam = model_camera({"camera": {"radius": 2.5}})
    assert cam == {**DEFAULT_CAMERA, "radius": 2.5}
    err = capsys.readouterr().err
    assert err.startswith("warning: the model file's camera lacks elevation, focal") and err.count("\n") == 1
    assert model_camera({}) == DEFAULT_CAMERA and "lacks radius, elevation, focal" in capsys.readouterr().err


def test_final_nimg_is_where_the_loop_stops():
    """The loop runs whole batches until --kimg is reached: the progress bar ends and the done line
    reports that count (--kimg 0.05 at batch 8 trains 56 images, not 50)."""
    from geogen.training.run import final_nimg

    assert final_nimg(0, 50, 8) == 56
    assert final_nimg(0, 48, 8) == 48
    assert final_nimg(48, 50, 8) == 56       # resumed
    assert final_nimg(60, 50, 8) == 60       # already past the target: no step runs
