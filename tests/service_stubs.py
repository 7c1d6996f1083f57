"""A stand-in for the scanner behind the service's one-method seam (``engine.scan``), for fast service tests.

Importable by worker processes too (spawn copies ``sys.path`` and the environment), so crash
tests can use it. Its behaviour comes from the environment, read at each scan:
``STUB_ENGINE_REPORT`` (path of the JSON report to return) and ``STUB_ENGINE_MODE``:
``ok`` (default), ``slow`` (30 s of progress), ``fail`` (bad media), ``crash`` (a bug).
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any, Mapping

from unmask.config import ScanConfig
from unmask.errors import UnsupportedMedia
from unmask.report.build import Report

REPORT_ENV, MODE_ENV = "STUB_ENGINE_REPORT", "STUB_ENGINE_MODE"


class StubEngine:
    calls: list[tuple[str, dict[str, Any]]] = []  # (path, overrides) per scan, in this process

    def __init__(self, config: ScanConfig) -> None:
        self.config = config

    def scan(self, path: Path, overrides: Mapping[str, Any], progress: Any) -> Report:
        StubEngine.calls.append((str(path), dict(overrides)))
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
        return Report(data)

    def settings_for(self, overrides: Mapping[str, Any]) -> dict[str, Any]:
        return {"stub": True, **overrides}
