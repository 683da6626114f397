"""The typed result document (benchmark.results.BenchResult): files written by earlier code keep
loading unchanged, older versions are migrated, unknown ones refused with one line."""

import json
from pathlib import Path

import pytest

from benchmark.protocol import Protocol
from benchmark.results import (RESULT_SCHEMA_VERSION, BenchResult, ResultError, as_result_dict, build_result,
                               check_result)

ROOT = Path(__file__).resolve().parents[1]
COMMITTED = sorted(p for p in (ROOT / "docs" / "results").rglob("*.json")
                   if json.loads(p.read_text()).get("schema") == "geogen-bench-result")


def test_committed_result_files_exist():
    assert len(COMMITTED) >= 8  # docs/results/screen: written by the code before BenchResult existed


@pytest.mark.parametrize("path", COMMITTED, ids=lambda p: p.name)
def test_committed_result_files_load_and_write_back_byte_identical(path):
    result = BenchResult.read(path)
    assert result.schema_version == RESULT_SCHEMA_VERSION and isinstance(result.track, dict)
    assert result.to_dict() == json.loads(path.read_text())
    assert result.to_json() == path.read_text()


def test_built_results_round_trip():
    rows = [{"id": "000001", "status": "ok", "reason": None, "metrics": {"chamfer_l1": 0.01}, "diagnostics": {},
             "info": {}}]
    doc = build_result({"name": "m", "source": "score", "details": {}}, {"name": "d", "n_test": 1}, Protocol(),
                       rows, {}, {"created_utc": "2026-01-01T00:00:00Z"})
    assert check_result(doc) is None and doc["schema_version"] == RESULT_SCHEMA_VERSION
    assert BenchResult.from_dict(doc).to_dict() == doc
    assert json.loads(BenchResult.from_dict(doc).to_json()) == doc


def test_a_version_1_file_is_migrated_but_keeps_its_version():
    from test_leaderboard_build import FROZEN_V1

    doc = json.loads(FROZEN_V1)
    result = BenchResult.from_dict(doc)
    assert result.schema_version == 1 and result.track is None and result.warnings == []
    assert result.method["name"] == "frozen-v1" and result.summary["chamfer_l1"]["mean"] == 0.1316
    assert result.to_dict() == {**doc, "warnings": []}  # no track invented for it


def test_unknown_versions_and_other_documents():
    doc = json.loads(json.dumps(BenchResult.read(COMMITTED[0]).to_dict()))
    doc["schema_version"] = RESULT_SCHEMA_VERSION + 1
    with pytest.raises(ResultError, match="schema version"):
        BenchResult.from_dict(doc)
    assert as_result_dict(doc) is doc  # the report keeps reading what it cannot type, as before
    assert as_result_dict({"rows": []}) == {"rows": []}
    with pytest.raises(ResultError, match="not valid JSON"):
        BenchResult.from_json('{"schema": ')
    extra = {**BenchResult.read(COMMITTED[0]).to_dict(), "added_later": 1}
    assert BenchResult.from_dict(extra).to_dict() == extra  # fields this version does not know are kept
