"""probe() and FrameReader on synthesized clips: containers, animations, stills, timing, rotation, sampling."""

from __future__ import annotations

import csv
import hashlib
import math
import os
from pathlib import Path

import numpy as np
import pytest

from unmask import synth
from unmask.config import SamplingConfig
from unmask.media.decode import THUMB_SIZE, FrameReader, decode_only_seconds, plan_segments, sample_rate
from unmask.media.probe import probe
from unmask.types import Frame, MediaInfo

SHARED = Path(os.environ.get("UNMASK_DATA_DIR") or Path(__file__).resolve().parents[3] / "shared" / "data")
S = SamplingConfig()


def ramp(n: int, size: tuple[int, int] = (64, 48)) -> list[np.ndarray]:
    """Flat grey frames whose level encodes the frame number (mod 50), to check timestamps against content."""
    w, h = size
    return [np.full((h, w, 3), level(i), np.uint8) for i in range(n)]


def level(i: int) -> int:
    return 16 + (i % 50) * 4


def read(path: Path, sampling: SamplingConfig = S) -> tuple[MediaInfo, FrameReader, list[Frame]]:
    info = probe(path, sampling)
    reader = FrameReader(info, sampling)
    return info, reader, list(reader)


@pytest.fixture(scope="module")
def face(tmp_path_factory: pytest.TempPathFactory) -> list[np.ndarray]:
    return synth.face_frames(50, size=(160, 120))


# -- containers --------------------------------------------------------------------------

CONTAINERS = [
    # (file name, writer kwargs, container, codec)
    ("clip.mp4", {}, "mp4", "h264"),
    ("clip.mov", {}, "mov", "h264"),
    ("clip.mkv", {}, "matroska,webm", "h264"),
    ("clip.webm", {"codec": "libvpx"}, "matroska,webm", "vp8"),
    ("clip.avi", {"codec": "mpeg4"}, "avi", "mpeg4"),
    ("clip.mpg", {"codec": "mpeg1video"}, "mpeg", "mpeg1video"),
]


@pytest.mark.parametrize("name,kwargs,container,codec", CONTAINERS, ids=[c[0] for c in CONTAINERS])
def test_video_containers(tmp_path: Path, face: list[np.ndarray], name: str, kwargs: dict, container: str, codec: str) -> None:
    path = synth.write_video(tmp_path / name, face, fps=25, **kwargs)
    info, reader, frames = read(path)
    assert (info.container, info.kind, info.video_codec) == (container, "video", codec)
    assert (info.width, info.height, info.rotation) == (160, 120, 0)
    assert info.fps == pytest.approx(25, abs=0.01)
    assert info.duration_s == pytest.approx(2.0, abs=0.1)
    assert info.n_frames == pytest.approx(50, abs=2)
    assert not info.has_audio and info.audio_codec is None
    assert info.size_bytes == path.stat().st_size
    assert info.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
    # every frame decoded, 8 per second sampled, timestamps from 0
    assert reader.n_decoded == 50 and len(reader.stats) == 50
    assert len(frames) == 16 and reader.n_sampled == 16
    assert frames[0].t == 0.0 and frames[0].index == 0
    assert all(b.t > a.t for a, b in zip(frames, frames[1:]))
    assert all(f.rgb.shape == (120, 160, 3) and f.scale == 1.0 and f.segment == 0 for f in frames)
    assert math.isnan(reader.stats[0].diff) and all(s.diff >= 0 for s in reader.stats[1:])
    assert [s.index for s in reader.stats] == list(range(50))
    assert reader.warnings == []
    # a sampled frame looks like the encoded one
    assert np.abs(frames[0].rgb.astype(int) - face[0].astype(int)).mean() < 8


def test_audio_track_reported(tmp_path: Path, face: list[np.ndarray]) -> None:
    info = probe(synth.write_video(tmp_path / "a.mp4", face[:25], audio_hz=440), S)
    assert info.has_audio and info.audio_codec == "aac"


def test_odd_size_video(tmp_path: Path) -> None:
    frames = [np.full((239, 321, 3), 100, np.uint8)] * 5
    info, reader, out = read(synth.write_video(tmp_path / "odd.mkv", frames, pix_fmt="yuv444p"))
    assert (info.width, info.height) == (321, 239)
    assert out[0].rgb.shape == (239, 321, 3)


# -- animations and stills ------------------------------------------------------------------

DURATIONS = [100, 100, 200, 100, 100, 300, 50, 50, 50, 50]


@pytest.mark.parametrize(
    "name,writer,container",
    [
        ("anim.gif", synth.write_gif, "gif"),
        ("anim.webp", synth.write_webp, "webp"),
        ("really_a_gif.webp", synth.write_gif, "gif"),  # content decides, not the suffix
        ("anim_named.png", synth.write_webp, "webp"),
    ],
    ids=["gif", "webp", "gif-named-webp", "webp-named-png"],
)
def test_animations(tmp_path: Path, face: list[np.ndarray], name: str, writer, container: str) -> None:
    path = writer(tmp_path / name, face[:10], DURATIONS)
    hi = SamplingConfig(fps=100)
    info, reader, frames = read(path, hi)
    assert (info.container, info.kind, info.n_frames) == (container, "animation", 10)
    assert info.duration_s == pytest.approx(1.1)
    assert (info.width, info.height) == (160, 120)
    starts = np.cumsum([0] + DURATIONS[:-1]) / 1000
    assert [f.t for f in frames] == pytest.approx(list(starts))
    assert reader.n_decoded == 10 and len(reader.stats) == 10
    # default sampling: at most 8 per second
    _, _, few = read(path)
    assert len(few) < 10 and all(b.t - a.t >= 0.1 - 1e-9 for a, b in zip(few, few[1:]))


@pytest.mark.parametrize("suffix,container,codec", [
    (".jpg", "image", "jpeg"), (".png", "image", "png"), (".bmp", "image", "bmp"),
    (".webp", "webp", "webp"), (".gif", "gif", "gif"),
])
def test_stills(tmp_path: Path, face: list[np.ndarray], suffix: str, container: str, codec: str) -> None:
    path = synth.write_image(tmp_path / f"still{suffix}", face[0])
    info, reader, frames = read(path)
    assert (info.kind, info.container, info.video_codec) == ("image", container, codec)
    assert (info.width, info.height, info.duration_s, info.n_frames) == (160, 120, 0.0, 1)
    assert len(frames) == 1 and frames[0].t == 0.0 and frames[0].rgb.shape == (120, 160, 3)
    assert reader.n_decoded == 1 and math.isnan(reader.stats[0].diff)


@pytest.mark.parametrize("suffix", [".png", ".gif"])
def test_odd_size_image(tmp_path: Path, suffix: str) -> None:
    path = synth.write_image(tmp_path / f"odd{suffix}", np.full((239, 321, 3), 90, np.uint8))
    info, _, frames = read(path)
    assert (info.width, info.height) == (321, 239) and frames[0].rgb.shape == (239, 321, 3)


def test_downscale_sets_scale(tmp_path: Path) -> None:
    small = SamplingConfig(max_side=80)
    for path in (synth.write_video(tmp_path / "v.mp4", ramp(5, (160, 120))), synth.write_image(tmp_path / "i.png", ramp(1, (160, 120))[0])):
        _, _, frames = read(path, small)
        assert frames[0].rgb.shape == (60, 80, 3) and frames[0].scale == pytest.approx(0.5)


# -- time --------------------------------------------------------------------------------


def test_variable_frame_rate_times_follow_timestamps(tmp_path: Path) -> None:
    pts = [0.0, 0.1, 0.15, 0.5, 1.3, 2.0]
    path = synth.write_video(tmp_path / "vfr.mp4", ramp(6), fps=25, pts_s=pts)
    info, reader, frames = read(path, SamplingConfig(fps=100))
    assert [f.t for f in frames] == pytest.approx(pts, abs=1e-3)
    assert [s.t for s in reader.stats] == pytest.approx(pts, abs=1e-3)
    assert info.duration_s >= 2.0
    for i, f in enumerate(frames):
        assert abs(f.rgb.mean() - level(i)) < 4


def test_sampling_spreads_budget_over_the_whole_clip(tmp_path: Path) -> None:
    path = synth.write_video(tmp_path / "ten.mp4", ramp(250), fps=25)
    _, reader, frames = read(path, SamplingConfig(max_frames=20))
    assert len(frames) <= 20 and reader.n_decoded == 250
    assert frames[-1].t > 8.5  # not spent on the first seconds
    gaps = np.diff([f.t for f in frames])
    assert gaps.min() >= 0.4
    _, _, capped = read(path, SamplingConfig(fps=2))
    assert len(capped) == 20 and np.diff([f.t for f in capped]).min() >= 0.47


def test_sample_rate_and_segments_math() -> None:
    assert sample_rate(10, SamplingConfig()) == 8.0
    assert sample_rate(30, SamplingConfig()) == pytest.approx(159 / 30)
    assert plan_segments(40, SamplingConfig()) == [(0.0, math.inf)]
    segs = plan_segments(3600, SamplingConfig())
    assert len(segs) == SamplingConfig().max_bursts and segs[0][0] == 0 and segs[-1][1] == pytest.approx(3600)
    assert all(e - s == pytest.approx(2.5) for s, e in segs)


def test_long_video_read_as_bursts(tmp_path: Path) -> None:
    path = synth.write_video(tmp_path / "eight.mp4", ramp(200), fps=25, gop=25)
    cfg = SamplingConfig(full_decode_max_s=2, burst_s=0.5)
    info, reader, frames = read(path, cfg)
    segs = reader.segments
    assert len(segs) == 4 and segs[-1][1] == pytest.approx(8.0)
    assert sorted({f.segment for f in frames}) == [0, 1, 2, 3]
    assert sorted({s.segment for s in reader.stats}) == [0, 1, 2, 3]
    assert reader.n_decoded == pytest.approx(4 * 0.5 * 25, abs=4)  # bursts only, not 200 frames
    for f in frames:
        start, end = segs[f.segment]
        assert start - 1e-6 <= f.t < end
        assert abs(f.rgb.mean() - level(round(f.t * 25))) < 4  # t matches the picture after seeking
    firsts = [s for i, s in enumerate(reader.stats) if i == 0 or reader.stats[i - 1].segment != s.segment]
    assert len(firsts) == 4 and all(math.isnan(s.diff) for s in firsts)
    assert [s.index for s in reader.stats] == list(range(reader.n_decoded))


def test_frame_stats_flag_duplicates(tmp_path: Path) -> None:
    base = synth.face_frames(10, size=(96, 64))
    frames = base[:5] + [base[4]] * 5  # last five repeat one picture
    _, reader, _ = read(synth.write_video(tmp_path / "dup.mp4", frames, fps=25))
    diffs = [s.diff for s in reader.stats]
    assert all(d < 0.5 for d in diffs[5:]), diffs
    assert all(d > 0.5 for d in diffs[1:5]), diffs


def test_thumbnail_size_is_what_the_docs_say() -> None:
    assert THUMB_SIZE == (64, 36)


def test_reader_streams_lazily(tmp_path: Path) -> None:
    path = synth.write_video(tmp_path / "lazy.mp4", ramp(100), fps=25)
    reader = FrameReader(probe(path, S), S)
    it = iter(reader)
    next(it)
    assert reader.n_decoded < 10
    rest = list(it)
    assert reader.n_decoded == 100 and len(rest) == 31


def test_decode_only_seconds(tmp_path: Path) -> None:
    assert decode_only_seconds(synth.write_video(tmp_path / "d.mp4", ramp(20))) > 0
    assert decode_only_seconds(synth.write_gif(tmp_path / "d.gif", ramp(3))) > 0


# -- rotation ---------------------------------------------------------------------------


def _marked(w: int = 64, h: int = 48) -> np.ndarray:
    a = np.zeros((h, w, 3), np.uint8)
    a[:16, :16] = 255  # top-left corner of the stored picture
    return a


@pytest.mark.parametrize("rotation,suffix", [(90, ".mp4"), (180, ".mov"), (270, ".mp4"), (90, ".mkv")])
def test_rotated_video_is_returned_upright(tmp_path: Path, rotation: int, suffix: str) -> None:
    stored = _marked()
    info, _, frames = read(synth.write_video(tmp_path / f"rot{suffix}", [stored] * 3, rotation=rotation))
    assert info.rotation == rotation
    upright = np.rot90(stored, k=-rotation // 90)  # players turn clockwise
    assert (info.width, info.height) == (upright.shape[1], upright.shape[0])
    assert frames[0].rgb.shape == upright.shape
    assert np.abs(frames[0].rgb.astype(int) - upright.astype(int)).mean() < 10


def test_jpeg_exif_orientation(tmp_path: Path) -> None:
    stored = _marked()
    info, _, frames = read(synth.write_image(tmp_path / "phone.jpg", stored, exif_orientation=6))
    assert info.rotation == 90 and (info.width, info.height) == (48, 64)
    assert np.abs(frames[0].rgb.astype(int) - np.rot90(stored, k=-1).astype(int)).mean() < 10


# -- shared development media ---------------------------------------------------------------------


def _shared_rows(kind: str) -> list[dict[str, str]]:
    with open(SHARED / "manifest.csv", newline="") as f:
        return [r for r in csv.DictReader(f) if r["kind"] == kind]


@pytest.mark.shared_data
@pytest.mark.parametrize("kind", ["video", "gif", "image"])
def test_shared_media_first_of_each_kind(kind: str) -> None:
    if not (SHARED / "manifest.csv").exists():
        pytest.skip(f"shared development media not found at {SHARED}")
    rows = _shared_rows(kind)
    if not rows:
        pytest.skip(f"no {kind} rows in the manifest")
    row = rows[0]
    info, reader, frames = read(SHARED / row["path"], SamplingConfig(max_frames=8))
    assert info.sha256 == row["sha256"]
    assert {info.width, info.height} == {int(row["width"]), int(row["height"])}
    assert 1 <= len(frames) <= 8 and reader.warnings == []
