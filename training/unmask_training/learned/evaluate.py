"""Video-level evaluation of a trained detector on cached development faces: one *look* at the labeled fakes.

Scores every face of a real and a fake face cache with the exported ONNX
model, aggregates per source file the way the ``blend_cnn`` analyzer does
(mean of the most suspicious quarter), and reports ROC AUC of the fake files
against the *held-out* real files only: real files whose group was in
training were shown to the network as "real" and would flatter it.

Every run of this is a look at the labeled fakes, which are a test set: each
one is appended to ``--looks`` (a CSV) with its numbers, whatever they are.

    python -m unmask_training.learned.evaluate RUN_DIR \\
        --real cache/views-shared-real.npz --fake cache/views-shared-fake.npz
"""

from __future__ import annotations

import argparse
import csv
import datetime as _dt
import json
from pathlib import Path
from typing import Any

import numpy as np

from unmask.learned.runtime import BlendModel, top_mean
from unmask.metrics import roc_metrics
from unmask_training.learned.dataset import FaceSet


def per_source_scores(model: BlendModel, faces: FaceSet) -> dict[str, float]:
    prob, _ = model.predict(faces.images, faces.landmarks)
    out: dict[str, list[float]] = {}
    for src, p in zip(faces.sources.astype(str), prob.tolist()):
        out.setdefault(src, []).append(p)
    return {s: top_mean(np.asarray(v)) for s, v in out.items()}


def held_out_sources(metrics: dict[str, Any]) -> set[str]:
    """The files a run never trained on (its validation files)."""
    data = metrics["data"]
    if "val_sources" in data:
        return set(data["val_sources"])
    return {d["source"] for d in data.get("val", ()) if "source" in d}  # BlendNet/PolarNet runs


def evaluate(run_dir: Path, real_paths: list[Path], fake_path: Path, manifest: Path | None = None) -> dict[str, Any]:
    model = BlendModel(run_dir / "blend_cnn.onnx", run_dir / "blend_cnn.json")
    model.load()
    metrics = json.loads((run_dir / "metrics.json").read_text())
    val_sources = held_out_sources(metrics)
    fake = FaceSet.load(fake_path)
    rs: dict[str, float] = {}
    for path in real_paths:
        rs.update(per_source_scores(model, FaceSet.load(path)))
    fs = per_source_scores(model, fake)
    kinds: dict[str, str] = {}
    manip: dict[str, str] = {}
    if manifest is not None and manifest.exists():
        with manifest.open(newline="") as fh:
            for r in csv.DictReader(fh):
                kinds[r["path"]] = r["kind"]
                manip[r["path"]] = r["manipulation"]
    held = {s: v for s, v in rs.items() if s in val_sources}

    def block(fakes: dict[str, float], reals: dict[str, float]) -> dict[str, Any]:
        y = [0] * len(reals) + [1] * len(fakes)
        m = roc_metrics(y, list(reals.values()) + list(fakes.values()))
        p95 = float(np.percentile(list(reals.values()), 95)) if reals else None
        above = (sum(1 for v in fakes.values() if v > p95) / len(fakes)) if fakes and p95 is not None else None
        return {"n_real": len(reals), "n_fake": len(fakes), "auc": m["auc"], "ap": m.get("ap"),
                "fakes_above_real_p95": above}

    def videos(d: dict[str, float]) -> dict[str, float]:
        return {s: v for s, v in d.items() if kinds.get(s, "video") != "image"}

    def images(d: dict[str, float]) -> dict[str, float]:
        return {s: v for s, v in d.items() if kinds.get(s) == "image"}

    result: dict[str, Any] = {
        "run": str(run_dir),
        "videos_vs_held_out_real_videos": block(videos(fs), videos(held)),
        "images_vs_held_out_real_images": block(images(fs), images(held)),
        "videos_vs_all_real_videos_optimistic": block(videos(fs), videos(rs)),
        "by_manipulation_videos_vs_held_out_real": {},
        "scores": {"fake": fs, "held_out_real": held},
    }
    families = {"face_swap": ("face_swap", "face_swap_dfdc_unspecified"), "lip_sync": ("lip_sync",),
                "talking_head": ("audio_driven_talking_head", "audio_or_video_driven_talking_head"),
                "reenactment": ("reenactment",)}
    for fam, names in families.items():
        sub = {s: v for s, v in videos(fs).items() if manip.get(s) in names}
        if sub:
            result["by_manipulation_videos_vs_held_out_real"][fam] = block(sub, videos(held))
    return result


def log_look(looks: Path, run_dir: Path, result: dict[str, Any], note: str) -> None:
    """Append one row per look: when, which run, and its numbers (kept whatever they are)."""
    new = not looks.exists()
    looks.parent.mkdir(parents=True, exist_ok=True)
    fam = result["by_manipulation_videos_vs_held_out_real"]
    with looks.open("a", newline="") as fh:
        w = csv.writer(fh)
        if new:
            w.writerow(["when", "run", "videos_auc", "swap_auc", "lip_sync_auc", "talking_head_auc",
                        "reenactment_auc", "images_auc", "n_real_videos", "note"])
        r = lambda k: "" if k not in fam or fam[k]["auc"] is None else f"{fam[k]['auc']:.3f}"  # noqa: E731
        v, im = result["videos_vs_held_out_real_videos"], result["images_vs_held_out_real_images"]
        w.writerow([_dt.datetime.now(_dt.UTC).isoformat(timespec="minutes"), str(run_dir),
                    "" if v["auc"] is None else f"{v['auc']:.3f}", r("face_swap"), r("lip_sync"), r("talking_head"),
                    r("reenactment"), "" if im["auc"] is None else f"{im['auc']:.3f}", v["n_real"], note])


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m unmask_training.learned.evaluate", description=__doc__.splitlines()[0])
    p.add_argument("run_dir", type=Path)
    p.add_argument("--real", type=Path, action="append", default=None,
                   help="real face caches (repeatable; default cache/views-shared-real.npz)")
    p.add_argument("--fake", type=Path, default=Path("cache/views-shared-fake.npz"))
    p.add_argument("--manifest", type=Path, default=Path("../shared/data/manifest.csv"))
    p.add_argument("--looks", type=Path, default=Path("train-runs/looks.csv"), help="the log of looks to append to")
    p.add_argument("--note", default="", help="why this look (goes in the log)")
    a = p.parse_args(argv)
    res = evaluate(a.run_dir, a.real or [Path("cache/views-shared-real.npz")], a.fake, a.manifest)
    (a.run_dir / "evaluation.json").write_text(json.dumps(res, indent=2))
    log_look(a.looks, a.run_dir, res, a.note)
    print(json.dumps({k: v for k, v in res.items() if k != "scores"}, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
