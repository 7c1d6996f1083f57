"""The whole pipeline on development media (skipped with a reason when ../shared/data is absent)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import jsonschema
import pytest
from conftest import SHARED_DATA, needs_shared_data
from report_checks import contradictions

from unmask.report.build import load_schema

pytestmark = [needs_shared_data, pytest.mark.shared_data]

SCHEMA = load_schema()

CASES = [
    ("media/real/ffpp/004.mp4", "video", {"likely_real", "inconclusive", "likely_fake"}),
    ("media/fake/ffpp/634_660.mp4", "video", {"likely_real", "inconclusive", "likely_fake"}),
    ("media/fake/sadtalker/example_full.gif", "animation", {"likely_real", "inconclusive", "likely_fake"}),
    ("media/real/ghost/orig.webp", "animation", {"likely_real", "inconclusive", "likely_fake", "cannot_assess"}),
    ("media/real/face_recognition/obama.jpg", "image", {"cannot_assess"}),
]


@pytest.mark.parametrize("rel, kind, labels", CASES, ids=[c[0].split("/")[-1] for c in CASES])
def test_scan_development_media(scanner, rel, kind, labels):
    path = SHARED_DATA / rel
    if not path.exists():
        pytest.skip(f"{rel} not in this copy of the development data")
    r = scanner.scan(path)
    jsonschema.validate(r.data, SCHEMA)
    assert r.data["input"]["kind"] == kind
    assert r.label in labels
    assert all(a["status"] != "error" for a in r.data["analyzers"]), [a["reason"] for a in r.data["analyzers"]]
    if r.label in ("likely_real", "inconclusive", "likely_fake"):
        assert r.data["faces"] and r.data["verdict"]["track_id"] is not None
    assert contradictions(r.data) == []


def test_saved_development_reports_have_no_contradictions():
    """Every report a bench run saved (``UNMASK_BENCH_DIR``, e.g. bench/) read for contradictions, without rescanning.

    Opt-in: saved reports keep the prose of the unmask that wrote them, so point this at a bench
    run made by this version (a bench resumes from old reports with the same settings).
    """
    bench = os.environ.get("UNMASK_BENCH_DIR")
    if not bench:
        pytest.skip("set UNMASK_BENCH_DIR to a bench output (its reports/ are checked) made by this version")
    reports = sorted((Path(bench) / "reports").glob("*.json"))
    if not reports:
        pytest.skip(f"no saved reports under {bench}/reports")
    found = {p.name: c for p in reports if (c := contradictions(json.loads(p.read_text())))}
    assert not found, f"{len(found)} of {len(reports)} reports: " + "; ".join(f"{k}: {v[0]}" for k, v in list(found.items())[:5])


def test_multi_face_video_keeps_several_tracks(scanner):
    path = SHARED_DATA / "media/real/facenet_pytorch/video.mp4"
    if not path.exists():
        pytest.skip("street video not in this copy of the development data")
    r = scanner.scan(path)
    assert len(r.data["faces"]) >= 3
    ids = [f["id"] for f in r.data["faces"]]
    assert ids == sorted(ids) and len(set(ids)) == len(ids)


def test_real_file_report_is_deterministic(scanner):
    path = SHARED_DATA / "media/real/ffpp/004.mp4"
    if not path.exists():
        pytest.skip("FF++ 004.mp4 not in this copy of the development data")
    a, b = (json.loads(scanner.scan(path).to_json()) for _ in range(2))
    a.pop("timings"), b.pop("timings")
    assert a == b
