"""The Ray executor on a local 2-CPU cluster: same bytes as the local build, resume, a worker
killed mid-run (its task is retried; nothing lost or duplicated), a 2-identity benchmark."""

import os
import signal
from pathlib import Path

import pytest

ray = pytest.importorskip("ray")

import dataset.build as build_mod  # noqa: E402
from benchmark.adapters import save_dummy_model  # noqa: E402
from benchmark.protocol import Protocol  # noqa: E402
from benchmark.pti import PTI_PRESETS  # noqa: E402
from benchmark.run import run_benchmark  # noqa: E402
from benchmark.score import score_meshes  # noqa: E402
from benchmark.toydata import write_toy_dataset  # noqa: E402
from dataset.build import BuildOptions, build_dataset  # noqa: E402
from dataset.config import make_config  # noqa: E402
from dataset import format as layout  # noqa: E402
from geogen.common.errors import UserError  # noqa: E402
from geogen.common.executor import ExecutorConfig, map_tasks  # noqa: E402
from dataset.format import PSEUDO_GT_DIR  # noqa: E402

CFG = make_config("tiny", identities=6, views=4, resolution=48, mesh_resolution=64)
RAY = ExecutorConfig(kind="ray", progress=False)
FAST = Protocol(n_points=4_000, emd_points=128)


@pytest.fixture(scope="module")
def cluster():
    """One local cluster for the module (2 CPUs, like CI), shut down at the end."""
    ray.init(address="local", num_cpus=2, include_dashboard=False, configure_logging=False, log_to_driver=False)
    yield
    ray.shutdown()


@pytest.fixture(scope="module")
def local_build(tmp_path_factory):
    root = tmp_path_factory.mktemp("local") / "d"
    assert build_dataset(CFG, root, BuildOptions(progress=False)).complete
    return root


def _all_files(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_ray_build_same_bytes_as_local_and_resumes(cluster, local_build, tmp_path):
    root = tmp_path / "d"
    summary = build_dataset(CFG, root, BuildOptions(progress=False, executor="ray"))
    assert summary.complete and summary.built == list(range(6))
    assert _all_files(root) == _all_files(local_build)
    assert ray.is_initialized()  # an attached session is left running for its owner
    # resume: only the identity whose record is gone is rebuilt, to the same bytes
    (root / layout.record(3)).unlink()
    (root / layout.image(3, 0)).write_bytes(b"half-written")
    again = build_dataset(CFG, root, BuildOptions(progress=False, executor="ray"))
    assert again.built == [3] and again.skipped == [0, 1, 2, 4, 5]
    assert _all_files(root) == _all_files(local_build)


def test_worker_killed_mid_build_task_is_retried(cluster, local_build, tmp_path, monkeypatch):
    marker = tmp_path / "killed-once"
    starts = tmp_path / "starts"
    starts.mkdir()
    real = build_mod.build_identity

    def dying_task(config, root, index):  # pickled by value into the Ray workers
        (starts / f"{index}-{os.getpid()}").touch()
        if index == 2 and not marker.exists():
            marker.touch()
            (Path(root) / layout.image(2, 0)).parent.mkdir(parents=True, exist_ok=True)
            (Path(root) / layout.image(2, 0)).write_bytes(b"partial")  # a half-built identity
            os.kill(os.getpid(), signal.SIGKILL)  # the worker process dies mid-task
        return real(config, Path(root), index)

    monkeypatch.setattr(build_mod, "_build_task", dying_task)
    root = tmp_path / "d"
    summary = build_dataset(CFG, root, BuildOptions(progress=False, executor="ray"))
    assert marker.exists()
    attempts = sorted(p.name.split("-")[0] for p in starts.iterdir())
    assert attempts.count("2") == 2 and len(attempts) == 7  # identity 2 ran twice, the others once
    assert summary.complete and summary.built == list(range(6))  # each identity committed exactly once
    assert _all_files(root) == _all_files(local_build)


def test_task_errors_keep_their_type_and_are_not_retried(cluster, tmp_path):
    calls = tmp_path / "calls"
    calls.mkdir()

    def bad(item):
        (calls / f"{item}-{os.getpid()}-{len(list(calls.iterdir()))}").touch()
        raise UserError(f"item {item} is bad")

    with pytest.raises(UserError, match="^item 0 is bad$"):
        list(map_tasks(bad, [0], RAY))
    assert len(list(calls.iterdir())) == 1


def _recon_identity(root: Path, ident: str, scene, gt) -> None:
    """One identity of a hand-made dataset folder: views, transforms.json, GT mesh."""
    import json

    import numpy as np
    from PIL import Image

    from geogen.common.cameras import opencv_to_opengl
    from geogen.common.meshio import save_ply

    frames = []
    for k, view in enumerate(scene.views):
        path = root / "images" / ident / f"{k:03d}.png"
        path.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(np.round(view.image * 255).astype(np.uint8)).save(path)
        frames.append({"file_path": f"../../images/{ident}/{k:03d}.png",
                       "transform_matrix": opencv_to_opengl(view.camera.c2w).tolist()})
    K, w = scene.views[0].camera.K, scene.views[0].camera.width
    (root / "identities" / ident).mkdir(parents=True)
    (root / "identities" / ident / "transforms.json").write_text(json.dumps(
        {"w": w, "h": w, "fl_x": K[0, 0], "fl_y": K[1, 1], "cx": K[0, 2], "cy": K[1, 2], "frames": frames}))
    save_ply(root / "meshes" / "gt" / f"{ident}.ply", gt.vertices, gt.faces)


@pytest.mark.slow
def test_pseudo_gt_on_ray_equals_local(cluster, tmp_path):
    import json

    import trimesh

    from reconstruction.config import make_recon_config
    from reconstruction.pseudo_gt import build_for_dataset
    from reconstruction.synthetic import Sphere, Square, make_scene

    cfg = make_recon_config("tiny")
    cfg.patchmatch.iterations, cfg.patchmatch.geom_iterations, cfg.meshing.depth = 3, 1, 7
    sphere, _, _ = make_scene([Sphere(radius=0.3)], n_views=10, resolution=72)
    flat, _, _ = make_scene([Square(size=4.0)], n_views=10, resolution=72, azimuth_span=60, textured=False)
    outputs = {}
    for name, executor in (("local", None), ("ray", RAY)):
        root = tmp_path / name
        _recon_identity(root, "000001", sphere, trimesh.creation.icosphere(subdivisions=4, radius=0.3))
        _recon_identity(root, "000002", flat, trimesh.creation.box(extents=(0.8, 0.8, 0.01)))
        (root / "manifest.json").write_text(json.dumps({"split": {"train": [], "test": ["000001", "000002"]}}))
        build_for_dataset(root, config=cfg, report=False, log=lambda m: None, executor=executor)
        records = {p.name: json.loads(p.read_text()) for p in (root / f"{PSEUDO_GT_DIR}/records").iterdir()}
        for r in records.values():
            r.pop("timings", None)
        outputs[name] = (records, (root / f"{PSEUDO_GT_DIR}/000001.ply").read_bytes())
    assert outputs["ray"] == outputs["local"]
    assert outputs["ray"][0]["000002.json"]["status"] == "failed"  # a per-identity failure is a record too


@pytest.fixture(scope="module")
def toy(tmp_path_factory):
    return write_toy_dataset(tmp_path_factory.mktemp("toy") / "D", n_train=1, n_test=2, n_views=4)


def _scores(result: dict) -> list:
    return [(r["id"], r["status"], r["metrics"], r["diagnostics"]) for r in result["samples"]]


def test_benchmark_of_two_identities_on_ray(cluster, toy, tmp_path):
    model = save_dummy_model(tmp_path / "dummy.pkl", radius=0.18)
    local = run_benchmark(model, toy, tmp_path / "local.json", FAST, PTI_PRESETS["tiny"], progress=False)
    on_ray = run_benchmark(model, toy, tmp_path / "ray.json", FAST, PTI_PRESETS["tiny"], progress=False,
                           executor=RAY)
    assert on_ray["n_ok"] == 2 and _scores(on_ray) == _scores(local)
    ids = [r["id"] for r in on_ray["samples"]]
    assert sorted(p.name for p in (tmp_path / "ray.records").iterdir()) == [f"{i}.json" for i in sorted(ids)]
    # score: the meshes of the toy dataset's GT, scored on Ray like locally
    meshes = toy / "meshes" / "gt"
    a = score_meshes(meshes, toy, "gt", tmp_path / "s-local.json", FAST, pictures=False, progress=False)
    b = score_meshes(meshes, toy, "gt", tmp_path / "s-ray.json", FAST, pictures=False, progress=False, executor=RAY)
    assert b["n_ok"] == 2 and _scores(a) == _scores(b)


def test_cli_help_documents_the_executor():
    from typer.testing import CliRunner

    from geogen.cli.bench import app as bench
    from geogen.cli.data import app as data

    for app, cmd in ((data, ["build"]), (bench, ["run"]), (bench, ["score"]), (bench, ["baselines"])):
        text = " ".join(CliRunner().invoke(app, [*cmd, "--help"], terminal_width=200).output.split())
        assert "--executor" in text and "--ray-address" in text, cmd


def test_bad_executor_options_are_one_line_errors(tmp_path):
    from cli_helpers import call_main

    from geogen.cli.data import main as data_main

    for args, expect in ((["--executor", "dask"], "error: --executor must be one of local, ray (got 'dask')"),
                         (["--ray-address", "auto"], "error: --ray-address needs --executor ray")):
        r = call_main(data_main, "geogen-data", "build", "--out", tmp_path / "d", "--identities", "2",
                      "--no-progress", *args)
        assert (r.returncode, r.stderr.strip()) == (2, expect)


def test_a_task_whose_worker_always_dies_is_one_line_after_the_retries(cluster, tmp_path):
    runs = tmp_path / "runs"
    runs.mkdir()

    def always_dies(item):
        (runs / f"{os.getpid()}").touch()
        os.kill(os.getpid(), signal.SIGKILL)

    with pytest.raises(UserError, match=r"^a Ray task failed after 1 retries \(WorkerCrashedError"):
        list(map_tasks(always_dies, [0], ExecutorConfig(kind="ray", progress=False, max_retries=1)))
    assert len(list(runs.iterdir())) == 2  # the first try and one retry


def test_unreachable_ray_address_is_one_line_and_fast():
    import time

    from geogen.common.executor import _check_reachable  # what ray_session runs before ray.init(address)

    start = time.perf_counter()
    with pytest.raises(UserError, match=r"^no Ray cluster answers at 'ray://127.0.0.1:1' \("):
        _check_reachable("ray://127.0.0.1:1")
    assert time.perf_counter() - start < 10
