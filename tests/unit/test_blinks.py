"""BlinkAnalyzer on synthetic tracks: a real mesh (the astronaut photo) whose eyelids are moved to make blinks."""

from __future__ import annotations

import math

import numpy as np
import pytest

from unmask.analyzers.blinks import LEFT_EYE, RIGHT_EYE, BlinkAnalyzer, detect_blinks, eye_aspect_ratio
from unmask.types import FaceObs, FaceTrack, MediaContext, MediaInfo, SampledFrame

FPS = 8.0


def _close(lm: np.ndarray, eye: tuple[int, ...], closure: float) -> None:
    """Move the lids of one eye toward each other: closure 0 = as is, 1 = shut."""
    p1, p2, p3, p4, p5, p6 = eye
    for up, low in ((p2, p6), (p3, p5)):
        mid = 0.5 * (lm[up] + lm[low])
        lm[up] = lm[up] + closure * (mid - lm[up])
        lm[low] = lm[low] + closure * (mid - lm[low])


def _track(base: FaceObs, seconds: float, blinks: list[tuple[float, float]], eyes: str = "both",
           seed: int = 0, tid: int = 0) -> FaceTrack:
    """Samples at ~8 fps (slightly uneven); each blink (start, duration) closes the eyes fully."""
    rng = np.random.default_rng(seed)
    n = int(seconds * FPS)
    t = np.arange(n) / FPS + rng.uniform(-0.01, 0.01, n)
    t[0] = 0.0
    obs = []
    for k, tk in enumerate(t):
        lm = base.landmarks.copy()  # type: ignore[union-attr]
        lm[:, :2] += rng.normal(0, 0.15, (lm.shape[0], 2))
        shut = any(s <= tk < s + d for s, d in blinks)
        if shut:
            if eyes in ("both", "left"):
                _close(lm, LEFT_EYE, 0.85)
            if eyes in ("both", "right"):
                _close(lm, RIGHT_EYE, 0.85)
        obs.append(FaceObs(k * 3, float(tk), base.box, base.score, base.crop, base.crop_box, lm))
    return FaceTrack(tid, tuple(obs))


def _ctx(*tracks: FaceTrack) -> MediaContext:
    end = max(tr.end_t for tr in tracks)
    info = MediaInfo("x.mp4", "0" * 64, 1, "mp4", "video", "h264", end, 24.0, 512, 512)
    sampled = tuple(SampledFrame(o.frame_index, o.t, 0, 1) for o in tracks[0].observations)
    return MediaContext(info, (), sampled, tracks)


def test_ear_of_open_and_closed_eyes(base_obs: FaceObs) -> None:
    lm = base_obs.landmarks.copy()  # type: ignore[union-attr]
    open_ear = eye_aspect_ratio(lm, LEFT_EYE)
    _close(lm, LEFT_EYE, 0.85)
    assert 0.2 < open_ear < 0.45
    assert eye_aspect_ratio(lm, LEFT_EYE) < 0.3 * open_ear


def test_blinks_are_counted_and_timed(base_obs: FaceObs) -> None:
    starts = [2.0, 5.0, 8.0]
    tr = _track(base_obs, 10.0, [(s, 0.25) for s in starts])
    r = BlinkAnalyzer().analyze(_ctx(tr))
    ts = r.for_track(0)
    assert r.status == "ok" and ts is not None
    f = ts.features
    assert f["n_blinks"] == 3.0 and f["assessed"] == 1.0
    duration = tr.end_t - tr.start_t
    assert f["blink_rate_per_min"] == pytest.approx(3 / duration * 60)
    assert 0.1 < f["mean_blink_s"] < 0.4
    assert f["left_right_corr"] > 0.9 and f["one_eyed_frac"] == 0.0
    assert r.evidence == ()  # a normal rate over 10 s is not evidence
    assert "blinked 3 times" in r.explanation and "can be missed" in r.explanation
    # the blinks themselves, at the right times
    obs = tr.with_landmarks
    tt = np.array([o.t for o in obs])
    left = np.array([eye_aspect_ratio(o.landmarks, LEFT_EYE) for o in obs])  # type: ignore[arg-type]
    right = np.array([eye_aspect_ratio(o.landmarks, RIGHT_EYE) for o in obs])  # type: ignore[arg-type]
    found = detect_blinks(tt, left, right, np.array([o.frame_index for o in obs]))
    assert [b.t_start for b in found] == pytest.approx(starts, abs=1 / FPS)
    assert all(b.one_eyed is None for b in found)


def test_one_eyed_blinks_are_suspicious(base_obs: FaceObs) -> None:
    tr = _track(base_obs, 10.0, [(2.0, 0.25), (5.0, 0.25), (8.0, 0.25)], eyes="left")
    r = BlinkAnalyzer().analyze(_ctx(tr))
    ts = r.for_track(0)
    assert ts is not None and ts.features["one_eyed_frac"] == 1.0
    assert ts.features["left_right_corr"] < 0.5
    assert ts.score >= 0.6
    ev = [e for e in r.evidence if e.cue == "one_eyed_blink"]
    assert len(ev) == 3 and "only the left eye closed" in ev[0].detail
    assert ev[0].t_start == pytest.approx(2.0, abs=1 / FPS)


def test_no_blink_in_a_long_track_is_a_weak_cue(base_obs: FaceObs) -> None:
    tr = _track(base_obs, 25.0, [])
    r = BlinkAnalyzer().analyze(_ctx(tr))
    ts = r.for_track(0)
    assert ts is not None and ts.features["n_blinks"] == 0.0
    assert 0.5 <= ts.score <= 0.7
    (e,) = r.evidence
    assert e.cue == "no_blinks" and "did not blink once" in e.detail and "weak cue" in e.detail
    assert e.t_start == 0.0 and e.t_end == pytest.approx(tr.end_t)


def test_short_track_is_neutral_with_reason(base_obs: FaceObs) -> None:
    tr = _track(base_obs, 3.0, [(1.0, 0.25)])
    r = BlinkAnalyzer().analyze(_ctx(tr))
    ts = r.for_track(0)
    assert ts is not None and ts.score == 0.5 and ts.features["assessed"] == 0.0
    assert r.evidence == ()
    assert "too short to judge blinking" in r.explanation
    assert all(math.isfinite(v) for v in ts.features.values())


def test_still_image_is_skipped(base_obs: FaceObs) -> None:
    info = MediaInfo("x.jpg", "0" * 64, 1, "jpeg", "image", None, 0.0, 0.0, 512, 512)
    ctx = MediaContext(info, (), (SampledFrame(0, 0.0, 0, 1),), (FaceTrack(0, (base_obs,)),))
    r = BlinkAnalyzer().analyze(ctx)
    assert r.status == "skipped" and "still image" in (r.reason or "")


@pytest.fixture(scope="module")
def base_obs(astronaut_obs):
    """The astronaut's face: a real 478-point mesh with open eyes."""
    return astronaut_obs
