"""Mesh I/O shared by every stage: deterministic binary PLY out, validated meshes in."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from .atomic import atomic_path
from .errors import UserError


def save_ply(path: str | os.PathLike, vertices: np.ndarray, faces: np.ndarray,
             vertex_colors: np.ndarray | None = None, vertex_normals: np.ndarray | None = None) -> None:
    """Write a triangle mesh as binary little-endian PLY, atomically and byte-deterministically.

    Written by hand (not trimesh's exporter) so the bytes depend only on the arrays:
    float32 positions (+ float32 normals, + uint8 RGB), int32 triangle indices.
    """
    v = np.ascontiguousarray(vertices, dtype=np.float32)
    f = np.ascontiguousarray(faces, dtype=np.int32)
    fields = [("x", "<f4"), ("y", "<f4"), ("z", "<f4")]
    header = ["ply", "format binary_little_endian 1.0", f"element vertex {len(v)}",
              "property float x", "property float y", "property float z"]
    if vertex_normals is not None:
        fields += [("nx", "<f4"), ("ny", "<f4"), ("nz", "<f4")]
        header += ["property float nx", "property float ny", "property float nz"]
    if vertex_colors is not None:
        fields += [("red", "u1"), ("green", "u1"), ("blue", "u1")]
        header += ["property uchar red", "property uchar green", "property uchar blue"]
    header += [f"element face {len(f)}", "property list uchar int vertex_indices", "end_header"]
    vert = np.empty(len(v), dtype=fields)
    vert["x"], vert["y"], vert["z"] = v[:, 0], v[:, 1], v[:, 2]
    if vertex_normals is not None:
        n = np.asarray(vertex_normals, dtype=np.float32)
        vert["nx"], vert["ny"], vert["nz"] = n[:, 0], n[:, 1], n[:, 2]
    if vertex_colors is not None:
        c = np.asarray(vertex_colors)
        if c.dtype != np.uint8:
            c = np.clip(np.round(c * 255.0), 0, 255).astype(np.uint8)
        vert["red"], vert["green"], vert["blue"] = c[:, 0], c[:, 1], c[:, 2]
    face = np.empty(len(f), dtype=[("n", "u1"), ("i", "<i4", (3,))])
    face["n"] = 3
    face["i"] = f
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as fh:
            fh.write(("\n".join(header) + "\n").encode("ascii"))
            fh.write(vert.tobytes())
            fh.write(face.tobytes())


def load_mesh(path: str | os.PathLike, what: str = "mesh"):
    """Load a triangle mesh with trimesh; UserError (one line) if missing, unreadable or empty."""
    import trimesh

    p = Path(path)
    if not p.is_file():
        raise UserError(f"{what} {p} not found")
    try:
        mesh = trimesh.load(p, force="mesh", process=False)
    except Exception as exc:  # trimesh raises many types for corrupt files
        raise UserError(f"{what} {p} could not be read ({type(exc).__name__}: {exc}); re-export it as PLY/OBJ") from None
    if not isinstance(mesh, trimesh.Trimesh) or len(mesh.faces) == 0 or len(mesh.vertices) == 0:
        raise UserError(f"{what} {p} has no triangles")
    if not np.all(np.isfinite(mesh.vertices)):
        raise UserError(f"{what} {p} has non-finite vertex coordinates")
    return mesh
