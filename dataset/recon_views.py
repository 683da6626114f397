"""Extra views rendered only for pseudo-GT reconstruction: ``D/recon_views/<id>/``.

Multi-view stereo gains from more and larger images than the training views (issue 3, item 4).
For each requested identity this renders ``views`` extra cameras (360 deg stratified like the
training views, :func:`dataset.views.sample_views`, but from their own seed stream) at
``resolution`` with the same renderer, lighting and mesh as the identity's training views, and
writes ``images/vvv.png``, ``masks/vvv.png``, ``depth/vvv.npy`` and a ``transforms.json``.

These files are NOT training data: they are not in ``manifest.json`` or ``dataset.json`` and
``geogen-data validate`` does not look at them, so the dataset's existing files stay
byte-identical. Each identity is committed by ``record.json`` (written last, listing the
SHA-256 of its files); a re-run skips identities whose record matches and verifies.
"""

from __future__ import annotations

import dataclasses
import shutil
import time
from pathlib import Path

import numpy as np

from geogen.common.atomic import atomic_write_json, read_json
from geogen.common.errors import UserError
from geogen.common.seeding import rng_for

from .config import DatasetConfig
from .generators import get_generator
from .render import RenderSettings, make_renderer, sample_lighting
from .render.lighting import LIGHT_KEY
from .views import sample_views
from . import format as layout
from .format import DEFAULT_RECON_VIEWS  # noqa: F401  (re-exported)
from .writers.images import write_npy, write_png
from .writers.manifest import identity_key, verify_files
from .writers.nerf import write_transforms

RECON_VIEWS_KEY = 5  # rng_for(seed, identity, RECON_VIEWS_KEY): cameras of the extra views
RECON_RENDER_KEY = 6  # rng_for(seed, identity, RECON_RENDER_KEY): their shadow/AO ray sampling
RECORD_VERSION = 1


def recon_config(config: DatasetConfig, views: int, resolution: int | None) -> DatasetConfig:
    """The dataset config with the extra views' count and resolution (checked, one-line errors)."""
    if not 4 <= views <= 999:
        raise UserError(f"--recon-views must be between 4 and 999 so views cover 360 deg (got {views})")
    res = resolution or config.resolution
    if not 16 <= res <= 4096:
        raise UserError(f"--recon-resolution must be between 16 and 4096 pixels (got {res})")
    return dataclasses.replace(config, views=views, resolution=res)


def record_path(root: Path, identity: int) -> Path:
    return root / layout.recon_views_record(identity)


def committed(root: Path, identity: int, config: DatasetConfig | None = None) -> dict | None:
    """The identity's extra-view record if it is complete and belongs to this dataset, else None."""
    path = record_path(root, identity)
    if not path.is_file():
        return None
    try:
        record = read_json(path, "recon-views record")
    except UserError:
        return None
    if config is not None and record.get("identity_key") != identity_key(config):
        return None
    if record.get("version") != RECORD_VERSION or verify_files(root, record.get("files", {})):
        return None
    return record


def render_recon_views(root: Path, config: DatasetConfig, identities: list[int], views: int,
                       resolution: int | None = None, log=print) -> dict[int, dict]:
    """Render (or resume) the extra views of ``identities``; returns their records by identity."""
    rcfg = recon_config(config, views, resolution)
    records = {}
    for n, i in enumerate(identities):
        rec = committed(root, i, config)
        if rec is not None and (rec["views"], rec["resolution"]) == (rcfg.views, rcfg.resolution):
            log(f"[{n + 1}/{len(identities)}] {layout.id_str(i)}: recon views already rendered, skipping")
        else:
            rec = render_identity(root, config, rcfg, i)
            log(f"[{n + 1}/{len(identities)}] {layout.id_str(i)}: rendered {rcfg.views} recon views at "
                f"{rcfg.resolution}^2 in {rec['seconds']:.1f} s")
        records[i] = rec
    return records


def render_identity(root: Path, config: DatasetConfig, rcfg: DatasetConfig, index: int) -> dict:
    """Render and commit one identity's extra views (its old folder, if any, is removed first)."""
    folder = root / layout.recon_views_dir(index)
    record_path(root, index).unlink(missing_ok=True)  # not complete until the new record lands
    if folder.is_dir():
        shutil.rmtree(folder)
    t0 = time.perf_counter()
    generator = get_generator(config.generator)
    scene = generator.build(generator.sample(config.seed, index))
    vertices, faces = generator.mesh(scene, config.mesh_resolution)
    views = sample_views(rcfg, index, stream=RECON_VIEWS_KEY)
    cameras = [v.camera for v in views]
    lighting = sample_lighting(rng_for(config.seed, index, LIGHT_KEY))  # the training views' lighting
    renderer = make_renderer(config.renderer, RenderSettings(config.supersample, config.shadow_rays,
                                                             config.ao_rays, config.ao_distance))
    outputs = renderer.render(scene, vertices, faces, cameras, lighting, rng_for(config.seed, index, RECON_RENDER_KEY))
    base = layout.recon_views_dir(index)
    files: dict[str, str] = {}
    entries = []
    for view, out in zip(views, outputs):
        img, msk, dep = (f"images/{view.index:03d}.png", f"masks/{view.index:03d}.png", f"depth/{view.index:03d}.npy")
        files[f"{base}/{img}"] = write_png(folder / img, out.rgb)
        files[f"{base}/{msk}"] = write_png(folder / msk, np.where(out.mask, 255, 0).astype(np.uint8))
        files[f"{base}/{dep}"] = write_npy(folder / dep, out.depth.astype(np.float32))
        entries.append({"index": view.index, "azimuth_deg": view.azimuth_deg, "elevation_deg": view.elevation_deg,
                        "label": view.camera.label(), "image": img, "mask": msk, "depth": dep})
    files[layout.recon_views_transforms(index)] = write_transforms(
        root / layout.recon_views_transforms(index), cameras, [e["image"] for e in entries], [e["mask"] for e in entries],
        [e["depth"] for e in entries])
    record = {"version": RECORD_VERSION, "identity": index, "identity_key": identity_key(config),
              "views": rcfg.views, "resolution": rcfg.resolution, "seed_stream": RECON_VIEWS_KEY,
              "lighting": lighting.to_dict(), "frames": entries, "files": dict(sorted(files.items())),
              "seconds": round(time.perf_counter() - t0, 3)}
    atomic_write_json(record_path(root, index), record)  # the commit point: written last
    return record
