"""Previews of a built dataset: a contact sheet (identities x views) and a turntable GIF.

The turntable re-builds one identity from the parameters in the manifest and renders extra
views all around it with the dataset's own renderer and lighting.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from geogen.common.atomic import atomic_path
from geogen.common.errors import UserError
from geogen.common.seeding import rng_for

from . import format as layout
from .config import DatasetConfig
from .format import read_manifest
from .generators import get_generator
from .render import Lighting, RenderSettings, make_renderer
from .views import turntable_views

TURNTABLE_KEY = 4  # rng_for(seed, identity, TURNTABLE_KEY)


def contact_sheet(root: str | Path, out: str | Path, max_identities: int = 8, gap: int = 2) -> Path:
    """PNG grid: one row per identity (first ``max_identities``), views sorted by azimuth."""
    root = Path(root)
    manifest = read_manifest(root)
    ids = sorted(manifest["identities"])[:max_identities]
    if not ids:
        raise UserError(f"{root} holds no identities")
    rows = []
    for id_ in ids:
        views = sorted(manifest["identities"][id_]["views"], key=lambda v: v["azimuth_deg"])
        tiles = [np.asarray(Image.open(root / v["image"]).convert("RGB")) for v in views]
        rows.append(_hstack(tiles, gap))
    sheet = _vstack(rows, gap)
    out = Path(out)
    with atomic_path(out) as tmp:
        Image.fromarray(sheet).save(tmp, format="PNG", compress_level=6)
    return out


def turntable(root: str | Path, out: str | Path, identity: str | int | None = None, frames: int = 36,
              resolution: int | None = None, elevation_deg: float = 5.0) -> Path:
    """Animated GIF of one identity (default: the first) rendered from ``frames`` azimuths."""
    root = Path(root)
    manifest = read_manifest(root)
    config = DatasetConfig.from_dict(manifest["config"])
    id_ = layout.id_str(int(identity)) if identity is not None else sorted(manifest["identities"])[0]
    if id_ not in manifest["identities"]:
        raise UserError(f"identity {id_} is not in {root}; choose one of {', '.join(sorted(manifest['identities'])[:5])}, ...")
    if frames < 2:
        raise UserError(f"--frames must be >= 2 (got {frames})")
    entry = manifest["identities"][id_]
    generator = get_generator(config.generator)
    scene = generator.build(entry["params"])
    vertices, faces = generator.mesh(scene, config.mesh_resolution)
    lighting = Lighting(**{k: (tuple(v) if isinstance(v, list) else v) for k, v in entry["lighting"].items()})
    renderer = make_renderer(config.renderer, RenderSettings(config.supersample, config.shadow_rays,
                                                             config.ao_rays, config.ao_distance))
    cams = [v.camera for v in turntable_views(config, frames, elevation_deg, resolution)]
    images = renderer.render(scene, vertices, faces, cams, lighting, rng_for(config.seed, int(id_), TURNTABLE_KEY))
    pil = [Image.fromarray(o.rgb) for o in images]
    out = Path(out)
    with atomic_path(out) as tmp:
        pil[0].save(tmp, format="GIF", save_all=True, append_images=pil[1:], duration=80, loop=0)
    return out


def _hstack(tiles: list[np.ndarray], gap: int) -> np.ndarray:
    h = tiles[0].shape[0]
    parts = []
    for t in tiles:
        parts += [t, np.full((h, gap, 3), 255, np.uint8)]
    return np.concatenate(parts[:-1], axis=1)


def _vstack(rows: list[np.ndarray], gap: int) -> np.ndarray:
    w = max(r.shape[1] for r in rows)
    parts = []
    for r in rows:
        pad = np.full((r.shape[0], w - r.shape[1], 3), 255, np.uint8)
        parts += [np.concatenate([r, pad], axis=1), np.full((gap, w, 3), 255, np.uint8)]
    return np.concatenate(parts[:-1], axis=0)
