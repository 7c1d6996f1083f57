"""A stand-in for the scanner behind the service's seam (``engine.scan``, ``engine.enroll``), for fast service tests.

Importable by worker processes too (spawn copies ``sys.path`` and the environment), so crash
tests can use it. Its behaviour comes from the environment, read at each call:
``STUB_ENGINE_REPORT`` (path of the JSON report to return) and ``STUB_ENGINE_MODE``:
``ok`` (default), ``slow`` (30 s of progress), ``fail`` (bad media / too little footage), ``crash`` (a bug).
A scan with a claimed person gets a ``reference`` section naming that person and profile version;
an enrolment gives a small random profile whose footage is named as the client named the files.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from unmask.config import ScanConfig
from unmask.errors import EnrolmentError, UnsupportedMedia
from unmask.reference.enroll import Enrolment
from unmask.reference.profile import FootageItem, PersonProfile
from unmask.report.build import Report

REPORT_ENV, MODE_ENV = "STUB_ENGINE_REPORT", "STUB_ENGINE_MODE"


def stub_profile(name: str, file_names: Sequence[str] = ("a.mp4",)) -> PersonProfile:
    rng = np.random.default_rng(len(name))
    return PersonProfile(name, rng.normal(size=(6, 128)).astype(np.float32), rng.normal(size=(3, 66)).astype(np.float32),
                         {"window_s": 4.0}, tuple(FootageItem(n, "ab" * 32, "video", 8.0, 8.0, 6, 3) for n in file_names),
                         created_at="2026-01-01T00:00:00Z", unmask_version="0.1.0")


def stub_reference(claims: PersonProfile) -> dict[str, Any]:
    return {"claimed": claims.name, "profile_version": claims.version, "profile_created_at": claims.created_at,
            "profile_sha256": claims.sha256(), "calibration_sha256": "0" * 64, "conclusion": "consistent",
            "statement": f"The face matches {claims.name} (stub), and it moves like {claims.name}.", "track_id": 1,
            "identity": {"score": 0.97, "distance": 0.3, "embeddings": 6},
            "mannerisms": {"checked": True, "score": 0.8, "llr": 2.0, "windows": 3}}


class StubEngine:
    calls: list[tuple[str, dict[str, Any]]] = []  # (path, overrides) per scan, in this process
    claims: list[tuple[str, int | None] | None] = []  # (name, version) of the claimed profile per scan
    enrolments: list[tuple[str, list[tuple[str, str]]]] = []  # (name, [(server path, client name)]) per enrolment

    def __init__(self, config: ScanConfig) -> None:
        self.config = config

    def scan(self, path: Path, overrides: Mapping[str, Any], progress: Any, claims: PersonProfile | None = None) -> Report:
        StubEngine.calls.append((str(path), dict(overrides)))
        StubEngine.claims.append(None if claims is None else (claims.name, claims.version))
        mode = os.environ.get(MODE_ENV, "ok")
        if mode == "fail":
            raise UnsupportedMedia(path, "not a video or image file we can read (stub)")
        steps, pause = (150, 0.2) if mode == "slow" else (4, 0.05)
        for i in range(steps):
            progress("faces", i / steps)
            time.sleep(pause)
        if mode == "crash":
            raise RuntimeError("stub bug")
        data = json.loads(Path(os.environ[REPORT_ENV]).read_text())
        data["input"]["path"] = str(path)
        if claims is not None:
            data["reference"] = stub_reference(claims)
        return Report.from_dict(data)

    def enroll(self, name: str, files: Sequence[tuple[Path, str]], progress: Any) -> Enrolment:
        StubEngine.enrolments.append((name, [(str(p), n) for p, n in files]))
        mode = os.environ.get(MODE_ENV, "ok")
        steps, pause = (150, 0.2) if mode == "slow" else (4, 0.02)
        for i in range(steps):
            progress(f"reading {files[i * len(files) // steps][1]}", i / steps)
            time.sleep(pause)
        if mode == "fail":
            raise EnrolmentError(f"too little usable footage of {name}: 3 usable face images (needs 5) (stub)")
        if mode == "crash":
            raise RuntimeError("stub bug")
        assert all(Path(p).is_file() for p, _ in files)
        names = [n for _, n in files]
        return Enrolment(stub_profile(name, names), tuple(f"{n}: 8.0 s of the face (stub)" for n in names))

    def settings_for(self, overrides: Mapping[str, Any]) -> dict[str, Any]:
        return {"stub": True, **overrides}


# -- helpers for the service tests (the `service` fixture is in tests/conftest.py) --------------


def upload(client: Any, path: Path, name: str | None = None, **kw: Any) -> Any:
    with open(path, "rb") as f:
        return client.post("/v1/scans", files={"file": (name or path.name, f, "application/octet-stream")}, **kw)


def wait_for(client: Any, scan_id: str, statuses: tuple[str, ...] = ("done", "failed"), timeout: float = 15.0,
             **kw: Any) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        r = client.get(f"/v1/scans/{scan_id}", **kw)
        assert r.status_code == 200, r.text
        if r.json()["status"] in statuses:
            return dict(r.json())
        time.sleep(0.05)
    raise AssertionError(f"scan {scan_id} still {r.json()['status']} after {timeout} s")


def uploads_dir(tmp_path: Path) -> Path:
    return tmp_path / "data" / "uploads"
