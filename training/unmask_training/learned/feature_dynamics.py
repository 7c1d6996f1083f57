"""How a window's per-frame CNN features change, read against how far its landmarks moved.

The temporal half of the feature-based animation head: per window of T consecutive views, the
step-to-step and to-reference cosine distances of each pooled tap of
:class:`unmask_training.learned.frame_features.FrameEncoder`, the per-component step size in a fitted PCA
basis of the high-level features, and the head and expression motion of the landmarks
(:func:`unmask.learned.animation_cues.landmark_motion`). All are logs, so a linear head can form
"appearance change per unit of motion": a photo moved by a generator changes its appearance only
as much as its geometry forces, a real face also changes in lighting, skin and noise.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from unmask.errors import UnmaskError
from unmask.learned.animation_cues import landmark_motion
from unmask.types import N_LANDMARKS

#: distances and motions are floored here before the log
FLOOR = 1e-4


class BadDynamicsInput(UnmaskError, ValueError):
    """A feature window, landmark window or basis that does not fit."""


@dataclass(frozen=True)
class FeatureBasis:
    """A PCA basis of (a slice of) the per-frame features, fitted on training views only."""

    start: int  # the slice of the feature vector it applies to
    stop: int
    mean: np.ndarray  # (stop - start,)
    components: np.ndarray  # K x (stop - start), orthonormal rows
    scale: np.ndarray  # K: each component's std over the fitted views

    def __post_init__(self) -> None:
        d = self.stop - self.start
        if d < 1 or self.mean.shape != (d,) or self.components.ndim != 2 or self.components.shape[1] != d \
                or self.scale.shape != (len(self.components),):
            raise BadDynamicsInput("FeatureBasis: mean, components and scale do not fit the slice")

    def project(self, feats: np.ndarray) -> np.ndarray:
        return (np.asarray(feats, np.float64)[:, self.start:self.stop] - self.mean) @ self.components.T / self.scale


def fit_basis(feats: np.ndarray, start: int, stop: int, k: int) -> FeatureBasis:
    """The top ``k`` principal components of ``feats[:, start:stop]`` (N x D, N > k)."""
    x = np.asarray(feats, np.float64)[:, start:stop]
    if x.ndim != 2 or len(x) <= k or k < 1 or not np.all(np.isfinite(x)):
        raise BadDynamicsInput(f"need more than k={k} finite feature rows, got {x.shape}")
    mean = x.mean(axis=0)
    _, s, vt = np.linalg.svd(x - mean, full_matrices=False)
    comps = vt[:k]
    scale = s[:k] / np.sqrt(len(x) - 1) + 1e-9
    return FeatureBasis(start, stop, mean, comps, scale)


def _cos_dist(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    num = np.sum(a * b, axis=-1)
    den = np.linalg.norm(a, axis=-1) * np.linalg.norm(b, axis=-1) + 1e-9
    return 1.0 - num / den


def dynamics_names(widths: tuple[int, ...], basis: FeatureBasis | None) -> tuple[str, ...]:
    names = []
    for i in range(len(widths)):
        names += [f"log_step_tap{i}", f"log_step_max_tap{i}", f"log_ref_tap{i}"]
    if basis is not None:
        names += [f"log_pc_step{k}" for k in range(len(basis.components))]
    return tuple(names) + ("log_rigid_motion", "log_expression_motion")


def window_dynamics(feats: np.ndarray, landmarks: np.ndarray, widths: tuple[int, ...],
                    basis: FeatureBasis | None = None) -> np.ndarray:
    """Feature vector (:func:`dynamics_names` order) of one window: feats T x D, landmarks T x 478 x 2."""
    f = np.asarray(feats, np.float64)
    lm = np.asarray(landmarks, np.float64)
    if f.ndim != 2 or len(f) < 3 or f.shape[1] != sum(widths) or not np.all(np.isfinite(f)):
        raise BadDynamicsInput(f"feats must be T x {sum(widths)} finite with T >= 3, got {f.shape}")
    if lm.shape[:2] != (len(f), N_LANDMARKS) or lm.shape[2] < 2 or not np.all(np.isfinite(lm[..., :2])):
        raise BadDynamicsInput(f"landmarks must be {len(f)} x {N_LANDMARKS} x 2 finite, got {lm.shape}")
    ref = len(f) // 2
    out = []
    s = 0
    for w in widths:
        x = f[:, s:s + w]
        s += w
        step = _cos_dist(x[1:], x[:-1])
        to_ref = np.delete(_cos_dist(x, x[ref][None]), ref)
        out += [np.log(max(float(np.median(step)), FLOOR)), np.log(max(float(step.max()), FLOOR)),
                np.log(max(float(np.median(to_ref)), FLOOR))]
    if basis is not None:
        z = basis.project(f)
        out += list(np.log(np.maximum(np.mean(np.abs(np.diff(z, axis=0)), axis=0), FLOOR)))
    iod = float(np.linalg.norm(lm[ref, 33, :2] - lm[ref, 263, :2]))
    if iod < 4.0:
        raise BadDynamicsInput(f"the eyes are {iod:.1f} px apart in the reference view: too small a face")
    rigid, expr = landmark_motion(lm[..., :2], ref, iod)
    out += [np.log(max(rigid, FLOOR)), np.log(max(expr, FLOOR))]
    return np.asarray(out, np.float64)
