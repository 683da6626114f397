"""Shape-distribution metrics (`geogen-bench shapes`): COV, MMD, 1-NNA on analytic sets and end to end."""

import itertools
import json

import numpy as np
import pytest
from cli_helpers import call_main
from scipy.spatial.distance import cdist

from benchmark.shapes import (Frame, PointSet, chamfer_matrix, coverage, mmd, one_nna, set_metrics,
                              shape_points)
from benchmark.toydata import write_toy_dataset
from geogen.common.meshio import load_mesh
from geogen.common.seeding import rng_for
from dataset.format import GT_MESH_DIR


def matrices(S, R):
    """Euclidean distance matrices of two point sets (each point is a 'shape')."""
    return cdist(S, S), cdist(R, R), cdist(S, R)


def naive_1nna(S, R):
    """Leave-one-out 1-NN accuracy, one shape at a time (ties between the sets count ½)."""
    shapes = [(x, 0) for x in S] + [(y, 1) for y in R]
    right = 0.0
    for k, (x, label) in enumerate(shapes):
        d = {0: np.inf, 1: np.inf}
        for j, (y, lab) in enumerate(shapes):
            if j != k:
                d[lab] = min(d[lab], float(np.linalg.norm(x - y)))
        own, other = d[label], d[1 - label]
        right += 1.0 if own < other else 0.5 if own == other else 0.0
    return right / len(shapes)


def test_metrics_match_naive_loops_including_ties():
    rng = np.random.default_rng(3)
    S = rng.integers(0, 4, size=(9, 2)).astype(float)  # integer grid: many equal distances
    R = rng.integers(0, 4, size=(7, 2)).astype(float)
    d_ss, d_rr, d_sr = matrices(S, R)
    assert one_nna(d_ss, d_rr, d_sr) == pytest.approx(naive_1nna(S, R))
    nearest = {int(np.argmin([np.linalg.norm(x - y) for y in R])) for x in S}
    assert coverage(d_sr) == len(nearest) / len(R)
    assert mmd(d_sr) == pytest.approx(np.mean([min(np.linalg.norm(x - y) for x in S) for y in R]))


def test_two_draws_of_one_distribution_give_about_half():
    values = []
    for k in range(20):
        S, R = rng_for(k, 0).normal(size=(60, 3)), rng_for(k, 1).normal(size=(60, 3))
        values.append(set_metrics(*matrices(S, R))["1-nna"])
    assert abs(np.mean(values) - 0.5) < 0.03
    m = set_metrics(*matrices(rng_for(0, 0).normal(size=(60, 3)), rng_for(0, 1).normal(size=(60, 3))))
    assert not m["memorisation"] and m["cov"] > 0.4


def test_far_apart_sets_are_fully_separated_and_cover_little():
    R = rng_for(1, 0).normal(size=(50, 3))
    S = rng_for(1, 1).normal(size=(50, 3)) * 0.1 + [100.0, 0.0, 0.0]
    m = set_metrics(*matrices(S, R))
    assert m["1-nna"] == 1.0 and m["cov"] <= 0.06 and m["mmd"] > 90 and not m["memorisation"]


def test_exact_copies_are_flagged_as_memorisation():
    R = rng_for(2, 0).normal(size=(30, 3))
    m = set_metrics(*matrices(R.copy(), R))
    assert m["1-nna"] == 0.0 and m["cov"] == 1.0 and m["mmd"] == 0.0 and m["memorisation"]


def test_unequal_sizes_compare_equal_size_sets():
    S, R = rng_for(4, 0).normal(size=(40, 3)), rng_for(4, 1).normal(size=(10, 3))
    m = set_metrics(*matrices(S, R))
    assert m["n"] == 10 and m["n_samples"] == 40 and m["n_reference"] == 10
    assert m["1-nna"] == pytest.approx(naive_1nna(S[:10], R))
    assert m["cov"] == coverage(cdist(S[:10], R))  # the first 10 samples only
    few = set_metrics(*matrices(S[:4], R))  # fewer samples than references: a seeded subset of 4 references
    assert few["n"] == 4 and few == set_metrics(*matrices(S[:4], R))


def test_chamfer_matrix_matches_brute_force():
    clouds = [rng_for(5, k).normal(size=(50 + 10 * k, 3)) for k in range(4)]
    A, B = PointSet(clouds[:2]), PointSet(clouds[2:])
    brute = lambda a, b: 0.5 * (cdist(a, b).min(axis=1).mean() + cdist(b, a).min(axis=1).mean())  # noqa: E731
    got = chamfer_matrix(A, B)
    for i, j in itertools.product(range(2), range(2)):
        assert got[i, j] == pytest.approx(brute(clouds[i], clouds[2 + j]))
    within = chamfer_matrix(A)
    assert within[0, 0] == 0 and within[0, 1] == within[1, 0] == pytest.approx(brute(clouds[0], clouds[1]))


@pytest.fixture(scope="module")
def toy(tmp_path_factory):
    return write_toy_dataset(tmp_path_factory.mktemp("toy") / "D", n_train=6, n_test=3, n_views=2, resolution=16)


def test_copies_of_gt_meshes_are_flagged_under_the_sampled_chamfer(toy):
    """Sample meshes identical to the training GT (other surface samples): memorisation; the test GT
    (other identities of the same distribution) is not."""
    train = [load_mesh(toy / GT_MESH_DIR / f"{k:06d}.ply") for k in range(6)]
    frame = Frame.from_gt(train, [], margin=0.05)
    pts = lambda meshes, stream: PointSet([shape_points(m, frame, 2000, rng_for(0, stream, k))  # noqa: E731
                                           for k, m in enumerate(meshes)])
    S, R = pts(train, 0), pts(train, 1)
    m = set_metrics(chamfer_matrix(S), chamfer_matrix(R), chamfer_matrix(S, R))
    assert m["1-nna"] == 0.0 and m["cov"] == 1.0 and m["memorisation"]


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory):
    torch = pytest.importorskip("torch")
    from geogen.model.config import model_config
    from geogen.model.generator import Generator
    from geogen.model.io import save_file

    torch.manual_seed(0)
    cfg = model_config("tiny", "geogen")
    return save_file(tmp_path_factory.mktemp("m") / "tiny.pkl",
                     {"model_config": cfg.to_dict(), "G_ema": Generator(cfg).state_dict(), "meta": {}}, kind="model")


def bench(*args):
    from geogen.cli.bench import main

    return call_main(main, "geogen-bench", *args)


def test_cli_end_to_end_with_an_untrained_generator_and_leaderboard_section(toy, tiny_model, tmp_path):
    out = tmp_path / "results" / "tiny.shapes.json"
    args = ["shapes", "--model", tiny_model, "--data", toy, "--out", out, "--samples", 3, "--mesh-resolution", 32,
            "--points", 500, "--device", "cpu", "--no-progress"]
    r = bench(*args)
    assert r.returncode == 0, r.stderr
    doc = json.loads(out.read_text())
    assert doc["schema"] == "geogen-bench-shapes" and set(doc["results"]) == {"test", "train"}
    assert doc["protocol"]["key"] == "geogen-shapes-1|gt=exact|N=500|margin=0.05|seed=0|frame=test+train"
    assert doc["results"]["train"]["n_reference"] == 6 and doc["results"]["train"]["n"] == 3
    for res in doc["results"].values():
        assert 0 <= res["cov"] <= 1 and res["mmd"] > 0 and 0 <= res["1-nna"] <= 1
    assert all(s["nearest_test"] in ("000006", "000007", "000008") for s in doc["samples"])
    stamp = (tmp_path / "results/tiny.shapes.meshes/seed000000.ply").stat().st_mtime_ns
    assert bench(*args).returncode == 0  # resume: sample meshes reused, same numbers
    assert (tmp_path / "results/tiny.shapes.meshes/seed000000.ply").stat().st_mtime_ns == stamp
    assert json.loads(out.read_text())["results"] == doc["results"]
    r = bench("leaderboard", "--results", tmp_path / "results", "--md", tmp_path / "lb.md", "--csv", tmp_path / "lb.csv")
    assert r.returncode == 0, r.stderr
    md = (tmp_path / "lb.md").read_text()
    assert "## Shape distribution of generated samples" in md and "| tiny | ψ=1.0, 32³ | train | 3 | 6 | 3 + 3 |" in md
    rows = (tmp_path / "lb-shapes.csv").read_text().splitlines()
    assert rows[0].startswith("method,dataset") and len(rows) == 3  # header + test + train


@pytest.mark.parametrize("extra, message", [
    (["--samples", "1"], "at least 2"),
    (["--splits", "val"], "no split 'val'"),
    (["--splits", "test,test"], "twice"),
    (["--points", "10"], "at least 100"),
    (["--out", "x.txt"], "must be a .json"),
    (["--model", "missing.pkl"], "not found"),
    (["--threads", "two"], "--threads 'two'"),
])
def test_bad_input_is_one_line(toy, tiny_model, tmp_path, extra, message):
    args = {"--model": str(tiny_model), "--out": str(tmp_path / "s.json")}
    for k, v in zip(extra[::2], extra[1::2]):
        args[k] = str(tmp_path / v) if k in ("--model", "--out") else v
    rest = [x for k, v in zip(extra[::2], extra[1::2]) if k not in ("--model", "--out") for x in (k, v)]
    r = bench("shapes", "--data", toy, "--model", args["--model"], "--out", args["--out"], "--mesh-resolution", 32,
              "--device", "cpu", "--no-progress", *rest)
    assert r.returncode == 2 and message in r.stderr and len(r.stderr.strip().splitlines()) == 1, r.stderr


def test_leaderboard_skips_bad_shapes_files_with_a_reason(tmp_path):
    from geogen.common.atomic import atomic_write_json
    from leaderboard.build import load_board

    atomic_write_json(tmp_path / "old.json", {"schema": "geogen-bench-shapes", "schema_version": 99})
    atomic_write_json(tmp_path / "broken.json", {"schema": "geogen-bench-shapes", "schema_version": 1,
                                                 "method": {"name": "x"}})
    board = load_board(tmp_path)
    reasons = {p.name: r for p, r in board.skipped}
    assert board.shapes == [] and "schema version 99" in reasons["old.json"]
    assert reasons["broken.json"].startswith("malformed shapes result (KeyError")


class CountingGovernor:
    """Stands in for ThreadGovernor: counts update() calls."""

    def __init__(self):
        self.updates = 0

    def update(self):
        self.updates += 1


def test_sample_meshes_updates_the_thread_governor_per_mesh_made(tiny_model, tmp_path):
    from benchmark.shapes import SampleSettings, sample_meshes

    gov = CountingGovernor()
    meshes, _ = sample_meshes(tiny_model, SampleSettings(mesh_resolution=32), [0, 1, 2], tmp_path / "m", "cpu",
                              progress=False, threads=gov)
    assert set(meshes) == {0, 1, 2} and gov.updates == 3
    sample_meshes(tiny_model, SampleSettings(mesh_resolution=32), [0, 1, 2], tmp_path / "m", "cpu",
                  progress=False, threads=gov)          # cached: nothing made, no update
    assert gov.updates == 3
