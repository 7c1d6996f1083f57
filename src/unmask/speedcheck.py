"""Speed and memory of one scan on a synthetic clip, measured in its own process.

Run by ``unmask bench`` (``python -m unmask.speedcheck --seconds 10 --size 1920x1080``);
prints one JSON line: clip seconds, scan wall seconds, decode-only seconds,
real-time factor, the scan/decode ratio and this process's peak RSS.
"""

from __future__ import annotations

import argparse
import json
import resource
import tempfile
import time
from pathlib import Path

from unmask.config import ScanConfig
from unmask.media.decode import decode_only_seconds
from unmask.pipeline import Scanner
from unmask.synth import write_face_clip


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--seconds", type=float, default=10.0)
    p.add_argument("--size", default="1920x1080")
    p.add_argument("--config-json", default="{}")
    a = p.parse_args()
    w, h = (int(x) for x in a.size.split("x"))
    config = ScanConfig.from_dict(json.loads(a.config_json))
    with tempfile.TemporaryDirectory() as tmp:
        clip = write_face_clip(Path(tmp) / "speed.mp4", seconds=a.seconds, fps=30.0, size=(w, h))
        scanner = Scanner(config)
        scanner._load()  # model start-up is paid once per process, not per clip: time it apart
        decode_s = decode_only_seconds(clip)
        t1 = time.perf_counter()
        report = scanner.scan(clip)
        scan_s = time.perf_counter() - t1
    print(json.dumps({
        "clip": f"{w}x{h} {a.seconds:g} s 30 fps (synthetic)",
        "scan_s": round(scan_s, 2),
        "decode_only_s": round(decode_s, 2),
        "scan_to_decode_ratio": round(scan_s / max(decode_s, 1e-9), 2),
        "real_time_factor": round(a.seconds / scan_s, 2),
        "frames_analyzed": report.data["sampling"]["frames_analyzed"],
        "verdict": report.label,
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "timings": report.data["timings"],
    }))


if __name__ == "__main__":
    main()
