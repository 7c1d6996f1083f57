"""What a batch scans: folders (recursive, media recognised by content), CSV manifests and lists of paths.

A folder contributes every regular file whose first bytes look like a container or
picture format unmask can read (the name and extension are never looked at), so a
clip saved without an extension is scanned and a ``notes.txt`` is not. A file given
on the command line is scanned itself when it looks like media; otherwise it is a
manifest (a CSV with a ``path`` column, paths relative to the CSV) or a text file
of paths, one a line (``#`` starts a comment, paths relative to the list). A path a
manifest or list names is always scanned, media or not: whoever listed it wants to
hear why it cannot be read. The order is the order given, folders sorted by path;
a path met twice is scanned once.

An input may also be a URL (``s3://bucket/prefix/``, ``gs://``, ``hdfs://``, ``file:///abs/dir``), and a
manifest or list may name URLs: a folder URL is listed recursively and sniffed the same way, an object
URL is one file (:mod:`~unmask.batch.remote`, through pyarrow's filesystems: the ``batch`` extra).
"""

from __future__ import annotations

import csv
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from unmask.batch.remote import RemoteFile, Source, expand_url, is_url, read_text, source_key
from unmask.errors import ManifestError, MissingInput

_SNIFF_BYTES = 64

# (offset, magic): containers PyAV reads and pictures Pillow reads.
_MAGIC: tuple[tuple[int, bytes], ...] = (
    (4, b"ftyp"),  # MP4, MOV, M4V, 3GP, HEIF/AVIF
    (4, b"moov"), (4, b"mdat"), (4, b"wide"), (4, b"free"), (4, b"skip"),  # older QuickTime
    (0, b"\x1a\x45\xdf\xa3"),  # Matroska / WebM
    (0, b"FLV"),
    (0, b"\x00\x00\x01\xba"), (0, b"\x00\x00\x01\xb3"),  # MPEG program stream / elementary video
    (0, b"\x30\x26\xb2\x75\x8e\x66\xcf\x11"),  # ASF / WMV
    (0, b"OggS"),
    (0, b"\xff\xd8\xff"),  # JPEG
    (0, b"\x89PNG\r\n\x1a\n"),
    (0, b"GIF87a"), (0, b"GIF89a"),
    (0, b"BM"),
    (0, b"II*\x00"), (0, b"MM\x00*"),  # TIFF
    (0, b"\x00\x00\x00\x01"), (0, b"\x00\x00\x01"),  # H.264/H.265 Annex B streams
)
_RIFF_KINDS = (b"AVI ", b"WEBP", b"AMV ")


#: a file given directly under one of these names is scanned, never read as a list of paths
MEDIA_SUFFIXES = frozenset({".mp4", ".m4v", ".mov", ".mkv", ".webm", ".avi", ".mpg", ".mpeg", ".ts", ".flv",
                            ".wmv", ".3gp", ".gif", ".webp", ".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff"})


def media_head(head: bytes) -> bool:
    """True when ``head`` (a file's first 189 bytes, or all of a shorter file) starts like a container or picture."""
    if len(head) > 188 and head[0] == 0x47 and head[188] == 0x47:  # MPEG-TS: a sync byte every 188 bytes
        return True
    head = head[:_SNIFF_BYTES]
    if head[:4] == b"RIFF" and head[8:12] in _RIFF_KINDS:
        return True
    return any(head[off:off + len(magic)] == magic for off, magic in _MAGIC)


def looks_like_media(path: str | os.PathLike[str]) -> bool:
    """True when the file's first bytes are those of a video container or picture format (never by its name)."""
    try:
        with open(path, "rb") as f:
            head = f.read(189)
    except OSError:
        return False
    return media_head(head)


@dataclass(frozen=True)
class BatchInputs:
    """The files to scan, and what was passed over while finding them."""

    paths: tuple[Source, ...]
    not_media: tuple[Source, ...] = field(default=(), repr=False)  # files in folders that are not media by content
    duplicates: int = 0  # paths met more than once


def expand_inputs(inputs: Sequence[str | os.PathLike[str]]) -> BatchInputs:
    """Every file ``inputs`` name, in order; ``MissingInput`` for an input that does not exist,
    ``ManifestError`` for a manifest without a ``path`` column; a URL needs pyarrow (``BatchError`` without)."""
    seen: set[str] = set()
    out: list[Source] = []
    skipped: list[Source] = []
    dup = 0

    def add(paths: Iterable[Source]) -> None:
        nonlocal dup
        for p in paths:
            key = source_key(p)
            if key in seen:
                dup += 1
                continue
            seen.add(key)
            out.append(p if isinstance(p, RemoteFile) else Path(key))

    for raw in inputs:
        if isinstance(raw, str) and is_url(raw):
            media, other, head = expand_url(raw, media_head)
            if head is None:  # a folder
                skipped.extend(other)
                add(media)
            elif media_head(head) or os.path.splitext(media[0].name)[1].lower() in MEDIA_SUFFIXES:
                add(media)
            else:
                add(_names(raw, read_text(raw), raw.split("?", 1)[0].rsplit("/", 1)[0]))
            continue
        p = Path(raw)
        if p.is_dir():
            files = sorted(f for f in p.rglob("*") if f.is_file() and not f.name.startswith("."))
            is_media = {f: looks_like_media(f) for f in files}
            skipped.extend(f for f in files if not is_media[f])
            add(f for f in files if is_media[f])
        elif not p.exists():
            raise MissingInput(p, "no such file or folder")
        elif looks_like_media(p) or p.suffix.lower() in MEDIA_SUFFIXES:
            add([p])  # named as media but not media inside: its own row says why it cannot be read
        else:
            add(_listed(p))
    return BatchInputs(tuple(out), tuple(skipped), dup)


def _listed(p: Path) -> list[Source]:
    """The paths a CSV manifest (a ``path`` column) or a plain list (one path a line) names, relative to it."""
    try:
        text = p.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError:
        raise ManifestError(f"{p}: neither a media file nor a list of paths (not text)") from None
    except OSError as e:
        raise ManifestError(f"{p}: cannot read ({e.strerror})") from None
    return _names(str(p), text, p.parent)


def _names(where: str, text: str, base: Path | str) -> list[Source]:
    """The entries of a manifest or list read from ``where``: URLs as they are, other names relative to ``base``
    (a folder, or the URL of the folder holding a list read from a URL)."""
    lines = text.splitlines()
    first = next((ln for ln in lines if ln.strip()), "")
    if "," in first and "path" in [c.strip().lower() for c in next(csv.reader([first]))]:
        rows = list(csv.DictReader(lines))
        key = next(k for k in rows[0] if k and k.strip().lower() == "path") if rows else "path"
        names = [(r.get(key) or "").strip() for r in rows]
        if any(not n for n in names):
            raise ManifestError(f"{where}: a row has an empty path")
    else:
        names = [ln.strip() for ln in lines if ln.strip() and not ln.lstrip().startswith("#")]
    out: list[Source] = []
    for n in names:
        if is_url(n):
            out.append(RemoteFile(n))
        elif isinstance(base, Path) or n.startswith("/"):
            out.append(Path(base) / n if isinstance(base, Path) else Path(n))
        else:
            out.append(RemoteFile(base.rstrip("/") + "/" + n))
    return out
