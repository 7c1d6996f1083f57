"""Command line: ``unmask scan``, ``unmask batch``, ``unmask serve``, ``unmask bench``, ``unmask enroll``,
``unmask people``.

Thin on purpose: it parses, calls the library, prints. Bad input never shows a
traceback: each failing file gets one line naming it and what is wrong, the
other files are still scanned, and the exit status is 1.
"""

from __future__ import annotations

import argparse
import errno
import json
import os
import sys
import traceback
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from unmask.config import ScanConfig
from unmask.errors import UnmaskError
from unmask.process_io import silence_native_logs, write_atomic
from unmask.report.names import printable
from unmask.version import __version__

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="unmask", description="Tell whether a face in a video was swapped or re-animated by AI, and show why.")
    p.add_argument("--version", action="version", version=f"unmask {__version__}")
    sub = p.add_subparsers(dest="command", required=True)

    def common(sp: argparse.ArgumentParser) -> None:
        sp.add_argument("--config", metavar="FILE", help="TOML or JSON settings file (see docs/architecture.md)")
        sp.add_argument("--set", metavar="KEY=VALUE", action="append", default=[],
                        help="override one setting, e.g. --set sampling.fps=4")
        sp.add_argument("--quiet", "-q", action="store_true", help="no progress bars")
        sp.add_argument("--debug", action="store_true", help="show tracebacks for internal errors")

    s = sub.add_parser("scan", help="scan videos or images and print a verdict with its evidence")
    s.add_argument("paths", nargs="+", metavar="PATH")
    s.add_argument("--json", metavar="OUT",
                   help="write the JSON report here ('-' for stdout; a directory when scanning several files)")
    s.add_argument("--html", metavar="OUT",
                   help="write a self-contained HTML report here (a directory when scanning several files)")
    s.add_argument("--record-path", action="store_true",
                   help="record the file's full path in the reports (default: only its name, so reports can be shared)")
    s.add_argument("--evidence", type=int, default=3, metavar="N", help="evidence lines to print per file (default 3)")
    s.add_argument("--claims", metavar="NAME",
                   help="check the video against this enrolled person (see `unmask enroll`)")
    s.add_argument("--claims-version", type=int, metavar="N",
                   help="use this version of the person's profile (default: newest)")
    s.add_argument("--db", metavar="URL",
                   help="database of enrolled people (default: UNMASK_DATABASE_URL, else the user data directory)")
    common(s)

    b = sub.add_parser("batch", help="scan folders, manifests or lists of paths with a pool of workers (resumable)",
                       description="Scan many files into --out: one report per file, index.jsonl/index.parquet, "
                                   "summary.json. Re-running with the same --out skips files already reported "
                                   "(see docs/scale-out.md).")
    b.add_argument("inputs", nargs="+", metavar="INPUT",
                   help="a folder (recursive; media recognised by content), a CSV manifest with a path column, "
                        "a text file of paths (one a line), or a media file; or a URL of a folder or object "
                        "(s3://, gs://, hdfs://, file://: needs the batch extra)")
    b.add_argument("--out", required=True, metavar="DIR", help="output folder (created; reused to resume)")
    b.add_argument("--workers", type=int, default=None, metavar="N", help="worker processes (default: one per core)")
    b.add_argument("--html", action="store_true", help="write an HTML report beside each JSON report")
    b.add_argument("--timeout-s", type=float, default=1800.0, metavar="S",
                   help="wall seconds one file may take before its worker is killed (default 1800)")
    b.add_argument("--max-memory-mb", type=int, default=4096, metavar="MB",
                   help="resident memory a worker may reach on one file before it is killed (default 4096)")
    b.add_argument("--max-download-mb", type=int, default=16384, metavar="MB",
                   help="largest object a worker downloads from a URL input (default 16384)")
    b.add_argument("--retries", type=int, default=1, metavar="N",
                   help="further tries for a file whose worker died (default 1)")
    b.add_argument("--worker-threads", type=int, default=None, metavar="N",
                   help="compute threads each worker's libraries may use (default: the cores divided among the "
                        "workers, or the actor's CPUs with --ray; 0: the libraries' own defaults)")
    b.add_argument("--ray", nargs="?", const="auto", default=None, metavar="ADDRESS",
                   help="scan on a Ray cluster instead of local processes: 'auto' (the default: RAY_ADDRESS or the "
                        "cluster `ray start` runs here), HOST:PORT, ray://HOST:10001, or 'local' for a private "
                        "one-machine Ray; needs pip install 'unmask[ray]'. --workers is then the number of actors "
                        "(default: the cluster's CPUs / --ray-cpus-per-worker). Write --ray=ADDRESS or put --ray "
                        "after the inputs")
    b.add_argument("--ray-cpus-per-worker", type=float, default=1.0, metavar="N",
                   help="CPUs each Ray actor reserves (default 1); sets how many actors a node takes")
    common(b)

    e = sub.add_parser("enroll", help="build a reference profile of a person from verified videos and photos of them")
    e.add_argument("name", metavar="NAME")
    e.add_argument("paths", nargs="+", metavar="PATH", help="videos and photos of the real person")
    e.add_argument("--db", metavar="URL", help="database to store the profile in (default as for scan --db)")
    e.add_argument("--json", action="store_true", help="print the stored profile's summary as JSON")
    common(e)

    pp = sub.add_parser("people", help="list, remove, export or import enrolled people")
    pp.add_argument("--db", metavar="URL", help="database of enrolled people (default as for scan --db)")
    pp.add_argument("--json", action="store_true", help="list as JSON")
    psub = pp.add_subparsers(dest="people_command")
    pr = psub.add_parser("remove", help="remove an enrolled person (every version, or one)")
    pr.add_argument("name", metavar="NAME")
    pr.add_argument("--version", type=int, metavar="N")
    px = psub.add_parser("export", help="write a person's profile to a file (to move it to another machine)")
    px.add_argument("name", metavar="NAME")
    px.add_argument("file", metavar="FILE")
    px.add_argument("--version", type=int, metavar="N")
    pi = psub.add_parser("import", help="store a profile file written by `people export`")
    pi.add_argument("file", metavar="FILE")
    pi.add_argument("--name", metavar="NAME", help="store it under this name instead of the one in the file")

    b = sub.add_parser("bench", help="score every labeled file of a manifest and write accuracy/speed metrics")
    bench_arguments(b)
    common(b)

    sv = sub.add_parser("serve", help="run the web app and HTTP API (scans queued in the store, run by a worker pool)")
    sv.add_argument("--host", default="127.0.0.1",
                    help="address to listen on (default 127.0.0.1; beyond loopback needs UNMASK_API_TOKENS)")
    sv.add_argument("--port", type=int, default=8000, help="port (default 8000; 0 picks a free one)")
    sv.add_argument("--workers", type=int, default=1, help="scans run at once, one process each (default 1)")
    sv.add_argument("--data-dir", metavar="DIR", default=None,
                    help="uploads and the SQLite database (default: UNMASK_DATA_DIR or the user data directory)")
    sv.add_argument("--allow-dir", metavar="DIR", action="append", default=[],
                    help="let clients scan files under DIR by server-side path (repeatable)")
    sv.add_argument("--max-upload-mb", type=float, default=None, help="largest upload accepted, in MB (default 2048)")
    sv.add_argument("--insecure-no-auth", action="store_true", help="serve beyond loopback without API tokens")
    common(sv)
    return p


def _config(args: argparse.Namespace) -> ScanConfig:
    overrides: dict[str, Any] = {}
    for item in args.set:
        key, sep, value = item.partition("=")
        if not sep:
            raise UnmaskError(f"--set expects KEY=VALUE, got {item!r}")
        overrides[key.strip()] = value.strip()
    return ScanConfig.load(args.config, overrides=overrides)


def _err(msg: str) -> None:
    """One line on stderr, whatever the message holds (a file name with a newline or bytes that are not UTF-8)."""
    print(f"unmask: error: {printable(msg)}", file=sys.stderr)


class OutputError(UnmaskError):
    """A report could not be written where ``--json``/``--html`` asked (the scan itself finished)."""


class ReportOutput:
    """Where ``--json`` or ``--html`` puts each file's report: one file, or one per input in a directory.

    A directory is meant when several files are scanned, when the path is an existing
    directory, or when it ends with ``/``. A path that names a file (``single.json``) is
    never silently turned into a directory: several inputs need ``single/`` or an existing
    directory, said in one line before anything is scanned.
    """

    def __init__(self, flag: str, raw: str, suffix: str, several: bool) -> None:
        self.flag, self.suffix = flag, suffix
        path = Path(raw)
        self.is_dir = several or path.is_dir() or raw.endswith(("/", os.sep))
        self.path = path
        if self.is_dir and path.exists() and not path.is_dir():
            raise UnmaskError(f"{flag} {raw}: scanning several files needs a directory, and this is a file")
        if self.is_dir and not path.exists() and path.suffix.lower() == suffix and not raw.endswith(("/", os.sep)):
            raise UnmaskError(f"{flag} {raw}: scanning several files needs a directory, and this names a {suffix} "
                              f"file; end it with / (e.g. {path.with_suffix('')}/) to have it created")

    def target(self, stem: str) -> Path:
        return self.path / f"{stem}{self.suffix}" if self.is_dir else self.path

    def write(self, stem: str, text: str) -> Path:
        """Write one report; an ``OutputError`` in one line when the file system refuses."""
        out = self.target(stem)
        try:
            write_atomic(out, text)
        except OSError as e:
            why = e.strerror or type(e).__name__
            if isinstance(e, (FileExistsError, NotADirectoryError)) or e.errno == errno.ENOTDIR:
                why = "a part of this path is a file, not a directory"
            raise OutputError(f"{self.flag} {out}: cannot write the report ({why}); the verdict above stands") from None
        return out


def display_names(paths: Sequence[str]) -> list[str]:
    """How each input is named on the console and in output file names: its file name, or, where two
    different inputs share one, as many trailing path components as tell them apart. Bytes that are
    not UTF-8 show as U+FFFD."""
    parts = [Path(os.path.normpath(os.path.abspath(p))).parts for p in paths]
    out = []
    for pp in parts:
        k = 1
        while k < len(pp) and any(qq != pp and qq[-k:] == pp[-k:] for qq in parts):
            k += 1
        out.append(printable("/".join(pp[-k:]).lstrip("/") or pp[-1]))
    return out


def output_stem(name: str, used: set[str]) -> str:
    """A file-name stem for one input's report: ``dir/clip.mp4`` -> ``dir-clip``, unique within ``used``."""
    stem = "-".join(Path(name).with_suffix("").parts) or "report"
    stem = "".join(c if c.isprintable() and c not in '\\:*?"<>|' else "_" for c in stem)
    candidate, n = stem, 1
    while candidate in used:
        n += 1
        candidate = f"{stem}-{n}"
    used.add(candidate)
    return candidate


def _cmd_scan(args: argparse.Namespace) -> int:
    from unmask.pipeline import Scanner
    from unmask.progress import ProgressBar
    from unmask.report.text import format_report

    config = _config(args)
    claims = None
    if args.claims:
        from unmask.reference.people import People

        with People.open(args.db) as people:
            claims = people.get(args.claims, args.claims_version)
    elif args.claims_version is not None:
        raise UnmaskError("--claims-version needs --claims NAME")
    several = len(args.paths) > 1
    json_out = ReportOutput("--json", args.json, ".json", several) if args.json and args.json != "-" else None
    html_out = ReportOutput("--html", args.html, ".html", several) if args.html else None
    scanner = Scanner(config, claims=claims)
    names = display_names(args.paths)
    failed = 0
    used: set[str] = set()
    for path, name in zip(args.paths, names):
        try:
            with ProgressBar(name, disable=args.quiet) as bar:
                report = scanner.scan(path, progress=bar.update, record_path=args.record_path)
        except UnmaskError as e:
            failed += 1
            _err(str(e))
            continue
        except Exception as e:  # never a traceback for one bad file; the others still run
            failed += 1
            _err(f"{path}: internal error ({type(e).__name__}: {e}); please report it")
            if args.debug:
                traceback.print_exc()
            continue
        stem = output_stem(name, used)
        if args.json == "-":
            print(report.to_json(indent=None), flush=True)
        else:
            print(format_report(report, n_evidence=args.evidence, name=name), flush=True)
        try:
            if json_out is not None:
                json_out.write(stem, report.to_json())
            if html_out is not None:
                from unmask.report.html import render_html

                html_out.write(stem, render_html(report, settings=config.to_dict()))
        except OutputError as e:
            failed += 1
            _err(str(e))
    return EXIT_FAILED if failed else EXIT_OK


def _cmd_batch(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from unmask.batch import BatchLimits, BatchProgress, expand_inputs, run_batch

    config = _config(args)
    limits = BatchLimits(timeout_s=args.timeout_s, max_memory_mb=args.max_memory_mb, retries=args.retries,
                         threads=args.worker_threads, max_download_mb=args.max_download_mb).validate()
    ray = None
    if args.ray is not None:
        from unmask.batch.ray_pool import RayOptions, import_ray

        ray = RayOptions(address=args.ray, cpus_per_worker=args.ray_cpus_per_worker).validate()
        import_ray()
    found = expand_inputs(args.inputs)
    if not found.paths:
        raise UnmaskError("batch: no media files found in " + ", ".join(args.inputs))
    if found.not_media:
        print(f"{len(found.not_media)} file(s) in the folders are not media by their content; skipped", file=sys.stderr)
    bar = tqdm(total=len(found.paths), unit="file", desc="batch", disable=True if args.quiet else None, smoothing=0.1)

    def progress(p: BatchProgress) -> None:
        bar.update(1)
        bar.set_postfix_str(f"errors={p.errors} resumed={p.resumed}", refresh=False)

    try:
        summary = run_batch(list(found.paths), Path(args.out), config, workers=args.workers, html=args.html,
                            limits=limits, progress=progress, ray=ray)
    finally:
        bar.close()
    rate = f", {summary.files_per_s:.2f} files/s" if summary.files_per_s else ""
    where = "" if summary.backend == "local" else " on " + summary.backend
    print(f"{summary.files} files: {summary.scanned} scanned, {summary.resumed} already done, "
          f"{summary.errors} failed ({summary.workers} workers{where}, "
          f"{summary.wall_s:.1f} s{rate})")
    for label, n in summary.verdicts.items():
        print(f"  {label}: {n}")
    for f in summary.failed[:20]:
        _err(f"{f['path']}: {f['error']}")
    if len(summary.failed) > 20:
        _err(f"... and {len(summary.failed) - 20} more failures (see {args.out}/summary.json)")
    parquet = f", {summary.parquet}" if summary.parquet else ""
    print(f"wrote {summary.index}{parquet} and {args.out}/summary.json")
    return EXIT_FAILED if summary.errors else EXIT_OK


def _cmd_bench(args: argparse.Namespace) -> int:
    from unmask.bench import run_bench, summary_lines

    summary = run_bench(Path(args.manifest), Path(args.out), _config(args), limit=args.limit,
                        speed=not args.no_speed, fresh=args.fresh, quiet=args.quiet,
                        long_speed=args.long_speed)
    print("\n".join(summary_lines(summary, Path(args.out))))
    return EXIT_OK


def bench_arguments(b: argparse.ArgumentParser) -> None:
    """The options of ``unmask bench``, shared with training's ``bench-perturbed``."""
    b.add_argument("manifest", metavar="MANIFEST", help="CSV with columns path,label (paths relative to the manifest)")
    b.add_argument("--out", required=True, metavar="DIR")
    b.add_argument("--limit", type=int, default=None, help="only the first N labeled rows")
    b.add_argument("--no-speed", action="store_true", help="skip the synthetic 1080p speed/memory check")
    b.add_argument("--long-speed", action="store_true",
                   help="add a 10-minute 1080p and a one-hour 720p clip to the speed check (minutes)")
    b.add_argument("--fresh", action="store_true", help="rescan files even if DIR already has their reports")


def _cmd_serve(args: argparse.Namespace) -> int:
    from unmask.service.server import serve
    from unmask.service.settings import ServiceSettings

    settings = ServiceSettings.from_env(
        host=args.host, port=args.port, workers=args.workers, data_dir=args.data_dir,
        allowed_dirs=args.allow_dir or None, insecure_no_auth=args.insecure_no_auth or None,
        max_upload_bytes=int(args.max_upload_mb * 1024 * 1024) if args.max_upload_mb else None,
        scan_config=_config(args))
    serve(settings)
    return EXIT_OK


def _voice_words(summary: Mapping[str, Any]) -> str:
    """The enrolled voice in a few words (profiles from before voices say none)."""
    v = float(summary.get("voice_seconds", 0) or 0)
    return f"{v:.0f} s of voice" if v > 0 else "no voice"


def _cmd_enroll(args: argparse.Namespace) -> int:
    from unmask.progress import ProgressBar
    from unmask.reference.enroll import Enroller
    from unmask.reference.people import People

    enroller = Enroller(_config(args))
    with People.open(args.db) as people, ProgressBar(f"enrolling {args.name}", disable=args.quiet) as bar:
        rec, result = people.enroll(args.name, args.paths, enroller, progress=bar.update)
    if args.json:
        print(json.dumps({"name": rec.name, "version": rec.version, **rec.summary}, indent=2))
        return EXIT_OK
    for line in result.lines:
        print(f"  {line}")
    sm = rec.summary
    print(f"enrolled {rec.name} (version {rec.version}): {sm['face_seconds']:.0f} s of the face in video, "
          f"{sm['embeddings']} face images, {sm['mannerism_windows']} mannerism windows, "
          f"{_voice_words(sm)}, from {sm['files']} file(s)")
    return EXIT_OK


def _cmd_people(args: argparse.Namespace) -> int:
    from unmask.reference.people import People

    with People.open(args.db) as people:
        if args.people_command == "remove":
            n = people.remove(args.name, args.version)
            print(f"removed {args.name} ({n} version{'s' if n != 1 else ''})")
        elif args.people_command == "export":
            rec = people.export(args.name, args.file, args.version)
            print(f"wrote {rec.name} version {rec.version} to {args.file}")
        elif args.people_command == "import":
            rec, _ = people.import_file(args.file, args.name)
            print(f"imported {rec.name} as version {rec.version}")
        else:
            recs = people.latest()
            if args.json:
                print(json.dumps([{"name": r.name, "version": r.version, "stored_at": r.created_at.isoformat(),
                                   **r.summary} for r in recs], indent=2))
            elif not recs:
                print("no one enrolled yet (unmask enroll NAME VIDEO... adds someone)")
            else:
                for r in recs:
                    sm = r.summary
                    print(f"{r.name}  v{r.version}  {r.created_at:%Y-%m-%d}  "
                          f"{sm.get('face_seconds', 0):.0f} s of face video, "
                          f"{sm.get('embeddings', 0)} face images, {sm.get('mannerism_windows', 0)} mannerism windows, "
                          f"{_voice_words(sm)}")
    return EXIT_OK


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if not getattr(args, "debug", False) and argv is None:
        silence_native_logs()
    try:
        if args.command == "scan":
            return _cmd_scan(args)
        if args.command == "batch":
            return _cmd_batch(args)
        if args.command == "bench":
            return _cmd_bench(args)
        if args.command == "serve":
            return _cmd_serve(args)
        if args.command == "enroll":
            return _cmd_enroll(args)
        return _cmd_people(args)
    except UnmaskError as e:
        _err(str(e))
        return EXIT_FAILED
    except KeyboardInterrupt:
        _err("interrupted")
        return EXIT_INTERRUPTED


if __name__ == "__main__":
    sys.exit(main())
