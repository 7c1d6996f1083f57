"""``unmask batch`` on ``s3://`` URLs against a real S3 protocol server on loopback (moto's), not a mock of pyarrow.

pyarrow's S3FileSystem takes the endpoint from ``AWS_ENDPOINT_URL``, as it would for MinIO or another
S3-compatible store. Workers are separate processes: they find the store through the same environment.
Workers run the stub engine (tests/batch_stubs.py); the S3 part is what is under test.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest
from batch_stubs import LOG_ENV, BatchStubEngine

from unmask.batch import ResultIndex, expand_inputs, run_batch
from unmask.batch.remote import RemoteFile
from unmask.config import ScanConfig

pytest.importorskip("pyarrow.fs")
moto_server = pytest.importorskip("moto.server", reason="moto[server] (the test extra) runs the local S3 endpoint")
boto3 = pytest.importorskip("boto3")

MKV = b"\x1a\x45\xdf\xa3"  # Matroska's magic: media by content
FILES = {"in/a.mkv": MKV + b"aaa", "in/sub/b.mkv": MKV + b"bbb", "in/sub/deep/c": MKV + b"ccc",
         "in/notes.txt": b"hello", "in/bad.mkv": MKV + b"BAD"}
VOLATILE = ("timings", "wall_s", "finished_at", "path", "attempts", "mtime_ns")


@pytest.fixture(scope="module")
def endpoint():
    server = moto_server.ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture
def bucket(endpoint, tmp_path, monkeypatch):
    """A bucket holding FILES, the store's settings in the environment (the workers inherit it)."""
    for k, v in {"AWS_ENDPOINT_URL": endpoint, "AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test",
                 "AWS_DEFAULT_REGION": "us-east-1", "AWS_EC2_METADATA_DISABLED": "true",
                 LOG_ENV: str(tmp_path / "scans.log")}.items():
        monkeypatch.setenv(k, v)
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "tmp"))
    (tmp_path / "tmp").mkdir()
    name = "uploads-" + tmp_path.name.lower().replace("_", "-")[-40:]
    s3 = boto3.client("s3")
    s3.create_bucket(Bucket=name)
    for key, data in FILES.items():
        s3.put_object(Bucket=name, Key=key, Body=data)
    return name


def batch(paths, out, **kw):
    kw.setdefault("workers", 2)
    return run_batch(paths, out, ScanConfig(), factory=BatchStubEngine, model_version="test", **kw)


def by_name(out: Path) -> dict[str, dict]:
    return {r["path"].rsplit("/", 1)[-1]: {k: v for k, v in r.items() if k not in VOLATILE}
            for r in ResultIndex(out / "index.jsonl").rows()}


def test_an_s3_folder_is_listed_sniffed_and_scanned_like_the_same_files_on_disk(bucket, tmp_path):
    found = expand_inputs([f"s3://{bucket}/in/"])
    assert [str(p) for p in found.paths] == [f"s3://{bucket}/in/{n}" for n in ("a.mkv", "bad.mkv", "sub/b.mkv",
                                                                              "sub/deep/c")]
    assert [str(p) for p in found.not_media] == [f"s3://{bucket}/in/notes.txt"]
    assert all(isinstance(p, RemoteFile) and p.size == 7 and p.mtime_ns > 0 for p in found.paths)

    local = tmp_path / "disk"
    for key, data in FILES.items():
        (local / key).parent.mkdir(parents=True, exist_ok=True)
        (local / key).write_bytes(data)
    on_disk = batch(expand_inputs([local / "in"]).paths, tmp_path / "out-disk")
    on_s3 = batch(found.paths, tmp_path / "out-s3")
    assert (on_s3.files, on_s3.scanned, on_s3.errors) == (on_disk.files, on_disk.scanned, on_disk.errors) == (4, 4, 1)
    assert by_name(tmp_path / "out-s3") == by_name(tmp_path / "out-disk")  # sha256, size, verdict, report name
    assert os.listdir(tmp_path / "tmp") == []  # the workers' downloads are gone

    again = batch(expand_inputs([f"s3://{bucket}/in/"]).paths, tmp_path / "out-s3", workers=1)
    assert (again.resumed, again.scanned) == (3, 1)  # only the failed file is tried again
