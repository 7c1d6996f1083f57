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
from bad_input_corpus import (
    CORPUS as BAD_INPUT_CORPUS,
)
from bad_input_corpus import (
    NOT_AS_ROOT,
    make_audio_only,
    make_broken_link,
    make_directory,
    make_empty,
    make_fifo,
    make_image_over_8k,
    make_missing,
    make_random_bin,
    make_random_mp4,
    make_text_as_mp4,
    make_truncated_jpg,
    make_truncated_mp4,
    make_video_over_8k,
    noise_frames,
)

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
    path = synth.write_video(tmp_path / "locked.mp4", noise_frames(5))
    real_access = os.access
    monkeypatch.setattr(probe_module.os, "access", lambda p, mode: False if Path(p) == path else real_access(p, mode))
    with pytest.raises(UnreadableInput, match="permission denied"):
        probe(path, S)


@pytest.mark.skipif(hasattr(os, "geteuid") and os.geteuid() == 0, reason="root reads files whatever their mode")
def test_unreadable_file_really_chmod(tmp_path: Path) -> None:
    path = synth.write_video(tmp_path / "locked.mp4", noise_frames(5))
    path.chmod(0)
    with pytest.raises(UnreadableInput):
        probe(path, S)


def test_truncated_faststart_mp4_keeps_what_decodes(tmp_path: Path) -> None:
    full = synth.write_video(tmp_path / "full.mp4", noise_frames(75), faststart=True)
    cut = synth.truncate(full, tmp_path / "cut.mp4", 0.5)
    info = probe(cut, S)
    assert info.duration_s == pytest.approx(3.0, abs=0.1)  # the index still says 3 s
    reader = FrameReader(info, S)
    frames = list(reader)
    assert 0 < reader.n_decoded < 75 and frames
    assert any("truncated" in w for w in reader.warnings), reader.warnings


def test_truncated_gif_keeps_what_decodes(tmp_path: Path) -> None:
    full = synth.write_gif(tmp_path / "full.gif", noise_frames(20))
    cut = synth.truncate(full, tmp_path / "cut.gif", 0.5)
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
# Every row (tests/bad_input_corpus.py, shared with benchmarks/bad_input_rss.py, which checks each
# case's peak RSS): how the file is made, the exit status `unmask scan` must end with, and a pattern its
# one-line error (exit 1) or its output (exit 0) must match. Refused files never show a traceback;
# readable-but-odd files are scanned, and damaged ones say how much could be decoded.

BOMB_RSS_MB = 400  # a bomb refused before decoding leaves the process far below the 0.8 GB one frame costs
ROOT = hasattr(os, "geteuid") and os.geteuid() == 0
CORPUS = [pytest.param(*case, marks=pytest.mark.skipif(ROOT, reason="root reads files whatever their mode (see test_unreadable_file_is_refused)"))
          if case[0] in NOT_AS_ROOT else case for case in BAD_INPUT_CORPUS]


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
