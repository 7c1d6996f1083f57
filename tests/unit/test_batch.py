"""``unmask batch``: input expansion, the append-only index, resume, and isolation of files that crash or hang.

The worker processes run a stub engine (tests/batch_stubs.py) whose behaviour each file's
content chooses, so these tests cost process start-ups, not models.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from batch_stubs import LOG_ENV, BatchStubEngine

from unmask.batch import BatchLimits, ResultIndex, expand_inputs, looks_like_media, run_batch
from unmask.config import ScanConfig
from unmask.errors import ManifestError, MissingInput

TESTS = Path(__file__).resolve().parents[1]
SRC = TESTS.parent / "src"
VOLATILE = ("timings", "wall_s", "finished_at", "mtime_ns")


@pytest.fixture
def stub_log(tmp_path, monkeypatch) -> Path:
    log = tmp_path / "scans.log"
    monkeypatch.setenv(LOG_ENV, str(log))
    return log


def scanned(log: Path) -> list[str]:
    return [ln.split(" ", 1)[1] for ln in log.read_text().splitlines()] if log.exists() else []


def make_files(folder: Path, contents: dict[str, bytes]) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    out = []
    for name, data in contents.items():
        (folder / name).write_bytes(data)
        out.append(folder / name)
    return out


def batch(paths, out, **kw):
    kw.setdefault("workers", 2)
    kw.setdefault("factory", BatchStubEngine)
    kw.setdefault("model_version", "test")
    return run_batch(paths, out, ScanConfig(), **kw)


def rows_by_name(out: Path) -> dict[str, dict]:
    return {Path(r["path"]).name: r for r in ResultIndex(out / "index.jsonl").rows()}


# -- inputs -----------------------------------------------------------------------------------------


def test_folder_keeps_media_by_content_not_by_name(tmp_path):
    from unmask.synth import face_frames, write_video

    folder = tmp_path / "in"
    (folder / "sub").mkdir(parents=True)
    clip = write_video(folder / "sub" / "clip.mp4", face_frames(5, size=(64, 48)), fps=5)
    (folder / "no-extension").write_bytes(clip.read_bytes())
    (folder / "notes.txt").write_text("not a video\n")
    (folder / "fake.mp4").write_text("text pretending to be a video\n")
    (folder / "still").write_bytes(b"\xff\xd8\xff\xe0" + b"\x00" * 32)
    found = expand_inputs([folder])
    assert [p.name for p in found.paths] == ["no-extension", "still", "clip.mp4"]
    assert sorted(p.name for p in found.not_media) == ["fake.mp4", "notes.txt"]
    assert looks_like_media(clip) and not looks_like_media(folder / "notes.txt")


def test_manifest_and_path_list_name_files_relative_to_themselves(tmp_path):
    files = make_files(tmp_path / "m", {"a.bin": b"x", "b.bin": b"y"})
    manifest = tmp_path / "m" / "manifest.csv"
    manifest.write_text("label,path\nreal,a.bin\nfake,b.bin\n")
    listing = tmp_path / "list.txt"
    listing.write_text(f"# my files\nm/b.bin\n\n{files[0]}\nm/a.bin\n")
    found = expand_inputs([manifest, listing])
    assert found.paths == (files[0], files[1])  # listed files are kept whatever their content
    assert found.duplicates == 3
    with pytest.raises(MissingInput):
        expand_inputs([tmp_path / "nowhere"])
    (tmp_path / "empty-path.csv").write_text("path,label\n,real\n")
    with pytest.raises(ManifestError):
        expand_inputs([tmp_path / "empty-path.csv"])


# -- the index ---------------------------------------------------------------------------------------


def test_index_survives_a_torn_last_line_and_keeps_the_last_row_per_key(tmp_path):
    path = tmp_path / "index.jsonl"
    row = {"path": "/a", "sha256": "s", "fusion_version": "v", "config_digest": "c", "status": "error"}
    path.write_text(json.dumps(row) + "\n" + json.dumps({**row, "path": "/b"})[:20])  # killed mid-write
    index = ResultIndex(path)
    assert [r["path"] for r in index.rows()] == ["/a"]
    with index:
        index.append({**row, "status": "done"})
        index.append({**row, "path": "/b", "status": "done"})
    rows = index.rows()
    assert [(r["path"], r["status"]) for r in rows] == [("/a", "done"), ("/b", "done")]
    assert all(json.loads(ln) for ln in path.read_text().splitlines()[2:])  # new rows start on their own line


# -- running -----------------------------------------------------------------------------------------


def test_batch_writes_reports_index_and_summary_then_resumes(tmp_path, stub_log):
    files = make_files(tmp_path / "in", {"a.mp4": b"aaa", "b.mp4": b"bbb", "c.mp4": b"ccc", "copy-of-a": b"aaa",
                                         "bad.mp4": b"BAD", "bug.mp4": b"BUG"})
    out = tmp_path / "out"
    s = batch(files, out)
    assert (s.files, s.scanned, s.resumed, s.errors) == (6, 6, 0, 2)
    rows = rows_by_name(out)
    assert rows["a.mp4"]["status"] == "done" and rows["a.mp4"]["analyzers"] == {"blend_cnn": pytest.approx(
        rows["a.mp4"]["score"] / 2, abs=1e-4), "blinks": None}
    assert rows["copy-of-a"]["report"] == rows["a.mp4"]["report"]  # same content: scanned once
    assert Path(rows["a.mp4"]["report"]).name.startswith(rows["a.mp4"]["sha256"][:16])
    assert json.loads((out / rows["b.mp4"]["report"]).read_text())["input"]["sha256"] == rows["b.mp4"]["sha256"]
    assert "stub" in rows["bad.mp4"]["error"] and rows["bad.mp4"]["attempts"] == 1  # refused input: no retry
    assert "internal error" in rows["bug.mp4"]["error"]
    assert json.loads((out / "summary.json").read_text())["errors"] == 2
    assert sorted(Path(p).name for p in scanned(stub_log)) == ["a.mp4", "b.mp4", "bad.mp4", "bug.mp4", "c.mp4"]

    stub_log.unlink()
    s2 = batch(files, out, workers=1)
    assert (s2.resumed, s2.scanned, s2.errors) == (4, 2, 2)  # reported files skipped; failures tried again
    assert sorted(Path(p).name for p in scanned(stub_log)) == ["bad.mp4", "bug.mp4"]

    stub_log.unlink()
    s3 = run_batch(files[:1], out, ScanConfig().with_overrides({"sampling.fps": 4}), workers=1,
                   factory=BatchStubEngine, model_version="test")
    assert s3.scanned == 1 and scanned(stub_log) == [str(files[0])]  # another configuration: scanned again


@pytest.mark.parametrize("workers", [1, 2])
def test_poison_files_fail_alone_after_one_retry(tmp_path, stub_log, workers):
    files = make_files(tmp_path / "in", {"crash.mp4": b"CRASH", "hang.mp4": b"HANG", "a.mp4": b"a", "b.mp4": b"b",
                                         "c.mp4": b"c"})
    out = tmp_path / "out"
    s = batch(files, out, workers=workers, limits=BatchLimits(timeout_s=1.5))
    rows = rows_by_name(out)
    assert {n for n, r in rows.items() if r["status"] == "done"} == {"a.mp4", "b.mp4", "c.mp4"}
    assert "SIGSEGV" in rows["crash.mp4"]["error"] and rows["crash.mp4"]["attempts"] == 2
    assert "longer than the 1.5 s" in rows["hang.mp4"]["error"] and rows["hang.mp4"]["attempts"] == 2
    assert s.errors == 2 and s.worker_restarts >= 3
    assert sum(Path(p).name == "crash.mp4" for p in scanned(stub_log)) == 2


def test_a_worker_killed_mid_batch_loses_nothing(tmp_path, stub_log):
    marker = tmp_path / "killed-once"
    files = make_files(tmp_path / "in", {"kill.mp4": b"KILLONCE " + str(marker).encode(),
                                         **{f"f{i}.mp4": b"SLOW%d" % i for i in range(4)}})
    out = tmp_path / "out"
    s = batch(files, out)
    rows = rows_by_name(out)
    assert marker.exists() and s.errors == 0 and len(rows) == 5
    assert rows["kill.mp4"]["status"] == "done" and rows["kill.mp4"]["attempts"] == 2


def test_pool_sizes_give_identical_rows(tmp_path, stub_log):
    files = make_files(tmp_path / "in", {f"f{i}.mp4": bytes([i]) * 50 for i in range(6)} | {"bad.mp4": b"BAD"})

    def rows(workers: int) -> list[dict]:
        out = tmp_path / f"out{workers}"
        batch(files, out, workers=workers)
        got = sorted(ResultIndex(out / "index.jsonl").rows(), key=lambda r: r["path"])
        if (out / "index.parquet").exists():
            import pyarrow.parquet as pq

            table = pq.read_table(out / "index.parquet").to_pylist()
            assert [r["path"] for r in table] == [r["path"] for r in got]
            assert [r["score"] for r in table] == [r["score"] for r in got]
            assert "analyzer.blend_cnn" in table[0] and "timing.total_s" in table[0]
        return [{k: v for k, v in r.items() if k not in VOLATILE} for r in got]

    assert rows(1) == rows(2)


def test_resume_after_the_driver_is_killed(tmp_path, stub_log):
    files = make_files(tmp_path / "in", {f"f{i}.mp4": b"SLOW%d" % i for i in range(8)})
    out = tmp_path / "out"
    code = ("import sys; from pathlib import Path; from batch_stubs import BatchStubEngine; "
            "from unmask.batch import run_batch; "
            "run_batch([Path(p) for p in sys.argv[2:]], Path(sys.argv[1]), workers=1, factory=BatchStubEngine, "
            "model_version='test')")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(SRC), str(TESTS)])}
    proc = subprocess.Popen([sys.executable, "-c", code, str(out), *map(str, files)], env=env)
    index = out / "index.jsonl"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and (not index.exists() or index.read_text().count("\n") < 2):
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait(10)
    before = {r["path"] for r in ResultIndex(index).rows() if r["status"] == "done"}
    assert 2 <= len(before) < len(files)
    s = batch(files, out)
    assert s.errors == 0 and s.resumed == len(before) and s.scanned == len(files) - len(before)
    assert {r["path"] for r in ResultIndex(index).rows() if r["status"] == "done"} == {str(f) for f in files}
    counts = {p: scanned(stub_log).count(p) for p in before}
    assert set(counts.values()) == {1}  # finished before the kill: never scanned again


def test_cli_batch(tmp_path, stub_log, monkeypatch, capsys):
    from unmask import cli

    monkeypatch.setattr("unmask.workers.engine.ScannerEngine", BatchStubEngine)
    monkeypatch.setattr("unmask.batch.runner.fusion_version", lambda: "test")
    make_files(tmp_path / "in", {"a": b"\x00\x00\x00\x18ftypmp42", "b.jpg": b"\xff\xd8\xff\xe0x", "notes.txt": b"hi"})
    (tmp_path / "in" / "bad.mp4").write_bytes(b"\x1a\x45\xdf\xa3BAD")
    code = cli.main(["batch", str(tmp_path / "in"), "--out", str(tmp_path / "out"), "--workers", "2", "-q"])
    out, err = capsys.readouterr()
    assert code == 1, (out, err)
    assert "3 files: 3 scanned, 0 already done, 1 failed" in out
    assert "1 file(s) in the folders are not media" in err
    assert np.isfinite(json.loads((tmp_path / "out" / "summary.json").read_text())["wall_s"])


def test_a_file_named_as_media_is_scanned_not_read_as_a_list(tmp_path):
    fake = tmp_path / "notavideo.mp4"
    fake.write_text("hi\n")  # text inside, a video's name: the user means "scan this", not "read these paths"
    assert expand_inputs([fake]).paths == (fake,)
