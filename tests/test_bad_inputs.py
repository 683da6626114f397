"""Bad input found by a battery of hostile inputs (issue 11): one line ``error: …``, exit 2,
nothing written, and no path from a dataset file may leave the dataset folder."""

import json
import os
import shutil

import numpy as np
import pytest
from cli_helpers import call_main
from PIL import Image

from benchmark.toydata import write_toy_dataset
from geogen.common.atomic import atomic_write_json, read_json, sha256_file
from geogen.common.cameras import normalized_intrinsics, spherical_cam2world, to_label
from geogen.common.errors import UserError
from geogen.common.paths import inside_dataset


@pytest.fixture(scope="module")
def toy(tmp_path_factory):
    return write_toy_dataset(tmp_path_factory.mktemp("toy") / "D", n_train=1, n_test=2, n_views=4)


def _tree(root):
    return sorted(str(p.relative_to(root)) for p in root.rglob("*"))


def _one_line_exit_2(proc, needle):
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert proc.stderr.startswith("error: ") and proc.stderr.count("\n") == 1 and "Traceback" not in proc.stderr
    assert needle in proc.stderr, proc.stderr


def _outside_png(folder):
    path = folder / "outside.png"
    Image.fromarray(np.full((32, 32, 3), 120, np.uint8)).save(path)
    return path


# --- the helper -------------------------------------------------------------------------------

def test_inside_dataset_refuses_parent_absolute_and_symlinked_paths(tmp_path):
    root = tmp_path / "D"
    (root / "images").mkdir(parents=True)
    (root / "images" / "a.png").write_bytes(b"x")
    secret = tmp_path / "secret.txt"
    secret.write_text("s")
    assert inside_dataset(root, "images/a.png") == (root / "images" / "a.png").resolve()
    assert inside_dataset(root, "../images/a.png", base=root / "images") == (root / "images" / "a.png").resolve()
    for bad in ("../secret.txt", str(secret), "images/../../secret.txt"):
        with pytest.raises(UserError, match="outside the dataset folder"):
            inside_dataset(root, bad)
    os.symlink(secret, root / "images" / "link.txt")
    with pytest.raises(UserError, match="outside the dataset folder"):
        inside_dataset(root, "images/link.txt")
    for bad in ("", None, 3, "a\x00b"):
        with pytest.raises(UserError):
            inside_dataset(root, bad)


# --- geogen-data build --out ------------------------------------------------------------------

def data_cli(*args):
    from geogen.cli.data import main

    return call_main(main, "geogen-data", *args)


BUILD = ("--identities", "2", "--views", "4", "--resolution", "32", "--no-pseudo-gt", "--no-progress")


@pytest.mark.parametrize("name", ["images", "identities", "meshes"])
def test_build_into_a_folder_whose_layout_folder_is_a_file(tmp_path, name):
    out = tmp_path / "D"
    out.mkdir()
    (out / name).write_text("a plain file")
    _one_line_exit_2(data_cli("build", "--out", out, *BUILD), "is not a folder")
    assert _tree(out) == [name] and (out / name).read_text() == "a plain file"


def test_build_refuses_a_non_empty_folder_that_is_not_a_dataset(tmp_path):
    out = tmp_path / "mine"
    (out / "photos").mkdir(parents=True)
    (out / "notes.txt").write_text("keep me")
    before = _tree(out)
    _one_line_exit_2(data_cli("build", "--out", out, *BUILD), "is not empty and is not a geogen dataset")
    assert _tree(out) == before


def test_build_refuses_a_dataset_of_other_settings_recorded_in_its_manifest(tmp_path):
    """A finished dataset (manifest only, identities elsewhere) of another seed is not built over."""
    from dataset.config import make_config

    out = tmp_path / "D"
    out.mkdir()
    atomic_write_json(out / "manifest.json", {"config": make_config("tiny", seed=7).to_dict()})
    _one_line_exit_2(data_cli("build", "--out", out, *BUILD), "different settings")
    assert _tree(out) == ["manifest.json"]


def test_build_write_failure_is_one_line(tmp_path, monkeypatch):
    """Any OSError while writing (disk full, permissions) ends in one line, not a traceback."""
    import dataset.build as build_mod

    def full(*args, **kwargs):
        raise OSError(28, "No space left on device", str(tmp_path / "D" / "images"))

    monkeypatch.setattr(build_mod, "build_identity", full)
    _one_line_exit_2(data_cli("build", "--out", tmp_path / "D", *BUILD, "--workers", "1"), "No space left on device")


# --- geogen-recon run -------------------------------------------------------------------------

def recon_cli(*args):
    from reconstruction.cli import main

    return call_main(main, "geogen-recon", *args)


@pytest.mark.parametrize("value", [float("nan"), float("inf")])
def test_recon_run_refuses_a_non_finite_transform_matrix(toy, tmp_path, value):
    d = tmp_path / "D"
    shutil.copytree(toy, d)
    tf = read_json(d / "identities/000001/transforms.json")
    tf["frames"][2]["transform_matrix"][0][3] = value
    (d / "identities/000001/transforms.json").write_text(json.dumps(tf))  # NaN is written as NaN by json
    out = tmp_path / "out" / "m.ply"
    _one_line_exit_2(recon_cli("run", "--out", out, "--transforms", d / "identities/000001/transforms.json"),
                     "frame 2")
    assert not out.exists() and not out.with_suffix(".json").exists()


def test_recon_run_refuses_a_sheared_camera(toy, tmp_path):
    d = tmp_path / "D"
    shutil.copytree(toy, d)
    tf = read_json(d / "identities/000001/transforms.json")
    tf["frames"][0]["transform_matrix"][0][0] *= 2.0
    atomic_write_json(d / "identities/000001/transforms.json", tf)
    _one_line_exit_2(recon_cli("run", "--out", tmp_path / "m.ply", "--transforms",
                               d / "identities/000001/transforms.json"), "not a rotation")


def test_recon_run_refuses_image_paths_outside_the_dataset(toy, tmp_path):
    d = tmp_path / "D"
    shutil.copytree(toy, d)
    outside = _outside_png(tmp_path)
    tf = read_json(d / "identities/000001/transforms.json")
    tf["frames"][1]["file_path"] = "../../../outside.png"
    atomic_write_json(d / "identities/000001/transforms.json", tf)
    assert (d / "identities/000001" / tf["frames"][1]["file_path"]).resolve() == outside.resolve()
    _one_line_exit_2(recon_cli("run", "--out", tmp_path / "m.ply", "--transforms",
                               d / "identities/000001/transforms.json"), "outside the dataset folder")


def test_recon_paths_of_a_loose_transforms_file_stay_in_its_folder(tmp_path):
    """Without a dataset around it, a transforms.json may name files in its own folder only."""
    from reconstruction.scene import input_root, read_transforms

    folder = tmp_path / "capture"
    folder.mkdir()
    _outside_png(tmp_path)
    frame = {"file_path": "../outside.png", "transform_matrix": np.eye(4).tolist()}
    (folder / "transforms.json").write_text(json.dumps({"fl_x": 40, "frames": [frame] * 3}))
    assert input_root(folder / "transforms.json") == folder.resolve()
    with pytest.raises(UserError, match="outside the dataset folder"):
        read_transforms(folder / "transforms.json")


# --- geogen-train: dataset.json entries -------------------------------------------------------

def test_training_data_refuses_dataset_json_entries_outside_the_folder(tmp_path):
    from geogen.training.data import ImageLabelDataset

    root = tmp_path / "D"
    (root / "images").mkdir(parents=True)
    Image.fromarray(np.full((32, 32, 3), 50, np.uint8)).save(root / "images" / "a.png")
    _outside_png(tmp_path)
    label = to_label(spherical_cam2world(0, 0, 2.7), normalized_intrinsics(3.2))
    atomic_write_json(root / "dataset.json", {"labels": [["images/a.png", label]]})
    assert len(ImageLabelDataset(root, 32)) == 1
    atomic_write_json(root / "dataset.json", {"labels": [["images/a.png", label], ["../outside.png", label]]})
    with pytest.raises(UserError, match="outside the dataset folder"):
        ImageLabelDataset(root, 32)


# --- geogen-bench and the dataset's own checks --------------------------------------------------

def test_benchmark_refuses_view_paths_and_split_ids_outside_the_dataset(toy, tmp_path):
    from dataset.format import Dataset

    d = tmp_path / "D"
    shutil.copytree(toy, d)
    _outside_png(tmp_path)
    tf = read_json(d / "identities/000001/transforms.json")
    tf["frames"][0]["file_path"] = "../../../outside.png"
    atomic_write_json(d / "identities/000001/transforms.json", tf)
    with pytest.raises(UserError, match="outside the dataset folder"):
        Dataset(d).views("000001")
    man = read_json(d / "manifest.json")
    man["split"]["test"] = ["../../etc"]
    atomic_write_json(d / "manifest.json", man)
    with pytest.raises(UserError, match="not a plain identity name"):
        Dataset(d)


def test_listed_files_outside_the_dataset_are_reported_not_read(tmp_path):
    from dataset.writers.manifest import verify_files

    root = tmp_path / "D"
    root.mkdir()
    outside = _outside_png(tmp_path)
    problems = verify_files(root, {"../outside.png": sha256_file(outside)})
    assert problems == ["../outside.png: points outside the dataset folder"]


def test_merge_refuses_a_shard_record_naming_files_outside(tmp_path, monkeypatch):
    import dataset.build as build_mod
    from dataset.config import make_config
    from dataset.writers.manifest import identity_key

    cfg = make_config("tiny", identities=1, views=4, resolution=32)
    shard = tmp_path / "shard"
    (shard / "identities" / "000000").mkdir(parents=True)
    _outside_png(tmp_path)
    record = {"identity_key": identity_key(cfg), "config": cfg.to_dict(), "files": {"../outside.png": "x"}}
    atomic_write_json(shard / "identities" / "000000" / "record.json", record)
    monkeypatch.setattr(build_mod, "record_is_complete", lambda root, rec, key: rec is not None and root == shard)
    with pytest.raises(UserError, match="outside the dataset folder"):
        build_mod.merge(tmp_path / "D", [shard])
    assert _tree(tmp_path / "D") == []


def test_pseudo_gt_refuses_split_ids_that_are_paths(toy, tmp_path):
    """Split ids become record and mesh file names: "../../x" must not write outside the dataset."""
    from reconstruction.pseudo_gt import build_for_dataset

    d = tmp_path / "D"
    shutil.copytree(toy, d)
    man = read_json(d / "manifest.json")
    man["split"]["test"] = ["../../escaped"]
    atomic_write_json(d / "manifest.json", man)
    with pytest.raises(UserError, match="not a plain identity name"):
        build_for_dataset(d, log=lambda m: None)
    assert not (tmp_path / "escaped.json").exists() and not (d / "meshes" / "pseudo_gt").exists()
