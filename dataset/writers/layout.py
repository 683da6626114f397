"""Relative paths of every file in a dataset folder (layout.md), in one place."""

from __future__ import annotations


def id_str(identity: int) -> str:
    return f"{identity:06d}"


def image(identity: int, view: int) -> str:
    return f"images/{id_str(identity)}/{view:03d}.png"


def depth(identity: int, view: int) -> str:
    return f"depth/{id_str(identity)}/{view:03d}.npy"


def normals(identity: int, view: int) -> str:
    return f"normals/{id_str(identity)}/{view:03d}.png"


def mask(identity: int, view: int) -> str:
    return f"masks/{id_str(identity)}/{view:03d}.png"


def gt_mesh(identity: int) -> str:
    return f"meshes/gt/{id_str(identity)}.ply"


def pseudo_gt_mesh(identity: int) -> str:
    return f"meshes/pseudo_gt/{id_str(identity)}.ply"


def identity_dir(identity: int) -> str:
    return f"identities/{id_str(identity)}"


def record(identity: int) -> str:
    return f"{identity_dir(identity)}/record.json"


def transforms(identity: int) -> str:
    return f"{identity_dir(identity)}/transforms.json"


def colmap_dir(identity: int) -> str:
    return f"{identity_dir(identity)}/colmap"


MANIFEST = "manifest.json"
DATASET_JSON = "dataset.json"
EG3D_ZIP = "eg3d.zip"
SHARDS_DIR = "shards"


# Extra views rendered only for pseudo-GT reconstruction (not training data; not in the manifest).
RECON_VIEWS_DIR = "recon_views"


def recon_views_dir(identity: int) -> str:
    return f"{RECON_VIEWS_DIR}/{id_str(identity)}"
