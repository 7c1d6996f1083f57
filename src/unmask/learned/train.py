"""Train BlendNet on self-blended real faces and export it as ONNX with a manifest.

Only real faces are trained on: the fakes are made on the fly (SBI / Face
X-ray), so the detector learns blend artifacts rather than one generator's
fingerprint. Real deepfakes, when given, are used for validation only.
Social-media degradations hit both classes alike so compression or blur is
never a shortcut to the label.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import datetime as _dt
import json
import math
import shlex
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

import numpy as np

from unmask.errors import ModelError, UnmaskError

if TYPE_CHECKING:
    from unmask.learned.dataset import FaceSet
    from unmask.learned.sbi import PseudoFake

SampleFn = Callable[[np.ndarray, np.ndarray, np.random.Generator, float], "PseudoFake"]

ONNX_NAME = "blend_cnn.onnx"
MANIFEST_NAME = "blend_cnn.json"
VAL_FAKE_LIMIT = 4000  # cap on real-deepfake validation faces, to keep epochs cheap


@dataclass(frozen=True)
class TrainConfig:
    size: int = 128
    batch: int = 32
    epochs: int = 30
    max_minutes: float = 25.0
    lr: float = 1e-3
    weight_decay: float = 1e-4
    seed: int = 0
    val_fraction: float = 0.25
    boundary_weight: float = 1.0
    p_fake: float = 0.5
    #: "cpu", "cuda" or "auto" (cuda when torch sees a GPU); results match across devices up to float rounding
    device: str = "cpu"
    #: processes making pseudo-fakes in parallel (0: in the training process). On a GPU machine the
    #: self-blends, not the network, are the bottleneck: give them the spare cores.
    workers: int = 0
    #: fixed high-pass residual input channels (see model.BlendNet)
    highpass: bool = False
    #: fraction of the run over which social-media damage ramps from none to full (0: full from the start).
    #: A network from scratch finds seams on clean blends first; JPEG and blur from step 0 hide them.
    curriculum: float = 0.0
    #: real groups held out for validation (empty: a seeded random split). Holding out the real sources of
    #: the development swaps (DFDC, FF++ originals) makes the video-level check domain-matched.
    val_groups: tuple[str, ...] = ()
    #: > 0: train on random ``patch`` x ``patch`` crops of the face at full crop resolution (``size`` is then
    #: the whole face the network sees at validation and in a scan). Shrinking a 256 px face to 128 px
    #: erases a x2 resolution drop, half of what a self-blend changes; a crop keeps every pixel at the
    #: cost of one. A patch is labelled fake only if it holds part of the seam.
    patch: int = 0
    #: "blendnet" (the whole aligned face) or "polar" (the outline band unwrapped into a strip, ``learned.polar``)
    arch: str = "blendnet"
    #: share of real samples changed as a whole like a blend's source (colour, resolution, sharpening), so a
    #: uniformly soft or sharp face is real: without it a network learns "low quality = fake"
    p_real_transformed: float = 0.0


# --- augmentation ----------------------------------------------------------------------------------

def degrade(img: np.ndarray, rng: np.random.Generator, strength: float = 1.0) -> np.ndarray:
    """Social-media style damage at the face's native size: colour, rescale, blur, noise, JPEG.

    ``strength`` scales how often each kind of damage is applied (the curriculum); at 1 the random
    draws are the same as ever, so seeded runs reproduce.
    """
    import cv2

    out = img
    k = float(strength)
    if rng.random() < 0.5 * k:  # small colour jitter: contrast, brightness, saturation
        f = out.astype(np.float32)
        f = (f - 128.0) * rng.uniform(0.85, 1.15) + 128.0 + rng.uniform(-15, 15)
        grey = f.mean(axis=2, keepdims=True)
        f = grey + (f - grey) * rng.uniform(0.8, 1.2)
        out = np.clip(f, 0, 255).astype(np.uint8)
    h, w = out.shape[:2]
    if rng.random() < 0.3 * k:  # down-then-up scale
        s = rng.uniform(0.5, 1.0)
        small = cv2.resize(out, (max(8, int(w * s)), max(8, int(h * s))), interpolation=cv2.INTER_AREA)
        out = cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR)
    if rng.random() < 0.2 * k:
        out = cv2.GaussianBlur(out, (0, 0), rng.uniform(0.3, 1.2))
    if rng.random() < 0.2 * k:
        noise = rng.normal(0.0, rng.uniform(1.0, 6.0), out.shape)
        out = np.clip(out.astype(np.float32) + noise, 0, 255).astype(np.uint8)
    if rng.random() < 0.7 * k:
        q = int(rng.integers(30, 96))
        ok, buf = cv2.imencode(".jpg", cv2.cvtColor(out, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, q])
        if ok:
            out = cv2.cvtColor(cv2.imdecode(buf, cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)
    return np.ascontiguousarray(out)


def crop_resize(
    img: np.ndarray, boundary: np.ndarray, size: int, rng: np.random.Generator | None
) -> tuple[np.ndarray, np.ndarray]:
    """Random-resized-crop jitter plus flip (both maps alike), then the network size; rng None = centre."""
    import cv2

    h, w = img.shape[:2]
    if rng is not None:
        side = rng.uniform(0.85, 1.0) * min(h, w)
        x0 = rng.uniform(0, w - side)
        y0 = rng.uniform(0, h - side)
        x, y, s = int(round(x0)), int(round(y0)), max(8, int(round(side)))
        img, boundary = img[y : y + s, x : x + s], boundary[y : y + s, x : x + s]
        if rng.random() < 0.5:
            img, boundary = img[:, ::-1], boundary[:, ::-1]
    interp = cv2.INTER_AREA if img.shape[0] > size else cv2.INTER_LINEAR
    img = cv2.resize(np.ascontiguousarray(img), (size, size), interpolation=interp)
    q = max(1, size // 4)
    bmap = cv2.resize(np.ascontiguousarray(boundary, dtype=np.float32), (q, q), interpolation=cv2.INTER_AREA)
    return img, np.clip(bmap, 0.0, 1.0)


#: a self-blended patch counts as fake when its strongest boundary value reaches this (it shows the seam)
PATCH_SEAM_MIN = 0.3


def random_patch(
    img: np.ndarray, boundary: np.ndarray, patch: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray, bool]:
    """A random patch x patch crop (both maps alike) plus flip, at full resolution; also whether it holds the seam."""
    import cv2

    h, w = img.shape[:2]
    if h < patch or w < patch:
        raise UnmaskError(f"patch {patch} is larger than the face crop ({w}x{h})")
    y, x = int(rng.integers(0, h - patch + 1)), int(rng.integers(0, w - patch + 1))
    img, boundary = img[y : y + patch, x : x + patch], boundary[y : y + patch, x : x + patch]
    if rng.random() < 0.5:
        img, boundary = img[:, ::-1], boundary[:, ::-1]
    q = max(1, patch // 4)
    bmap = cv2.resize(np.ascontiguousarray(boundary, dtype=np.float32), (q, q), interpolation=cv2.INTER_AREA)
    return np.ascontiguousarray(img), np.clip(bmap, 0.0, 1.0), bool(boundary.max() >= PATCH_SEAM_MIN)


ARCHES = ("blendnet", "polar")


def _default_sampler(p_real_transformed: float = 0.0) -> SampleFn:
    from unmask.learned.sbi import make_sample

    if p_real_transformed > 0.0:
        import functools

        return functools.partial(make_sample, p_real_transformed=p_real_transformed)
    return make_sample


def at_native_scale(
    face: np.ndarray, landmarks: np.ndarray, native: float, rng: np.random.Generator, sample: SampleFn, p_fake: float,
    augment: bool, strength: float = 1.0,
) -> tuple[np.ndarray, int, np.ndarray]:
    """A training sample made at the resolution the frame had, then upscaled as the face crop was.

    A small face fills the 256 px crop only after upscaling, which leaves it no fine detail: a
    resolution drop made on the crop would remove nothing, and the network would learn
    pseudo-fakes it cannot see. So the face goes back to its native size (``native`` < 1),
    is blended and degraded there, and comes back up with the crop's own interpolation.
    """
    import cv2

    side = face.shape[0]
    f = float(min(1.0, native))
    if f < 0.9:
        n = max(48, int(round(side * f)))
        small = cv2.resize(face, (n, n), interpolation=cv2.INTER_AREA)
        s = sample(small, landmarks * (n / side), rng, p_fake)
        img = degrade(s.image, rng, strength) if augment else s.image
        img = cv2.resize(img, (side, side), interpolation=cv2.INTER_LINEAR)
        bmap = cv2.resize(s.boundary, (side, side), interpolation=cv2.INTER_LINEAR)
        return img, s.label, bmap
    s = sample(face, landmarks, rng, p_fake)
    return (degrade(s.image, rng, strength) if augment else s.image), s.label, s.boundary


def make_batch(
    faces: FaceSet, idx: np.ndarray, size: int, rng: np.random.Generator, sample: SampleFn, p_fake: float, augment: bool,
    strength: float = 1.0, patch: int = 0, arch: str = "blendnet",
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(images N×size×size×3 uint8, labels N float32, boundary N×size/4×size/4 float32) for faces[idx].

    With ``patch`` and ``augment``, images are patch-sized full-resolution crops labelled by whether they
    show the seam; validation (``augment`` False) always sees the whole face at ``size``. With ``arch``
    "polar", images are outline strips (``learned.polar``) and the maps their coarse seam maps.
    """
    imgs, labels, maps = [], [], []
    native = np.asarray(faces.native)
    for i in idx:
        img, label, boundary = at_native_scale(faces.images[i], faces.landmarks[i], float(native[i]), rng, sample,
                                               p_fake, augment, strength)
        if arch == "polar":
            img, bmap = polar_sample(img, boundary, faces.landmarks[i], rng if augment else None)
        elif patch and augment:
            img, bmap, seam = random_patch(img, boundary, patch, rng)
            label = int(label and seam)
        else:
            img, bmap = crop_resize(img, boundary, size, rng if augment else None)
        imgs.append(img)
        labels.append(float(label))
        maps.append(bmap)
    return np.stack(imgs), np.array(labels, np.float32), np.stack(maps)


def polar_sample(img: np.ndarray, boundary: np.ndarray, landmarks: np.ndarray,
                 rng: np.random.Generator | None) -> tuple[np.ndarray, np.ndarray]:
    """A face and its boundary map as an outline strip and a coarse seam map; with ``rng``, mirrored and jittered."""
    import cv2

    from unmask.learned.polar import MAP_SHAPE, mirror, unwrap

    scale, shift = 1.0, (0.0, 0.0)
    if rng is not None:
        if rng.random() < 0.5:
            img, landmarks = mirror(img, landmarks)
            boundary = np.ascontiguousarray(boundary[:, ::-1])
        scale = float(rng.uniform(0.95, 1.05))
        shift = (float(rng.uniform(-0.03, 0.03)), float(rng.uniform(-0.03, 0.03)))
    strip = unwrap(img, landmarks, scale, shift)
    seam = unwrap(np.ascontiguousarray(boundary, dtype=np.float32), landmarks, scale, shift)
    bmap = cv2.resize(seam, (MAP_SHAPE[1], MAP_SHAPE[0]), interpolation=cv2.INTER_AREA)
    return strip, np.clip(bmap, 0.0, 1.0)


def model_inputs(faces: FaceSet, idx: np.ndarray, config: TrainConfig) -> np.ndarray:
    """What the network sees of faces[idx] when scoring (no augmentation): resized faces, or outline strips."""
    images = np.asarray(faces.images)[idx]
    if config.arch == "polar":
        from unmask.learned.polar import unwrap_all

        return unwrap_all(images, np.asarray(faces.landmarks)[idx])
    zeros = np.zeros(images.shape[1:3], np.float32)
    return np.stack([crop_resize(im, zeros, config.size, None)[0] for im in images]) if len(images) else images


# --- metrics -----------------------------------------------------------------------------------------

def _auc(y: np.ndarray, score: np.ndarray) -> float | None:
    if len(np.unique(y)) < 2:
        return None
    from sklearn.metrics import roc_auc_score

    return float(roc_auc_score(y, score))


def _predict(model: Any, images: np.ndarray, batch: int = 64, device: str = "cpu") -> np.ndarray:
    import torch

    model.eval()
    out = []
    with torch.no_grad():
        for k in range(0, len(images), batch):
            x = torch.from_numpy(images[k : k + batch].transpose(0, 3, 1, 2).astype(np.float32)).to(device)
            out.append(model(x)[0].float().cpu().numpy())
    return np.concatenate(out) if out else np.zeros(0, np.float32)


def _resolve_device(name: str) -> str:
    import torch

    if name == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if name == "cuda" and not torch.cuda.is_available():
        raise UnmaskError("device 'cuda' asked for, but torch sees no GPU (use --device cpu or auto)")
    if name not in ("cpu", "cuda"):
        raise UnmaskError(f"device must be cpu, cuda or auto, got {name!r}")
    return name


# --- batches, in this process or in a pool of workers ---------------------------------------------------

_WORKER: dict[str, Any] = {}  # set once per pool worker process by _init_worker


def _init_worker(faces: FaceSet, size: int, sample: SampleFn, p_fake: float, patch: int = 0,
                 arch: str = "blendnet") -> None:
    import cv2

    cv2.setNumThreads(1)  # one process per core already; OpenCV's own threads would oversubscribe them
    _WORKER.update(faces=faces, size=size, sample=sample, p_fake=p_fake, patch=patch, arch=arch)


def _batch_job(job: tuple[tuple[int, int, int], np.ndarray, float]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    seed, idx, strength = job
    w = _WORKER
    return make_batch(w["faces"], idx, w["size"], np.random.default_rng(seed), w["sample"], w["p_fake"], augment=True,
                      strength=strength, patch=w["patch"], arch=w["arch"])


def damage_strength(epoch: int, planned_epochs: int, curriculum: float) -> float:
    """How much social-media damage epoch ``epoch`` gets: a linear ramp over the first ``curriculum`` of the run."""
    if curriculum <= 0.0:
        return 1.0
    return float(min(1.0, (epoch / max(1, planned_epochs)) / curriculum))


def _epoch_batches(faces: FaceSet, order: np.ndarray, epoch: int, config: TrainConfig, sample: SampleFn,
                   pool: Any | None, strength: float = 1.0) -> Any:
    """Training batches of one epoch, each from its own seed (seed, epoch, k): the same with or without workers."""
    jobs = [((config.seed, epoch, k), order[k : k + config.batch], strength) for k in range(0, len(order), config.batch)]
    jobs = [j for j in jobs if len(j[1]) >= 2]  # BatchNorm needs more than one sample
    if pool is None:
        return (make_batch(faces, idx, config.size, np.random.default_rng(seed), sample, config.p_fake, augment=True,
                           strength=st, patch=config.patch, arch=config.arch)
                for seed, idx, st in jobs)
    return pool.imap(_batch_job, jobs, chunksize=1)


# --- training ----------------------------------------------------------------------------------------

def _lr_factor(frac: float, warmup: float = 0.03) -> float:
    """Linear warm-up then cosine to zero over the run's progress fraction."""
    if frac < warmup:
        return max(frac / warmup, 0.01)
    return 0.5 * (1.0 + math.cos(math.pi * min(1.0, (frac - warmup) / (1.0 - warmup))))


def _data_list(faces: FaceSet, idx: np.ndarray) -> list[dict[str, Any]]:
    pairs: dict[tuple[str, str], int] = {}
    for i in idx:
        key = (str(faces.sources[i]), str(faces.groups[i]))
        pairs[key] = pairs.get(key, 0) + 1
    return [{"source": s, "group": g, "faces": n} for (s, g), n in sorted(pairs.items())]


def _group_counts(faces: FaceSet, idx: np.ndarray) -> dict[str, int]:
    names, counts = np.unique(np.asarray(faces.groups)[idx].astype(str), return_counts=True)
    return {str(n): int(c) for n, c in zip(names, counts)}


def train(
    real: FaceSet,
    fake_val: FaceSet | None,
    config: TrainConfig,
    out_dir: Path,
    progress: Callable[[str], None] | None = None,
    *,
    sample_fn: SampleFn | None = None,
    command: str | None = None,
) -> dict:
    """Train, keep the best epoch by held-out pseudo-fake AUC, write ONNX + manifest + logs; returns metrics.

    Deterministic given ``config.seed`` when ``max_minutes`` fits all epochs.
    Otherwise the cosine schedule is re-planned after epoch 0 to the number
    of epochs the budget fits (so it still anneals), which depends on machine
    speed; a hard stop at ``max_minutes`` remains as a backstop.
    ``sample_fn`` replaces ``sbi.make_sample`` (tests use a stub).
    """
    import torch

    from unmask.learned.dataset import split_by_group
    from unmask.learned.model import BlendNet, architecture, count_parameters
    from unmask.learned.polar_net import ARCHITECTURE as POLAR_ARCHITECTURE
    from unmask.learned.polar_net import PolarNet

    say = progress or (lambda _m: None)
    if config.arch not in ARCHES:
        raise UnmaskError(f"arch must be one of {', '.join(ARCHES)}, got {config.arch!r}")
    if config.arch == "polar" and (config.patch or config.highpass):
        raise UnmaskError("patch and highpass apply to the blendnet arch only")
    if not 0.0 <= config.p_real_transformed <= 1.0:
        raise UnmaskError(f"p_real_transformed must be in [0, 1], got {config.p_real_transformed}")
    sample = sample_fn or _default_sampler(config.p_real_transformed)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    if len(real) < 4:
        raise UnmaskError(f"need at least 4 real faces to train, got {len(real)}")
    if config.size % 4 or config.size < 32:
        raise UnmaskError(f"size must be a multiple of 4 and >= 32, got {config.size}")
    if config.patch and (config.patch % 4 or config.patch < 32 or config.patch > config.size):
        raise UnmaskError(f"patch must be a multiple of 4, >= 32 and <= size ({config.size}), got {config.patch}")
    if config.workers < 0:
        raise UnmaskError(f"workers must be 0 or more, got {config.workers}")
    if not 0.0 <= config.curriculum <= 1.0:
        raise UnmaskError(f"curriculum must be in [0, 1], got {config.curriculum}")
    device = _resolve_device(config.device)

    torch.set_flush_denormal(True)
    torch.manual_seed(config.seed)
    rng = np.random.default_rng(config.seed)
    real_labels = np.asarray(real.labels)
    real_only = np.flatnonzero(real_labels == 0)
    if len(np.unique(np.asarray(real.groups)[real_only])) < 2:
        raise UnmaskError("need real faces from at least two groups to hold some out for validation")
    real_groups = np.asarray(real.groups)[real_only].astype(str)
    if config.val_groups:
        unknown = sorted(set(config.val_groups) - set(real_groups))
        if unknown:
            raise UnmaskError(f"val_groups not among the real faces' groups: {', '.join(unknown)}")
        va_sub = np.flatnonzero(np.isin(real_groups, list(config.val_groups)))
        tr_sub = np.flatnonzero(~np.isin(real_groups, list(config.val_groups)))
        if not len(tr_sub):
            raise UnmaskError("val_groups hold out every real face: nothing left to train on")
    else:
        tr_sub, va_sub = split_by_group(real_groups, config.val_fraction, config.seed)
    train_idx, val_idx = real_only[tr_sub], real_only[va_sub]
    say(f"train faces {len(train_idx)} ({len(np.unique(real.groups[train_idx]))} groups), "
        f"val faces {len(val_idx)} ({len(np.unique(real.groups[val_idx]))} groups)")

    # Fixed validation sets: pseudo-fakes from a fixed seed, no augmentation, so epochs compare.
    pv_img, pv_y, _ = make_batch(real, val_idx, config.size, np.random.default_rng(config.seed + 1000), sample,
                                 config.p_fake, augment=False, arch=config.arch)
    real_val_img = model_inputs(real, val_idx, config)
    fake_img = np.zeros((0, *real_val_img.shape[1:]), np.uint8)
    fake_in_val_groups = np.zeros(0, bool)
    if fake_val is not None and len(fake_val):
        fidx = np.flatnonzero(np.asarray(fake_val.labels) == 1)
        if len(fidx) > VAL_FAKE_LIMIT:
            fidx = np.sort(np.random.default_rng(config.seed + 2000).choice(fidx, VAL_FAKE_LIMIT, replace=False))
        fake_img = model_inputs(fake_val, fidx, config)
        # Group-matched subset: fakes from the held-out groups, so source/domain cannot stand in for the label.
        fake_in_val_groups = np.isin(np.asarray(fake_val.groups)[fidx].astype(str),
                                     np.asarray(real.groups)[val_idx].astype(str))

    model = (PolarNet() if config.arch == "polar" else BlendNet(highpass=config.highpass)).to(device)
    # PolarNet's map is its class activation map, not a trained head: no map loss
    map_weight = config.boundary_weight if config.arch == "blendnet" else 0.0
    if device == "cuda":
        torch.backends.cudnn.benchmark = True
    opt = torch.optim.AdamW(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    bce = torch.nn.BCEWithLogitsLoss()
    steps_per_epoch = max(1, math.ceil(len(train_idx) / config.batch))
    planned_epochs = config.epochs  # cut after epoch 0 if the time budget cannot fit them all
    budget_s = config.max_minutes * 60.0
    say(f"{type(model).__name__} {count_parameters(model) / 1e6:.2f} M params on {device}, {steps_per_epoch} steps/epoch, "
        f"up to {config.epochs} epochs or {config.max_minutes:g} min"
        + (f", {config.workers} batch workers" if config.workers else ""))
    pool = None
    if config.workers:
        import multiprocessing as mp

        # spawn, not fork: a child forked from a process whose OpenCV thread pool is running can deadlock
        # in its first cv2 call (seen here: the pool hung). The faces are pickled once per worker.
        ctx = mp.get_context("spawn")
        pool = ctx.Pool(config.workers, initializer=_init_worker, initargs=(real, config.size, sample, config.p_fake,
                                                                                config.patch, config.arch))

    epochs: list[dict[str, Any]] = []
    best: dict[str, Any] = {"score": -1.0, "epoch": None, "state": None}
    step = 0
    seen = 0
    train_s = 0.0
    t0 = time.monotonic()
    out_of_time = False
    # a Pool's __exit__ terminates its workers, also when training fails
    with open(out_dir / "loss.csv", "w", newline="") as fh, (pool or contextlib.nullcontext()):
        log = csv.writer(fh)
        log.writerow(["step", "epoch", "loss", "cls_loss", "map_loss", "lr"])
        for epoch in range(config.epochs):
            model.train()
            order = rng.permutation(train_idx)
            te = time.monotonic()
            strength = damage_strength(epoch, planned_epochs, config.curriculum)
            for imgs, y, maps in _epoch_batches(real, order, epoch, config, sample, pool, strength):
                lr = config.lr * _lr_factor(step / (planned_epochs * steps_per_epoch))
                for g in opt.param_groups:
                    g["lr"] = lr
                x = torch.from_numpy(imgs.transpose(0, 3, 1, 2).astype(np.float32)).to(device, non_blocking=True)
                logit, bmap = model(x)
                cls_loss = bce(logit, torch.from_numpy(y).to(device))
                map_loss = bce(bmap[:, 0], torch.from_numpy(maps).to(device))
                loss = cls_loss + map_weight * map_loss
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                step += 1
                seen += len(y)
                log.writerow([step, epoch, f"{loss.item():.5f}", f"{cls_loss.item():.5f}", f"{map_loss.item():.5f}",
                              f"{lr:.6g}"])
                if time.monotonic() - t0 > budget_s:
                    out_of_time = True
                    break
            train_s += time.monotonic() - te
            fh.flush()

            pseudo_auc = _auc(pv_y, _predict(model, pv_img, device=device))
            fake_auc = fake_auc_matched = None
            if len(fake_img):
                scores = _predict(model, np.concatenate([real_val_img, fake_img]), device=device)
                real_s, fake_s = scores[: len(real_val_img)], scores[len(real_val_img) :]
                fake_auc = _auc(np.r_[np.zeros(len(real_s)), np.ones(len(fake_s))], np.r_[real_s, fake_s])
                if fake_in_val_groups.any():
                    matched = fake_s[fake_in_val_groups]
                    fake_auc_matched = _auc(np.r_[np.zeros(len(real_s)), np.ones(len(matched))], np.r_[real_s, matched])
            row = {"epoch": epoch, "step": step, "pseudo_auc": pseudo_auc, "fake_auc": fake_auc,
                   "fake_auc_val_groups": fake_auc_matched, "elapsed_s": round(time.monotonic() - t0, 1)}
            epochs.append(row)
            score = pseudo_auc if pseudo_auc is not None else -1.0
            if best["state"] is None or score > best["score"]:
                best = {"score": score, "epoch": epoch, "state": {k: v.detach().cpu().clone() for k, v in model.state_dict().items()}}
            say(f"epoch {epoch}: pseudo-fake AUC {_fmt(pseudo_auc)}, deepfake AUC {_fmt(fake_auc)} "
                f"(held-out groups only {_fmt(fake_auc_matched)}), "
                f"{row['elapsed_s']:.0f} s" + (" (time budget reached)" if out_of_time else ""))
            if out_of_time:
                break
            if epoch == 0:
                # Plan the cosine schedule once, from epoch 0's cost (training + validation), so a run
                # that fits its budget is reproducible and one that does not still anneals to the end.
                fits = int(budget_s // max(time.monotonic() - t0, 1e-6))
                if fits < config.epochs:
                    planned_epochs = max(1, fits)
                    say(f"time budget fits about {planned_epochs} of {config.epochs} epochs; schedule shortened")
            if epoch + 1 >= planned_epochs:
                break

    wall_s = time.monotonic() - t0
    model = model.cpu()  # export and the ONNX check run on the CPU, whatever trained
    model.load_state_dict(best["state"])
    model.eval()
    torch.save(model.state_dict(), out_dir / "blend_cnn.pt")
    onnx_path = out_dir / ONNX_NAME
    export_onnx(model, onnx_path, tuple(pv_img.shape[1:3]))
    max_diff = _check_onnx(model, onnx_path, pv_img[:8])
    best_row = epochs[best["epoch"]]
    metrics = {
        "epochs": epochs,
        "best_epoch": best["epoch"],
        "best": best_row,
        "selected_on": "pseudo_auc (held-out real groups, fixed-seed self-blends)",
        "wall_s": round(wall_s, 1),
        "train_s": round(train_s, 1),
        "steps": step,
        "images_seen": seen,
        "images_per_s": round(seen / train_s, 2) if train_s > 0 else None,
        "stopped_by": "time" if out_of_time else "epochs",
        "planned_epochs": planned_epochs,
        "onnx_max_abs_diff": max_diff,
        "params": count_parameters(model),
        "config": asdict(config),
        "n_val_fakes": int(len(fake_img)),
        "n_val_fakes_in_val_groups": int(fake_in_val_groups.sum()),
        "data": {"train": _data_list(real, train_idx), "val": _data_list(real, val_idx),
                 "val_fake": _data_list(fake_val, np.flatnonzero(np.asarray(fake_val.labels) == 1))
                 if fake_val is not None and len(fake_val) else []},
    }
    (out_dir / "metrics.json").write_text(json.dumps(metrics, indent=2))
    manifest = {
        "name": "blend_cnn",
        "version": _dt.datetime.now(_dt.timezone.utc).strftime("%Y.%m.%d"),
        "sha256": _sha256(onnx_path),
        "architecture": (POLAR_ARCHITECTURE if config.arch == "polar" else architecture(config.highpass))
        + f"; {count_parameters(model)} params",
        "input": _input_spec(config, int(np.asarray(real.images).shape[1])),
        "outputs": {"logit": "(N,) fake logit; sigmoid = probability",
                    "boundary": ("(N,1,6,8) seam class-activation logits along the outline strip"
                                 if config.arch == "polar" else
                                 f"(N,1,{config.size // 4},{config.size // 4}) blend-boundary logits")},
        "training_command": command or f"unmask.learned.train.train(config={asdict(config)})",
        "data": {
            "train": {"faces": int(len(train_idx)), "sources": len(_data_list(real, train_idx)),
                      "groups": _group_counts(real, train_idx)},
            "val": {"faces": int(len(val_idx)), "sources": len(_data_list(real, val_idx)),
                    "groups": _group_counts(real, val_idx), "fake_faces": int(len(fake_img))},
        },
        "validation": {"best_epoch": best["epoch"], "pseudo_auc": best_row["pseudo_auc"],
                       "fake_auc": best_row["fake_auc"], "fake_auc_val_groups": best_row["fake_auc_val_groups"],
                       "n_fake_val_groups": int(fake_in_val_groups.sum()), "selected_on": "pseudo_auc"},
        "seed": config.seed,
        "licence": "Apache-2.0 (the project's own weights)",
        "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
    }
    (out_dir / MANIFEST_NAME).write_text(json.dumps(manifest, indent=2))
    say(f"best epoch {best['epoch']}: pseudo-fake AUC {_fmt(best_row['pseudo_auc'])}, "
        f"deepfake AUC {_fmt(best_row['fake_auc'])}; "
        f"wrote {onnx_path}")
    return metrics


def _fmt(x: float | None) -> str:
    return "n/a" if x is None else f"{x:.3f}"


def _sha256(path: Path) -> str:
    from unmask.learned.runtime import file_sha256

    return file_sha256(path)


def _input_spec(config: TrainConfig, face_side: int) -> dict[str, Any]:
    """The manifest's input block: what the runtime must feed the network."""
    align = f"unmask.faces.align.align_face(obs, {face_side})"
    if config.arch == "polar":
        from unmask.learned import polar

        return {"kind": "polar", "size": face_side, "shape": [polar.N_RADII, polar.N_ANGLES], "layout": "NCHW",
                "range": "0-255 RGB", "radii": [polar.R_MIN, polar.R_MAX],
                "face_alignment": f"{align}, then unmask.learned.polar.unwrap(image, aligned landmarks)"}
    return {"kind": "face", "size": config.size, "layout": "NCHW", "range": "0-255 RGB",
            "face_alignment": f"{align} then resize"}


def export_onnx(model: Any, path: Path, size: int | tuple[int, int]) -> None:
    """Write the eval-mode model as opset-17 ONNX with a dynamic batch axis; ``size`` is a side or (h, w)."""
    import torch

    model.eval()
    h, w = (size, size) if isinstance(size, int) else size
    x = torch.zeros(1, 3, h, w)
    try:
        torch.onnx.export(
            model, x, str(path), dynamo=False, opset_version=17, input_names=["image"],
            output_names=["logit", "boundary"],
            dynamic_axes={"image": {0: "batch"}, "logit": {0: "batch"}, "boundary": {0: "batch"}},
        )
    except Exception as e:  # torch.onnx raises many unrelated types
        raise ModelError(f"ONNX export to {path} failed: {e}") from e


def _check_onnx(model: Any, path: Path, images: np.ndarray) -> float:
    """Largest |torch - onnxruntime| logit difference on a few faces; raises if the export is wrong."""
    import onnxruntime as ort
    import torch

    if not len(images):
        return 0.0
    x = images.transpose(0, 3, 1, 2).astype(np.float32)
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 2
    sess = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
    got = sess.run(["logit"], {"image": x})[0]
    with torch.no_grad():
        want = model(torch.from_numpy(x))[0].numpy()
    diff = float(np.max(np.abs(got - want)))
    if not diff < 1e-2:
        raise ModelError(f"exported ONNX disagrees with torch (max logit difference {diff:.3g})")
    return diff


# --- command line ------------------------------------------------------------------------------------

def _load_faces(arg: Path, cache: Path, say: Callable[[str], None]) -> tuple[FaceSet, FaceSet | None]:
    from unmask.learned.dataset import FaceSet, cached_faces

    if arg.suffix == ".npz":
        real_path, fake_path = arg, arg.with_name("faces-fake.npz")
        if not real_path.is_file():
            raise UnmaskError(f"{arg}: face cache not found")
        real = FaceSet.load(real_path)
        fake = FaceSet.load(fake_path) if fake_path.is_file() else None
    else:
        if not arg.is_file():  # before the cache: a cached run must not hide a mistyped manifest
            raise UnmaskError(f"{arg}: manifest not found")
        real_path, fake_path = cache / "faces-real.npz", cache / "faces-fake.npz"
        if not real_path.is_file() or not fake_path.is_file():
            say(f"extracting faces from {arg} (cached in {cache})")
        real = cached_faces(real_path, arg, ("real",))
        fake = cached_faces(fake_path, arg, ("fake",))
    say(f"{len(real)} real faces from {real_path}"
        + (f", {len(fake)} fake faces (validation only) from {fake_path}" if fake is not None else ""))
    return real, fake


def add_arguments(p: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """The training options, shared by ``python -m unmask.learned.train`` and ``unmask train``."""
    from unmask.learned.finetune import ARCHS as BACKBONE_ARCHS

    p.add_argument("source", metavar="MANIFEST_OR_CACHE", nargs="+",
                   help="media manifest CSV, or face caches (.npz; several for a pretrained backbone)")
    p.add_argument("--out", required=True, metavar="DIR", help="run directory: weights, manifest, metrics, loss curve")
    p.add_argument("--minutes", type=float, default=None,
                   help=f"wall-time budget for training (default {TrainConfig.max_minutes:g}; "
                        "60 for a pretrained backbone)")
    p.add_argument("--epochs", type=int, default=TrainConfig.epochs)
    p.add_argument("--steps", type=int, default=0,
                   help="pretrained backbones: optimiser steps (default 0: planned from --minutes; give it to reproduce a run)")
    p.add_argument("--size", type=int, default=None,
                   help=f"network input size in pixels (default {TrainConfig.size}; 224 for a pretrained backbone)")
    p.add_argument("--batch", type=int, default=TrainConfig.batch, help=f"faces per step (default {TrainConfig.batch})")
    p.add_argument("--lr", type=float, default=None, help="peak learning rate (default 1e-3; 3e-4 for a pretrained backbone)")
    p.add_argument("--seed", type=int, default=TrainConfig.seed)
    p.add_argument("--cache", default="cache", metavar="DIR", help="face cache directory (default ./cache)")
    p.add_argument("--device", default="cpu", choices=("cpu", "cuda", "auto"),
                   help="where the network trains (default cpu; auto: cuda when torch sees a GPU)")
    p.add_argument("--workers", type=int, default=0,
                   help="processes making the self-blends in parallel (default 0; on a GPU machine, the spare cores)")
    p.add_argument("--threads", type=int, default=2,
                   help="torch CPU threads (default 2; use 1 when other work shares the cores: two threads on busy cores ran 6x slower)")
    p.add_argument("--highpass", action="store_true", help="add fixed high-pass residual input channels")
    p.add_argument("--curriculum", type=float, default=0.0, metavar="F",
                   help="ramp the social-media damage from none to full over this fraction of the run (default 0)")
    p.add_argument("--val-groups", default="", metavar="G1,G2",
                   help="real groups (manifest source_repo, or identity) to hold out for validation, comma-separated")
    p.add_argument("--val-fraction", type=float, default=0.03,
                   help="pretrained backbones: share of the other groups also held out (default 0.03)")
    p.add_argument("--val-only", action="append", default=[], metavar="CACHE",
                   help="pretrained backbones: a face cache (.npz) held out for validation whatever its groups (repeatable)")
    p.add_argument("--p-natural", type=float, default=0.0, metavar="P",
                   help="pretrained backbones: share of faces whose whole head is first motion-blurred or defocused "
                        "against its background, or the other way round, as real footage shows (default 0)")
    p.add_argument("--val-every", type=int, default=250,
                   help="pretrained backbones: validate every N steps (default 250)")
    p.add_argument("--patch", type=int, default=0, metavar="P",
                   help="train on P x P full-resolution crops; --size is then the whole face (default 0: no crops)")
    p.add_argument("--arch", choices=ARCHES + BACKBONE_ARCHS, default="blendnet",
                   help="blendnet: the whole aligned face; polar: the face-outline band as a strip; "
                        f"{' or '.join(BACKBONE_ARCHS)}: an ImageNet-pretrained backbone fine-tuned on whole-face "
                        "views (what ships; needs make train-deps)")
    p.add_argument("--p-real-transformed", type=float, default=0.0, metavar="P",
                   help="share of real samples changed as a whole like a blend source (default 0)")
    p.add_argument("--quiet", "-q", action="store_true")
    return p


def _load_caches(paths: list[str], say: Callable[[str], None]) -> tuple[FaceSet, list[int]]:
    """The face caches as one FaceSet, in order, and how many faces each held."""
    from unmask.learned.dataset import FaceSet, concat

    parts = []
    for p in paths:
        path = Path(p)
        if path.suffix != ".npz" or not path.is_file():
            raise UnmaskError(f"{p}: face cache not found (make one with python -m unmask.learned.dataset extract)")
        parts.append(FaceSet.load(path))
        say(f"{len(parts[-1])} faces from {path}")
    sizes = {int(np.asarray(f.images).shape[1]) for f in parts if len(f)}
    if len(sizes) > 1:
        raise UnmaskError(f"the face caches hold views of different sizes ({sorted(sizes)}): extract them alike")
    return concat(parts, sizes.pop() if sizes else 256), [len(f) for f in parts]


def run(args: argparse.Namespace, command: str) -> int:
    """Train from parsed options; raises UnmaskError for bad options or data. ``command`` goes in the manifest."""
    if args.threads < 1:
        raise UnmaskError(f"--threads must be at least 1, got {args.threads}")
    say: Callable[[str], None] = (lambda _m: None) if args.quiet else (lambda m: print(m, file=sys.stderr, flush=True))
    import warnings

    import torch

    from unmask.learned.finetune import ARCHS as BACKBONE_ARCHS

    # flush-to-zero makes numpy's finfo warn that subnormals are zero: true, intended, and noisy.
    warnings.filterwarnings("ignore", message="The value of the smallest subnormal")
    torch.set_num_threads(args.threads)
    val_groups = tuple(g.strip() for g in args.val_groups.split(",") if g.strip())
    if args.arch in BACKBONE_ARCHS:
        from unmask.learned.finetune import FinetuneConfig, finetune

        faces, sizes = _load_caches(args.source + args.val_only, say)  # one copy in memory (~200 KB per face)
        n_val_only = sum(sizes[len(args.source):])
        ft = FinetuneConfig(arch=args.arch, size=args.size or 224, batch=args.batch,
                            max_minutes=args.minutes if args.minutes is not None else 60.0, steps=args.steps,
                            lr=args.lr or FinetuneConfig.lr, seed=args.seed, val_groups=val_groups,
                            val_fraction=args.val_fraction, val_every=args.val_every, device=args.device,
                            workers=args.workers, p_natural=args.p_natural)
        m = finetune(faces, ft, Path(args.out), say, command=command, n_val_only=n_val_only)
        print(json.dumps({k: m[k] for k in ("best_step", "best", "wall_s", "images_per_s", "steps")}, indent=2))
        return 0
    if len(args.source) != 1:
        raise UnmaskError(f"--arch {args.arch} trains from one manifest or cache, got {len(args.source)}")
    real, fake = _load_faces(Path(args.source[0]), Path(args.cache), say)
    config = TrainConfig(size=args.size or TrainConfig.size, batch=args.batch, epochs=args.epochs,
                         max_minutes=args.minutes if args.minutes is not None else TrainConfig.max_minutes,
                         seed=args.seed, lr=args.lr or TrainConfig.lr,
                         device=args.device, workers=args.workers, highpass=args.highpass,
                         curriculum=args.curriculum, patch=args.patch, arch=args.arch,
                         p_real_transformed=args.p_real_transformed, val_groups=val_groups)
    metrics = train(real, fake, config, Path(args.out), say, command=command)
    print(json.dumps({k: metrics[k] for k in ("best_epoch", "best", "wall_s", "images_per_s", "steps")}, indent=2))
    return 0


def main(argv: list[str] | None = None) -> int:
    """python -m unmask.learned.train MANIFEST_OR_CACHE --out DIR [options]; errors are one line, exit 2."""
    p = add_arguments(argparse.ArgumentParser(prog="python -m unmask.learned.train",
                                              description=__doc__.splitlines()[0]))
    args = p.parse_args(argv)
    command = "python -m unmask.learned.train " + shlex.join(argv if argv is not None else sys.argv[1:])
    try:
        return run(args, command)
    except UnmaskError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
