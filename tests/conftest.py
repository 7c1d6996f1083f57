"""Shared fixtures: synthetic clips (built once per session) and the development data location."""

from __future__ import annotations

from pathlib import Path

import pytest

from unmask.config import ScanConfig

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
SHARED_MANIFEST = SHARED_DATA / "manifest.csv"

needs_shared_data = pytest.mark.skipif(
    not SHARED_MANIFEST.exists(), reason=f"development media not found at {SHARED_DATA} (see README: ../shared/data)"
)


@pytest.fixture(scope="session")
def face_clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """4 s, 25 fps, 640x480 clip of the astronaut portrait drifting in frame."""
    from unmask.synth import write_face_clip

    return write_face_clip(tmp_path_factory.mktemp("clips") / "face.mp4", seconds=4.0)


@pytest.fixture(scope="session")
def long_face_clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """6 s of the drifting portrait: long enough to interrupt a scan, and (with face_clip) to enrol from."""
    from unmask.synth import write_face_clip

    return write_face_clip(tmp_path_factory.mktemp("clips") / "six-seconds.mp4", seconds=6.0)


@pytest.fixture(scope="session")
def face_image(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The astronaut portrait as a JPEG still."""
    from PIL import Image

    from unmask.synth import astronaut

    p = tmp_path_factory.mktemp("images") / "astronaut.jpg"
    Image.fromarray(astronaut()).save(p, quality=92)
    return p


@pytest.fixture(scope="session")
def scanner():
    """One Scanner for the session: models load once."""
    from unmask.pipeline import Scanner

    return Scanner(ScanConfig())


@pytest.fixture(scope="session")
def astronaut_obs():
    """The astronaut photo's face as the face stage sees it: a real 478-point mesh, open eyes, a 256 px crop."""
    from unmask.faces.finder import FaceFinder
    from unmask.synth import astronaut
    from unmask.types import Frame

    with FaceFinder() as finder:
        obs = finder.process(Frame(0, 0.0, astronaut()))
    assert obs and obs[0].landmarks is not None
    return obs[0]


def assert_well_formed(result) -> None:
    """The analyzer contract: status ok, scores in [0, 1], finite features, evidence located in time."""
    import math

    assert result.status == "ok", result.reason
    assert result.explanation
    for ts in result.tracks:
        assert 0.0 <= ts.score <= 1.0
        assert ts.features and all(isinstance(v, float) and math.isfinite(v) for v in ts.features.values())
        assert all(0.0 <= s <= 1.0 for _, s in ts.per_frame)
    for ev in result.evidence:
        assert ev.cue and ev.detail and 0.0 <= ev.strength <= 1.0 and ev.t_end >= ev.t_start
        assert ev.track_id is not None and ev.frame_start is not None and ev.frame_end is not None


PG_URL = __import__("os").environ.get("UNMASK_TEST_PG_URL", "")
PG_SKIP_REASON = "no PostgreSQL server: set UNMASK_TEST_PG_URL=postgresql://user:pass@127.0.0.1:5432/postgres (.ci/run does)"


@pytest.fixture
def pg_url():
    """URL of a fresh PostgreSQL database on the server at ``UNMASK_TEST_PG_URL``, dropped afterwards."""
    if not PG_URL:
        pytest.skip(PG_SKIP_REASON)
    import uuid

    import psycopg
    from sqlalchemy.engine import make_url

    base = make_url(PG_URL.replace("postgresql://", "postgresql+psycopg://", 1))
    dsn = base.set(drivername="postgresql").render_as_string(hide_password=False)
    name = f"unmask_test_{uuid.uuid4().hex[:10]}"
    try:
        with psycopg.connect(dsn, autocommit=True, connect_timeout=5) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
    except psycopg.OperationalError as e:
        pytest.skip(f"PostgreSQL at UNMASK_TEST_PG_URL is not reachable ({str(e).strip()[:120]})")
    try:
        yield base.set(database=name).render_as_string(hide_password=False)
    finally:
        with psycopg.connect(dsn, autocommit=True, connect_timeout=5) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def face_clip_report(scanner, face_clip):
    """The real pipeline's report (with its picture attachments) on the 4 s face clip, scanned once."""
    return scanner.scan(face_clip)


@pytest.fixture(scope="session")
def canned_report(face_clip_report, tmp_path_factory) -> Path:
    """The face clip's real report as a file, for the stub engine to return."""
    p = tmp_path_factory.mktemp("canned") / "report.json"
    p.write_text(face_clip_report.to_json())
    return p


@pytest.fixture
def service(tmp_path, canned_report, monkeypatch):
    """``service(**settings)`` → a TestClient on a fresh data directory, stub engine in worker threads."""
    from fastapi.testclient import TestClient
    from service_stubs import MODE_ENV, REPORT_ENV, StubEngine

    from unmask.service.app import create_app
    from unmask.service.settings import ServiceSettings

    monkeypatch.setenv(REPORT_ENV, str(canned_report))
    monkeypatch.delenv(MODE_ENV, raising=False)
    StubEngine.calls.clear()
    StubEngine.claims.clear()
    StubEngine.enrolments.clear()
    stack = []

    def make(start_workers: bool = True, **kw) -> TestClient:
        defaults = dict(data_dir=tmp_path / "data", worker_mode="thread", poll_s=0.05, heartbeat_s=0.2,
                        probe_mode="inline")  # trusted test files; the child-process probe has its own tests
        settings = ServiceSettings(**{**defaults, **kw}).validate()
        client = TestClient(create_app(settings, factory=StubEngine, start_workers=start_workers))
        client.__enter__()
        stack.append(client)
        return client

    yield make
    for c in stack:
        c.__exit__(None, None, None)
