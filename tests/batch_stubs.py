"""A stand-in engine for batch tests: behaviour chosen by each file's first bytes, no models.

Importable by the batch's worker processes (spawn copies ``sys.path``). Contents:
``CRASH`` segfaults the worker, ``HANG`` sleeps past any test's limit, ``KILLONCE <marker>``
SIGKILLs its own worker the first time (creating ``<marker>``), ``BAD`` (in the first 16 bytes) is refused as
unreadable media, ``BUG`` raises a plain exception; anything else gets a report whose
score comes from the content's sha256. Each scan appends ``pid path`` to ``$BATCH_STUB_LOG``.
"""

from __future__ import annotations

import hashlib
import os
import signal
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from unmask.config import ScanConfig
from unmask.errors import UnsupportedMedia
from unmask.report.build import Report

LOG_ENV = "BATCH_STUB_LOG"


class BatchStubEngine:
    def __init__(self, config: ScanConfig) -> None:
        self.config = config

    def scan(self, path: Path, overrides: Mapping[str, Any], progress: Any, claims: Any = None) -> Report:
        data = Path(path).read_bytes()
        if os.environ.get(LOG_ENV):
            with open(os.environ[LOG_ENV], "a") as f:
                f.write(f"{os.getpid()} {path}\n")
        head = data[:64]
        if head.startswith(b"CRASH"):
            os.kill(os.getpid(), signal.SIGSEGV)
        if head.startswith(b"HANG"):
            time.sleep(120)
        if head.startswith(b"KILLONCE"):
            marker = Path(data.split(b" ", 1)[1].decode())
            if not marker.exists():
                marker.touch()
                os.kill(os.getpid(), signal.SIGKILL)
        if b"BAD" in head[:16]:
            raise UnsupportedMedia(path, "not a video or image file we can read (stub)")
        if head.startswith(b"BUG"):
            raise RuntimeError("stub bug")
        if head.startswith(b"SLOW"):
            time.sleep(0.4)
        sha = hashlib.sha256(data).hexdigest()
        score = int(sha[:4], 16) / 0xFFFF
        label = "likely_fake" if score > 0.6 else "likely_real" if score < 0.3 else "inconclusive"
        return Report.from_dict({
            "schema_version": "1.5", "unmask_version": "stub",
            "input": {"path": Path(path).name, "sha256": sha, "size_bytes": len(data), "container": "stub",
                      "kind": "video", "video_codec": None, "duration_s": 1.0, "fps": 25.0, "width": 2, "height": 2},
            "verdict": {"label": label, "score": round(score, 4), "thresholds": {"likely_real": 0.3, "likely_fake": 0.6},
                        "track_id": None},
            "reference": None, "provenance": None, "evidence": [], "faces": [], "persons": [],
            "analyzers": [{"name": "blend_cnn", "version": "stub", "checks": "", "status": "ok",
                           "score": round(score / 2, 4), "reason": None, "explanation": ""},
                          {"name": "blinks", "version": "stub", "checks": "", "status": "skipped", "score": None,
                           "reason": "stub", "explanation": ""}],
            "timeline": [], "sampling": {"frames_decoded": 0, "frames_analyzed": 0, "segments": 0},
            "model": {"fusion_version": "stub", "fusion_sha256": "0" * 64},
            "config_digest": self.config.digest(),
            "timings": {"total_s": 0.01, "decode": 0.004},
        })


class BrokenStubEngine:
    """An engine that cannot be built (as on a node whose install is broken): its worker exits at start."""

    def __init__(self, config: ScanConfig) -> None:
        raise RuntimeError("stub engine cannot load its models")
