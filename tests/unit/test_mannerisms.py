"""Mannerism windows and the per-person model, on signals whose correlations are known."""

from __future__ import annotations

import numpy as np
import pytest

from unmask.faces.signals import SIGNAL_NAMES, TrackSignals
from unmask.reference.mannerisms import (
    PAIRS,
    R_CLIP,
    Population,
    correlation_vector,
    effective_windows,
    match,
    pair_words,
    track_windows,
)

K = len(SIGNAL_NAMES)


def _pair(a: str, b: str) -> int:
    i, j = sorted((SIGNAL_NAMES.index(a), SIGNAL_NAMES.index(b)))
    return PAIRS.index((i, j))


def test_correlations_of_known_signals():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(400, K))
    x[:, SIGNAL_NAMES.index("pitch")] = 2 * x[:, 0] + 1  # nods exactly with the mouth
    x[:, SIGNAL_NAMES.index("roll")] = -x[:, SIGNAL_NAMES.index("brow_raise")]  # tilts against the brows
    x[:, SIGNAL_NAMES.index("yaw")] = 0.0  # never turns: no correlation to speak of
    v = correlation_vector(x)
    z_max = np.arctanh(R_CLIP)
    assert v[_pair("mouth_open", "pitch")] == pytest.approx(z_max)
    assert v[_pair("brow_raise", "roll")] == pytest.approx(-z_max)
    assert v[_pair("yaw", "mouth_open")] == 0.0
    assert abs(v[_pair("jaw_drop", "corner_raise")]) < 0.15  # independent: near 0
    assert v.dtype == np.float32 and v.shape == (len(PAIRS),)


def _signals(seconds: float, fps: float = 8.0, gap_at: float | None = None, seed: int = 0) -> TrackSignals:
    t = np.arange(0, seconds, 1 / fps)
    if gap_at is not None:
        t = t[(t < gap_at) | (t > gap_at + 1.0)]
    rng = np.random.default_rng(seed)
    vals = rng.normal(size=(len(t), K))
    return TrackSignals(1, t, np.arange(len(t)), np.zeros(len(t), int), vals)


def test_windows_overlap_and_short_clips_give_none():
    assert len(track_windows(_signals(8.0))) == 4  # 4 s windows every second: 0-4 ... 3-7 (the last sample is 7.875)
    assert len(track_windows(_signals(8.2))) == 5
    assert len(track_windows(_signals(3.5))) == 0  # shorter than one window
    # a gap over half a second splits the track: neither side holds a 4 s window
    assert len(track_windows(_signals(8.0, gap_at=3.5))) == 0
    # fewer samples than the scan's rate promises: not enough for a window
    assert len(track_windows(_signals(8.0, fps=3.0))) == 0
    assert len(track_windows(_signals(8.0, fps=3.0), nominal_fps=3.0)) == 4


def _person(mean: np.ndarray, n: int, rng, spread: float = 0.3) -> np.ndarray:
    return (mean + spread * rng.normal(size=(n, len(PAIRS)))).astype(np.float32)


def test_the_same_person_scores_above_someone_else():
    rng = np.random.default_rng(1)
    means = [rng.normal(0, 0.4, len(PAIRS)) for _ in range(12)]
    pop = Population.fit([_person(m, 20, rng) for m in means[2:]])
    a_enrol, a_check = _person(means[0], 20, rng), _person(means[0], 5, rng)
    b_check = _person(means[1], 5, rng)
    same, other = match(a_enrol, a_check, pop), match(a_enrol, b_check, pop)
    assert same.llr > 0 > other.llr
    k, here, there = other.top_pairs[0]
    assert 0 <= k < len(PAIRS) and -1 <= here <= 1 and -1 <= there <= 1
    assert pair_words(k).startswith("how ")


def test_population_needs_several_people_and_overlap_is_discounted():
    with pytest.raises(ValueError):
        Population.fit([np.zeros((3, len(PAIRS)), np.float32)] * 2)
    assert effective_windows(8) == 2.0 and effective_windows(2) == 1.0 and effective_windows(0) == 0.0
