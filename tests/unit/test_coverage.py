"""Long videos are read over their whole length; the report says which share of it was examined."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from unmask import synth
from unmask.config import SamplingConfig
from unmask.media.decode import FrameReader, burst_count, frame_budget, plan_segments, sample_rate
from unmask.media.probe import probe
from unmask.report.model import InputFacts, Sampling
from unmask.report.text import examined_words

S = SamplingConfig()


@pytest.mark.parametrize("duration", [0.5, 10.0, 39.9, 40.0], ids=["half-second", "10s", "39.9s", "40s"])
def test_short_videos_are_read_whole_as_before(duration: float) -> None:
    """The fusion is calibrated on this sampling: up to full_decode_max_s nothing changes."""
    assert plan_segments(duration, S) == [(0.0, math.inf)]
    assert frame_budget(duration, S) == S.max_frames
    assert sample_rate(duration, S) == pytest.approx(min(S.fps, (S.max_frames - 1) / duration))


@pytest.mark.parametrize("duration", [41.0, 170.0, 600.0, 3600.0, 36000.0],
                         ids=["41s", "170s", "10min", "1h", "10h"])
def test_bursts_cover_the_whole_video_with_a_minimum_density_and_a_cap(duration: float) -> None:
    segs = plan_segments(duration, S)
    n = len(segs)
    assert n == burst_count(duration, S)
    assert segs[0][0] == 0.0 and segs[-1][1] == pytest.approx(duration)  # first and last seconds are read
    assert all(e - s == pytest.approx(S.burst_s) for s, e in segs)
    assert all(b[0] >= a[1] - 1e-9 for a, b in zip(segs, segs[1:]))  # never overlapping
    starts = np.diff([s for s, _ in segs])
    assert np.allclose(starts, starts[0])  # evenly spread
    assert n >= math.ceil(S.full_decode_max_s / S.burst_s)  # never fewer than the old 40 s read
    assert n <= S.max_bursts  # the cap: a 10-hour file is as bounded as a 1-hour one
    if duration / S.burst_every_s <= S.max_bursts:
        assert starts.max() <= S.burst_every_s + 1e-9  # the minimum density
    # the frame budget holds: each burst yields at most rate * length + 1 frames
    rate = sample_rate(duration, S)
    assert 0 < rate <= S.fps
    assert rate * sum(e - s for s, e in segs) + n <= frame_budget(duration, S) + 1e-6


def test_ten_minutes_is_read_over_its_whole_length() -> None:
    segs = plan_segments(600.0, S)
    assert len(segs) == 61 and segs[-1][0] > 590  # not the first 40 s, nor 16 bursts
    assert frame_budget(600.0, S) == S.long_max_frames


def ramp(n: int, size: tuple[int, int] = (64, 48)) -> list[np.ndarray]:
    return [np.full((size[1], size[0], 3), 16 + (i % 50) * 4, np.uint8) for i in range(n)]


LONG = SamplingConfig(full_decode_max_s=2, burst_s=0.5, burst_every_s=1.0, fps=8)


@pytest.fixture(scope="module")
def eight_seconds(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return synth.write_video(tmp_path_factory.mktemp("cov") / "eight.mp4", ramp(200), fps=25, gop=25)


def _read(path: Path, faces: int | None) -> tuple[FrameReader, list[float]]:
    """Read with the face stage's feedback (``faces`` per frame), or without any (None)."""
    reader = FrameReader(probe(path, LONG), LONG, follow_faces=faces is not None)
    ts = []
    for f in reader:
        ts.append(f.t)
        if faces is not None:
            reader.saw_faces(faces)
    return reader, ts


def test_faceless_bursts_are_cut_short_and_not_called_damaged(eight_seconds: Path) -> None:
    full, full_ts = _read(eight_seconds, None)
    with_faces, face_ts = _read(eight_seconds, 1)
    empty, empty_ts = _read(eight_seconds, 0)
    n = len(full.segments)
    assert n == 9
    assert len(face_ts) == len(full_ts) and with_faces.bursts_cut == 0
    assert empty.bursts_cut == n and len(empty_ts) == n * LONG.probe_frames  # a probe per burst, no more
    assert empty.n_decoded < full.n_decoded / 2
    assert not empty.coverage.damaged and empty.coverage.fraction > 0.95  # cut by choice: not damage
    assert empty.coverage.planned_s < full.coverage.planned_s


def test_frames_saved_in_faceless_bursts_go_to_the_rest(eight_seconds: Path) -> None:
    """More frames where faces are: a faceless first half leaves the budget to the second."""
    cfg = SamplingConfig(full_decode_max_s=2, burst_s=0.5, burst_every_s=1.0, fps=25, long_max_frames=60)
    reader = FrameReader(probe(eight_seconds, cfg), cfg, follow_faces=True)
    per_burst: dict[int, int] = {}
    for f in reader:
        per_burst[f.segment] = per_burst.get(f.segment, 0) + 1
        reader.saw_faces(0 if f.t < 4.0 else 1)
    starts = [s for s, _ in reader.segments]
    assert len(per_burst) == len(starts) == 9
    faceless = [per_burst[k] for k, s in enumerate(starts) if s < 3.5]
    with_faces = [per_burst[k] for k, s in enumerate(starts) if s >= 4.0]
    assert faceless == [cfg.probe_frames] * len(faceless) and len(faceless) >= 4
    even = (cfg.long_max_frames - len(starts)) / len(starts)
    assert min(with_faces) > even  # more than an even share of the budget
    assert sum(per_burst.values()) <= cfg.long_max_frames


def _doc(duration: float, examined: float | None, segments: int, kind: str = "video") -> tuple[InputFacts, Sampling]:
    inp = InputFacts(path="x.mp4", sha256="0" * 64, size_bytes=1, container="mp4", kind=kind, video_codec=None,
                     duration_s=duration, fps=None, width=1, height=1)
    return inp, Sampling(frames_decoded=1, frames_analyzed=1, segments=segments, examined_s=examined)


@pytest.mark.parametrize(("doc", "words"), [
    (_doc(600.0, 96.0, 48), "examined 96 s of 600 s (16 %) in 48 bursts spread over the whole video"),
    (_doc(10.0, 10.0, 1), "examined all 10.0 s"),
    (_doc(10.0, 4.2, 1), "examined 4.2 of 10.0 s (42 %)"),
    (_doc(0.0, 0.0, 1, "image"), ""),
    (_doc(5.0, None, 1), ""),
], ids=["long", "whole", "truncated", "still", "old-report"])
def test_the_cli_says_which_share_was_examined(doc: tuple[InputFacts, Sampling], words: str) -> None:
    assert examined_words(*doc) == words


def test_a_long_clip_is_cheap_to_make_and_plays_through(tmp_path: Path) -> None:
    """The benchmark's long clips: one encoded loop, muxed again and again, timestamps running on."""
    path = synth.write_long_clip(tmp_path / "loop.mp4", seconds=3.0, fps=10.0, size=(160, 120), loop_s=1.0)
    info = probe(path, S)
    assert info.duration_s == pytest.approx(3.0, abs=0.15) and info.n_frames == 30
    reader = FrameReader(info, S)
    ts = [f.t for f in reader]
    assert len(ts) == 24 and not reader.coverage.damaged  # 8 fps of 3 s, no gap or damage at the seams
    assert np.all(np.diff(ts) > 0) and ts[-1] > 2.5  # runs on past each loop's end
