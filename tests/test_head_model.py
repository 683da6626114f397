"""Head model: SDF signs and gradients, watertight meshes on the zero level, materials."""

import numpy as np
import pytest
import trimesh

from dataset.head import PARTS, build_head, sdf_normals
from dataset.identity import sample_identity
from dataset.mesh_extract import extract_mesh, sample_grid
from dataset.scene import Material


def _find(predicate, seed=0, limit=200):
    """First identity of ``seed`` whose parameters satisfy ``predicate``."""
    for i in range(limit):
        p = sample_identity(seed, i)
        if predicate(p):
            return p
    raise AssertionError("no such identity in range")


@pytest.fixture(scope="module")
def meshed():
    """Two contrasting identities meshed at a test resolution: (head, vertices, faces)."""
    out = []
    for p in (_find(lambda p: p.hair_style == "long" and p.clothing == "hoodie"),
              _find(lambda p: p.hair_style in ("bald", "buzz") and p.clothing == "collared_shirt")):
        head = build_head(p)
        v, f = extract_mesh(head, 96)
        out.append((head, v, f))
    return out


def test_sdf_signs_at_known_points():
    head = build_head(sample_identity(0, 0))
    inside = np.array([[0.0, 0.0, 0.0],  # head centre
                       [0.0, -0.2, -0.03],  # neck
                       [0.0, -0.45, 0.0],  # chest
                       [0.2, -0.4, -0.02]])  # shoulder
    outside = np.array([[0.0, 0.0, 0.4], [0.0, 0.45, 0.0], [0.3, 0.1, 0.0], [0.0, 0.0, -0.45],
                        [0.49, 0.49, 0.49], [0.0, -0.52, 0.0], [0.6, 0.0, 0.0]])
    assert np.all(head.sdf(inside) < 0)
    assert np.all(head.sdf(outside) > 0)


def test_sdf_gradient_is_close_to_unit_near_the_surface(meshed):
    for head, v, f in meshed:
        mesh = trimesh.Trimesh(v, f, process=False)
        idx = np.random.default_rng(1).choice(len(v), 1500, replace=False)
        norms = []
        for offset in (-0.01, 0.01):
            q = v[idx] + offset * mesh.vertex_normals[idx]
            e = 1e-4
            grad = np.stack([(head.sdf(q + e * ax) - head.sdf(q - e * ax)) / (2 * e) for ax in np.eye(3)], axis=1)
            norms.append(np.linalg.norm(grad, axis=1))
        g = np.concatenate(norms)
        assert 0.95 < np.median(g) < 1.05
        assert np.mean((g > 0.5) & (g < 1.5)) > 0.95


def test_mesh_is_watertight_outward_and_inside_the_box(meshed):
    for head, v, f in meshed:
        assert v.dtype == np.float64 and v.shape[1] == 3 and f.shape[1] == 3
        mesh = trimesh.Trimesh(v, f, process=False)
        assert mesh.is_watertight and mesh.is_winding_consistent
        assert mesh.volume > 0.02  # positive: faces wind outward
        assert len(mesh.split(only_watertight=False)) == 1  # no floating pieces
        assert np.all(np.abs(v) <= 0.5 + 1e-9)
        # the torso ends on the flat floor y = -0.5, closed by faces looking down
        on_floor = np.abs(mesh.triangles_center[:, 1] + 0.5) < 1e-6
        assert on_floor.sum() > 50 and np.all(mesh.face_normals[on_floor, 1] < -0.999)
        assert mesh.area_faces[on_floor].sum() > 0.02  # the cut cross-section of the torso
        # head height: chin to crown about 0.40, crown (with hair) near the top of the box
        assert 0.17 < v[:, 1].max() < 0.3


def test_mesh_vertices_lie_on_the_zero_level(meshed):
    spacing = 1.0 / 96
    for head, v, f in meshed:
        d = np.abs(head.sdf(v))
        assert np.median(d) < 0.01 * spacing and d.max() < 0.5 * spacing


@pytest.mark.parametrize("pick", [lambda p: p.hair_style == "curly",
                                  lambda p: p.hair_style == "bun" and p.glasses != "none",
                                  lambda p: p.facial_hair == "beard" and p.clothing == "hoodie"],
                         ids=["curly", "bun-glasses", "beard-hoodie"])
def test_narrow_band_signs_match_a_dense_grid(pick):
    head = build_head(_find(pick))
    values, origin, spacing = sample_grid(head, 48)
    n = values.shape[0]
    ax = origin[0] + spacing * np.arange(n)
    dense = head.sdf(np.stack(np.meshgrid(ax, ax, ax, indexing="ij"), axis=-1).reshape(-1, 3)).reshape(values.shape)
    assert np.array_equal(np.sign(values), np.sign(dense))
    near = np.abs(dense) < spacing
    assert np.allclose(values[near], dense[near])  # exact in the band


class _Sphere:
    bounds = (np.full(3, -0.5), np.full(3, 0.5))

    def sdf(self, p):
        return np.linalg.norm(p - [0.05, -0.02, 0.01], axis=1) - 0.3


def test_extract_mesh_on_an_analytic_sphere():
    v, f = extract_mesh(_Sphere(), 64)
    mesh = trimesh.Trimesh(v, f, process=False)
    assert mesh.is_watertight and mesh.is_winding_consistent
    r = np.linalg.norm(v - [0.05, -0.02, 0.01], axis=1)
    assert np.abs(r - 0.3).max() < 0.002
    assert abs(mesh.volume / (4 / 3 * np.pi * 0.3 ** 3) - 1) < 0.01


def test_materials_are_finite_in_range_and_deterministic(meshed):
    for head, v, f in meshed:
        normals = sdf_normals(head, v)
        m = head.material(v, normals)
        assert isinstance(m, Material)
        assert m.albedo.shape == (len(v), 3) and m.roughness.shape == (len(v),) and m.specular.shape == (len(v),)
        for arr in (m.albedo, m.roughness, m.specular):
            assert np.all(np.isfinite(arr)) and arr.min() >= 0.0 and arr.max() <= 1.0
        again = build_head(head.params).material(v, normals)
        assert np.array_equal(again.albedo, m.albedo) and np.array_equal(again.roughness, m.roughness)
        colours = head.vertex_colors(v, normals)
        assert colours.dtype == np.uint8 and colours.shape == (len(v), 3)


def test_parts_and_textures_show_up(meshed):
    head, v, f = meshed[0]
    labels = head.labels(v)
    counts = np.bincount(labels, minlength=len(PARTS))
    for name in ("skin", "hair", "clothing"):
        assert counts[PARTS.index(name)] > 500, name
    albedo = head.material(v, sdf_normals(head, v)).albedo
    for name in ("skin", "hair", "clothing"):
        sel = labels == PARTS.index(name)
        lum = albedo[sel].mean(axis=1)
        assert lum.std() / lum.mean() > 0.03, name  # textured, not flat: multi-view stereo needs it


def test_skin_tone_drives_skin_albedo():
    light = build_head(_find(lambda p: p.skin_tone < 0.15))
    dark = build_head(_find(lambda p: p.skin_tone > 0.85))
    # forehead and cheeks; exact surface points are not needed: the skin shader is a 3D texture
    pts = np.array([[0.0, 0.06, 0.16], [0.07, -0.05, 0.11], [-0.07, -0.05, 0.11]])
    n = np.tile([0.0, 0.0, 1.0], (len(pts), 1))
    a = light.materials._skin(pts, n)[0].mean()
    b = dark.materials._skin(pts, n)[0].mean()
    assert a > 3 * b


@pytest.mark.parametrize("style", ["bald", "curly", "ponytail", "bun"])
def test_every_hair_style_meshes_closed(style):
    head = build_head(_find(lambda p: p.hair_style == style))
    v, f = extract_mesh(head, 64)
    mesh = trimesh.Trimesh(v, f, process=False)
    assert mesh.is_watertight and mesh.is_winding_consistent and mesh.volume > 0
    hair = (head.labels(v) == PARTS.index("hair")).sum()
    assert (hair == 0) if style == "bald" else (hair > 100)


def test_glasses_survive_meshing():
    head = build_head(_find(lambda p: p.glasses != "none"))
    v, f = extract_mesh(head, 128)
    assert (head.labels(v) == PARTS.index("glasses")).sum() > 100
    assert len(trimesh.Trimesh(v, f, process=False).split(only_watertight=False)) == 1


def test_eyes_are_visible_from_the_front():
    """Along each eye's forward axis the first surface hit is the eyeball, not skin or hair."""
    for i in range(12):
        head = build_head(sample_identity(4, i))
        for e in head.layout.eye_centers:
            z = np.linspace(0.3, e[2], 400)
            ray = np.stack([np.full_like(z, e[0]), np.full_like(z, e[1]), z], axis=1)
            d = head.part_distances(ray)
            first = int(np.argmax(d.min(axis=1) < 0))
            assert d[first].argmin() in (PARTS.index("eyes"), PARTS.index("glasses")), (i, PARTS[d[first].argmin()])


@pytest.mark.parametrize("kind", ["crew_tshirt", "collared_shirt", "hoodie"])
def test_clothing_stays_below_the_neck(kind):
    """Garments end at the neck base (collars a little higher): no fabric slivers up the neck."""
    head = build_head(_find(lambda p: p.clothing == kind and p.hair_style in ("short", "buzz", "bald")))
    v, f = extract_mesh(head, 96)
    cloth = v[head.labels(v) == PARTS.index("clothing")]
    assert len(cloth) > 1000
    assert cloth[:, 1].max() < head.layout.shoulder_y + 0.12


def test_part_bounds_never_over_estimate():
    """Each cheap bound used to skip a part must not exceed the part's true distance."""
    rng = np.random.default_rng(3)
    q = rng.uniform(-0.5, 0.5, size=(60000, 3))
    for style in ("bun", "ponytail", "long", "curly"):
        head = build_head(_find(lambda p: p.hair_style == style))
        exact = head.hair._distance(q)
        bound = head.hair._bound(q)
        # where bounded() trusts the bound instead of evaluating, near enough to matter
        far = (bound >= 0.04) & (exact < 0.1)
        assert np.all(bound[far] <= exact[far] + 1e-9), style
    head = build_head(_find(lambda p: p.facial_hair == "beard"))
    jaw = head.hair._beard_bound(q)
    beard = head.hair._beard(q)
    # outside the beard region its surface lies under the skin and never shows
    far = (jaw >= 0.03) & (beard < 0.1) & (head.hair.beard_weight(q) > 0)
    assert np.all(beard[far] >= jaw[far] - 1e-9)
