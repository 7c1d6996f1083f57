"""What the fuzzer checks on one input: the input layer refuses bad bytes in one line, or reads them.

An input is a selector byte (which file-name suffix to give it: FFmpeg's format probe weighs
the suffix, unmask's sniffing never trusts it) followed by the file's bytes. It is written to a
file, probed, and, when it probes, read by the FrameReader (a small frame budget) and, when it
has sound, by read_audio. The one acceptable failure is an ``InputError``; any other exception
is a bug. Memory blow-ups and hangs are the fuzzer's to catch (-rss_limit_mb, -timeout).
Shared by ``media_fuzzer.py`` (atheris) and the regression test of saved crashes.
"""

from __future__ import annotations

import os
from pathlib import Path

from unmask.config import SamplingConfig
from unmask.errors import InputError
from unmask.media.audio import read_audio
from unmask.media.decode import FrameReader
from unmask.media.probe import probe

SUFFIXES = (".mp4", ".mkv", ".avi", ".mov", ".gif", ".webp", ".png", ".jpg", ".m4a", ".bin", ".ts", ".nut")
#: a small budget: the fuzzer wants many inputs a second, the reader's bounds are what is tested
SAMPLING = SamplingConfig(fps=4.0, max_frames=8, max_side=256, full_decode_max_s=10.0, burst_s=1.0)


def as_input(suffix: str, content: bytes) -> bytes:
    """A fuzzer input that becomes ``content`` in a file named ``*suffix``."""
    return bytes([SUFFIXES.index(suffix)]) + content


def write_input(data: bytes, workdir: Path) -> Path:
    """The file ``data`` stands for, written in ``workdir`` (overwriting the previous input)."""
    suffix = SUFFIXES[data[0] % len(SUFFIXES)] if data else ".mp4"
    path = workdir / f"input{suffix}"
    for old in workdir.glob("input.*"):
        if old != path:
            old.unlink(missing_ok=True)
    path.write_bytes(data[1:])
    return path


def check_file(path: Path) -> str:
    """Probe and read one file; returns what happened in a word. Raises only what is a bug."""
    try:
        info = probe(path, SAMPLING)
        reader = FrameReader(info, SAMPLING)
        for _ in reader:
            pass
        _ = reader.coverage.fraction
        if info.has_audio:
            read_audio(path, end_s=min(info.duration_s, 20.0) or 20.0)
    except InputError:
        return "refused"
    return "read"


def check_input(data: bytes, workdir: Path | None = None) -> str:
    """:func:`check_file` on the file ``data`` stands for."""
    workdir = workdir or Path(os.environ.get("UNMASK_FUZZ_TMP", "/tmp")) / f"unmask-fuzz-{os.getpid()}"
    workdir.mkdir(parents=True, exist_ok=True)
    return check_file(write_input(data, workdir))
