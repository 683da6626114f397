"""PTI: the LPIPS → MSE substitution is warned about once and recorded; the inversion runs."""

import pytest
import torch

from benchmark.pti import ImageLoss, PTIConfig, invert


class FakeLPIPS(torch.nn.Module):
    """Stands in for LPIPS (its VGG weights are not available here): mean absolute difference."""

    def forward(self, a, b):
        return (a - b).abs().mean(dim=(1, 2, 3))


@pytest.fixture(scope="module")
def tiny():
    from geogen.model import Generator, model_config

    from test_model_forward import labels

    torch.manual_seed(0)
    G = Generator(model_config("tiny", "geogen")).eval()
    cams = labels(1)
    with torch.no_grad():
        target = G.synthesis(G.mapping(torch.randn(1, G.cfg.z_dim), cams), cams)["image"]
    return G, target, cams


def test_mse_substitution_is_warned_once_and_recorded(tiny, capsys):
    G, target, cams = tiny
    loss = ImageLoss(None)
    cfg = PTIConfig(steps_w=2, steps_g=1, w_avg_samples=8)
    invert(G, target, cams, cfg, loss)
    invert(G, target, cams, cfg, loss)
    lines = [x for x in capsys.readouterr().err.splitlines() if x.strip()]
    assert len(lines) == 1 and lines[0].startswith("warning: PTI loss is MSE alone") and "LPIPS" in lines[0]
    assert loss.describe() == {"loss": "mse", "loss_substituted": loss.substitution}
    assert "LPIPS unavailable" in loss.substitution


def test_lpips_loss_is_no_substitution(tiny, capsys):
    G, target, cams = tiny
    loss = ImageLoss(FakeLPIPS())
    tuned, pivot, log = invert(G, target, cams, PTIConfig(steps_w=2, steps_g=1, w_avg_samples=8), loss)
    assert capsys.readouterr().err.strip() == ""
    assert loss.describe() == {"loss": "mse+lpips"}
    assert len(log["loss_w"]) == 2 and len(log["loss_g"]) == 1 and pivot.shape == (1, G.num_ws, G.cfg.w_dim)


def test_adapter_records_the_substitution_in_the_inversion_settings(tiny):
    from benchmark.adapters import GeoGenAdapter

    G, _, _ = tiny
    adapter = GeoGenAdapter(G, G.cfg, {}, PTIConfig(steps_w=1, steps_g=1), device="cpu")
    inv = adapter.describe()["inversion"]
    assert inv["loss"] == "mse" and inv["loss_substituted"].startswith("MSE alone instead of MSE + LPIPS")
    assert "loss_substituted" not in GeoGenAdapter(G, G.cfg, {}, PTIConfig(), lpips_model=FakeLPIPS(),
                                                   device="cpu").describe()["inversion"]


def test_adam_matches_torch_optim_adam():
    """Same parameters as torch.optim.Adam (its default CPU path) after steps with changing lr and
    a parameter that gets no gradient."""
    from benchmark.pti import Adam

    torch.manual_seed(0)
    params = [torch.randn(5, 3), torch.randn(7), torch.randn(2)]
    mine = [p.clone().requires_grad_(True) for p in params]
    ref = [p.clone().requires_grad_(True) for p in params]
    opt, opt_ref = Adam(mine, lr=0.01, betas=(0.9, 0.999)), torch.optim.Adam(ref, lr=0.01, betas=(0.9, 0.999))
    for step in range(6):
        lr = 0.01 * (step + 1) / 6
        opt.lr = lr
        for group in opt_ref.param_groups:
            group["lr"] = lr
        grads = [torch.randn_like(p) for p in params]
        for ps in (mine, ref):
            for p, g in zip(ps[:2], grads):   # the last parameter gets no gradient
                p.grad = g.clone()
        opt.step()
        opt_ref.step()
        opt.zero_grad()
        opt_ref.zero_grad()
    for a, b, p0 in zip(mine, ref, params):
        assert torch.equal(a, b)
    assert torch.equal(mine[2], params[2]) and not torch.equal(mine[0], params[0])
