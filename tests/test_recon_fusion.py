"""Fusion + Poisson on exact depth maps of a sphere, and the mesh cleanup helpers."""

import numpy as np
import trimesh

from reconstruction.fusion import FusionConfig, fuse_depth_maps
from reconstruction.meshing import MeshingConfig, keep_vertices, largest_component, poisson_mesh
from reconstruction.quality import mesh_quality
from reconstruction.synthetic import Sphere, make_scene


def test_fusion_and_poisson_of_exact_sphere_depths_give_the_sphere():
    """chamfer_l1 (METRICS.md normalisation: GT bounding-box diagonal) below 0.5%."""
    sphere = Sphere(radius=0.3)
    scene, depths, normals = make_scene([sphere], n_views=12, resolution=80, elevations=(50.0, 0.0, -50.0))
    cams = [v.camera for v in scene.views]
    cloud = fuse_depth_maps(cams, depths, normals, None, FusionConfig())
    assert len(cloud.points) > 5000
    # Fused points lie on the sphere and their normals point outwards.
    r = np.linalg.norm(cloud.points, axis=1)
    assert np.abs(r - 0.3).max() < 2e-3
    assert np.mean(np.sum(cloud.normals * cloud.points / r[:, None], axis=1)) > 0.99
    v, f = poisson_mesh(cloud.points, cloud.normals, MeshingConfig(depth=7), scene.bounds)
    gt = trimesh.creation.icosphere(subdivisions=5, radius=0.3)
    q = mesh_quality(trimesh.Trimesh(v, f, process=False), gt, "0")
    assert q["chamfer_l1"] < 0.005, q
    assert q["fscore@0.01"] > 0.95, q


def test_fusion_rejects_depths_that_no_other_view_confirms():
    scene, depths, normals = make_scene([Sphere(radius=0.3)], n_views=6, resolution=48, elevations=(0.0,))
    cams = [v.camera for v in scene.views]
    noisy = [d.copy() for d in depths]
    noisy[0][noisy[0] > 0] *= 1.05  # view 0 alone is 5% off: nothing should survive from it
    strict = FusionConfig(voxel_size=0.0)
    n_exact = len(fuse_depth_maps(cams, depths, normals, None, strict).points)
    n_noisy = len(fuse_depth_maps(cams, noisy, normals, None, strict).points)
    per_view = n_exact / 6
    assert n_exact - n_noisy > 0.8 * per_view


def test_largest_component_and_keep_vertices():
    a = trimesh.creation.box()
    b = trimesh.creation.icosphere(subdivisions=2)
    b.apply_translation([5, 0, 0])
    both = trimesh.util.concatenate([a, b])
    v, f = largest_component(np.asarray(both.vertices), np.asarray(both.faces))
    assert len(f) == len(b.faces) and np.allclose(v.mean(0), [5, 0, 0], atol=1e-6)
    v2, f2 = keep_vertices(np.asarray(a.vertices), np.asarray(a.faces), np.asarray(a.vertices)[:, 0] > 0)
    assert len(v2) == 4 and f2.max() < 4
