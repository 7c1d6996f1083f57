"""Fine-tune an ImageNet-pretrained backbone on self-blended real faces: the shipped swap detector.

The recipe follows Self-Blended Images (Shiohara & Yamasaki, CVPR 2022), sized for two CPU cores:

- every batch holds pairs: a real face view and the *same* view self-blended, both damaged by the
  *same* draw of social-media degradation, so the only difference the network can learn from is
  the paste (SBI's pairing; one damage draw per pair keeps compression from telling them apart);
- most blends use SBI's landmark masks over the whole face; some paste only the lower face or the
  mouth, as lip-sync tools do (Wav2Lip, LatentSync);
- blends are made at the face's native resolution (a small face upscaled into the view has no
  detail for a resolution drop to remove);
- the views are whole faces with margin (``faces.align.face_view``), cropped at 1.25-1.4x the
  landmarks' extent while training and at 1.3x when scoring, as SBI crops;
- AdamW with a short warm-up and a cosine decay over a fixed number of steps (``--steps`` makes a
  run reproducible; without it the steps are planned from the time budget);
- checkpoints are chosen on held-out *real* groups only: pseudo-fake AUC on fixed-seed pairs, ties
  broken by the share of held-out real videos the checkpoint would flag. Deepfakes are never seen.
"""

from __future__ import annotations

import contextlib
import csv
import datetime as _dt
import json
import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from unmask.errors import UnmaskError
from unmask.learned.runtime import MANIFEST_NAME, ONNX_NAME, crop_views, top_mean

if TYPE_CHECKING:
    from unmask_training.learned.dataset import FaceSet

#: the pretrained backbones (``learned.backbones.BACKBONES``), named here without importing torch
ARCHS = ("efficientnet-lite0", "mobilenetv2")
#: share of blends that paste only part of the face, by lip-sync shape
PARTIAL_P = {"lower_face": 0.12, "mouth": 0.08}
#: crop zoom range while training (the view's side over the landmarks' extent); scoring uses the middle
CROP_ZOOM_RANGE = (1.25, 1.40)
#: held-out real videos: at most this many faces each, scored like the analyzer (mean of the top quarter)
VAL_FACES_PER_VIDEO = 12
#: a held-out real video counts as a false positive when its top-quarter probability reaches this
VAL_FP_LEVEL = 0.5


@dataclass(frozen=True)
class FinetuneConfig:
    arch: str = "efficientnet-lite0"
    size: int = 224
    batch: int = 32  # images per step: batch/2 real faces and their self-blends
    max_minutes: float = 60.0
    #: total optimiser steps; 0 plans them from ``max_minutes`` after the first steps (machine-dependent)
    steps: int = 0
    lr: float = 3e-4
    weight_decay: float = 1e-4
    bn_momentum: float = 0.05
    seed: int = 0
    #: real groups held out (manifest source_repo or identity) besides a seeded share of the others
    val_groups: tuple[str, ...] = ()
    val_fraction: float = 0.03
    #: validation runs every this many steps (and at the end)
    val_every: int = 250
    #: at most this many held-out faces make the fixed pseudo-fake pairs
    val_pairs: int = 400
    view_zoom: float = 1.5  # of the cached views (``dataset extract --zoom``)
    crop_zoom: float = 1.3
    device: str = "cpu"
    workers: int = 0
    #: False starts from random weights (tests; an ablation), not from the installed ImageNet files
    pretrained: bool = True
    #: share of faces first changed the way real footage changes the head as a whole (motion blur or
    #: defocus of the head against its background, or the other way round), before real and blend are made
    p_natural: float = 0.0
    #: an ONNX file of an earlier run of the same arch and size to continue from (``learned.resume``);
    #: "" starts from the ImageNet weights
    init: str = ""
    #: seed of the training batches' order and draws; None: ``seed``. A continued run keeps ``seed`` (the same
    #: held-out split and validation pairs as its parent) and takes a new ``data_seed``, so it does not replay
    #: its parent's batches
    data_seed: int | None = None


# --- samples -----------------------------------------------------------------------------------------

def social_damage(img: np.ndarray, rng: np.random.Generator, shake: bool = False) -> np.ndarray:
    """Heavy upload damage at the face's native size: colour, rescaling, blur, noise, smoothing, JPEG;
    with ``shake`` (runs with ``p_natural``), also camera shake."""
    import cv2

    out = img
    if rng.random() < 0.5:
        f = out.astype(np.float32)
        f = (f - 128.0) * rng.uniform(0.85, 1.15) + 128.0 + rng.uniform(-15, 15)
        grey = f.mean(axis=2, keepdims=True)
        f = grey + (f - grey) * rng.uniform(0.8, 1.2)
        out = np.clip(f, 0, 255).astype(np.uint8)
    h, w = out.shape[:2]
    if rng.random() < 0.4:  # a smaller upload, or a small face in the frame
        s = rng.uniform(0.35, 1.0)
        small = cv2.resize(out, (max(16, int(w * s)), max(16, int(h * s))), interpolation=cv2.INTER_AREA)
        out = cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR)
    if rng.random() < 0.25:
        out = cv2.GaussianBlur(out, (0, 0), rng.uniform(0.3, 1.5))
    if shake and rng.random() < 0.1:  # camera shake
        out = cv2.filter2D(out, -1, _motion_kernel(rng, int(rng.integers(3, 9)) | 1))
    if rng.random() < 0.1:  # beauty filters and denoisers smooth skin
        out = cv2.bilateralFilter(out, 5, rng.uniform(20, 50), rng.uniform(3, 7))
    if rng.random() < 0.25:
        noise = rng.normal(0.0, rng.uniform(1.0, 6.0), out.shape)
        out = np.clip(out.astype(np.float32) + noise, 0, 255).astype(np.uint8)
    if rng.random() < 0.8:
        q = int(rng.integers(25, 96))
        ok, buf = cv2.imencode(".jpg", cv2.cvtColor(out, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, q])
        if ok:
            out = cv2.cvtColor(cv2.imdecode(buf, cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)
    return np.ascontiguousarray(out)


def _motion_kernel(rng: np.random.Generator, length: int) -> np.ndarray:
    """A normalised line kernel of ``length`` px at a random angle: the smear of something moving."""
    import cv2

    k = np.zeros((length, length), np.float32)
    k[length // 2, :] = 1.0
    m = cv2.getRotationMatrix2D(((length - 1) / 2.0, (length - 1) / 2.0), float(rng.uniform(0, 180)), 1.0)
    k = cv2.warpAffine(k, m, (length, length))
    return k / max(float(k.sum()), 1e-6)


def natural_change(view: np.ndarray, landmarks: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """The view as real footage often shows a head: moving or out of focus against a still, sharp
    background, or sharp against a blurred or moving one.

    The region is the whole head (the face outline grown by a quarter to half its size, and down to the
    frame's edge half the time, for the neck), never the face oval alone: a sharpness change that stops at
    the face outline is what a paste leaves, and stays the fake class's. Streets, sports and films are full
    of the first kind; without it the detector flags them.
    """
    import cv2

    from unmask.faces.regions import FACE_OVAL

    h, w = view.shape[:2]
    oval = np.asarray(landmarks, np.float32)[list(FACE_OVAL), :2]
    centre = oval.mean(axis=0)
    head = centre + (oval - centre) * float(rng.uniform(1.25, 1.5))
    if rng.random() < 0.5:  # neck and shoulders move with the head
        low = head[head[:, 1] > centre[1]].copy()
        low[:, 1] = h
        head = np.vstack([head, low])
    mask = np.zeros((h, w), np.float32)
    cv2.fillConvexPoly(mask, cv2.convexHull(np.round(head).astype(np.int32)), 1.0)
    mask = cv2.GaussianBlur(mask, (0, 0), 0.03 * w)[..., None]
    img = view.astype(np.float32)
    if rng.random() < 0.5:
        changed = cv2.filter2D(img, -1, _motion_kernel(rng, int(rng.integers(3, 12)) | 1))
    else:
        changed = cv2.GaussianBlur(img, (0, 0), float(rng.uniform(1.0, 3.0)))
    inside = rng.random() < 0.5  # the head changed (it moves), or everything around it (focus on the face)
    out = mask * changed + (1 - mask) * img if inside else mask * img + (1 - mask) * changed
    return np.clip(np.rint(out), 0, 255).astype(np.uint8)


def _blend_shape(rng: np.random.Generator) -> str | None:
    """None (SBI's whole-face masks) or a lip-sync shape, by PARTIAL_P."""
    u = rng.random()
    for shape, p in PARTIAL_P.items():
        if u < p:
            return shape
        u -= p
    return None


def make_pair(view: np.ndarray, landmarks: np.ndarray, native: float, rng: np.random.Generator,
              config: FinetuneConfig, augment: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """(real, self-blended) network inputs from one cached view, damaged and cropped alike.

    The blend is made at the face's native size; both images then get the same damage draw,
    the same crop and the same flip, so they differ only where the face was pasted.
    """
    import cv2

    from unmask_training.learned.sbi import self_blend

    side = view.shape[0]
    f = float(min(1.0, native))
    n = max(64, int(round(side * f))) if f < 0.9 else side
    face = cv2.resize(view, (n, n), interpolation=cv2.INTER_AREA) if n != side else view
    lm = landmarks * (n / side)
    if config.p_natural > 0 and rng.random() < config.p_natural:
        face = natural_change(face, lm, rng)
    fake = self_blend(face, lm, rng, shape=_blend_shape(rng)).image
    real = face
    if augment:
        seed = int(rng.integers(0, 2**63 - 1))
        shake = config.p_natural > 0
        real = social_damage(real, np.random.default_rng(seed), shake)
        fake = social_damage(fake, np.random.default_rng(seed), shake)
    if n != side:
        real = cv2.resize(real, (side, side), interpolation=cv2.INTER_LINEAR)
        fake = cv2.resize(fake, (side, side), interpolation=cv2.INTER_LINEAR)
    if not augment:
        both = crop_views(np.stack([real, fake]), config.view_zoom, config.crop_zoom, config.size)
        return both[0], both[1]
    zoom = min(float(rng.uniform(*CROP_ZOOM_RANGE)), config.view_zoom)
    crop = side * zoom / config.view_zoom
    cx = side / 2 + rng.uniform(-0.03, 0.03) * crop
    cy = side / 2 + rng.uniform(-0.03, 0.03) * crop
    flip = rng.random() < 0.5
    out = []
    for img in (real, fake):
        x0, y0 = int(round(cx - crop / 2)), int(round(cy - crop / 2))
        c = max(8, int(round(crop)))
        x0, y0 = min(max(0, x0), side - c), min(max(0, y0), side - c)
        patch = img[y0 : y0 + c, x0 : x0 + c]
        if flip:
            patch = patch[:, ::-1]
        interp = cv2.INTER_AREA if c > config.size else cv2.INTER_LINEAR
        out.append(cv2.resize(np.ascontiguousarray(patch), (config.size, config.size), interpolation=interp))
    return out[0], out[1]


def make_batch(faces: FaceSet, idx: np.ndarray, rng: np.random.Generator, config: FinetuneConfig,
               augment: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """Images (2N x S x S x 3 uint8: real, blend, real, blend, ...) and labels (0, 1, ...) for faces[idx]."""
    imgs: list[np.ndarray] = []
    native = np.asarray(faces.native)
    for i in idx:
        r, f = make_pair(faces.images[i], faces.landmarks[i], float(native[i]), rng, config, augment)
        imgs += [r, f]
    labels = np.tile(np.array([0.0, 1.0], np.float32), len(idx))
    return np.stack(imgs), labels


_WORKER: dict[str, Any] = {}


def _init_worker(faces: FaceSet, config: FinetuneConfig) -> None:
    import cv2

    cv2.setNumThreads(1)
    _WORKER.update(faces=faces, config=config)


def _batch_job(job: tuple[tuple[int, int], np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    seed, idx = job
    return make_batch(_WORKER["faces"], idx, np.random.default_rng(seed), _WORKER["config"])


# --- splits and validation -----------------------------------------------------------------------------

def split(faces: FaceSet, config: FinetuneConfig, n: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Train and validation indices among the first ``n`` faces (default all): the named groups plus a
    seeded share of the other groups held out."""
    from unmask_training.learned.dataset import split_by_group

    groups = np.asarray(faces.groups).astype(str)[: len(faces) if n is None else n]
    unknown = sorted(set(config.val_groups) - set(groups.tolist()))
    if unknown:
        raise UnmaskError(f"val_groups not among the faces' groups: {', '.join(unknown)}")
    named = np.isin(groups, list(config.val_groups))
    rest = np.flatnonzero(~named)
    if not len(rest):
        raise UnmaskError("val_groups hold out every face: nothing left to train on")
    if config.val_fraction > 0 and len(np.unique(groups[rest])) >= 2:
        tr_sub, va_sub = split_by_group(groups[rest], config.val_fraction, config.seed)
        train_idx, val_idx = rest[tr_sub], np.sort(np.r_[np.flatnonzero(named), rest[va_sub]])
    else:
        train_idx, val_idx = rest, np.flatnonzero(named)
    if not len(val_idx):
        raise UnmaskError("nothing held out for validation: name --val-groups or set a val fraction")
    return train_idx, val_idx


def _is_video_source(src: str) -> bool:
    return Path(src).suffix.lower() in {".mp4", ".mov", ".avi", ".mkv", ".webm", ".mpg", ".mpeg", ".gif", ".webp"}


def _predict(model: Any, images: np.ndarray, device: str, batch: int = 64) -> np.ndarray:
    import torch

    model.eval()
    out = []
    with torch.no_grad():
        for k in range(0, len(images), batch):
            x = torch.from_numpy(images[k : k + batch].transpose(0, 3, 1, 2).astype(np.float32)).to(device)
            out.append(torch.sigmoid(model(x)[0]).float().cpu().numpy())
    return np.concatenate(out) if out else np.zeros(0, np.float32)


@dataclass(frozen=True)
class ValidationSet:
    """Fixed inputs, so every evaluation of a run compares like with like."""

    pair_images: np.ndarray  # 2N views: real, blend, ...
    pair_labels: np.ndarray
    video_images: np.ndarray  # faces of held-out real videos
    video_sources: np.ndarray

    @classmethod
    def build(cls, faces: FaceSet, val_idx: np.ndarray, config: FinetuneConfig) -> ValidationSet:
        rng = np.random.default_rng(config.seed + 1000)
        pick = val_idx if len(val_idx) <= config.val_pairs else np.sort(rng.choice(val_idx, config.val_pairs,
                                                                                   replace=False))
        imgs, labels = make_batch(faces, pick, rng, config, augment=True)
        sources = np.asarray(faces.sources).astype(str)
        vids: list[int] = []
        for src in sorted({sources[i] for i in val_idx if _is_video_source(sources[i])}):
            mine = [i for i in val_idx if sources[i] == src]
            step = max(1, len(mine) // VAL_FACES_PER_VIDEO)
            vids += mine[::step][:VAL_FACES_PER_VIDEO]
        video_images = crop_views(np.asarray(faces.images)[vids], config.view_zoom, config.crop_zoom, config.size) \
            if vids else np.zeros((0, config.size, config.size, 3), np.uint8)
        return cls(imgs, labels, video_images, sources[vids] if vids else np.zeros(0, str))

    def evaluate(self, model: Any, device: str) -> dict[str, Any]:
        from sklearn.metrics import roc_auc_score

        p = _predict(model, self.pair_images, device)
        row: dict[str, Any] = {"pseudo_auc": float(roc_auc_score(self.pair_labels, p)),
                               "pseudo_real_mean": float(p[self.pair_labels == 0].mean()),
                               "pseudo_fake_mean": float(p[self.pair_labels == 1].mean())}
        if len(self.video_images):
            q = _predict(model, self.video_images, device)
            per_video = {s: top_mean(q[self.video_sources == s]) for s in np.unique(self.video_sources)}
            vals = np.array(list(per_video.values()))
            row.update(real_videos=len(vals), real_video_fp=float(np.mean(vals >= VAL_FP_LEVEL)),
                       real_video_median=float(np.median(vals)),
                       real_video_max=float(vals.max()), worst_real_video=max(per_video, key=per_video.get))
        return row


# --- training ------------------------------------------------------------------------------------------

#: checkpoints whose held-out pseudo-fake AUC is within this of the best count as tied; the tie goes to the one
#: that flags the fewest held-out real videos
AUC_TIE = 0.005


def better(row: dict[str, Any], best: dict[str, Any]) -> bool:
    """Whether a validation ``row`` beats the best so far: pseudo-fake AUC first, then fewer real videos flagged.

    The probabilities are not calibrated for real footage (the fusion does that), so a real-video rate at a
    fixed level only breaks ties: as the primary criterion it preferred an untrained network (step 0).
    """
    if best.get("row") is None:
        return True
    b = best["row"]
    if row["pseudo_auc"] > b["pseudo_auc"] + AUC_TIE:
        return True
    if row["pseudo_auc"] < b["pseudo_auc"] - AUC_TIE:
        return False
    return row.get("real_video_fp", 0.0) < b.get("real_video_fp", 0.0) or (
        row.get("real_video_fp", 0.0) == b.get("real_video_fp", 0.0) and row["pseudo_auc"] > b["pseudo_auc"])


def _lr_factor(frac: float, warmup: float = 0.03) -> float:
    if frac < warmup:
        return max(frac / warmup, 0.01)
    return 0.5 * (1.0 + math.cos(math.pi * min(1.0, (frac - warmup) / (1.0 - warmup))))


def _batches(faces: FaceSet, train_idx: np.ndarray, config: FinetuneConfig, pool: Any | None) -> Any:
    """Endless training batches, each from its own seed (seed, k): the same with or without workers."""
    half = config.batch // 2
    seed = config.seed if config.data_seed is None else config.data_seed
    order_rng = np.random.default_rng(seed)

    def jobs() -> Any:
        k = 0
        while True:
            order = order_rng.permutation(train_idx)
            for s in range(0, len(order) - half + 1, half):
                yield (seed, k), order[s : s + half]
                k += 1

    if pool is None:
        return (make_batch(faces, idx, np.random.default_rng(job_seed), config)
                for job_seed, idx in jobs())
    return pool.imap(_batch_job, jobs(), chunksize=1)


def finetune(faces: FaceSet, config: FinetuneConfig, out_dir: Path, progress: Callable[[str], None] | None = None,
             command: str | None = None, n_val_only: int = 0) -> dict[str, Any]:
    """Fine-tune, keep the best validated checkpoint, write ONNX + manifest + logs; returns the metrics.

    The last ``n_val_only`` faces are held out whatever their group (e.g. the development set's real photos,
    kept unseen so still images can be judged on faces the network never trained on).
    """
    import torch

    from unmask_training.learned.backbones import BACKBONES, build
    from unmask_training.learned.onnx_export import sha256
    from unmask_training.learned.scoring import resolve_device

    say = progress or (lambda _m: None)
    if config.arch not in BACKBONES:
        raise UnmaskError(f"arch must be one of {', '.join(BACKBONES)}, got {config.arch!r}")
    if config.batch < 4 or config.batch % 2:
        raise UnmaskError(f"batch must be an even number of at least 4 (real + blend pairs), got {config.batch}")
    if not config.crop_zoom <= config.view_zoom:
        raise UnmaskError(f"crop zoom {config.crop_zoom} is wider than the cached views ({config.view_zoom})")
    device = resolve_device(config.device)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    torch.set_flush_denormal(True)
    torch.manual_seed(config.seed)
    real = np.flatnonzero(np.asarray(faces.labels) == 0)
    if len(real) != len(faces):
        raise UnmaskError("the face caches for fine-tuning must hold real faces only: fakes are a test, never training")
    if not 0 <= n_val_only < len(faces):
        raise UnmaskError(f"{n_val_only} validation-only faces of {len(faces)}: nothing left to train on")
    n_split = len(faces) - n_val_only
    train_idx, val_idx = split(faces, config, n_split)
    val_idx = np.r_[val_idx, np.arange(n_split, len(faces))]
    say(f"train faces {len(train_idx)} ({len(np.unique(faces.groups[train_idx]))} groups), "
        f"held out {len(val_idx)} ({len(np.unique(faces.groups[val_idx]))} groups)")
    val = ValidationSet.build(faces, val_idx, config)
    say(f"validation: {len(val.pair_labels) // 2} fixed pseudo-fake pairs, "
        f"{len(np.unique(val.video_sources))} held-out real videos")

    model = build(config.arch, config.size, pretrained=config.pretrained, bn_momentum=config.bn_momentum)
    if config.init:
        from unmask_training.learned.resume import load_folded

        calib_rng = np.random.default_rng(config.seed + 2000)
        calib, _ = make_batch(faces, calib_rng.choice(train_idx, min(64, len(train_idx)), replace=False), calib_rng,
                              config)
        diff = load_folded(model, Path(config.init), calib)
        say(f"continuing from {config.init} (BatchNorm recalibrated on {len(calib)} images; "
            f"max logit difference to the file {diff:.2g})")
    model = model.to(device)
    head = [p for n, p in model.named_parameters() if n.startswith("head.")]
    body = [p for n, p in model.named_parameters() if not n.startswith("head.")]
    opt = torch.optim.AdamW([{"params": body, "scale": 1.0}, {"params": head, "scale": 10.0}],
                            lr=config.lr, weight_decay=config.weight_decay)
    bce = torch.nn.BCEWithLogitsLoss()
    budget_s = config.max_minutes * 60.0
    planned = config.steps or 10**9
    pool = None
    if config.workers:
        import multiprocessing as mp

        pool = mp.get_context("spawn").Pool(config.workers, initializer=_init_worker, initargs=(faces, config))
    evals: list[dict[str, Any]] = []
    best: dict[str, Any] = {"row": None, "state": None, "step": 0}
    step, seen, t0 = 0, 0, time.monotonic()
    val_s = 0.0
    stopped_by = "steps"

    def validate() -> None:
        nonlocal val_s
        tv = time.monotonic()
        row = {"step": step, **val.evaluate(model, device), "elapsed_s": round(time.monotonic() - t0, 1)}
        val_s += time.monotonic() - tv
        evals.append(row)
        if better(row, best):
            best.update(row=row, step=step, state={k: v.detach().cpu().clone() for k, v in model.state_dict().items()})
        say(f"step {step}/{planned}: pseudo-fake AUC {row['pseudo_auc']:.3f}, held-out real videos flagged "
            f"{row.get('real_video_fp', float('nan')):.2f} (median {row.get('real_video_median', float('nan')):.2f}), "
            f"{row['elapsed_s']:.0f} s")

    with open(out_dir / "loss.csv", "w", newline="") as fh, (pool or contextlib.nullcontext()):
        log = csv.writer(fh)
        log.writerow(["step", "loss", "lr", "elapsed_s"])
        validate()  # step 0: the ImageNet features with an untrained head, as a floor
        model.train()
        for imgs, y in _batches(faces, train_idx, config, pool):
            if step >= planned:
                break
            frac = step / planned if config.steps else (time.monotonic() - t0) / budget_s
            lr = config.lr * _lr_factor(frac)
            for g in opt.param_groups:
                g["lr"] = lr * g["scale"]
            x = torch.from_numpy(imgs.transpose(0, 3, 1, 2).astype(np.float32)).to(device)
            logit, _ = model(x)
            loss = bce(logit, torch.from_numpy(y).to(device))
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            step += 1
            seen += len(y)
            log.writerow([step, f"{loss.item():.5f}", f"{lr:.6g}", round(time.monotonic() - t0, 1)])
            if step % 20 == 0:
                fh.flush()
            if step % config.val_every == 0:
                validate()
                model.train()
            if time.monotonic() - t0 > budget_s:
                stopped_by = "time"
                break
        if not evals or evals[-1]["step"] != step:
            validate()
    wall_s = time.monotonic() - t0

    model = model.cpu()
    model.load_state_dict(best["state"])
    model.eval()
    torch.save(model.state_dict(), out_dir / "blend_cnn.pt")
    onnx_path = out_dir / ONNX_NAME
    export_onnx(model, onnx_path, config.size)
    from unmask_training.learned.onnx_export import check_onnx

    max_diff = check_onnx(model, onnx_path, val.pair_images[:8])
    chosen = next(e for e in evals if e["step"] == best["step"])
    spec = BACKBONES[config.arch]
    metrics = {
        "evaluations": evals, "best_step": best["step"], "best": chosen,
        "selected_on": (f"held-out pseudo-fake AUC; within {AUC_TIE} of the best, fewer held-out real videos with a "
                        f"top-quarter probability >= {VAL_FP_LEVEL}"),
        "wall_s": round(wall_s, 1), "validation_s": round(val_s, 1), "steps": step, "images_seen": seen,
        "images_per_s": round(seen / max(wall_s - val_s, 1e-6), 2), "stopped_by": stopped_by,
        "onnx_max_abs_diff": max_diff, "config": asdict(config),
        "data": {"train": {"faces": int(len(train_idx)), "by_origin": _source_counts(faces, train_idx)},
                 "val_groups": sorted({str(g) for g in np.asarray(faces.groups)[val_idx]}),
                 "val_sources": sorted({str(s) for s in np.asarray(faces.sources)[val_idx]})},
    }
    (out_dir / "metrics.json").write_text(json.dumps(metrics, indent=2))
    manifest = {
        "name": "blend_cnn",
        "version": _dt.datetime.now(_dt.UTC).strftime("%Y.%m.%d"),
        "sha256": sha256(onnx_path),
        "architecture": (f"{config.arch} "
                         f"({'ImageNet-pretrained: ' + spec.licence if config.pretrained else 'random init'}) "
                         "+ 1x1-convolution logit head whose mean is the logit (class-activation map); "
                         f"{sum(p.numel() for p in model.parameters())} params"),
        "input": {"kind": "view", "size": config.size, "view_size": int(np.asarray(faces.images).shape[1]),
                  "view_zoom": config.view_zoom, "crop_zoom": config.crop_zoom, "layout": "NCHW",
                  "range": "0-255 RGB",
                  "face_alignment": (f"unmask.faces.align.face_view(obs, {int(np.asarray(faces.images).shape[1])}, "
                                     f"{config.view_zoom}), then unmask.learned.runtime.crop_views(views, "
                                     f"{config.view_zoom}, {config.crop_zoom}, {config.size})")},
        "outputs": {"logit": "(N,) manipulation logit; sigmoid = probability",
                    "cam": f"(N,1,{config.size // 32},{config.size // 32}) class-activation logits; "
                           "their mean is the logit"},
        "backbone": {"arch": config.arch, "weights": f"{spec.package}/{spec.weights}", "sha256": spec.sha256,
                     "install": spec.pip},
        **({"continued_from": _parent(Path(config.init))} if config.init else {}),
        "training_command": command or f"unmask_training.learned.finetune.finetune(config={asdict(config)})",
        "data": {"train": {"faces": int(len(train_idx)), "groups": int(len(np.unique(faces.groups[train_idx]))),
                           "by_origin": _source_counts(faces, train_idx)},
                 "val": {"faces": int(len(val_idx)), "groups": int(len(np.unique(faces.groups[val_idx]))),
                         "by_origin": _source_counts(faces, val_idx), "named_groups": list(config.val_groups)},
                 "terms": ("real faces only: LFW (research), UTKFace and SCUT-FBP5500 (non-commercial research), "
                           "Face-Mask-Detection unmasked photos (terms unclear), real videos of ../shared/data "
                           "(research-only); the weights are the project's own (Apache-2.0)")},
        "validation": {k: chosen.get(k) for k in ("step", "pseudo_auc", "real_video_fp", "real_video_median",
                                                  "real_videos")},
        "seed": config.seed,
        "licence": "Apache-2.0 (the project's own weights)",
        "created": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
    }
    (out_dir / MANIFEST_NAME).write_text(json.dumps(manifest, indent=2))
    say(f"kept step {best['step']}: pseudo-fake AUC {chosen['pseudo_auc']:.3f}, held-out real videos flagged "
        f"{chosen.get('real_video_fp', float('nan')):.2f}; wrote {onnx_path}")
    return metrics


def _parent(onnx_path: Path) -> dict[str, Any]:
    """What a continued run started from: the file's sha256 and, from its manifest, how that was made."""
    from unmask_training.learned.onnx_export import sha256

    parent: dict[str, Any] = {"onnx": str(onnx_path), "sha256": sha256(onnx_path)}
    manifest = onnx_path.with_name(MANIFEST_NAME)
    if manifest.is_file():
        m = json.loads(manifest.read_text())
        parent.update({k: m.get(k) for k in ("version", "training_command", "continued_from") if m.get(k)})
    return parent


def _source_counts(faces: FaceSet, idx: np.ndarray) -> dict[str, int]:
    """Faces per top folder of their source path (the dataset they came from)."""
    counts: dict[str, int] = {}
    for i in idx:
        parts = Path(str(faces.sources[i])).parts
        key = "/".join(parts[:3]) if parts and parts[0] == "media" else parts[0] if parts else "?"
        counts[key] = counts.get(key, 0) + 1
    return dict(sorted(counts.items()))


def export_onnx(model: Any, path: Path, size: int) -> None:
    """Opset-17 ONNX with outputs ``logit`` and ``cam`` and a dynamic batch axis."""
    import torch

    from unmask.errors import ModelError

    model.eval()
    try:
        torch.onnx.export(model, torch.zeros(1, 3, size, size), str(path), dynamo=False, opset_version=17,
                          input_names=["image"], output_names=["logit", "cam"],
                          dynamic_axes={"image": {0: "batch"}, "logit": {0: "batch"}, "cam": {0: "batch"}})
    except Exception as e:  # torch.onnx raises many unrelated types
        raise ModelError(f"ONNX export to {path} failed: {e}") from e
