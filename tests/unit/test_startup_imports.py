"""Start-up stays cheap: what importing unmask, and loading a scanner, must not import (issue 18).

Each check runs in a fresh interpreter, so modules other tests imported do not count.
"""

import json
import subprocess
import sys

#: libraries no scan uses (the service, the store, the bench, provenance, training): never at start-up
NEVER_AT_STARTUP = ("sklearn", "matplotlib", "sqlalchemy", "alembic", "fastapi", "pydantic", "starlette", "uvicorn",
                    "jinja2", "c2pa", "skimage", "torch", "pkg_resources")
#: used by some scans, imported where they are used: not paid by ``import unmask`` or ``unmask.cli``
SCAN_LIBRARIES = ("scipy", "onnxruntime", "mediapipe", "dlib", "av", "cv2")
#: scipy submodules that take ~0.4-1 s each to import and that only some files need (a voice, several faces,
#: a warped still): loading the models must not pay them
LAZY_SCIPY = ("scipy.signal", "scipy.stats", "scipy.optimize", "scipy.spatial")


def _modules_after(code: str) -> set[str]:
    run = code + "\nimport json, sys\nprint(json.dumps(sorted(sys.modules)))"
    done = subprocess.run([sys.executable, "-c", run], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    return set(json.loads(done.stdout.strip().splitlines()[-1]))


def _loaded(modules: set[str], names: tuple[str, ...]) -> list[str]:
    return sorted(n for n in names if n in modules or any(m.startswith(n + ".") for m in modules))


def test_importing_unmask_and_its_cli_loads_no_heavy_library() -> None:
    modules = _modules_after("import unmask, unmask.cli")
    assert _loaded(modules, NEVER_AT_STARTUP + SCAN_LIBRARIES) == []


def test_loading_a_scanner_loads_only_what_a_scan_needs() -> None:
    modules = _modules_after("from unmask import Scanner\nScanner().load()")
    # matplotlib comes with mediapipe's own package __init__ (its drawing helpers), which a scan cannot skip
    # without leaving a broken `mediapipe` package behind for other code in the process
    unavoidable = ("matplotlib",)
    assert _loaded(modules, tuple(n for n in NEVER_AT_STARTUP if n not in unavoidable) + LAZY_SCIPY) == []
    assert {"mediapipe.python.solutions.face_detection", "dlib", "onnxruntime"} <= modules  # it did load the models
