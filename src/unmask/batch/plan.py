"""Planning a batch: hash each input, skip what the output folder already holds, one task per distinct content.

A local file is hashed here (its hash reused from the index while its size and modification time are
unchanged). A URL is never downloaded here: its size and modification time (from the folder's listing, or
one stat) find its hash in the index; a URL not seen before, or changed, is hashed by the worker that
downloads it, and names its report after that hash.
"""

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
from unmask.batch.remote import RemoteFile, Source, source_key, stat_url
from unmask.errors import InputError

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


def report_stem(stem: str, sha256: str) -> str:
    """``<sha256 prefix>-<file name>``: unique per content, readable, and the same wherever the file sat."""
    name = "".join(c if c.isprintable() and c not in '\\/:*?"<>|' else "_" for c in stem)[:80] or "file"
    return f"{sha256[:16]}-{name}"


def plan(paths: Sequence[Source], out: Path, version: str, digest: str, run_dir: str, html: bool,
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
        name = source_key(p)
        if not isinstance(p, RemoteFile):
            p = Path(name)
        sha, size, mtime = _identify(p, name, by_path)
        key = (sha, version, digest)
        if sha and key in finished:
            if (name, key) not in own:  # same content under another name: its row points at the same report
                done = next(index.rows_at([finished[key]]))
                index.append({**done, "path": name, "size_bytes": size, "mtime_ns": mtime, "attempts": 0,
                              "finished_at": datetime.now(UTC).isoformat(timespec="seconds")})
            state.tick(p, resumed=True)
            continue
        if isinstance(p, RemoteFile):  # downloaded and hashed by its worker, which names the report
            tasks[("", name, "")] = Task(p, "", size, mtime, run_dir, None, html)
            continue
        if sha and key in tasks:
            tasks[key].followers.append(p)
            continue
        stem = report_stem(p.stem, sha or hashlib.sha256(name.encode("utf-8", "surrogateescape")).hexdigest())
        tasks[key if sha else ("", name, "")] = Task(p, sha, size, mtime, run_dir, stem, html)
    return list(tasks.values())


def _identify(p: Source, name: str, by_path: dict[tuple[str, Any, Any], str]) -> tuple[str, int, int]:
    """``(sha256, size, mtime_ns)`` of an input: ``""`` for a local file that cannot be read (its scan says why)
    and for a URL whose hash the index does not hold for this size and modification time."""
    if isinstance(p, RemoteFile):
        size, mtime = p.size, p.mtime_ns
        if size < 0:
            try:
                got = stat_url(p.url)
            except InputError:  # a scheme pyarrow cannot open: its worker says so, in its row
                got = None
            size, mtime = got if got is not None else (0, -1)  # missing: its worker says so
        known = by_path.get((name, size, mtime)) if mtime >= 0 else None  # no time from the store: not trusted
        return known or "", size, mtime
    try:
        st = os.stat(name)
    except OSError:
        return "", 0, 0
    try:
        return by_path.get((name, st.st_size, st.st_mtime_ns)) or file_sha256(Path(name)), st.st_size, st.st_mtime_ns
    except OSError:
        return "", 0, 0
