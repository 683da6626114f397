"""Pictures of a `scripts.reproduce` study that need its meshes and images (not only the JSONs):
random samples with their meshes, and inversions of test identities."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from geogen.common.atomic import atomic_path
from geogen.model.config import variant_names

VARIANTS = variant_names()


def label(im: Image.Image, text: str) -> Image.Image:
    ImageDraw.Draw(im).text((4, 3), text, fill=(200, 0, 0))
    return im


def with_margin(im: Image.Image, text: str, width: int = 130) -> Image.Image:
    """``im`` with a white left margin carrying ``text`` (one word per line)."""
    out = Image.new("RGB", (im.width + width, im.height), "white")
    out.paste(im, (width, 0))
    ImageDraw.Draw(out).multiline_text((6, 8), "\n".join(text.split()), fill=(0, 0, 0))
    return out


def save_png(im: Image.Image, path: Path) -> None:
    with atomic_path(path) as tmp:
        im.save(tmp, format="PNG", optimize=True)


def mesh_strip(ply: Path, size: int, n_views: int = 4) -> Image.Image:
    """Shaded renders of a generated mesh from n_views azimuths (blank when it has no faces)."""
    import trimesh

    from benchmark.pictures import orbit_cameras, raycast_shaded

    mesh = trimesh.load(ply, force="mesh", process=False)
    v, f = np.asarray(mesh.vertices), np.asarray(mesh.faces)
    strip = Image.new("RGB", (size * n_views, size), (255, 255, 255))
    if len(f) == 0:
        return label(strip, "no surface")
    lo, hi = v.min(axis=0), v.max(axis=0)
    azimuths = [360.0 * i / n_views for i in range(n_views)]
    for k, cam in enumerate(orbit_cameras((lo + hi) / 2, float(np.linalg.norm(hi - lo)), size, azimuths)):
        strip.paste(Image.fromarray(raycast_shaded(v, f, cam)), (k * size, 0))
    return strip


def samples_figure(exp: Path, path: Path, names: dict[str, str], seeds=(0, 1, 2, 3)) -> bool:
    """Per variant: generated images (4 views per seed) beside their SDF/density meshes."""
    blocks = []
    for variant in VARIANTS:
        folder = exp / "samples" / variant
        rows = []
        for s in seeds:
            png, ply = folder / f"seed{s:04d}.png", folder / f"seed{s:04d}.ply"
            if not png.exists():
                continue
            img = Image.open(png).convert("RGB")
            h = img.height
            meshes = mesh_strip(ply, h, img.width // h) if ply.exists() else Image.new("RGB", img.size, "white")
            row = Image.new("RGB", (img.width + meshes.width, h), "white")
            row.paste(img, (0, 0))
            row.paste(meshes, (img.width, 0))
            rows.append(row)
        if rows:
            block = Image.new("RGB", (rows[0].width, 14 + sum(r.height for r in rows)), "white")
            ImageDraw.Draw(block).text((4, 1), f"{names[variant]}: seeds {seeds[0]}-{seeds[-1]}, images | meshes",
                                       fill=(0, 0, 0))
            y = 14
            for r in rows:
                block.paste(r, (0, y))
                y += r.height
            blocks.append(block)
    if not blocks:
        return False
    fig = Image.new("RGB", (max(b.width for b in blocks), sum(b.height for b in blocks)), "white")
    y = 0
    for b in blocks:
        fig.paste(b, (0, y))
        y += b.height
    save_png(fig, path)
    return True


def inversions_figure(exp: Path, study: dict, path: Path, names: dict[str, str], n_ids: int = 3) -> bool:
    """Per test identity: input, held-out view and GT mesh (top), then each variant's inversion,
    its render of the held-out view and its mesh (the seed-0 benchmark's per-identity pictures)."""
    folder = {v: exp / "results" / "test" / f"s0-{r}.pictures" for r, v in study["runs"].items()}
    first = folder[VARIANTS[0]]
    ids = sorted(p.stem for p in first.glob("*.png"))[:n_ids] if first.exists() else []
    blocks = []
    for sid in ids:
        pics = {v: folder[v] / f"{sid}.png" for v in VARIANTS}
        if not all(p.exists() for p in pics.values()):
            continue
        top = Image.open(pics[VARIANTS[0]]).convert("RGB")
        w, h2 = top.width, top.height // 2
        parts = [with_margin(top.crop((0, 0, w, h2)), f"identity {sid}")]
        for v in VARIANTS:
            parts.append(with_margin(Image.open(pics[v]).convert("RGB").crop((0, h2, w, 2 * h2)), names[v]))
        w = parts[0].width
        block = Image.new("RGB", (w, h2 * len(parts)), "white")
        for k, p in enumerate(parts):
            block.paste(p, (0, k * h2))
        blocks.append(block.resize((w * 3 // 4, block.height * 3 // 4), Image.LANCZOS))
    if not blocks:
        return False
    fig = Image.new("RGB", (blocks[0].width, sum(b.height for b in blocks)), "white")
    y = 0
    for b in blocks:
        fig.paste(b, (0, y))
        y += b.height
    save_png(fig, path)
    return True
