"""The GeoGen generator: mapping → StyleGAN2 tri-planes → field → volume rendering → super-resolution."""

from __future__ import annotations

import torch
from torch import nn

from .config import ModelConfig
from . import regularizers
from .field import TriplaneField
from .layers import FullyConnected, MappingNetwork, SynthesisNetwork
from .renderer import RaySampling, rays_from_labels, render_rays
from .superres import SuperResolution
from .triplane import share_plane_gradient


class Generator(nn.Module):
    """Camera-conditioned tri-plane generator (EG3D architecture; SDF field for the GeoGen variants).

    ``mapping`` takes the conditioning camera (the training loop decides whether to swap it for a
    random pose); ``synthesis`` renders from the camera it is given.
    """

    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.cfg = cfg
        self.backbone = SynthesisNetwork(cfg.w_dim, cfg.plane_resolution, 3 * cfg.plane_channels,
                                         cfg.channel_base, cfg.channel_max, up_mode=cfg.up_mode)
        self.num_ws = self.backbone.num_ws
        self.mapping_network = MappingNetwork(cfg.z_dim, cfg.c_dim, cfg.w_dim, self.num_ws,
                                              cfg.mapping_layers, cfg.mapping_lr_mul)
        self.field = TriplaneField(cfg)
        self.superresolution = SuperResolution(cfg.decoder_features, cfg.sr_channels, cfg.w_dim,
                                               cfg.neural_resolution, cfg.image_resolution, up_mode=cfg.up_mode,
                                               layout=cfg.sr_layout)
        bg = torch.zeros(cfg.decoder_features)
        bg[:3] = torch.tensor(cfg.background)
        self.register_buffer("background_features", bg)
        if cfg.background_mode == "gradient":
            # top and bottom RGB logits; a high lr multiplier lets the backdrop colour (most of the
            # pixels) keep pace with the field, which could otherwise paint it on density in the box
            self.background_net = FullyConnected(cfg.w_dim, 6, lr_mul=cfg.background_lr_mul)

    # --- β (SDF variants)
    @property
    def beta(self) -> torch.Tensor:
        return self.field.beta

    def set_beta_trainable(self, flag: bool) -> None:
        self.field.set_beta_trainable(flag)

    # --- networks
    def mapping(self, z: torch.Tensor, c: torch.Tensor, truncation_psi: float = 1.0,
                update_emas: bool = False) -> torch.Tensor:
        return self.mapping_network(z, c, truncation_psi=truncation_psi, update_emas=update_emas)

    def planes(self, ws: torch.Tensor, noise_mode: str = "const") -> torch.Tensor:
        """ws (B, num_ws, w_dim) → tri-planes (B, 3, C, R, R) ordered XY, XZ, YZ (with grad: every
        sampling of them accumulates into one gradient buffer, ``triplane.share_plane_gradient``)."""
        img = self.backbone(ws, noise_mode=noise_mode)
        B, _, R, _ = img.shape
        return share_plane_gradient(img.reshape(B, 3, self.cfg.plane_channels, R, R))

    def query(self, planes: torch.Tensor, points: torch.Tensor) -> dict:
        """Field at world points (B, N, 3) for given planes: "sigma", "features", "rgb", ("sdf")."""
        return self.field(planes, points)

    def sample_field(self, ws: torch.Tensor, points: torch.Tensor, planes: torch.Tensor | None = None) -> dict:
        """Field at world points (B, N, 3) for latents ws: "sdf" (SDF variants) or "sigma", and "rgb"."""
        if planes is None:
            planes = self.planes(ws)
        return self.query(planes, points)

    def background(self, ws: torch.Tensor, resolution: int) -> torch.Tensor:
        """Background features per ray (B, R*R, F): RGB in the first 3 channels, zeros after.

        "gradient": colour = (1 - a)·top + a·bottom with a = (row + 0.5) / R, top/bottom from w.
        """
        B, R = ws.shape[0], resolution
        bg = self.background_features.expand(B, R * R, -1)
        if self.cfg.background_mode == "constant":
            return bg
        top, bottom = torch.sigmoid(self.background_net(ws[:, -1])).reshape(B, 2, 1, 3).unbind(1)
        a = ((torch.arange(R, device=ws.device, dtype=ws.dtype) + 0.5) / R).repeat_interleave(R).reshape(1, -1, 1)
        rgb = (1 - a) * top + a * bottom                                   # (B, R*R, 3)
        return torch.cat([rgb, bg[..., 3:]], dim=-1)

    def render(self, planes: torch.Tensor, c: torch.Tensor, resolution: int, randomize: bool | None = None,
               background: torch.Tensor | None = None) -> dict:
        """Volume-render the planes from cameras ``c`` at ``resolution``² (raw features, depth, weights)."""
        cfg = self.cfg
        origins, dirs = rays_from_labels(c, resolution)
        sampling = RaySampling(cfg.samples_coarse, cfg.samples_fine, cfg.ray_start, cfg.ray_end,
                               randomize=self.training if randomize is None else randomize)
        return render_rays(lambda p: self.field(planes, p), origins, dirs, sampling,
                           background=self.background_features if background is None else background,
                           depth_loss_min_weight=cfg.depth_loss_min_weight if self.field.is_sdf else None,
                           depth_loss_grad=cfg.depth_loss_grad)

    def synthesis(self, ws: torch.Tensor, c: torch.Tensor, noise_mode: str = "const",
                  neural_resolution: int | None = None, randomize: bool | None = None) -> dict:
        """Render images from ws (B, num_ws, w_dim) and camera labels c (B, 25).

        Returns "image" (B,3,H,W) in [-1,1], "image_raw" (B,3,h,w), "image_depth" (B,1,h,w),
        "weights_sum" (B,1,h,w), "planes", and for SDF variants "sdf_depth_loss" (scalar, Eq. 6) and the
        rendered samples' "sample_points" (B,R,M,3) and "sample_sdf" (B,R,M,1).
        """
        h = neural_resolution or self.cfg.neural_resolution
        planes = self.planes(ws, noise_mode=noise_mode)
        res = self.render(planes, c, h, randomize=randomize, background=self.background(ws, h))
        B = ws.shape[0]

        def to_image(x):  # (B, R, C) → (B, C, h, h)
            return x.permute(0, 2, 1).reshape(B, -1, h, h)

        features = to_image(res["features"]) * 2.0 - 1.0
        image_raw = features[:, :3]
        image = self.superresolution(image_raw, features, ws[:, -1], noise_mode=noise_mode)
        out = {"image": image, "image_raw": image_raw, "image_depth": to_image(res["depth"]),
               "weights_sum": to_image(res["weights_sum"]), "planes": planes}
        if "sdf_depth_loss" in res:
            out["sdf_depth_loss"] = res["sdf_depth_loss"]
            out["sample_points"] = res["samples"]["points"]      # for the regularisers of the SDF variants
            out["sample_sdf"] = res["samples"]["sdf"]
        return out

    def forward(self, z: torch.Tensor, c: torch.Tensor, truncation_psi: float = 1.0, **kw) -> dict:
        return self.synthesis(self.mapping(z, c, truncation_psi=truncation_psi), c, **kw)

    # --- regularisers (on the planes of a rendered batch; geogen/model/regularizers.py)
    def eikonal_loss(self, planes: torch.Tensor, points: torch.Tensor | None = None, n_points: int = 1024,
                     step: float | None = None) -> torch.Tensor:
        """E(|∇s| - 1)² at ``points`` (B, N, 3) — in training, points the renderer sampled — or at
        ``n_points`` uniform points in the box; ∇ by central differences of one plane texel."""
        if not self.field.is_sdf:
            raise ValueError("the eikonal term needs an SDF variant")
        if points is None:
            points = (torch.rand(planes.shape[0], n_points, 3, device=planes.device) - 0.5) * self.cfg.box_warp
        h = step or self.cfg.box_warp / self.cfg.plane_resolution
        return regularizers.eikonal_loss(lambda p: self.field(planes, p, geometry_only=True)["sdf"], points, h)

    def density_smoothness_loss(self, planes: torch.Tensor, n_points: int, p_dist: float) -> torch.Tensor:
        """EG3D's density regulariser at ``n_points`` uniform points per latent in the box."""
        p = (torch.rand(planes.shape[0], n_points, 3, device=planes.device) - 0.5) * self.cfg.box_warp
        return regularizers.density_smoothness_loss(lambda x: self.field(planes, x, geometry_only=True)["sigma"], p, p_dist)
