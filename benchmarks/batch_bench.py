"""``make bench-batch``: throughput of ``unmask batch`` with 1 and 2 local workers and on Ray, and driver memory.

    python benchmarks/batch_bench.py MANIFEST --out DIR [--files 8] [--max-seconds 8] [--entries 100000]
                                     [--skip throughput|ray|memory ...]

Throughput: ``--files`` videos of the manifest no longer than ``--max-seconds``, evenly spaced
in path order (so several origins and sizes), read by path, scanned with the shipped models by ``unmask batch`` into a fresh
folder each time: 1 local worker (all cores; and again held to one compute thread, like each of
the two that follow, which measures the pool's own scaling), 2 local workers (one compute thread each, the default; and again with
the libraries' own thread counts, ``--worker-threads 0``), and 2 actors on a private Ray (``--ray=local``).
Wall time is the command's own, model loading included; the ratios are what the numbers are for.
The smallest of the files is also batched alone, locally and on Ray: the difference is Ray's
start-up, and the rest of the wall time gives the overhead per file past start-up.

Driver memory: ``--entries`` paths (symbolic links, each its own name) to one tiny synthetic
clip, in one list file, batched with 1 local worker: the driver hashes every entry, plans,
scans the one distinct content once and writes one index row per entry (each fsynced), then
Parquet. Its peak resident memory (``ru_maxrss`` of the driver process only) is reported.

Results go to ``DIR/bench-batch.json`` and are printed; docs/scale-out.md quotes them.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

# runs the CLI in this process, then prints the driver's own peak RSS (children are not counted)
_DRIVER = ("import resource, sys; from unmask.cli import main; code = main(sys.argv[1:]); "
           "print('DRIVER_MAXRSS_KB', resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, file=sys.stderr); "
           "c = resource.getrusage(resource.RUSAGE_CHILDREN); print('WORKERS_CPU_S', c.ru_utime + c.ru_stime, file=sys.stderr); "
           "sys.exit(code)")


def run_cli(args: list[str]) -> dict[str, float]:
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, "-c", _DRIVER, *args], capture_output=True, text=True)
    wall = time.perf_counter() - t0
    if proc.returncode not in (0, 1):
        raise SystemExit(f"unmask {' '.join(args)} failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    rss = next((int(ln.split()[1]) for ln in proc.stderr.splitlines() if ln.startswith("DRIVER_MAXRSS_KB")), 0)
    cpu = next((float(ln.split()[1]) for ln in proc.stderr.splitlines() if ln.startswith("WORKERS_CPU_S")), 0.0)
    # CPU seconds of the local worker processes (Ray's actors are not the driver's children: 0 there)
    return {"wall_s": round(wall, 2), "driver_max_rss_mb": round(rss / 1024, 1), "workers_cpu_s": round(cpu, 1)}


def pick(manifest: Path, n: int, max_s: float) -> list[Path]:
    with manifest.open(newline="") as f:
        rows = [r for r in csv.DictReader(f) if r.get("kind") == "video" and float(r.get("duration_s") or 1e9) <= max_s]
    rows.sort(key=lambda r: r["path"])
    rows = rows[::max(1, len(rows) // n)][:n]  # spread over the manifest's origins, not the first folder's
    return [(manifest.parent / r["path"]).resolve() for r in rows]


def throughput(files: list[Path], out: Path, skip: set[str]) -> dict[str, object]:
    listing = out / "files.txt"
    listing.write_text("".join(f"{p}\n" for p in files))
    smallest = out / "smallest.txt"  # one file: what starting the back-end and loading the models costs
    smallest.write_text(f"{min(files, key=lambda p: p.stat().st_size)}\n")
    runs: dict[str, object] = {}
    plans = [("local-1", listing, ["--workers", "1"]),
             # one worker held to one compute thread, as each of the two below: scaling at equal workers
             ("local-1-one-thread", listing, ["--workers", "1", "--worker-threads", "1"]),
             ("local-2", listing, ["--workers", "2"]),
             ("local-2-library-threads", listing, ["--workers", "2", "--worker-threads", "0"])]
    if "ray" not in skip:
        plans += [("ray-local-2", listing, ["--workers", "2", "--ray=local"]),
                  ("local-2-one-file", smallest, ["--workers", "2"]),
                  ("ray-local-2-one-file", smallest, ["--workers", "2", "--ray=local"])]
    for name, what, extra in plans:
        dest = out / name
        shutil.rmtree(dest, ignore_errors=True)
        load = os.getloadavg()[0]
        got = run_cli(["batch", str(what), "--out", str(dest), "-q", *extra])
        got["load_1min_before_after"] = [round(load, 2), round(os.getloadavg()[0], 2)]  # others' jobs show here
        summary = json.loads((dest / "summary.json").read_text())
        got.update(files=summary["files"], scanned=summary["scanned"], errors=summary["errors"],
                   files_per_s=round(summary["scanned"] / got["wall_s"], 4))
        runs[name] = got
        print(name, got, flush=True)
    def results(name: str) -> list[tuple[object, ...]]:
        from unmask.batch import ResultIndex

        rows = ResultIndex(out / name / "index.jsonl").rows()
        return sorted((r["path"], r["status"], r["verdict"], r["score"], sorted((r["analyzers"] or {}).items(),
                       key=lambda kv: kv[0])) for r in rows)

    same = {name: results(name) == results("local-1") for name in runs if not name.endswith("one-file")}
    print("same verdicts, scores and analyzer scores as local-1:", same, flush=True)
    one, two = runs["local-1"], runs["local-2"]
    result: dict[str, object] = {"files": [str(p) for p in files], "runs": runs,
                                 "speedup_2_workers": round(one["wall_s"] / two["wall_s"], 3),  # type: ignore[index]
                                 # the same worker (one compute thread) once and twice: the pool's own scaling
                                 "speedup_2_workers_equal_threads": round(
                                     runs["local-1-one-thread"]["wall_s"] / two["wall_s"], 3),  # type: ignore[index]
                                 "identical_results": same}
    if "ray-local-2" in runs:
        ray2, l1f, r1f = runs["ray-local-2"], runs["local-2-one-file"], runs["ray-local-2-one-file"]
        result["ray_overhead"] = round(ray2["wall_s"] / two["wall_s"] - 1, 3)  # type: ignore[index]
        # past start-up: the wall time beyond a one-file batch's, Ray against local
        result["ray_overhead_after_startup"] = round(
            (ray2["wall_s"] - r1f["wall_s"]) / (two["wall_s"] - l1f["wall_s"]) - 1, 3)  # type: ignore[index]
        result["ray_startup_extra_s"] = round(r1f["wall_s"] - l1f["wall_s"], 2)  # type: ignore[index]
    return result


def memory(out: Path, entries: int) -> dict[str, object]:
    from unmask.synth import face_frames, write_video

    work = out / "memory"
    shutil.rmtree(work, ignore_errors=True)
    links = work / "links"
    links.mkdir(parents=True)
    clip = write_video(work / "tiny.mp4", face_frames(5, size=(64, 48)), fps=5)
    t0 = time.perf_counter()
    names = []
    for i in range(entries):
        name = links / f"e{i:07d}.mp4"
        os.symlink(clip, name)
        names.append(f"{name}\n")
    listing = work / "entries.txt"
    listing.write_text("".join(names))
    made = time.perf_counter() - t0
    got = run_cli(["batch", str(listing), "--out", str(work / "out"), "--workers", "1", "-q"])
    got.update(entries=entries, setup_s=round(made, 1),
               index_mb=round((work / "out" / "index.jsonl").stat().st_size / 2**20, 1))
    print("memory", got, flush=True)
    shutil.rmtree(links, ignore_errors=True)
    return got


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("manifest", type=Path)
    ap.add_argument("--out", type=Path, default=Path("bench-batch"))
    ap.add_argument("--files", type=int, default=8)
    ap.add_argument("--max-seconds", type=float, default=8.0)
    ap.add_argument("--entries", type=int, default=100_000)
    ap.add_argument("--skip", action="append", default=[], choices=["throughput", "ray", "memory"])
    args = ap.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    skip = set(args.skip)
    result: dict[str, object] = {"uptime_before": os.getloadavg(), "cpus": len(os.sched_getaffinity(0))}
    if "throughput" not in skip:
        result["throughput"] = throughput(pick(args.manifest, args.files, args.max_seconds), args.out, skip)
    if "memory" not in skip:
        result["memory"] = memory(args.out, args.entries)
    result["uptime_after"] = os.getloadavg()
    (args.out / "bench-batch.json").write_text(json.dumps(result, indent=2) + "\n")
    headline = {k: v for k, v in result.items() if k != "throughput"}
    if "throughput" in result:
        got: dict[str, object] = result["throughput"]  # type: ignore[assignment]
        headline |= {k: v for k, v in got.items() if k.startswith(("speedup_", "ray_"))}
    print(json.dumps(headline, indent=2))


if __name__ == "__main__":
    main()
