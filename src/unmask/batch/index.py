"""The batch's record of results: an append-only JSONL log, compacted into Parquet at the end.

Each finished file appends one JSON line to ``index.jsonl`` and the line is flushed
and fsynced before the file counts as done, so a batch killed at any moment loses
no finished result: at worst its last line is cut short, and reading skips a line
that does not parse (and the next append starts on a fresh line). A file scanned
again (a re-run with another configuration, an error retried by a later run) adds
a line; readers keep the last line per (path, sha256, fusion version, config
digest). :func:`write_parquet` writes the compacted rows of one batch atomically
(temporary file, then rename) when ``pyarrow`` is installed (the ``batch`` extra).
"""

from __future__ import annotations

import itertools
import json
import os
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any

from unmask.errors import BatchError

#: the row fields, in column order (``analyzers`` and ``timings`` are maps, flattened in Parquet)
COLUMNS = ("path", "sha256", "size_bytes", "mtime_ns", "fusion_version", "config_digest", "status", "verdict",
           "score", "analyzers", "timings", "wall_s", "attempts", "error", "report", "html", "finished_at")

ContentKey = tuple[str, str, str]  # (sha256, fusion_version, config_digest): same key, same report


def content_key(row: Mapping[str, Any]) -> ContentKey:
    return (str(row["sha256"]), str(row["fusion_version"]), str(row["config_digest"]))


def row_key(row: Mapping[str, Any]) -> tuple[str, str, str, str]:
    return (str(row["path"]), *content_key(row))


class ResultIndex:
    """``index.jsonl`` in a batch's output folder: :meth:`rows` to read, :meth:`append` to add (one writer)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fh: Any = None

    def rows(self) -> list[dict[str, Any]]:
        """Every row, the last one per (path, content key), in the order first written; torn lines skipped."""
        latest: dict[tuple[str, str, str, str], dict[str, Any]] = {}
        for _, row in self.scan():
            latest[row_key(row)] = row  # dict keeps the first position, takes the last value
        return list(latest.values())

    def scan(self) -> Iterator[tuple[int, dict[str, Any]]]:
        """``(byte offset, row)`` for every line that parses, oldest first, read a line at a time.

        For readers that must not hold a million rows: keep the offsets, :meth:`rows_at` reads them back.
        """
        try:
            f = open(self.path, "rb")
        except FileNotFoundError:
            return
        except OSError as e:
            raise BatchError(f"{self.path}: cannot read the batch index ({e.strerror})") from None
        with f:
            offset = 0
            for line in f:
                start, offset = offset, offset + len(line)
                if not line.strip():
                    continue
                try:
                    row = json.loads(line)
                    row_key(row)
                except (ValueError, KeyError, TypeError):
                    continue  # a line cut short by a kill, or not ours
                if isinstance(row, dict):
                    yield start, row

    def rows_at(self, offsets: Iterable[int]) -> Iterator[dict[str, Any]]:
        """The rows that start at ``offsets`` (from :meth:`scan`), in that order."""
        with open(self.path, "rb") as f:
            for off in offsets:
                f.seek(off)
                yield json.loads(f.readline())

    def latest(self, keep: Callable[[Mapping[str, Any]], bool]) -> tuple[list[int], list[str], list[str]]:
        """Offsets of the last row per key among rows ``keep`` accepts, sorted by path; and the analyzer names and
        timing stages those rows hold (Parquet's columns). Holds one offset per key, not the rows."""
        last: dict[tuple[str, str, str, str], int] = {}
        names: set[str] = set()
        stages: set[str] = set()
        for off, row in self.scan():
            if keep(row):
                last[row_key(row)] = off
                names.update(row.get("analyzers") or {})
                stages.update(row.get("timings") or {})
        order = sorted(last.items(), key=lambda kv: kv[0][0])
        return [off for _, off in order], sorted(names), sorted(stages)

    def append(self, row: Mapping[str, Any]) -> None:
        """Add one row, durably: it is on disk when this returns."""
        try:
            if self._fh is None:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                self._fh = open(self.path, "ab")
                if self._fh.tell() > 0 and _last_byte(self.path) != b"\n":
                    self._fh.write(b"\n")  # a torn last line stays alone on its line
            self._fh.write(json.dumps(dict(row), allow_nan=False, ensure_ascii=False).encode("utf-8", "surrogateescape")
                           + b"\n")
            self._fh.flush()
            os.fsync(self._fh.fileno())
        except OSError as e:
            raise BatchError(f"{self.path}: cannot write the batch index ({e.strerror})") from None

    def close(self) -> None:
        if self._fh is not None:
            self._fh.close()
            self._fh = None

    def __enter__(self) -> ResultIndex:
        return self

    def __exit__(self, et: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None) -> None:
        self.close()


def _last_byte(path: Path) -> bytes:
    with open(path, "rb") as f:
        f.seek(-1, os.SEEK_END)
        return f.read(1)


def flat_rows(rows: Iterable[Mapping[str, Any]], names: Sequence[str] | None = None,
              stages: Sequence[str] | None = None) -> list[dict[str, Any]]:
    """Rows with ``analyzers`` and ``timings`` spread into ``analyzer.<name>`` / ``timing.<stage>`` columns
    (those named, else every one the rows hold)."""
    rows = list(rows)
    if names is None:
        names = sorted({k for r in rows for k in (r.get("analyzers") or {})})
    if stages is None:
        stages = sorted({k for r in rows for k in (r.get("timings") or {})})
    out = []
    for r in rows:
        flat = {c: r.get(c) for c in COLUMNS if c not in ("analyzers", "timings")}
        flat.update({f"analyzer.{n}": (r.get("analyzers") or {}).get(n) for n in names})
        flat.update({f"timing.{s}": (r.get("timings") or {}).get(s) for s in stages})
        out.append(flat)
    return out


def parquet_available() -> bool:
    try:
        import pyarrow  # noqa: F401
        import pyarrow.parquet  # noqa: F401
    except ImportError:
        return False
    return True


def write_parquet(rows: Iterable[Mapping[str, Any]], path: Path, *, names: Sequence[str] | None = None,
                  stages: Sequence[str] | None = None, chunk: int = 10_000) -> bool:
    """Write the rows as Parquet, atomically; False (nothing written, ``rows`` untouched) without ``pyarrow``.

    Given the analyzer ``names`` and timing ``stages`` (the columns), rows are read ``chunk`` at a time,
    so a million rows from :meth:`ResultIndex.rows_at` never sit in memory together.
    """
    if not parquet_available():
        return False
    import pyarrow as pa
    import pyarrow.parquet as pq

    if names is None or stages is None:
        rows = list(rows)
        names = sorted({k for r in rows for k in (r.get("analyzers") or {})}) if names is None else names
        stages = sorted({k for r in rows for k in (r.get("timings") or {})}) if stages is None else stages
    fields = []
    plain = [c for c in COLUMNS if c not in ("analyzers", "timings")]
    for c in plain + [f"analyzer.{n}" for n in names] + [f"timing.{s}" for s in stages]:
        if c in ("size_bytes", "mtime_ns", "attempts"):
            t = pa.int64()
        elif c in ("score", "wall_s") or c.startswith(("analyzer.", "timing.")):
            t = pa.float64()
        else:
            t = pa.string()
        fields.append(pa.field(c, t))
    schema = pa.schema(fields)
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    try:
        with pq.ParquetWriter(tmp, schema) as writer:
            it = iter(rows)
            wrote_any = False
            while batch := list(itertools.islice(it, chunk)):
                writer.write_table(pa.Table.from_pylist(flat_rows(batch, names, stages), schema=schema))
                wrote_any = True
            if not wrote_any:
                writer.write_table(schema.empty_table())
        tmp.replace(path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return True
