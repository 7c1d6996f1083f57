"""``unmask bench``: video-level accuracy, speed and memory on a labeled manifest.

Each file's report is written as soon as it is scanned (``DIR/reports/``), so
an interrupted bench resumes where it stopped. Metrics: ROC AUC, AP, EER and
the false/true-positive rates at the shipped ``likely_fake`` threshold, over
videos and animations (the headline) and separately over still images;
per-origin and per-analyzer AUCs; real-time factor and peak memory.
"""

from __future__ import annotations

import csv
import hashlib
import json
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from unmask.config import ScanConfig
from unmask.errors import ManifestError, UnmaskError
from unmask.metrics import roc_metrics
from unmask.pipeline import Scanner
from unmask.progress import ProgressBar
from unmask.report.model import Report
from unmask.report.rescore import rescore
from unmask.types import SCORED_LABELS, Label

SCORED = SCORED_LABELS
#: labels that call a file fake: the detectors' likely_fake, or the file's own valid credential declaring AI
POSITIVE = (Label.LIKELY_FAKE, Label.DECLARED_SYNTHETIC)
#: (video, temporary folder) -> a degraded copy of the video in that folder, scanned instead of it
Transform = Callable[[Path, Path], Path]


@dataclass(frozen=True)
class ManifestRow:
    path: Path
    label: str  # real | fake
    kind: str
    origin: str
    manipulation: str
    group: str  # person/source group for grouped cross-validation


def read_manifest(manifest: Path) -> list[ManifestRow]:
    """Labeled rows of a manifest (``path,label`` at least; ``unlabeled`` rows skipped)."""
    try:
        with manifest.open(newline="") as fh:
            rows = list(csv.DictReader(fh))
    except OSError as e:
        raise ManifestError(f"{manifest}: cannot read manifest ({e.strerror})") from None
    except csv.Error as e:
        raise ManifestError(f"{manifest}: not a CSV manifest ({e})") from None
    if not rows or not {"path", "label"} <= set(rows[0]):
        raise ManifestError(f"{manifest}: needs a header with at least the columns path,label")
    out = []
    for i, r in enumerate(rows, start=2):
        label = (r.get("label") or "").strip().lower()
        if label == "unlabeled":
            continue
        if label not in ("real", "fake"):
            raise ManifestError(f"{manifest}:{i}: label must be real, fake or unlabeled, got {label!r}")
        out.append(ManifestRow(
            path=(manifest.parent / r["path"]).resolve(),
            label=label,
            kind=(r.get("kind") or "video").strip() or "video",
            origin=(r.get("origin") or "").strip() or "unknown",
            manipulation=(r.get("manipulation") or "").strip() or ("none" if label == "real" else "unknown"),
            group=_group(r),
        ))
    return out


def _group(r: dict[str, str]) -> str:
    """Files from one source repository share people and processing: keep them in one CV fold."""
    repo = (r.get("source_repo") or "").strip()
    return repo or str(Path(r["path"]).parent)


def report_name(row: ManifestRow, transform_name: str | None = None) -> str:
    """Where a bench directory keeps a row's report (``reports/<name>``; unmask-train fit-fusion reads it back)."""
    suffix = f".{transform_name}" if transform_name else ""
    return hashlib.sha1(str(row.path).encode()).hexdigest()[:12] + "_" + row.path.stem[:40] + suffix + ".json"


def _rates(y: Sequence[int], s: Sequence[float], threshold: float) -> tuple[float | None, float | None]:
    ya, sa = np.asarray(y), np.asarray(s, dtype=float)
    real, fake = sa[ya == 0], sa[ya == 1]
    fpr = round(float(np.mean(real >= threshold)), 4) if len(real) else None
    tpr = round(float(np.mean(fake >= threshold)), 4) if len(fake) else None
    return fpr, tpr


def _metrics_block(records: list[dict[str, Any]], threshold: float) -> dict[str, Any]:
    scored = [r for r in records if r["verdict"] in SCORED]
    y = [1 if r["label"] == "fake" else 0 for r in scored]
    s = [r["score"] for r in scored]
    fpr, tpr = _rates(y, s, threshold)
    out: dict[str, Any] = {
        "n": len(records),
        "n_scored": len(scored),
        "n_real": sum(1 for r in records if r["label"] == "real"),
        "n_fake": sum(1 for r in records if r["label"] == "fake"),
        "n_no_face": sum(1 for r in records if r["verdict"] == Label.NO_FACE),
        "n_cannot_assess": sum(1 for r in records if r["verdict"] == Label.CANNOT_ASSESS),
        "n_declared_synthetic": sum(1 for r in records if r["verdict"] == Label.DECLARED_SYNTHETIC),
        "n_error": sum(1 for r in records if r["verdict"] == "error"),
        **roc_metrics(y, s),
        "fpr_at_threshold": fpr,
        "tpr_at_threshold": tpr,
        "labels": {
            lab: sum(1 for r in records if r["verdict"] == lab)
            for lab in (*SCORED, Label.NO_FACE, Label.CANNOT_ASSESS, Label.DECLARED_SYNTHETIC, "error")
        },
        "real_labelled_likely_fake": sorted(
            Path(r["path"]).name for r in records if r["label"] == "real" and r["verdict"] in POSITIVE
        ),
    }
    return out


def _analyzer_aucs(records: list[dict[str, Any]]) -> dict[str, Any]:
    """Each analyzer alone: AUC of its own score on the verdict's face (max over faces when none was chosen),
    on every file where it produced one — also files the fusion does not score (e.g. stills)."""
    names = sorted({k for r in records for k in r["analyzers"]})
    out = {}
    for name in names:
        rows = [(1 if r["label"] == "fake" else 0, r["analyzers"][name]) for r in records
                if r["analyzers"].get(name) is not None]
        m = roc_metrics([a for a, _ in rows], [b for _, b in rows])
        out[name] = {"n": len(rows), "auc": m["auc"]}
    return out


def _by_group(records: list[dict[str, Any]], key: str) -> dict[str, Any]:
    """Per origin/manipulation: n, mean score, and AUC of that group's fakes against all real files in ``records``."""
    out: dict[str, Any] = {}
    for value in sorted({r[key] for r in records}):
        grp = [r for r in records if r[key] == value]
        sc = [r["score"] for r in grp if r["verdict"] in SCORED]
        entry: dict[str, Any] = {
            "n": len(grp),
            "label": grp[0]["label"] if len({g["label"] for g in grp}) == 1 else "mixed",
            "n_scored": len(sc),
            "mean_score": round(float(np.mean(sc)), 4) if sc else None,
        }
        fakes = [r for r in grp if r["label"] == "fake" and r["verdict"] in SCORED]
        reals = [r for r in records if r["label"] == "real" and r["verdict"] in SCORED]
        if fakes and reals:
            entry["auc_vs_real"] = roc_metrics(
                [0] * len(reals) + [1] * len(fakes), [r["score"] for r in reals + fakes]
            )["auc"]
        out[value] = entry
    return out


#: resolution bands for the false-positive audit, by frame height (the shorter side of a portrait clip)
RESOLUTION_BANDS = (
    (0, 360, "below 360p"),
    (360, 720, "360p-719p"),
    (720, 1080, "720p-1079p"),
    (1080, 10**9, "1080p and up"),
)


def resolution_band(width: int | None, height: int | None) -> str:
    """The band of a frame size, by its shorter side (a portrait phone clip's width is its "p")."""
    if not width or not height:
        return "unknown"
    short = min(int(width), int(height))
    return next(name for lo, hi, name in RESOLUTION_BANDS if lo <= short < hi)


def _false_positives(records: list[dict[str, Any]]) -> dict[str, Any]:
    """Real files called ``likely_fake``, per origin and per resolution band: where false alarms concentrate."""
    reals = [r for r in records if r["label"] == "real" and r["verdict"] in SCORED]

    def table(key: str) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for value in sorted({r[key] for r in reals}):
            grp = [r for r in reals if r[key] == value]
            k = sum(1 for r in grp if r["verdict"] == Label.LIKELY_FAKE)
            out[value] = {"n": len(grp), "likely_fake": k, "rate": round(k / len(grp), 4)}
        return out

    return {"by_origin": table("origin"), "by_resolution": table("resolution")}


def _analyzer_by_manipulation(records: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Each analyzer alone, per kind of fake: AUC of its score on those fakes against every real file."""
    names = sorted({k for r in records for k in r["analyzers"]})
    out: dict[str, dict[str, Any]] = {}
    for name in names:
        reals = [r["analyzers"][name] for r in records if r["label"] == "real" and r["analyzers"].get(name) is not None]
        per: dict[str, Any] = {}
        for m in sorted({r["manipulation"] for r in records if r["label"] == "fake"}):
            fakes = [r["analyzers"][name] for r in records
                     if r["label"] == "fake" and r["manipulation"] == m and r["analyzers"].get(name) is not None]
            if fakes and reals:
                per[m] = {
                    "n": len(fakes),
                    "auc": roc_metrics([0] * len(reals) + [1] * len(fakes), reals + fakes)["auc"],
                }
        out[name] = per
    return out


def _record(row: ManifestRow, report: Report | None, error: str | None, wall: float) -> dict[str, Any]:
    rec: dict[str, Any] = {
        "path": str(row.path), "label": row.label, "kind": row.kind, "origin": row.origin,
        "manipulation": row.manipulation, "group": row.group, "wall_s": round(wall, 3),
        "verdict": "error", "score": None, "duration_s": 0.0, "frames_analyzed": 0, "analyzers": {}, "error": error,
        "resolution": "unknown",
    }
    if report is not None:
        v = report.verdict
        tid = v.track_id
        face_scores: dict[str, float | None] = {}
        for a in report.analyzers:
            ts = [t.score for t in a.tracks if tid is None or t.track_id == tid]
            face_scores[a.name] = max(ts) if ts and a.ok else None  # type: ignore[type-var]  # scores are numbers here
        rec.update(verdict=v.label.value, score=v.score, duration_s=report.input.duration_s,
                   frames_analyzed=report.sampling.frames_analyzed, analyzers=face_scores,
                   wall_s=report.timings["total_s"],
                   resolution=resolution_band(report.input.width, report.input.height))
    return rec


def _plot_roc(records: list[dict[str, Any]], path: Path, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from sklearn.metrics import roc_curve

    fig, ax = plt.subplots(figsize=(5, 5), dpi=100)
    for kinds, name in ((("video", "gif", "animation"), "videos"), (("image",), "images")):
        sel = [r for r in records if r["kind"] in kinds and r["verdict"] in SCORED]
        y = [1 if r["label"] == "fake" else 0 for r in sel]
        if len(set(y)) == 2:
            fpr, tpr, _ = roc_curve(y, [r["score"] for r in sel])
            auc = roc_metrics(y, [r["score"] for r in sel])["auc"]
            ax.plot(fpr, tpr, label=f"{name} (AUC {auc:.3f}, n={len(sel)})")
    ax.plot([0, 1], [0, 1], "k--", lw=0.8, label="chance")
    ax.set_xlabel("false-positive rate (real called fake)")
    ax.set_ylabel("true-positive rate (fake caught)")
    ax.set_title(title)
    ax.legend(loc="lower right", fontsize=8)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


#: what a long video's scan must stay within (issue 13): scan time over decode-only time, peak RSS
LONG_MAX_SCAN_TO_DECODE = 3.0
LONG_MAX_RSS_MB = 1500.0


def speed_check(seconds: float, size: tuple[int, int], config: ScanConfig, long: bool = False) -> dict[str, Any]:
    """Scan a synthetic 30 fps clip in a child process: wall time, decode-only time, real-time factor, peak RSS.

    ``long``: the clip is a few seconds of the portrait looped (``synth.write_long_clip``), cheap to
    make at any length, and the result says whether it met the long-video targets.
    """
    from unmask.synth import write_face_clip, write_long_clip

    with tempfile.TemporaryDirectory() as tmp:
        if long:
            clip = write_long_clip(Path(tmp) / "speed.mp4", seconds=seconds, fps=30.0, size=size, loop_s=4.0)
        else:
            clip = write_face_clip(Path(tmp) / "speed.mp4", seconds=seconds, fps=30.0, size=size)
        cmd = [sys.executable, "-m", "unmask.speedcheck", str(clip), "--config-json", json.dumps(config.to_dict())]
        res = subprocess.run(cmd, capture_output=True, text=True, timeout=3 * 3600)
    if res.returncode != 0:
        return {"error": (res.stderr.strip().splitlines() or ["failed"])[-1]}
    out: dict[str, Any] = json.loads(res.stdout.strip().splitlines()[-1])
    if long:
        out["meets_targets"] = {"scan_to_decode": out["scan_to_decode_ratio"] <= LONG_MAX_SCAN_TO_DECODE,
                                "peak_rss": out["peak_rss_mb"] < LONG_MAX_RSS_MB}
    return out


def report_identity(report: Mapping[str, Any]) -> dict[str, dict[str, str]]:
    """The analyzers' versions and weights a saved report was made with (see ``Scanner.identity``)."""
    return {"analyzers": {a["name"]: a["version"] for a in report.get("analyzers", []) if a.get("name") != "reference"},
            "weights": dict(report.get("model", {}).get("weights", {}))}


def run_bench(manifest: Path, out: Path, config: ScanConfig, limit: int | None = None, speed: bool = True,
              fresh: bool = False, quiet: bool = False, long_speed: bool = False,
              transform: Transform | None = None, transform_name: str | None = None) -> dict[str, Any]:
    """Scan every labeled row.

    ``transform`` (video path, temporary folder) -> path of a degraded copy: scan that copy instead of each
    video (stills are skipped); ``transform_name`` names it in report file names and ``summary.json``'s
    ``perturbation`` (unmask-train bench-perturbed passes its perturbations here). ``speed`` adds the
    synthetic 1080p speed check; ``long_speed`` (with it) a 10-minute 1080p and a one-hour 720p clip as
    well, which take minutes.
    """
    rows = read_manifest(manifest)[:limit]
    if transform is not None:
        rows = [r for r in rows if r.kind != "image"]
    if not rows:
        raise ManifestError(f"{manifest}: no labeled rows")
    out.mkdir(parents=True, exist_ok=True)
    (out / "reports").mkdir(exist_ok=True)
    scanner = Scanner(config)
    digest = config.digest()
    identity = scanner.identity()
    records: list[dict[str, Any]] = []
    n_scanned = 0
    t_bench = time.perf_counter()
    with ProgressBar(f"bench {len(rows)} files", disable=quiet) as bar:
        for i, row in enumerate(rows):
            bar.update(row.path.name, i / len(rows))
            rpath = out / "reports" / report_name(row, transform_name)
            report: Report | None = None
            error = None
            t0 = time.perf_counter()
            if rpath.exists() and not fresh:
                cached = json.loads(rpath.read_text())
                if cached.get("config_digest") == digest and report_identity(cached) == identity:
                    report = Report.from_dict(cached)
                    if report.model.fusion_sha256 != scanner.fusion.sha256:
                        report = rescore(report, scanner.fusion)  # same features, new fusion: no rescan
            if report is None:
                try:
                    n_scanned += 1
                    report = _scan(scanner, row.path, transform)
                    _write(rpath, json.dumps(report.data, indent=1))
                except UnmaskError as e:
                    error = str(e)
            records.append(_record(row, report, error, time.perf_counter() - t0))
    wall_total = time.perf_counter() - t_bench
    threshold = scanner.fusion.likely_fake
    videos = [r for r in records if r["kind"] != "image"]
    images = [r for r in records if r["kind"] == "image"]
    analysis_s = sum(r["wall_s"] for r in videos)
    video_s = sum(r["duration_s"] for r in videos)
    frames = sum(r["frames_analyzed"] for r in records)
    summary: dict[str, Any] = {
        "manifest": str(manifest.resolve()),
        "perturbation": transform_name,
        "config_digest": digest,
        "fusion_version": scanner.fusion.version,
        "thresholds": {"likely_real": scanner.fusion.likely_real, "likely_fake": threshold},
        **_metrics_block(videos, threshold),
        "images": _metrics_block(images, (scanner.fusion.for_kind("image") or scanner.fusion).likely_fake),
        # groups within each kind: video fakes against real videos, stills against real stills
        "by_origin": {"videos": _by_group(videos, "origin"), "images": _by_group(images, "origin")},
        "by_manipulation": {"videos": _by_group(videos, "manipulation"), "images": _by_group(images, "manipulation")},
        "analyzers": _analyzer_aucs(videos),
        "analyzers_images": _analyzer_aucs(images),
        "analyzers_by_manipulation": {"videos": _analyzer_by_manipulation(videos),
                                      "images": _analyzer_by_manipulation(images)},
        "false_positives": {"videos": _false_positives(videos), "images": _false_positives(images)},
        "frames_per_s": round(frames / max(sum(r["wall_s"] for r in records), 1e-9), 2),
        "real_time_factor": round(video_s / max(analysis_s, 1e-9), 3),
        "video_seconds": round(video_s, 1),
        "analysis_seconds": round(analysis_s, 1),
        "bench_wall_s": round(wall_total, 1),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "n_scanned_this_run": n_scanned,  # the rest reused saved reports (same config), so peak RSS covers these
    }
    if speed:
        summary["speed"] = {
            "1080p_10s": speed_check(10, (1920, 1080), config),
            "1080p_60s": speed_check(60, (1920, 1080), config),
        }
        if long_speed:
            summary["speed"]["1080p_10min"] = speed_check(600, (1920, 1080), config, long=True)
            summary["speed"]["720p_1h"] = speed_check(3600, (1280, 720), config, long=True)
    _write_scores(out / "scores.csv", records)
    _write(out / "summary.json", json.dumps(summary, indent=2))
    _plot_roc(records, out / "roc.png", f"unmask {summary['fusion_version']} on {manifest.parent.name}")
    return summary


def _scan(scanner: Scanner, path: Path, transform: Transform | None) -> Report:
    if transform is None:
        return scanner.scan(path)
    with tempfile.TemporaryDirectory() as tmp:
        return scanner.scan(transform(path, Path(tmp)))


def _write(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text)
    tmp.replace(path)


def _write_scores(path: Path, records: Iterable[dict[str, Any]]) -> None:
    records = list(records)
    names = sorted({k for r in records for k in r["analyzers"]})
    cols = ["path", "label", "kind", "origin", "manipulation", "group", "resolution", "verdict", "score", "duration_s",
            "wall_s", "frames_analyzed", "error"]
    tmp = path.with_name(f".{path.name}.tmp")
    with tmp.open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(cols + [f"{n}_score" for n in names])
        for r in records:
            w.writerow([r[c] if r[c] is not None else "" for c in cols] +
                       ["" if r["analyzers"].get(n) is None else r["analyzers"][n] for n in names])
    tmp.replace(path)


def false_positive_lines(fp: dict[str, Any]) -> list[str]:
    """The real videos called likely_fake, per origin and per resolution band, as console lines."""
    out = []
    for key, title in (("by_resolution", "resolution"), ("by_origin", "origin")):
        rows = fp.get(key) or {}
        if rows:
            out.append(f"real videos at likely_fake by {title}:")
            width = max(len(k) for k in rows)
            out += [f"  {k:<{width}}  {v['likely_fake']:>3} of {v['n']:<3} ({100 * v['rate']:.0f} %)"
                    for k, v in rows.items()]
    return out


def summary_lines(summary: Mapping[str, Any], out: Path) -> list[str]:
    """What ``unmask bench`` (and training's ``bench-perturbed``) prints: the headline metrics, the real videos
    at ``likely_fake`` by group, and where the files went."""
    keys = ("n", "n_scored", "auc", "ap", "eer", "fpr_at_threshold", "tpr_at_threshold", "real_time_factor",
            "peak_rss_mb")
    lines = [json.dumps({k: summary.get(k) for k in keys}, indent=2)]
    lines += false_positive_lines(summary.get("false_positives", {}).get("videos", {}))
    lines.append(f"wrote {out / 'summary.json'} and {out / 'roc.png'}")
    return lines
