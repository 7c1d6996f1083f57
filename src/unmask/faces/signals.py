"""Facial movements over time, measured on the face itself: mouth, lips, brows, eyes and head rotation.

Reference mode (how a person moves) and the lip-sync check (does the mouth
follow the voice) both read the same handful of signals per observation.
Each frame's 478-point mesh is first aligned rigidly (rotation, scale,
translation: Kabsch/Umeyama) onto mediapipe's canonical 3D face using points
that expressions barely move (eye corners, nose bridge, forehead, temples),
so expression signals are in the canonical face's centimetres, whatever the
head's pose and distance; the rotation itself gives the head's yaw, pitch
and roll. The names follow what a viewer would call them, with the FACS
action unit each approximates.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np
import numpy.typing as npt

from unmask.faces.regions import load_canonical_face
from unmask.types import FaceObs, FaceTrack

#: mesh points that expressions barely move: eye corners, nose bridge, forehead, temples
RIGID: tuple[int, ...] = (33, 133, 263, 362, 168, 6, 197, 195, 10, 151, 9, 234, 454, 127, 356)

#: signal name -> plain words (and the FACS action unit it approximates)
SIGNALS: dict[str, str] = {
    "mouth_open": "mouth opening (lips apart, AU25/26)",
    "jaw_drop": "jaw drop (chin down, AU26/27)",
    "mouth_width": "lip stretch (mouth corners apart, AU20)",
    "corner_raise": "mouth corners up (smile, AU12)",
    "upper_lip": "upper lip raise (AU10)",
    "lower_lip": "lower lip drop (AU16)",
    "brow_raise": "brow raise (AU1/2)",
    "brow_furrow": "brows drawn together (AU4)",
    "eyes_open": "eye openness (blinks, AU45)",
    "yaw": "head turn (left-right)",
    "pitch": "head nod (up-down)",
    "roll": "head tilt (sideways)",
}
SIGNAL_NAMES: tuple[str, ...] = tuple(SIGNALS)

_TO_MODEL = np.array([1.0, -1.0, -1.0])  # mesh (x right, y down, z away) -> canonical (x, y up, z toward viewer)


@lru_cache(maxsize=1)
def _canonical_rigid() -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    model = load_canonical_face()
    pts = model[list(RIGID)]
    return model, pts


def align_to_canonical(lm: npt.NDArray[np.floating[Any]]) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """(landmarks in canonical-face centimetres, rotation taking the canonical face to this head).

    Umeyama similarity fit on :data:`RIGID` points; the returned rotation ``R`` satisfies
    ``observed ≈ s · R · canonical + t`` in model axes.
    """
    _, ref = _canonical_rigid()
    x = lm[:468].astype(np.float64) * _TO_MODEL
    src = x[list(RIGID)]
    mu_s, mu_r = src.mean(axis=0), ref.mean(axis=0)
    a, b = src - mu_s, ref - mu_r
    h = a.T @ b  # 3x3 cross-covariance, observed -> canonical
    u, sv, vt = np.linalg.svd(h)
    d = np.sign(np.linalg.det(vt.T @ u.T))
    dm = np.diag([1.0, 1.0, d])
    r_obs_to_can = vt.T @ dm @ u.T
    var = float((a ** 2).sum())
    scale = float((sv * np.diag(dm)).sum() / var) if var > 0 else 1.0
    aligned = scale * (x - mu_s) @ r_obs_to_can.T + mu_r
    return aligned, r_obs_to_can.T


def euler_deg(r: npt.NDArray[np.floating[Any]]) -> tuple[float, float, float]:
    """(yaw about the vertical axis, pitch about the horizontal axis, roll about the viewing axis), degrees."""
    yaw = math.degrees(math.asin(float(np.clip(-r[2, 0], -1.0, 1.0))))
    pitch = math.degrees(math.atan2(float(r[2, 1]), float(r[2, 2])))
    roll = math.degrees(math.atan2(float(r[1, 0]), float(r[0, 0])))
    return yaw, pitch, roll


def _ear(p: npt.NDArray[np.floating[Any]], idx: tuple[int, ...]) -> float:
    q = p[list(idx)]
    width = np.linalg.norm(q[0] - q[3])
    if width <= 1e-9:
        return float("nan")
    return float((np.linalg.norm(q[1] - q[5]) + np.linalg.norm(q[2] - q[4])) / (2.0 * width))


_LEFT_EYE = (33, 160, 158, 133, 153, 144)
_RIGHT_EYE = (362, 385, 387, 263, 373, 380)


def frame_signals(lm: npt.NDArray[np.floating[Any]]) -> npt.NDArray[np.float64]:
    """The :data:`SIGNAL_NAMES` values for one 478x3 mesh (canonical centimetres, degrees)."""
    p, r = align_to_canonical(lm)
    y = p[:, 1]
    nose_base = y[2]
    eye_line = 0.5 * (y[133] + y[362])
    yaw, pitch, roll = euler_deg(r)
    return np.array([
        y[13] - y[14],  # inner lips apart
        nose_base - y[152],  # chin below the nose base
        float(np.linalg.norm(p[291] - p[61])),
        0.5 * (y[61] + y[291]) - nose_base,
        y[0] - nose_base,
        y[17] - nose_base,
        float(np.mean(y[[105, 66, 334, 296, 70, 300]])) - eye_line,
        abs(p[285, 0] - p[55, 0]),
        0.5 * (_ear(p, _LEFT_EYE) + _ear(p, _RIGHT_EYE)),
        yaw, pitch, roll,
    ], dtype=np.float64)


@dataclass(frozen=True)
class TrackSignals:
    """Per-observation signals of one face track (observations without a mesh are left out)."""

    track_id: int
    t: npt.NDArray[np.float64]  # seconds
    frame_index: npt.NDArray[np.int64]
    segment: npt.NDArray[np.int64]
    values: npt.NDArray[np.float64]  # (n, len(SIGNAL_NAMES))

    def __post_init__(self) -> None:
        n = len(self.t)
        if self.values.shape != (n, len(SIGNAL_NAMES)):
            raise ValueError(f"TrackSignals: values must be ({n}, {len(SIGNAL_NAMES)}), got {self.values.shape}")

    def signal(self, name: str) -> npt.NDArray[np.float64]:
        return self.values[:, SIGNAL_NAMES.index(name)]

    def __len__(self) -> int:
        return len(self.t)


def track_signals(track: FaceTrack) -> TrackSignals:
    """Signals for every observation of ``track`` that has landmarks."""
    obs: list[FaceObs] = [o for o in track.observations if o.landmarks is not None]
    if not obs:
        return TrackSignals(track.id, np.zeros(0), np.zeros(0, int), np.zeros(0, int), np.zeros((0, len(SIGNAL_NAMES))))
    vals = np.stack([frame_signals(o.landmarks) for o in obs])  # type: ignore[arg-type]
    ok = np.all(np.isfinite(vals), axis=1)
    obs = [o for o, k in zip(obs, ok) if k]
    return TrackSignals(
        track.id,
        np.array([o.t for o in obs], dtype=np.float64),
        np.array([o.frame_index for o in obs], dtype=np.int64),
        np.array([o.segment for o in obs], dtype=np.int64),
        vals[ok],
    )


__all__ = ["SIGNALS", "SIGNAL_NAMES", "RIGID", "TrackSignals", "align_to_canonical", "euler_deg", "frame_signals",
           "track_signals"]
