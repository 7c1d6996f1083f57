"""The shipped talking-head head: a logistic regression on the texture-rigidity cues of one window.

Trained on pseudo-fakes only (one real frame animated by another real clip's motion, `animate.py`)
against the same clips' real and beauty-filtered windows; it never saw a generator's output, so the
development talking heads stay a test. Coefficients live in ``models/animation_head.json`` with the
command that reproduces them (``benchmarks/animation_experiment.py export``).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from unmask.errors import ModelError
from unmask.learned.animation_cues import feature_names

SHIPPED = Path(__file__).resolve().parent.parent / "models" / "animation_head.json"


@dataclass(frozen=True)
class AnimationHead:
    """Standardise the 21 cues, then a logistic model: P(the window was animated from one photo)."""

    features: tuple[str, ...]
    mean: NDArray[Any]
    scale: NDArray[Any]
    coef: NDArray[Any]
    intercept: float
    threshold: float  # a window at or above it counts as "frozen" in the evidence (flags half the pseudo-fakes)
    meta: Mapping[str, Any]
    sha256: str = ""  # of the JSON file it was loaded from

    def __post_init__(self) -> None:
        n = len(self.features)
        if tuple(self.features) != feature_names():
            raise ModelError("animation head: its features are not the cues this version measures "
                             f"({len(self.features)} vs {len(feature_names())}); retrain it")
        if not (self.mean.shape == self.scale.shape == self.coef.shape == (n,)):
            raise ModelError(f"animation head: {n} features but mean/scale/coef of {self.mean.shape}/"
                             f"{self.scale.shape}/{self.coef.shape}")
        if not (np.all(np.isfinite(self.mean)) and np.all(self.scale > 0) and np.all(np.isfinite(self.coef))
                and np.isfinite(self.intercept) and 0.0 < self.threshold < 1.0):
            raise ModelError("animation head: non-finite or out-of-range coefficients")

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> AnimationHead:
        try:
            return cls(tuple(d["features"]), np.asarray(d["mean"], np.float64), np.asarray(d["scale"], np.float64),
                       np.asarray(d["coef"], np.float64), float(d["intercept"]), float(d["threshold"]),
                       {k: v for k, v in d.items() if k not in ("features", "mean", "scale", "coef", "intercept")})
        except (KeyError, TypeError, ValueError) as e:
            raise ModelError(f"animation head: malformed ({e})") from None

    @classmethod
    def load(cls, path: Path | None = None) -> AnimationHead:
        p = Path(path) if path is not None else SHIPPED
        try:
            raw = p.read_bytes()
            return replace(cls.from_dict(json.loads(raw)), sha256=hashlib.sha256(raw).hexdigest())
        except OSError as e:
            raise ModelError(f"animation head {p}: {e.strerror or e}") from None
        except (json.JSONDecodeError, UnicodeDecodeError) as e:
            why = e.msg if isinstance(e, json.JSONDecodeError) else e.reason
            raise ModelError(f"animation head {p}: not JSON ({why})") from None

    def predict(self, X: NDArray[Any]) -> NDArray[Any]:
        """Probabilities for K windows' cue vectors (K x 21)."""
        X = np.atleast_2d(np.asarray(X, np.float64))
        if X.shape[1] != len(self.features):
            raise ModelError(f"animation head: expected {len(self.features)} cues per window, got {X.shape[1]}")
        z = ((X - self.mean) / self.scale) @ self.coef + self.intercept
        p: NDArray[np.float64] = 1.0 / (1.0 + np.exp(-np.clip(z, -30.0, 30.0)))
        return p

    def to_dict(self) -> dict[str, Any]:
        return {**self.meta, "features": list(self.features), "mean": self.mean.tolist(),
                "scale": self.scale.tolist(), "coef": self.coef.tolist(), "intercept": self.intercept,
                "threshold": self.threshold}
