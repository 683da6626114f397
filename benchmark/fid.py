"""FID and KID from feature sets (any feature extractor; benchmark.inception gives the standard one).

- FID (Heusel et al. 2017) = ‖μ₁ − μ₂‖² + tr Σ₁ + tr Σ₂ − 2 tr (Σ₁Σ₂)^½, Σ the unbiased
  sample covariances. tr (Σ₁Σ₂)^½ is computed as Σᵢ √λᵢ with λ the eigenvalues of the
  symmetric PSD matrix Σ₁^½ Σ₂ Σ₁^½ (similar to Σ₁Σ₂): two symmetric eigendecompositions,
  no complex round-off as with a general ``sqrtm`` of the non-symmetric product (and an
  exact low-rank shortcut when there are fewer samples than dimensions, see fid_from_features).
- KID (Bińkowski et al. 2018) = unbiased MMD² with the cubic polynomial kernel
  k(x, y) = (xᵀy / d + 1)³, averaged over ``subsets`` random subsets of ``subset_size``
  features drawn without replacement from each set (100 × 1000 as torch-fidelity and
  StyleGAN; smaller sets use all of their features per subset).
"""

from __future__ import annotations

import numpy as np

KID_SUBSETS = 100
KID_SUBSET_SIZE = 1000


def _psd_sqrt(a: np.ndarray) -> np.ndarray:
    vals, vecs = np.linalg.eigh(a)
    return (vecs * np.sqrt(np.clip(vals, 0.0, None))) @ vecs.T


def feature_stats(features: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(mean, unbiased covariance) of (N, d) features, float64; needs N >= 2."""
    f = np.asarray(features, dtype=np.float64)
    if f.ndim != 2 or len(f) < 2:
        raise ValueError(f"FID needs at least 2 feature vectors, got shape {f.shape}")
    return f.mean(axis=0), np.cov(f, rowvar=False)


def frechet_distance(mu1, cov1, mu2, cov2) -> float:
    """Fréchet distance between the Gaussians N(mu1, cov1) and N(mu2, cov2)."""
    root1 = _psd_sqrt((cov1 + cov1.T) / 2)
    middle = root1 @ cov2 @ root1
    tr_sqrt = float(np.sqrt(np.clip(np.linalg.eigvalsh((middle + middle.T) / 2), 0.0, None)).sum())
    diff = np.asarray(mu1) - np.asarray(mu2)
    return float(diff @ diff + np.trace(cov1) + np.trace(cov2) - 2.0 * tr_sqrt)


def fid_from_features(a: np.ndarray, b: np.ndarray) -> float:
    """FID of two feature sets (N, d). With few samples (N₁·N₂ ≤ d²) the trace term is the
    nuclear norm of A Bᵀ (A, B the centred features / √(N−1), so Σ₁ = AᵀA, Σ₂ = BᵀB): the
    non-zero eigenvalues of Σ₁Σ₂ = AᵀA BᵀB are those of (A Bᵀ)(A Bᵀ)ᵀ, exactly, at the cost
    of an N₁×N₂ SVD instead of two d×d eigendecompositions."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if len(a) * len(b) > a.shape[1] ** 2:
        return frechet_distance(*feature_stats(a), *feature_stats(b))
    if min(len(a), len(b)) < 2:
        raise ValueError("FID needs at least 2 feature vectors in each set")
    mu1, mu2 = a.mean(axis=0), b.mean(axis=0)
    A = (a - mu1) / np.sqrt(len(a) - 1)
    B = (b - mu2) / np.sqrt(len(b) - 1)
    tr_sqrt = float(np.linalg.svd(A @ B.T, compute_uv=False).sum())
    diff = mu1 - mu2
    return float(diff @ diff + (A * A).sum() + (B * B).sum() - 2.0 * tr_sqrt)  # tr Σ = ‖A‖²_F


def polynomial_kernel(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    return (x @ y.T / x.shape[1] + 1.0) ** 3


def _mmd2_from_kernels(kxx: np.ndarray, kyy: np.ndarray, kxy: np.ndarray) -> float:
    m = len(kxx)
    off = m * (m - 1)
    return float((kxx.sum() - np.trace(kxx)) / off + (kyy.sum() - np.trace(kyy)) / off - 2.0 * kxy.mean())


def mmd2_unbiased(x: np.ndarray, y: np.ndarray) -> float:
    """Unbiased MMD² of two equally sized samples (m, d) with the cubic polynomial kernel:
    mean over i≠j of k(xᵢ,xⱼ) + mean over i≠j of k(yᵢ,yⱼ) − 2 · mean over all i,j of k(xᵢ,yⱼ)."""
    return _mmd2_from_kernels(polynomial_kernel(x, x), polynomial_kernel(y, y), polynomial_kernel(x, y))


# Up to this many features per set the kernel matrices are computed once and every subset
# indexes into them (3 matrices of at most 3000² float64 = 216 MB) instead of recomputing.
_PRECOMPUTE_MAX = 3000


def kid_from_features(a: np.ndarray, b: np.ndarray, subsets: int = KID_SUBSETS,
                      subset_size: int = KID_SUBSET_SIZE, seed: int = 0) -> dict:
    """KID: mean and standard deviation of the unbiased MMD² over seeded random subsets."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    m = min(subset_size, len(a), len(b))
    if m < 2:
        raise ValueError("KID needs at least 2 feature vectors in each set")
    rng = np.random.default_rng(seed)
    cached = max(len(a), len(b)) <= _PRECOMPUTE_MAX
    if cached:
        kaa, kbb, kab = polynomial_kernel(a, a), polynomial_kernel(b, b), polynomial_kernel(a, b)
    values = []
    for _ in range(subsets):
        i, j = rng.choice(len(a), m, replace=False), rng.choice(len(b), m, replace=False)
        if cached:
            values.append(_mmd2_from_kernels(kaa[np.ix_(i, i)], kbb[np.ix_(j, j)], kab[np.ix_(i, j)]))
        else:
            values.append(mmd2_unbiased(a[i], b[j]))
    return {"mean": float(np.mean(values)), "std": float(np.std(values)), "subsets": subsets, "subset_size": m}
