"""TemporalAnalyzer on synthetic tracks built from one real mesh (the astronaut photo):
rigid motion + small noise is calm, inner-only jitter or inner-only flicker is caught, identity drift works."""

from __future__ import annotations

import math
import time

import cv2
import numpy as np
import pytest

from unmask.analyzers.temporal import (
    FACE_OVAL,
    INNER_FACE,
    NEUTRAL_JITTER,
    TemporalAnalyzer,
    procrustes_shapes,
    second_difference,
)
from unmask.faces.embed import FaceEmbedder, distances_to_median, evenly_spaced
from unmask.types import FaceObs, FaceTrack, MediaContext, MediaInfo, SampledFrame


def _moved(base: FaceObs, k: int, t: float, rng: np.random.Generator, noise: float = 0.3,
           inner_noise: float = 0.0, crop: np.ndarray | None = None) -> FaceObs:
    """``base`` moved by a smooth similarity motion (head moving) plus per-point noise in pixels."""
    lm = base.landmarks.copy()  # type: ignore[union-attr]
    c = lm[:, :2].mean(0)
    a = 0.05 * math.sin(1.3 * t)
    s = 1.0 + 0.04 * math.sin(0.7 * t)
    rot = np.array([[math.cos(a), -math.sin(a)], [math.sin(a), math.cos(a)]])
    shift = np.array([12 * math.sin(0.9 * t), 6 * math.cos(0.5 * t)])
    xy = (lm[:, :2] - c) @ rot.T * s + c + shift
    xy += rng.normal(0, noise, xy.shape)
    if inner_noise:
        idx = list(INNER_FACE)
        xy[idx] += rng.normal(0, inner_noise, (len(idx), 2))
    lm[:, :2] = xy
    return FaceObs(k, t, base.box, base.score, base.crop if crop is None else crop, base.crop_box,
                   lm.astype(np.float32))


def _times(n: int = 60, fps: float = 8.0, jitter: float = 0.2, seed: int = 0) -> np.ndarray:
    """Uneven (VFR-like) sample times."""
    rng = np.random.default_rng(seed)
    dt = (1 / fps) * rng.uniform(1 - jitter, 1 + jitter, n)
    return np.concatenate([[0.0], np.cumsum(dt[1:])])


def _ctx(tracks: tuple[FaceTrack, ...]) -> MediaContext:
    info = MediaInfo("x.mp4", "0" * 64, 1, "mp4", "video", "h264", 8.0, 25.0, 512, 512)
    obs = [o for tr in tracks for o in tr.observations]
    sampled = tuple(SampledFrame(o.frame_index, o.t, 0, 1) for o in obs)
    return MediaContext(info, (), sampled, tracks)


class _StubEmbedder(FaceEmbedder):
    """Embeds by frame index: lets tests script identity changes without dlib."""

    def __init__(self, switch_every: int = 0) -> None:
        super().__init__()
        self.switch_every = switch_every
        rng = np.random.default_rng(7)
        self.a = rng.normal(0, 0.09, 128).astype(np.float32)
        self.b = rng.normal(0, 0.09, 128).astype(np.float32)

    def load(self) -> None:
        pass

    def embed(self, obs: FaceObs) -> np.ndarray | None:
        if self.switch_every and (obs.frame_index // self.switch_every) % 2:
            return self.b
        return self.a


def test_second_difference_is_zero_for_smooth_motion_with_uneven_timestamps() -> None:
    t = _times(30, jitter=0.4)
    x = np.stack([3.0 * t + 1.0, -2.0 * t], axis=1)
    mids = np.arange(1, 29)
    assert np.abs(second_difference(t, x, mids)).max() < 1e-9


def test_procrustes_removes_similarity_motion(base_obs: FaceObs) -> None:
    rng = np.random.default_rng(0)
    shapes = np.stack([_moved(base_obs, k, t, rng, noise=0.0).landmarks for k, t in enumerate(_times(20))])
    aligned = procrustes_shapes(shapes)
    assert np.abs(aligned - aligned.mean(0)).max() < 1e-6


def test_rigid_motion_with_small_noise_is_calm(base_obs: FaceObs) -> None:
    rng = np.random.default_rng(1)
    track = FaceTrack(1, tuple(_moved(base_obs, k, t, rng) for k, t in enumerate(_times())))
    r = TemporalAnalyzer(_StubEmbedder(), identity_frames=0).analyze(_ctx((track,)))
    ts = r.for_track(1)
    assert r.status == "ok" and ts is not None
    assert 0.6 < ts.features["jitter_ratio"] < 1.6  # same noise everywhere
    assert ts.features["jitter_inner"] < 0.02  # face-size units (RMS radius)
    assert not [e for e in r.evidence if e.cue == "landmark_jitter"]
    assert len(ts.per_frame) > 40


def test_inner_only_jitter_is_caught(base_obs: FaceObs) -> None:
    rng = np.random.default_rng(1)
    calm = FaceTrack(1, tuple(_moved(base_obs, k, t, rng) for k, t in enumerate(_times())))
    jittery = FaceTrack(2, tuple(_moved(base_obs, k, t, rng, inner_noise=1.5) for k, t in enumerate(_times())))
    an = TemporalAnalyzer(_StubEmbedder(), identity_frames=0)
    r = an.analyze(_ctx((calm, jittery)))
    c, j = r.for_track(1), r.for_track(2)
    assert c is not None and j is not None
    assert j.features["jitter_ratio"] > 3 * c.features["jitter_ratio"]
    assert j.score > c.score and j.score >= 0.5
    ev = [e for e in r.evidence if e.cue == "landmark_jitter"]
    assert len(ev) == 1 and ev[0].track_id == 2 and "eyes, nose and mouth wobble" in ev[0].detail


def _flicker_crop(base: FaceObs, delta: float, inner_only: bool) -> np.ndarray:
    crop = base.crop.astype(np.int16)
    if inner_only:
        lm = base.landmarks_in_crop()
        mask = np.zeros(crop.shape[:2], np.uint8)
        cv2.fillPoly(mask, [np.round(lm[list(FACE_OVAL)]).astype(np.int32)], 1)  # type: ignore[index]
        crop[mask > 0] += int(delta)
    else:
        crop += int(delta)
    return np.clip(crop, 0, 255).astype(np.uint8)


@pytest.mark.parametrize("inner_only", [True, False])
def test_flicker_inside_the_face_only_is_suspicious(base_obs: FaceObs, inner_only: bool) -> None:
    rng = np.random.default_rng(2)
    crops = [_flicker_crop(base_obs, d, inner_only) for d in (-8, 8)]
    obs = tuple(_moved(base_obs, k, t, rng, noise=0.0, crop=crops[k % 2]) for k, t in enumerate(_times(40)))
    r = TemporalAnalyzer(_StubEmbedder(), identity_frames=0).analyze(_ctx((FaceTrack(0, obs),)))
    ts = r.for_track(0)
    assert ts is not None
    if inner_only:
        assert ts.features["flicker_ratio"] > 3 and any(e.cue == "inner_flicker" for e in r.evidence)
    else:
        assert ts.features["flicker_ratio"] < 1.5 and not any(e.cue == "inner_flicker" for e in r.evidence)


def test_identity_switches_are_reported(base_obs: FaceObs) -> None:
    rng = np.random.default_rng(3)
    obs = tuple(_moved(base_obs, k, t, rng) for k, t in enumerate(_times()))
    same = TemporalAnalyzer(_StubEmbedder(), identity_frames=6).analyze(_ctx((FaceTrack(0, obs),)))
    mixed = TemporalAnalyzer(_StubEmbedder(switch_every=7), identity_frames=6).analyze(_ctx((FaceTrack(0, obs),)))
    s, m = same.for_track(0), mixed.for_track(0)
    assert s is not None and m is not None
    assert s.features["id_drift_max"] == pytest.approx(0.0, abs=1e-6)
    assert m.features["id_drift_max"] > 0.5
    assert any(e.cue == "identity_drift" and "different person" in e.detail for e in mixed.evidence)


def test_short_track_gets_neutral_features_and_says_so(base_obs: FaceObs) -> None:
    rng = np.random.default_rng(4)
    obs = tuple(_moved(base_obs, k, t, rng) for k, t in enumerate(_times(4)))
    r = TemporalAnalyzer(_StubEmbedder(), identity_frames=0).analyze(_ctx((FaceTrack(0, obs),)))
    ts = r.for_track(0)
    assert ts is not None and r.evidence == ()
    assert ts.score == 0.5  # nothing measurable: neutral
    assert "too short or small to measure jitter, flicker, identity drift" in r.explanation
    assert ts.features["jitter_ratio"] == NEUTRAL_JITTER["jitter_ratio"]
    assert all(math.isfinite(v) for v in ts.features.values())


def test_still_image_is_skipped(base_obs: FaceObs) -> None:
    info = MediaInfo("x.jpg", "0" * 64, 1, "jpeg", "image", None, 0.0, 0.0, 512, 512)
    ctx = MediaContext(info, (), (SampledFrame(0, 0.0, 0, 1),), (FaceTrack(0, (base_obs,)),))
    r = TemporalAnalyzer(_StubEmbedder()).analyze(ctx)
    assert r.status == "skipped" and "still image" in (r.reason or "")


def test_evenly_spaced_picks_the_ends() -> None:
    assert evenly_spaced(list(range(10)), 3) == [0, 4, 9]  # type: ignore[arg-type]
    assert evenly_spaced(list(range(2)), 6) == [0, 1]  # type: ignore[arg-type]


def test_dlib_embedding_of_the_same_crop_does_not_drift(base_obs: FaceObs) -> None:
    t0 = time.perf_counter()
    emb = FaceEmbedder()
    vecs = [emb.embed(base_obs) for _ in range(3)]
    assert all(v is not None and v.shape == (128,) for v in vecs)
    d = distances_to_median(np.stack(vecs))  # type: ignore[arg-type]
    assert d.max() < 1e-4
    assert time.perf_counter() - t0 < 10


def test_identity_embeddings_are_budgeted_per_video(base_obs: FaceObs) -> None:
    """A long video read in bursts has many tracks; only the longest few pay for dlib embeddings."""
    from unmask.analyzers.temporal import IDENTITY_TRACKS_PER_VIDEO

    rng = np.random.default_rng(5)
    tracks = []
    for i in range(IDENTITY_TRACKS_PER_VIDEO + 2):
        n = 20 + i  # later tracks are longer, so the first two fall outside the budget
        obs = tuple(_moved(base_obs, k, t + 10 * i, rng) for k, t in enumerate(_times(n)))
        tracks.append(FaceTrack(i + 1, obs))
    embedder = _StubEmbedder()
    calls: list[int] = []
    original = embedder.embed
    embedder.embed = lambda o: calls.append(o.frame_index) or original(o)  # type: ignore[method-assign]
    r = TemporalAnalyzer(embedder, identity_frames=6).analyze(_ctx(tuple(tracks)))
    assert len(calls) == 6 * IDENTITY_TRACKS_PER_VIDEO
    assert "identity drift measured only on the 4 longest face tracks" in r.explanation
    assert r.for_track(1).features["id_drift_max"] == r.for_track(2).features["id_drift_max"]  # neutral values


@pytest.fixture(scope="module")
def base_obs(astronaut_obs):
    """The astronaut's face: a real 478-point mesh with open eyes."""
    return astronaut_obs
