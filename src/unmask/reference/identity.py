"""Is this face the enrolled person's? Distances from a track's dlib embeddings to the enrolled distribution.

The profile keeps every enrolled embedding (lighting, pose and age spread a
person's faces over a region, not a point), so each checked face is compared
with its nearest enrolled faces rather than with one mean: the distance of an
embedding to the profile is the mean of its :data:`K_NEAREST` smallest
distances, and a track's distance is the median over its embedded frames (a
few bad frames do not decide). dlib's own rule of thumb puts the same person
below 0.6; the calibrated probability comes from ``models/reference.json``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

K_NEAREST = 3


@dataclass(frozen=True)
class IdentityMatch:
    distance: float  # median over checked embeddings of the mean distance to the K nearest enrolled ones
    per_embedding: npt.NDArray[np.float64]  # (n,) those distances
    n_checked: int


def profile_distance(enrolled: npt.NDArray[np.floating[Any]], checked: npt.NDArray[np.floating[Any]],
                     k: int = K_NEAREST) -> IdentityMatch:
    """How far ``checked`` embeddings (n, 128) lie from the ``enrolled`` distribution (m, 128)."""
    if len(enrolled) == 0 or len(checked) == 0:
        raise ValueError("profile_distance needs enrolled and checked embeddings")
    d = np.linalg.norm(checked[:, None, :].astype(np.float64) - enrolled[None, :, :].astype(np.float64), axis=2)
    kk = min(k, d.shape[1])
    near = np.sort(d, axis=1)[:, :kk].mean(axis=1)
    return IdentityMatch(float(np.median(near)), near, len(checked))


__all__ = ["IdentityMatch", "K_NEAREST", "profile_distance"]
