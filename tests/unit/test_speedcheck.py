"""The speed check's memory number must be the scan's own, not its parent's."""

from __future__ import annotations

import json
import subprocess
import sys


def test_peak_rss_of_a_child_is_its_own_not_its_large_parents() -> None:
    # A parent holding ~300 MB forks and execs a small Python: ru_maxrss would report the parent's peak.
    code = (
        "import subprocess, sys, json\n"
        "ballast = bytearray(300 * 1024 * 1024)\n"
        "for i in range(0, len(ballast), 4096): ballast[i] = 1\n"
        "out = subprocess.run([sys.executable, '-c', 'from unmask.speedcheck import peak_rss_mb; print(peak_rss_mb())'],"
        " capture_output=True, text=True, check=True).stdout\n"
        "print(json.dumps(float(out)))\n"
    )
    child_mb = json.loads(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout)
    assert 0 < child_mb < 250


def test_the_face_stage_times_its_parts(tmp_path, monkeypatch) -> None:
    from unmask import pipeline
    from unmask.config import ScanConfig
    from unmask.pipeline import Scanner
    from unmask.synth import write_face_clip

    clip = write_face_clip(tmp_path / "c.mp4", seconds=1.0)
    scanner = Scanner(ScanConfig.load(env={}, overrides={"analyzers": "glitches"}))
    parts = ("faces_detect_s", "faces_track_s", "faces_mesh_s", "faces_crop_s")
    monkeypatch.setattr(pipeline, "_cores", lambda: 1)  # in turn: detection is part of the face stage
    t = scanner.scan(clip).data["timings"]
    assert set(parts) <= set(t) and sum(t[k] for k in parts) <= t["faces_s"] + 1e-3
    monkeypatch.setattr(pipeline, "_cores", lambda: 2)  # detected ahead, on the decoding side: timed apart
    t = scanner.scan(clip).data["timings"]
    assert set(parts) <= set(t) and sum(t[k] for k in parts[1:]) <= t["faces_s"] + 1e-3
