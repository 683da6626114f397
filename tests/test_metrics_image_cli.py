"""`geogen-bench images` end to end: an untrained tiny Generator against a toy dataset."""

import math

import pytest
import torch
from typer.testing import CliRunner

from geogen.cli.bench import app
from dataset.format import Dataset
from benchmark.inception import random_inception_weights
from benchmark.toydata import write_toy_dataset
from geogen.common.atomic import atomic_write_json, read_json
from cli_helpers import call_main


@pytest.fixture(scope="module")
def toy(tmp_path_factory):
    """Toy dataset (2 training identities × 4 views) plus the EG3D dataset.json of its training split."""
    root = write_toy_dataset(tmp_path_factory.mktemp("toy") / "D", n_train=2, n_test=1, n_views=4)
    ds = Dataset(root)
    labels = [[f"images/{sid}/{v.index:03d}.png", v.camera.label()]
              for sid in read_json(root / "manifest.json")["split"]["train"] for v in ds.views(sid)]
    atomic_write_json(root / "dataset.json", {"labels": labels})
    return root


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    from geogen.model.config import model_config
    from geogen.model.generator import Generator
    from geogen.model.io import save_file

    torch.manual_seed(0)
    cfg = model_config("tiny", "geogen")
    return save_file(tmp_path_factory.mktemp("model") / "tiny.pkl",
                     {"model_config": cfg.to_dict(), "G_ema": Generator(cfg).state_dict(), "meta": {}}, kind="model")


@pytest.fixture(scope="module")
def weights(tmp_path_factory):
    return random_inception_weights(tmp_path_factory.mktemp("w") / "random.pth", seed=2)


def images(*args):
    return CliRunner().invoke(app, ["images", *map(str, args), "--device", "cpu", "--no-progress"])


def test_nonstandard_weights_give_renamed_fid_kid_and_id(toy, model, weights, tmp_path):
    out = tmp_path / "img.json"
    r = images("--model", model, "--data", toy, "--out", out, "--samples", 3, "--id-samples", 1,
               "--id-views", 2, "--inception-weights", weights, "--allow-nonstandard-weights")
    assert r.exit_code == 0, r.output
    doc = read_json(out)
    m = doc["metrics"]
    assert "fid" not in m and "kid" not in m              # never the standard names
    assert math.isfinite(m["fid_nonstandard"]) and m["fid_nonstandard"] > 0
    assert m["kid_nonstandard"]["subset_size"] == 3 and math.isfinite(m["kid_nonstandard"]["mean"])
    assert doc["inception"]["standard"] is False and doc["dataset"]["n_real"] == 8
    assert doc["protocol"]["samples"] == 3 and doc["protocol"]["truncation"] == 1.0
    assert doc["schema"] == "geogen-bench-images" and doc["provenance"]["model_sha256"]
    id_entry = m["id_dlib_resnet_v1"]
    if id_entry.get("status") == "unavailable":             # dlib / face-recognition-models not installed
        assert id_entry["reason"]
    else:
        assert id_entry["n"] == 1 and -1.0 <= id_entry["mean"] <= 1.0
        assert id_entry["embedding"] == "id_dlib_resnet_v1"
    assert "fid_nonstandard:" in r.output


def test_without_weights_fid_kid_are_unavailable(toy, model, weights, tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "empty-hub"))
    out = tmp_path / "img.json"
    r = images("--model", model, "--data", toy, "--out", out, "--samples", 3, "--id-samples", 0)
    assert r.exit_code == 0, r.output
    m = read_json(out)["metrics"]
    for name in ("fid", "kid"):
        assert m[name]["status"] == "unavailable" and "not found" in m[name]["reason"]
    assert m["id_dlib_resnet_v1"]["status"] == "unavailable"
    assert not any(isinstance(v, (int, float)) for v in m.values())
    r = images("--model", model, "--data", toy, "--out", out, "--samples", 3, "--id-samples", 0,
               "--inception-weights", weights)             # other weights without the flag: refused
    assert r.exit_code == 0 and "allow-nonstandard-weights" in read_json(out)["metrics"]["fid"]["reason"]


def cli(*args):
    """geogen-bench images in-process: (exit code, stdout + stderr)."""
    from geogen.cli.bench import main

    r = call_main(main, "geogen-bench", "images", *args, "--device", "cpu", "--no-progress")
    return r.returncode, r.stdout + r.stderr


def test_bad_input_is_a_one_line_error(toy, model, tmp_path):
    code, text = cli("--model", model, "--data", toy, "--samples", 1, "--out", tmp_path / "x.json")
    assert code == 2 and "--samples" in text and len(text.strip().splitlines()) == 1
    code, text = cli("--model", tmp_path / "missing.pkl", "--data", toy, "--out", tmp_path / "x.json")
    assert code == 2 and "not found" in text
    code, text = cli("--model", model, "--data", toy, "--out", tmp_path / "x.json", "--threads", "two")
    assert code == 2 and "--threads 'two'" in text and len(text.strip().splitlines()) == 1
    no_labels = write_toy_dataset(tmp_path / "D2", n_train=1, n_test=1, n_views=2)
    code, text = cli("--model", model, "--data", no_labels, "--out", tmp_path / "x.json", "--id-samples", 0,
                     "--inception-weights", tmp_path / "w.pth")  # absent weights: no real images needed
    assert code == 0, text
    weights = random_inception_weights(tmp_path / "w.pth")
    code, text = cli("--model", model, "--data", no_labels, "--out", tmp_path / "y.json", "--id-samples", 0,
                     "--inception-weights", weights, "--allow-nonstandard-weights")
    assert code == 2 and "dataset.json" in text and "Traceback" not in text
    assert not (tmp_path / "y.json").exists()


def test_real_images_are_the_training_split_at_model_resolution(toy):
    import numpy as np

    from benchmark.generation import ImageProtocol, real_images
    from dataset.eg3d import ImageLabelDataset

    ds = ImageLabelDataset(toy, 64)
    found, n, labels = real_images(toy, 64, ImageProtocol(real_limit=3))
    found = list(found)
    assert n == 3 == len(found) and labels.shape == (8, 25)
    loaded = [ds._load(i).transpose(1, 2, 0) for i in range(8)]  # uint8 after the Lanczos resize
    assert all(any(np.array_equal(f, im) for im in loaded) for f in found)
    assert found[0].shape == (64, 64, 3) and found[0].dtype == np.uint8
    again, _, _ = real_images(toy, 64, ImageProtocol(real_limit=3))
    assert all(np.array_equal(a, b) for a, b in zip(found, again))  # seeded subset


def test_thread_governor_is_updated_between_images_and_id_samples(toy, model, weights, tmp_path):
    from benchmark.face_id import load_face_embedder
    from benchmark.generation import ImageProtocol, image_metrics_for_model

    class Counting:
        updates = 0

        def update(self):
            Counting.updates += 1

    proto = ImageProtocol(samples=3, id_samples=2, id_views=2)
    doc = image_metrics_for_model(model, toy, tmp_path / "img.json", proto, weights, allow_nonstandard=True,
                                  device="cpu", progress=False, threads=Counting())
    id_samples = 2 if load_face_embedder()[0] is not None else 0
    assert Counting.updates == doc["dataset"]["n_real"] + 3 + id_samples      # each real image, sample, ID sample
