"""perf/gpu_check.py: --help, the CPU smoke run (--device cpu --quick) and the GPU-days arithmetic."""

import importlib.util
import json
from pathlib import Path

import pytest
import torch

SCRIPT = Path(__file__).resolve().parents[1] / "perf" / "gpu_check.py"


@pytest.fixture(scope="module")
def gpu_check():
    spec = importlib.util.spec_from_file_location("gpu_check", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_help(gpu_check, capsys):
    with pytest.raises(SystemExit) as exc:
        gpu_check.main(["--help"])
    assert exc.value.code == 0
    text = capsys.readouterr().out
    assert "--device" in text and "--quick" in text and "GPU-days" in text


@pytest.mark.slow
def test_cpu_quick_run_writes_json_and_table(gpu_check, tmp_path):
    threads = torch.get_num_threads()
    try:
        doc = gpu_check.main(["--device", "cpu", "--quick", "--out", str(tmp_path / "g.json")])
    finally:
        torch.set_num_threads(threads)
    assert json.loads((tmp_path / "g.json").read_text()) == json.loads(json.dumps(doc))
    assert doc["agreement"]["image_max_abs_diff"] == 0 and doc["agreement"]["same_device"]
    rows = doc["training"]
    assert [r["variant"] for r in rows] == ["geogen", "geogen-nodepth", "eg3d"]
    assert all(r["img_per_s"] > 0 and r["peak_gb"] > 0 and r["batch"] == 2 for r in rows)
    assert doc["pti_mesh"]["pti_s_per_identity"] > 0 and doc["pti_mesh"]["mesh_faces"] > 0
    table = (tmp_path / "g.md").read_text()
    assert "not a measurement" in table and "| tiny | eg3d | 2 |" in table
    assert "total_gpu_days" not in doc["extrapolation"]  # the quick run has no paper numbers to extrapolate


def test_gpu_days_of_the_paper_experiment(gpu_check):
    rows = [{"preset": "paper", "variant": v, "img_per_s": 100.0} for v in gpu_check.VARIANTS]
    e = gpu_check.extrapolate(rows, {"model_preset": "paper", "pti_s_per_identity": 60.0, "mesh_s": 4.0})
    assert e["train_gpu_days"] == pytest.approx(3 * 25_000_000 / 100 / 86400)
    assert e["benchmark_gpu_days"] == pytest.approx(3 * 5 * 198 * 64 / 86400)
    assert e["total_gpu_days"] == pytest.approx(e["train_gpu_days"] + e["benchmark_gpu_days"])
    assert "train_gpu_days" not in gpu_check.extrapolate(rows[:2], None)


def test_a_failing_part_is_recorded_and_the_table_still_written(gpu_check, capsys):
    def broken():
        raise RuntimeError("CUDA error: an illegal memory access\nwas encountered")

    assert gpu_check.attempt(broken) == {"error": "RuntimeError: CUDA error: an illegal memory access was encountered"}
    doc = {"device_name": "x", "torch": "t", "seconds": 1.0, "quick": False, "agreement": {"error": "E1"},
           "training": [{"preset": "paper", "variant": "eg3d", "error": "E2"}], "pti_mesh": {"error": "E3"},
           "extrapolation": gpu_check.extrapolate([], {"error": "E3"})}
    table = gpu_check.markdown(doc)
    assert "agreement: failed (E1)" in table and "| paper | eg3d | – | E2 |" in table and "failed (E3)" in table
