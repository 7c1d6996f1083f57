"""With two cores a scan detects faces on a thread of their own, ahead of meshing; the report must not change.

The thread only reorders work (``pipeline._cores``): every frame's detections, every analyzer's result, the
persons and the verdict are those of a scan done in turn, on one core.
"""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

import pytest

from unmask import pipeline
from unmask.faces.finder import FaceFinder


def _without_timings(report_json: str) -> dict[str, Any]:
    doc = json.loads(report_json)
    doc.pop("timings", None)
    return doc


def test_the_threaded_scan_gives_the_report_of_a_scan_in_turn(scanner, face_clip: Path,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    detected_on: set[str] = set()
    detect = FaceFinder.detect

    def spy(self, frame):  # type: ignore[no-untyped-def]
        detected_on.add(threading.current_thread().name)
        return detect(self, frame)

    monkeypatch.setattr(FaceFinder, "detect", spy)
    monkeypatch.setattr(pipeline, "_cores", lambda: 1)
    in_turn = scanner.scan(face_clip)
    assert detected_on == {"MainThread"}
    detected_on.clear()
    monkeypatch.setattr(pipeline, "_cores", lambda: 2)
    threaded = scanner.scan(face_clip)
    assert detected_on and "MainThread" not in detected_on  # detected ahead, on the prefetch thread
    assert _without_timings(threaded.to_json()) == _without_timings(in_turn.to_json())
