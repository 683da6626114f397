"""geogen-bench agreement: Kendall's τ between the exact- and pseudo-GT rankings, flips, differences."""

import json

import numpy as np
import pytest
from scipy.stats import kendalltau

from leaderboard.agreement import agreement_report, kendall_tau_b, protocol_without_gt
from geogen.cli.bench import main
from benchmark.metrics import METRICS
from benchmark.protocol import Protocol, score_track
from benchmark.results import build_result
from geogen.common.atomic import atomic_write_json
from tests.cli_helpers import call_main


def _result(method, chamfer, gt, kind="method"):
    rows = []
    for k, c in enumerate(chamfer):
        m = {n: 0.5 for n in METRICS.names()}
        m["chamfer_l1"] = float(c)
        rows.append({"id": f"{k:06d}", "status": "ok", "reason": None, "metrics": m, "diagnostics": {}, "info": {}})
    method_doc = {"name": method, "source": "test", "details": {}}
    if kind == "reference":
        method_doc.update(kind="reference", details={"baseline": method})
    return build_result(method_doc, {"name": "toy", "path": "x", "manifest_sha256": "abc", "split": "test",
                                     "n_test": len(chamfer)},
                        Protocol(gt=gt), rows, {}, {"created_utc": "2026-01-01T00:00:00Z"}, track=score_track())


def _write(folder, method, exact, pseudo, kind="method"):
    atomic_write_json(folder / f"{method}-exact.json", _result(method, exact, "exact", kind))
    atomic_write_json(folder / f"{method}-pseudo.json", _result(method, pseudo, "pseudo", kind))


def test_kendall_tau_b_matches_scipy_with_ties():
    rng = np.random.default_rng(0)
    for _ in range(20):
        x, y = rng.integers(0, 4, 7).astype(float), rng.integers(0, 4, 7).astype(float)
        ref = kendalltau(x, y).statistic
        ours = kendall_tau_b(x, y)
        assert (np.isnan(ref) and np.isnan(ours)) or ours == pytest.approx(ref)


def test_protocol_without_gt_pairs_the_two_tracks():
    assert protocol_without_gt(Protocol(gt="exact").key()) == protocol_without_gt(Protocol(gt="pseudo").key())
    assert protocol_without_gt(Protocol(seed=1).key()) != protocol_without_gt(Protocol(seed=0).key())


def test_same_order_gives_tau_one_and_the_offset_as_difference(tmp_path):
    base = np.linspace(0.01, 0.02, 6)
    for k, name in enumerate(("a", "b", "c")):
        exact = base + 0.01 * k
        _write(tmp_path, name, exact, exact + 0.002, kind="reference" if name == "c" else "method")
    report = agreement_report(tmp_path, ("chamfer_l1",), resamples=200)
    (table,) = report["tables"]
    assert table["rows"] == ["a", "b", "c (reference)"]
    (m,) = table["metrics"]
    assert m["tau"] == pytest.approx(1.0) and m["tau_ci95"] == [pytest.approx(1.0), pytest.approx(1.0)]
    assert m["flipped_pairs"] == [] and m["n_identities"] == 6
    for row in m["rows"]:
        d = row["difference"]
        assert d["mean"] == pytest.approx(0.002) and d["ci95_low"] == pytest.approx(0.002, abs=1e-12)
        assert row["exact_rank"] == row["pseudo_rank"]


def test_a_swapped_pair_is_reported_and_tau_is_one_third(tmp_path):
    ids = 5
    _write(tmp_path, "a", [0.01] * ids, [0.02] * ids)  # a best on exact, second on pseudo
    _write(tmp_path, "b", [0.015] * ids, [0.012] * ids)
    _write(tmp_path, "c", [0.03] * ids, [0.03] * ids)
    m = agreement_report(tmp_path, ("chamfer_l1",), resamples=100)["tables"][0]["metrics"][0]
    assert m["tau"] == pytest.approx(1 / 3)
    assert m["flipped_pairs"] == [["a", "b"]]
    ranks = {r["method"]: (r["exact_rank"], r["pseudo_rank"]) for r in m["rows"]}
    assert ranks == {"a": (1, 2), "b": (2, 1), "c": (3, 3)}


def test_a_method_on_one_track_only_is_left_out(tmp_path):
    _write(tmp_path, "a", [0.01] * 5, [0.011] * 5)
    _write(tmp_path, "b", [0.02] * 5, [0.021] * 5)
    atomic_write_json(tmp_path / "lonely.json", _result("lonely", [0.001] * 5, "exact"))
    table = agreement_report(tmp_path, ("chamfer_l1",), resamples=50)["tables"][0]
    assert table["rows"] == ["a", "b"]


def test_cli_prints_tau_writes_json_and_refuses_a_folder_without_pairs(tmp_path):
    _write(tmp_path, "a", [0.01, 0.02, 0.03, 0.02, 0.01], [0.012, 0.02, 0.03, 0.025, 0.01])
    _write(tmp_path, "b", [0.02, 0.03, 0.04, 0.03, 0.02], [0.022, 0.03, 0.05, 0.03, 0.03])
    out = tmp_path / "agreement.json"
    r = call_main(main, "geogen-bench", "agreement", "--results", tmp_path, "--metrics", "chamfer_l1", "--out", out)
    assert r.returncode == 0, r.stderr
    assert "chamfer_l1" in r.stdout and "+1.000" in r.stdout
    assert json.loads(out.read_text())["tables"][0]["metrics"][0]["tau"] == pytest.approx(1.0)
    empty = tmp_path / "empty"
    empty.mkdir()
    r = call_main(main, "geogen-bench", "agreement", "--results", empty)
    assert r.returncode == 2 and r.stderr.strip().startswith("error:") and "both tracks" in r.stderr
    r = call_main(main, "geogen-bench", "agreement", "--results", tmp_path, "--metrics", "nope")
    assert r.returncode == 2 and "unknown metric" in r.stderr
