"""Build a dataset folder: per identity sample → build head → mesh → cameras → render → write.

Resumable and deterministic:
- every identity is committed by ``identities/<id>/record.json``, written LAST and atomically,
  listing the SHA-256 of each file of that identity; a re-run skips identities whose record
  verifies and rebuilds the rest (their record is deleted before any file is rewritten);
- every random choice comes from ``rng_for(seed, identity, stream)``, so results do not depend
  on worker count, order, sharding or resumption;
- ``manifest.json`` and ``dataset.json`` are (re)written at the end from the records, and only
  when every identity of the config is present (a shard alone writes a partial manifest under
  ``shards/``; ``geogen-data merge`` assembles the final one).

Hook for later stages: :data:`POST_STEPS` holds named steps ``fn(root, manifest, **options)``
that a later stage registers (the reconstruction stage's ``"pseudo-gt"``,
reconstruction/dataset_step.py). They run after the manifest is written: those
``config.post_steps`` names at the end of :func:`finalize`, and the one ``geogen-data build``
asks for by :func:`run_post_step` once the dataset is complete. This module never imports a
later stage.
"""

from __future__ import annotations

import os
import shutil
import time
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Callable

import numpy as np

from geogen.common.atomic import atomic_write_json, ensure_writable_dir, sha256_file
from geogen.common.errors import UserError
from geogen.common.executor import ExecutorConfig, map_tasks
from geogen.common.paths import inside_dataset
from geogen.common.meshio import save_ply
from geogen.common.registry import Registry
from geogen.common.seeding import rng_for

from . import format as layout
from .config import DatasetConfig
from .format import SCHEMA_VERSION, split_ids
from .generators import get_generator
from .render import RenderSettings, make_renderer, sample_lighting
from .render.embree import mesh_normals
from .render.lighting import LIGHT_KEY
from .views import sample_views
from .writers.colmap import write_colmap_model
from .writers.eg3d import write_dataset_json, write_eg3d_zip
from .writers.images import encode_normals, write_npy, write_png
from .writers.manifest import build_manifest, dataset_labels, identity_key, load_record, record_is_complete
from .writers.nerf import write_transforms

RENDER_KEY = 3  # rng_for(seed, identity, RENDER_KEY): shadow/AO ray sampling

POST_STEPS: Registry[Callable[..., None]] = Registry("post-build step")


def run_post_step(name: str, root: str | os.PathLike, **options) -> None:
    """Run registered post-build step ``name`` on the complete dataset at ``root``."""
    root = Path(root)
    POST_STEPS.get(name)(root, layout.read_manifest(root), **options)


@dataclass(frozen=True)
class BuildOptions:
    """How to run a build; none of these change the output files (except ``write_zip``)."""

    workers: int = 1                 # local: processes; ray: CPUs of the local cluster it starts
    shard: tuple[int, int] = (0, 1)  # (i, n): build identities with index % n == i
    write_zip: bool = False
    progress: bool = True
    executor: str = "local"          # "local" (process pool) | "ray" (one Ray task per identity)
    ray_address: str | None = None   # attach to this Ray cluster (default: start a local one)


@dataclass
class BuildSummary:
    built: list[int] = field(default_factory=list)
    skipped: list[int] = field(default_factory=list)
    complete: bool = False  # manifest.json written
    timings: dict[int, dict[str, float]] = field(default_factory=dict)  # per built identity, seconds


def parse_shard(text: str | None) -> tuple[int, int]:
    """"i/n" → (i, n), with a one-line UserError for anything else."""
    if text is None or text == "":
        return 0, 1
    try:
        i_s, n_s = text.split("/")
        i, n = int(i_s), int(n_s)
    except ValueError:
        raise UserError(f"--shard must look like i/n, e.g. 0/4 (got {text!r})") from None
    if n < 1 or not 0 <= i < n:
        raise UserError(f"--shard {text}: need 0 <= i < n (e.g. 0/{max(n, 1)} .. {max(n, 1) - 1}/{max(n, 1)})")
    return i, n


def shard_ids(config: DatasetConfig, shard: tuple[int, int]) -> list[int]:
    i, n = shard
    return [k for k in range(config.identities) if k % n == i]


def build_dataset(config: DatasetConfig, out: str | os.PathLike, options: BuildOptions = BuildOptions()) -> BuildSummary:
    """Build (or resume) the dataset described by ``config`` into folder ``out``."""
    config = config.validated()
    ExecutorConfig(kind=options.executor, workers=options.workers, ray_address=options.ray_address)  # checks
    root = ensure_writable_dir(out)
    key = identity_key(config)
    _check_same_dataset(root, config, key)
    summary = BuildSummary()
    todo = []
    for i in shard_ids(config, options.shard):
        (summary.skipped if record_is_complete(root, load_record(root, i), key) else todo).append(i)
    if todo:
        (root / layout.MANIFEST).unlink(missing_ok=True)  # the folder is incomplete until the end
    for i, timings in _run(config, root, todo, options):
        summary.built.append(i)
        summary.timings[i] = timings
    summary.built.sort()
    summary.complete = finalize(root, config, options.write_zip, shard=options.shard)
    return summary


def _run(config: DatasetConfig, root: Path, todo: list[int], options: BuildOptions):
    """Build ``todo`` identities (in this process, a process pool or Ray tasks), yielding
    (index, timings) as they finish. Each task commits its identity with its record."""
    executor = ExecutorConfig(kind=options.executor, workers=options.workers, ray_address=options.ray_address,
                              progress=options.progress, desc="build")
    yield from map_tasks(partial(_build_task, config, str(root)), todo, executor)


def _build_task(config: DatasetConfig, root: str, index: int) -> dict[str, float]:
    return build_identity(config, Path(root), index)


def build_identity(config: DatasetConfig, root: Path, index: int) -> dict[str, float]:
    """Build one identity and commit it with its record; return timings (seconds) by stage."""
    (root / layout.record(index)).unlink(missing_ok=True)  # not complete until the new record lands
    remove_stale_temporaries(root, index)
    t0 = time.perf_counter()
    generator = get_generator(config.generator)
    params = generator.sample(config.seed, index)
    scene = generator.build(params)
    t1 = time.perf_counter()
    vertices, faces = generator.mesh(scene, config.mesh_resolution)
    t2 = time.perf_counter()
    views = sample_views(config, index)
    cameras = [v.camera for v in views]
    lighting = sample_lighting(rng_for(config.seed, index, LIGHT_KEY))
    renderer = make_renderer(config.renderer, RenderSettings(config.supersample, config.shadow_rays,
                                                             config.ao_rays, config.ao_distance))
    outputs = renderer.render(scene, vertices, faces, cameras, lighting, rng_for(config.seed, index, RENDER_KEY))
    t3 = time.perf_counter()

    files: dict[str, str] = {}
    mesh_rel = layout.gt_mesh(index)
    colours = None
    if hasattr(scene, "vertex_colors"):  # optional SceneModel extra: albedo per vertex, for viewing
        colours = scene.vertex_colors(vertices, mesh_normals(vertices, np.asarray(faces))[1])
    save_ply(root / mesh_rel, vertices, faces, vertex_colors=colours)
    files[mesh_rel] = sha256_file(root / mesh_rel)
    view_entries = []
    for view, out in zip(views, outputs):
        k = view.index
        img, dep, nrm, msk = layout.image(index, k), layout.depth(index, k), layout.normals(index, k), layout.mask(index, k)
        files[img] = write_png(root / img, out.rgb)
        files[dep] = write_npy(root / dep, out.depth.astype(np.float32))
        files[nrm] = write_png(root / nrm, encode_normals(out.normals, out.mask))
        files[msk] = write_png(root / msk, np.where(out.mask, 255, 0).astype(np.uint8))
        view_entries.append({"index": k, "azimuth_deg": view.azimuth_deg, "elevation_deg": view.elevation_deg,
                             "label": view.camera.label(), "image": img, "depth": dep, "normals": nrm, "mask": msk})
    up = "../../"
    tr = layout.transforms(index)
    files[tr] = write_transforms(root / tr, cameras, [up + v["image"] for v in view_entries],
                                 [up + v["mask"] for v in view_entries], [up + v["depth"] for v in view_entries])
    col = layout.colmap_dir(index)
    for name, digest in write_colmap_model(root / col, cameras, [f"{v['index']:03d}.png" for v in view_entries]).items():
        files[f"{col}/{name}"] = digest
    lo, hi = np.min(vertices, axis=0), np.max(vertices, axis=0)
    record = {
        "schema_version": SCHEMA_VERSION,
        "identity": index,
        "identity_key": identity_key(config),
        "config": config.to_dict(),
        "generator_version": generator.version,
        "params": params,
        "lighting": lighting.to_dict(),
        "views": view_entries,
        "mesh": {"path": mesh_rel, "vertices": int(len(vertices)), "faces": int(len(faces)),
                 "bounds": [[float(x) for x in lo], [float(x) for x in hi]]},
        "files": dict(sorted(files.items())),
    }
    atomic_write_json(root / layout.record(index), record)  # the commit point: written last
    t4 = time.perf_counter()
    return {"build": t1 - t0, "mesh": t2 - t1, "render": t3 - t2, "write": t4 - t3, "total": t4 - t0}


def remove_stale_temporaries(root: Path, index: int) -> None:
    """Delete temporary files (``.<name>.*.tmp*`` from atomic writes) a killed build left for ``index``."""
    id_ = layout.id_str(index)
    folders = [root / d / id_ for d in layout.IMAGE_DIRS]
    folders += [root / layout.identity_dir(index), root / layout.colmap_dir(index)]
    patterns = [(f, ".*.tmp*") for f in folders] + [(root / layout.GT_MESH_DIR, f".{id_}.ply.*.tmp*")]
    for folder, pattern in patterns:
        if folder.is_dir():
            for p in folder.glob(pattern):
                p.unlink(missing_ok=True)


def finalize(root: Path, config: DatasetConfig, write_zip: bool = False, shard: tuple[int, int] = (0, 1)) -> bool:
    """Write dataset.json (+ zip) and manifest.json if every identity is committed; return whether it did.

    Otherwise (a shard of a larger build) write ``shards/manifest-<i>-of-<n>.json`` listing this
    shard's identities, so the shard's output can be checked and merged later.
    """
    key = identity_key(config)
    records = {}
    for i in range(config.identities):
        r = load_record(root, i)
        if r is not None and r.get("identity_key") == key:
            records[i] = r
    if len(records) < config.identities:
        mine = shard_ids(config, shard)
        partial = {"schema_version": SCHEMA_VERSION, "shard": list(shard), "config": config.to_dict(),
                   "identities": [layout.id_str(i) for i in mine if i in records],
                   "missing": [layout.id_str(i) for i in mine if i not in records]}
        atomic_write_json(root / layout.SHARDS_DIR / f"manifest-{shard[0]}-of-{shard[1]}.json", partial)
        return False
    train, _ = split_ids(config)
    labels = dataset_labels(records, train)
    derived = {layout.DATASET_JSON: write_dataset_json(root / layout.DATASET_JSON, labels)}
    if write_zip:
        derived[layout.EG3D_ZIP] = write_eg3d_zip(root / layout.EG3D_ZIP, root, labels)
    manifest = build_manifest(config, records, derived)
    atomic_write_json(root / layout.MANIFEST, manifest)
    for name in config.post_steps:
        POST_STEPS.get(name)(root, manifest)
    return True


def merge(root: str | os.PathLike, sources: list[str | os.PathLike], write_zip: bool = False) -> DatasetConfig:
    """Copy committed identities from shard folders ``sources`` into ``root``, then write its manifest.

    Identities are copied file by file (record last), skipping ones ``root`` already holds
    verified. Raises UserError naming the missing identities if the union is incomplete.
    """
    root = ensure_writable_dir(root)
    config = _config_from_folders([root, *map(Path, sources)])
    key = identity_key(config)
    for src in map(Path, sources):
        if not src.is_dir():
            raise UserError(f"shard folder {src} not found")
        for i in range(config.identities):
            rec = load_record(src, i)
            if rec is None or rec.get("identity_key") != key or record_is_complete(root, load_record(root, i), key):
                continue
            if not record_is_complete(src, rec, key):
                raise UserError(f"shard {src}: identity {layout.id_str(i)} fails its checksums; rebuild that shard")
            for rel in rec["files"]:  # names from a record: they must stay inside both folders
                what = f"shard {src} record {layout.record(i)} file"
                source, target = inside_dataset(src, rel, what=what), inside_dataset(root, rel, what=what)
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(source, target)
            (root / layout.record(i)).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(src / layout.record(i), root / layout.record(i))
    missing = [layout.id_str(i) for i in range(config.identities)
               if not record_is_complete(root, load_record(root, i), key)]
    if missing:
        more = f" (+{len(missing) - 5} more)" if len(missing) > 5 else ""
        raise UserError(f"cannot merge: {len(missing)} identities missing or corrupt, e.g. {', '.join(missing[:5])}{more}; "
                        "build the shards that hold them")
    finalize(root, config, write_zip)
    return config


def _config_from_folders(folders: list[Path]) -> DatasetConfig:
    """The build config recorded in shard manifests or identity records of ``folders``."""
    for folder in folders:
        for p in sorted((folder / layout.SHARDS_DIR).glob("manifest-*.json")) if folder.is_dir() else []:
            from geogen.common.atomic import read_json

            return DatasetConfig.from_dict(read_json(p, "shard manifest")["config"])
        ids_dir = folder / layout.IDENTITIES_DIR
        if ids_dir.is_dir():
            for d in sorted(ids_dir.iterdir()):
                rec = load_record(folder, int(d.name)) if d.name.isdigit() else None
                if rec is not None:
                    return DatasetConfig.from_dict(rec["config"])
    raise UserError(f"no built identities found in {', '.join(map(str, folders))}; run geogen-data build first")


# What a dataset folder may hold at its top level: folders, and files (plus the ``.<name>.*``
# temporaries of their atomic writes).
LAYOUT_FOLDERS = (*layout.IMAGE_DIRS, layout.MESHES_DIR, layout.IDENTITIES_DIR, layout.SHARDS_DIR,
                  layout.RECON_VIEWS_DIR, layout.PREVIEW_DIR)
LAYOUT_FILES = (layout.MANIFEST, layout.DATASET_JSON, layout.EG3D_ZIP)


def _check_output_folder(root: Path) -> None:
    """``--out`` must be empty or look like a dataset folder: never build around a user's own files."""
    entries = sorted(root.iterdir())
    known = LAYOUT_FOLDERS + LAYOUT_FILES
    foreign = [p.name for p in entries
               if p.name not in known and not any(p.name.startswith(f".{k}.") for k in LAYOUT_FILES)]
    if foreign:
        more = f" (+{len(foreign) - 3} more)" if len(foreign) > 3 else ""
        raise UserError(f"--out {root} is not empty and is not a geogen dataset (it holds {', '.join(foreign[:3])}"
                        f"{more}); use an empty or new folder")
    for p in entries:
        if p.name in LAYOUT_FOLDERS and not p.is_dir():
            raise UserError(f"{p} is not a folder, but the dataset layout needs one there; "
                            "use an empty or new --out folder")
        if p.name in LAYOUT_FILES and not p.is_file():
            raise UserError(f"{p} is not a file, but the dataset layout writes one there; "
                            "use an empty or new --out folder")


def _recorded_keys(root: Path) -> list[tuple[str, str]]:
    """(where, identity key) of the build settings recorded in ``root``: manifest, shard manifests,
    and up to 50 identity records."""
    from geogen.common.atomic import read_json

    found = []
    docs = [root / layout.MANIFEST] + sorted((root / layout.SHARDS_DIR).glob("manifest-*.json"))
    for path in docs:
        if path.is_file():
            try:
                found.append((path.name, identity_key(DatasetConfig.from_dict(read_json(path, "manifest")["config"]))))
            except (UserError, KeyError, TypeError, ValueError):
                pass  # unreadable: no evidence either way (rewritten at the end of the build)
    ids_dir = root / layout.IDENTITIES_DIR
    if ids_dir.is_dir():
        for d in sorted(ids_dir.iterdir())[:50]:
            rec = load_record(root, int(d.name)) if d.name.isdigit() and d.is_dir() else None
            if rec is not None:
                found.append((layout.record(int(d.name)), str(rec.get("identity_key"))))
    return found


def _check_same_dataset(root: Path, config: DatasetConfig, key: str) -> None:
    """Refuse to mix two different datasets in one folder (one-line error naming the fix)."""
    _check_output_folder(root)
    for where, other in _recorded_keys(root):
        if other != key:
            raise UserError(f"{root} holds a dataset built with different settings (seed/resolution/views/...; "
                            f"see {where}); use a new --out folder or delete it")
