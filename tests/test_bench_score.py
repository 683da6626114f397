"""`geogen-bench score`: external meshes against a toy dataset; results, CSV, resume, bad input."""

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from cli_helpers import call_main
import trimesh

from benchmark.protocol import PROTOCOL_VERSION, Protocol
from benchmark.results import check_result
from benchmark.score import score_meshes
from benchmark.toydata import write_toy_dataset
from geogen.common.atomic import atomic_write_json, read_json
from geogen.common.errors import UserError
from geogen.common.meshio import save_ply
from dataset.format import GT_MESH_DIR

FAST = Protocol(n_points=4_000, emd_points=128)


@pytest.fixture(scope="module")
def toy(tmp_path_factory):
    return write_toy_dataset(tmp_path_factory.mktemp("toy") / "D", n_train=1, n_test=3)


def bench(*args):
    """Run geogen-bench in-process: (exit code, stdout, stderr)."""
    from geogen.cli.bench import main

    return call_main(main, "geogen-bench", *args)


def test_scoring_gt_against_itself_and_a_worse_method(toy, tmp_path):
    good, bad = tmp_path / "good", tmp_path / "bad"
    good.mkdir(), bad.mkdir()
    for sid in ["000001", "000002", "000003"]:
        m = trimesh.load(toy / GT_MESH_DIR / f"{sid}.ply", process=False)
        shutil.copy(toy / GT_MESH_DIR / f"{sid}.ply", good / f"{sid}.ply")
        m.vertices = m.vertices * 1.1
        m.export(bad / f"{sid}.obj")  # OBJ accepted too
    rg = score_meshes(good, toy, "gt-copy", tmp_path / "r/good.json", FAST, progress=False)
    rb = score_meshes(bad, toy, "scaled", tmp_path / "r/bad.json", FAST, progress=False)
    assert rg["n_ok"] == 3 and rb["n_ok"] == 3
    assert rg["summary"]["msd"]["mean"] < 1e-6 < rb["summary"]["msd"]["mean"]
    assert rg["summary"]["chamfer_l1"]["mean"] < rb["summary"]["chamfer_l1"]["mean"]
    s = rb["summary"]["chamfer_l1"]
    assert s["n"] == 3 and s["ci95_low"] is None and s["interval"] == "n too small"  # no interval below 5
    doc = read_json(tmp_path / "r/bad.json")
    assert check_result(doc) is None
    assert doc["protocol"]["version"] == PROTOCOL_VERSION and doc["protocol"]["n_points"] == 4_000
    assert doc["provenance"]["dataset_manifest_sha256"] and "wall_time_s" in doc["provenance"]
    assert doc["metrics"]["fscore@0.01"]["higher_is_better"] is True
    csv_text = (tmp_path / "r/bad.csv").read_text().splitlines()
    assert csv_text[0].startswith("id,status,reason,chamfer_l1") and len(csv_text) == 4
    assert (tmp_path / "r/bad.pictures/000002.png").read_bytes()[:4] == b"\x89PNG"


def test_resume_reuses_records_and_rescored_changed_meshes(toy, tmp_path):
    meshes = tmp_path / "m"
    meshes.mkdir()
    for sid in ["000001", "000002", "000003"]:
        shutil.copy(toy / GT_MESH_DIR / f"{sid}.ply", meshes / f"{sid}.ply")
    out = tmp_path / "res.json"
    first = score_meshes(meshes, toy, "m", out, FAST, pictures=False, progress=False)
    rec = tmp_path / "res.records/000001.json"
    stamp = rec.stat().st_mtime_ns
    m = trimesh.load(meshes / "000002.ply", process=False)
    save_ply(meshes / "000002.ply", m.vertices * 1.2, m.faces)
    second = score_meshes(meshes, toy, "m", out, FAST, pictures=False, progress=False)
    assert rec.stat().st_mtime_ns == stamp  # untouched sample reused
    assert second["samples"][0]["metrics"] == first["samples"][0]["metrics"]
    assert second["samples"][1]["metrics"]["msd"] > first["samples"][1]["metrics"]["msd"] + 1e-3


def test_resume_rescored_against_another_dataset_or_changed_gt(toy, tmp_path):
    """Score against D0, then D1 with the same --out: D1's numbers, not D0's records."""
    d0, d1 = tmp_path / "D0", tmp_path / "D1"
    shutil.copytree(toy, d0)
    shutil.copytree(toy, d1)
    for sid in ["000001", "000002", "000003"]:  # D1: every GT head 10 % larger, its own manifest
        m = trimesh.load(d1 / GT_MESH_DIR / f"{sid}.ply", process=False)
        save_ply(d1 / GT_MESH_DIR / f"{sid}.ply", m.vertices * 1.1, m.faces)
    man = read_json(d1 / "manifest.json")
    man["seed"] = 1
    atomic_write_json(d1 / "manifest.json", man)
    meshes = tmp_path / "m"
    shutil.copytree(toy / GT_MESH_DIR, meshes)
    out = tmp_path / "res.json"
    r0 = score_meshes(meshes, d0, "m", out, FAST, pictures=False, progress=False)
    r1 = score_meshes(meshes, d1, "m", out, FAST, pictures=False, progress=False)
    fresh = score_meshes(meshes, d1, "m", tmp_path / "fresh.json", FAST, pictures=False, progress=False)
    assert r0["summary"]["msd"]["mean"] < 1e-6 < r1["summary"]["msd"]["mean"]
    assert [r["metrics"] for r in r1["samples"]] == [r["metrics"] for r in fresh["samples"]]
    assert r1["dataset"]["manifest_sha256"] != r0["dataset"]["manifest_sha256"]
    # the GT alone changes (same manifest) → that sample is rescored, the others reused
    rec2, rec3 = tmp_path / "res.records/000002.json", tmp_path / "res.records/000003.json"
    stamps = rec2.stat().st_mtime_ns, rec3.stat().st_mtime_ns
    shutil.copy(d0 / f"{GT_MESH_DIR}/000002.ply", d1 / f"{GT_MESH_DIR}/000002.ply")
    r2 = score_meshes(meshes, d1, "m", out, FAST, pictures=False, progress=False)
    assert rec2.stat().st_mtime_ns != stamps[0] and rec3.stat().st_mtime_ns == stamps[1]
    assert r2["samples"][1]["metrics"]["msd"] < 1e-6 < r2["samples"][2]["metrics"]["msd"]
    # the manifest alone changes (same GT files) → every sample is rescored
    man["name"] = "renamed"
    atomic_write_json(d1 / "manifest.json", man)
    score_meshes(meshes, d1, "m", out, FAST, pictures=False, progress=False)
    assert rec3.stat().st_mtime_ns != stamps[1]


def test_missing_empty_and_far_meshes_become_failed_rows(toy, tmp_path):
    meshes = tmp_path / "m"
    meshes.mkdir()
    shutil.copy(toy / f"{GT_MESH_DIR}/000001.ply", meshes / "000001.ply")
    (meshes / "000002.ply").write_bytes(b"ply\nformat ascii 1.0\nelement vertex 0\nelement face 0\nend_header\n")
    save_ply(meshes / "000003.ply", np.array([[50, 0, 0], [51, 0, 0], [50, 1, 0]]), np.array([[0, 1, 2]]))
    r = score_meshes(meshes, toy, "m", tmp_path / "o.json", FAST, pictures=False, progress=False)
    rows = {row["id"]: row for row in r["samples"]}
    assert rows["000001"]["status"] == "ok"
    assert rows["000002"]["status"] == "failed" and rows["000002"]["reason"]
    assert "no surface inside" in rows["000003"]["reason"]
    assert r["n_failed"] == 2 and r["summary"]["chamfer_l1"]["n"] == 1


def test_dataset_without_test_split_is_a_one_line_error(toy, tmp_path):
    d = tmp_path / "D"
    shutil.copytree(toy, d)
    man = read_json(d / "manifest.json")
    man["split"]["test"] = []
    atomic_write_json(d / "manifest.json", man)
    (tmp_path / "m").mkdir()
    with pytest.raises(UserError, match="no test split"):
        score_meshes(tmp_path / "m", d, "x", tmp_path / "o.json", FAST)
    p = bench("score", "--meshes", str(tmp_path / "m"), "--data", str(d), "--method", "x",
              "--out", str(tmp_path / "o.json"))
    assert p.returncode == 2 and p.stderr.strip().count("\n") == 0 and "no test split" in p.stderr


def test_cli_score_runs_and_bad_arguments_are_one_line(toy, tmp_path):
    meshes = tmp_path / "m"
    meshes.mkdir()
    shutil.copy(toy / f"{GT_MESH_DIR}/000001.ply", meshes / "000001.ply")
    p = bench("score", "--meshes", str(meshes), "--data", str(toy), "--method", "gt", "--out",
              str(tmp_path / "r.json"), "--points", "2000", "--emd-points", "64", "--limit", "1", "--no-progress")
    assert p.returncode == 0, p.stderr
    assert read_json(tmp_path / "r.json")["n_samples"] == 1
    p = bench("score", "--meshes", str(meshes), "--data", str(toy), "--method", "gt", "--gt", "mvs")
    assert p.returncode == 2 and "unknown ground truth" in p.stderr and p.stderr.count("\n") == 1
    p = bench("score", "--meshes", str(meshes), "--data", str(tmp_path / "nope"), "--method", "gt")
    assert p.returncode == 2 and "not found" in p.stderr and p.stderr.count("\n") == 1


def test_missing_pseudo_gt_folder_is_a_one_line_error(toy, tmp_path):
    (tmp_path / "m").mkdir()
    shutil.copy(toy / f"{GT_MESH_DIR}/000001.ply", tmp_path / "m" / "000001.ply")
    with pytest.raises(UserError, match="pseudo_gt not found"):
        score_meshes(tmp_path / "m", toy, "x", tmp_path / "o.json", replace_gt(FAST, "pseudo"))


def replace_gt(protocol, gt):
    from dataclasses import replace

    return replace(protocol, gt=gt)


def test_console_script_exits_2_with_one_line(tmp_path):
    """The installed entry point itself (a real process) maps UserError to exit code 2."""
    p = subprocess.run([sys.executable, "-c", "from geogen.cli.bench import main; main()", "score", "--meshes",
                        str(tmp_path), "--data", str(tmp_path / "nope"), "--method", "x"],
                       capture_output=True, text=True, timeout=120)
    assert p.returncode == 2 and p.stderr.startswith("error: ") and p.stderr.count("\n") == 1
