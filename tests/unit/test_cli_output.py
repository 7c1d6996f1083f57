"""Where ``unmask scan`` writes reports, and what they call the file (issue 13, §3 and §4).

A report that cannot be written is one line on stderr and exit status 1, after the verdict was
printed: the scan is not lost. A name that looks like a file is never turned into a directory.
Reports name the file, not the analyst's directories, unless ``--record-path``; two inputs with the
same name get told apart on the console and in the output names.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from unmask.cli import display_names, main, output_stem


@pytest.fixture
def cli(scanner, monkeypatch: pytest.MonkeyPatch):
    """``main`` with the session's loaded scanner (same default settings), so each call costs only its scan."""
    monkeypatch.setattr("unmask.pipeline.Scanner", lambda config, claims=None: scanner)
    return main


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from unmask.synth import write_face_clip

    return write_face_clip(tmp_path_factory.mktemp("cli") / "clip.mp4", seconds=1.5, size=(320, 240))


def _one_error(err: str) -> str:
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and "Traceback" not in err, err
    assert lines[0].startswith("unmask: error: ")
    return lines[0]


@pytest.mark.skipif(not Path("/proc").is_dir(), reason="needs /proc")
@pytest.mark.parametrize("flag", ["--json", "--html"])
def test_an_unwritable_report_is_one_line_and_the_verdict_stands(cli, clip: Path, capsys, flag: str) -> None:
    assert cli(["scan", str(clip), flag, "/proc/nope.json", "-q"]) == 1
    out, err = capsys.readouterr()
    assert out.startswith("clip.mp4: ") and "analysed" in out  # the finished scan's result is printed
    line = _one_error(err)
    assert line.startswith(f"unmask: error: {flag} /proc/nope.json: cannot write the report")


@pytest.mark.parametrize("flag", ["--json", "--html"])
def test_a_path_under_a_file_is_one_line(cli, clip: Path, tmp_path: Path, capsys, flag: str) -> None:
    (tmp_path / "notes.txt").write_text("a file, not a directory")
    target = tmp_path / "notes.txt" / "report.out"
    assert cli(["scan", str(clip), flag, str(target), "-q"]) == 1
    out, err = capsys.readouterr()
    assert "clip.mp4: " in out
    assert "a part of this path is a file, not a directory" in _one_error(err)
    assert (tmp_path / "notes.txt").read_text() == "a file, not a directory"


@pytest.mark.parametrize("flag, name", [("--json", "single.json"), ("--html", "single.html")])
def test_a_file_name_is_never_made_a_directory(cli, clip: Path, tmp_path: Path, capsys, flag: str, name: str) -> None:
    target = tmp_path / name
    assert cli(["scan", str(clip), str(clip), flag, str(target), "-q"]) == 1
    line = _one_error(capsys.readouterr().err)
    assert "scanning several files needs a directory" in line and "end it with /" in line
    assert not target.exists()  # refused before anything was scanned or created


def test_a_trailing_slash_makes_a_directory(cli, clip: Path, tmp_path: Path) -> None:
    assert cli(["scan", str(clip), "--json", f"{tmp_path / 'out'}/", "--html", f"{tmp_path / 'pages'}/", "-q"]) == 0
    assert json.loads((tmp_path / "out" / "clip.json").read_text())["input"]["path"] == "clip.mp4"
    assert (tmp_path / "pages" / "clip.html").is_file()


def test_reports_name_the_file_not_the_analysts_directories(cli, clip: Path, tmp_path: Path) -> None:
    assert cli(["scan", str(clip), "--json", str(tmp_path / "r.json"), "--html", str(tmp_path / "r.html"), "-q"]) == 0
    data = json.loads((tmp_path / "r.json").read_text())
    html = (tmp_path / "r.html").read_text(encoding="utf-8")
    assert data["input"]["path"] == "clip.mp4"
    assert str(clip.parent) not in html and str(clip.parent) not in json.dumps(data)
    assert cli(["scan", str(clip), "--json", str(tmp_path / "full.json"), "--record-path", "-q"]) == 0
    assert json.loads((tmp_path / "full.json").read_text())["input"]["path"] == str(clip.resolve())


def test_the_library_records_only_the_name(face_clip_report, face_clip: Path) -> None:
    assert face_clip_report.data["input"]["path"] == face_clip.name


def test_two_inputs_with_one_name_are_told_apart(cli, clip: Path, tmp_path: Path, capsys) -> None:
    for d in ("monday", "tuesday"):
        (tmp_path / d).mkdir()
        shutil.copy(clip, tmp_path / d / "clip.mp4")
    a, b = tmp_path / "monday" / "clip.mp4", tmp_path / "tuesday" / "clip.mp4"
    out_dir = tmp_path / "reports"
    assert cli(["scan", str(a), str(b), "--json", str(out_dir), "--html", str(out_dir), "-q"]) == 0
    out = capsys.readouterr().out
    assert "monday/clip.mp4: " in out and "tuesday/clip.mp4: " in out
    assert sorted(p.name for p in out_dir.iterdir()) == ["monday-clip.html", "monday-clip.json",
                                                         "tuesday-clip.html", "tuesday-clip.json"]


def test_display_names_and_stems() -> None:
    assert display_names(["a/x.mp4", "b/y.mp4"]) == ["x.mp4", "y.mp4"]
    assert display_names(["a/x.mp4", "b/x.mp4"]) == ["a/x.mp4", "b/x.mp4"]
    assert display_names(["p/a/x.mp4", "q/a/x.mp4"]) == ["p/a/x.mp4", "q/a/x.mp4"]
    assert display_names(["x.mp4", "x.mp4"]) == ["x.mp4", "x.mp4"]  # the same file twice: the outputs are numbered
    bad = os.fsdecode(b"caf\xe9.mp4")  # Latin-1 bytes in a UTF-8 world
    assert display_names([bad]) == ["caf\ufffd.mp4"]
    used: set[str] = set()
    assert [output_stem(n, used) for n in ("x.mp4", "x.mp4", "a/x.mp4", "we:ird?.mp4")] == ["x", "x-2", "a-x", "we_ird_"]
