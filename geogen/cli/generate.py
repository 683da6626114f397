"""``geogen-gen``: sample a trained model: multi-view images, depth maps, meshes, turntable GIFs.

    geogen-gen --model runs/x/geogen.pkl --seeds 0-7 --out samples/ [--views 8] [--grid 128] [--truncation 0.7]

Per seed ``s`` it writes into ``--out``::

    seed0000.png        contact sheet: ``--views`` views around the head (top row) and their depth maps (bottom)
    seed0000-depth.npy  (views, h, w) float32 expected ray depth of the raw rendering, NaN where rays miss
    seed0000.ply        mesh by marching cubes (SDF zero level set; density level for eg3d), world coordinates
    seed0000.gif        turntable (``--gif-frames`` frames, 360°)

The latent of seed s is ``torch.randn(1, z_dim)`` from a generator seeded with s; the mapping is
conditioned on the frontal camera (as EG3D samples), and views use the training data's median
camera radius, elevation and focal length (stored in the model file).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Optional

import numpy as np
import typer

from geogen.common.cli import run_typer
from geogen.common.errors import UserError

app = typer.Typer(add_completion=False, pretty_exceptions_enable=False,
                  help="Sample a trained GeoGen/EG3D model: views, depth, meshes, turntable GIFs.")


def parse_seeds(text: str) -> list[int]:
    """'0-7', '3', '1,4,9' or '0-3,10' → sorted unique seeds; UserError on anything else."""
    seeds: set[int] = set()
    for part in text.split(","):
        part = part.strip()
        m = re.fullmatch(r"(\d+)(?:-(\d+))?", part)
        if not m:
            raise UserError(f"--seeds {text!r}: use non-negative integers and ranges like 0-7 or 1,4,9")
        lo, hi = int(m.group(1)), int(m.group(2) or m.group(1))
        if hi < lo:
            raise UserError(f"--seeds {text!r}: range {part} is empty (write it low-high)")
        if hi - lo >= 100000:
            raise UserError(f"--seeds {text!r}: range {part} is too large (at most 100000 seeds)")
        seeds.update(range(lo, hi + 1))
    return sorted(seeds)


def _save_png(path: Path, array: np.ndarray) -> None:
    from PIL import Image

    from geogen.common.atomic import atomic_path

    with atomic_path(path) as tmp:
        Image.fromarray(array).save(tmp)


def _save_gif(path: Path, frames: np.ndarray, fps: int = 12) -> None:
    from PIL import Image

    from geogen.common.atomic import atomic_path

    images = [Image.fromarray(f) for f in frames]
    with atomic_path(path) as tmp:
        images[0].save(tmp, save_all=True, append_images=images[1:], duration=int(1000 / fps), loop=0)


def generate(model: Path, seeds: list[int], out: Path, views: int = 8, grid: int = 128,
             truncation: float = 0.7, gif_frames: int = 24, meshes: bool = True) -> list[Path]:
    """Write the per-seed outputs described in the module docstring; returns the written paths."""
    import torch

    from geogen.common.atomic import atomic_path, ensure_writable_dir
    from geogen.common.meshio import save_ply
    from geogen.model.io import load_model_file
    from geogen.model.mesh import extract_mesh
    from geogen.model.render_views import (depth_to_uint8, front_label, grid as tile, image_to_uint8,
                                           latent_for_seed, model_camera, orbit_labels, render_views, upscale_to)

    if views < 1 or gif_frames < 2 or grid < 8:
        raise UserError("--views must be >= 1, --gif-frames >= 2 and --grid >= 8")
    G, cfg, meta = load_model_file(model)
    out = ensure_writable_dir(out)
    camera = model_camera(meta)
    written = []
    with torch.no_grad():
        for seed in seeds:
            ws = G.mapping(latent_for_seed(seed, cfg.z_dim), front_label(camera), truncation_psi=truncation)
            r = render_views(G, ws, orbit_labels(views, camera))
            images = image_to_uint8(r["image"])
            depth = upscale_to(depth_to_uint8(r["depth"], r["weights_sum"], cfg.ray_start, cfg.ray_end),
                               cfg.image_resolution)
            stem = out / f"seed{seed:04d}"
            _save_png(stem.with_suffix(".png"), np.concatenate([tile(images, views), tile(depth, views)], axis=0))
            raw_depth = torch.where(r["weights_sum"] >= 0.5, r["depth"], torch.nan)[:, 0].numpy().astype(np.float32)
            with atomic_path(f"{stem}-depth.npy") as tmp:
                np.save(tmp, raw_depth)
            written += [stem.with_suffix(".png"), Path(f"{stem}-depth.npy")]
            if meshes:
                verts, faces = extract_mesh(G, ws, resolution=grid)
                if len(faces) == 0:
                    print(f"warning: seed {seed}: the field has no surface inside the box; no mesh written")
                else:
                    save_ply(stem.with_suffix(".ply"), verts, faces)
                    written.append(stem.with_suffix(".ply"))
            turntable = render_views(G, ws, orbit_labels(gif_frames, camera))
            _save_gif(stem.with_suffix(".gif"), image_to_uint8(turntable["image"]))
            written.append(stem.with_suffix(".gif"))
            print(f"seed {seed}: {stem}.png/.gif" + (" + mesh" if meshes else ""))
    return written


@app.command()
def generate_command(
    model: Path = typer.Option(..., "--model", help="geogen.pkl (or a snapshot) written by geogen-train"),
    seeds: str = typer.Option("0-7", help="seeds, e.g. 0-7 or 1,4,9"),
    out: Path = typer.Option(..., "--out", help="output folder"),
    views: int = typer.Option(8, help="views around the head in each contact sheet"),
    grid: int = typer.Option(128, help="marching-cubes grid resolution per axis"),
    truncation: float = typer.Option(0.7, help="truncation ψ (1 = none)"),
    gif_frames: int = typer.Option(24, help="frames of the 360° turntable GIF"),
    mesh: bool = typer.Option(True, help="extract and save meshes"),
) -> None:
    """Images from several views, depth maps, meshes (PLY) and a turntable GIF per seed."""
    generate(model, parse_seeds(seeds), out, views=views, grid=grid, truncation=truncation,
             gif_frames=gif_frames, meshes=mesh)


def main() -> None:
    run_typer(app, "geogen-gen")


if __name__ == "__main__":
    main()
