"""Quality of pseudo ground truth against the exact GT mesh, with the benchmark's protocol.

Uses :mod:`benchmark.metrics` (METRICS.md: both meshes translated by the GT bounding-box
centre and divided by its diagonal, prediction cropped to the GT box + margin, seeded
area-uniform samples) so pseudo-GT quality and model scores are measured the same way. On
top of the registered metrics it reports the two halves of the Chamfer distance
(``accuracy`` = mean d(p, G), ``completeness`` = mean d(g, P)) and precision/recall at 1%
and 2% (recall = the share of the GT surface that the pseudo-GT covers).
"""

from __future__ import annotations

import numpy as np
import trimesh

from benchmark.metrics import METRICS, prepare_pair
from benchmark.protocol import Protocol

PROTOCOL_NAME = f"benchmark protocol {Protocol().version} (GT-bbox normalisation, crop margin {Protocol().crop_margin})"
REPORTED_METRICS = ("chamfer_l1", "fscore@0.01", "fscore@0.02", "hausdorff_95", "normal_consistency")


def mesh_quality(pred: trimesh.Trimesh, gt: trimesh.Trimesh, sample_id: str = "0",
                 protocol: Protocol | None = None) -> dict[str, float]:
    """Normalised metrics of a pseudo-GT mesh against the exact GT mesh (flat dict of floats)."""
    protocol = protocol or Protocol()
    ctx, diag = prepare_pair(pred, gt, protocol, sample_id)
    out = {name: float(METRICS.get(name).fn(ctx)) for name in REPORTED_METRICS}
    d_pred, d_gt = ctx.p_to_g[0], ctx.g_to_p[0]
    out["accuracy"], out["completeness"] = float(d_pred.mean()), float(d_gt.mean())
    for tau in (0.01, 0.02):
        out[f"precision@{tau}"] = float((d_pred < tau).mean())
        out[f"recall@{tau}"] = float((d_gt < tau).mean())
    out["pred_area_kept"] = float(diag["pred_area_kept"])
    return out


def summarise(rows: list[dict], keys=("chamfer_l1", "fscore@0.01", "fscore@0.02", "completeness",
                                      "recall@0.01", "recall@0.02")) -> dict:
    """Median / mean / min / max of each metric over the identities that succeeded."""
    ok = [r for r in rows if r.get("status") == "ok"]
    out = {"identities": len(rows), "succeeded": len(ok), "failed": len(rows) - len(ok)}
    for k in keys:
        vals = np.array([r[k] for r in ok if r.get(k) is not None], dtype=float)
        if len(vals):
            out[k] = {"median": float(np.median(vals)), "mean": float(vals.mean()),
                      "min": float(vals.min()), "max": float(vals.max())}
    return out
