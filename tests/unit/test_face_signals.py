"""Facial movement signals: expressions measured on the face itself, whatever the head's pose and distance."""

from __future__ import annotations

import math

import numpy as np

from unmask.faces.signals import SIGNAL_NAMES, frame_signals, track_signals
from unmask.types import FaceTrack


def _rotate_y(lm: np.ndarray, deg: float) -> np.ndarray:
    """Turn the mesh about the vertical axis through its centre (image coordinates, z on x's scale)."""
    a = math.radians(deg)
    c = lm.mean(axis=0)
    r = np.array([[math.cos(a), 0, math.sin(a)], [0, 1, 0], [-math.sin(a), 0, math.cos(a)]])
    return ((lm - c) @ r.T + c).astype(np.float32)


def test_expressions_do_not_change_with_pose_or_distance(astronaut_obs):
    lm = astronaut_obs.landmarks
    base = frame_signals(lm)
    moved = lm.copy()
    moved = moved * 0.6  # farther from the camera (mesh depth is on x's scale, so it shrinks too) ...
    moved[:, :2] += 50  # ... and elsewhere in the frame
    again = frame_signals(moved)
    expr = slice(0, SIGNAL_NAMES.index("yaw"))
    assert np.allclose(base[expr], again[expr], atol=1e-3)
    turned = frame_signals(_rotate_y(lm, 20.0))
    assert np.allclose(base[expr], turned[expr], atol=0.05)


def test_head_turn_is_recovered_as_yaw(astronaut_obs):
    yaw0 = frame_signals(astronaut_obs.landmarks)[SIGNAL_NAMES.index("yaw")]
    for deg in (-25.0, 15.0):
        yaw = frame_signals(_rotate_y(astronaut_obs.landmarks, deg))[SIGNAL_NAMES.index("yaw")]
        assert abs(abs(yaw - yaw0) - abs(deg)) < 2.0


def test_opening_the_mouth_raises_mouth_signals(astronaut_obs):
    lm = astronaut_obs.landmarks.copy()
    before = frame_signals(lm)
    size = float(np.ptp(lm[:, 1]))
    for idx in (14, 17, 152):  # lower inner lip, lower outer lip, chin
        lm[idx, 1] += 0.04 * size
    after = frame_signals(lm)
    i = SIGNAL_NAMES.index
    assert after[i("mouth_open")] > before[i("mouth_open")] + 0.2
    assert after[i("jaw_drop")] > before[i("jaw_drop")] + 0.2
    assert after[i("lower_lip")] < before[i("lower_lip")] - 0.2


def test_track_signals_skip_frames_without_a_mesh(astronaut_obs):
    from dataclasses import replace

    obs = [replace(astronaut_obs, t=k / 8, frame_index=k, landmarks=None if k == 2 else astronaut_obs.landmarks)
           for k in range(5)]
    sig = track_signals(FaceTrack(1, tuple(obs)))
    assert len(sig) == 4 and 2 not in sig.frame_index.tolist()
    assert sig.values.shape == (4, len(SIGNAL_NAMES))
