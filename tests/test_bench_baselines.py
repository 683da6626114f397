"""Reference rows (`geogen-bench baselines`): mean shape, nearest-reference oracle, copy-other."""

import csv
import io
import json
import shutil

import numpy as np
import pytest
import trimesh
from cli_helpers import call_main

from benchmark.baselines import BaselineSettings, mean_shape, nearest_reference, run_baselines
from benchmark.metrics import score_pair
from benchmark.protocol import Protocol
from benchmark.toydata import write_toy_dataset
from geogen.common.atomic import atomic_write_json, read_json
from geogen.common.meshio import load_mesh, save_ply
from dataset.format import GT_MESH_DIR

FAST = Protocol(n_points=4_000, emd_points=128)


def sphere(radius, centre=(0.0, 0.0, 0.0), subdivisions=4):
    m = trimesh.creation.icosphere(subdivisions=subdivisions, radius=radius)
    return trimesh.Trimesh(m.vertices + np.asarray(centre), m.faces, process=False)


def bench(*args):
    from geogen.cli.bench import main

    return call_main(main, "geogen-bench", *args)


@pytest.fixture(scope="module")
def toy(tmp_path_factory):
    """3 train + 2 test ellipsoids; test GT 000003 is train 000001 grown by 2 %, 000004 is train 000002
    shrunk by 2 %, so the nearest training identity of each is known."""
    root = write_toy_dataset(tmp_path_factory.mktemp("toy") / "D", n_train=3, n_test=2, n_views=2, resolution=16)
    for test_id, train_id, scale in (("000003", "000001", 1.02), ("000004", "000002", 0.98)):
        m = load_mesh(root / GT_MESH_DIR / f"{train_id}.ply")
        save_ply(root / GT_MESH_DIR / f"{test_id}.ply", m.vertices * scale, m.faces)
    return root


def test_mean_shape_of_identical_shapes_is_that_shape():
    ell = sphere(1.0)
    ell = trimesh.Trimesh(ell.vertices * [0.16, 0.2, 0.18], ell.faces, process=False)
    v, f = mean_shape([ell, ell.copy(), ell.copy()], resolution=48)
    got = trimesh.Trimesh(v, f, process=False)
    assert got.is_watertight
    c = score_pair(got, ell, FAST, "0", metrics=["chamfer_l1"])["chamfer_l1"]
    assert c < 0.01  # marching cubes of the exact SDF at 48 cells: a small fraction of the GT diagonal
    assert abs(got.volume / ell.volume - 1) < 0.02


def test_mean_shape_of_concentric_spheres_is_the_mean_radius():
    """SDFs |x| − 0.2 and |x| − 0.3 average to |x| − 0.25: the template is the sphere of radius 0.25."""
    v, f = mean_shape([sphere(0.2), sphere(0.3)], resolution=64)
    r = np.linalg.norm(v, axis=1)
    assert abs(r.mean() - 0.25) < 0.002 and r.std() < 0.002


def test_mean_shape_without_a_common_inside_is_a_one_line_error():
    from geogen.common.errors import UserError

    with pytest.raises(UserError, match="positive everywhere"):
        mean_shape([sphere(0.1, (-0.5, 0, 0)), sphere(0.1, (0.5, 0, 0))], resolution=32)


def test_nearest_reference_matches_a_brute_force_argmin(toy):
    refs = {i: load_mesh(toy / GT_MESH_DIR / f"{i}.ply") for i in ("000000", "000001", "000002")}
    gt = load_mesh(toy / f"{GT_MESH_DIR}/000003.ply")
    best, scores = nearest_reference("000003", gt, refs, FAST)
    naive = {i: score_pair(m, gt, FAST, "000003", metrics=["chamfer_l1"])["chamfer_l1"] for i, m in refs.items()}
    assert scores == naive and best == min(naive, key=naive.get) == "000001"


def test_baselines_write_and_score_reference_rows(toy, tmp_path):
    out = tmp_path / "results"
    results = run_baselines(toy, out, FAST, BaselineSettings(template_resolution=32), pictures=False, progress=False)
    assert set(results) == {"template-mean", "oracle-nearest-train", "copy-other"}
    for name, res in results.items():
        doc = read_json(out / f"{name}.json")
        assert doc["method"]["kind"] == "reference" and doc["method"]["details"]["baseline"] in name
        assert doc["n_ok"] == 2 and doc["dataset"]["split"] == "test" and doc["dataset"]["n_test"] == 2
    oracle = results["oracle-nearest-train"]
    assert {k: v["id"] for k, v in oracle["method"]["details"]["nearest"].items()} == \
        {"000003": "000001", "000004": "000002"}
    # the oracle's chosen mesh is scored by the same protocol: its Chamfer is the one it was chosen by
    for row in oracle["samples"]:
        assert row["metrics"]["chamfer_l1"] == pytest.approx(
            oracle["method"]["details"]["nearest"][row["id"]]["chamfer_l1"])
    assert oracle["summary"]["chamfer_l1"]["mean"] < results["copy-other"]["summary"]["chamfer_l1"]["mean"]
    # one template for every test identity; copy-other copies the first training identity's GT
    t = [(out / "template-mean.meshes" / f"{i}.ply").read_bytes() for i in ("000003", "000004")]
    assert t[0] == t[1]
    assert (out / "copy-other.meshes/000004.ply").read_bytes() == (toy / f"{GT_MESH_DIR}/000000.ply").read_bytes()
    assert results["copy-other"]["method"]["details"]["copy_id"] == "000000"


def test_baselines_resume_and_rebuild_when_the_reference_changes(toy, tmp_path):
    out = tmp_path / "r"
    settings = BaselineSettings(baselines=("template-mean",), template_resolution=32)
    run_baselines(toy, out, FAST, settings, pictures=False, progress=False)
    mesh = out / "template-mean.meshes/000003.ply"
    stamp = mesh.stat().st_mtime_ns
    run_baselines(toy, out, FAST, settings, pictures=False, progress=False)
    assert mesh.stat().st_mtime_ns == stamp  # reused
    again = tmp_path / "again"
    run_baselines(toy, again, FAST, settings, pictures=False, progress=False)
    assert (again / "template-mean.meshes/000003.ply").read_bytes() == mesh.read_bytes()  # deterministic
    assert read_json(again / "template-mean.json")["summary"] == read_json(out / "template-mean.json")["summary"]
    run_baselines(toy, out, FAST, BaselineSettings(baselines=("template-mean",), template_resolution=24),
                  pictures=False, progress=False)
    assert mesh.stat().st_mtime_ns != stamp  # another resolution: rebuilt


def test_reference_and_scored_splits_are_parameters(toy, tmp_path):
    """A later validation split works as either side; the scored split names the result's split."""
    data = tmp_path / "D"
    shutil.copytree(toy, data)
    manifest = read_json(data / "manifest.json")
    manifest["split"] = {"train": ["000000", "000001"], "val": ["000002"], "test": ["000003", "000004"]}
    atomic_write_json(data / "manifest.json", manifest)
    res = run_baselines(data, tmp_path / "r", FAST, BaselineSettings(baselines=("oracle-nearest",), split="val"),
                        pictures=False, progress=False)
    doc = res["oracle-nearest-train"]
    assert doc["dataset"]["split"] == "val" and [r["id"] for r in doc["samples"]] == ["000002"]
    assert doc["method"]["details"]["nearest"]["000002"]["id"] in ("000000", "000001")


@pytest.mark.parametrize("args, message", [
    (["--only", "template-mean,nope"], "unknown baseline 'nope'"),
    (["--split", "train"], "both 'train'"),
    (["--reference-split", "val"], "no split 'val'"),
    (["--copy-id", "000003"], "not in the 'train' split"),
    (["--resolution", "4"], "at least 16"),
])
def test_bad_input_is_one_line(toy, tmp_path, args, message):
    r = bench("baselines", "--data", toy, "--out", tmp_path / "r", "--only", "copy-other", "--no-progress",
              "--no-pictures", *args) if "--only" not in args else \
        bench("baselines", "--data", toy, "--out", tmp_path / "r", "--no-progress", "--no-pictures", *args)
    assert r.returncode == 2 and message in r.stderr and len(r.stderr.strip().splitlines()) == 1, r.stderr
    assert "Traceback" not in r.stderr


def test_cli_writes_result_files(toy, tmp_path):
    r = bench("baselines", "--data", toy, "--out", tmp_path / "r", "--only", "copy-other", "--points", 4000,
              "--emd-points", 128, "--no-progress", "--no-pictures")
    assert r.returncode == 0, r.stderr
    assert "2/2 samples scored" in r.stdout
    assert json.loads((tmp_path / "r/copy-other.json").read_text())["method"]["kind"] == "reference"
    r = bench("baselines", "--data", toy, "--out", tmp_path / "r.json")
    assert r.returncode == 2 and "must be a folder" in r.stderr


def fake(method, chamfer, kind="method", baseline=None, track=None, ids=None):
    """A result file: one ok row per value of chamfer_l1 (other metrics 0.5)."""
    from benchmark.metrics import METRICS
    from benchmark.results import build_result

    rows = []
    for sid, c in zip(ids or [f"{k:06d}" for k in range(len(chamfer))], chamfer):
        m = {n: 0.5 for n in METRICS.names()}
        m["chamfer_l1"] = c
        rows.append({"id": sid, "status": "ok", "reason": None, "metrics": m, "diagnostics": {}, "info": {}})
    details = {"baseline": baseline} if baseline else {}
    return build_result({"name": method, "source": "score", "kind": kind, "details": details},
                        {"name": "toy", "manifest_sha256": "ab" * 32, "n_test": 5, "split": "test"}, FAST, rows, {},
                        {"created_utc": "2026-01-01T00:00:00Z"}, track=track)


def test_leaderboard_lists_reference_rows_unranked_with_each_methods_gain(tmp_path):
    from leaderboard.build import load_board
    from leaderboard.write import leaderboard_csv, leaderboard_markdown, leaderboard_png

    five = [0.010, 0.012, 0.008, 0.011, 0.009]  # template mean 0.010
    atomic_write_json(tmp_path / "t.json", fake("template-mean", five, "reference", "template-mean"))
    atomic_write_json(tmp_path / "o.json", fake("oracle-nearest-train", [v / 2 for v in five], "reference",
                                                "oracle-nearest"))
    atomic_write_json(tmp_path / "good.json", fake("good", [v * 0.75 for v in five]))
    atomic_write_json(tmp_path / "bad.json", fake("bad", [v * 2 for v in five]))
    run_track = {"source": "run", "views": 1}
    atomic_write_json(tmp_path / "run.json", fake("inverted", [0.004, 0.030], track=run_track,
                                                  ids=["000000", "000001"]))  # a --limit 2 run of another track
    board = load_board(tmp_path)
    rank = {e.method: e.ranks["chamfer_l1"] for e in board.entries}
    assert rank["good"] == 1 and rank["bad"] == 2  # the oracle (better than both) takes no rank
    assert rank["template-mean"] is None and rank["oracle-nearest-train"] is None

    rows = {r["method"]: r for r in csv.DictReader(io.StringIO(leaderboard_csv(board)))}
    assert rows["oracle-nearest-train"]["kind"] == "reference" and rows["good"]["kind"] == "method"
    assert float(rows["good"]["chamfer_l1 gain vs template-mean"]) == pytest.approx(0.25)
    assert float(rows["bad"]["chamfer_l1 gain vs template-mean"]) == pytest.approx(-1.0)
    assert rows["good"]["identity-specific geometry"] == "yes" and rows["bad"]["identity-specific geometry"] == "no"
    # paired: the 2-identity run is compared on its own identities (template 0.010, 0.012 → 0.011)
    assert float(rows["inverted"]["chamfer_l1 gain vs template-mean"]) == pytest.approx((0.011 - 0.017) / 0.011)

    md = leaderboard_markdown(board)
    assert "bad: chamfer_l1 0.02 vs template-mean 0.01 on the 5 identities both scored, 100% worse, not below " \
           "template-mean: it has recovered no identity-specific geometry." in md
    assert "good: chamfer_l1 0.0075 vs template-mean 0.01" in md and "25% of the template's error removed" in md
    assert md.count("has recovered no identity-specific geometry") == 2  # bad and inverted, never the good one
    assert md.count("| template-mean *(reference)* |") == 2  # shown beside the methods of both tracks
    written = leaderboard_png(board, tmp_path / "lb.png")
    assert len(written) == 2 and all(p.read_bytes()[:4] == b"\x89PNG" for p in written)


def test_shortlisted_oracle_agrees_with_the_exact_search(toy):
    refs = {i: load_mesh(toy / GT_MESH_DIR / f"{i}.ply") for i in ("000000", "000001", "000002")}
    for target in ("000003", "000004"):
        gt = load_mesh(toy / GT_MESH_DIR / f"{target}.ply")
        exact, all_scores = nearest_reference(target, gt, refs, FAST)
        short, some = nearest_reference(target, gt, refs, FAST, shortlist=1, screen_points=500)
        assert short == exact and len(some) == 1 and some[exact] == all_scores[exact]


def test_template_of_a_large_split_uses_a_seeded_subset(toy, tmp_path):
    from benchmark.baselines import BaselineBuilder
    from dataset.format import Dataset

    make = lambda: BaselineBuilder(Dataset(toy), BaselineSettings(template_max_reference=2), FAST,  # noqa: E731
                                   tmp_path, progress=False)
    ids = make().template_ids()
    assert len(ids) == 2 and set(ids) <= {"000000", "000001", "000002"} and ids == make().template_ids()
