"""scripts.report tables and scripts.reproduce step planning, on hand-made result files."""

import json
from pathlib import Path

import numpy as np
import pytest

from scripts import report
from scripts.reproduce import EXPERIMENTS, bench_steps, milestone_models


def fake_result(values: dict[str, float | None], key="chamfer_l1") -> dict:
    samples = [{"id": i, "status": "ok" if v is not None else "failed", "reason": None if v is not None else "x",
                "metrics": {key: v} if v is not None else {}, "info": {}} for i, v in values.items()]
    return {"samples": samples, "n_ok": sum(v is not None for v in values.values()), "n_samples": len(values)}


def test_paired_differences_need_five_pairs_for_an_interval():
    """benchmark.stats: no interval below 5 values (a t-interval from 3 would be wider than the data)."""
    a = {"1": 0.10, "2": 0.12, "3": 0.20, "4": None}
    b = {"1": 0.15, "2": 0.11, "3": 0.30, "4": 0.4}
    results = {"geogen": fake_result(a), "eg3d": fake_result(b)}
    row = [line for line in report.paired_table(results) if line.startswith("| GeoGen − EG3D")][0]
    d = np.array([-0.05, 0.01, -0.10])  # identity 4 failed for A: not paired
    assert f"| {d.mean():+.3g} (A lower 2/3) |" in row
    assert "| 3 |" in row


def test_metric_table_and_ordering_skip_failed_samples():
    results = {"geogen": fake_result({"1": 0.1, "2": None}), "eg3d": fake_result({"1": 0.3, "2": 0.5})}
    lines = report.metric_table(results, [("chamfer_l1", "Chamfer")])
    assert lines[2].startswith("| GeoGen | 1/2 | 0.1 |")
    assert lines[3].startswith("| EG3D | 2/2 | 0.4 |")  # n < 5: no interval
    assert report.ordering(results) == "GeoGen (0.1) < EG3D (0.4)"


def test_budget_table_reads_milestone_files(tmp_path):
    (tmp_path / "budget").mkdir()
    (tmp_path / "budget" / "geogen-nodepth-15kimg.json").write_text(json.dumps(fake_result({"1": 0.2, "2": 0.4})))
    final = {"geogen-nodepth": fake_result({"1": 0.1, "2": 0.3})}
    lines = report.budget_table(tmp_path, final, 30.0)
    assert lines[2].startswith("| 15 | – | – | 0.3 (2/2) |") and lines[3].startswith("| 30 | – | – | 0.2 (2/2) |")


def test_reproduce_benchmarks_milestones_apart_from_the_leaderboard(tmp_path):
    cfg = EXPERIMENTS["tiny"]
    for v in ("geogen", "geogen-nodepth", "eg3d"):
        (tmp_path / "runs" / v).mkdir(parents=True)
        (tmp_path / "runs" / v / "snapshot-00015.000.pt").write_bytes(b"x")
    assert list(milestone_models(cfg, tmp_path / "runs", "eg3d")) == [15.0, 30.0]
    steps = bench_steps(cfg, tmp_path, threads=1, device="cpu")
    outs = [Path(argv[argv.index("--out") + 1]) for _, argv, _ in steps]
    assert tmp_path / "results" / "eg3d.json" in outs and tmp_path / "budget" / "eg3d-15kimg.json" in outs
    assert len(outs) == 6 and all(argv[argv.index("--preset") + 1] == "small" for _, argv, _ in steps)
    (tmp_path / "results").mkdir()
    (tmp_path / "results" / "eg3d.json").write_text("{}")  # finished steps are skipped on re-runs
    assert len(bench_steps(cfg, tmp_path, threads=1, device="cpu")) == 5


@pytest.mark.parametrize("name", sorted(EXPERIMENTS))
def test_experiment_presets_are_consistent(name):
    cfg = EXPERIMENTS[name]
    assert cfg.kimg > 0 and cfg.jobs >= 1 and cfg.pti_preset in ("tiny", "small", "paper")
    assert cfg.switch_kimg is None or cfg.switch_kimg < cfg.kimg
