"""Train BlendNet on self-blended real faces and export it as ONNX with a manifest.

Only real faces are trained on: the fakes are made on the fly (SBI / Face
X-ray), so the detector learns blend artifacts rather than one generator's
fingerprint. Real deepfakes, when given, are used for validation only.
Social-media degradations hit both classes alike so compression or blur is
never a shortcut to the label.
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
from unmask_training.learned.augment import ARCHES, SampleFn, crop_resize, damage_strength, default_sampler, make_batch
from unmask_training.learned.onnx_export import check_onnx, export_onnx, input_spec, sha256
from unmask_training.learned.scoring import auc, predict, resolve_device

if TYPE_CHECKING:
    from unmask_training.learned.dataset import FaceSet

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


def model_inputs(faces: FaceSet, idx: np.ndarray, config: TrainConfig) -> np.ndarray:
    """What the network sees of faces[idx] when scoring (no augmentation): resized faces, or outline strips."""
    images = np.asarray(faces.images)[idx]
    if config.arch == "polar":
        from unmask.learned.polar import unwrap_all

        return unwrap_all(images, np.asarray(faces.landmarks)[idx])
    zeros = np.zeros(images.shape[1:3], np.float32)
    return np.stack([crop_resize(im, zeros, config.size, None)[0] for im in images]) if len(images) else images


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


def _epoch_batches(faces: FaceSet, order: np.ndarray, epoch: int, config: TrainConfig, sample: SampleFn,
                   pool: Any | None, strength: float = 1.0) -> Any:
    """Training batches of one epoch, each from its own seed (seed, epoch, k): the same with or without workers."""
    jobs = [((config.seed, epoch, k), order[k : k + config.batch], strength)
            for k in range(0, len(order), config.batch)]
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


@dataclass(frozen=True)
class _Validation:
    """Fixed validation inputs, made once so epochs compare: pseudo-fakes from a fixed seed, no augmentation."""

    pseudo: np.ndarray  # held-out real faces and their self-blends, as the network sees them
    pseudo_y: np.ndarray
    real: np.ndarray  # held-out real faces alone
    fake: np.ndarray  # real deepfakes (validation only), capped at VAL_FAKE_LIMIT
    fake_in_val_groups: np.ndarray  # bool per fake: from a held-out group (source cannot stand in for the label)


@dataclass
class _Run:
    """What the epoch loop leaves behind."""

    epochs: list[dict[str, Any]]
    best: dict[str, Any]
    step: int = 0
    seen: int = 0
    train_s: float = 0.0
    out_of_time: bool = False
    planned_epochs: int = 0


def _check_config(real: FaceSet, config: TrainConfig) -> None:
    if config.arch not in ARCHES:
        raise UnmaskError(f"arch must be one of {', '.join(ARCHES)}, got {config.arch!r}")
    if config.arch == "polar" and (config.patch or config.highpass):
        raise UnmaskError("patch and highpass apply to the blendnet arch only")
    if not 0.0 <= config.p_real_transformed <= 1.0:
        raise UnmaskError(f"p_real_transformed must be in [0, 1], got {config.p_real_transformed}")
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


def _split(real: FaceSet, config: TrainConfig) -> tuple[np.ndarray, np.ndarray]:
    """(train, validation) indices of the real faces: the named ``val_groups``, or a seeded split by group."""
    from unmask_training.learned.dataset import split_by_group

    real_only = np.flatnonzero(np.asarray(real.labels) == 0)
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
    return real_only[tr_sub], real_only[va_sub]


def _validation(real: FaceSet, fake_val: FaceSet | None, val_idx: np.ndarray, config: TrainConfig,
                sample: SampleFn) -> _Validation:
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
    return _Validation(pv_img, pv_y, real_val_img, fake_img, fake_in_val_groups)


def _validate(model: Any, val: _Validation, device: str) -> tuple[float | None, float | None, float | None]:
    """(pseudo-fake AUC, deepfake AUC, deepfake AUC on held-out groups only) of the model now."""
    pseudo_auc = auc(val.pseudo_y, predict(model, val.pseudo, device=device))
    fake_auc = fake_auc_matched = None
    if len(val.fake):
        scores = predict(model, np.concatenate([val.real, val.fake]), device=device)
        real_s, fake_s = scores[: len(val.real)], scores[len(val.real) :]
        fake_auc = auc(np.r_[np.zeros(len(real_s)), np.ones(len(fake_s))], np.r_[real_s, fake_s])
        if val.fake_in_val_groups.any():
            matched = fake_s[val.fake_in_val_groups]
            fake_auc_matched = auc(np.r_[np.zeros(len(real_s)), np.ones(len(matched))], np.r_[real_s, matched])
    return pseudo_auc, fake_auc, fake_auc_matched


def _pool(real: FaceSet, config: TrainConfig, sample: SampleFn) -> Any | None:
    """The batch workers, or None to make batches in this process."""
    if not config.workers:
        return None
    import multiprocessing as mp

    # spawn, not fork: a child forked from a process whose OpenCV thread pool is running can deadlock
    # in its first cv2 call (seen here: the pool hung). The faces are pickled once per worker.
    ctx = mp.get_context("spawn")
    return ctx.Pool(config.workers, initializer=_init_worker, initargs=(real, config.size, sample, config.p_fake,
                                                                        config.patch, config.arch))


def _run_epochs(model: Any, real: FaceSet, train_idx: np.ndarray, val: _Validation, config: TrainConfig,
                sample: SampleFn, device: str, out_dir: Path, say: Callable[[str], None]) -> _Run:
    """Train epoch by epoch within the time budget, keeping the best state by pseudo-fake AUC; logs loss.csv."""
    import torch

    # PolarNet's map is its class activation map, not a trained head: no map loss
    map_weight = config.boundary_weight if config.arch == "blendnet" else 0.0
    opt = torch.optim.AdamW(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    bce = torch.nn.BCEWithLogitsLoss()
    steps_per_epoch = max(1, math.ceil(len(train_idx) / config.batch))
    budget_s = config.max_minutes * 60.0
    rng = np.random.default_rng(config.seed)
    run = _Run(epochs=[], best={"score": -1.0, "epoch": None, "state": None},
               planned_epochs=config.epochs)  # cut after epoch 0 if the time budget cannot fit them all
    pool = _pool(real, config, sample)
    t0 = time.monotonic()
    # a Pool's __exit__ terminates its workers, also when training fails
    with open(out_dir / "loss.csv", "w", newline="") as fh, (pool or contextlib.nullcontext()):
        log = csv.writer(fh)
        log.writerow(["step", "epoch", "loss", "cls_loss", "map_loss", "lr"])
        for epoch in range(config.epochs):
            model.train()
            order = rng.permutation(train_idx)
            te = time.monotonic()
            strength = damage_strength(epoch, run.planned_epochs, config.curriculum)
            for imgs, y, maps in _epoch_batches(real, order, epoch, config, sample, pool, strength):
                lr = config.lr * _lr_factor(run.step / (run.planned_epochs * steps_per_epoch))
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
                run.step += 1
                run.seen += len(y)
                log.writerow([run.step, epoch, f"{loss.item():.5f}", f"{cls_loss.item():.5f}",
                              f"{map_loss.item():.5f}", f"{lr:.6g}"])
                if time.monotonic() - t0 > budget_s:
                    run.out_of_time = True
                    break
            run.train_s += time.monotonic() - te
            fh.flush()

            pseudo_auc, fake_auc, fake_auc_matched = _validate(model, val, device)
            row = {"epoch": epoch, "step": run.step, "pseudo_auc": pseudo_auc, "fake_auc": fake_auc,
                   "fake_auc_val_groups": fake_auc_matched, "elapsed_s": round(time.monotonic() - t0, 1)}
            run.epochs.append(row)
            score = pseudo_auc if pseudo_auc is not None else -1.0
            if run.best["state"] is None or score > run.best["score"]:
                run.best = {"score": score, "epoch": epoch,
                            "state": {k: v.detach().cpu().clone() for k, v in model.state_dict().items()}}
            say(f"epoch {epoch}: pseudo-fake AUC {_fmt(pseudo_auc)}, deepfake AUC {_fmt(fake_auc)} "
                f"(held-out groups only {_fmt(fake_auc_matched)}), "
                f"{row['elapsed_s']:.0f} s" + (" (time budget reached)" if run.out_of_time else ""))
            if run.out_of_time:
                break
            if epoch == 0:
                # Plan the cosine schedule once, from epoch 0's cost (training + validation), so a run
                # that fits its budget is reproducible and one that does not still anneals to the end.
                fits = int(budget_s // max(time.monotonic() - t0, 1e-6))
                if fits < config.epochs:
                    run.planned_epochs = max(1, fits)
                    say(f"time budget fits about {run.planned_epochs} of {config.epochs} epochs; schedule shortened")
            if epoch + 1 >= run.planned_epochs:
                break
    return run


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

    from unmask_training.learned.model import BlendNet, count_parameters
    from unmask_training.learned.polar_net import PolarNet

    say = progress or (lambda _m: None)
    _check_config(real, config)
    sample = sample_fn or default_sampler(config.p_real_transformed)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    device = resolve_device(config.device)

    torch.set_flush_denormal(True)
    torch.manual_seed(config.seed)
    train_idx, val_idx = _split(real, config)
    say(f"train faces {len(train_idx)} ({len(np.unique(real.groups[train_idx]))} groups), "
        f"val faces {len(val_idx)} ({len(np.unique(real.groups[val_idx]))} groups)")
    val = _validation(real, fake_val, val_idx, config, sample)

    model = (PolarNet() if config.arch == "polar" else BlendNet(highpass=config.highpass)).to(device)
    if device == "cuda":
        torch.backends.cudnn.benchmark = True
    steps_per_epoch = max(1, math.ceil(len(train_idx) / config.batch))
    say(f"{type(model).__name__} {count_parameters(model) / 1e6:.2f} M params on {device}, "
        f"{steps_per_epoch} steps/epoch, "
        f"up to {config.epochs} epochs or {config.max_minutes:g} min"
        + (f", {config.workers} batch workers" if config.workers else ""))
    t0 = time.monotonic()
    run = _run_epochs(model, real, train_idx, val, config, sample, device, out_dir, say)
    wall_s = time.monotonic() - t0

    model = model.cpu()  # export and the ONNX check run on the CPU, whatever trained
    model.load_state_dict(run.best["state"])
    model.eval()
    torch.save(model.state_dict(), out_dir / "blend_cnn.pt")
    onnx_path = out_dir / ONNX_NAME
    export_onnx(model, onnx_path, tuple(val.pseudo.shape[1:3]))
    max_diff = check_onnx(model, onnx_path, val.pseudo[:8])
    best_row = run.epochs[run.best["epoch"]]
    metrics = {
        "epochs": run.epochs,
        "best_epoch": run.best["epoch"],
        "best": best_row,
        "selected_on": "pseudo_auc (held-out real groups, fixed-seed self-blends)",
        "wall_s": round(wall_s, 1),
        "train_s": round(run.train_s, 1),
        "steps": run.step,
        "images_seen": run.seen,
        "images_per_s": round(run.seen / run.train_s, 2) if run.train_s > 0 else None,
        "stopped_by": "time" if run.out_of_time else "epochs",
        "planned_epochs": run.planned_epochs,
        "onnx_max_abs_diff": max_diff,
        "params": count_parameters(model),
        "config": asdict(config),
        "n_val_fakes": int(len(val.fake)),
        "n_val_fakes_in_val_groups": int(val.fake_in_val_groups.sum()),
        "data": {"train": _data_list(real, train_idx), "val": _data_list(real, val_idx),
                 "val_fake": _data_list(fake_val, np.flatnonzero(np.asarray(fake_val.labels) == 1))
                 if fake_val is not None and len(fake_val) else []},
    }
    (out_dir / "metrics.json").write_text(json.dumps(metrics, indent=2))
    manifest = _manifest(model, real, config, onnx_path, train_idx, val_idx, val, run.best["epoch"], best_row, command)
    (out_dir / MANIFEST_NAME).write_text(json.dumps(manifest, indent=2))
    say(f"best epoch {run.best['epoch']}: pseudo-fake AUC {_fmt(best_row['pseudo_auc'])}, "
        f"deepfake AUC {_fmt(best_row['fake_auc'])}; "
        f"wrote {onnx_path}")
    return metrics


def _manifest(model: Any, real: FaceSet, config: TrainConfig, onnx_path: Path, train_idx: np.ndarray,
              val_idx: np.ndarray, val: _Validation, best_epoch: int, best_row: dict[str, Any],
              command: str | None) -> dict[str, Any]:
    """blend_cnn.json: what the runtime needs (input spec, digest) and how the network was made."""
    from unmask_training.learned.model import architecture, count_parameters
    from unmask_training.learned.polar_net import ARCHITECTURE as POLAR_ARCHITECTURE

    return {
        "name": "blend_cnn",
        "version": _dt.datetime.now(_dt.UTC).strftime("%Y.%m.%d"),
        "sha256": sha256(onnx_path),
        "architecture": (POLAR_ARCHITECTURE if config.arch == "polar" else architecture(config.highpass))
        + f"; {count_parameters(model)} params",
        "input": input_spec(config, int(np.asarray(real.images).shape[1])),
        "outputs": {"logit": "(N,) fake logit; sigmoid = probability",
                    "boundary": ("(N,1,6,8) seam class-activation logits along the outline strip"
                                 if config.arch == "polar" else
                                 f"(N,1,{config.size // 4},{config.size // 4}) blend-boundary logits")},
        "training_command": command or f"unmask_training.learned.train.train(config={asdict(config)})",
        "data": {
            "train": {"faces": int(len(train_idx)), "sources": len(_data_list(real, train_idx)),
                      "groups": _group_counts(real, train_idx)},
            "val": {"faces": int(len(val_idx)), "sources": len(_data_list(real, val_idx)),
                    "groups": _group_counts(real, val_idx), "fake_faces": int(len(val.fake))},
        },
        "validation": {"best_epoch": best_epoch, "pseudo_auc": best_row["pseudo_auc"],
                       "fake_auc": best_row["fake_auc"], "fake_auc_val_groups": best_row["fake_auc_val_groups"],
                       "n_fake_val_groups": int(val.fake_in_val_groups.sum()), "selected_on": "pseudo_auc"},
        "seed": config.seed,
        "licence": "Apache-2.0 (the project's own weights)",
        "created": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
    }


def _fmt(x: float | None) -> str:
    return "n/a" if x is None else f"{x:.3f}"
