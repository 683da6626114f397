"""FID/KID: the FID Inception-v3 (state-dict names, strict loading, checksum policy) and the
Fréchet distance / KID against naive references."""

import itertools

import numpy as np
import pytest
import scipy.linalg
import torch

from benchmark import inception as inc
from benchmark.fid import fid_from_features, frechet_distance, kid_from_features, mmd2_unbiased
from geogen.common.errors import UserError


@pytest.fixture(scope="module")
def weights(tmp_path_factory):
    return inc.random_inception_weights(tmp_path_factory.mktemp("inception") / "random.pth", seed=1)


@pytest.fixture(scope="module")
def net(weights):
    model, info = inc.load_inception(weights, allow_nonstandard=True)
    assert info["standard"] is False and info["sha256"] == inc._sha256(weights)
    return model


def blob_images(seed: int, n: int, size: int = 48) -> np.ndarray:
    """Smooth random colour blobs: images with structure, different per index."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:size, 0:size] / size
    out = np.zeros((n, size, size, 3))
    for i in range(n):
        for _ in range(4):
            cx, cy, r = rng.uniform(0.2, 0.8), rng.uniform(0.2, 0.8), rng.uniform(0.1, 0.3)
            out[i] += np.exp(-((xx - cx) ** 2 + (yy - cy) ** 2) / r ** 2)[..., None] * rng.uniform(0, 200, 3)
    return np.clip(out, 0, 255).astype(np.uint8)


@pytest.fixture(scope="module")
def features(net):
    base = blob_images(0, 6)
    rng = np.random.default_rng(5)
    small = np.clip(base + rng.normal(0, 8, base.shape), 0, 255).astype(np.uint8)
    large = np.clip(base + rng.normal(0, 60, base.shape), 0, 255).astype(np.uint8)
    f = inc.inception_features(net, np.concatenate([base, small, large]), batch=9)
    return f[:6], f[6:12], f[12:]


def test_state_dict_names_match_the_pytorch_fid_file_layout():
    """Keys and shapes of torchvision's Inception3(num_classes=1008, aux_logits=False)."""
    sd = inc.InceptionFID().state_dict()
    assert len(sd) == 566  # 94 convolutions × (weight + 5 BatchNorm entries) + fc weight/bias
    assert sd["Conv2d_1a_3x3.conv.weight"].shape == (32, 3, 3, 3)
    assert sd["Conv2d_4a_3x3.bn.running_var"].shape == (192,)
    assert sd["Mixed_5b.branch_pool.conv.weight"].shape == (32, 192, 1, 1)
    assert sd["Mixed_6b.branch7x7dbl_5.conv.weight"].shape == (192, 128, 1, 7)
    assert sd["Mixed_7a.branch7x7x3_4.conv.weight"].shape == (192, 192, 3, 3)
    assert sd["Mixed_7c.branch3x3dbl_3b.conv.weight"].shape == (384, 384, 3, 1)
    assert sd["fc.weight"].shape == (1008, 2048)
    assert not any("AuxLogits" in k for k in sd) and not any(k.endswith(".bias") and ".conv." in k for k in sd)
    n_params = sum(p.numel() for p in inc.InceptionFID().parameters())
    assert 23_800_000 < n_params < 23_900_000


def test_fid_pooling_variants_in_the_mixed_blocks():
    """A/C/E average pools ignore the padding; the last E block max-pools."""
    x = torch.ones(1, 1, 4, 4)
    assert torch.allclose(inc._avg_pool_same(x), x)  # padding counted would give 4/9 at corners
    net = inc.InceptionFID()
    assert net.Mixed_7c.max_pool and not net.Mixed_7b.max_pool


def test_strict_loading_and_checksum_policy(weights, tmp_path, monkeypatch):
    with pytest.raises(UserError, match="allow-nonstandard-weights"):
        inc.load_inception(weights)                       # not the standard checksum
    monkeypatch.setattr(inc, "INCEPTION_SHA256_PREFIX", inc._sha256(weights)[:8])
    _, info = inc.load_inception(weights)                 # "standard" once the prefix matches
    assert info["standard"] is True
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "hub"))
    with pytest.raises(UserError, match="not found at .*pt_inception-2015-12-05-6726825d.pth"):
        inc.load_inception(None)
    sd = torch.load(weights, weights_only=True)
    del sd["Mixed_6e.branch_pool.bn.weight"]
    torch.save(sd, tmp_path / "bad.pth")
    with pytest.raises(UserError, match="do not fit"):
        inc.load_inception(tmp_path / "bad.pth", allow_nonstandard=True)
    sd = torch.load(weights, weights_only=True)           # old files have no num_batches_tracked
    torch.save({k: v for k, v in sd.items() if not k.endswith("num_batches_tracked")}, tmp_path / "old.pth")
    inc.load_inception(tmp_path / "old.pth", allow_nonstandard=True)
    (tmp_path / "trunc.pth").write_bytes(weights.read_bytes()[:1000])
    with pytest.raises(UserError, match="cannot be read"):
        inc.load_inception(tmp_path / "trunc.pth", allow_nonstandard=True)


def test_features_are_deterministic_2048_d_and_resolution_free(net):
    imgs = blob_images(3, 2, size=40)
    f1 = inc.inception_features(net, imgs)
    f2 = inc.inception_features(net, list(imgs), batch=1)
    assert f1.shape == (2, 2048) and np.all(np.isfinite(f1)) and f1.std() > 0
    np.testing.assert_allclose(f1, f2, rtol=1e-4, atol=1e-6)


def naive_fid(a, b):
    """Textbook FID: ‖μ₁−μ₂‖² + tr(Σ₁ + Σ₂ − 2 sqrtm(Σ₁Σ₂)), scipy's general sqrtm."""
    m1, m2 = a.mean(0), b.mean(0)
    c1, c2 = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    root = scipy.linalg.sqrtm(c1 @ c2)
    return float(((m1 - m2) ** 2).sum() + np.trace(c1) + np.trace(c2) - 2 * np.trace(root).real)


def test_fid_on_inception_features(features):
    base, small, large = features
    assert abs(fid_from_features(base, base)) < 1e-6 * np.trace(np.cov(base, rowvar=False))
    # naive reference on the same features: FID is invariant under an orthonormal change of basis
    # that contains every centred feature and the mean difference, so the d=2048 sqrtm (about a
    # minute here) is evaluated in that k ≤ 13-dimensional basis instead.
    span = np.concatenate([base - base.mean(0), large - large.mean(0), [base.mean(0) - large.mean(0)]])
    q, _ = np.linalg.qr(span.T)
    assert fid_from_features(base, large) == pytest.approx(naive_fid(base @ q, large @ q), rel=1e-6)
    assert 0 < fid_from_features(base, small) < fid_from_features(base, large)


@pytest.mark.parametrize("n", [40, 300])  # fewer samples than dimensions (low-rank path) and more
def test_fid_matches_naive_sqrtm_reference(n):
    rng = np.random.default_rng(n)
    a = rng.normal(size=(n, 64)) @ rng.normal(size=(64, 64))
    b = rng.normal(size=(n, 64)) @ rng.normal(size=(64, 64)) * 0.7 + 0.3
    assert fid_from_features(a, b) == pytest.approx(naive_fid(a, b), rel=1e-7)
    m1, m2 = a.mean(0), b.mean(0)
    c1, c2 = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    assert frechet_distance(m1, c1, m2, c2) == pytest.approx(naive_fid(a, b), rel=1e-7)


def test_frechet_distance_of_diagonal_gaussians():
    """Commuting covariances: FID = ‖Δμ‖² + Σᵢ (√aᵢ − √bᵢ)²."""
    va, vb = np.array([1.0, 4.0, 9.0]), np.array([4.0, 1.0, 9.0])
    mu = np.array([1.0, 0.0, 2.0])
    expected = 5.0 + ((np.sqrt(va) - np.sqrt(vb)) ** 2).sum()
    assert frechet_distance(mu, np.diag(va), np.zeros(3), np.diag(vb)) == pytest.approx(expected, rel=1e-12)


def naive_mmd2(x, y):
    """Unbiased MMD² with k(a, b) = (a·b/d + 1)³, one pair at a time."""
    d, m = x.shape[1], len(x)
    k = lambda p, q: (float(np.dot(p, q)) / d + 1.0) ** 3  # noqa: E731
    xx = sum(k(x[i], x[j]) for i, j in itertools.permutations(range(m), 2)) / (m * (m - 1))
    yy = sum(k(y[i], y[j]) for i, j in itertools.permutations(range(m), 2)) / (m * (m - 1))
    xy = sum(k(x[i], y[j]) for i in range(m) for j in range(m)) / (m * m)
    return xx + yy - 2 * xy


def test_kid_matches_naive_unbiased_mmd(features):
    base, small, large = features
    ref = naive_mmd2(base, large)
    assert mmd2_unbiased(base, large) == pytest.approx(ref, rel=1e-9)
    kid = kid_from_features(base, large, subsets=3, subset_size=1000)  # whole sets: permutations only
    assert kid["subset_size"] == 6 and kid["mean"] == pytest.approx(ref, rel=1e-9)
    assert kid_from_features(base, small, subsets=3)["mean"] < kid["mean"]
    # subsets: the estimate is the mean over seeded draws of the same statistic
    rng = np.random.default_rng(2)
    a, b = rng.normal(size=(30, 16)), rng.normal(size=(30, 16)) + 0.5
    sub = kid_from_features(a, b, subsets=20, subset_size=10, seed=4)
    assert sub["subset_size"] == 10 and sub["std"] > 0
    assert sub == kid_from_features(a, b, subsets=20, subset_size=10, seed=4)


def test_kid_precomputed_kernels_equal_per_subset_kernels(monkeypatch):
    import benchmark.fid as fid

    rng = np.random.default_rng(3)
    a, b = rng.normal(size=(50, 32)), rng.normal(size=(40, 32)) * 1.2
    cached = fid.kid_from_features(a, b, subsets=7, subset_size=15, seed=1)
    monkeypatch.setattr(fid, "_PRECOMPUTE_MAX", 0)
    direct = fid.kid_from_features(a, b, subsets=7, subset_size=15, seed=1)
    assert cached["mean"] == pytest.approx(direct["mean"], rel=1e-12)
    assert cached["std"] == pytest.approx(direct["std"], rel=1e-9)


def test_run_reports_the_real_loader_status(weights, tmp_path, monkeypatch):
    """`geogen-bench run` never computes FID/KID; its entry carries the real loader's reason."""
    from benchmark.image_metrics import id_status, inception_status

    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "hub"))
    missing = inception_status(None)
    assert missing["status"] == "unavailable" and "not found" in missing["reason"]
    assert "SHA-256" in inception_status(weights)["reason"]
    monkeypatch.setattr(inc, "INCEPTION_SHA256_PREFIX", inc._sha256(weights)[:8])
    found = inception_status(weights)
    assert found["status"] == "unavailable" and "geogen-bench images" in found["reason"]
    assert id_status()["status"] == "unavailable" and id_status()["reason"]


def test_feature_map_sizes_follow_inception_v3(net):
    """299² input → 35² (Mixed_5b–5d, 256/288/288 ch), 17² (6a–6e, 768), 8² (7a–7c, 1280/2048/2048)."""
    shapes = {}
    hooks = [getattr(net, n).register_forward_hook(lambda m, i, o, n=n: shapes.__setitem__(n, tuple(o.shape[1:])))
             for n in ("Mixed_5b", "Mixed_5d", "Mixed_6a", "Mixed_6e", "Mixed_7a", "Mixed_7b", "Mixed_7c")]
    try:
        with torch.no_grad():
            out = net(torch.zeros(1, 3, 64, 64))
    finally:
        for h in hooks:
            h.remove()
    assert shapes == {"Mixed_5b": (256, 35, 35), "Mixed_5d": (288, 35, 35), "Mixed_6a": (768, 17, 17),
                      "Mixed_6e": (768, 17, 17), "Mixed_7a": (1280, 8, 8), "Mixed_7b": (2048, 8, 8),
                      "Mixed_7c": (2048, 8, 8)}
    assert out.shape == (1, 2048)
