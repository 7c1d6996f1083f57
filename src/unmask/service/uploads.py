"""Receive an upload straight to disk, under a server-chosen name, never past the size limit.

``multipart/form-data`` (a ``file`` part, plus small fields such as ``settings``) is
parsed as it streams; any other body is taken as the file itself (``?filename=`` names
it). :func:`receive_files` takes several ``file`` parts (an enrolment's footage) into
one directory as ``0``, ``1``, ...; the limit is on the request's files together.
Nothing the client sends is used as a path: files land where the caller says.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from python_multipart.multipart import MultipartParser, parse_options_header
from starlette.requests import Request

MAX_FIELD_BYTES = 64 * 1024
MAX_NAME = 200
_UNSAFE = re.compile(r"[\x00-\x1f\x7f]")


class UploadTooLarge(Exception):
    pass


class BadUpload(Exception):
    pass


@dataclass
class ReceivedFile:
    filename: str  # the client's name, for display only
    path: Path  # where it was written (server-chosen)
    size: int


@dataclass
class Received:
    filename: str
    size: int
    fields: dict[str, str] = field(default_factory=dict)
    files: list[ReceivedFile] = field(default_factory=list)


def display_name(raw: str | None) -> str:
    """A client's file name for display only: last path component, no control characters, bounded."""
    name = (raw or "").replace("\\", "/").rsplit("/", 1)[-1]
    name = _UNSAFE.sub("", name).strip()
    if name in ("", ".", ".."):
        return "upload"
    return name[:MAX_NAME]


def _limit_words(n: int) -> str:
    return f"{n / 1024**3:.1f} GB" if n >= 1024**3 else f"{n / 1024**2:.0f} MB"


def _check_declared(request: Request, limit: int) -> None:
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit + MAX_FIELD_BYTES * 4:
        raise UploadTooLarge(f"upload is larger than this server's {_limit_words(limit)} limit")


async def receive(request: Request, dest: Path, limit: int) -> Received:
    """Stream the request body's file into ``dest``; ``UploadTooLarge`` / ``BadUpload`` on violations."""
    _check_declared(request, limit)
    ctype, params = parse_options_header(request.headers.get("content-type", ""))
    try:
        if ctype == b"multipart/form-data":
            boundary = params.get(b"boundary")
            if not boundary:
                raise BadUpload("multipart upload without a boundary")
            return await _multipart(request, lambda i: dest, limit, boundary, max_files=1)
        return await _raw(request, dest, limit)
    except BaseException:
        dest.unlink(missing_ok=True)
        raise


async def receive_files(request: Request, dest_dir: Path, limit: int, max_files: int) -> Received:
    """Stream a multipart request's ``file`` parts into ``dest_dir/0``, ``dest_dir/1``, ... (``limit``: all
    together)."""
    _check_declared(request, limit)
    ctype, params = parse_options_header(request.headers.get("content-type", ""))
    if ctype != b"multipart/form-data":
        raise BadUpload("send multipart/form-data: the form fields and one or more 'file' parts")
    boundary = params.get(b"boundary")
    if not boundary:
        raise BadUpload("multipart upload without a boundary")
    try:
        return await _multipart(request, lambda i: dest_dir / str(i), limit, boundary, max_files=max_files)
    except BaseException:
        for p in dest_dir.iterdir() if dest_dir.is_dir() else ():
            p.unlink(missing_ok=True)
        raise


async def _raw(request: Request, dest: Path, limit: int) -> Received:
    size = 0
    with open(dest, "wb") as f:
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit:
                raise UploadTooLarge(f"upload is larger than this server's {_limit_words(limit)} limit")
            f.write(chunk)
        f.flush()
        os.fsync(f.fileno())
    return Received(display_name(request.query_params.get("filename")), size)


class _Parts:
    """Callbacks for python-multipart: ``file`` parts go to disk (at most ``max_files``), small fields to memory."""

    def __init__(self, dest_for: Callable[[int], Path], limit: int, max_files: int = 1) -> None:
        self.dest_for, self.limit, self.max_files = dest_for, limit, max_files
        self.file: Any = None
        self.files: list[ReceivedFile] = []
        self.size = 0
        self.fields: dict[str, str] = {}
        self._headers: dict[bytes, bytes] = {}
        self._hname = b""
        self._hvalue = b""
        self._name: str | None = None
        self._is_file = False
        self._buf = bytearray()
        self.error: Exception | None = None

    def on_part_begin(self) -> None:
        self._headers, self._name, self._is_file, self._buf = {}, None, False, bytearray()

    def on_header_field(self, data: bytes, start: int, end: int) -> None:
        self._hname += data[start:end]

    def on_header_value(self, data: bytes, start: int, end: int) -> None:
        self._hvalue += data[start:end]

    def on_header_end(self) -> None:
        self._headers[self._hname.lower()] = self._hvalue
        self._hname, self._hvalue = b"", b""

    def on_headers_finished(self) -> None:
        _, opts = parse_options_header(self._headers.get(b"content-disposition", b""))
        self._name = opts.get(b"name", b"").decode("utf-8", "replace")
        self._is_file = b"filename" in opts or self._name == "file"
        if self._is_file:
            if self._name != "file":
                self._fail(BadUpload(f"unexpected file field {self._name!r}; send the media as 'file'"))
            elif len(self.files) >= self.max_files:
                self._fail(BadUpload("send one file per scan" if self.max_files == 1
                                     else f"send at most {self.max_files} files at once"))
            else:
                path = self.dest_for(len(self.files))
                self.files.append(ReceivedFile(display_name(opts.get(b"filename", b"").decode("utf-8", "replace")),
                                               path, 0))
                self.file = open(path, "wb")

    def on_part_data(self, data: bytes, start: int, end: int) -> None:
        if self.error is not None:
            return
        chunk = data[start:end]
        if self._is_file:
            if self.file is None:
                return
            self.size += len(chunk)
            self.files[-1].size += len(chunk)
            if self.size > self.limit:
                self._fail(UploadTooLarge(f"upload is larger than this server's {_limit_words(self.limit)} limit"))
                return
            self.file.write(chunk)
        else:
            self._buf += chunk
            if len(self._buf) > MAX_FIELD_BYTES:
                self._fail(BadUpload(f"form field {self._name!r} is too long"))

    def on_part_end(self) -> None:
        if self._is_file:
            self._close_file()
        elif self.error is None and self._name:
            self.fields[self._name] = self._buf.decode("utf-8", "replace")

    def _close_file(self) -> None:
        if self.file is not None:
            self.file.flush()
            os.fsync(self.file.fileno())
            self.file.close()
            self.file = None

    def _fail(self, e: Exception) -> None:
        if self.error is None:
            self.error = e

    def close(self) -> None:
        self._close_file()


async def _multipart(request: Request, dest_for: Callable[[int], Path], limit: int, boundary: bytes,
                     max_files: int) -> Received:
    parts = _Parts(dest_for, limit, max_files)
    callbacks = {name: getattr(parts, name) for name in (
        "on_part_begin", "on_header_field", "on_header_value", "on_header_end", "on_headers_finished",
        "on_part_data", "on_part_end")}
    parser = MultipartParser(boundary, callbacks)  # type: ignore[arg-type]
    try:
        async for chunk in request.stream():
            parser.write(chunk)
            if parts.error is not None:
                raise parts.error
        parser.finalize()
    except (UploadTooLarge, BadUpload):
        raise
    except Exception as e:  # noqa: BLE001 - python-multipart raises its own errors on malformed bodies
        raise BadUpload(f"malformed multipart upload ({type(e).__name__})") from None
    finally:
        parts.close()
    if not parts.files:
        raise BadUpload("no file in the upload: send the media as the form field 'file'")
    return Received(parts.files[0].filename, parts.size, parts.fields, list(parts.files))
