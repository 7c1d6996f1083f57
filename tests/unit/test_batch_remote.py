"""``unmask batch`` on URLs: ``file://`` through pyarrow's LocalFileSystem (no network here).

Folder, object and manifest URLs; a missing object, an unsupported scheme, pyarrow absent; resume without
downloading; the same rows as the same files given as paths. Workers run the stub engine (tests/batch_stubs.py).
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
from pathlib import Path

import pytest
from batch_stubs import LOG_ENV, BatchStubEngine

from unmask.batch import BatchLimits, ResultIndex, expand_inputs, run_batch
from unmask.batch.plan import plan
from unmask.batch.record import BatchState
from unmask.batch.remote import PYARROW_MISSING, RemoteFile
from unmask.config import ScanConfig
from unmask.errors import BatchError, InputError, MissingInput

pytest.importorskip("pyarrow.fs")

MKV = b"\x1a\x45\xdf\xa3"  # Matroska's magic: media by content, for folder listings
VOLATILE = ("timings", "wall_s", "finished_at", "path", "attempts")


@pytest.fixture
def stub_log(tmp_path, monkeypatch) -> Path:
    log = tmp_path / "scans.log"
    monkeypatch.setenv(LOG_ENV, str(log))
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "tmp"))  # the workers' scratch folders go here
    (tmp_path / "tmp").mkdir()
    return log


def scanned(log: Path) -> list[str]:
    return [ln.split(" ", 1)[1] for ln in log.read_text().splitlines()] if log.exists() else []


def tree(root: Path) -> Path:
    for rel, data in {"a.mkv": MKV + b"aaa", "sub/b.mkv": MKV + b"bbb", "sub/deep/c": MKV + b"ccc",
                      "notes.txt": b"hello", ".hidden.mkv": MKV + b"hid", "bad.mkv": MKV + b"BAD"}.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_bytes(data)
    return root


def url(p: Path) -> str:
    return "file://" + str(p.resolve())


def batch(paths, out, **kw):
    kw.setdefault("workers", 2)
    return run_batch(paths, out, ScanConfig(), factory=BatchStubEngine, model_version="test", **kw)


def rows(out: Path) -> dict[str, dict]:
    return {r["path"]: r for r in ResultIndex(out / "index.jsonl").rows()}


def by_name(out: Path) -> dict[str, dict]:
    return {r["path"].rsplit("/", 1)[-1]: {k: v for k, v in r.items() if k not in VOLATILE}
            for r in rows(out).values()}


def test_a_folder_url_is_listed_recursively_and_sniffed_like_a_folder(tmp_path):
    root = tree(tmp_path / "in")
    found = expand_inputs([url(root) + "/"])
    assert [str(p) for p in found.paths] == [url(root / n) for n in ("a.mkv", "bad.mkv", "sub/b.mkv", "sub/deep/c")]
    assert [str(p) for p in found.not_media] == [url(root / "notes.txt")]
    assert all(isinstance(p, RemoteFile) and p.size == 7 and p.mtime_ns > 0 for p in found.paths)
    one = expand_inputs([url(root / "notes.txt")])  # an object given itself that is not media: read as a list
    assert one.paths == (RemoteFile(url(root / "hello")),)


def test_url_batch_gives_the_rows_of_the_same_files_as_paths_and_cleans_up(tmp_path, stub_log):
    root = tree(tmp_path / "in")
    local = batch(expand_inputs([root]).paths, tmp_path / "local")
    remote = batch(expand_inputs([url(root)]).paths, tmp_path / "remote")
    assert (remote.files, remote.scanned, remote.errors) == (local.files, local.scanned, local.errors) == (4, 4, 1)
    assert by_name(tmp_path / "remote") == by_name(tmp_path / "local")  # sha256, size, verdict, report name...
    r = rows(tmp_path / "remote")[url(root / "sub/b.mkv")]
    assert r["status"] == "done" and r["sha256"] and (tmp_path / "remote" / r["report"]).is_file()
    assert r["mtime_ns"] == (root / "sub/b.mkv").stat().st_mtime_ns
    assert os.listdir(tmp_path / "tmp") == []  # every worker's scratch folder (and its downloads) removed


def test_resume_on_urls_downloads_nothing_until_an_object_changes(tmp_path, stub_log):
    root = tree(tmp_path / "in")
    inputs = expand_inputs([url(root)]).paths
    out = tmp_path / "out"
    batch(inputs, out)
    stub_log.unlink()
    again = batch(expand_inputs([url(root)]).paths, out, workers=1)
    assert (again.resumed, again.scanned, again.errors) == (3, 1, 1) and len(scanned(stub_log)) == 1  # bad.mkv
    index = ResultIndex(out / "index.jsonl")
    run_dir = next(p.name for p in (out / "reports").iterdir())
    with index:  # what the driver plans for a finished URL: nothing, so nothing is downloaded
        assert [str(t.path) for t in plan(list(expand_inputs([url(root)]).paths), out, "test",
                                          ScanConfig().validate().digest(), f"reports/{run_dir}", False, index,
                                          BatchState(4, None))] == [url(root / "bad.mkv")]
    stub_log.unlink()
    os.utime(root / "a.mkv", ns=(1, 1))  # touched, same content: downloaded and hashed, its report stands
    (root / "sub/b.mkv").write_bytes(MKV + b"BBB")  # new content: scanned again
    third = batch(expand_inputs([url(root)]).paths, out, workers=1)
    assert third.scanned == 3 and sorted(Path(p).name for p in scanned(stub_log)) == ["b.mkv", "bad.mkv"]
    assert rows(out)[url(root / "a.mkv")]["mtime_ns"] == 1


def test_a_manifest_of_urls_a_missing_object_and_a_bad_scheme_fail_alone(tmp_path, stub_log):
    root = tree(tmp_path / "in")
    manifest = tmp_path / "m.csv"
    manifest.write_text(f"path,label\n{url(root / 'a.mkv')},x\n{url(root / 'gone.mkv')},y\nsub/../in/sub/b.mkv,z\n"
                        "nope://bucket/c.mkv,w\n")
    found = expand_inputs([manifest])
    assert [str(p) for p in found.paths] == [url(root / "a.mkv"), url(root / "gone.mkv"),
                                             str(tmp_path / "in/sub/b.mkv"), "nope://bucket/c.mkv"]
    s = batch(found.paths, tmp_path / "out")
    assert (s.files, s.scanned, s.errors) == (4, 4, 2)
    r = rows(tmp_path / "out")
    assert r[url(root / "a.mkv")]["status"] == r[str(tmp_path / "in/sub/b.mkv")]["status"] == "done"
    assert r[url(root / "gone.mkv")]["error"] == "no such object" and r[url(root / "gone.mkv")]["attempts"] == 1
    assert "cannot open this URL" in r["nope://bucket/c.mkv"]["error"]
    with pytest.raises(InputError, match="^nope://x/y: cannot open this URL"):
        expand_inputs(["nope://x/y"])
    with pytest.raises(MissingInput, match="no such object or folder"):
        expand_inputs([url(root / "gone")])


def test_an_object_over_the_download_cap_fails_alone(tmp_path, stub_log):
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "big.mkv").write_bytes(MKV + b"x" * (1 << 20))
    (tmp_path / "in" / "small.mkv").write_bytes(MKV + b"small")
    s = batch(expand_inputs([url(tmp_path / "in")]).paths, tmp_path / "out", workers=1,
              limits=BatchLimits(max_download_mb=1))
    r = rows(tmp_path / "out")
    assert s.errors == 1 and "more than the 1 MB a download may take" in r[url(tmp_path / "in/big.mkv")]["error"]
    assert os.listdir(tmp_path / "tmp") == []


def test_without_pyarrow_a_url_stops_with_one_line(tmp_path, monkeypatch, capsys):
    from unmask import cli

    monkeypatch.setitem(sys.modules, "pyarrow", None)
    monkeypatch.setitem(sys.modules, "pyarrow.fs", None)
    with pytest.raises(BatchError, match="^reading URLs needs the batch extra"):
        expand_inputs(["s3://bucket/prefix/"])
    with pytest.raises(BatchError):
        batch(["s3://bucket/a.mp4"], tmp_path / "out")
    code = cli.main(["batch", "s3://bucket/prefix/", "--out", str(tmp_path / "out"), "-q"])
    err = capsys.readouterr().err
    assert code != 0 and PYARROW_MISSING in err and "Traceback" not in err and len(err.strip().splitlines()) == 1


def test_cli_batch_on_a_folder_url(tmp_path, stub_log, monkeypatch, capsys):
    from unmask import cli

    monkeypatch.setattr("unmask.workers.engine.ScannerEngine", BatchStubEngine)
    monkeypatch.setattr("unmask.batch.runner.fusion_version", lambda: "test")
    root = tree(tmp_path / "in")
    code = cli.main(["batch", url(root) + "/", "--out", str(tmp_path / "out"), "--workers", "1", "-q"])
    out, err = capsys.readouterr()
    assert code == 1 and "4 files: 4 scanned, 0 already done, 1 failed" in out, (out, err)
    assert json.loads((tmp_path / "out" / "summary.json").read_text())["files"] == 4


def test_a_folder_url_is_sniffed_several_objects_at_a_time(tmp_path):
    """An object store answers each first-bytes read slowly: the driver keeps several in flight, results in order."""
    import threading
    import time

    from unmask.batch.remote import open_url, sniffed

    root = tmp_path / "many"
    root.mkdir()
    for i in range(24):
        (root / f"{i:02d}.bin").write_bytes(b"MEDIA" if i % 3 == 0 else b"other")
    fs, path = open_url(url(root))
    threads: set[str] = set()

    def slow_sniff(head: bytes) -> bool:
        threads.add(threading.current_thread().name)
        time.sleep(0.02)
        return head.startswith(b"MEDIA")

    paths = [f"{path}/{i:02d}.bin" for i in range(24)]
    assert sniffed(fs, paths, slow_sniff) == [i % 3 == 0 for i in range(24)]
    assert len(threads) > 1
    assert sniffed(fs, [f"{path}/missing.bin"], slow_sniff) == [False]  # an unreadable object is not media
