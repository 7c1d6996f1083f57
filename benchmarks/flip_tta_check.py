"""Does averaging a face view with its mirror image help the shipped ``blend_cnn``? Measured on the training
run's own held-out validation (pseudo-fake pairs and held-out real videos), never on development fakes.

    python benchmarks/flip_tta_check.py cache/views-photos.npz cache/views-shared-real-videos.npz \
        --val-only cache/views-shared-real-photos.npz --val-groups "$(cat benchmarks/swap_val_groups.txt)"

Rebuilds the validation set exactly as ``unmask-train train --arch mobilenetv2 --size 160`` does (same
seed, split and pairs), scores it with the shipped ONNX as is and with the flip average, and prints both.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("caches", nargs="+")
    ap.add_argument("--val-only", action="append", default=[])
    ap.add_argument("--val-groups", default="")
    ap.add_argument("--onnx", default="src/unmask/models/blend_cnn.onnx")
    args = ap.parse_args()

    import onnxruntime as ort
    from sklearn.metrics import roc_auc_score

    from unmask.learned.runtime import top_mean
    from unmask_training.learned.dataset import FaceSet, concat
    from unmask_training.learned.finetune import VAL_FP_LEVEL, FinetuneConfig, ValidationSet, split

    parts = [FaceSet.load(Path(p)) for p in args.caches + args.val_only]
    faces = concat(parts, int(np.asarray(parts[0].images).shape[1]))
    n_val_only = sum(len(p) for p in parts[len(args.caches):])
    config = FinetuneConfig(arch="mobilenetv2", size=160,
                            val_groups=tuple(g for g in args.val_groups.split(",") if g))
    n_split = len(faces) - n_val_only
    _, val_idx = split(faces, config, n_split)
    val = ValidationSet.build(faces, np.r_[val_idx, np.arange(n_split, len(faces))], config)
    sess = ort.InferenceSession(args.onnx, providers=["CPUExecutionProvider"])

    def logits(images: np.ndarray) -> np.ndarray:
        out = []
        for k in range(0, len(images), 64):
            x = np.ascontiguousarray(images[k : k + 64].transpose(0, 3, 1, 2), dtype=np.float32)
            out.append(sess.run(["logit"], {"image": x})[0])
        return np.concatenate(out)

    def row(pair_logit: np.ndarray, video_logit: np.ndarray) -> dict[str, float]:
        q = 1 / (1 + np.exp(-video_logit))
        per_video = np.array([top_mean(q[val.video_sources == s]) for s in np.unique(val.video_sources)])
        return {"pseudo_auc": round(float(roc_auc_score(val.pair_labels, pair_logit)), 4),
                "real_video_fp": round(float(np.mean(per_video >= VAL_FP_LEVEL)), 4),
                "real_video_median": round(float(np.median(per_video)), 4)}

    plain_p, plain_v = logits(val.pair_images), logits(val.video_images)
    flip_p, flip_v = logits(val.pair_images[:, :, ::-1]), logits(val.video_images[:, :, ::-1])
    result = {"pairs": int(len(val.pair_labels) // 2), "real_videos": int(len(np.unique(val.video_sources))),
              "plain": row(plain_p, plain_v), "flip_average": row((plain_p + flip_p) / 2, (plain_v + flip_v) / 2)}
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
