"""Inputs that are URLs (``s3://``, ``gs://``, ``hdfs://``, ``file://`` ...), read through pyarrow's filesystems.

The driver lists a folder URL (recursively) and sniffs each object's first bytes, as for a
local folder (:data:`SNIFF_THREADS` ranged reads at a time), and takes each object's size and
modification time from the listing; it never downloads a whole object. A worker opens its own
filesystem from the URL (credentials from the environment, as pyarrow does), copies the object
into its private scratch folder under a size cap while hashing it (:func:`fetch`), scans the
copy and deletes it. pyarrow is the ``batch`` extra and is imported only when a URL is met.
"""

from __future__ import annotations

import hashlib
import os
import re
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from unmask.errors import BatchError, InputError, ManifestError, MediaTooLarge, MissingInput, UnreadableInput

PYARROW_MISSING = "reading URLs needs the batch extra: pip install 'unmask[batch]'"
COPY_CHUNK = 1 << 20
#: first-byte reads in flight while a folder URL is sniffed (I/O bound: the driver waits on the store)
SNIFF_THREADS = 16
_SNIFF_CHUNK = 4096
_URL = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")


def is_url(s: str | os.PathLike[str]) -> bool:
    """True for ``scheme://...`` (a Windows drive ``C:\\`` or a plain path is not)."""
    return isinstance(s, str) and bool(_URL.match(s))


@dataclass(frozen=True)
class RemoteFile:
    """One object named by URL; ``size`` and ``mtime_ns`` as the listing gave them (-1: unknown, stat it)."""

    url: str
    size: int = -1
    mtime_ns: int = -1

    def __str__(self) -> str:
        return self.url

    @property
    def name(self) -> str:
        return self.url.split("?", 1)[0].rstrip("/").rsplit("/", 1)[-1]

    @property
    def stem(self) -> str:
        return self.name.rsplit(".", 1)[0] if "." in self.name[1:] else self.name


#: one input file: a local path, or an object named by URL
Source = Path | RemoteFile


def source_key(s: Source) -> str:
    """What names an input in the index: the URL as given, or the absolute path."""
    return s.url if isinstance(s, RemoteFile) else os.path.abspath(s)


def pyarrow_fs() -> Any:
    try:
        import pyarrow.fs as pafs
    except ImportError:
        raise BatchError(PYARROW_MISSING) from None
    return pafs


def open_url(url: str) -> tuple[Any, str]:
    """``(filesystem, path)`` for ``url``; ``InputError`` for a scheme or URL pyarrow cannot open."""
    pafs = pyarrow_fs()
    try:
        return pafs.FileSystem.from_uri(url)  # type: ignore[no-any-return]
    except (ValueError, OSError) as e:  # ArrowInvalid is a ValueError
        raise InputError(url, f"cannot open this URL ({_one_line(e)})") from None


def _one_line(e: BaseException) -> str:
    return " ".join(str(e).split())[:200] or type(e).__name__


def _mtime_ns(info: Any) -> int:
    m = getattr(info, "mtime_ns", None)
    return int(m) if m is not None else -1


def stat_url(url: str) -> tuple[int, int] | None:
    """``(size, mtime_ns)`` of the object at ``url`` (mtime -1 where the store gives none); None when missing."""
    fs, path = open_url(url)
    pafs = pyarrow_fs()
    try:
        info = fs.get_file_info(path)
    except OSError:
        return None
    if info.type != pafs.FileType.File:
        return None
    return int(info.size or 0), _mtime_ns(info)


def head_bytes(fs: Any, path: str, n: int) -> bytes:
    with fs.open_input_stream(path) as f:
        return bytes(f.read(n))


def child_url(base: str, base_path: str, child_path: str) -> str:
    """The URL of ``child_path`` (as the filesystem lists it) under the folder URL ``base`` (at ``base_path``)."""
    head, sep, query = base.partition("?")
    rel = child_path[len(base_path.rstrip("/")):].lstrip("/") if child_path.startswith(base_path.rstrip("/")) \
        else child_path.lstrip("/")
    return head.rstrip("/") + "/" + rel + (sep + query)


def expand_url(url: str, sniff: Any) -> tuple[list[RemoteFile], list[RemoteFile], bytes | None]:
    """What ``url`` names: ``(media, not media, None)`` for a folder (listed recursively, hidden names skipped,
    ``sniff(head)`` deciding), ``([object], [], head)`` for one object (its first bytes, so the caller can tell a
    list of paths from media); ``MissingInput`` when nothing is there."""
    pafs = pyarrow_fs()
    fs, path = open_url(url)
    try:
        info = fs.get_file_info(path)
        if info.type == pafs.FileType.File:
            return [RemoteFile(url, int(info.size or 0), _mtime_ns(info))], [], head_bytes(fs, path, 189)
        if info.type != pafs.FileType.Directory:
            raise MissingInput(url, "no such object or folder")
        infos = fs.get_file_info(pafs.FileSelector(path, recursive=True))
    except OSError as e:
        raise UnreadableInput(url, f"cannot list or read ({_one_line(e)})") from None
    files = [i for i in sorted((i for i in infos if i.type == pafs.FileType.File), key=lambda i: str(i.path))
             if not any(part.startswith(".") for part in str(i.path)[len(path.rstrip("/")):].split("/") if part)]
    media: list[RemoteFile] = []
    other: list[RemoteFile] = []
    for i, is_media in zip(files, sniffed(fs, [str(i.path) for i in files], sniff)):
        f = RemoteFile(child_url(url, path, str(i.path)), int(i.size or 0), _mtime_ns(i))
        (media if is_media else other).append(f)
    return media, other, None


def sniffed(fs: Any, paths: list[str], sniff: Any) -> list[bool]:
    """Whether each object is media by its first bytes, :data:`SNIFF_THREADS` reads at a time (an object store
    answers each in tens of milliseconds: one at a time, a million objects took hours), in order."""

    def one(p: str) -> bool:
        try:
            return bool(sniff(head_bytes(fs, p, 189)))
        except OSError:
            return False

    out: list[bool] = []
    with ThreadPoolExecutor(SNIFF_THREADS, thread_name_prefix="unmask-sniff") as pool:
        for start in range(0, len(paths), _SNIFF_CHUNK):  # a chunk at a time: a million futures at once is GBs
            out.extend(pool.map(one, paths[start : start + _SNIFF_CHUNK]))
    return out


def read_text(url: str) -> str:
    """A list of paths or manifest at ``url``, as text."""
    fs, path = open_url(url)
    try:
        with fs.open_input_stream(path) as f:
            return bytes(f.read()).decode("utf-8-sig")
    except UnicodeDecodeError:
        raise ManifestError(f"{url}: neither a media file nor a list of paths (not text)") from None
    except OSError as e:
        raise UnreadableInput(url, f"cannot read ({_one_line(e)})") from None


@dataclass(frozen=True)
class Fetched:
    """An object copied into a worker's scratch folder, with what was learnt while copying it."""

    path: Path
    sha256: str
    size: int
    mtime_ns: int


def fetch(url: str, scratch: Path, max_bytes: int) -> Fetched:
    """Copy the object at ``url`` into ``scratch`` (under its own name), hashing it on the way.

    ``MissingInput`` when it is not there, ``MediaTooLarge`` past ``max_bytes`` (the partial copy deleted),
    ``UnreadableInput`` when the store fails mid-way. The caller deletes the copy.
    """
    fs, path = open_url(url)
    pafs = pyarrow_fs()
    try:
        info = fs.get_file_info(path)
    except OSError as e:
        raise UnreadableInput(url, f"cannot read ({_one_line(e)})") from None
    if info.type != pafs.FileType.File:
        raise MissingInput(url, "no such object")
    if info.size is not None and info.size > max_bytes:
        raise MediaTooLarge(url, f"{info.size} bytes, more than the {max_bytes >> 20} MB a download may take")
    name = "".join(c if c.isprintable() and c not in "/\\" else "_" for c in RemoteFile(url).name)[-120:]
    name = name if name.strip(".") else "object"  # the report records this name, as it would a local file's
    dest = scratch / name
    h = hashlib.sha256()
    size = 0
    try:
        with fs.open_input_stream(path) as src, open(dest, "wb") as out:
            while chunk := src.read(COPY_CHUNK):
                size += len(chunk)
                if size > max_bytes:
                    raise MediaTooLarge(url, f"more than the {max_bytes >> 20} MB a download may take")
                h.update(chunk)
                out.write(chunk)
    except OSError as e:
        dest.unlink(missing_ok=True)
        raise UnreadableInput(url, f"download failed ({_one_line(e)})") from None
    except MediaTooLarge:
        dest.unlink(missing_ok=True)
        raise
    return Fetched(dest, h.hexdigest(), size, _mtime_ns(info))
