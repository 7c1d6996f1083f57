"""Inputs that must be refused with the right InputError (or read with bounded cost), never a traceback.

Truncated MP4: the outcome depends on where the index (``moov``) sits.
PyAV/FFmpeg write it at the end by default, so the first 30% of such a file
has no index and ``probe`` refuses it (UnsupportedMedia). A "faststart" MP4
(index first, as phones and web uploads usually are) still opens: ``probe``
succeeds and ``FrameReader`` keeps what it could decode and says so in
``warnings``. Both are tested.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from unmask import synth
from unmask.config import SamplingConfig
from unmask.errors import (
    EmptyInput,
    InputError,
    MediaTooLarge,
    MissingInput,
    NotAFile,
    NoVideoStream,
    UnreadableInput,
    UnsupportedMedia,
)
from unmask.media import probe as probe_module
from unmask.media.decode import FrameReader, frame_budget, plan_segments
from unmask.media.probe import probe

S = SamplingConfig()


def _frames(n: int = 25, size: tuple[int, int] = (96, 64)) -> list[np.ndarray]:
    rng = np.random.default_rng(0)
    return [rng.integers(0, 255, (size[1], size[0], 3), dtype=np.uint8) for _ in range(n)]


def _truncated(src: Path, dst: Path, keep: float = 0.3) -> Path:
    data = src.read_bytes()
    dst.write_bytes(data[: int(len(data) * keep)])
    return dst


# Each maker builds the input inside tmp and returns its path.
def make_empty(tmp: Path) -> Path:
    (tmp / "empty.mp4").touch()
    return tmp / "empty.mp4"


def make_text_as_mp4(tmp: Path) -> Path:
    (tmp / "notes.mp4").write_text("this is a shopping list, not a video\n" * 20)
    return tmp / "notes.mp4"


def make_random_mp4(tmp: Path) -> Path:
    (tmp / "noise.mp4").write_bytes(np.random.default_rng(1).bytes(50_000))
    return tmp / "noise.mp4"


def make_random_bin(tmp: Path) -> Path:
    # FFmpeg opens *.bin as "binary text" art and would happily decode a 1280x10000 picture
    (tmp / "noise.bin").write_bytes(np.random.default_rng(2).bytes(200_000))
    return tmp / "noise.bin"


def make_truncated_mp4(tmp: Path) -> Path:
    return _truncated(synth.write_video(tmp / "full.mp4", _frames(50)), tmp / "cut.mp4")


def make_truncated_jpg(tmp: Path) -> Path:
    return _truncated(synth.write_image(tmp / "full.jpg", _frames(1, (320, 240))[0]), tmp / "cut.jpg")


def make_audio_only(tmp: Path) -> Path:
    return synth.write_audio(tmp / "voice.m4a", seconds=1.0)


def make_directory(tmp: Path) -> Path:
    (tmp / "clips.mp4").mkdir()
    return tmp / "clips.mp4"


def make_fifo(tmp: Path) -> Path:
    os.mkfifo(tmp / "pipe.mp4")
    return tmp / "pipe.mp4"


def make_missing(tmp: Path) -> Path:
    return tmp / "nope.mp4"


def make_broken_link(tmp: Path) -> Path:
    (tmp / "link.mp4").symlink_to(tmp / "gone.mp4")
    return tmp / "link.mp4"


def make_video_over_8k(tmp: Path) -> Path:
    f = np.zeros((4322, 7680, 3), np.uint8)
    return synth.write_video(tmp / "huge.mp4", [f], codec="mpeg4")


def make_image_over_8k(tmp: Path) -> Path:
    return synth.write_image(tmp / "huge.png", np.zeros((4320, 7682, 3), np.uint8))


BAD: list[tuple[str, Callable[[Path], Path], type[InputError]]] = [
    ("empty-file", make_empty, EmptyInput),
    ("text-named-mp4", make_text_as_mp4, UnsupportedMedia),
    ("random-bytes-mp4", make_random_mp4, UnsupportedMedia),
    ("random-bytes-bin", make_random_bin, UnsupportedMedia),
    ("truncated-mp4-no-index", make_truncated_mp4, UnsupportedMedia),
    ("truncated-jpeg", make_truncated_jpg, UnsupportedMedia),
    ("audio-only-m4a", make_audio_only, NoVideoStream),
    ("directory", make_directory, NotAFile),
    ("fifo", make_fifo, NotAFile),
    ("missing-path", make_missing, MissingInput),
    ("broken-symlink", make_broken_link, MissingInput),
    ("video-over-8k", make_video_over_8k, MediaTooLarge),
    ("image-over-8k", make_image_over_8k, MediaTooLarge),
]


@pytest.mark.parametrize("make,expected", [(m, e) for _, m, e in BAD], ids=[i for i, _, _ in BAD])
def test_bad_input_is_refused(tmp_path: Path, make: Callable[[Path], Path], expected: type[InputError]) -> None:
    path = make(tmp_path)
    with pytest.raises(expected) as exc:
        probe(path, S)
    err = exc.value
    assert type(err) is expected
    assert err.path == str(path) and str(err).startswith(str(path))
    assert 0 < len(err.problem) < 160 and "\n" not in err.problem


def test_unreadable_file_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # we run as root, where chmod 000 still reads: simulate the permission check failing
    path = synth.write_video(tmp_path / "locked.mp4", _frames(5))
    real_access = os.access
    monkeypatch.setattr(probe_module.os, "access", lambda p, mode: False if Path(p) == path else real_access(p, mode))
    with pytest.raises(UnreadableInput, match="permission denied"):
        probe(path, S)


@pytest.mark.skipif(hasattr(os, "geteuid") and os.geteuid() == 0, reason="root reads files whatever their mode")
def test_unreadable_file_really_chmod(tmp_path: Path) -> None:
    path = synth.write_video(tmp_path / "locked.mp4", _frames(5))
    path.chmod(0)
    with pytest.raises(UnreadableInput):
        probe(path, S)


def test_truncated_faststart_mp4_keeps_what_decodes(tmp_path: Path) -> None:
    full = synth.write_video(tmp_path / "full.mp4", _frames(75), faststart=True)
    cut = _truncated(full, tmp_path / "cut.mp4", 0.5)
    info = probe(cut, S)
    assert info.duration_s == pytest.approx(3.0, abs=0.1)  # the index still says 3 s
    reader = FrameReader(info, S)
    frames = list(reader)
    assert 0 < reader.n_decoded < 75 and frames
    assert any("truncated" in w for w in reader.warnings), reader.warnings


def test_truncated_gif_keeps_what_decodes(tmp_path: Path) -> None:
    full = synth.write_gif(tmp_path / "full.gif", _frames(20))
    cut = _truncated(full, tmp_path / "cut.gif", 0.5)
    reader = FrameReader(probe(cut, S), S)
    frames = list(reader)
    assert frames and reader.warnings and "stopped" in reader.warnings[0]


def test_8k_exactly_is_accepted(tmp_path: Path) -> None:
    f = np.zeros((4320, 7680, 3), np.uint8)
    f[:400, :800] = 200
    path = synth.write_video(tmp_path / "8k.mp4", [f, f], codec="mpeg4")
    info = probe(path, S)
    assert (info.width, info.height) == (7680, 4320)
    frames = list(FrameReader(info, S))
    assert frames[0].rgb.shape == (720, 1280, 3) and frames[0].scale == pytest.approx(1 / 6)


def test_8k_image_exactly_is_accepted(tmp_path: Path) -> None:
    path = synth.write_image(tmp_path / "8k.png", np.zeros((4320, 7680, 3), np.uint8))
    info = probe(path, S)
    assert (info.kind, info.width, info.height) == ("image", 7680, 4320)


def test_long_clip_costs_bounded_time(tmp_path: Path) -> None:
    """Ten minutes of video: bursts over all of it, the frame budget respected, time bounded."""
    n = 600 * 5
    frames = [np.full((48, 64, 3), 16 + (i % 50) * 4, np.uint8) for i in range(n)]
    path = synth.write_video(tmp_path / "long.mp4", frames, fps=5, gop=50)
    t = time.perf_counter()
    info = probe(path, S)
    reader = FrameReader(info, S)
    out = list(reader)
    elapsed = time.perf_counter() - t
    assert info.duration_s == pytest.approx(600, abs=1)
    assert len(out) <= frame_budget(600, S) and len({f.segment for f in out}) == len(plan_segments(600, S)) == 61
    assert reader.n_decoded <= n  # a keyframe every 10 s, a burst every 10 s: about every frame, once
    assert out[-1].t > 590  # the budget reaches the end of the clip
    assert elapsed < 5.0


# -- the bad-input corpus through the command line (issue 13, §3) --------------------------------
# Every row: how the file is made, the exit status `unmask scan` must end with, and a pattern its
# one-line error (exit 1) or its output (exit 0) must match. Refused files never show a traceback;
# readable-but-odd files are scanned, and damaged ones say how much could be decoded.

BOMB_RSS_MB = 400  # a bomb refused before decoding leaves the process far below the 0.8 GB one frame costs


def _small_face(n: int = 40) -> list[np.ndarray]:
    return synth.face_frames(n, (320, 240))


def make_truncated_at(keep: float, faststart: bool) -> Callable[[Path], Path]:
    def make(tmp: Path) -> Path:
        full = synth.write_video(tmp / "full.mp4", _small_face(50), faststart=faststart, gop=10)
        return synth.truncate(full, tmp / f"cut{int(keep * 100)}.mp4", keep)
    return make


def make_corrupt_middle(suffix: str) -> Callable[[Path], Path]:
    def make(tmp: Path) -> Path:
        return synth.corrupt(synth.write_video(tmp / f"full{suffix}", _small_face(50), gop=10), tmp / f"middle{suffix}", 0.45, 0.6)
    return make


def make_bomb(name: str, small_first: bool) -> Callable[[Path], Path]:
    return lambda tmp: synth.write_png_bomb(tmp / name, small_first=small_first, frames=2)


def make_tiny_video(tmp: Path) -> Path:
    return synth.write_video(tmp / "dot.mp4", [np.full((1, 1, 3), 128, np.uint8)] * 5, pix_fmt="yuv444p")


def make_tiny_image(tmp: Path) -> Path:
    return synth.write_image(tmp / "dot.png", np.full((1, 1, 3), 128, np.uint8))


def make_8k_exactly(tmp: Path) -> Path:
    return synth.write_video(tmp / "8k.mp4", [np.zeros((4320, 7680, 3), np.uint8)] * 2, codec="mpeg4")


def make_rotated(tmp: Path) -> Path:
    return synth.write_video(tmp / "portrait.mp4", [np.rot90(f).copy() for f in _small_face()], rotation=90)


def make_vfr(tmp: Path) -> Path:
    times = np.cumsum(np.random.default_rng(4).uniform(0.02, 0.09, 40)).tolist()
    return synth.write_video(tmp / "vfr.mp4", _small_face(40), pts_s=times)


def make_single_frame(tmp: Path) -> Path:
    return synth.write_video(tmp / "one.mp4", _small_face(1))


def make_jpeg_named_mp4(tmp: Path) -> Path:
    return synth.write_image(tmp / "photo.mp4", synth.astronaut(), format="JPEG")


def make_truncated_gif(tmp: Path) -> Path:
    return synth.truncate(synth.write_gif(tmp / "full.gif", _small_face(10)), tmp / "cut.gif", 0.6)


def make_non_utf8_text(tmp: Path) -> Path:
    p = tmp / os.fsdecode(b"r\xe9sum\xe9.mp4")  # Latin-1 bytes in the name
    p.write_text("not a video")
    return p


def make_non_utf8_clip(tmp: Path) -> Path:
    return synth.write_video(tmp / os.fsdecode(b"caf\xe9\xff.mp4"), _small_face(10))


def make_newline_name(tmp: Path) -> Path:
    p = tmp / "two\nlines.mp4"
    p.write_text("not a video")
    return p


def make_chmod_000(tmp: Path) -> Path:
    p = synth.write_video(tmp / "locked.mp4", _small_face(5))
    p.chmod(0)
    return p


def make_dev_zero(tmp: Path) -> Path:
    return Path("/dev/zero")


def make_truncated_mp4_at(keep: float) -> Callable[[Path], Path]:
    return make_truncated_at(keep, faststart=False)


UNSUPPORTED = r"not a video or image file we can read"
PIXELS = r"(more|larger) than the 33177600 pixel limit"
DECODED = r"could be decoded"
ROOT = hasattr(os, "geteuid") and os.geteuid() == 0

CORPUS: list[tuple[str, Callable[[Path], Path], int, str]] = [
    ("empty-file", make_empty, 1, r"file is empty \(0 bytes\)"),
    ("text-named-mp4", make_text_as_mp4, 1, UNSUPPORTED),
    ("random-bytes-mp4", make_random_mp4, 1, UNSUPPORTED),
    ("random-bytes-bin", make_random_bin, 1, UNSUPPORTED),
    ("truncated-mp4-10", make_truncated_mp4_at(0.1), 1, UNSUPPORTED),
    ("truncated-mp4-30", make_truncated_mp4_at(0.3), 1, UNSUPPORTED),
    ("truncated-mp4-60", make_truncated_mp4_at(0.6), 1, UNSUPPORTED),
    ("truncated-faststart-10", make_truncated_at(0.1, True), 1, UNSUPPORTED),  # the index, and not one whole picture
    ("truncated-faststart-30", make_truncated_at(0.3, True), 0, r"CANNOT ASSESS[\s\S]*only 0\.\d of 2\.0 s could be decoded"),
    ("truncated-faststart-60", make_truncated_at(0.6, True), 0, r"(INCONCLUSIVE|NO FACE FOUND|CANNOT ASSESS)[\s\S]*only 1\.\d of 2\.0 s " + DECODED),
    ("corrupt-middle-mp4", make_corrupt_middle(".mp4"), 0, r"(INCONCLUSIVE|CANNOT ASSESS|NO FACE FOUND)[\s\S]*damaged[\s\S]*" + DECODED),
    ("corrupt-middle-mkv", make_corrupt_middle(".mkv"), 0, r"(INCONCLUSIVE|CANNOT ASSESS|NO FACE FOUND)[\s\S]*damaged[\s\S]*" + DECODED),
    ("truncated-jpeg", make_truncated_jpg, 1, UNSUPPORTED),
    ("truncated-gif", make_truncated_gif, 0, r"damaged[\s\S]*" + DECODED),
    ("audio-only-m4a", make_audio_only, 1, r"has audio but no video stream"),
    ("directory", make_directory, 1, r"is a directory, not a media file"),
    ("fifo", make_fifo, 1, r"is not a regular file"),
    ("dev-zero", make_dev_zero, 1, r"/dev/zero: is not a regular file"),
    ("missing-path", make_missing, 1, r"no such file"),
    ("broken-symlink", make_broken_link, 1, r"no such file"),
    ("video-over-8k", make_video_over_8k, 1, PIXELS),
    ("image-over-8k", make_image_over_8k, 1, PIXELS),
    ("png-bomb-mkv", make_bomb("bomb.mkv", False), 1, PIXELS),
    ("png-bomb-mkv-after-a-small-frame", make_bomb("late.mkv", True), 1, PIXELS + r" \(its header says 64x64\)"),
    ("png-bomb-avi", make_bomb("bomb.avi", False), 1, PIXELS),
    ("png-bomb-mov-after-a-small-frame", make_bomb("late.mov", True), 1, PIXELS),
    ("video-1x1", make_tiny_video, 0, r"dot\.mp4: NO FACE FOUND"),
    ("image-1x1", make_tiny_image, 0, r"dot\.png: NO FACE FOUND"),
    ("video-8k-exactly", make_8k_exactly, 0, r"8k\.mp4: NO FACE FOUND"),
    ("rotated-90", make_rotated, 0, r"portrait\.mp4: (LIKELY|INCONCLUSIVE|CANNOT ASSESS)"),
    ("variable-frame-rate", make_vfr, 0, r"vfr\.mp4: (LIKELY|INCONCLUSIVE|CANNOT ASSESS)"),
    ("single-frame-video", make_single_frame, 0, r"one\.mp4: CANNOT ASSESS"),
    ("jpeg-named-mp4", make_jpeg_named_mp4, 0, r"photo\.mp4: CANNOT ASSESS[\s\S]*no validated model for still images"),
    ("non-utf8-name-text", make_non_utf8_text, 1, r"r\ufffdsum\ufffd\.mp4: " + UNSUPPORTED),
    ("non-utf8-name-clip", make_non_utf8_clip, 0, r"caf\ufffd\ufffd\.mp4: "),
    ("newline-in-name", make_newline_name, 1, r"twolines\.mp4: " + UNSUPPORTED),
    pytest.param("unreadable-chmod-000", make_chmod_000, 1, r"permission denied",
                 marks=pytest.mark.skipif(ROOT, reason="root reads files whatever their mode (see test_unreadable_file_is_refused)")),
]


@pytest.fixture
def cli(scanner, monkeypatch: pytest.MonkeyPatch):
    """``unmask scan`` with the session's loaded scanner (same default settings)."""
    from unmask.cli import main

    monkeypatch.setattr("unmask.pipeline.Scanner", lambda config, claims=None: scanner)
    return main


def _ids(rows: list) -> list[str]:
    return [r.values[0] if hasattr(r, "values") else r[0] for r in rows]


@pytest.mark.parametrize("name, make, code, pattern", CORPUS, ids=_ids(CORPUS))
def test_bad_input_corpus(cli, tmp_path: Path, capsys, name: str, make: Callable[[Path], Path], code: int,
                          pattern: str) -> None:
    path = make(tmp_path)
    got = cli(["scan", str(path), "-q"])
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    assert got == code, (out, err)
    if code == 0:
        assert err.strip() == "" and re.search(pattern, out), out
    else:
        lines = err.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("unmask: error: ") and out == "", err
        assert re.search(pattern, lines[0]), lines[0]


def test_the_corpus_is_at_least_thirty_cases() -> None:
    assert len(CORPUS) >= 30 and len(set(_ids(CORPUS))) == len(CORPUS)


def test_a_png_bomb_costs_little_memory(tmp_path: Path) -> None:
    """Refusing a 16000x16000 PNG frame behind a 64x64 header happens before decoding: the process stays small.

    The peak is the child's own (``VmHWM``, reset at exec), not inherited from this test process.
    """
    code = ("import re, sys\n"
            "from unmask.config import SamplingConfig\nfrom unmask.errors import MediaTooLarge\n"
            "from unmask.media.probe import probe\nfrom unmask.media.decode import FrameReader\n"
            "S = SamplingConfig()\n"
            "for p in sys.argv[1:]:\n"
            "    try:\n        list(FrameReader(probe(p, S), S))\n"
            "    except MediaTooLarge as e:\n        print(e)\n"
            "print('peak_kb', re.search(r'VmHWM:\\s+(\\d+)', open('/proc/self/status').read()).group(1))\n")
    bombs = [synth.write_png_bomb(tmp_path / "first.mkv"), synth.write_png_bomb(tmp_path / "late.mkv", small_first=True),
             synth.write_png_bomb(tmp_path / "bomb.avi")]
    res = subprocess.run([sys.executable, "-c", code, *map(str, bombs)], capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr
    assert res.stdout.count("pixel limit") == 3, res.stdout
    peak_mb = int(re.search(r"peak_kb (\d+)", res.stdout).group(1)) / 1024  # type: ignore[union-attr]
    assert peak_mb < BOMB_RSS_MB, f"peak RSS {peak_mb:.0f} MB"
