"""Speed and memory of one scan, measured in a process of its own.

Run by ``unmask bench`` (``python -m unmask.speedcheck CLIP``) on a clip it
synthesised beforehand, so the peak RSS is the scan's alone. Prints one JSON
line: scan wall seconds, decode-only seconds, real-time factor, the
scan/decode ratio and this process's peak RSS.
"""

from __future__ import annotations

import argparse
import json
import resource
import time
from pathlib import Path


def peak_rss_mb() -> float:
    """This process's peak RSS since it started *this program*.

    ``ru_maxrss`` survives ``exec``: a child forked from a large parent (``unmask bench`` after a
    full rescan holds 1.2 GB) reports the parent's peak. The kernel's per-image high-water mark
    (``VmHWM``) starts afresh at ``exec``; use it where there is one.
    """
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        pass
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("clip", type=Path)
    p.add_argument("--config-json", default="{}")
    a = p.parse_args()
    t0 = time.perf_counter()
    from unmask.config import ScanConfig  # start-up = these imports + loading the models, timed apart
    from unmask.media.decode import decode_only_seconds
    from unmask.pipeline import Scanner

    import_s = time.perf_counter() - t0
    config = ScanConfig.from_dict(json.loads(a.config_json))
    scanner = Scanner(config)
    t0 = time.perf_counter()
    scanner.load()  # model start-up is paid once per process, not per clip: timed apart
    load_s = time.perf_counter() - t0
    decode_s = decode_only_seconds(a.clip)
    t1 = time.perf_counter()
    report = scanner.scan(a.clip)
    scan_s = time.perf_counter() - t1
    info, sampling = report.input, report.sampling
    duration = info.duration_s or 0.0  # a synthetic clip always has one
    print(json.dumps({
        "clip": f"{info.width}x{info.height} {duration:g} s {info.fps or 0.0:g} fps (synthetic)",
        "import_s": round(import_s, 2),
        "model_load_s": round(load_s, 2),
        "startup_s": round(import_s + load_s, 2),
        "scan_s": round(scan_s, 2),
        "decode_only_s": round(decode_s, 2),
        "scan_to_decode_ratio": round(scan_s / max(decode_s, 1e-9), 2),
        "real_time_factor": round(duration / scan_s, 2),
        "frames_analyzed": sampling.frames_analyzed,
        "segments": sampling.segments,
        "examined_s": sampling.examined_s,
        "coverage": sampling.coverage,
        "faces": len(report.faces),
        "persons": len(report.persons),
        "verdict": report.label,
        "peak_rss_mb": peak_rss_mb(),
        "timings": dict(report.timings),
    }))


if __name__ == "__main__":
    main()
