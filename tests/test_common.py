"""Atomic writing, registry errors and deterministic PLY output."""

import numpy as np
import pytest

from geogen.common.atomic import atomic_path, atomic_write_json, read_json, sha256_file
from geogen.common.errors import UserError
from geogen.common.meshio import load_mesh, save_ply
from geogen.common.registry import Registry


def test_atomic_path_leaves_nothing_on_failure(tmp_path):
    target = tmp_path / "out.json"
    with pytest.raises(RuntimeError):
        with atomic_path(target) as tmp:
            tmp.write_text("half")
            raise RuntimeError("killed")
    assert not target.exists()
    assert list(tmp_path.iterdir()) == []


def test_json_round_trip_and_bad_json(tmp_path):
    atomic_write_json(tmp_path / "a.json", {"b": 1, "a": [1, 2]})
    assert read_json(tmp_path / "a.json") == {"a": [1, 2], "b": 1}
    (tmp_path / "bad.json").write_text("{nope")
    with pytest.raises(UserError, match="not valid JSON"):
        read_json(tmp_path / "bad.json")


def test_registry_did_you_mean():
    reg = Registry("metric")
    reg.add("chamfer_l1", 1)
    with pytest.raises(ValueError):
        reg.add("chamfer_l1", 2)
    with pytest.raises(UserError, match="did you mean 'chamfer_l1'"):
        reg.get("chamfer_l2")


def test_ply_is_deterministic_and_loads(tmp_path):
    import trimesh

    box = trimesh.creation.box()
    save_ply(tmp_path / "a.ply", box.vertices, box.faces, vertex_colors=np.full((8, 3), 0.5))
    save_ply(tmp_path / "b.ply", box.vertices, box.faces, vertex_colors=np.full((8, 3), 0.5))
    assert sha256_file(tmp_path / "a.ply") == sha256_file(tmp_path / "b.ply")
    m = load_mesh(tmp_path / "a.ply")
    assert np.allclose(m.vertices, box.vertices) and np.array_equal(m.faces, box.faces)
    assert np.isclose(m.volume, 1.0)
    (tmp_path / "empty.ply").write_bytes(b"")
    with pytest.raises(UserError):
        load_mesh(tmp_path / "empty.ply")
