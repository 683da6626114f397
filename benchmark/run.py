"""`geogen-bench run`: invert each test identity's input view(s), extract the mesh, score it."""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from geogen.common.atomic import sha256_file
from geogen.common.errors import UserError
from geogen.common.executor import ExecutorConfig
from geogen.common.seeding import rng_for
from dataset.format import Dataset

from .adapters import load_adapter
from .evaluate import Prediction, evaluate
from .image_metrics import id_status, inception_status, lpips_model, psnr, ssim
from .metrics import sample_key
from .protocol import Protocol, run_track
from .provenance import provenance
from .pti import PTIConfig
from .results import build_result, metric_range, require_output_json, write_result
from .stats import mean_ci95

IMAGE_METRICS = ("psnr_input", "ssim_input", "psnr_novel", "ssim_novel")


@dataclass(frozen=True)
class RunSettings:
    """Which views are inverted: ``views`` input views per identity, chosen with ``seed``; one
    further view (if any) is held out to measure novel-view PSNR/SSIM."""

    views: int = 1
    seed: int = 0
    mesh_resolution: int = 128
    device: str = "auto"  # torch device of the model: auto (cuda if visible), cpu, cuda[:N]
    save_inversions: bool = False  # also write <out>.inversions/<id>.pt (tuned G + pivot; GeoGen models)

    def __post_init__(self):
        if self.views < 1:
            raise UserError("--views must be >= 1")


def read_image(path: Path) -> np.ndarray:
    try:
        with Image.open(path) as im:
            return np.asarray(im.convert("RGB"))
    except FileNotFoundError:
        raise UserError(f"image {path} not found; the dataset is incomplete") from None
    except (UnidentifiedImageError, OSError) as exc:
        raise UserError(f"image {path} could not be read ({exc}); rebuild the dataset") from None


def choose_views(n_available: int, settings: RunSettings, sample_id: str) -> tuple[list[int], int | None]:
    """Seeded choice of the input views and of one held-out view (positions in the view list)."""
    if n_available < settings.views:
        raise UserError(f"identity {sample_id} has {n_available} views, fewer than --views {settings.views}")
    order = rng_for(settings.seed, sample_key(sample_id), 7).permutation(n_available)
    held = int(order[settings.views]) if n_available > settings.views else None
    return [int(i) for i in order[: settings.views]], held


def row_setup(description: dict) -> dict:
    """What may differ between the processes that invert identities: the inversion loss (LPIPS is
    looked up per process) and the device ("auto" resolves per process)."""
    return {"inversion_loss": (description.get("inversion") or {}).get("loss"), "device": description.get("device")}


def setup_warnings(rows: list[dict], description: dict) -> list[str]:
    """A warning per setting that some rows ran with differently from ``method.details``."""
    out = []
    for key, expected in row_setup(description).items():
        other = [r["id"] for r in rows if key in r["info"] and r["info"][key] != expected]
        if other:
            seen = sorted({str(r["info"][key]) for r in rows if r["id"] in other})
            out.append(f"{len(other)} identities ran with {key} {', '.join(seen)}, not the {expected} that "
                       f"method.details records (e.g. {other[0]}: see its row's info)")
    return out


class Inverter:
    """``produce`` of the benchmark loop: invert one identity's input view(s), mesh and render it.

    Picklable, so it can run as a Ray task: a worker process loads the model once, on first use."""

    def __init__(self, model: Path, ds: Dataset, pti: PTIConfig, settings: RunSettings, out: Path,
                 model_sha: str, adapter=None, threads=None):
        self.model, self.ds, self.pti, self.settings, self.out, self.model_sha = model, ds, pti, settings, out, model_sha
        self._adapter, self._threads = adapter, threads

    def __getstate__(self):  # the model is reloaded where the task runs; threads are that process's business
        return {**self.__dict__, "_adapter": None, "_threads": None}

    @property
    def adapter(self):
        if self._adapter is None:
            self._adapter = load_adapter(self.model, self.pti, self.settings.mesh_resolution, lpips_model()[0],
                                         device=self.settings.device)
        return self._adapter

    def __call__(self, sample_id: str) -> Prediction:
        if self._threads is not None:
            self._threads.update()   # --threads auto: follow the other jobs between identities
        ds, settings, adapter = self.ds, self.settings, self.adapter
        views = ds.views(sample_id)
        inputs, held = choose_views(len(views), settings, sample_id)
        images = [read_image(views[i].image_path) for i in inputs]
        t = time.perf_counter()
        state = adapter.invert(images, [views[i].camera for i in inputs])
        t_invert = time.perf_counter() - t
        if settings.save_inversions and hasattr(adapter, "save_state"):
            adapter.save_state(state, self.out.with_suffix(".inversions") / f"{sample_id}.pt",
                               {"identity": sample_id, "input_views": [views[i].index for i in inputs],
                                "source_model_sha256": self.model_sha})
        t = time.perf_counter()
        vertices, faces = adapter.mesh(state)
        t_mesh = time.perf_counter() - t
        rendered = adapter.render(state, views[inputs[0]].camera)
        info = {"input_views": [views[i].index for i in inputs], "invert_seconds": round(t_invert, 3),
                "mesh_seconds": round(t_mesh, 3), "psnr_input": psnr(rendered, images[0]),
                "ssim_input": ssim(rendered, images[0])}
        shown = [("input", images[0]), ("inversion", rendered)]
        if held is not None:
            truth = read_image(views[held].image_path)
            novel = adapter.render(state, views[held].camera)
            info.update(novel_view=views[held].index, psnr_novel=psnr(novel, truth), ssim_novel=ssim(novel, truth))
            shown += [("held-out view", truth), ("its render", novel)]
        for key in ("final_loss_w", "final_loss_g"):
            if isinstance(state, dict) and state.get(key) is not None:
                info[key] = state[key]
        info.update(row_setup(adapter.describe()))   # a Ray worker builds its own adapter: record what it used
        return Prediction(np.asarray(vertices), np.asarray(faces), images=shown, info=info)


def run_benchmark(model: Path, data: Path, out: Path, protocol: Protocol, pti: PTIConfig,
                  settings: RunSettings = RunSettings(), method: str | None = None, limit: int | None = None,
                  inception_weights: Path | None = None, pictures: bool = True, progress: bool = True,
                  split: str = "test", executor: ExecutorConfig | None = None, threads=None) -> dict:
    """Invert, mesh and score every identity of ``split`` ("test"; "val" to choose settings).

    ``executor``: where the identities run (default: one after another in this process; Ray:
    one task per identity, one GPU each when ``settings.device`` is CUDA). ``threads``: a
    ``geogen.common.threads.ThreadGovernor`` updated before each identity in this process."""
    out = require_output_json(out)
    ds = Dataset(data)
    ds.require_gt(protocol.gt)
    split_all = ds.split(split)
    ids = split_all[:limit] if limit else split_all
    lpips_net, lpips_info = lpips_model()
    adapter = load_adapter(model, pti, settings.mesh_resolution, lpips_net, device=settings.device)
    model_sha = sha256_file(model)
    description = adapter.describe()
    t0 = time.perf_counter()

    produce = Inverter(model, ds, pti, settings, out, model_sha, adapter, threads=threads)
    def fingerprint(sample_id: str) -> dict:
        scoring = {k: v for k, v in asdict(settings).items() if k != "save_inversions"}  # does not change scores
        return {"model_sha256": model_sha, "adapter": description, "settings": scoring}

    gpus = 1.0 if settings.device.startswith("cuda") else 0.0  # one GPU per inversion task on Ray
    rows = evaluate(ids, produce, ds, protocol, out, fingerprint, pictures=pictures, progress=progress,
                    executor=replace(executor, gpus=gpus) if executor else None)
    ok = [r for r in rows if r["status"] == "ok"]
    image_metrics = {k: mean_ci95([r["info"].get(k) for r in ok], metric_range(k)) for k in IMAGE_METRICS}
    image_metrics.update(lpips=lpips_info if lpips_net is None else {"status": "used in the inversion loss only"},
                         fid=inception_status(inception_weights), kid=inception_status(inception_weights),
                         id=id_status())
    inv_times = [r["info"]["invert_seconds"] for r in ok if "invert_seconds" in r["info"]]
    warnings = []
    if lpips_net is None and (description.get("inversion") or {}).get("loss") == "mse":
        warnings.append(f"LPIPS unavailable ({lpips_info.get('reason')}): the inversion loss was MSE only")
    warnings += setup_warnings(ok, description)
    result = build_result(
        method={"name": method or f"{Path(model).stem}:{description.get('variant', description['kind'])}",
                "source": "run", "details": {**description, "run_settings": asdict(settings),
                                             "lpips": lpips_info, "model_file": str(Path(model).resolve())}},
        dataset={"name": ds.name, "path": str(ds.root.resolve()), "manifest_sha256": ds.checksum(),
                 "split": split, "n_test": len(split_all)},
        protocol=protocol, rows=rows, image_metrics=image_metrics,
        track=run_track(settings.views, settings.seed, settings.mesh_resolution, description.get("inversion")),
        warnings=warnings,
        provenance={**provenance(ds.checksum(), model_sha, time.perf_counter() - t0),
                    "invert_seconds_mean": float(np.mean(inv_times)) if inv_times else None})
    write_result(out, result)
    return result
