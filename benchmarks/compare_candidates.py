"""Compare trained swap-detector candidates on held-out *real* faces and pseudo-fakes only (never the fakes).

    python benchmarks/compare_candidates.py RUN_A RUN_B --caches cache/views-photos.npz cache/views-shared-real-videos.npz \
        --val-only cache/views-shared-real-photos.npz

Every candidate is scored on the same inputs: the first run's held-out split and fixed-seed pseudo-fake
pairs made with the plain recipe. Reported per candidate: pseudo-fake AUC; the probability at which half
of the pseudo-fakes are caught; and, at that operating point, the share of held-out real videos (and
real photos) that would be flagged, and at training's own level (``finetune.VAL_FP_LEVEL``). ``--flip``
adds a row per run for the test-time flip (each view's logit averaged with its mirror image's). Choosing
between candidates this way looks at no labeled fake.
"""

from __future__ import annotations

import argparse
import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from unmask.learned.runtime import BlendModel, crop_views, top_mean
from unmask_training.learned.dataset import FaceSet, concat
from unmask_training.learned.finetune import VAL_FP_LEVEL, FinetuneConfig, ValidationSet, split


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("runs", nargs="+", type=Path)
    p.add_argument("--caches", nargs="+", type=Path, required=True)
    p.add_argument("--val-only", nargs="*", type=Path, default=[])
    p.add_argument("--flip", action="store_true",
                   help="also score each run with each view's logit averaged with its mirror image's")
    a = p.parse_args(argv)
    metrics = json.loads((a.runs[0] / "metrics.json").read_text())
    cfg = FinetuneConfig(**{k: (tuple(v) if isinstance(v, list) else v) for k, v in metrics["config"].items()})
    cfg = replace(cfg, p_natural=0.0)
    parts = [FaceSet.load(c) for c in a.caches]
    extra = [FaceSet.load(c) for c in a.val_only]
    n_split = sum(len(f) for f in parts)
    faces = concat(parts + extra, int(parts[0].images.shape[1]))
    _, val_idx = split(faces, cfg, n_split)
    val_idx = np.r_[val_idx, np.arange(n_split, len(faces))]
    val = ValidationSet.build(faces, val_idx, cfg)
    photos = np.arange(n_split, len(faces))
    photo_views = crop_views(faces.images[photos], cfg.view_zoom, cfg.crop_zoom, cfg.size) if len(photos) else None
    out = {}
    for run in a.runs:
        m = BlendModel(run / "blend_cnn.onnx", run / "blend_cnn.json")
        m.load()
        sess = m._session  # the views are already cropped: run the network directly

        def logits(x: np.ndarray, sess=sess) -> np.ndarray:
            res = []
            for k in range(0, len(x), 64):
                res.append(sess.run(["logit"], {"image": np.ascontiguousarray(x[k:k + 64].transpose(0, 3, 1, 2),
                                                                                dtype=np.float32)})[0].reshape(-1))
            return np.concatenate(res)

        for name, flip in [(str(run), False)] + ([(f"{run} + flip", True)] if a.flip else []):
            def prob(x: np.ndarray, flip: bool = flip) -> np.ndarray:
                logit = (logits(x) + logits(x[:, :, ::-1])) / 2 if flip else logits(x)
                return 1 / (1 + np.exp(-logit))

            out[name] = _row(prob, val, photo_views)
    print(json.dumps(out, indent=2))
    return 0


def _row(prob: Any, val: ValidationSet, photo_views: np.ndarray | None) -> dict[str, Any]:
    """One candidate's numbers: pseudo-fake AUC, and real false positives at two operating points."""
    from sklearn.metrics import roc_auc_score

    pp = prob(val.pair_images)
    level = float(np.median(pp[val.pair_labels == 1]))  # half the pseudo-fakes are caught at this probability
    vq = prob(val.video_images)
    per_video = {s: top_mean(vq[val.video_sources == s]) for s in np.unique(val.video_sources)}
    tops = np.array(list(per_video.values()))
    row: dict[str, Any] = {
        "pseudo_auc": round(float(roc_auc_score(val.pair_labels, pp)), 4),
        "level_catching_half_the_pseudo_fakes": round(level, 4),
        "real_videos_flagged_at_that_level": round(float(np.mean(tops >= level)), 4),
        # training's own check (finetune.VAL_FP_LEVEL), what the checkpoint rule reads
        f"real_videos_flagged_at_{VAL_FP_LEVEL}": round(float(np.mean(tops >= VAL_FP_LEVEL)), 4),
        "real_videos": len(per_video)}
    if photo_views is not None:
        ph = prob(photo_views)
        row["real_photos_flagged_at_that_level"] = round(float(np.mean(ph >= level)), 4)
        row["real_photos"] = int(len(ph))
    row["highest_real_videos"] = sorted(((round(v, 3), s) for s, v in per_video.items()), reverse=True)[:5]
    return row


if __name__ == "__main__":
    raise SystemExit(main())
