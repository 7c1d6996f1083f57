"""The bad-input corpus of issue 13 §3: how each file is made, and what ``unmask scan`` must answer.

Shared by ``tests/unit/test_bad_inputs.py`` (exit status and message of every case) and
``benchmarks/bad_input_rss.py`` (peak memory of every case, in a child process). Nothing here is
shipped: the files are generated at test time inside a scratch directory. ``tests/`` is on
``sys.path`` under pytest (rootdir conftest); the benchmark puts it there itself.

Each maker builds its input inside ``tmp`` and returns the path ``unmask scan`` is given.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import numpy as np

from unmask import synth

Maker = Callable[[Path], Path]
# name, maker, the exit status `unmask scan` must end with, a pattern its one-line error (exit 1)
# or its output (exit 0) must match
Case = tuple[str, Maker, int, str]


def noise_frames(n: int = 25, size: tuple[int, int] = (96, 64)) -> list[np.ndarray]:
    rng = np.random.default_rng(0)
    return [rng.integers(0, 255, (size[1], size[0], 3), dtype=np.uint8) for _ in range(n)]


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
    return synth.truncate(synth.write_video(tmp / "full.mp4", noise_frames(50)), tmp / "cut.mp4", 0.3)


def make_truncated_jpg(tmp: Path) -> Path:
    return synth.truncate(synth.write_image(tmp / "full.jpg", noise_frames(1, (320, 240))[0]), tmp / "cut.jpg", 0.3)


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


# -- the corpus through the command line ------------------------------------------------------------

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

CORPUS: list[Case] = [
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
    ("unreadable-chmod-000", make_chmod_000, 1, r"permission denied"),  # see NOT_AS_ROOT
]


# cases whose outcome needs an unprivileged user: root reads a file whatever its mode
NOT_AS_ROOT = {"unreadable-chmod-000"}
