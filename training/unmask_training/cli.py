"""``unmask-train``: the training side's command line (``train``, ``fit-fusion``, ``bench-perturbed``, ``benchdoc``).

The product CLI (``unmask``) scans, benches and serves; this one makes and measures the models it ships.
Like ``unmask``, bad options or data end in one ``unmask-train: error: ...`` line and exit status 1.
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from unmask.cli import bench_arguments
from unmask.errors import UnmaskError
from unmask.report.names import printable

EXIT_OK, EXIT_FAILED, EXIT_INTERRUPTED = 0, 1, 130
PERTURB_HELP = ("crf23, crf30, crf35 (re-encode), 360p, flip, phone (fit 1024x576, CRF 28), "
                "beauty (phone + skin smoothing)")


def _parser() -> argparse.ArgumentParser:
    from unmask_training.learned.train_cli import add_arguments as add_train_arguments  # numpy only

    p = argparse.ArgumentParser(prog="unmask-train", description="Train, fit and measure unmask's models.")
    sub = p.add_subparsers(dest="command", required=True)

    t = sub.add_parser("train",
                       help="train the learned blend detector on real faces (needs the torch extra: make train)",
                       description="Train the learned blend detector on self-blended real faces; see docs/training.md.")
    add_train_arguments(t)

    f = sub.add_parser("fit-fusion", help="refit the fusion model from a bench directory")
    f.add_argument("bench_dirs", metavar="BENCH_DIR", nargs="+",
                   help="bench output(s); add perturbed runs (unmask-train bench-perturbed crf30) so compression "
                        "is not read as manipulation")
    f.add_argument("--out", required=True, metavar="FILE")
    f.add_argument("--manifest", default=None,
                   help="manifest used for the bench (default: the one recorded in BENCH_DIR)")
    f.add_argument("--exclude", default="", metavar="A1,A2",
                   help="leave these analyzers' features out (e.g. to measure what one adds)")

    b = sub.add_parser("bench-perturbed", help="`unmask bench` on degraded copies of the videos (stills skipped)")
    b.add_argument("kind", metavar="KIND", help=f"the degradation: {PERTURB_HELP}")
    bench_arguments(b)
    b.add_argument("--config", metavar="FILE", help="TOML or JSON settings file (see docs/architecture.md)")
    b.add_argument("--set", metavar="KEY=VALUE", action="append", default=[],
                   help="override one setting, e.g. --set sampling.fps=4")
    b.add_argument("--quiet", "-q", action="store_true", help="no progress bars")

    d = sub.add_parser("benchdoc", help="render a bench directory's summary.json as docs/benchmarks.md (make bench)")
    d.add_argument("bench", metavar="BENCH_DIR")
    d.add_argument("doc", metavar="DOC")
    return p


def _cmd_train(args: argparse.Namespace, argv: Sequence[str]) -> int:
    try:
        import torch  # noqa: F401 - only to say clearly that the extra is missing
    except ImportError as e:
        raise UnmaskError(f"training needs the torch extra: run `make train-deps` or "
                          f"pip install -e './training[torch]' ({e})") from None
    from unmask_training.learned.train_cli import run

    return run(args, "unmask-train " + shlex.join(argv))


def _cmd_fit(args: argparse.Namespace) -> int:
    from unmask_training.fusion_fit import fit_fusion

    result = fit_fusion([Path(d) for d in args.bench_dirs], Path(args.out),
                        manifest=Path(args.manifest) if args.manifest else None,
                        exclude=tuple(a.strip() for a in args.exclude.split(",") if a.strip()))
    print(json.dumps(result, indent=2))
    return EXIT_OK


def _cmd_bench_perturbed(args: argparse.Namespace) -> int:
    from unmask.bench import run_bench, summary_lines
    from unmask.config import ScanConfig
    from unmask_training.perturb import parse_perturbation, perturb_video

    kind = str(args.kind)
    parse_perturbation(kind)  # refuse an unknown perturbation before any work
    overrides: dict[str, Any] = {}
    for item in args.set:
        key, sep, value = item.partition("=")
        if not sep:
            raise UnmaskError(f"--set expects KEY=VALUE, got {item!r}")
        overrides[key.strip()] = value.strip()
    config = ScanConfig.load(args.config, overrides=overrides)
    summary = run_bench(Path(args.manifest), Path(args.out), config, limit=args.limit, speed=not args.no_speed,
                        fresh=args.fresh, quiet=args.quiet, long_speed=args.long_speed,
                        transform=lambda src, tmp: perturb_video(src, kind, tmp), transform_name=kind)
    print("\n".join(summary_lines(summary, Path(args.out))))
    return EXIT_OK


def _cmd_benchdoc(args: argparse.Namespace) -> int:
    from unmask_training.benchdoc import write_doc

    write_doc(Path(args.bench), Path(args.doc))
    return EXIT_OK


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``unmask-train`` and ``python -m unmask_training``."""
    if argv is None:
        from unmask.process_io import silence_native_logs

        silence_native_logs()  # mediapipe's and TensorFlow Lite's C++ start-up lines, as `unmask` does
    argv = list(sys.argv[1:] if argv is None else argv)
    args = _parser().parse_args(argv)
    try:
        if args.command == "train":
            return _cmd_train(args, argv)
        if args.command == "fit-fusion":
            return _cmd_fit(args)
        if args.command == "bench-perturbed":
            return _cmd_bench_perturbed(args)
        return _cmd_benchdoc(args)
    except UnmaskError as e:
        print(f"unmask-train: error: {printable(str(e))}", file=sys.stderr)
        return EXIT_FAILED
    except KeyboardInterrupt:
        print("unmask-train: error: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
