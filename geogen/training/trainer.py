"""One GAN training iteration of EG3D / GeoGen, split into small phases, and its resumable state.

An iteration (``Trainer.train_step``) is:

1. G phase: render fakes from random dataset cameras (mapping conditioned on a swapped camera
   with the GPC probability), non-saturating loss through a frozen D, plus λ·(SDF depth loss),
   the eikonal and minimal-surface terms on the rendered samples (SDF variants) and EG3D's
   density regulariser (weights in the loss config); Adam step on G, whose log β has its own
   parameter group and learning rate (``loss.beta_lr``).
2. D phase: logistic loss on detached fakes and real images (final image ⊕ raw-resolution copy
   for the dual discriminator); Adam step on D.
3. Every ``r1_interval`` iterations, lazy R1 on real images (γ/2·‖∇D‖² · interval); Adam step
   on D with EG3D's lazy-regularisation correction of lr and betas.
4. G_ema update.

With ``reuse_fakes`` (the tiny preset's CPU saving) the D phase runs first on the renderings
the G phase then back-propagates through, as in the classic DCGAN loop: one G forward pass
less per iteration, at the price of D seeing the fakes of the current rather than a fresh z.

Every random number of iteration k on rank r comes from a generator seeded by (seed, r, k),
and the data order is a pure function of (seed, k): a resumed run repeats exactly what an
uninterrupted one would have done.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from geogen.common.errors import UserError
from geogen.model.config import ModelConfig
from geogen.model.discriminator import Discriminator
from geogen.model.generator import Generator

from .checkpoint import load_state
from .config import TrainConfig
from .data import ImageLabelDataset, ResumableBatchSampler, camera_stats
from .distributed import DistContext, all_reduce_mean, average_gradients, broadcast_module, step_seed
from geogen.model.regularizers import minimal_surface_loss, subsample_points

from .losses import Schedule, d_logistic, ema_beta, g_nonsaturating, r1_penalty, schedule_at, update_ema


class TrainingDiverged(UserError):
    """A loss became NaN or infinite; the step was not applied."""


@dataclass
class Progress:
    step: int = 0      # iterations done
    nimg: int = 0      # real images shown, all ranks together

    @property
    def kimg(self) -> float:
        return self.nimg / 1000.0


class Trainer:
    """Networks, optimizers and progress of one run; ``train_step`` advances it by one iteration."""

    def __init__(self, cfg: TrainConfig, model_cfg: ModelConfig, dataset: ImageLabelDataset,
                 ctx: DistContext = DistContext()):
        if cfg.loss.batch_size % ctx.world:
            raise UserError(f"batch size {cfg.loss.batch_size} is not divisible by the {ctx.world} processes; "
                            "change --set loss.batch_size or --nproc_per_node")
        if dataset.resolution != model_cfg.image_resolution:
            raise UserError(f"dataset resized to {dataset.resolution}² but the model renders "
                            f"{model_cfg.image_resolution}²")
        self.cfg, self.model_cfg, self.dataset, self.ctx = cfg, model_cfg, dataset, ctx
        self.batch_per_rank = cfg.loss.batch_size // ctx.world
        dev = ctx.device
        torch.manual_seed(cfg.seed)  # identical initial weights on every rank
        self.G = Generator(model_cfg).to(dev).train()
        self.D = Discriminator(model_cfg).to(dev).train()
        self.G_ema = copy.deepcopy(self.G).eval().requires_grad_(False)
        for m in (self.G, self.D, self.G_ema):
            broadcast_module(m, ctx)
        self.opt_G = torch.optim.Adam(self._g_param_groups(), eps=1e-8)
        self.opt_D = torch.optim.Adam(self.D.parameters(), eps=1e-8)
        self._set_optimizer_hyperparameters()
        self.gen_labels = dataset.all_labels().to(dev)
        self.camera = camera_stats(dataset.labels)
        self.progress = Progress()
        self._batches = None
        self._last_r1: dict[str, float] = {}

    def _g_param_groups(self) -> list[dict]:
        """G's networks, and (SDF variants) log β in a group of its own with its own learning rate:
        at G's lr Adam moved β by ~5 % per step and it collapsed within a few hundred images."""
        beta = [self.G.field.log_beta] if self.G.field.is_sdf else []
        rest = [p for p in self.G.parameters() if all(p is not b for b in beta)]
        return [{"params": rest, "name": "networks"}] + ([{"params": beta, "name": "log_beta"}] if beta else [])

    def _set_optimizer_hyperparameters(self) -> None:
        """lr and betas from the config (also after a resume, so --set can change them)."""
        L = self.cfg.loss
        # lazy R1: EG3D/StyleGAN2 correct D's lr and betas for the extra D step every interval
        ratio = L.r1_interval / (L.r1_interval + 1) if L.r1_gamma > 0 and L.r1_interval > 0 else 1.0
        for opt, lr, r in ((self.opt_G, L.g_lr, 1.0), (self.opt_D, L.d_lr * ratio, ratio)):
            for group in opt.param_groups:
                group["lr"] = L.beta_lr if group.get("name") == "log_beta" else lr
                group["betas"] = tuple(b ** r for b in L.adam_betas)

    # ------------------------------------------------------------------ data
    def _next_batch(self) -> tuple[torch.Tensor, torch.Tensor]:
        if self._batches is None:  # (re)started lazily so a resume starts at the right batch
            sampler = ResumableBatchSampler(len(self.dataset), self.batch_per_rank, self.ctx.rank, self.ctx.world,
                                            self.cfg.seed, start_batch=self.progress.step)
            # its own generator: creating the loader must not draw from the (per-step seeded) global RNG
            loader = torch.utils.data.DataLoader(self.dataset, batch_sampler=sampler, num_workers=self.cfg.workers,
                                                 persistent_workers=self.cfg.workers > 0,
                                                 generator=torch.Generator().manual_seed(self.cfg.seed))
            self._batches = iter(loader)
        images, labels = next(self._batches)
        return images.to(self.ctx.device), labels.to(self.ctx.device)

    def _random_cameras(self, n: int, swap_prob: float) -> tuple[torch.Tensor, torch.Tensor]:
        """Rendering cameras drawn from the dataset, and the mapping's conditioning cameras
        (each swapped for another random dataset camera with probability ``swap_prob``)."""
        labels = self.gen_labels
        c = labels[torch.randint(len(labels), (n,), device=labels.device)]
        other = labels[torch.randint(len(labels), (n,), device=labels.device)]
        swap = torch.rand(n, 1, device=labels.device) < swap_prob
        return c, torch.where(swap, other, c)

    def _generate(self, sched: Schedule, grad: bool) -> tuple[dict, torch.Tensor]:
        n = self.batch_per_rank
        z = torch.randn(n, self.model_cfg.z_dim, device=self.ctx.device)
        c, c_cond = self._random_cameras(n, sched.swap_prob)
        with torch.set_grad_enabled(grad):
            ws = self.G.mapping(z, c_cond, update_emas=grad)
            out = self.G.synthesis(ws, c, noise_mode="random")
        return out, c

    def _real_inputs(self, images: torch.Tensor, requires_grad: bool = False) -> dict:
        """Real images in the dual discriminator's layout: final image and the raw-resolution copy."""
        h = self.model_cfg.neural_resolution
        raw = F.interpolate(images, size=(h, h), mode="bilinear", align_corners=False, antialias=True)
        image = images.detach().requires_grad_(requires_grad)
        return {"image": image, "image_raw": raw.detach().requires_grad_(requires_grad)}

    # ------------------------------------------------------------------ phases
    def _check_finite(self, losses: dict[str, torch.Tensor]) -> None:
        """Stop (before any optimizer step) if a loss is NaN/inf on any rank."""
        bad = [k for k, v in losses.items() if not torch.isfinite(v.detach()).all()]
        flag = torch.tensor([float(len(bad))], device=self.ctx.device)
        if self.ctx.enabled:
            torch.distributed.all_reduce(flag)
        if flag.item() > 0:
            what = ", ".join(bad) if bad else "a loss on another rank"
            raise TrainingDiverged(f"{what} became NaN/inf at iteration {self.progress.step} "
                                   f"(kimg {self.progress.kimg:.3f})")

    def _apply(self, module: torch.nn.Module, opt: torch.optim.Optimizer, total: torch.Tensor,
               losses: dict[str, torch.Tensor]) -> None:
        self._check_finite(losses)
        opt.zero_grad(set_to_none=True)
        total.backward()
        average_gradients(module, self.ctx)
        opt.step()

    def _regularizers(self, fake: dict) -> list[tuple[str, float, torch.Tensor]]:
        """(name, weight, value) of the geometry regularisers with a weight > 0 (loss config)."""
        L, terms = self.cfg.loss, []
        if L.eikonal_weight > 0:
            pts = subsample_points(fake["sample_points"], L.eikonal_points)
            terms.append(("G/eikonal", L.eikonal_weight, self.G.eikonal_loss(fake["planes"], pts)))
        if L.minimal_surface_weight > 0:
            terms.append(("G/minimal_surface", L.minimal_surface_weight, minimal_surface_loss(fake["sample_sdf"])))
        if L.density_reg_weight > 0:
            terms.append(("G/density_reg", L.density_reg_weight,
                          self.G.density_smoothness_loss(fake["planes"], L.density_reg_points, L.density_reg_p_dist)))
        return terms

    def g_step(self, sched: Schedule, fakes: tuple[dict, torch.Tensor] | None = None) -> dict[str, float]:
        """Non-saturating G loss through a frozen D, + λ·SDF depth loss, + the weighted regularisers.
        ``fakes``: renderings (with their graph) to use instead of rendering new ones."""
        self.D.requires_grad_(False)
        fake, c = fakes if fakes is not None else self._generate(sched, grad=True)
        losses = {"G/gan": g_nonsaturating(self.D(fake, c, blur_sigma=sched.blur_sigma))}
        total = losses["G/gan"]
        if "sdf_depth_loss" in fake:
            losses["G/sdf_depth"] = fake["sdf_depth_loss"]
            if sched.depth_weight > 0:
                total = total + sched.depth_weight * fake["sdf_depth_loss"]
        for name, weight, value in self._regularizers(fake):
            losses[name] = value
            total = total + weight * value
        self._apply(self.G, self.opt_G, total, losses)
        self.D.requires_grad_(True)
        return {k: float(v.detach()) for k, v in losses.items()}

    def d_step(self, images: torch.Tensor, labels: torch.Tensor, sched: Schedule,
               fakes: tuple[dict, torch.Tensor] | None = None) -> dict[str, float]:
        """Logistic D loss on detached fakes (new ones unless ``fakes`` is given) and real images."""
        if fakes is None:
            fake, c = self._generate(sched, grad=False)
        else:
            fake, c = {k: v.detach() for k, v in fakes[0].items()}, fakes[1]
        fake_logits = self.D(fake, c, blur_sigma=sched.blur_sigma)
        real_logits = self.D(self._real_inputs(images), labels, blur_sigma=sched.blur_sigma)
        loss = d_logistic(fake_logits, real_logits)
        self._apply(self.D, self.opt_D, loss, {"D/loss": loss})
        return {"D/loss": float(loss.detach()), "D/real_score": float(real_logits.detach().mean()),
                "D/fake_score": float(fake_logits.detach().mean())}

    def r1_step(self, images: torch.Tensor, labels: torch.Tensor, sched: Schedule) -> dict[str, float]:
        """Lazy R1 on both real inputs of the dual D, scaled by the interval."""
        L = self.cfg.loss
        real = self._real_inputs(images, requires_grad=True)
        logits = self.D(real, labels, blur_sigma=sched.blur_sigma)
        penalty = r1_penalty(logits, [real["image"], real["image_raw"]])
        loss = (penalty * (L.r1_gamma / 2)).mean() * L.r1_interval
        self._apply(self.D, self.opt_D, loss, {"D/r1": penalty.mean()})
        return {"D/r1": float(penalty.mean().detach())}

    # ------------------------------------------------------------------ iteration
    def schedule(self) -> Schedule:
        return schedule_at(self.cfg.loss, self.progress.kimg, self.cfg.variant)

    def train_step(self) -> dict[str, float]:
        """One full iteration (G, D, lazy R1, EMA); returns rank-averaged statistics."""
        torch.manual_seed(step_seed(self.cfg.seed, self.ctx.rank, self.progress.step))
        images, labels = self._next_batch()
        sched = self.schedule()
        self.G.set_beta_trainable(sched.beta_trainable)
        if self.cfg.reuse_fakes:  # D then G on the same renderings: one G forward less per iteration
            fakes = self._generate(sched, grad=True)
            stats = self.d_step(images, labels, sched, fakes)
            stats.update(self.g_step(sched, fakes))
            del fakes
        else:  # EG3D: G phase, then D phase on fresh renderings
            stats = self.g_step(sched)
            stats.update(self.d_step(images, labels, sched))
        L = self.cfg.loss
        if L.r1_gamma > 0 and L.r1_interval > 0 and self.progress.step % L.r1_interval == 0:
            self._last_r1 = self.r1_step(images, labels, sched)
        stats.update(self._last_r1)  # the latest R1 value, so every logged step shows it
        batch = L.batch_size
        update_ema(self.G_ema, self.G, ema_beta(batch, self.progress.nimg, L.ema_kimg, L.ema_rampup))
        self.progress.step += 1
        self.progress.nimg += batch
        stats = all_reduce_mean(stats, self.ctx)
        stats.update({f"schedule/{k}": float(v) for k, v in sched.to_dict().items()})
        stats.update({f"schedule/{k}": v for k, v in self.betas().items()})
        return stats

    def betas(self) -> dict[str, float]:
        """β of G and of G_ema (the network that is saved, benchmarked and sampled); {} for density fields."""
        if not self.G.field.is_sdf:
            return {}
        return {"beta": float(self.G.beta.detach()), "beta_ema": float(self.G_ema.beta.detach())}

    # ------------------------------------------------------------------ state
    def state_dict(self) -> dict:
        """Snapshot payload (plain data + tensors; see checkpoint.py)."""
        return {
            "model_config": self.model_cfg.to_dict(),
            "train_config": self.cfg.to_dict(),
            "G": self.G.state_dict(), "D": self.D.state_dict(), "G_ema": self.G_ema.state_dict(),
            "opt_G": self.opt_G.state_dict(), "opt_D": self.opt_D.state_dict(),
            "progress": {"step": self.progress.step, "nimg": self.progress.nimg},
            "schedule": {**self.schedule().to_dict(), **self.betas()},
            "rng": {"torch": torch.get_rng_state()},
            "meta": self.meta(),
        }

    def meta(self) -> dict:
        """Provenance stored with snapshots and model files; ``beta`` is G_ema's, the β the saved model uses."""
        beta = self.betas().get("beta_ema")
        return {"camera": self.camera, "kimg": self.progress.kimg, "step": self.progress.step,
                "variant": self.cfg.variant, "preset": self.cfg.preset, "world_size": self.ctx.world,
                "num_images": self.dataset.num_images, "beta": beta}

    def model_payload(self) -> dict:
        """Payload of the final ``geogen.pkl``: G_ema and the configs only."""
        return {"model_config": self.model_cfg.to_dict(), "train_config": self.cfg.to_dict(),
                "G_ema": self.G_ema.state_dict(), "meta": self.meta()}

    def load_state_dict(self, obj: dict) -> None:
        """Restore a snapshot written by :meth:`state_dict` (after ``checkpoint.load_file``)."""
        if obj["model_config"] != self.model_cfg.to_dict():
            raise UserError("the snapshot was trained with a different model config (preset/variant); "
                            "resume with the same --preset and --variant or start a new --out folder")
        for name, module in (("G", self.G), ("D", self.D), ("G_ema", self.G_ema)):
            load_state(module, obj[name], f"snapshot {name} weights")
        for name, opt in (("opt_G", self.opt_G), ("opt_D", self.opt_D)):
            try:
                opt.load_state_dict(obj[name])
            except (ValueError, KeyError) as exc:
                raise UserError(f"snapshot {name} does not match the model ({exc})") from None
        self._set_optimizer_hyperparameters()
        self.progress = Progress(step=int(obj["progress"]["step"]), nimg=int(obj["progress"]["nimg"]))
        self.G.set_beta_trainable(self.schedule().beta_trainable)
        if "rng" in obj:
            torch.set_rng_state(obj["rng"]["torch"])
        self._batches = None
