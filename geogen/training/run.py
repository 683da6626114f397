"""A training run: resume, the loop, snapshots, sample images, TensorBoard, progress bar.

``prepare_run`` resolves the config and the snapshot to resume from; ``train`` runs it.
Only rank 0 writes files; every rank runs the same iterations on its shard of each batch.
"""

from __future__ import annotations

import dataclasses
import json
import time
from pathlib import Path

import numpy as np
import torch

from geogen.common.atomic import atomic_path, atomic_write_json, ensure_writable_dir
from geogen.common.errors import UserError
from geogen.common.threads import ThreadGovernor
from geogen.model.config import ModelConfig, model_config

from . import checkpoint as ckpt
from .config import TrainConfig, model_with_overrides, train_config, with_overrides
from .data import ImageLabelDataset
from .distributed import DistContext
from .trainer import Trainer, TrainingDiverged
from .visualize import depth_to_uint8, grid, image_to_uint8, orbit_labels, render_views, upscale_to

MODEL_FILE = "geogen.pkl"
STATS_FILE = "stats.jsonl"   # one JSON object of logged scalars per log step (appended; a resume may repeat steps)


def resolve_resume(out_dir: Path, resume: str | None) -> Path | None:
    """The snapshot to resume from: ``auto`` = latest in ``out_dir`` (None if there is none), a path,
    or None for a fresh run (refused if ``out_dir`` already holds snapshots)."""
    if resume is None:
        if ckpt.list_snapshots(out_dir):
            raise UserError(f"{out_dir} already holds a training run; pass --resume auto to continue it "
                            "or choose another --out")
        return None
    if resume == "auto":
        return ckpt.find_latest(out_dir)
    path = Path(resume)
    if not path.is_file():
        raise UserError(f"--resume {resume}: no such snapshot file (use 'auto' for the latest in --out)")
    return path


def branch_run(snapshot: str | Path, variant: str, out_dir: str | Path) -> Path:
    """Start ``out_dir`` as a ``variant`` run from another variant's snapshot, taken while the two
    variants still trained identically: same field and model overrides, and the depth loss (the
    only difference between geogen and geogen-nodepth) not yet switched on. Saves a third of the
    compute of a comparison (geogen and its ablation share the run up to the switch point N)."""
    from geogen.model.config import VARIANT_REGISTRY

    src = Path(snapshot)
    if not src.is_file():
        raise UserError(f"--branch-from {src}: no such snapshot file")
    out_dir = Path(out_dir)
    if ckpt.list_snapshots(out_dir):
        raise UserError(f"{out_dir} already holds a training run; branch into an empty --out")
    snap = ckpt.load_file(src, "snapshot")
    cfg = TrainConfig.from_dict(snap["train_config"])
    old, new = VARIANT_REGISTRY.get(cfg.variant), VARIANT_REGISTRY.get(variant)
    kimg = snap["progress"]["nimg"] / 1000
    if (old.field_kind, old.model_overrides) != (new.field_kind, new.model_overrides):
        raise UserError(f"cannot branch {variant} from a {cfg.variant} snapshot: the models differ")
    if old.depth_loss and cfg.loss.depth_loss_weight > 0 and kimg > cfg.loss.switch_kimg:
        raise UserError(f"{src} is at kimg {kimg:g}, after the depth loss started "
                        f"(switch_kimg {cfg.loss.switch_kimg:g}); branch from a snapshot at or before it")
    loss = dataclasses.replace(cfg.loss, **new.loss_overrides)
    snap["train_config"] = dataclasses.replace(cfg, variant=variant, loss=loss).to_dict()
    snap["model_config"] = {**snap["model_config"], "variant": variant}
    snap["meta"] = {**snap.get("meta", {}), "variant": variant, "branched_from": str(src.resolve())}
    ensure_writable_dir(out_dir)
    name = ckpt.snapshot_name(kimg)
    ckpt.save_file(out_dir / name, {k: v for k, v in snap.items() if k not in ("format", "format_version", "kind")},
                   "snapshot")
    ckpt.write_latest(out_dir, name)
    return out_dir / name


def prepare_run(preset: str, variant: str, out_dir: str | Path, resume: str | None = None,
                kimg: float | None = None, seed: int | None = None,
                overrides: list[str] = ()) -> tuple[TrainConfig, ModelConfig, dict | None]:
    """(training config, model config, loaded snapshot or None).

    A fresh run starts from the preset's configs; a resumed run from the configs saved in its
    snapshot. Then ``kimg``, ``seed`` and the ``key=value`` overrides of this command line apply
    (so a diverged run can continue with lower learning rates); ``model.<field>=value`` changes the
    architecture, which a resumed run must keep.
    """
    out_dir = Path(out_dir)
    snap_path = resolve_resume(out_dir, resume)
    if snap_path is None:
        cfg, snap = train_config(preset, variant), None
        model_cfg = model_config(preset, variant)
    else:
        snap = ckpt.load_file(snap_path, "snapshot")
        cfg = TrainConfig.from_dict(snap["train_config"])
        model_cfg = ModelConfig.from_dict(snap["model_config"])
        if (cfg.preset, cfg.variant) != (preset, variant):
            raise UserError(f"{snap_path} is a {cfg.variant}/{cfg.preset} run, not {variant}/{preset}; "
                            "resume with the same --variant and --preset")
        if seed is not None and seed != cfg.seed:
            raise UserError(f"{snap_path} was trained with --seed {cfg.seed}; a resumed run keeps its seed")
        snap["_path"] = str(snap_path)
    changes = {k: v for k, v in (("kimg", kimg), ("seed", seed)) if v is not None}
    cfg = with_overrides(dataclasses.replace(cfg, **changes), list(overrides))
    new_model_cfg = model_with_overrides(model_cfg, list(overrides))
    if snap is not None and not model_cfg.same_architecture(new_model_cfg):
        raise UserError(f"{snap_path} was trained with another model config; a resumed run keeps its "
                        f"architecture (only {', '.join(ModelConfig.RESUMABLE_FIELDS)} may change: drop the "
                        "other --set model.* options or start a new --out)")
    return cfg, new_model_cfg, snap


def final_nimg(start: int, target: int, batch: int) -> int:
    """Images seen when the loop stops: it runs whole batches from ``start`` until ``target`` is reached."""
    return start + max(0, -(-(target - start) // batch)) * batch


class Run:
    """Files and logs of one run (rank 0 only writes)."""

    def __init__(self, trainer: Trainer, out_dir: Path, progress_bar: bool):
        # the bar's total is where the loop stops: the first whole batch at or past --kimg
        self.trainer, self.out_dir = trainer, out_dir
        self.main = trainer.ctx.is_main
        self.writer = None
        self.bar = None
        self.last_snapshot: Path | None = ckpt.find_latest(out_dir) if self.main else None
        if self.main:
            from torch.utils.tensorboard import SummaryWriter

            self.writer = SummaryWriter(str(out_dir / "tb"), purge_step=trainer.progress.nimg)
            if progress_bar:
                from tqdm import tqdm

                cfg = trainer.cfg
                end = final_nimg(trainer.progress.nimg, round(cfg.kimg * 1000), cfg.loss.batch_size)
                self.bar = tqdm(total=end / 1000, initial=trainer.progress.kimg, unit="kimg", dynamic_ncols=True,
                                bar_format="{l_bar}{bar}| {n:.3f}/{total:.3f} kimg "
                                           "[{elapsed}<{remaining}, {rate_fmt}{postfix}]")

    def log(self, stats: dict[str, float], images_per_s: float) -> None:
        t = self.trainer
        if self.bar is not None:
            self.bar.update(t.progress.kimg - self.bar.n)
            beta = f" β_ema {stats['schedule/beta_ema']:.4f}" if "schedule/beta_ema" in stats else ""
            self.bar.set_postfix_str(f"G {stats.get('G/gan', float('nan')):.3f} D {stats.get('D/loss', float('nan')):.3f}"
                                     f"{beta} {images_per_s:.1f} img/s", refresh=False)
        if self.writer is not None and t.progress.step % max(t.cfg.log_steps, 1) == 0:
            for k, v in stats.items():
                self.writer.add_scalar(k, v, t.progress.nimg)
            # the same scalars as JSON lines, for scripts (diagnostics, reports) without TensorBoard
            with open(self.out_dir / STATS_FILE, "a") as f:
                f.write(json.dumps({"nimg": t.progress.nimg, "images_per_s": images_per_s, **stats}) + "\n")
            self.writer.add_scalar("progress/images_per_s", images_per_s, t.progress.nimg)
            self.writer.add_scalar("progress/kimg", t.progress.kimg, t.progress.nimg)

    def snapshot(self) -> Path | None:
        """Write snapshot-<kimg>.pt, move ``latest`` to it, prune old ones, write sample images."""
        if not self.main:
            return None
        t = self.trainer
        name = ckpt.snapshot_name(t.progress.kimg)
        path = ckpt.save_file(self.out_dir / name, t.state_dict(), "snapshot")
        ckpt.write_latest(self.out_dir, name)
        ckpt.prune_snapshots(self.out_dir, t.cfg.keep_snapshots, t.cfg.milestone_kimg)
        self.last_snapshot = path
        self.samples()
        return path

    def samples(self, n_latents: int = 4, n_views: int = 4) -> None:
        """Fixed latents from 4 azimuths: samples-<kimg>.png (images over depth) and TensorBoard."""
        t = self.trainer
        G, mc = t.G_ema, t.model_cfg
        gen = torch.Generator().manual_seed(t.cfg.seed)
        z = torch.randn(n_latents, mc.z_dim, generator=gen).to(t.ctx.device)
        labels = orbit_labels(n_views, t.camera).to(t.ctx.device)
        front = labels[:1].expand(n_latents, -1)
        images, depths = [], []
        with torch.no_grad():
            ws = G.mapping(z, front)
            for i in range(n_latents):
                r = render_views(G, ws[i:i + 1], labels)
                images.append(image_to_uint8(r["image"]))
                d = depth_to_uint8(r["depth"], r["weights_sum"], mc.ray_start, mc.ray_end)
                depths.append(upscale_to(d, mc.image_resolution))
        img_grid = grid(np.concatenate(images), n_views)
        depth_grid = grid(np.concatenate(depths), n_views)
        sheet = np.concatenate([img_grid, depth_grid], axis=1)
        from PIL import Image

        with atomic_path(self.out_dir / f"samples-{t.progress.kimg:09.3f}.png") as tmp:
            Image.fromarray(sheet).save(tmp)
        if self.writer is not None:
            self.writer.add_image("samples/images", img_grid, t.progress.nimg, dataformats="HWC")
            self.writer.add_image("samples/depth", depth_grid, t.progress.nimg, dataformats="HWC")
            self.writer.flush()

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
        if self.writer is not None:
            self.writer.close()


def train(data: str | Path, out_dir: str | Path, cfg: TrainConfig, model_cfg: ModelConfig,
          snap: dict | None = None, ctx: DistContext = DistContext(), progress_bar: bool = True,
          threads: ThreadGovernor | None = None) -> Path | None:
    """Train until ``cfg.kimg`` (continuing ``snap`` when given, see :func:`prepare_run`);
    returns the final model file path on rank 0. ``threads``: re-checked once per iteration
    (``--threads auto``); its count is logged as ``progress/threads``."""
    out_dir = Path(out_dir)
    if ctx.is_main:
        ensure_writable_dir(out_dir)
    dataset = ImageLabelDataset(data, model_cfg.image_resolution, xflip=cfg.xflip)
    trainer = Trainer(cfg, model_cfg, dataset, ctx)
    if snap is not None:
        trainer.load_state_dict(snap)
    if ctx.is_main:
        atomic_write_json(out_dir / "config.json", {"train_config": cfg.to_dict(), "model_config": model_cfg.to_dict(),
                                                    "data": str(data), "world_size": ctx.world})
    run = Run(trainer, out_dir, progress_bar)
    snap_every = max(1, round(cfg.snapshot_kimg * 1000))
    total = round(cfg.kimg * 1000)
    try:
        while trainer.progress.nimg < total:
            start, before = time.perf_counter(), trainer.progress.nimg
            try:
                stats = trainer.train_step()
            except TrainingDiverged as exc:
                last = f"the last good snapshot is {run.last_snapshot}" if run.last_snapshot else \
                    "no snapshot had been written yet"
                raise TrainingDiverged(f"training stopped: {exc}; nothing from that step was saved and {last}; "
                                       "lower the learning rates (--set loss.g_lr=... --set loss.d_lr=...) "
                                       "and continue with --resume auto") from None
            if threads is not None:
                stats["progress/threads"] = float(threads.threads)
                threads.update()
            run.log(stats, cfg.loss.batch_size / max(time.perf_counter() - start, 1e-9))
            if trainer.progress.nimg // snap_every > before // snap_every and trainer.progress.nimg < total:
                run.snapshot()
        if run.last_snapshot is None or run.last_snapshot.name != ckpt.snapshot_name(trainer.progress.kimg):
            run.snapshot()
        if ctx.is_main:
            return ckpt.save_file(out_dir / MODEL_FILE, trainer.model_payload(), "model")
        return None
    finally:
        run.close()
