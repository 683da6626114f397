"""scripts.report (statistics over identities × seeds, tables, the generated page) and
scripts.reproduce (step planning of the multi-seed study), on hand-made result files."""

import json
from pathlib import Path

import numpy as np
import pytest

from geogen.common.atomic import atomic_write_json
from scripts import report
from scripts.reproduce import EXPERIMENTS, ExperimentConfig, Study

METRICS = ("chamfer_l1", "fscore@0.01", "normal_consistency")


def fake_result(values: dict[str, float | None], method="m") -> dict:
    """A benchmark result with the fields the report reads; F and NC derived from Chamfer."""
    samples = [{"id": i, "status": "ok" if v is not None else "failed", "reason": None if v is not None else "x",
                "metrics": {"chamfer_l1": v, "fscore@0.01": 1 - 10 * v, "normal_consistency": 1 - v}
                if v is not None else {}, "info": {}} for i, v in values.items()]
    ok = [v for v in values.values() if v is not None]
    summary = {k: {"mean": float(np.mean([s["metrics"][k] for s in samples if s["status"] == "ok"]))} for k in METRICS}
    return {"samples": samples, "n_ok": len(ok), "n_samples": len(values), "summary": summary,
            "method": {"name": method, "details": {"inversion": {"steps_w": 40, "steps_g": 20, "loss": "mse"},
                                                   "mesh_resolution": 128}},
            "dataset": {"name": "toy", "n_test": len(values)}, "protocol": {"key": "geogen-geom-1|toy"}}


def naive_two_way(x, resamples, seed):
    rng = np.random.default_rng(seed)
    n_seeds, n_ids = x.shape
    ids = rng.integers(0, n_ids, size=(resamples, n_ids))
    seeds = rng.integers(0, n_seeds, size=(resamples, n_seeds))
    boot = [np.mean([np.mean([x[s, i] for i in ids[b]]) for s in seeds[b]]) for b in range(resamples)]
    return np.percentile(boot, [2.5, 97.5])


def test_two_way_bootstrap_matches_a_naive_loop_and_one_seed_is_the_identity_bootstrap():
    x = np.random.default_rng(3).normal(size=(3, 8))
    mean, lo, hi = report.two_way_bootstrap(x, resamples=400, seed=1)
    assert mean == pytest.approx(x.mean())
    assert (lo, hi) == pytest.approx(tuple(naive_two_way(x, 400, 1)))
    one = x[:1]
    rng = np.random.default_rng(1)
    ids = rng.integers(0, 8, size=(400, 8))
    expected = np.percentile(one[0][ids].mean(axis=1), [2.5, 97.5])
    assert report.two_way_bootstrap(one, resamples=400, seed=1)[1:] == pytest.approx(tuple(expected))
    # seeds that disagree widen the interval beyond the identities-only one
    spread = x + np.array([[-1.0], [0.0], [1.0]])
    assert np.ptp(report.two_way_bootstrap(spread, 400, 1)[1:]) > np.ptp(report.two_way_bootstrap(x, 400, 1)[1:])


def test_paired_rows_pair_by_seed_and_identity_and_drop_failed_identities():
    a = [(0, fake_result({"1": 0.1, "2": 0.2, "3": None})), (1, fake_result({"1": 0.3, "2": 0.1, "3": 0.2}))]
    b = [(0, fake_result({"1": 0.2, "2": 0.2, "3": 0.5})), (1, fake_result({"1": 0.1, "2": 0.3, "3": 0.1}))]
    d, n_seeds = report.paired_rows({"geogen": a, "eg3d": b}, "geogen", "eg3d", "chamfer_l1")
    assert n_seeds == 2 and d == pytest.approx(np.array([[-0.1, 0.0], [0.2, -0.2]]))


def study_dir(tmp_path: Path, geogen_chamfer: float = 0.02) -> Path:
    """A results folder as `scripts.report --experiment` collects it: 3 seeds, 6 test ids."""
    res = tmp_path / "study"
    ids = [f"{i:06d}" for i in range(6)]
    rng = np.random.default_rng(0)
    base = {"geogen": geogen_chamfer, "nodepth": 0.03, "eg3d": 0.012}
    for s in range(3):
        for run, c in base.items():
            atomic_write_json(res / "test" / f"s{s}-{run}.json",
                              fake_result({i: c + 0.001 * s + 0.0005 * rng.random() for i in ids}))
    atomic_write_json(res / "test-views3/s0-geogen.json", fake_result({i: 0.011 for i in ids}))
    atomic_write_json(res / "test/references/template-mean.json", fake_result({i: 0.015 for i in ids}))
    atomic_write_json(res / "test/references/oracle-nearest-train.json", fake_result({i: 0.005 for i in ids}))
    for run, c in {"geogen": 0.04, "surface": 0.05, "nodepth": 0.045, "eg3d": 0.03}.items():
        atomic_write_json(res / "val" / f"s0-{run}.json", fake_result({i: c for i in ids}))
    atomic_write_json(res / "val/budget/s0-geogen-4kimg.json", fake_result({i: 0.08 for i in ids}))
    atomic_write_json(res / "val/budget/s0-geogen-8kimg.json", fake_result({i: 0.06 for i in ids}))
    atomic_write_json(res / "val/references/template-mean.json", fake_result({i: 0.01 for i in ids}))
    atomic_write_json(res / "diagnostics/s0-geogen.json", {"beta_ema_end": 0.04, "grad_norm_median": 2.0})
    atomic_write_json(res / "study.json", {
        "config": {"seeds": [0, 1, 2], "kimg": 15.0, "switch_kimg": 8.0, "train_preset": "tiny", "pti_preset": "tiny"},
        "runs": {"geogen": "geogen", "nodepth": "geogen-nodepth", "eg3d": "eg3d"},
        "choice": {"setting": "base", "run": "geogen", "sets": [], "rule": "lowest validation Chamfer",
                   "val_chamfer": {"base": 0.04, "depth_grad=surface": 0.05}},
        "screened": ["geogen", "surface", "nodepth", "eg3d"]})
    return res


def test_the_generated_page_pools_seeds_and_states_the_verdict(tmp_path):
    res = study_dir(tmp_path)
    page = report.write_report(res, tmp_path / "docs", "tiny").read_text()
    tests = report.test_results(res, json.loads((res / "study.json").read_text()))
    m, _ = report.seed_matrix([d for _, d in tests["geogen"]], "chamfer_l1")
    assert m.shape == (3, 6)
    pooled = [line for line in page.splitlines() if line.startswith("| **GeoGen, pooled**")][0]
    assert f"| {m.mean():.4g} [" in pooled
    spread = [line for line in page.splitlines() if line.startswith("| GeoGen, seed spread")][0]
    assert f"| {np.std(m.mean(axis=1), ddof=1):.2g} |" in spread
    assert "GeoGen (Chamfer" in page and "has recovered no identity-specific geometry." in page
    assert "EG3D is below template-mean" in page
    assert "| *oracle-nearest-train* (reference) |" in page
    assert "## Validation screen" in page and "| surface | 0.05 |" in page
    assert "geogen: Chamfer ∝ kimg^" in page and (tmp_path / "docs/results/budget-curve.png").is_file()
    assert "| GeoGen | 6/6 | 0.011 [0.011, 0.011] |" in page.split("Multi-view track")[1]
    assert "None" not in page and "nan" not in page


def test_collect_copies_results_and_reduces_curves(tmp_path):
    exp = tmp_path / "exp"
    atomic_write_json(exp / "results/test/s0-geogen.json", fake_result({"1": 0.1}))
    atomic_write_json(exp / "study.json", {"x": 1})
    run = exp / "runs/s0/geogen"
    run.mkdir(parents=True)
    rows = [{"nimg": 8 * k, "schedule/beta": 0.05, "G/gan": 1.0} for k in range(10)] + [{"nimg": 72, "G/gan": 2.0}]
    (run / "stats.jsonl").write_text("\n".join(json.dumps(r) for r in rows))
    report.collect(exp, tmp_path / "out")
    curves = json.loads((tmp_path / "out/curves/s0-geogen.json").read_text())
    assert curves["nimg"] == [0, 32, 64] and curves["G/gan"] == [1.0, 1.0, 1.0]
    assert (tmp_path / "out/test/s0-geogen.json").is_file()
    with pytest.raises(SystemExit, match="study.json"):
        report.collect(tmp_path / "nothing", tmp_path / "out2")


def test_study_steps_branch_at_the_switch_and_resume(tmp_path):
    cfg = EXPERIMENTS["tiny"]
    st = Study(cfg, tmp_path, tmp_path / "data", threads=1)
    name, argv, _ = st.train(0, "nodepth", cfg.kimg, branch=True)
    assert argv[argv.index("--branch-from") + 1] == str(tmp_path / "runs/s0/geogen/snapshot-00008.000.pt")
    assert argv[argv.index("--variant") + 1] == "geogen-nodepth" and "--seed" not in argv
    _, argv, _ = st.train(1, "geogen", cfg.switch_kimg)
    assert argv[argv.index("--seed") + 1] == "1" and argv[argv.index("--kimg") + 1] == "8"
    run = tmp_path / "runs/s1/geogen"
    run.mkdir(parents=True)
    (run / "latest").write_text("snapshot-00008.000.pt")
    (run / "geogen.pkl").write_bytes(b"x")
    assert st.train(1, "geogen", cfg.switch_kimg) is None            # done: skipped
    _, argv, _ = st.train(1, "geogen", cfg.kimg)
    assert "--resume" in argv and "--seed" not in argv
    assert st.milestone_kimgs("geogen") == [4.0, 8.0, 12.0]
    assert st.milestone_kimgs("nodepth") == [12.0]                     # its snapshot at N is the trunk's


def test_the_choice_is_the_lowest_validation_chamfer_and_is_kept(tmp_path):
    st = Study(EXPERIMENTS["tiny"], tmp_path, tmp_path / "data", threads=1)
    atomic_write_json(st.result("val", 0, "geogen"), fake_result({"1": 0.05}))
    atomic_write_json(st.result("val", 0, "surface"), fake_result({"1": 0.04}))
    atomic_write_json(st.result("val", 0, "betalr"), fake_result({"1": 0.06}))
    choice = st.choose()
    assert choice["setting"] == "depth_grad=surface" and choice["run"] == "surface"
    # a depth-loss setting leaves the ablation alone; eg3d never takes a setting
    assert st.final_runs() == {"geogen": ("surface", ["model.depth_loss_grad=surface"], True),
                               "geogen-nodepth": ("nodepth", [], True), "eg3d": ("eg3d", [], False)}
    atomic_write_json(st.result("val", 0, "geogen"), fake_result({"1": 0.01}))
    assert st.choose()["setting"] == "depth_grad=surface"            # decided once, then read back


def test_a_chosen_beta_setting_also_trains_the_ablation(tmp_path):
    st = Study(EXPERIMENTS["tiny"], tmp_path, tmp_path / "data", threads=1)
    for run, c in (("geogen", 0.05), ("surface", 0.06), ("betalr", 0.04)):
        atomic_write_json(st.result("val", 0, run), fake_result({"1": c}))
    runs = st.final_runs()
    assert runs["geogen"] == ("betalr", ["loss.beta_lr=0.01"], True)
    assert runs["geogen-nodepth"] == ("nodepth-betalr", ["loss.beta_lr=0.01"], True)
    _, argv, _ = st.train(1, "nodepth-betalr", 15.0, runs["geogen-nodepth"][1], branch=True)
    assert argv[argv.index("--variant") + 1] == "geogen-nodepth" and "loss.beta_lr=0.01" in argv


def test_missing_lists_what_an_unfinished_study_lacks(tmp_path):
    st = Study(EXPERIMENTS["tiny"], tmp_path, tmp_path / "data", threads=1)
    names = {"geogen": "geogen", "nodepth": "geogen-nodepth", "eg3d": "eg3d"}
    run = tmp_path / "runs/s1/eg3d"
    run.mkdir(parents=True)
    (run / "latest").write_text("snapshot-00004.000.pt")
    atomic_write_json(st.result("test", 2, "nodepth"), fake_result({"1": 0.1}))
    missing = st.missing(names, ["geogen", "nodepth", "eg3d"])
    assert "training s1/eg3d (at 4 of 15 kimg)" in missing and "test score s2/geogen" in missing
    assert "test score s2/nodepth" not in missing and "budget point s0/geogen-nodepth at 12 kimg" in missing
    page_res = study_dir(tmp_path / "page")
    study = json.loads((page_res / "study.json").read_text())
    atomic_write_json(page_res / "study.json", {**study, "missing": ["training s2/eg3d (at 3 of 15 kimg)"]})
    page = report.write_report(page_res, tmp_path / "docs", "tiny").read_text()
    assert "**Unfinished study**" in page and "training s2/eg3d (at 3 of 15 kimg)" in page


def test_experiment_presets_are_consistent():
    for cfg in EXPERIMENTS.values():
        assert cfg.kimg > 0 and cfg.jobs >= 1 and cfg.pti_preset in ("tiny", "small", "paper") and cfg.seeds[0] == 0
    with pytest.raises(SystemExit, match="switch point"):
        ExperimentConfig("tiny", 4, "tiny", kimg=8.0, switch_kimg=8.0, milestone_kimg=4.0, pti_preset="tiny", jobs=1)


def test_the_plan_starts_independent_work_first_and_holds_dependent_steps(tmp_path):
    from scripts.reproduce import plan

    st = Study(EXPERIMENTS["tiny"], tmp_path, tmp_path / "data", threads=1)
    steps = plan(st)
    ready = [s.name for s in steps if s.ready()]
    assert ready[:3] == [f"train s{s}/geogen to 8 kimg" for s in (0, 1, 2)]
    assert "train s0/eg3d to 15 kimg" in ready and "reference rows (val)" in ready
    assert not any(n.startswith(("benchmark", "train s0/nodepth", "train s1/<chosen")) for n in ready)
    # once seed 0's trunk is at N, its branches become ready and start from that snapshot
    run = tmp_path / "runs/s0/geogen"
    run.mkdir(parents=True)
    for f in ("snapshot-00008.000.pt", "geogen.pkl"):
        (run / f).write_bytes(b"x")
    (run / "latest").write_text("snapshot-00008.000.pt")
    branch = next(s for s in steps if s.name == "train s0/nodepth to 15 kimg")
    assert branch.ready() and "--branch-from" in branch.argv()
    assert next(s for s in steps if s.name == "train s0/geogen to 8 kimg").argv() is None     # done: skipped
    assert not next(s for s in steps if s.name == "train s0/geogen to 15 kimg").ready()     # branches first


def test_run_when_ready_orders_by_dependency_and_reports_a_deadlock(tmp_path, capsys):
    import sys

    from scripts.pipeline import Step, run_when_ready

    a, b = tmp_path / "a", tmp_path / "b"
    write = lambda p: [sys.executable, "-c", f"open({str(p)!r}, 'w').write('x')"]  # noqa: E731
    # b is listed first but waits for a; a third step's argv returns None: nothing to do
    run_when_ready([Step("b", write(b), tmp_path / "b.log", lambda: a.exists()),
                    Step("a", write(a), tmp_path / "a.log"),
                    Step("c", lambda: None, tmp_path / "c.log")], jobs=2, poll_s=0.05)
    assert a.exists() and b.exists() and not (tmp_path / "c.log").exists()
    with pytest.raises(SystemExit):
        run_when_ready([Step("never", write(b), tmp_path / "n.log", lambda: False)], jobs=1, poll_s=0.05)
