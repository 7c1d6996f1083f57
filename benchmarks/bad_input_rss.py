"""Peak memory of `unmask scan` on every case of the bad-input corpus, each in its own process (issue 13, section 3).

    python benchmarks/bad_input_rss.py [--only NAME ...] [--keep DIR] [--timeout S]      (make bench-bad-inputs)

The corpus is ``tests/bad_input_corpus.py``, the one ``tests/unit/test_bad_inputs.py`` asserts exit codes
and messages on. A helper process generates it in a scratch directory; then each case runs as
``python -m unmask.cli scan CASE --json OUT -q`` in a child of this process, and ``os.wait4`` gives that
child's own peak RSS (``ru_maxrss``). This process imports nothing heavy (no numpy, no unmask), because
Linux folds the parent's high-water mark into a vforked child's at exec: ours is printed as the floor.

Prints one row per case (exit code, first line of the answer, peak RSS, its ceiling, wall seconds) and
exits 1 when a case goes over its ceiling, ends with another exit code than the corpus says, or runs
past the timeout. Wall times include interpreter start and model loading; they are not speed numbers.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

# Peak RSS ceilings in MB, set from the first run (2026-12-07, 2-core development machine, docs/fuzzing.md)
# with about 50 % headroom: a file probe refuses peaks at 130-170 MB (the CLI says no before loading any
# model); a scan peaks at 350-460 MB (the detectors loaded, small frames); 8K exactly at ~490 MB (two
# 7680x4320 frames, downscaled to 1280x720 as they are decoded). The two bombs behind a small first frame
# are refused while decoding, after the models load (~360 MB): their 550 MB ceiling is well under what
# one decoded 16000x16000 frame alone would add (0.77 GB as RGB), so a bomb that got decoded fails here.
REFUSED_MB = 250  # exit 1: refused by probe, before anything is decoded or loaded
SCANNED_MB = 700  # exit 0: the detectors load and the clip is read
CEILING_MB = {
    "video-8k-exactly": 750,
    "png-bomb-mkv-after-a-small-frame": 550,
    "png-bomb-mov-after-a-small-frame": 550,
}


def ceiling_mb(name: str, code: int) -> int:
    return CEILING_MB.get(name, SCANNED_MB if code == 0 else REFUSED_MB)


def make_corpus(out: Path, only: list[str]) -> None:
    """(helper process) Generate every case under ``out`` and write ``out/manifest.json``."""
    sys.path.insert(0, str(ROOT / "tests"))
    from bad_input_corpus import CORPUS, NOT_AS_ROOT  # noqa: PLC0415  (heavy: numpy, unmask.synth)

    root = hasattr(os, "geteuid") and os.geteuid() == 0
    rows = []
    for name, make, code, pattern in CORPUS:
        if only and name not in only:
            continue
        if root and name in NOT_AS_ROOT:
            rows.append({"name": name, "skip": "root reads files whatever their mode"})
            continue
        tmp = out / name
        tmp.mkdir(parents=True)
        rows.append({"name": name, "path": str(make(tmp)), "code": code, "pattern": pattern})
    (out / "manifest.json").write_text(json.dumps(rows))


def run_case(path: str, report: Path, timeout: float) -> dict:
    """One `unmask scan` in a child process: its exit code, output, wall time and own peak RSS."""
    cmd = [sys.executable, "-m", "unmask.cli", "scan", path, "--json", str(report), "-q"]
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        t = time.perf_counter()
        child = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=out, stderr=err)
        timed_out = False
        while True:
            pid, status, usage = os.wait4(child.pid, os.WNOHANG)
            if pid:
                break
            if time.perf_counter() - t > timeout:
                os.kill(child.pid, signal.SIGKILL)
                timed_out = True
                _, status, usage = os.wait4(child.pid, 0)
                break
            time.sleep(0.05)
        wall = time.perf_counter() - t
        child.returncode = os.waitstatus_to_exitcode(status)  # reaped here, not by Popen
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read().decode(errors="replace"), err.read().decode(errors="replace")
    return {"code": child.returncode, "stdout": stdout, "stderr": stderr, "wall_s": wall,
            "peak_mb": usage.ru_maxrss / 1024, "timed_out": timed_out}  # ru_maxrss is in KB on Linux


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--only", nargs="+", default=[], metavar="NAME", help="these cases only")
    ap.add_argument("--keep", type=Path, help="generate the corpus here and keep it (default: a temporary directory)")
    ap.add_argument("--timeout", type=float, default=300.0, help="seconds one case may run (default 300)")
    ap.add_argument("--make", type=Path, help=argparse.SUPPRESS)  # the helper process's mode
    args = ap.parse_args(argv)
    if args.make:
        make_corpus(args.make, args.only)
        return 0

    with tempfile.TemporaryDirectory(prefix="unmask-bad-inputs-") as scratch:
        work = args.keep or Path(scratch)
        corpus = work / "corpus"
        subprocess.run([sys.executable, __file__, "--make", str(corpus), *(["--only", *args.only] if args.only else [])],
                       check=True)
        rows = json.loads((corpus / "manifest.json").read_text())
        floor_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(f"{len(rows)} cases; this process's own peak RSS (the floor of every reading): {floor_mb:.0f} MB\n")
        print("| case | exit | answer | peak RSS MB | ceiling MB | wall s | |")
        print("|---|---|---|---:|---:|---:|---|")
        failures = []
        for i, row in enumerate(rows):
            name = row["name"]
            if "skip" in row:
                print(f"| {name} | — | skipped: {row['skip']} | | | | |")
                continue
            r = run_case(row["path"], work / "reports" / f"{i:02d}.json", args.timeout)
            limit = ceiling_mb(name, row["code"])
            answer_text = r["stdout"] if r["code"] == 0 else r["stderr"]
            answer = next((ln.strip() for ln in answer_text.splitlines() if ln.strip()), "").removeprefix("unmask: error: ")
            problems = []
            if r["timed_out"]:
                problems.append(f"killed after {args.timeout:.0f} s")
            if r["peak_mb"] > limit:
                problems.append(f"over its {limit} MB ceiling")
            if r["code"] != row["code"]:
                problems.append(f"exit {r['code']}, the corpus says {row['code']}")
            elif not re.search(row["pattern"], answer_text):
                problems.append("answer does not match the corpus's pattern")
            if "Traceback" in r["stdout"] + r["stderr"]:
                problems.append("traceback")
            failures += [f"{name}: {p}" for p in problems]
            shown = answer.replace(row["path"], "CASE").replace(str(corpus), "…").replace("|", "\\|")
            shown = shown if len(shown) <= 70 else shown[:67] + "..."
            print(f"| {name} | {r['code']} | {shown} | {r['peak_mb']:.0f} | {limit} | {r['wall_s']:.1f} | "
                  f"{'FAIL' if problems else 'ok'} |", flush=True)
        measured = [ln for ln in rows if "skip" not in ln]
        print(f"\n{len(measured)} cases run, {len(failures)} problem(s)")
        for f in failures:
            print("  " + f)
        return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
