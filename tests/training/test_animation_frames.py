"""Part 3 of the animation experiment on a drawn face: re-synthesis noise (learned/resynthesis.py), frame
features (learned/frame_features.py, random weights, no download) and feature dynamics (learned/feature_dynamics.py)."""

from __future__ import annotations

import numpy as np
import pytest
from drawn_face import driver, face_image, face_landmarks  # noqa: E402  (tests/ is on sys.path)

from unmask.errors import UnmaskError
from unmask_training.learned.animate import AnimationOptions, animate
from unmask_training.learned.feature_dynamics import (
    FLOOR,
    BadDynamicsInput,
    FeatureBasis,
    dynamics_names,
    fit_basis,
    window_dynamics,
)
from unmask_training.learned.frame_features import BadFrameInput, EncoderConfig, FrameEncoder
from unmask_training.learned.resynthesis import (
    BadResynthesisInput,
    ResynthesisOptions,
    draw_resynthesis,
    face_mask,
    resynthesize,
)

FROZEN = AnimationOptions(background="static", blink="frozen", expression_gain=1.0)
WIDTHS = (3, 5)


@pytest.fixture(scope="module")
def animated() -> tuple[np.ndarray, np.ndarray]:
    xy = face_landmarks()
    an = animate(face_image(xy), xy, driver(xy, t=5, turn=1.5, mouth=1.0), np.random.default_rng(0), FROZEN)
    return an.frames, an.landmarks


# --- resynthesis -------------------------------------------------------------------------------------------

def test_resynthesis_changes_the_face_only_and_freshly_per_frame(animated):
    frames, lm = animated
    still = np.repeat(frames[:1], 4, axis=0)
    lms = np.repeat(lm[:1], 4, axis=0)
    out = resynthesize(still, lms, np.random.default_rng(1), ResynthesisOptions(noise=4.0, jpeg=0.0))
    assert out.shape == still.shape and out.dtype == np.uint8
    outside = face_mask(lm[0], frames.shape[1:3], 3.0) < 1e-3
    assert np.array_equal(out[:, outside], still[:, outside])
    inside = face_mask(lm[0], frames.shape[1:3], 0.0) > 0.5
    diff = np.abs(out.astype(int) - still.astype(int))[:, inside].mean(axis=(1, 2))
    assert np.all(diff > 0.5)  # every frame redrawn
    # and differently per frame: identical inputs give different outputs
    step = np.abs(out[1:].astype(int) - out[:-1].astype(int))[:, inside].mean(axis=(1, 2))
    assert np.all(step > 0.5)


def test_resynthesis_is_reproducible_from_the_seed(animated):
    frames, lm = animated
    a = resynthesize(frames, lm, np.random.default_rng(3))
    b = resynthesize(frames, lm, np.random.default_rng(3))
    c = resynthesize(frames, lm, np.random.default_rng(4))
    assert np.array_equal(a, b) and not np.array_equal(a, c)
    assert isinstance(draw_resynthesis(np.random.default_rng(0)), ResynthesisOptions)


@pytest.mark.parametrize("kwargs", [{"blur": -1.0}, {"noise": float("nan")}, {"jpeg": 2.0}, {"quality": (90, 50)}])
def test_bad_resynthesis_options_raise(kwargs):
    with pytest.raises(BadResynthesisInput):
        ResynthesisOptions(**kwargs)


def test_bad_resynthesis_input_raises(animated):
    frames, lm = animated
    for f, m in ((frames.astype(np.float32), lm), (frames, lm[:-1]), (frames[0], lm),
                 (frames, np.where(np.ones_like(lm, bool), np.nan, lm))):
        with pytest.raises(UnmaskError):
            resynthesize(f, m, np.random.default_rng(0))


# --- frame features ----------------------------------------------------------------------------------------

def test_encoder_pools_three_taps_deterministically(animated):
    pytest.importorskip("torch")
    frames, _ = animated
    enc = FrameEncoder(EncoderConfig(size=64, batch=2), pretrained=False)
    f = enc.encode(frames[:3])
    assert f.shape == (3, sum(EncoderConfig().widths)) == (3, enc.dim) and f.dtype == np.float32
    assert np.all(np.isfinite(f))
    assert np.allclose(f, enc.encode(frames[:3]), atol=1e-5)
    assert np.allclose(f[1], enc.encode(frames[1:2])[0], atol=1e-4)  # batching does not mix views


@pytest.mark.parametrize("kwargs", [{"arch": "vgg"}, {"size": 100}, {"crop_zoom": 2.0}, {"batch": 0}])
def test_bad_encoder_config_raises(kwargs):
    with pytest.raises(BadFrameInput):
        EncoderConfig(**kwargs)


def test_encoder_refuses_non_views():
    pytest.importorskip("torch")
    enc = FrameEncoder(EncoderConfig(size=64), pretrained=False)
    with pytest.raises(UnmaskError):
        enc.encode(np.zeros((2, 64, 32, 3), np.uint8))


# --- dynamics ----------------------------------------------------------------------------------------------

def _feats(t: int, rng: np.random.Generator, moving: float) -> np.ndarray:
    base = rng.normal(0, 1, sum(WIDTHS)) + 3.0
    return base + moving * rng.normal(0, 1, (t, sum(WIDTHS)))


def test_frozen_features_floor_and_moving_ones_rise(animated):
    _, lm = animated
    rng = np.random.default_rng(0)
    basis = fit_basis(rng.normal(0, 1, (50, sum(WIDTHS))), WIDTHS[0], sum(WIDTHS), 2)
    names = dynamics_names(WIDTHS, basis)
    frozen = window_dynamics(np.repeat(_feats(1, rng, 0.0), len(lm), axis=0), lm, WIDTHS, basis)
    moving = window_dynamics(_feats(len(lm), rng, 0.5), lm, WIDTHS, basis)
    assert frozen.shape == moving.shape == (len(names),)
    feat = [i for i, n in enumerate(names) if "motion" not in n]
    assert np.allclose(frozen[feat], np.log(FLOOR))
    assert np.all(moving[feat] > frozen[feat])
    # the landmark motion is the same for both
    assert np.array_equal(frozen[-2:], moving[-2:]) and frozen[-2] > np.log(FLOOR)
    assert len(dynamics_names(WIDTHS, None)) == len(window_dynamics(_feats(len(lm), rng, 0.5), lm, WIDTHS))


def test_bad_dynamics_input_raises(animated):
    _, lm = animated
    rng = np.random.default_rng(0)
    f = _feats(len(lm), rng, 0.5)
    with pytest.raises(BadDynamicsInput):
        window_dynamics(f[:, :-1], lm, WIDTHS)
    with pytest.raises(BadDynamicsInput):
        window_dynamics(f[:2], lm[:2], WIDTHS)
    with pytest.raises(BadDynamicsInput):
        window_dynamics(f, lm[:-1], WIDTHS)
    with pytest.raises(BadDynamicsInput):
        fit_basis(f, 0, 3, 10)
    with pytest.raises(BadDynamicsInput):
        FeatureBasis(0, 3, np.zeros(2), np.zeros((1, 3)), np.ones(1))
