"""Load test of `unmask serve`: N concurrent uploads of one clip, status calls timed while the scans run.

    nice -n 10 .venv/bin/python benchmarks/service_load.py --uploads 20 --seconds 10 --out bench-service/load.json

Starts a real server (real scanner, process workers) on loopback in a temporary data
directory, uploads the clip N times at once, then polls every scan's status (the call a
client or the web page makes) about 10 times a second until all are finished, and reports
latency percentiles, the scans' outcome and the wall time. Traffic stays on 127.0.0.1.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx2 as httpx

from unmask import __version__


def pct(xs: list[float], q: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, max(0, int(round(q / 100 * (len(xs) - 1)))))] if xs else float("nan")


def summary(ms: list[float]) -> dict[str, float]:
    return {"n": len(ms), "p50_ms": round(pct(ms, 50), 1), "p95_ms": round(pct(ms, 95), 1),
            "p99_ms": round(pct(ms, 99), 1), "max_ms": round(max(ms), 1) if ms else float("nan"),
            "mean_ms": round(statistics.fmean(ms), 1) if ms else float("nan")}


def start_server(data: Path, workers: int) -> tuple[subprocess.Popen, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("UNMASK_API_TOKENS", "UNMASK_DATABASE_URL")}
    proc = subprocess.Popen([sys.executable, "-m", "unmask.cli", "serve", "--port", "0", "--workers", str(workers),
                             "--data-dir", str(data)], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env)
    line = proc.stdout.readline().strip()  # type: ignore[union-attr]
    if not line.startswith("unmask: serving on "):
        raise SystemExit(f"server did not start: {line!r}")
    url = line.split()[3]
    for _ in range(300):
        try:
            if httpx.get(f"{url}/healthz", timeout=2).json()["workers_alive"] >= workers:
                return proc, url
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise SystemExit("server never became healthy")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--uploads", type=int, default=20)
    ap.add_argument("--seconds", type=float, default=10.0, help="clip length")
    ap.add_argument("--workers", type=int, default=1)
    ap.add_argument("--poll-hz", type=float, default=10.0, help="status calls per second during the run")
    ap.add_argument("--timeout", type=float, default=1800.0)
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args(argv)

    from unmask.synth import write_face_clip

    with tempfile.TemporaryDirectory(prefix="unmask-load-") as tmp:
        clip = write_face_clip(Path(tmp) / "clip.mp4", seconds=args.seconds)
        proc, url = start_server(Path(tmp) / "data", args.workers)
        try:
            return run(args, url, clip)
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.wait(60)


def run(args: argparse.Namespace, url: str, clip: Path) -> int:
    body = clip.read_bytes()
    client = httpx.Client(base_url=url, timeout=60)

    def upload(i: int) -> tuple[str, float]:
        t0 = time.perf_counter()
        r = client.post("/v1/scans", files={"file": (f"clip-{i:02d}.mp4", body, "video/mp4")})
        r.raise_for_status()
        return str(r.json()["id"]), 1000 * (time.perf_counter() - t0)

    t_start = time.perf_counter()
    with ThreadPoolExecutor(args.uploads) as ex:
        results = list(ex.map(upload, range(args.uploads)))
    t_uploaded = time.perf_counter()
    ids = [r[0] for r in results]

    status_ms: list[float] = []
    status_running_ms: list[float] = []  # only calls made while a scan was running
    list_ms: list[float] = []
    final: dict[str, dict] = {}
    stop = threading.Event()
    period = 1.0 / args.poll_hz
    i = 0
    while len(final) < len(ids):
        if time.perf_counter() - t_start > args.timeout:
            break
        sid = [s for s in ids if s not in final][i % max(1, len(ids) - len(final))]
        i += 1
        t0 = time.perf_counter()
        r = client.get(f"/v1/scans/{sid}", params={"report": "false"})
        dt = 1000 * (time.perf_counter() - t0)
        r.raise_for_status()
        s = r.json()
        status_ms.append(dt)
        if i % 10 == 0:
            t0 = time.perf_counter()
            page = client.get("/v1/scans", params={"limit": 50})
            list_ms.append(1000 * (time.perf_counter() - t0))
            running = any(x["status"] == "running" for x in page.json()["items"])
        else:
            running = True
        if running:
            status_running_ms.append(dt)
        if s["status"] in ("done", "failed"):
            final[sid] = s
        time.sleep(max(0.0, period - dt / 1000))
    stop.set()
    t_end = time.perf_counter()

    full_ms = []
    for sid in ids[:20]:
        t0 = time.perf_counter()
        client.get(f"/v1/scans/{sid}")  # with the JSON report
        full_ms.append(1000 * (time.perf_counter() - t0))
    html_bytes = len(client.get(f"/v1/scans/{ids[0]}/report.html").content)

    outcome = {st: sum(1 for s in final.values() if s["status"] == st) for st in ("done", "failed")}
    scan_s = [(_t(s["finished_at"]) - _t(s["started_at"])) for s in final.values() if s["started_at"] and s["finished_at"]]
    result = {
        "unmask_version": __version__, "machine": f"{platform.machine()}, {os.cpu_count()} cores",
        "uploads": args.uploads, "clip_seconds": args.seconds, "clip_bytes": len(body), "workers": args.workers,
        "completed": outcome.get("done", 0), "failed": outcome.get("failed", 0),
        "lost": len(ids) - len(final), "errors": sorted({s["error"] for s in final.values() if s["error"]}),
        "upload_latency": summary([r[1] for r in results]),
        "status_latency": summary(status_ms),
        "status_latency_while_running": summary(status_running_ms),
        "list_latency": summary(list_ms),
        "status_with_report_latency": summary(full_ms),
        "uploads_wall_s": round(t_uploaded - t_start, 2),
        "total_wall_s": round(t_end - t_start, 1),
        "scan_s_median": round(statistics.median(scan_s), 2) if scan_s else None,
        "scans_per_minute": round(60 * len(final) / (t_end - t_start), 2),
        "report_html_bytes": html_bytes,
    }
    text = json.dumps(result, indent=2)
    print(text)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text + "\n")
    return 0 if result["completed"] == args.uploads else 1


def _t(iso: str) -> float:
    from datetime import datetime

    return datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp()


if __name__ == "__main__":
    sys.exit(main())
