"""Explicit seeding: every random choice comes from a ``np.random.Generator`` derived here."""

from __future__ import annotations

import numpy as np


def rng_for(seed: int, *keys: int) -> np.random.Generator:
    """A generator for (seed, *keys), independent of the order in which keys are visited.

    Using a SeedSequence over the key path means identity 17 of a build gets the same
    numbers whether it is built first, last, alone (``--shard``) or after a resume.
    """
    return np.random.default_rng(np.random.SeedSequence([int(seed), *[int(k) for k in keys]]))
