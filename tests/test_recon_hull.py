"""Visual hull depth bounds: never exclude the true surface, and narrow the search."""

import numpy as np

from reconstruction.hull import carve, hull_depth_bounds
from reconstruction.patchmatch import ray_box_depth_range
from reconstruction.synthetic import Sphere, make_scene


def test_hull_bounds_contain_the_true_depth_and_are_narrow():
    scene, depths, _ = make_scene([Sphere(radius=0.3)], n_views=8, resolution=64, with_masks=True)
    box = [ray_box_depth_range(v.camera, scene.bounds) for v in scene.views]
    bounds = hull_depth_bounds(scene, scene.bounds, box, resolution=64)
    for (lo, hi), gt, (blo, bhi) in zip(bounds, depths, box):
        fg = gt > 0
        assert ((gt >= lo) & (gt <= hi))[fg].mean() > 0.99
        # The hull's front is close to the surface (the box's front is ~0.2 units away).
        assert np.median((gt - lo)[fg]) < 0.25 * np.median((gt - blo)[fg])
        assert np.all(lo[~fg] > hi[~fg])  # background pixels are excluded


def test_carved_volume_is_close_to_the_sphere():
    scene, _, _ = make_scene([Sphere(radius=0.3)], n_views=8, resolution=64, with_masks=True,
                             elevations=(40.0, 0.0, -40.0))
    occ = carve(scene, scene.bounds, resolution=48)
    volume = occ.mean() * 1.0  # the box is the unit cube
    sphere = 4 / 3 * np.pi * 0.3**3
    assert sphere < volume < 1.4 * sphere  # a hull contains the object and is not much bigger
