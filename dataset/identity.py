"""Seeded sampling of a head identity: plain, JSON-serialisable parameters, no geometry.

``sample_identity(seed, index)`` draws everything from ``rng_for(seed, index)``, so identity 17
is the same whether it is built first, alone (``--shard``) or after a resume. Building the
head from these numbers lives in :mod:`dataset.head`; nothing here knows about SDFs.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields

import numpy as np

from geogen.common.errors import UserError
from geogen.common.seeding import rng_for

# Bump when the parameters change OR the same parameters build a different head: the build
# records it as the generator version, so a resume never mixes heads of two versions.
# 2: the head model as first delivered (issue 2).
PARAMS_VERSION = 2

# name: (low, high, meaning). Lengths are in scene units (the head is ~0.40 chin to crown);
# unitless entries are scale factors (1 = average) or 0..1 "amount" dials.
SHAPE_PARAMS: dict[str, tuple[float, float, str]] = {
    "masculinity": (0.0, 1.0, "latent dial that pulls jaw, brow, chin, neck and shoulders together"),
    "cranium_width": (0.118, 0.136, "half-width of the cranium (x), units"),
    "cranium_height": (0.142, 0.160, "half-height of the cranium (y), units"),
    "cranium_depth": (0.152, 0.176, "half-length of the cranium front to back (z), units"),
    "forehead_slope": (0.0, 1.0, "0 upright forehead, 1 sloping back"),
    "face_length": (0.9, 1.1, "vertical scale of the face below the eyes"),
    "face_width": (0.9, 1.1, "width scale of the mid-face"),
    "cheek_fullness": (0.0, 1.0, "soft-tissue fullness of the cheeks"),
    "cheekbones": (0.0, 1.0, "prominence of the zygomatic arches"),
    "brow_ridge": (0.0, 1.0, "prominence of the brow ridge"),
    "jaw_width": (0.8, 1.15, "width of the jaw angles"),
    "jaw_squareness": (0.0, 1.0, "0 tapered, 1 square jaw"),
    "chin_length": (0.85, 1.2, "height of the chin"),
    "chin_width": (0.75, 1.25, "width of the chin"),
    "chin_protrusion": (0.0, 1.0, "how far the chin sits forward"),
    "nose_length": (0.82, 1.25, "bridge-to-tip length"),
    "nose_width": (0.75, 1.35, "width of the alae (nostril wings)"),
    "nose_bridge": (0.0, 1.0, "height of the nasal bridge"),
    "nose_tip": (0.8, 1.3, "size of the nose tip"),
    "nose_projection": (0.85, 1.15, "how far the tip projects forward"),
    "nose_tilt": (-1.0, 1.0, "tip pointing down (-1) or up (+1)"),
    "lip_width": (0.85, 1.2, "mouth width"),
    "lip_fullness": (0.55, 1.5, "lip thickness"),
    "mouth_height": (-1.0, 1.0, "mouth placed lower (-1) or higher (+1)"),
    "eye_spacing": (0.92, 1.1, "distance between the eyes"),
    "eye_size": (0.9, 1.1, "eyeball and eye-opening size"),
    "eye_height": (-1.0, 1.0, "eyes placed lower (-1) or higher (+1)"),
    "eye_depth": (0.0, 1.0, "how deep the eyes sit in the sockets"),
    "ear_size": (0.82, 1.22, "ear size"),
    "ear_angle": (0.0, 1.0, "ear protrusion, 0 flat (5 deg) to 1 protruding (30 deg)"),
    "ear_height": (-1.0, 1.0, "ears placed lower (-1) or higher (+1)"),
    "neck_width": (0.85, 1.15, "neck thickness"),
    "neck_length": (0.9, 1.1, "neck length"),
    "shoulder_width": (0.86, 1.08, "shoulder breadth"),
    "shoulder_slope": (0.0, 1.0, "0 square shoulders, 1 sloping"),
    "chest_depth": (0.9, 1.1, "front-to-back depth of the chest"),
}

# Parameters that follow the masculinity dial (weight of the dial in the draw).
_DIMORPHIC = {"jaw_width": 0.5, "jaw_squareness": 0.5, "brow_ridge": 0.6, "chin_width": 0.4,
              "neck_width": 0.5, "shoulder_width": 0.5, "nose_length": 0.3, "cranium_width": 0.3,
              "lip_fullness": -0.3, "cheek_fullness": -0.3}

HAIR_STYLES = ("bald", "buzz", "short", "medium", "long", "bun", "ponytail", "curly")
_HAIR_WEIGHTS = (0.04, 0.08, 0.21, 0.17, 0.17, 0.10, 0.10, 0.13)
CLOTHING_TYPES = ("crew_tshirt", "collared_shirt", "hoodie", "turtleneck")
CLOTHING_PATTERNS = ("plain", "stripes", "check", "heather")
GLASSES_TYPES = ("none", "round", "rectangular")
FACIAL_HAIR = ("none", "stubble", "beard")

# Skin tones across the human range, light to dark (sRGB): the Monk Skin Tone scale.
SKIN_TONES_SRGB = ("f6ede4", "f3e7db", "f7ead0", "eadaba", "d7bd96",
                   "a07e56", "825c43", "604134", "3a312a", "292420")
HAIR_COLOURS_SRGB = {"black": "1b1512", "dark_brown": "3b2619", "brown": "6a4a30",
                     "light_brown": "9a7550", "blonde": "d2b57e", "red": "9c4a26",
                     "grey": "9e9a94", "white": "dcd9d2"}
IRIS_COLOURS_SRGB = {"dark_brown": "3a2314", "brown": "6b4424", "hazel": "8a6a35",
                     "green": "5f7a45", "blue": "4f78a8", "grey": "7d8a92"}


def srgb_hex_to_linear(hex_colour: str) -> np.ndarray:
    """'rrggbb' → linear RGB in [0, 1]."""
    srgb = np.array([int(hex_colour[i:i + 2], 16) for i in (0, 2, 4)]) / 255.0
    return np.where(srgb <= 0.04045, srgb / 12.92, ((srgb + 0.055) / 1.055) ** 2.4)


@dataclass
class IdentityParams:
    """Everything that makes one identity; plain data (floats, strings, RGB lists)."""

    seed: int
    index: int
    shape: dict[str, float]
    hair_style: str
    hair_volume: float  # 0..1 thickness/volume within the style
    hair_length: float  # 0..1 length within the style
    hairline: float  # 0 low/full, 1 high/receding
    hair_part: float  # -1..1 side of the parting
    clothing: str
    clothing_pattern: str
    glasses: str
    facial_hair: str
    skin_tone: float  # 0 lightest .. 1 darkest
    skin_rgb: list[float]
    hair_rgb: list[float]
    iris_rgb: list[float]
    lip_rgb: list[float]
    clothing_rgb: list[float]
    clothing_rgb2: list[float]
    glasses_rgb: list[float]
    freckles: float  # 0..1 amount
    redness: float  # 0..1 cheek/nose flush
    texture_seed: int
    version: int = PARAMS_VERSION

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> "IdentityParams":
        names = {f.name for f in fields(cls)}
        missing = sorted(names - set(data) - {"version"})
        unknown = sorted(set(data) - names)
        if missing or unknown:
            raise UserError(f"identity parameters do not match version {PARAMS_VERSION}: "
                            f"missing {missing}, unknown {unknown}; rebuild the dataset with this version")
        if int(data.get("version", PARAMS_VERSION)) != PARAMS_VERSION:
            raise UserError(f"identity parameters are version {data['version']}, this code reads version "
                            f"{PARAMS_VERSION}; rebuild the dataset with this version")
        shape_missing = sorted(set(SHAPE_PARAMS) - set(data["shape"]))
        if shape_missing:
            raise UserError(f"identity parameters lack shape values {shape_missing}; rebuild the dataset")
        return cls(**{**data, "shape": {k: float(v) for k, v in data["shape"].items()}})


def _pick(rng: np.random.Generator, options, weights) -> str:
    w = np.asarray(weights, dtype=np.float64)
    return options[int(rng.choice(len(options), p=w / w.sum()))]


def _colour(hex_colour: str, rng: np.random.Generator, jitter: float) -> list[float]:
    rgb = srgb_hex_to_linear(hex_colour) * np.exp(rng.normal(0.0, jitter, 3))
    return [float(c) for c in np.clip(rgb, 0.0, 1.0)]


def _skin(rng: np.random.Generator) -> tuple[float, list[float]]:
    tone = float(rng.uniform(0.0, 1.0))
    pos = tone * (len(SKIN_TONES_SRGB) - 1)
    lo = int(np.floor(pos))
    hi = min(lo + 1, len(SKIN_TONES_SRGB) - 1)
    t = pos - lo
    rgb = (1 - t) * srgb_hex_to_linear(SKIN_TONES_SRGB[lo]) + t * srgb_hex_to_linear(SKIN_TONES_SRGB[hi])
    undertone = rng.normal(0.0, 0.04)  # warm (+) or cool (-)
    rgb = rgb * np.exp(np.array([undertone, 0.0, -undertone]))
    return tone, [float(c) for c in np.clip(rgb, 0.0, 1.0)]


def _hair_colour(rng: np.random.Generator, tone: float) -> list[float]:
    names = list(HAIR_COLOURS_SRGB)
    light = max(0.0, 1.0 - 1.6 * tone)  # lighter hair is rarer with darker skin
    weights = [3.0, 3.0, 2.5, 1.5 * light + 0.2, 1.5 * light + 0.05, 0.6 * light + 0.02, 0.6, 0.25]
    return _colour(HAIR_COLOURS_SRGB[_pick(rng, names, weights)], rng, 0.12)


def _iris_colour(rng: np.random.Generator, tone: float) -> list[float]:
    names = list(IRIS_COLOURS_SRGB)
    light = max(0.0, 1.0 - 1.6 * tone)
    weights = [3.0, 3.0, 1.0 + light, 0.8 * light + 0.05, 1.6 * light + 0.05, 0.6 * light + 0.05]
    return _colour(IRIS_COLOURS_SRGB[_pick(rng, names, weights)], rng, 0.1)


def _cloth_colour(rng: np.random.Generator) -> list[float]:
    hue = rng.uniform(0.0, 1.0)
    sat = rng.choice([rng.uniform(0.0, 0.15), rng.uniform(0.3, 0.85)])
    val = rng.uniform(0.12, 0.9)
    rgb = val * (1 - sat + sat * (0.5 + 0.5 * np.cos(2 * np.pi * (hue + np.array([0.0, 1 / 3, 2 / 3])))))
    return [float(c) for c in np.clip(rgb, 0.0, 1.0) ** 2.2]  # sRGB-ish → linear


def sample_identity(seed: int, index: int) -> IdentityParams:
    """Draw identity ``index`` of a dataset seeded with ``seed`` (order-independent)."""
    rng = rng_for(seed, index)
    masculinity = float(rng.uniform(0.0, 1.0))
    shape = {}
    for name, (lo, hi, _) in SHAPE_PARAMS.items():
        if name == "masculinity":
            shape[name] = masculinity
            continue
        u = rng.beta(2.0, 2.0)  # favours the middle of the range, still reaches both ends
        w = _DIMORPHIC.get(name, 0.0)
        if w:
            target = masculinity if w > 0 else 1.0 - masculinity
            u = (1 - abs(w)) * u + abs(w) * target
        shape[name] = float(lo + (hi - lo) * u)

    tone, skin_rgb = _skin(rng)
    hair_weights = np.array(_HAIR_WEIGHTS)
    if masculinity > 0.6:  # long styles and buns rarer, short and bald more common
        hair_weights = hair_weights * np.array([2.0, 1.5, 1.6, 1.0, 0.4, 0.4, 0.5, 1.0])
    hair_style = _pick(rng, HAIR_STYLES, hair_weights)
    skin = np.array(skin_rgb)
    lip = skin * np.array([0.95, 0.52, 0.55]) * rng.uniform(0.65, 0.85)
    return IdentityParams(
        seed=int(seed), index=int(index), shape=shape,
        hair_style=hair_style,
        hair_volume=float(rng.uniform(0.0, 1.0)),
        hair_length=float(rng.uniform(0.0, 1.0)),
        hairline=float(rng.beta(1.5, 3.0) * (0.5 + 0.5 * masculinity) + 0.0),
        hair_part=float(rng.uniform(-1.0, 1.0)),
        clothing=_pick(rng, CLOTHING_TYPES, (0.35, 0.25, 0.2, 0.2)),
        clothing_pattern=_pick(rng, CLOTHING_PATTERNS, (0.4, 0.2, 0.15, 0.25)),
        glasses=_pick(rng, GLASSES_TYPES, (0.7, 0.15, 0.15)),
        facial_hair=_pick(rng, FACIAL_HAIR, (1.0, 0.25 + 0.5 * masculinity, 0.1 + 0.4 * masculinity))
        if masculinity > 0.45 else "none",
        skin_tone=tone, skin_rgb=skin_rgb,
        hair_rgb=_hair_colour(rng, tone),
        iris_rgb=_iris_colour(rng, tone),
        lip_rgb=[float(c) for c in np.clip(lip, 0, 1)],
        clothing_rgb=_cloth_colour(rng), clothing_rgb2=_cloth_colour(rng),
        glasses_rgb=_colour(str(rng.choice(["111111", "3a2a1e", "8a8f96", "6b1f1f"])), rng, 0.1),
        freckles=float(rng.uniform(0, 1) ** 3 * (1.0 - tone)),
        redness=float(rng.uniform(0.0, 1.0)),
        texture_seed=int(rng.integers(0, 2**31 - 1)),
    )
