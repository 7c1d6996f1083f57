"""GlitchAnalyzer on synthetic frame streams: injected freezes, duplicates, staggers and drop-outs are found
at the right times, and benign look-alikes (VFR jitter, frame-rate conversion, static scenes) are not."""

from __future__ import annotations

import numpy as np
import pytest

from unmask.analyzers.glitches import GlitchAnalyzer
from unmask.config import ScanConfig
from unmask.types import FaceObs, FaceTrack, FrameStat, MediaContext, MediaInfo, SampledFrame

FPS = 25.0


def _info(duration: float, has_audio: bool = True) -> MediaInfo:
    return MediaInfo("x.mp4", "0" * 64, 1, "mp4", "video", "h264", duration, FPS, 640, 480, has_audio=has_audio)


def _stats(n: int = 250, fps: float = FPS, seed: int = 0, t: np.ndarray | None = None,
           diffs: np.ndarray | None = None) -> list[FrameStat]:
    rng = np.random.default_rng(seed)
    t = np.arange(n) / fps if t is None else t
    d = rng.uniform(0.5, 3.0, n) if diffs is None else diffs
    return [FrameStat(i, float(t[i]), float("nan") if i == 0 else float(d[i])) for i in range(n)]


def _ctx(stats: list[FrameStat], sampled: list[SampledFrame] | None = None,
         tracks: tuple[FaceTrack, ...] = ()) -> MediaContext:
    if sampled is None:
        sampled = [SampledFrame(s.index, s.t, 0, 0) for s in stats[::3]]
    return MediaContext(_info(stats[-1].t), tuple(stats), tuple(sampled), tracks)


def _obs(index: int, t: float, score: float = 0.95, size: float = 120.0) -> FaceObs:
    return FaceObs(index, t, (100.0, 100.0, 100.0 + size, 100.0 + size), score,
                   np.zeros((8, 8, 3), np.uint8), (50.0, 50.0, 300.0, 300.0))


def test_clean_stream_gives_no_evidence() -> None:
    r = GlitchAnalyzer().analyze(_ctx(_stats()))
    assert r.status == "ok"
    assert r.evidence == ()
    assert r.video_features["freeze_runs_per_min"] == 0.0
    assert r.video_features["stagger_frac"] == 0.0
    assert r.video_features["static_scene"] == 0.0


def test_injected_freeze_is_found_with_its_time_range() -> None:
    stats = _stats()
    d = np.array([s.diff for s in stats])
    d[100:106] = 0.002  # frames 100..105 repeat frame 99: the picture holds for 7 frames
    r = GlitchAnalyzer().analyze(_ctx(_stats(diffs=d)))
    frozen = [e for e in r.evidence if e.cue == "frozen_frames"]
    assert len(frozen) == 1
    e = frozen[0]
    assert e.t_start == pytest.approx(99 / FPS)
    assert e.t_end == pytest.approx(106 / FPS)
    assert (e.frame_start, e.frame_end) == (99, 105)
    assert "froze for 7 frames" in e.detail and "sound went on" in e.detail
    assert r.video_features["max_freeze_s"] == pytest.approx(7 / FPS)
    assert r.video_features["freeze_runs_per_min"] > 0


def test_freeze_inside_a_track_belongs_to_that_track() -> None:
    stats = _stats()
    d = np.array([s.diff for s in stats])
    d[100:106] = 0.0
    stats = _stats(diffs=d)
    sampled = [SampledFrame(s.index, s.t, 0, 1) for s in stats[::3]]
    track = FaceTrack(1, tuple(_obs(s.index, s.t) for s in sampled))
    r = GlitchAnalyzer().analyze(_ctx(stats, sampled, (track,)))
    ts = r.for_track(1)
    assert ts is not None and ts.features["freeze_runs_per_min"] > 0 and ts.score > 0
    assert [e.track_id for e in r.evidence] == [1]
    assert r.evidence[0].detail.startswith("Face 1, 4.0")


def test_regular_single_duplicates_are_frame_rate_conversion_not_freezes() -> None:
    stats = _stats()
    d = np.array([s.diff for s in stats])
    d[5::5] = 0.001  # every 5th frame repeats (25 -> 30 fps style pulldown)
    r = GlitchAnalyzer().analyze(_ctx(_stats(diffs=d)))
    assert not [e for e in r.evidence if e.cue == "frozen_frames"]
    assert r.video_features["dup_frac"] == pytest.approx(0.2, abs=0.02)


def test_static_scene_is_not_reported_as_freezes() -> None:
    rng = np.random.default_rng(1)
    d = rng.uniform(0.0, 0.004, 250)  # a slideshow/still camera: nothing moves anywhere
    d[120:123] = 2.0
    r = GlitchAnalyzer().analyze(_ctx(_stats(diffs=d)))
    assert r.video_features["static_scene"] == 1.0
    assert r.video_features["freeze_runs_per_min"] == 0.0
    assert all(e.strength < 0.5 for e in r.evidence)
    assert "mostly still" in r.explanation or all("mostly still" in e.detail for e in r.evidence)


def test_pts_gap_and_repeated_timestamp_are_staggers() -> None:
    t = np.arange(250) / FPS
    t[150:] += 4 / FPS  # 4 frames' worth of time missing before frame 150
    t[200] = t[199]  # frame 200 repeats the previous timestamp
    r = GlitchAnalyzer().analyze(_ctx(_stats(t=t)))
    st = sorted((e for e in r.evidence if e.cue == "timing_stagger"), key=lambda e: e.t_start)
    assert len(st) == 2
    assert st[0].t_start == pytest.approx(t[149]) and st[0].t_end == pytest.approx(t[150])
    assert (st[0].frame_start, st[0].frame_end) == (149, 150)
    assert "5.0 times" in st[0].detail
    assert st[1].t_start == pytest.approx(t[199]) and "same timestamp" in st[1].detail
    assert r.video_features["stagger_frac"] == pytest.approx(2 / 249)


def test_backwards_pts_is_a_stagger() -> None:
    t = np.arange(250) / FPS
    t[80] = t[78]
    r = GlitchAnalyzer().analyze(_ctx(_stats(t=t)))
    assert any("backwards" in e.detail for e in r.evidence)


def test_vfr_phone_jitter_gives_no_evidence() -> None:
    rng = np.random.default_rng(3)
    dt = (1 / 30) * rng.uniform(0.7, 1.3, 300)
    t = np.concatenate([[0.0], np.cumsum(dt[1:])])
    r = GlitchAnalyzer().analyze(_ctx(_stats(n=300, t=t)))
    assert r.evidence == ()
    assert r.video_features["step_spread"] > 0.08


def test_face_dropout_in_the_middle_of_a_confident_track() -> None:
    stats = _stats()
    sampled_stats = stats[::3]
    gone = {sampled_stats[40].index, sampled_stats[41].index}
    sampled = [SampledFrame(s.index, s.t, 0, 0 if s.index in gone else 1) for s in sampled_stats]
    track = FaceTrack(2, tuple(_obs(s.index, s.t) for s in sampled_stats if s.index not in gone))
    r = GlitchAnalyzer().analyze(_ctx(stats, sampled, (track,)))
    drops = [e for e in r.evidence if e.cue == "face_dropout"]
    assert len(drops) == 1
    e = drops[0]
    assert e.t_start == pytest.approx(sampled_stats[40].t) and e.t_end == pytest.approx(sampled_stats[41].t)
    assert e.track_id == 2 and "no face at all" in e.detail and "2 analysed frames" in e.detail
    ts = r.for_track(2)
    assert ts is not None and ts.features["dropout_frac"] == pytest.approx(2 / len(sampled), abs=1e-6)


def test_no_dropout_when_the_face_was_weak_around_the_gap() -> None:
    stats = _stats()
    sampled_stats = stats[::3]
    gone = {sampled_stats[40].index}
    sampled = [SampledFrame(s.index, s.t, 0, 0 if s.index in gone else 1) for s in sampled_stats]
    obs = [_obs(s.index, s.t, score=0.55 if k in (39, 41) else 0.95)
           for k, s in enumerate(sampled_stats) if s.index not in gone]
    r = GlitchAnalyzer().analyze(_ctx(stats, sampled, (FaceTrack(0, tuple(obs)),)))
    assert not [e for e in r.evidence if e.cue == "face_dropout"]


def test_still_image_is_skipped() -> None:
    stats = _stats(n=1)
    ctx = MediaContext(_info(0.0), tuple(stats), (SampledFrame(0, 0.0, 0, 1),), ())
    r = GlitchAnalyzer().analyze(ctx)
    assert r.status == "skipped" and "still image" in (r.reason or "")


def test_freeze_survives_a_real_encode_and_decode(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """End to end through H.264 and FrameReader: 8 repeated frames in a moving clip are one freeze."""
    from unmask.media.decode import FrameReader
    from unmask.media.probe import probe
    from unmask.synth import face_frames, write_video

    frames = face_frames(75, size=(320, 240), seed=1)
    frames[40:48] = [frames[39]] * 8  # frames 39..47 show the same picture
    path = write_video(tmp_path / "freeze.mp4", frames, fps=FPS)
    cfg = ScanConfig()
    info = probe(path, cfg.sampling)
    reader = FrameReader(info, cfg.sampling)
    sampled = [SampledFrame(f.index, f.t, f.segment, 0) for f in reader]
    ctx = MediaContext(info, tuple(reader.stats), tuple(sampled), ())
    r = GlitchAnalyzer().analyze(ctx)
    frozen = [e for e in r.evidence if e.cue == "frozen_frames"]
    assert len(frozen) == 1
    assert frozen[0].frame_start == 39 and frozen[0].frame_end == 47
    assert frozen[0].t_start == pytest.approx(39 / FPS, abs=0.01)
    assert "froze for 9 frames" in frozen[0].detail
