"""Texture-rigidity cues (learned/animation_cues.py) on a drawn face animated by animate.py: no models, no data."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from drawn_face import driver, face_image, face_landmarks  # noqa: E402  (tests/ is on sys.path)

from unmask.errors import UnmaskError
from unmask.learned.animation_cues import (
    BANDS,
    REGIONS,
    BadCueInput,
    CueConfig,
    WindowCues,
    feature_names,
    region_masks,
    window_cues,
    windows,
)
from unmask_training.learned.animate import AnimationOptions, animate

FROZEN = AnimationOptions(background="static", blink="frozen", expression_gain=1.0)


@pytest.fixture(scope="module")
def animated() -> tuple[np.ndarray, np.ndarray]:
    xy = face_landmarks()
    an = animate(face_image(xy), xy, driver(xy, t=6, turn=1.5, mouth=1.0), np.random.default_rng(0), FROZEN)
    return an.frames, an.landmarks


def _living(frames: np.ndarray, seed: int) -> np.ndarray:
    """The frames with a fresh smooth texture and sensor noise per frame: skin that changes over time."""
    rng = np.random.default_rng(seed)
    out = []
    for f in frames:
        h, w = f.shape[:2]
        field = cv2.resize(rng.normal(0, 1, (24, 24)).astype(np.float32), (w, h), interpolation=cv2.INTER_CUBIC)
        noise = rng.normal(0, 3.0, (h, w)).astype(np.float32)
        out.append(np.clip(f.astype(np.float32) + (6.0 * field + noise)[..., None], 0, 255).astype(np.uint8))
    return np.stack(out)


def test_vector_matches_names_and_is_deterministic(animated):
    frames, lm = animated
    a, b = window_cues(frames, lm), window_cues(frames.copy(), lm.copy())
    assert isinstance(a, WindowCues)
    assert a.change.shape == (len(REGIONS), len(BANDS)) and a.coherence.shape == (len(REGIONS),)
    va = a.vector()
    assert va.shape == (len(feature_names()),) and np.all(np.isfinite(va))
    assert np.array_equal(va, b.vector())


def test_animated_window_changes_less_than_living_skin(animated):
    frames, lm = animated
    frozen = window_cues(frames, lm)
    living = window_cues(_living(frames, 1), lm)
    skin = [REGIONS.index("cheeks"), REGIONS.index("forehead")]
    mid, high = BANDS.index("mid"), BANDS.index("high")
    # the drawn skin has little fine detail, so unwarping's interpolation already changes its high band
    assert np.all(frozen.change[skin, mid] < 0.5 * living.change[skin, mid]), (frozen.change, living.change)
    assert np.all(frozen.change[skin, high] < living.change[skin, high]), (frozen.change, living.change)
    assert np.all(frozen.coherence[skin] > living.coherence[skin])
    # the geometry is the same, so the motion cues are too
    assert frozen.rigid_motion == living.rigid_motion > 0.0


def test_motion_cues_see_the_head_move(animated):
    frames, lm = animated
    still = window_cues(np.repeat(frames[:1], len(frames), axis=0), np.repeat(lm[:1], len(lm), axis=0))
    moving = window_cues(frames, lm)
    assert still.rigid_motion == 0.0 and still.expression_motion == 0.0
    assert moving.rigid_motion > 0.01 and moving.expression_motion > still.expression_motion


def test_region_masks_are_separate_skin(animated):
    frames, lm = animated
    m = region_masks(lm[0], frames.shape[1:3])
    assert set(m) == set(REGIONS)
    assert all(v.sum() > 100 for v in m.values())
    assert not np.any(m["cheeks"] & m["forehead"]) and not np.any(m["cheeks"] & m["mouth"])
    assert not np.any(m["eyes"] & m["cheeks"])


def test_bad_input_raises(animated):
    frames, lm = animated
    with pytest.raises(BadCueInput):
        window_cues(frames.astype(np.float32), lm)
    with pytest.raises(BadCueInput):
        window_cues(frames[:2], lm[:2])
    with pytest.raises(BadCueInput):
        window_cues(frames, lm[:-1])
    bad = lm.copy()
    bad[2, 5] = np.nan
    with pytest.raises(UnmaskError):
        window_cues(frames, bad)
    with pytest.raises(BadCueInput):
        window_cues(frames, np.zeros_like(lm))  # no face
    with pytest.raises(BadCueInput):
        CueConfig(reference="last")
    with pytest.raises(BadCueInput):
        windows(10, 0, 1)


def test_windows():
    assert windows(16, 8, 4) == [(0, 8), (4, 12), (8, 16)]
    assert windows(5, 8, 4) == []
