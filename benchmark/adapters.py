"""Model adapters: the small surface the benchmark needs from any image-to-3D model.

    invert(images, cameras) -> state     fit the model to one identity's input view(s)
    mesh(state) -> (V, F)                its surface, world coordinates
    render(state, camera) -> image       RGB uint8 H×W×3 from any camera

``load_adapter`` opens a model file in the safe format (geogen.model.io; read with
``torch.load(weights_only=True)``, never executing code) and builds the adapter registered in
``ADAPTERS`` under its config's ``kind``: ``geogen`` (the default: a GeoGen model config has no
``kind``) → the generator with PTI (:class:`GeoGenAdapter`); ``dummy-sphere`` →
:class:`DummySphereAdapter`. Another model registers its own factory the same way.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Protocol as TypingProtocol

import numpy as np
import trimesh
from PIL import Image

from geogen.common.cameras import Camera
from geogen.common.errors import UserError
from geogen.common.registry import Registry

from .pictures import raycast_shaded
from .pti import ImageLoss, PTIConfig, invert


class ModelAdapter(TypingProtocol):
    def describe(self) -> dict: ...
    def invert(self, images: list[np.ndarray], cameras: list[Camera]) -> Any: ...
    def mesh(self, state: Any) -> tuple[np.ndarray, np.ndarray]: ...
    def render(self, state: Any, camera: Camera) -> np.ndarray: ...


@dataclass
class DummySphereAdapter:
    """A fixed sphere (for tests and as a trivial baseline); "inversion" takes the mean
    foreground colour of the input images, so render() depends on the input."""

    radius: float = 0.2
    centre: tuple[float, float, float] = (0.0, 0.0, 0.0)

    def describe(self) -> dict:
        return {"kind": "dummy-sphere", "radius": self.radius, "centre": list(self.centre)}

    def invert(self, images, cameras):
        pixels = np.concatenate([np.asarray(im, dtype=np.float64).reshape(-1, 3) for im in images])
        fg = pixels[pixels.sum(axis=1) < 3 * 250]  # background of the dataset renders is light
        colour = (fg.mean(axis=0) if len(fg) else pixels.mean(axis=0)) / 255.0
        return {"colour": tuple(float(c) for c in colour)}

    def mesh(self, state):
        m = trimesh.creation.icosphere(subdivisions=4, radius=self.radius)
        return np.asarray(m.vertices) + np.asarray(self.centre), np.asarray(m.faces)

    def render(self, state, camera):
        v, f = self.mesh(state)
        return raycast_shaded(v, f, camera, colour=state["colour"])


class GeoGenAdapter:
    """The GeoGen (or EG3D-baseline) generator, inverted with PTI using the known cameras."""

    def __init__(self, G, cfg, meta: dict, pti: PTIConfig, mesh_resolution: int = 128, lpips_model=None,
                 device: str = "cpu"):
        self.device = device
        if device == "cpu":
            # every PTI step allocates and frees the same few-MB activations; on these VMs a page
            # fault per fresh page made softplus and its backward ~3x slower (docs/benchmark.md)
            from geogen.model.runtime import keep_freed_memory

            keep_freed_memory()
        self.G, self.cfg, self.meta, self.pti = G.to(device), cfg, meta, pti
        self.mesh_resolution = mesh_resolution
        self.loss = ImageLoss(lpips_model.to(device) if lpips_model is not None else None)

    def describe(self) -> dict:
        beta = float(self.G.beta) if self.G.field.is_sdf else None   # the β of the network that is inverted
        return {"kind": "geogen", "variant": self.cfg.variant, "model_config": self.cfg.to_dict(), "beta": beta,
                "inversion": {"method": "pti", **self.loss.describe(), **self.pti.to_dict()},
                "mesh_resolution": self.mesh_resolution, "device": self.device}

    def _label(self, camera: Camera):
        import torch

        return torch.tensor([camera.label()], dtype=torch.float32, device=self.device)

    def invert(self, images, cameras):
        import torch

        res = self.cfg.image_resolution
        targets = []
        for im in images:
            im = Image.fromarray(np.asarray(im, dtype=np.uint8)).convert("RGB")
            if im.size != (res, res):
                im = im.resize((res, res), Image.LANCZOS)
            targets.append(torch.from_numpy(np.asarray(im, dtype=np.float32) / 127.5 - 1.0).permute(2, 0, 1))
        cams = torch.cat([self._label(c) for c in cameras])
        G, ws, log = invert(self.G, torch.stack(targets).to(self.device), cams, self.pti, self.loss)
        return {"G": G, "ws": ws, "final_loss_w": log["loss_w"][-1] if log["loss_w"] else None,
                "final_loss_g": log["loss_g"][-1] if log["loss_g"] else None}

    def mesh(self, state):
        from geogen.model.mesh import extract_mesh

        return extract_mesh(state["G"], state["ws"], resolution=self.mesh_resolution)

    def save_state(self, state, path: Path, meta: dict) -> None:
        """The inversion (tuned generator + pivot ws) as a safe model file, for later analysis
        such as re-meshing at other levels (perf/bench_levels.py)."""
        from geogen.model.io import save_file

        save_file(path, {"model_config": self.cfg.to_dict(), "G_ema": {k: v.detach().cpu() for k, v in
                                                                      state["G"].state_dict().items()},
                         "ws": state["ws"].detach().cpu(), "meta": meta}, kind="model")

    def render(self, state, camera):
        import torch

        with torch.no_grad():
            img = state["G"].synthesis(state["ws"], self._label(camera))["image"][0]
        arr = ((img.permute(1, 2, 0).clamp(-1, 1) + 1) * 127.5).round().byte().cpu().numpy()
        if arr.shape[:2] != (camera.height, camera.width):
            arr = np.asarray(Image.fromarray(arr).resize((camera.width, camera.height), Image.LANCZOS))
        return arr


def resolve_device(device: str) -> str:
    """"auto" → "cuda" when a GPU is visible, else "cpu"; other values are checked."""
    import torch

    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise UserError(f"--device {device} asked for, but no CUDA GPU is visible; use --device cpu")
    if not (device == "cpu" or device.startswith("cuda")):
        raise UserError(f"unknown --device {device!r}; use auto, cpu or cuda[:N]")
    return device


# kind → factory(model file contents, path, pti, mesh_resolution, lpips_model, device) → adapter
ADAPTERS: Registry[Callable[..., ModelAdapter]] = Registry("model kind")


@ADAPTERS.register("geogen")
def _geogen_adapter(obj: dict, path: Path, pti: PTIConfig, mesh_resolution: int, lpips_model, device: str):
    from geogen.model.io import build_generator

    G, mcfg = build_generator(obj)
    meta = dict(obj.get("meta", {}))
    return GeoGenAdapter(G, mcfg, meta, pti, mesh_resolution=mesh_resolution, lpips_model=lpips_model,
                         device=resolve_device(device))


@ADAPTERS.register("dummy-sphere")
def _dummy_sphere_adapter(obj: dict, path: Path, pti: PTIConfig, mesh_resolution: int, lpips_model, device: str):
    cfg = obj["model_config"]
    try:
        return DummySphereAdapter(radius=float(cfg.get("radius", 0.2)),
                                  centre=tuple(float(x) for x in cfg.get("centre", (0.0, 0.0, 0.0))))
    except (TypeError, ValueError):
        raise UserError(f"model file {path}: dummy-sphere radius/centre must be numbers") from None


def load_adapter(path: str | Path, pti: PTIConfig, mesh_resolution: int = 128, lpips_model=None,
                 device: str = "auto") -> ModelAdapter:
    """Open a model file safely and wrap it in the adapter registered for its config's ``kind``."""
    from geogen.model.io import load_file

    obj = load_file(path, "model file")
    cfg = obj.get("model_config")
    if not isinstance(cfg, dict):
        raise UserError(f"model file {path} has no model_config; it is not a GeoGen model file")
    factory = ADAPTERS.get(str(cfg.get("kind", "geogen")))
    return factory(obj, Path(path), pti, mesh_resolution, lpips_model, device)


def save_dummy_model(path: str | Path, radius: float = 0.2, centre=(0.0, 0.0, 0.0)) -> Path:
    """Write a dummy-sphere model file in the same safe format as real model files."""
    from geogen.model.io import save_file

    return save_file(path, {"model_config": {"kind": "dummy-sphere", "radius": float(radius),
                                             "centre": [float(c) for c in centre]},
                            "G_ema": {}, "meta": {"note": "benchmark test model: a fixed sphere"}}, kind="model")
