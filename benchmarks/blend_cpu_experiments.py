"""Can a blend detector trained only on real faces be learned on 2 CPU cores? The experiment, reproducible.

docs/benchmark-notes.md ("Learned blend detector on the CPU") reports what this measured. A
MobileNet-class CNN trains at ~40 faces/s at 128 px on one core here (torch CPU, depthwise
convolutions), far too slow to learn self-blended pseudo-fakes from scratch in a session. So the
pixels go through a fixed forensic front-end once (per 8x8 cell of the 256 px aligned face: log
detail energies at three scales, gradient and chroma-noise energy, colour, contrast; and
landmark-region contrasts, inner face vs cheeks, jaw band, forehead, surroundings), and only a
small convolutional head (~20 k parameters, boundary map + fake logit) is learned, at ~800
samples/s. Pseudo-fakes come from unmask_training.learned.sbi at each face's native resolution
(unmask_training.learned.augment.at_native_scale) with the social-media degradations of training.

Evaluation is honest by construction: real faces are split into group folds (source repository),
each fold's model scores only the real faces it never saw, every model scores every labeled fake
(never trained on), and files are scored like the analyzer (mean of the top quarter of faces).

    python benchmarks/blend_cpu_experiments.py --cache cache --reps 10 --epochs 6 [--regions]

needs the face caches of `python -m unmask_training.learned.train_cli` (cache/faces-real.npz, faces-fake.npz,
made from ../shared/data/manifest.csv) and the `train` extra (torch). Prints one JSON line.
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import sys
import time
from pathlib import Path

import cv2
import numpy as np

from unmask.faces.regions import CENTRAL, band_mask, forehead_polygon, oval_polygon, polygon_mask, scale_polygon
from unmask_training.learned.augment import at_native_scale, crop_resize
from unmask_training.learned.dataset import FaceSet
from unmask_training.learned.sbi import make_sample

CELL = 8
REGIONS = ("inner", "mid", "ring_in", "ring_out", "outer", "forehead")
PAIRS = (("inner", "mid"), ("inner", "ring_in"), ("mid", "ring_in"), ("ring_in", "ring_out"), ("inner", "ring_out"),
         ("inner", "forehead"), ("mid", "outer"), ("inner", "outer"))


def _maps(rgb: np.ndarray) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """Per-pixel detail energies and colour planes of an RGB face."""
    x = rgb.astype(np.float32) / 255.0
    y = 0.299 * x[..., 0] + 0.587 * x[..., 1] + 0.114 * x[..., 2]
    cb, cr = (x[..., 2] - y) * 0.564, (x[..., 0] - y) * 0.713

    def blur(a: np.ndarray, s: float) -> np.ndarray:
        return cv2.GaussianBlur(a, (0, 0), s, borderType=cv2.BORDER_REFLECT101)

    y1, y2, y4 = blur(y, 1.0), blur(y, 2.0), blur(y, 4.0)
    gx = cv2.Sobel(y1, cv2.CV_32F, 1, 0, ksize=3) / 8
    gy = cv2.Sobel(y1, cv2.CV_32F, 0, 1, ksize=3) / 8
    chp = (cb - blur(cb, 1.5)) ** 2 + (cr - blur(cr, 1.5)) ** 2
    energies = {"hp": (y - y1) ** 2, "bp": (y1 - y2) ** 2, "bp2": (y2 - y4) ** 2, "grad": gx * gx + gy * gy, "chp": chp}
    return energies, {"Y": y, "Cb": cb, "Cr": cr}


def cell_features(rgb: np.ndarray) -> np.ndarray:
    """(10, S/8, S/8): per-cell log energies, peak fine detail, colour and contrast."""
    e, c = _maps(rgb)
    h, w = rgb.shape[:2]

    def pool(a: np.ndarray, op: str = "mean") -> np.ndarray:
        b = a.reshape(h // CELL, CELL, w // CELL, CELL)
        return b.max((1, 3)) if op == "max" else b.mean((1, 3))

    my = pool(c["Y"])
    f = [np.log(pool(e[k]) + 1e-6) for k in ("hp", "bp", "bp2", "grad", "chp")]
    f += [np.log(pool(e["hp"], "max") + 1e-6), my * 4, pool(c["Cb"]) * 8, pool(c["Cr"]) * 8,
          np.log(np.maximum(pool(c["Y"] ** 2) - my * my, 0) + 1e-6)]
    return np.stack(f).astype(np.float32)


def region_features(rgb: np.ndarray, xy: np.ndarray) -> np.ndarray:
    """Contrasts between landmark regions (log-energy and colour differences): 64 numbers, NaN where a region is empty."""
    e, c = _maps(rgb)
    shape = rgb.shape[:2]
    oval = oval_polygon(xy)
    centre = oval.mean(0)
    hull = cv2.convexHull(np.round(xy[list(CENTRAL), :2]).astype(np.int32))[:, 0].astype(np.float64)
    inner = polygon_mask(hull, shape)
    masks = {"inner": inner, "mid": polygon_mask(scale_polygon(oval, 0.86, centre), shape) & ~inner,
             "ring_in": band_mask(oval, 0.86, 1.0, shape), "ring_out": band_mask(oval, 1.0, 1.12, shape),
             "outer": band_mask(oval, 1.12, 1.3, shape), "forehead": polygon_mask(forehead_polygon(xy), shape) & ~inner}
    out: list[float] = []
    for planes, fn in ((e, lambda v: float(np.log(v.mean() + 1e-7))), (c, lambda v: float(v.mean() * 10))):
        for plane in planes.values():
            val = {r: fn(plane[m]) if m.sum() > 20 else math.nan for r, m in masks.items()}
            out += [val[a] - val[b] for a, b in PAIRS]
    return np.array(out, np.float32)


def build_pool(real: FaceSet, reps: int, seed: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    cells, regs, labels, maps, idx = [], [], [], [], []
    for _ in range(reps):
        for i in range(len(real)):
            img, label, boundary = at_native_scale(real.images[i], real.landmarks[i], float(real.native[i]), rng,
                                                   lambda f, lm, r, p: make_sample(f, lm, r, p, p_real_transformed=0.3),
                                                   0.5, augment=True)
            regs.append(region_features(img, real.landmarks[i]))
            img, bmap = crop_resize(img, boundary, 256, rng)
            cells.append(cell_features(np.ascontiguousarray(img)).astype(np.float16))
            maps.append(bmap.reshape(32, 2, 32, 2).mean((1, 3)).astype(np.float16))
            labels.append(label)
            idx.append(i)
    return {"cells": np.stack(cells), "regions": np.stack(regs), "y": np.array(labels, np.float32),
            "bmap": np.stack(maps), "idx": np.array(idx)}


def make_head(n_regions: int, width: int = 16):  # noqa: ANN201 - torch is optional
    import torch
    from torch import nn

    class Head(nn.Module):
        """Dilated 3x3 convolutions over the cell map: a boundary map, and a logit from pooled features."""

        def __init__(self) -> None:
            super().__init__()
            self.bn0 = nn.BatchNorm2d(10)

            def block(a: int, b: int, d: int) -> nn.Module:
                return nn.Sequential(nn.Conv2d(a, b, 3, padding=d, dilation=d, bias=False), nn.BatchNorm2d(b),
                                     nn.ReLU(inplace=True))

            self.body = nn.Sequential(block(10, width, 1), block(width, width, 1), block(width, width, 2),
                                      block(width, width, 4), block(width, width, 1))
            self.bmap = nn.Conv2d(width, 1, 1)
            self.fc = nn.Linear(2 * width + 1 + n_regions, 1)

        def forward(self, x: torch.Tensor, reg: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor]:
            h = self.body(self.bn0(x))
            b = self.bmap(h)
            bm = torch.sigmoid(b).flatten(1)
            top = bm.topk(max(1, bm.shape[1] // 32), dim=1).values.mean(1, keepdim=True)
            parts = [h.mean((2, 3)), h.amax((2, 3)), top] + ([reg] if reg is not None else [])
            return self.fc(torch.cat(parts, 1)).squeeze(1), b

    return Head()


def main(argv: list[str] | None = None) -> int:
    import torch
    from sklearn.metrics import roc_auc_score
    from sklearn.model_selection import GroupKFold

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--cache", type=Path, default=Path("cache"))
    p.add_argument("--manifest", type=Path, default=Path("../shared/data/manifest.csv"))
    p.add_argument("--reps", type=int, default=10, help="pseudo-fake/real samples per real face")
    p.add_argument("--epochs", type=int, default=6)
    p.add_argument("--folds", type=int, default=3)
    p.add_argument("--regions", action="store_true", help="feed the region contrasts to the logit too")
    p.add_argument("--seed", type=int, default=0)
    a = p.parse_args(argv)
    torch.set_num_threads(1)  # two threads on two busy cores ran 6x slower here
    torch.set_flush_denormal(True)
    cv2.setNumThreads(1)
    real, fake = FaceSet.load(a.cache / "faces-real.npz"), FaceSet.load(a.cache / "faces-fake.npz")
    t0 = time.time()
    pool = build_pool(real, a.reps, a.seed)
    plain_r = np.stack([cell_features(im) for im in real.images])
    plain_f = np.stack([cell_features(im) for im in fake.images])
    reg_r = np.stack([region_features(im, lm) for im, lm in zip(real.images, real.landmarks)])
    reg_f = np.stack([region_features(im, lm) for im, lm in zip(fake.images, fake.landmarks)])
    mu, sd = np.nanmean(pool["regions"], 0), np.nanstd(pool["regions"], 0) + 1e-6

    def z(r: np.ndarray) -> np.ndarray:
        return np.clip(np.nan_to_num((r - mu) / sd), -4, 4).astype(np.float32)

    regs, reg_r, reg_f = z(pool["regions"]), z(reg_r), z(reg_f)
    print(f"pool of {len(pool['y'])} samples in {time.time() - t0:.0f} s", file=sys.stderr)

    def predict(m: torch.nn.Module, cells: np.ndarray, reg: np.ndarray) -> np.ndarray:
        with torch.no_grad():
            return np.concatenate([torch.sigmoid(m(torch.from_numpy(cells[k:k + 256].astype(np.float32)),
                                                   torch.from_numpy(reg[k:k + 256]) if a.regions else None)[0]).numpy()
                                   for k in range(0, len(cells), 256)])

    real_oof, fake_scores, pseudo = np.zeros(len(real)), [], []
    y, bmap, idx = pool["y"], pool["bmap"], pool["idx"]
    for tr, va in GroupKFold(a.folds).split(np.zeros(len(real)), groups=real.groups.astype(str)):
        torch.manual_seed(a.seed)
        rng = np.random.default_rng(a.seed)
        m = make_head(regs.shape[1] if a.regions else 0)
        opt = torch.optim.AdamW(m.parameters(), 2e-3, weight_decay=1e-4)
        sel = np.flatnonzero(np.isin(idx, tr))
        steps, step = a.epochs * (len(sel) // 128), 0
        for _ in range(a.epochs):
            m.train()
            order = rng.permutation(sel)
            for k in range(0, len(order) - 127, 128):
                j = np.sort(order[k:k + 128])
                x, bm = torch.from_numpy(pool["cells"][j].astype(np.float32)), torch.from_numpy(bmap[j].astype(np.float32))
                flip = torch.from_numpy(rng.random(len(j)) < 0.5)
                x[flip], bm[flip] = x[flip].flip(-1), bm[flip].flip(-1)
                for g in opt.param_groups:
                    g["lr"] = 2e-3 * 0.5 * (1 + math.cos(math.pi * step / steps))
                logit, b = m(x, torch.from_numpy(regs[j]) if a.regions else None)
                loss = (torch.nn.functional.binary_cross_entropy_with_logits(logit, torch.from_numpy(y[j]))
                        + torch.nn.functional.binary_cross_entropy_with_logits(b[:, 0], bm))
                opt.zero_grad()
                loss.backward()
                opt.step()
                step += 1
        m.eval()
        vsel = np.flatnonzero(np.isin(idx, va))
        pseudo.append(round(float(roc_auc_score(y[vsel], predict(m, pool["cells"][vsel], regs[vsel]))), 3))
        real_oof[va] = predict(m, plain_r[va], reg_r[va])
        fake_scores.append(predict(m, plain_f, reg_f))

    def per_file(sources: np.ndarray, prob: np.ndarray) -> dict[str, float]:
        d: dict[str, list[float]] = {}
        for s, v in zip(sources.astype(str), prob):
            d.setdefault(s, []).append(float(v))
        return {s: float(np.mean(np.sort(v)[-max(1, round(len(v) / 4)):])) for s, v in d.items()}

    with a.manifest.open(newline="") as fh:
        man = {r["path"]: r for r in csv.DictReader(fh)}
    rs, fs = per_file(real.sources, real_oof), per_file(fake.sources, np.mean(fake_scores, 0))
    rv = {s: v for s, v in rs.items() if man[s]["kind"] != "image"}
    fv = {s: v for s, v in fs.items() if man[s]["kind"] != "image"}

    def auc(f: dict[str, float]) -> float:
        return round(float(roc_auc_score([0] * len(rv) + [1] * len(f), list(rv.values()) + list(f.values()))), 3)

    swaps = {s: v for s, v in fv.items() if "swap" in man[s]["manipulation"]}
    thr = float(np.quantile(list(rv.values()), 0.95))
    print(json.dumps({"regions": a.regions, "pseudo_auc_held_out_groups": pseudo, "videos_auc": auc(fv),
                      "swap_auc": auc(swaps), "n_swaps": len(swaps), "n_real_videos": len(rv),
                      "swaps_caught_at_5pct_real": round(float(np.mean([v >= thr for v in swaps.values()])), 3)}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
