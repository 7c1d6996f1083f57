"""Build the wheel, install it into fresh venvs, and scan a synthetic clip with each (`make wheel-check`).

What a user gets from `pip install unmask` is the wheel, not this checkout: a module left out of the
package data, a dependency missing from [project], or a pin that does not install on a supported Python
shows up only there. For each supported Python found on this machine (3.11, 3.12: on the path, or under
pyenv), a new venv gets the wheel and nothing else; it writes a clip with ``unmask.synth`` and runs
``unmask scan`` on it, which must exit 0, print the verdict line and judge the face (not ``no_face`` or
``cannot_assess``: the face stages and model files ran from the installed package). A supported Python
that is absent is reported and skipped; none at all is a failure. Run from anywhere; uses a temporary
directory.

    python .ci/wheel_check.py [--keep DIR]
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
SUPPORTED = ("3.11", "3.12")  # keep in step with requires-python in pyproject.toml
CLIP = """
import sys
from unmask.synth import write_face_clip
write_face_clip(sys.argv[1], seconds=3.0)  # 640x480: a face large enough for every analyzer
"""


def find_python(version: str) -> str | None:
    """An interpreter for ``version``: ``pythonX.Y`` on the path, else the newest pyenv build of it."""
    found = shutil.which(f"python{version}")
    candidates = [found] if found else []
    pyenv = Path(os.environ.get("PYENV_ROOT", "/root/.pyenv")) / "versions"
    candidates += sorted(glob.glob(str(pyenv / f"{version}.*" / "bin" / "python")), reverse=True)
    for c in candidates:
        try:
            out = subprocess.run([c, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
                                 capture_output=True, text=True, timeout=30, check=False).stdout.strip()
        except (OSError, subprocess.TimeoutExpired):
            continue
        if out == version:  # a pyenv shim can exist for a version that is not installed
            return c
    return None


def run(cmd: list[str], **kw: Any) -> subprocess.CompletedProcess[str]:
    print("+", " ".join(cmd), flush=True)
    return subprocess.run(cmd, text=True, check=True, **kw)


def build_wheel(work: Path) -> Path:
    """``python -m build`` (sdist, then the wheel from the sdist) in a tool venv of its own."""
    tools = work / "tools"
    run([sys.executable, "-m", "venv", str(tools)])
    run([str(tools / "bin" / "pip"), "install", "-q", "build"])
    run([str(tools / "bin" / "python"), "-m", "build", "--outdir", str(work / "dist"), str(ROOT)],
        stdout=subprocess.DEVNULL)
    wheels = sorted((work / "dist").glob("unmask-*.whl"))
    if len(wheels) != 1:
        raise SystemExit(f"wheel-check: expected one wheel, found {[w.name for w in wheels]}")
    return wheels[0]


def check_python(python: str, version: str, wheel: Path, work: Path) -> float:
    """Install ``wheel`` into a fresh venv of ``python`` and scan a synthetic clip; returns the seconds taken."""
    t0 = time.perf_counter()
    venv = work / f"venv{version}"
    run([python, "-m", "venv", str(venv)])
    bin_ = venv / "bin"
    run([str(bin_ / "pip"), "install", "-q", str(wheel)])
    clip = work / f"clip{version}.mp4"
    env = {**os.environ, "PYTHONPATH": ""}  # the installed wheel, never this checkout
    run([str(bin_ / "python"), "-c", CLIP, str(clip)], env=env, cwd=str(work))
    report = work / f"clip{version}.json"
    scan = subprocess.run([str(bin_ / "unmask"), "scan", str(clip), "--json", str(report)],
                          capture_output=True, text=True, env=env, cwd=str(work), timeout=600, check=False)
    print(scan.stdout, end="")
    if scan.returncode != 0:
        print(scan.stderr, file=sys.stderr)
        raise SystemExit(f"wheel-check: `unmask scan` under Python {version} exited {scan.returncode}")
    first = scan.stdout.splitlines()[0] if scan.stdout.strip() else ""
    if not first.startswith(f"{clip.name}: "):
        raise SystemExit(f"wheel-check: no verdict line under Python {version}: {first!r}")
    label = json.loads(report.read_text())["verdict"]["label"]
    if label in ("no_face", "cannot_assess") or not isinstance(label, str) or not label:
        # the clip's face is plain to see: a face stage or model missing from the wheel shows up here
        raise SystemExit(f"wheel-check: under Python {version} the synthetic face was not judged ({label!r})")
    return time.perf_counter() - t0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--keep", type=Path, help="work here and keep it (default: a temporary directory, removed)")
    args = ap.parse_args(argv)
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="unmask-wheel-") as tmp:
        work = args.keep.resolve() if args.keep else Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        wheel = build_wheel(work)
        print(f"wheel-check: built {wheel.name} in {time.perf_counter() - t0:.0f} s", flush=True)
        checked = []
        for version in SUPPORTED:
            python = find_python(version)
            if python is None:
                print(f"wheel-check: no Python {version} on this machine; skipped")
                continue
            took = check_python(python, version, wheel, work)
            checked.append(version)
            print(f"wheel-check: Python {version} ({python}): installed and scanned in {took:.0f} s", flush=True)
    if not checked:
        print("wheel-check: no supported Python found", file=sys.stderr)
        return 1
    print(f"wheel-check: ok on Python {', '.join(checked)} in {time.perf_counter() - t0:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
