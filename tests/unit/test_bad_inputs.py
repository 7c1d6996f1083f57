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
from unmask.media.decode import FrameReader
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
    """Ten minutes of video: 16 bursts, the frame budget respected, a fraction of the frames decoded."""
    n = 600 * 5
    frames = [np.full((48, 64, 3), 16 + (i % 50) * 4, np.uint8) for i in range(n)]
    path = synth.write_video(tmp_path / "long.mp4", frames, fps=5, gop=50)
    t = time.perf_counter()
    info = probe(path, S)
    reader = FrameReader(info, S)
    out = list(reader)
    elapsed = time.perf_counter() - t
    assert info.duration_s == pytest.approx(600, abs=1)
    assert len(out) <= S.max_frames and len({f.segment for f in out}) == 16
    assert reader.n_decoded < n / 10
    assert out[-1].t > 590  # the budget reaches the end of the clip
    assert elapsed < 5.0
