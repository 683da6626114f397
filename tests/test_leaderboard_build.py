"""Leaderboard: ranking by direction, protocol separation, spreadsheet safety, bad files."""

import csv
import io
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from geogen.cli.bench import app
from benchmark.metrics import METRICS
from benchmark.protocol import Protocol
from benchmark.results import build_result
from geogen.common.atomic import atomic_write_json
from leaderboard.build import load_board
from geogen.common.cells import safe_cell
from leaderboard.write import leaderboard_csv, leaderboard_markdown, leaderboard_png


def fake_result(method, chamfer, fscore, protocol=None, dataset="toy", failed=0, created="2026-01-01T00:00:00Z",
                n_test=None, track=None):
    protocol = protocol or Protocol()
    rows = []
    for k, (c, f) in enumerate(zip(chamfer, fscore)):
        m = {n: 0.5 for n in METRICS.names()}
        m.update({"chamfer_l1": c, "fscore@0.01": f})
        rows.append({"id": f"{k:06d}", "status": "ok", "reason": None, "metrics": m, "diagnostics": {}, "info": {}})
    rows += [{"id": f"9{k:05d}", "status": "failed", "reason": "x", "metrics": {}, "diagnostics": {}, "info": {}}
             for k in range(failed)]
    return build_result({"name": method, "source": "score", "details": {}},
                        {"name": dataset, "manifest_sha256": "ab" * 32, "n_test": n_test or len(rows)}, protocol,
                        rows, {}, {"created_utc": created}, track=track)


def write(dirpath: Path, name: str, doc) -> Path:
    p = dirpath / name
    atomic_write_json(p, doc)
    return p


def test_rank_follows_each_metric_direction(tmp_path):
    write(tmp_path, "a.json", fake_result("A", [0.10, 0.12], [0.9, 0.8]))
    write(tmp_path, "b.json", fake_result("B", [0.05, 0.07], [0.3, 0.4]))
    write(tmp_path, "c.json", fake_result("C", [0.05, 0.07], [0.5, 0.5]))
    board = load_board(tmp_path)
    r = {e.method: e.ranks for e in board.entries}
    assert r["B"]["chamfer_l1"] == 1 and r["C"]["chamfer_l1"] == 1 and r["A"]["chamfer_l1"] == 3  # ties share
    assert r["A"]["fscore@0.01"] == 1 and r["C"]["fscore@0.01"] == 2 and r["B"]["fscore@0.01"] == 3


def test_protocols_are_never_ranked_together(tmp_path):
    write(tmp_path, "a.json", fake_result("A", [0.1], [0.9]))
    write(tmp_path, "b.json", fake_result("B", [0.2], [0.1], protocol=Protocol(n_points=10_000)))
    write(tmp_path, "c.json", fake_result("C", [0.3], [0.1], protocol=Protocol(gt="pseudo")))
    board = load_board(tmp_path)
    assert len(board.groups()) == 3
    assert all(e.ranks["chamfer_l1"] == 1 for e in board.entries)


def test_older_protocol_version_is_skipped_with_a_reason(tmp_path):
    old = write(tmp_path, "old.json", fake_result("Old", [0.01], [1.0], protocol=Protocol(version="geogen-geom-0")))
    write(tmp_path, "new.json", fake_result("New", [0.2], [0.1]))
    board = load_board(tmp_path)
    assert [e.method for e in board.entries] == ["New"]
    assert board.skipped == [(old, board.skipped[0][1])] and "geogen-geom-0" in board.skipped[0][1]
    both = load_board(tmp_path, all_protocols=True)
    assert len(both.groups()) == 2 and all(e.ranks["chamfer_l1"] == 1 for e in both.entries)


def test_incomplete_results_are_listed_but_not_ranked(tmp_path):
    write(tmp_path, "a.json", fake_result("A", [0.1, 0.1], [0.5, 0.5]))
    write(tmp_path, "b.json", fake_result("B", [0.01], [0.9], failed=1))
    r = {e.method: e for e in load_board(tmp_path).entries}
    assert r["A"].ranks["chamfer_l1"] == 1 and r["B"].ranks["chamfer_l1"] is None and not r["B"].complete
    assert "incomplete: 1 of 2" in r["B"].unranked


def test_a_partial_split_is_listed_but_not_ranked(tmp_path):
    """A --limit run (fewer samples than the dataset's test identities) never outranks a full run."""
    write(tmp_path, "full.json", fake_result("Full", [0.1, 0.1, 0.1], [0.5, 0.5, 0.5]))
    write(tmp_path, "limit.json", fake_result("Limit", [0.01, 0.01], [0.9, 0.9], n_test=3))
    board = load_board(tmp_path)
    r = {e.method: e for e in board.entries}
    assert len(board.groups()) == 1
    assert r["Full"].ranks["chamfer_l1"] == 1 and r["Limit"].ranks["chamfer_l1"] is None
    assert r["Limit"].unranked == "partial split: 2 of 3 test identities"
    md = leaderboard_markdown(board)
    assert "2/2 of 3" in md and "no: partial split" in md


def test_tracks_are_never_ranked_together(tmp_path):
    """Same dataset and protocol, different inversion settings → separate groups, each ranked alone."""
    from benchmark.protocol import run_track

    pti = {"method": "pti", "loss": "mse", "steps_w": 40, "steps_g": 20, "tune_beta": False}
    write(tmp_path, "a.json", fake_result("A", [0.1], [0.5], track=run_track(1, 0, 128, pti)))
    write(tmp_path, "b.json", fake_result("B", [0.2], [0.4], track=run_track(1, 0, 128, {**pti, "steps_w": 450})))
    write(tmp_path, "c.json", fake_result("C", [0.3], [0.3], track=run_track(2, 0, 128, pti)))
    write(tmp_path, "d.json", fake_result("D", [0.4], [0.2], track=run_track(1, 0, 256, pti)))
    write(tmp_path, "e.json", fake_result("E", [0.5], [0.1]))  # score: meshes from the method
    board = load_board(tmp_path)
    assert len(board.groups()) == 5 and all(e.ranks["chamfer_l1"] == 1 for e in board.entries)
    keys = {e.method: e.track_key for e in board.entries}
    assert "views=1" in keys["A"] and "mesh_resolution=128" in keys["A"] and "inversion.steps_w=40" in keys["A"]
    assert "inversion.tuned=w+G" in keys["A"] and keys["E"] == "source=meshes"


def test_splits_are_never_ranked_together(tmp_path):
    val = fake_result("Val", [0.01], [0.9])
    val["dataset"]["split"] = "val"
    write(tmp_path, "val.json", val)
    write(tmp_path, "test.json", fake_result("Test", [0.2], [0.1]))
    board = load_board(tmp_path)
    assert len(board.groups()) == 2 and all(e.ranks["chamfer_l1"] == 1 for e in board.entries)
    assert {e.dataset for e in board.entries} == {"toy", "toy [val split]"}


def test_directions_come_from_the_metric_registry(tmp_path):
    """A file that declares a wrong direction (read first) does not flip the ranking."""
    bad = fake_result("A", [0.1], [0.9])
    bad["metrics"]["chamfer_l1"]["higher_is_better"] = True
    write(tmp_path, "a.json", bad)
    write(tmp_path, "b.json", fake_result("B", [0.2], [0.1]))
    board = load_board(tmp_path)
    assert board.directions["chamfer_l1"] is False
    r = {e.method: e.ranks for e in board.entries}
    assert r["A"]["chamfer_l1"] == 1 and r["B"]["chamfer_l1"] == 2


def test_intervals_need_five_samples_and_stay_in_range(tmp_path):
    write(tmp_path, "few.json", fake_result("Few", [0.01, 0.5], [0.0, 1.0]))
    write(tmp_path, "many.json", fake_result("Many", [0.01, 0.5, 0.02, 0.03, 0.01, 0.6],
                                             [0.0, 1.0, 0.0, 1.0, 1.0, 0.0]))
    board = load_board(tmp_path)
    r = {e.method: e for e in board.entries}
    assert r["Few"].ci["chamfer_l1"] is None  # a t-interval would be 0.26 ± 3.0
    lo, hi = r["Many"].ci["chamfer_l1"]
    assert 0.01 <= lo < r["Many"].means["chamfer_l1"] < hi <= 0.6
    flo, fhi = r["Many"].ci["fscore@0.01"]
    assert 0.0 <= flo and fhi <= 1.0
    md = leaderboard_markdown(board)
    assert "0.255 (n too small)" in md and "±" not in md


def test_old_intervals_below_zero_are_clipped_and_no_whisker_crosses_zero(tmp_path):
    from leaderboard.write import bars

    doc = fake_result("Old", [0.01] * 6, [0.5] * 6)
    doc["summary"]["chamfer_l1"].update(mean=0.1, ci95_low=-0.62, ci95_high=0.82, n=6)  # a t-interval of old
    doc["summary"]["fscore@0.01"].update(mean=0.5, ci95_low=-0.9, ci95_high=1.9, n=6)
    write(tmp_path, "old.json", doc)
    board = load_board(tmp_path)
    e = board.entries[0]
    assert e.ci["chamfer_l1"] == (0.0, 0.82) and e.ci["fscore@0.01"] == (0.0, 1.0)
    vals, (below, above) = bars(board.entries, "chamfer_l1")
    assert vals[0] - below[0] == pytest.approx(0.0) and vals[0] + above[0] == pytest.approx(0.82)
    assert board.ranges["chamfer_l1"] == (0.0, None) and board.ranges["fscore@0.01"] == (0.0, 1.0)


def test_malformed_files_are_skipped_not_fatal(tmp_path):
    write(tmp_path, "good.json", fake_result("A", [0.1], [0.5]))
    (tmp_path / "trunc.json").write_text(json.dumps(fake_result("T", [0.1], [0.5]))[:200])
    (tmp_path / "other.json").write_text('{"hello": 1}')
    (tmp_path / "list.json").write_text("[1, 2]")
    bad = fake_result("M", [0.1], [0.5])
    bad["summary"]["chamfer_l1"]["mean"] = "=1+1"
    write(tmp_path, "badmean.json", bad)
    nomethod = fake_result("N", [0.1], [0.5])
    del nomethod["method"]["name"]
    write(tmp_path, "nomethod.json", nomethod)
    oldschema = fake_result("S", [0.1], [0.5])
    oldschema["schema_version"] = 0
    write(tmp_path, "oldschema.json", oldschema)
    board = load_board(tmp_path)
    assert [e.method for e in board.entries] == ["A"]
    reasons = {p.name: r for p, r in board.skipped}
    assert set(reasons) == {"trunc.json", "other.json", "list.json", "badmean.json", "nomethod.json", "oldschema.json"}
    assert "not valid JSON" in reasons["trunc.json"] and "schema version" in reasons["oldschema.json"]
    assert all("\n" not in r for r in reasons.values())


def test_duplicate_rows_keep_the_newest(tmp_path):
    write(tmp_path, "a1.json", fake_result("A", [0.1], [0.5], created="2026-01-01T00:00:00Z"))
    write(tmp_path, "a2.json", fake_result("A", [0.2], [0.5], created="2026-02-01T00:00:00Z"))
    board = load_board(tmp_path)
    assert len(board.entries) == 1 and board.entries[0].means["chamfer_l1"] == pytest.approx(0.2)
    assert "superseded" in board.skipped[0][1]


@pytest.mark.parametrize("text", ["=HYPERLINK(\"x\")", "+1", "-2+3", "@SUM(A1)", "\tx", "\rx"])
def test_formula_like_cells_are_escaped(text):
    assert safe_cell(text) == "'" + text


def test_plain_values_are_not_escaped():
    assert safe_cell("geogen") == "geogen" and safe_cell(-0.5) == "-0.5" and safe_cell(3) == "3"
    assert safe_cell(None) == "" and safe_cell(True) == "true"


def test_csv_and_markdown_are_injection_safe(tmp_path):
    write(tmp_path, "a.json", fake_result("=cmd|' /C calc'!A0", [0.1, 0.2], [0.5, 0.6], dataset="+evil"))
    write(tmp_path, "b.json", fake_result("plain", [0.3, 0.2], [0.5, 0.6], dataset="+evil"))
    board = load_board(tmp_path)
    rows = list(csv.reader(io.StringIO(leaderboard_csv(board))))
    header = rows[0]
    assert "chamfer_l1 ↓" in header and "fscore@0.01 ↑" in header and "chamfer_l1 rank" in header
    assert "chamfer_l1 ci95_low" in header and "unranked_reason" in header and "track" in header
    for row in rows[1:]:
        for cell in row:
            assert not cell.startswith(("=", "+", "@", "\t", "\r")) and not (cell.startswith("-") and not _num(cell))
    md = leaderboard_markdown(board)
    assert "'=cmd\\|" in md and "protocol `geogen-geom-1" in md and "track `source=meshes`" in md
    assert leaderboard_png(board, tmp_path / "lb.png") == [tmp_path / "lb.png"]
    assert (tmp_path / "lb.png").read_bytes()[:4] == b"\x89PNG"


def test_png_is_one_chart_per_protocol_group(tmp_path):
    write(tmp_path, "a.json", fake_result("A", [0.1], [0.9]))
    write(tmp_path, "b.json", fake_result("B", [0.2], [0.1], protocol=Protocol(n_points=10_000)))
    written = leaderboard_png(load_board(tmp_path), tmp_path / "out" / "lb.png")
    assert [p.name for p in written] == ["lb-g1.png", "lb-g2.png"] and all(p.is_file() for p in written)


def _num(cell):
    try:
        float(cell)
        return True
    except ValueError:
        return False


def test_cli_leaderboard_end_to_end(tmp_path):
    res = tmp_path / "results"
    write(res, "a.json", fake_result("A", [0.1], [0.5]))
    (res / "broken.json").write_text("{")
    out = CliRunner().invoke(app, ["leaderboard", "--results", str(res), "--csv", str(tmp_path / "lb.csv"),
                                   "--md", str(tmp_path / "lb.md")])
    assert out.exit_code == 0, out.output
    assert "skipped" in out.output and "broken.json" in out.output
    assert (tmp_path / "lb.csv").read_text().startswith("method,")


def test_cli_leaderboard_without_results_is_a_one_line_error(tmp_path):
    (tmp_path / "r").mkdir()
    out = CliRunner().invoke(app, ["leaderboard", "--results", str(tmp_path / "r"), "--csv", str(tmp_path / "x.csv")])
    assert out.exit_code != 0 and "no usable result" in str(out.exception)


# A result file of schema 1 / protocol geogen-geom-1 as written on 2026-11-25 (trimmed to one
# metric and one sample). Files already published must keep loading: do not edit, add new ones.
FROZEN_V1 = """{"schema": "geogen-bench-result", "schema_version": 1,
 "method": {"name": "frozen-v1", "source": "score", "details": {"meshes": "/x"}},
 "dataset": {"name": "ds_tiny:tiny:seed0", "path": "/x", "manifest_sha256": "b029542bd75f", "split": "test", "n_test": 1},
 "protocol": {"version": "geogen-geom-1", "gt": "exact", "normalisation": "gt-bbox", "crop_margin": 0.05,
              "n_points": 100000, "emd_points": 2048, "seed": 0,
              "key": "geogen-geom-1|gt=exact|N=100000|M=2048|margin=0.05|seed=0"},
 "metrics": {"chamfer_l1": {"higher_is_better": false, "formula": "..."}},
 "summary": {"chamfer_l1": {"mean": 0.1316, "std": null, "ci95_low": null, "ci95_high": null, "n": 1}},
 "ci_method": "student-t 95% two-sided over samples with status ok", "image_metrics": {},
 "n_samples": 1, "n_ok": 1, "n_failed": 0,
 "samples": [{"id": "000006", "status": "ok", "reason": null, "metrics": {"chamfer_l1": 0.1316},
              "diagnostics": {}, "info": {}}],
 "provenance": {"created_utc": "2026-11-25T18:40:00Z", "git_commit": null}}"""


def test_frozen_schema_1_result_still_loads_but_is_not_ranked(tmp_path):
    """Schema 1 resumed per-sample records without checking the dataset, so its numbers may come
    from another dataset: listed (with its numbers) but never ranked."""
    (tmp_path / "frozen.json").write_text(FROZEN_V1)
    write(tmp_path, "new.json", fake_result("new", [0.2], [0.1]))
    board = load_board(tmp_path)
    assert not board.skipped and sorted(e.method for e in board.entries) == ["frozen-v1", "new"]
    old = next(e for e in board.entries if e.method == "frozen-v1")
    assert old.means["chamfer_l1"] == pytest.approx(0.1316) and old.ranks["chamfer_l1"] is None
    assert "schema 1" in old.unranked and len(board.groups()) == 2


# A result file of schema 2 as written on 2026-12-02 (trimmed to two metrics and 5 samples).
# Files already published must keep loading: do not edit, add new ones.
FROZEN_V2 = """{"schema": "geogen-bench-result", "schema_version": 2,
 "method": {"name": "frozen-v2", "source": "run", "details": {}},
 "dataset": {"name": "toy", "path": "/x", "manifest_sha256": "3c59d87fe06f", "split": "test", "n_test": 5},
 "protocol": {"version": "geogen-geom-1", "gt": "exact", "normalisation": "gt-bbox", "crop_margin": 0.05,
              "n_points": 20000, "emd_points": 512, "seed": 0,
              "key": "geogen-geom-1|gt=exact|N=20000|M=512|margin=0.05|seed=0"},
 "track": {"source": "run", "views": 1, "view_seed": 0, "mesh_resolution": 128, "inversion": "none",
           "key": "inversion=none|mesh_resolution=128|source=run|view_seed=0|views=1"},
 "metrics": {"chamfer_l1": {"higher_is_better": false, "formula": "...", "range": [0.0, null]},
             "fscore@0.01": {"higher_is_better": true, "formula": "...", "range": [0.0, 1.0]}},
 "summary": {"chamfer_l1": {"mean": 0.0164, "std": 0.004, "ci95_low": 0.0114, "ci95_high": 0.0199, "n": 5,
                            "interval": "bootstrap-percentile"},
             "fscore@0.01": {"mean": 0.44, "std": 0.2, "ci95_low": 0.287, "ci95_high": 0.669, "n": 5,
                             "interval": "bootstrap-percentile"}},
 "ci_method": "...", "image_metrics": {}, "warnings": [],
 "n_samples": 5, "n_ok": 5, "n_failed": 0, "samples": [],
 "provenance": {"created_utc": "2026-12-02T00:30:00Z", "git_commit": null}}"""


def test_frozen_schema_2_result_loads_and_ranks(tmp_path):
    (tmp_path / "frozen.json").write_text(FROZEN_V2)
    board = load_board(tmp_path)
    assert not board.skipped and [e.method for e in board.entries] == ["frozen-v2"]
    e = board.entries[0]
    assert e.complete and e.ranks == {"chamfer_l1": 1, "fscore@0.01": 1}
    assert e.ci["chamfer_l1"] == (0.0114, 0.0199) and e.track_key.startswith("inversion=none")
