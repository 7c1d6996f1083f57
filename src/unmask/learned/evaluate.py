"""Video-level evaluation of a trained blend detector on cached development faces.

Scores every face of ``faces-real.npz`` / ``faces-fake.npz`` with the exported
ONNX model, aggregates per source file the way the ``blend_cnn`` analyzer does
(mean of the most suspicious quarter), and reports ROC AUC of fake files
against the *held-out* real files only: real files whose group was in
training were shown to the network as "real" and would flatter it.

    python -m unmask.learned.evaluate RUN_DIR [--cache cache]
"""

from __future__ import annotations

import argparse
import csv
import json
from pathlib import Path
from typing import Any

import numpy as np

from unmask.analyzers.blend_cnn import top_mean
from unmask.learned.dataset import FaceSet
from unmask.learned.runtime import BlendModel
from unmask.metrics import roc_metrics


def per_source_scores(model: BlendModel, faces: FaceSet) -> dict[str, float]:
    prob, _ = model.predict(faces.images, faces.landmarks)
    out: dict[str, list[float]] = {}
    for src, p in zip(faces.sources.astype(str), prob.tolist()):
        out.setdefault(src, []).append(p)
    return {s: top_mean(np.asarray(v)) for s, v in out.items()}


def evaluate(run_dir: Path, cache: Path, manifest: Path | None = None) -> dict[str, Any]:
    model = BlendModel(run_dir / "blend_cnn.onnx", run_dir / "blend_cnn.json")
    model.load()
    metrics = json.loads((run_dir / "metrics.json").read_text())
    val_sources = {d["source"] for d in metrics["data"]["val"]}
    real = FaceSet.load(cache / "faces-real.npz")
    fake = FaceSet.load(cache / "faces-fake.npz")
    rs, fs = per_source_scores(model, real), per_source_scores(model, fake)
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
        return {"n_real": len(reals), "n_fake": len(fakes), **roc_metrics(y, list(reals.values()) + list(fakes.values()))}

    videos = lambda d: {s: v for s, v in d.items() if kinds.get(s, "video") != "image"}  # noqa: E731
    result: dict[str, Any] = {
        "run": run_dir.name,
        "held_out_real_vs_all_fakes": block(fs, held),
        "held_out_real_vs_fakes_videos": block(videos(fs), videos(held)),
        "all_real_vs_all_fakes_optimistic": block(fs, rs),
        "by_manipulation_videos_vs_held_out_real": {},
    }
    for m in sorted({manip.get(s, "unknown") for s in fs}):
        sub = {s: v for s, v in videos(fs).items() if manip.get(s, "unknown") == m}
        if sub:
            result["by_manipulation_videos_vs_held_out_real"][m] = block(sub, videos(held))
    return result


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m unmask.learned.evaluate")
    p.add_argument("run_dir", type=Path)
    p.add_argument("--cache", type=Path, default=Path("cache"))
    p.add_argument("--manifest", type=Path, default=Path("../shared/data/manifest.csv"))
    a = p.parse_args(argv)
    res = evaluate(a.run_dir, a.cache, a.manifest)
    (a.run_dir / "evaluation.json").write_text(json.dumps(res, indent=2))
    print(json.dumps(res, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
