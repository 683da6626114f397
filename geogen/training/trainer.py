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

Each process runs its share of the global batch as micro-batches of ``batch_gpu`` samples
(gradients accumulated; StyleGAN2-ADA's batch/batch_gpu). Every random number of micro-batch j
of iteration k comes from a stream seeded by (seed, j, k), and the data order is a pure
function of (seed, k): a resumed run repeats exactly what an uninterrupted one would have done,
and N processes compute what one process computes at the same ``batch_gpu`` (see
distributed.py).
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
from .distributed import (DistContext, RandomStreams, RankSlice, all_reduce_mean, all_reduce_mean_tensor,
                          average_gradients, broadcast_module, set_precision, step_seed)
from geogen.model.regularizers import minimal_surface_loss, subsample_points
from geogen.model.runtime import keep_freed_memory

from .losses import Schedule, d_logistic, ema_beta, g_nonsaturating, r1_penalty, schedule_at, update_ema


FUSED_ADAM_DEVICES = ("cpu", "cuda")   # devices with torch's fused Adam kernel


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
        self.micro = cfg.batch_gpu or self.batch_per_rank  # samples per forward pass
        if cfg.batch_gpu < 0 or self.batch_per_rank % self.micro:
            raise UserError(f"batch_gpu {cfg.batch_gpu} does not divide the {self.batch_per_rank} samples per process "
                            f"(batch size {cfg.loss.batch_size} over {ctx.world}); change --set batch_gpu")
        self.rounds = self.batch_per_rank // self.micro  # micro-batches accumulated per step
        if cfg.bf16:  # the autocast path below is ready; the sampler's custom backward is not
            raise UserError("bf16=true is not supported yet: the tri-plane sampler's custom backward "
                            "(geogen/model/triplane.py) gets bf16 planes and float32 gradients; train in float32")
        set_precision(ctx, cfg.tf32)
        dev = ctx.device
        torch.manual_seed(cfg.seed)  # identical initial weights on every rank
        self.G = Generator(model_cfg).to(dev).train()
        self.D = Discriminator(model_cfg).to(dev).train()
        self.G_ema = copy.deepcopy(self.G).eval().requires_grad_(False)
        for m in (self.G, self.D, self.G_ema):
            broadcast_module(m, ctx)
        if dev.type == "cpu":  # glibc would page-fault the ~100 MB activation buffers in again every step
            keep_freed_memory()
        self.opt_G = torch.optim.Adam(self._g_param_groups(), eps=1e-8)
        self.opt_D = torch.optim.Adam(self.D.parameters(), eps=1e-8)
        self._set_optimizer_hyperparameters()
        self.gen_labels = dataset.all_labels().to(dev)
        self.camera = camera_stats(dataset.labels)
        self.progress = Progress()
        self._batches = None
        self._last_r1: dict[str, float] = {}
        self._w_means: list[torch.Tensor] = []  # mean w of each micro-batch rendered with grad this step

    def _g_param_groups(self) -> list[dict]:
        """G's networks, and (SDF variants) log β in a group of its own with its own learning rate:
        at G's lr Adam moved β by ~5 % per step and it collapsed within a few hundred images."""
        beta = [self.G.field.log_beta] if self.G.field.is_sdf else []
        rest = [p for p in self.G.parameters() if all(p is not b for b in beta)]
        return [{"params": rest, "name": "networks"}] + ([{"params": beta, "name": "log_beta"}] if beta else [])

    @property
    def _fused_adam(self) -> bool:
        return self.ctx.device.type in FUSED_ADAM_DEVICES

    def _set_optimizer_hyperparameters(self) -> None:
        """lr and betas from the config (also after a resume, so --set can change them)."""
        L = self.cfg.loss
        # lazy R1: EG3D/StyleGAN2 correct D's lr and betas for the extra D step every interval
        ratio = L.r1_interval / (L.r1_interval + 1) if L.r1_gamma > 0 and L.r1_interval > 0 else 1.0
        for opt, lr, r in ((self.opt_G, L.g_lr, 1.0), (self.opt_D, L.d_lr * ratio, ratio)):
            for group in opt.param_groups:
                group["lr"] = L.beta_lr if group.get("name") == "log_beta" else lr
                group["betas"] = tuple(b ** r for b in L.adam_betas)
                # torch's fused Adam kernel (one pass per tensor) instead of its per-parameter Python loop;
                # the same update up to float rounding. Also set on groups loaded from older snapshots.
                group["foreach"], group["fused"] = None, self._fused_adam

    # ------------------------------------------------------------------ data
    def _next_batch(self) -> tuple[torch.Tensor, torch.Tensor]:
        if self._batches is None:  # (re)started lazily so a resume starts at the right batch
            glob = ResumableBatchSampler(len(self.dataset), self.cfg.loss.batch_size, 0, 1, self.cfg.seed,
                                         start_batch=self.progress.step)  # the global batches, then this rank's part
            lo = self.ctx.rank * self.batch_per_rank
            sampler = RankSlice(glob, lo, lo + self.batch_per_rank)
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
        """Render one micro-batch of fakes; with ``grad``, also remember its mean w for w_avg."""
        n = self.micro
        z = torch.randn(n, self.model_cfg.z_dim, device=self.ctx.device)
        c, c_cond = self._random_cameras(n, sched.swap_prob)
        with torch.set_grad_enabled(grad):
            ws = self.G.mapping(z, c_cond)
            if grad:
                self._w_means.append(ws[:, 0].detach().contiguous().mean(dim=0))
            with torch.autocast(self.ctx.device.type, dtype=torch.bfloat16, enabled=self.cfg.bf16):
                out = self.G.synthesis(ws, c, noise_mode="random")
        if self.cfg.bf16:  # D and the losses stay in float32
            out = {k: v.float() if torch.is_tensor(v) and v.is_floating_point() else v for k, v in out.items()}
        return out, c

    def _update_w_avg(self) -> None:
        """EG3D's w_avg tracking, once per step from the mean w of the whole global batch (the
        mapping's own update would run per micro-batch and per rank, and ranks would drift apart)."""
        if not self._w_means:
            return
        mapping = self.G.mapping_network
        mean = all_reduce_mean_tensor(torch.stack(self._w_means).mean(dim=0), self.ctx)
        mapping.w_avg.copy_(mean.lerp(mapping.w_avg, mapping.w_avg_beta))
        self._w_means = []

    def _chunks(self, *tensors: torch.Tensor) -> list[tuple[torch.Tensor, ...]]:
        """This process's batch as its micro-batches."""
        return list(zip(*(t.split(self.micro) for t in tensors)))

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

    def _accumulate(self, total: torch.Tensor, losses: dict[str, torch.Tensor]) -> None:
        """Backward of one micro-batch's loss, scaled so the accumulated gradient is the mean."""
        self._check_finite(losses)
        (total / self.rounds if self.rounds > 1 else total).backward()

    def _step(self, module: torch.nn.Module, opt: torch.optim.Optimizer) -> None:
        average_gradients(module, self.ctx)
        opt.step()

    @staticmethod
    def _mean_stats(per_micro: list[dict[str, float]]) -> dict[str, float]:
        return {k: sum(d[k] for d in per_micro) / len(per_micro) for k in per_micro[0]}

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

    def streams(self) -> RandomStreams:
        """The random streams of this process's micro-batches at the current iteration."""
        first = self.ctx.rank * self.rounds  # index of this process's first micro-batch in the global batch
        return RandomStreams([step_seed(self.cfg.seed, first + j, self.progress.step) for j in range(self.rounds)],
                             self.ctx.device)

    def g_step(self, sched: Schedule, fakes: list[tuple[dict, torch.Tensor]] | None = None,
               streams: RandomStreams | None = None) -> dict[str, float]:
        """Non-saturating G loss through a frozen D, + λ·SDF depth loss, + the weighted regularisers,
        accumulated over the micro-batches. ``fakes``: renderings (with their graph) to use instead
        of rendering new ones."""
        streams = streams or self.streams()
        self.D.requires_grad_(False)
        self.opt_G.zero_grad(set_to_none=True)
        stats = []
        for j in range(self.rounds):
            with streams.use(j):
                fake, c = fakes[j] if fakes is not None else self._generate(sched, grad=True)
                losses = {"G/gan": g_nonsaturating(self.D(fake, c, blur_sigma=sched.blur_sigma))}
                total = losses["G/gan"]
                if "sdf_depth_loss" in fake:
                    losses["G/sdf_depth"] = fake["sdf_depth_loss"]
                    if sched.depth_weight > 0:
                        total = total + sched.depth_weight * fake["sdf_depth_loss"]
                for name, weight, value in self._regularizers(fake):
                    losses[name] = value
                    total = total + weight * value
            self._accumulate(total, losses)
            stats.append({k: float(v.detach()) for k, v in losses.items()})
            del fake, total, losses
        self._step(self.G, self.opt_G)
        self.D.requires_grad_(True)
        return self._mean_stats(stats)

    def d_step(self, images: torch.Tensor, labels: torch.Tensor, sched: Schedule,
               fakes: list[tuple[dict, torch.Tensor]] | None = None,
               streams: RandomStreams | None = None) -> dict[str, float]:
        """Logistic D loss on detached fakes (new ones unless ``fakes`` is given) and real images."""
        streams = streams or self.streams()
        self.opt_D.zero_grad(set_to_none=True)
        stats = []
        for j, (images, labels) in enumerate(self._chunks(images, labels)):
            with streams.use(j):
                if fakes is None:
                    fake, c = self._generate(sched, grad=False)
                else:
                    fake, c = {k: v.detach() for k, v in fakes[j][0].items()}, fakes[j][1]
                fake_logits = self.D(fake, c, blur_sigma=sched.blur_sigma)
                real_logits = self.D(self._real_inputs(images), labels, blur_sigma=sched.blur_sigma)
                loss = d_logistic(fake_logits, real_logits)
            self._accumulate(loss, {"D/loss": loss})
            stats.append({"D/loss": float(loss.detach()), "D/real_score": float(real_logits.detach().mean()),
                          "D/fake_score": float(fake_logits.detach().mean())})
        self._step(self.D, self.opt_D)
        return self._mean_stats(stats)

    def r1_step(self, images: torch.Tensor, labels: torch.Tensor, sched: Schedule,
                streams: RandomStreams | None = None) -> dict[str, float]:
        """Lazy R1 on both real inputs of the dual D, scaled by the interval."""
        L = self.cfg.loss
        streams = streams or self.streams()
        self.opt_D.zero_grad(set_to_none=True)
        stats = []
        for j, (images, labels) in enumerate(self._chunks(images, labels)):
            with streams.use(j):
                real = self._real_inputs(images, requires_grad=True)
                logits = self.D(real, labels, blur_sigma=sched.blur_sigma)
                penalty = r1_penalty(logits, [real["image"], real["image_raw"]])
                loss = (penalty * (L.r1_gamma / 2)).mean() * L.r1_interval
            self._accumulate(loss, {"D/r1": penalty.mean()})
            stats.append({"D/r1": float(penalty.mean().detach())})
        self._step(self.D, self.opt_D)
        return self._mean_stats(stats)

    # ------------------------------------------------------------------ iteration
    def schedule(self) -> Schedule:
        return schedule_at(self.cfg.loss, self.progress.kimg, self.cfg.variant)

    def train_step(self) -> dict[str, float]:
        """One full iteration (G, D, lazy R1, EMA); returns rank-averaged statistics."""
        streams = self.streams()
        images, labels = self._next_batch()
        sched = self.schedule()
        self.G.set_beta_trainable(sched.beta_trainable)
        if self.cfg.reuse_fakes:  # D then G on the same renderings: one G forward less per iteration
            fakes = []
            for j in range(self.rounds):
                with streams.use(j):
                    fakes.append(self._generate(sched, grad=True))
            stats = self.d_step(images, labels, sched, fakes, streams)
            stats.update(self.g_step(sched, fakes, streams))
            del fakes
        else:  # EG3D: G phase, then D phase on fresh renderings
            stats = self.g_step(sched, streams=streams)
            stats.update(self.d_step(images, labels, sched, streams=streams))
        self._update_w_avg()
        L = self.cfg.loss
        if L.r1_gamma > 0 and L.r1_interval > 0 and self.progress.step % L.r1_interval == 0:
            self._last_r1 = self.r1_step(images, labels, sched, streams)
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
        # fields that leave the weights alone (ModelConfig.RESUMABLE_FIELDS) may change on resume
        if not self.model_cfg.same_architecture(ModelConfig.from_dict(obj["model_config"])):
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
