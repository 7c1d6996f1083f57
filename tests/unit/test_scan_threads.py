"""With two cores a scan detects faces ahead and runs analyzers beside linking; the report must not change.

The threads only reorder work (``pipeline._cores``): every frame's detections, every analyzer's result, the
persons and the verdict are those of a scan done in turn, on one core.
"""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

import pytest

from unmask import pipeline


def _without_timings(report_json: str) -> dict[str, Any]:
    doc = json.loads(report_json)
    doc.pop("timings", None)
    return doc


def test_the_threaded_scan_gives_the_report_of_a_scan_in_turn(scanner, face_clip: Path,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    seen: set[str] = set()
    run = pipeline.run_analyzer

    def spy(analyzer, ctx):  # type: ignore[no-untyped-def]
        seen.add(f"{analyzer.name}:{threading.current_thread().name.split('_')[0]}")
        return run(analyzer, ctx)

    monkeypatch.setattr(pipeline, "run_analyzer", spy)
    monkeypatch.setattr(pipeline, "_cores", lambda: 1)
    in_turn = scanner.scan(face_clip)
    assert all(s.endswith(":MainThread") for s in seen)
    seen.clear()
    monkeypatch.setattr(pipeline, "_cores", lambda: 2)
    threaded = scanner.scan(face_clip)
    assert "temporal:MainThread" in seen and "blend_cnn:unmask-analyzers" in seen  # the lanes did run
    assert _without_timings(threaded.to_json()) == _without_timings(in_turn.to_json())
    assert [a.name for a in threaded.analyzers] == [a.name for a in in_turn.analyzers]  # the configured order
    assert threaded.timings.keys() >= {"link_s", "analyzer_temporal_s", "analyzer_blend_cnn_s"}


def test_an_analyzer_that_fails_beside_linking_fails_alone(scanner, face_clip: Path,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    from unmask.analyzers.blend_cnn import BlendCNNAnalyzer

    def boom(self, ctx):  # type: ignore[no-untyped-def]
        raise RuntimeError("broken on purpose")

    monkeypatch.setattr(pipeline, "_cores", lambda: 2)
    monkeypatch.setattr(BlendCNNAnalyzer, "analyze", boom)
    report = scanner.scan(face_clip)
    status = {a.name: a.status for a in report.analyzers}
    assert status["blend_cnn"] == "error" and status["temporal"] == "ok"
