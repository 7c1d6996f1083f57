"""The `animation` analyzer (talking heads) on a drawn face animated by animate.py: windows, scores, words."""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pytest
from conftest import assert_well_formed
from drawn_face import driver, face_image, face_landmarks  # noqa: E402  (tests/ is on sys.path)
from test_animation_cues import _living  # noqa: E402  (fresh texture and noise per frame: living skin)

from unmask.analyzers.animation import MAX_WINDOWS, WINDOW, AnimationAnalyzer, track_windows
from unmask.config import ScanConfig
from unmask.errors import ModelError
from unmask.learned.animation_cues import feature_names
from unmask.learned.animation_head import SHIPPED, AnimationHead
from unmask.types import FaceObs, FaceTrack, MediaContext, MediaInfo, SampledFrame
from unmask_training.learned.animate import AnimationOptions, animate

FROZEN = AnimationOptions(background="static", blink="frozen", expression_gain=1.0)
N = 12


def _obs(frame: np.ndarray, xy: np.ndarray, i: int, t: float, segment: int = 0) -> FaceObs:
    s = frame.shape[0]
    lm = np.concatenate([xy, np.zeros((len(xy), 1), np.float32)], axis=1).astype(np.float32)
    x0, y0 = xy.min(axis=0)
    x1, y1 = xy.max(axis=0)
    return FaceObs(i, t, (float(x0), float(y0), float(x1), float(y1)), 0.99, frame, (0.0, 0.0, float(s), float(s)), lm,
                   segment)


@pytest.fixture(scope="module")
def animated() -> tuple[np.ndarray, np.ndarray]:
    xy = face_landmarks()
    an = animate(face_image(xy), xy, driver(xy, t=N, turn=0.8, mouth=0.5), np.random.default_rng(0), FROZEN)
    return an.frames, an.landmarks


def _track(frames: np.ndarray, lms: np.ndarray, step: float = 0.25) -> FaceTrack:
    return FaceTrack(1, tuple(_obs(f, xy, i, i * step) for i, (f, xy) in enumerate(zip(frames, lms))))


def _ctx(track: FaceTrack) -> MediaContext:
    info = MediaInfo("x.mp4", "0" * 64, 1, "mp4", "video", "h264", 4.0, 25.0, 256, 256)
    return MediaContext(info, (), tuple(SampledFrame(o.frame_index, o.t, o.segment, 1)
                                                      for o in track.observations), (track,))


class _ByMotion:
    """A stand-in head: probability rises with the window's index, so spans and words can be checked."""

    threshold = 0.5

    def __init__(self) -> None:
        self.calls = 0

    def predict(self, X: np.ndarray) -> np.ndarray:
        self.calls += 1
        assert X.shape[1] == len(feature_names())
        return np.linspace(0.2, 0.9, len(X))


# --- windows ---------------------------------------------------------------------------------------------

def test_windows_thin_to_four_a_second_and_split_at_gaps_and_segments(animated):
    frames, lms = animated
    o = _obs(frames[0], lms[0], 0, 0.0)
    eight_fps = FaceTrack(1, tuple(replace(o, frame_index=i, t=i * 0.125) for i in range(64)))  # 8 s at 8 fps
    w = track_windows(eight_fps)
    assert all(len(x) == WINDOW for x in w)
    assert all(np.allclose(np.diff([v.t for v in x]), 0.25) for x in w)
    assert len(w) == 7  # 32 views at 4 fps: windows at 0, 4, ..., 24
    split = FaceTrack(1, tuple(replace(o, frame_index=i, t=i * 0.25 + (5.0 if i >= 10 else 0.0),
                                       segment=int(i >= 10)) for i in range(20)))
    assert [len(x) for x in track_windows(split)] == [WINDOW, WINDOW]  # 10 + 10 views: one window each
    short = FaceTrack(1, tuple(replace(o, frame_index=i, t=i * 0.25) for i in range(WINDOW - 1)))
    assert track_windows(short) == []
    long = FaceTrack(1, tuple(replace(o, frame_index=i, t=i * 0.25) for i in range(400)))
    assert len(track_windows(long)) == MAX_WINDOWS


def test_small_faces_and_faces_without_a_mesh_make_no_window(animated):
    frames, lms = animated
    o = _obs(frames[0], lms[0], 0, 0.0)
    tiny = replace(o, box=(0.0, 0.0, 30.0, 30.0))
    assert track_windows(FaceTrack(1, tuple(replace(tiny, frame_index=i, t=i * 0.25) for i in range(16)))) == []
    r = AnimationAnalyzer(_ByMotion()).analyze(_ctx(FaceTrack(1, tuple(
        replace(o, frame_index=i, t=i * 0.25, landmarks=None) for i in range(16)))))
    assert r.status == "skipped" and "mesh" in r.reason


# --- the analyzer ----------------------------------------------------------------------------------------

def test_scores_windows_and_says_where_the_texture_froze(animated):
    frames, lms = animated
    head = _ByMotion()
    r = AnimationAnalyzer(head).analyze(_ctx(_track(frames, lms)))
    assert_well_formed(r)
    ts = r.for_track(1)
    assert head.calls == 1 and len(ts.per_frame) == 2  # 12 views: windows at 0 and 4
    assert ts.score == pytest.approx(np.mean([0.2, 0.9]))
    assert ts.features["frac_frozen"] == pytest.approx(0.5)
    assert r.evidence and r.evidence[0].cue == "frozen_texture" and r.evidence[0].track_id == 1
    assert "one photo is animated" in r.evidence[0].detail and "1 of 2" in r.evidence[0].detail
    assert "1 of 2 two-second windows" in r.explanation


def test_shipped_head_finds_the_animated_face_more_frozen_than_living_skin(animated):
    frames, lms = animated
    an = AnimationAnalyzer()
    frozen = an.analyze(_ctx(_track(frames, lms))).for_track(1).score
    living = an.analyze(_ctx(_track(_living(frames, 1), lms))).for_track(1).score
    assert frozen > living, (frozen, living)


def test_on_by_default_and_its_head_is_the_documented_one():
    assert "animation" in ScanConfig().analyzers
    head = AnimationHead.load()
    assert head.features == feature_names() and 0.0 < head.threshold < 1.0
    assert "animation_experiment.py export" in head.meta["command"]
    assert head.meta["heldout_pseudo_auc"] > 0.8
    p = head.predict(np.zeros((3, len(feature_names()))))
    assert p.shape == (3,) and np.all((p > 0) & (p < 1))


def test_a_broken_or_stale_head_is_a_model_error(tmp_path):
    d = json.loads(SHIPPED.read_text())
    bad = tmp_path / "h.json"
    bad.write_text("{not json")
    with pytest.raises(ModelError):
        AnimationHead.load(bad)
    bad.write_text(json.dumps({**d, "features": d["features"][:-1], "coef": d["coef"][:-1]}))
    with pytest.raises(ModelError, match="retrain"):
        AnimationHead.load(bad)
    bad.write_text(json.dumps({**d, "scale": [0.0] * len(d["scale"])}))
    with pytest.raises(ModelError):
        AnimationHead.load(bad)
    with pytest.raises(ModelError):
        AnimationHead.load(tmp_path / "missing.json")
    with pytest.raises(ModelError):
        AnimationHead.load().predict(np.zeros((2, 5)))
