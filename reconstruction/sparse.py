"""Sparse stage: SIFT features, exhaustive matching and triangulation with the KNOWN cameras (pycolmap).

COLMAP's known-pose workflow: extract and match features into a database, build a
``Reconstruction`` whose cameras and frame poses are ours (matching the database's ids),
then ``triangulate_points``. The sparse points give per-view depth ranges, the scene box
when none is known, and how many points each pair of views shares (source-view selection).
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image

from .scene import MVSScene


@dataclass
class SparseResult:
    points: np.ndarray  # (N, 3) world
    tracks: list[np.ndarray]  # per point, the view indices that see it
    shared: np.ndarray  # (V, V) number of points seen by both views
    mean_reprojection_error: float = float("nan")
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return len(self.points) > 0


def _quiet_pycolmap(pycolmap) -> None:
    try:
        pycolmap.logging.minloglevel = 2  # warnings and errors only
    except AttributeError:
        pass


def triangulate_known_poses(scene: MVSScene, num_threads: int = 1, max_features: int = 4096, min_inliers: int = 8,
                            seed: int = 0) -> SparseResult:
    """Run SIFT + exhaustive matching + triangulation with the scene's cameras; never raises on poor texture."""
    import pycolmap

    _quiet_pycolmap(pycolmap)
    n = len(scene.views)
    empty = SparseResult(np.zeros((0, 3)), [], np.zeros((n, n), dtype=int))
    with tempfile.TemporaryDirectory(prefix="geogen-sparse-") as tmp:
        tmp = Path(tmp)
        img_dir = tmp / "images"
        img_dir.mkdir()
        names = [f"{i:04d}.png" for i in range(n)]
        for name, view in zip(names, scene.views):
            Image.fromarray(np.clip(np.round(view.image * 255), 0, 255).astype(np.uint8)).save(img_dir / name)
        db_path = tmp / "database.db"
        extraction = pycolmap.FeatureExtractionOptions()
        extraction.num_threads = num_threads
        extraction.sift.max_num_features = max_features
        matching = pycolmap.FeatureMatchingOptions()
        matching.num_threads = num_threads
        pycolmap.extract_features(db_path, img_dir, image_names=names, camera_mode=pycolmap.CameraMode.PER_IMAGE,
                                  extraction_options=extraction, device=pycolmap.Device.cpu)
        verification = pycolmap.TwoViewGeometryOptions()
        verification.min_num_inliers = min_inliers  # small images of heads give few matches per pair
        verification.ransac.random_seed = seed
        pycolmap.match_exhaustive(db_path, matching_options=matching, verification_options=verification,
                                  device=pycolmap.Device.cpu)

        db = pycolmap.Database.open(db_path)
        try:
            cams, imgs = db.read_all_cameras(), db.read_all_images()
            rigs, frames = db.read_all_rigs(), db.read_all_frames()
            if sum(db.num_keypoints_for_image(im.image_id) for im in imgs) == 0:
                empty.notes.append("no SIFT features found (too little texture)")
                return empty
            if db.num_verified_image_pairs() == 0:
                empty.notes.append("no verified feature matches between views")
                return empty
            view_of_image = {im.image_id: names.index(im.name) for im in imgs}
            image_of_camera = {im.camera_id: im for im in imgs}
            rec = pycolmap.Reconstruction()
            for cam in cams:
                view = scene.views[view_of_image[image_of_camera[cam.camera_id].image_id]]
                K = view.camera.K
                known = pycolmap.Camera(camera_id=cam.camera_id, model="PINHOLE", width=view.camera.width,
                                        height=view.camera.height, params=[K[0, 0], K[1, 1], K[0, 2], K[1, 2]])
                rec.add_camera(known)
                db.update_camera(known)
            for rig in rigs:
                rec.add_rig(rig)
            frame_view = {}
            for im in imgs:
                frame_view[im.frame_id] = view_of_image[im.image_id]
            for frame in frames:
                c2w = scene.views[frame_view[frame.frame_id]].camera.c2w
                R = c2w[:3, :3].T
                frame.rig_from_world = pycolmap.Rigid3d(pycolmap.Rotation3d(R), -R @ c2w[:3, 3])
                rec.add_frame(frame)
            for im in imgs:
                rec.add_image(im)
            for frame in frames:
                rec.register_frame(frame.frame_id)
        finally:
            db.close()
        out = tmp / "sparse"
        out.mkdir()
        options = pycolmap.IncrementalPipelineOptions()
        options.num_threads = num_threads
        options.triangulation.ignore_two_view_tracks = False  # sparse 360-degree rigs: most tracks span 2 views
        options.triangulation.random_seed = seed
        rec = pycolmap.triangulate_points(rec, db_path, img_dir, out, options=options)

    pts, tracks = [], []
    for p in rec.points3D.values():
        pts.append(p.xyz)
        tracks.append(np.array(sorted({view_of_image[el.image_id] for el in p.track.elements})))
    shared = np.zeros((n, n), dtype=int)
    for tr in tracks:
        shared[np.ix_(tr, tr)] += 1
    np.fill_diagonal(shared, 0)
    result = SparseResult(np.array(pts).reshape(-1, 3), tracks, shared,
                          float(rec.compute_mean_reprojection_error()) if pts else float("nan"))
    if not pts:
        result.notes.append("triangulation produced no points")
    return result


def bounds_from_points(points: np.ndarray, margin: float = 0.15) -> tuple[np.ndarray, np.ndarray]:
    """Robust box around sparse points (1st-99th percentile), grown by ``margin`` of its size per side."""
    lo, hi = np.percentile(points, 1, axis=0), np.percentile(points, 99, axis=0)
    pad = margin * (hi - lo).max()
    return lo - pad, hi + pad
