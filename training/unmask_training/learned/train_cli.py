"""``unmask-train train`` and ``python -m unmask_training.learned.train_cli``: the options and the run.

The options parse without torch (numpy only), so ``unmask-train --help`` works in a venv without it.
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from unmask.errors import UnmaskError
from unmask_training.learned.augment import ARCHES
from unmask_training.learned.train import TrainConfig, train

if TYPE_CHECKING:
    from unmask_training.learned.dataset import FaceSet


def _load_faces(arg: Path, cache: Path, say: Callable[[str], None]) -> tuple[FaceSet, FaceSet | None]:
    from unmask_training.learned.dataset import FaceSet, cached_faces

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
    """The training options, shared by ``python -m unmask_training.learned.train_cli`` and ``unmask-train train``."""
    from unmask_training.learned.finetune import ARCHS as BACKBONE_ARCHS

    p.add_argument("source", metavar="MANIFEST_OR_CACHE", nargs="+",
                   help="media manifest CSV, or face caches (.npz; several for a pretrained backbone)")
    p.add_argument("--out", required=True, metavar="DIR", help="run directory: weights, manifest, metrics, loss curve")
    p.add_argument("--minutes", type=float, default=None,
                   help=f"wall-time budget for training (default {TrainConfig.max_minutes:g}; "
                        "60 for a pretrained backbone)")
    p.add_argument("--epochs", type=int, default=TrainConfig.epochs)
    p.add_argument("--steps", type=int, default=0,
                   help="pretrained backbones: optimiser steps "
                        "(default 0: planned from --minutes; give it to reproduce a run)")
    p.add_argument("--size", type=int, default=None,
                   help=f"network input size in pixels (default {TrainConfig.size}; 224 for a pretrained backbone)")
    p.add_argument("--batch", type=int, default=TrainConfig.batch, help=f"faces per step (default {TrainConfig.batch})")
    p.add_argument("--lr", type=float, default=None,
                   help="peak learning rate (default 1e-3; 3e-4 for a pretrained backbone)")
    p.add_argument("--seed", type=int, default=TrainConfig.seed)
    p.add_argument("--cache", default="cache", metavar="DIR", help="face cache directory (default ./cache)")
    p.add_argument("--device", default="cpu", choices=("cpu", "cuda", "auto"),
                   help="where the network trains (default cpu; auto: cuda when torch sees a GPU)")
    p.add_argument("--workers", type=int, default=0,
                   help="processes making the self-blends in parallel (default 0; on a GPU machine, the spare cores)")
    p.add_argument("--threads", type=int, default=2,
                   help="torch CPU threads (default 2; use 1 when other work shares the cores: "
                        "two threads on busy cores ran 6x slower)")
    p.add_argument("--highpass", action="store_true", help="add fixed high-pass residual input channels")
    p.add_argument("--curriculum", type=float, default=0.0, metavar="F",
                   help="ramp the social-media damage from none to full over this fraction of the run (default 0)")
    p.add_argument("--val-groups", default="", metavar="G1,G2",
                   help="real groups (manifest source_repo, or identity) to hold out for validation, comma-separated")
    p.add_argument("--val-fraction", type=float, default=0.03,
                   help="pretrained backbones: share of the other groups also held out (default 0.03)")
    p.add_argument("--val-only", action="append", default=[], metavar="CACHE",
                   help="pretrained backbones: a face cache (.npz) held out for validation "
                        "whatever its groups (repeatable)")
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
    p.add_argument("--init", default=None, metavar="ONNX",
                   help="continue from an earlier run's blend_cnn.onnx of the same --arch and --size (BatchNorm is "
                        "recalibrated: learned.resume); the schedule starts again with --lr")
    p.add_argument("--data-seed", type=int, default=None, metavar="N",
                   help="seed of the training batches only (default --seed); --seed also fixes the held-out split, "
                        "so a continued run keeps its parent's --seed and takes a new --data-seed")
    p.add_argument("--quiet", "-q", action="store_true")
    return p


def _load_caches(paths: list[str], say: Callable[[str], None]) -> tuple[FaceSet, list[int]]:
    """The face caches as one FaceSet, in order, and how many faces each held."""
    from unmask_training.learned.dataset import FaceSet, concat

    parts = []
    for p in paths:
        path = Path(p)
        if path.suffix != ".npz" or not path.is_file():
            raise UnmaskError(f"{p}: face cache not found "
                              "(make one with python -m unmask_training.learned.dataset extract)")
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
    if args.init and not Path(args.init).is_file():
        raise UnmaskError(f"--init {args.init}: no such file (give an earlier run's blend_cnn.onnx)")
    say: Callable[[str], None] = (lambda _m: None) if args.quiet else (lambda m: print(m, file=sys.stderr, flush=True))
    import warnings

    import torch

    from unmask_training.learned.finetune import ARCHS as BACKBONE_ARCHS

    # flush-to-zero makes numpy's finfo warn that subnormals are zero: true, intended, and noisy.
    warnings.filterwarnings("ignore", message="The value of the smallest subnormal")
    torch.set_num_threads(args.threads)
    val_groups = tuple(g.strip() for g in args.val_groups.split(",") if g.strip())
    if args.arch in BACKBONE_ARCHS:
        from unmask_training.learned.finetune import FinetuneConfig, finetune

        faces, sizes = _load_caches(args.source + args.val_only, say)  # one copy in memory (~200 KB per face)
        n_val_only = sum(sizes[len(args.source):])
        ft = FinetuneConfig(arch=args.arch, size=args.size or 224, batch=args.batch,
                            max_minutes=args.minutes if args.minutes is not None else 60.0, steps=args.steps,
                            lr=args.lr or FinetuneConfig.lr, seed=args.seed, val_groups=val_groups,
                            val_fraction=args.val_fraction, val_every=args.val_every, device=args.device,
                            workers=args.workers, p_natural=args.p_natural, init=args.init or "",
                            data_seed=args.data_seed)
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
    """python -m unmask_training.learned.train_cli MANIFEST_OR_CACHE --out DIR [options];
    errors are one line, exit 2."""
    p = add_arguments(argparse.ArgumentParser(prog="python -m unmask_training.learned.train_cli",
                                              description=__doc__.splitlines()[0]))
    args = p.parse_args(argv)
    command = "python -m unmask_training.learned.train_cli " + shlex.join(argv if argv is not None else sys.argv[1:])
    try:
        return run(args, command)
    except UnmaskError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
