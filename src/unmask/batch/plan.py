"""Planning a batch: hash each input, skip what the output folder already holds, one task per distinct content."""

from __future__ import annotations

import hashlib
import os
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from unmask.batch.index import ContentKey, ResultIndex
from unmask.batch.record import BatchState, Task

HASH_CHUNK = 1 << 20


def fusion_version() -> str:
    """The shipped fusion model's version: part of what makes a report reusable."""
    from unmask.fusion import FusionModel

    return FusionModel.load().version


def file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(HASH_CHUNK):
            h.update(chunk)
    return h.hexdigest()


def report_stem(path: Path, sha256: str) -> str:
    """``<sha256 prefix>-<file name>``: unique per content, readable, and the same wherever the file sat."""
    name = "".join(c if c.isprintable() and c not in '\\/:*?"<>|' else "_" for c in path.stem)[:80] or "file"
    return f"{sha256[:16]}-{name}"


def plan(paths: Sequence[Path], out: Path, version: str, digest: str, run_dir: str, html: bool,
         index: ResultIndex, state: BatchState) -> list[Task]:
    """The tasks still to run: one per distinct content; files already reported are recorded and skipped.

    Reads the index once, a line at a time, keeping per (path, content key) only its last row's offset,
    size, modification time and whether its report is usable: a resumed million-file batch does not
    hold a million rows.
    """
    intern = sys.intern  # a run's version and digest strings repeat on every row
    last: dict[tuple[str, str, str, str], tuple[int, Any, Any, bool]] = {}
    for off, r in index.scan():
        key4 = (r["path"], intern(str(r["sha256"])), intern(str(r["fusion_version"])), intern(str(r["config_digest"])))
        usable = (r["status"] == "done" and bool(r.get("report")) and (out / r["report"]).is_file()
                  and (not html or bool(r.get("html") and (out / r["html"]).is_file())))
        last[key4] = (off, r.get("size_bytes"), r.get("mtime_ns"), usable)
    by_path = {(k[0], size, mtime): k[1] for k, (_, size, mtime, _) in last.items()}
    finished: dict[ContentKey, int] = {}  # content key -> offset of a usable row
    own: set[tuple[str, ContentKey]] = set()
    for k, (off, _, _, usable) in last.items():
        if usable:
            finished[k[1:]] = off
            own.add((k[0], k[1:]))
    del last
    tasks: dict[ContentKey, Task] = {}
    for p in paths:
        p = Path(os.path.abspath(p))
        try:
            st = p.stat()
            sha = by_path.get((str(p), st.st_size, st.st_mtime_ns)) or file_sha256(p)
        except OSError:
            sha, st = "", None  # the scan says why (missing, unreadable, a folder)
        key = (sha, version, digest)
        size, mtime = (st.st_size, st.st_mtime_ns) if st is not None else (0, 0)
        if sha and key in finished:
            if (str(p), key) not in own:  # same content under another name: its row points at the same report
                done = next(index.rows_at([finished[key]]))
                index.append({**done, "path": str(p), "size_bytes": size, "mtime_ns": mtime, "attempts": 0,
                              "finished_at": datetime.now(UTC).isoformat(timespec="seconds")})
            state.tick(p, resumed=True)
            continue
        if sha and key in tasks:
            tasks[key].followers.append(p)
            continue
        stem = report_stem(p, sha or hashlib.sha256(str(p).encode("utf-8", "surrogateescape")).hexdigest())
        tasks[key if sha else ("", str(p), "")] = Task(p, sha, size, mtime, f"{run_dir}/{stem}.json",
                                                        f"{run_dir}/{stem}.html" if html else None)
    return list(tasks.values())
