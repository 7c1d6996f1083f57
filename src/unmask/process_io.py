"""Process-level chores shared by every entry point that runs scans (CLI, demo, service worker, batch).

Kept out of ``cli.py`` so library code (the batch runner, the service) never imports the CLI.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path


def write_atomic(path: Path, text: str) -> None:
    """Write via a temporary file and rename, so a crash never leaves half a report."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    try:
        tmp.write_text(text, encoding="utf-8")
        tmp.replace(path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def silence_native_logs() -> None:
    """Send native libraries' log lines (TFLite, mediapipe's absl) to /dev/null, keep Python's stderr.

    mediapipe's C++ code writes warnings straight to file descriptor 2; users
    should see our one-line errors and progress, not those.
    """
    try:
        sys.stderr.flush()
        saved = os.dup(2)
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, 2)
        os.close(devnull)
        sys.stderr = os.fdopen(saved, "w", buffering=1, encoding="utf-8", errors="replace")
    except (OSError, ValueError, AttributeError):  # no real fd 2 (e.g. under a test runner's capture)
        pass
