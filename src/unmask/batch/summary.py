"""What a batch did: the rows of this batch read back from the index, counted, and ``summary.json``."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from unmask.batch.index import ResultIndex, write_parquet
from unmask.batch.remote import Source, source_key


@dataclass(frozen=True)
class BatchSummary:
    """What a batch did; ``to_dict`` is ``summary.json``."""

    out: str
    files: int
    scanned: int
    resumed: int
    errors: int
    workers: int
    wall_s: float
    files_per_s: float | None  # files scanned (not resumed) per wall second, model loading included
    verdicts: dict[str, int]
    fusion_version: str
    config_digest: str
    limits: dict[str, Any]
    index: str
    parquet: str | None
    failed: list[dict[str, str]] = field(default_factory=list)  # path and error of each file that failed
    worker_restarts: int = 0
    backend: str = "local"  # "local" (this machine's processes) or "ray <address>"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Tally:
    """The batch's rows counted: verdicts (``error`` for a file that failed), the failures, and the Parquet file."""

    verdicts: dict[str, int]
    failed: list[dict[str, str]]
    parquet: Path | None


def tally(index: ResultIndex, paths: Sequence[Source], out: Path, version: str, digest: str) -> Tally:
    """Count this batch's rows and write ``index.parquet`` from them, one row at a time (a million are never
    all in memory)."""
    wanted = {source_key(p) for p in paths}
    offsets, names, stages = index.latest(lambda r: r["path"] in wanted and r["fusion_version"] == version
                                          and r["config_digest"] == digest)
    wanted.clear()  # a million paths need not stay while the rows are read
    verdicts: dict[str, int] = {}
    failed: list[dict[str, str]] = []

    def counted() -> Iterator[dict[str, Any]]:
        for r in index.rows_at(offsets):
            label = r["verdict"] if r["status"] == "done" else "error"
            verdicts[label] = verdicts.get(label, 0) + 1
            if r["status"] != "done":
                failed.append({"path": str(r["path"]), "error": str(r["error"])})
            yield r

    parquet = out / "index.parquet"
    rows = counted()
    wrote = write_parquet(rows, parquet, names=names, stages=stages)
    for _ in rows:  # without pyarrow nothing was read: count here
        pass
    return Tally(dict(sorted(verdicts.items())), failed, parquet if wrote else None)
