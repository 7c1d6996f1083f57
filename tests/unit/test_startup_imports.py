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
    assert _loaded(modules, NEVER_AT_STARTUP + LAZY_SCIPY) == []
    assert {"mediapipe.python.solutions.face_detection", "dlib", "onnxruntime"} <= modules  # it did load the models


_DETECT = """
import json, sys
{prelude}
from unmask.faces.solutions import solution
from unmask.synth import face_frames
model = solution("face_detection").FaceDetection(model_selection=1, min_detection_confidence=0.5)
found = [[round(d.score[0], 6) for d in (model.process(f).detections or [])] for f in face_frames(3)]
print(json.dumps([found, "matplotlib" in sys.modules]))
"""


def _detections(prelude: str) -> tuple[list[list[float]], bool]:
    done = subprocess.run([sys.executable, "-c", _DETECT.format(prelude=prelude)], capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    found, matplotlib = json.loads(done.stdout.strip().splitlines()[-1])
    return found, matplotlib


def test_mediapipe_without_its_package_init_detects_as_with_it() -> None:
    """The face detector's graph keeps its options (non-max suppression: one box per face) without matplotlib."""
    lean_found, lean_matplotlib = _detections("")
    full_found, _ = _detections("import mediapipe")
    assert not lean_matplotlib
    assert lean_found == full_found
    assert [len(scores) for scores in lean_found] == [1, 1, 1]
