"""A person's reference profile: who they look like and how they move, as a versioned, portable file.

A profile holds the *distribution* of the person's dlib face embeddings (every
usable face seen in the enrolment footage, not one mean) and their
behavioural signature: one vector of facial-movement correlations per window
of footage (:mod:`unmask.reference.mannerisms`), and, from format 2, their voice
(one speaker embedding per 3 s of speech and their spread,
:mod:`unmask.reference.voice`; ``null`` when the footage had too little speech).
It is stored in the project's
store and exported/imported as the same bytes: UTF-8 JSON with float arrays
as base64 little-endian float32 and their shapes. Never pickle: a profile
file may come from someone else, and loading it must not run code.

Format (``format`` = ``"unmask-person-profile"``, ``format_version`` = 2; version 1, without ``voice``, is
still read)::

    {"format", "format_version", "name", "created_at", "unmask_version",
     "settings": {"window_s", "hop_s", "fps", "signals": [...]},
     "identity": {"embeddings": {"shape": [n, 128], "dtype": "<f4", "data": "<base64>"},
                  "sources": [file index per embedding]},
     "mannerisms": {"windows": {... [m, k] ...}, "sources": [file index per window]},
     "voice": null | {"embeddings": {... [s, 256] ...}, "sources": [file index per segment],
                      "speech_s", "spread": [p10, p90]},
     "footage": [{"name", "sha256", "kind", "duration_s", "face_s", "embeddings", "windows", "note"}]}
"""

from __future__ import annotations

import base64
import hashlib
import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from unmask.errors import ProfileError
from unmask.reference.voice import VoiceProfile

FORMAT = "unmask-person-profile"
FORMAT_VERSION = 2
EMBEDDING_DIM = 128
MAX_NAME_LEN = 200  # as the store allows


def check_name(name: str) -> str:
    """The name with runs of white space (tabs, newlines) made one space, or ``ProfileError`` when it cannot name
    a person."""
    n = " ".join(str(name).split())
    if not n:
        raise ProfileError("a person's name cannot be empty")
    if len(n) > MAX_NAME_LEN:
        raise ProfileError(f"a person's name must be at most {MAX_NAME_LEN} characters")
    if any(ord(c) < 32 for c in n):
        raise ProfileError("a person's name cannot contain control characters")
    return n


@dataclass(frozen=True)
class FootageItem:
    """What one enrolment file gave."""

    name: str  # file name (no directories: profiles travel)
    sha256: str
    kind: str  # video, animation, image
    duration_s: float
    face_s: float  # seconds of the person's face that could be used
    embeddings: int
    windows: int
    note: str = ""  # e.g. "face did not match the other files; left out"

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "sha256": self.sha256, "kind": self.kind,
                "duration_s": float(round(self.duration_s, 3)), "face_s": float(round(self.face_s, 3)),
                "embeddings": int(self.embeddings), "windows": int(self.windows),
                "note": self.note}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> FootageItem:
        return cls(str(d["name"]), str(d["sha256"]), str(d["kind"]), float(d["duration_s"]), float(d["face_s"]),
                   int(d["embeddings"]), int(d["windows"]), str(d.get("note", "")))


@dataclass(frozen=True)
class PersonProfile:
    """Enrolled reference for one person. Arrays are float32; ``*_sources`` index ``footage``."""

    name: str
    embeddings: npt.NDArray[np.float32]  # (n, 128)
    windows: npt.NDArray[np.float32]  # (m, k) correlation vectors (Fisher z), k = len(signal pairs)
    settings: Mapping[str, Any]
    footage: tuple[FootageItem, ...]
    embedding_sources: tuple[int, ...] = ()
    window_sources: tuple[int, ...] = ()
    created_at: str = ""  # ISO 8601 UTC, set by enrolment
    unmask_version: str = ""
    version: int | None = None  # the store's version number, once stored
    voice: VoiceProfile | None = None  # None: no speech in the footage (or a format-1 profile)

    def __post_init__(self) -> None:
        e, w = self.embeddings, self.windows
        if e.ndim != 2 or e.shape[1] != EMBEDDING_DIM or e.dtype != np.float32:
            raise ProfileError(f"profile {self.name!r}: embeddings must be (n, {EMBEDDING_DIM}) float32, "
                               f"got {e.shape} {e.dtype}")
        if w.ndim != 2 or w.dtype != np.float32:
            raise ProfileError(f"profile {self.name!r}: windows must be (m, k) float32, got {w.shape} {w.dtype}")
        if not (np.all(np.isfinite(e)) and np.all(np.isfinite(w))):
            raise ProfileError(f"profile {self.name!r}: arrays must be finite")
        if self.embedding_sources and len(self.embedding_sources) != len(e):
            raise ProfileError(f"profile {self.name!r}: {len(e)} embeddings but {len(self.embedding_sources)} sources")
        if self.window_sources and len(self.window_sources) != len(w):
            raise ProfileError(f"profile {self.name!r}: {len(w)} windows but {len(self.window_sources)} sources")

    @property
    def n_embeddings(self) -> int:
        return int(self.embeddings.shape[0])

    @property
    def n_windows(self) -> int:
        return int(self.windows.shape[0])

    @property
    def face_seconds(self) -> float:
        return float(sum(f.face_s for f in self.footage if f.kind != "image"))

    def summary(self) -> dict[str, Any]:
        """The JSON-able facts a listing shows (the store keeps it beside the bytes)."""
        return {
            "name": self.name,
            "created_at": self.created_at,
            "files": len([f for f in self.footage if not f.note.startswith("left out")]),
            "face_seconds": round(self.face_seconds, 1),
            "embeddings": self.n_embeddings,
            "mannerism_windows": self.n_windows,
            "voice_seconds": round(self.voice.speech_s, 1) if self.voice is not None else 0.0,
            "unmask_version": self.unmask_version,
            "format_version": FORMAT_VERSION,
        }

    def to_dict(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "name": self.name,
            "created_at": self.created_at,
            "unmask_version": self.unmask_version,
            "settings": dict(self.settings),
            "identity": {"embeddings": _pack(self.embeddings), "sources": list(self.embedding_sources)},
            "mannerisms": {"windows": _pack(self.windows), "sources": list(self.window_sources)},
            "voice": None if self.voice is None else {
                "embeddings": _pack(self.voice.embeddings), "sources": list(self.voice.sources),
                "speech_s": float(round(self.voice.speech_s, 3)),
                "spread": [float(round(v, 4)) for v in self.voice.spread]},
            "footage": [f.to_dict() for f in self.footage],
        }

    def to_bytes(self) -> bytes:
        """The profile as canonical UTF-8 JSON (what the store keeps and ``people export`` writes)."""
        return json.dumps(self.to_dict(), sort_keys=True, separators=(",", ":"), allow_nan=False).encode("utf-8")

    def sha256(self) -> str:
        return hashlib.sha256(self.to_bytes()).hexdigest()

    @classmethod
    def from_bytes(cls, raw: bytes, version: int | None = None) -> PersonProfile:
        """Parse and validate profile bytes; ``ProfileError`` says what is wrong, in one line."""
        try:
            d = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, ValueError) as e:
            raise ProfileError(f"not an unmask profile (not JSON: {e})") from None
        if not isinstance(d, dict) or d.get("format") != FORMAT:
            raise ProfileError("not an unmask person profile (missing the 'unmask-person-profile' format tag)")
        fv = d.get("format_version")
        if not isinstance(fv, int) or fv < 1:
            raise ProfileError(f"profile has a bad format_version {fv!r}")
        if fv > FORMAT_VERSION:
            raise ProfileError(f"profile format {fv} is newer than this unmask reads ({FORMAT_VERSION}); "
                               "upgrade unmask")
        try:
            ident, mann = d["identity"], d["mannerisms"]
            return cls(
                name=check_name(d["name"]),
                embeddings=_unpack(ident["embeddings"], "identity.embeddings"),
                windows=_unpack(mann["windows"], "mannerisms.windows"),
                settings=dict(d["settings"]),
                footage=tuple(FootageItem.from_dict(f) for f in d["footage"]),
                embedding_sources=tuple(int(i) for i in ident.get("sources", ())),
                window_sources=tuple(int(i) for i in mann.get("sources", ())),
                created_at=str(d.get("created_at", "")),
                unmask_version=str(d.get("unmask_version", "")),
                version=version,
                voice=_voice(d.get("voice")),
            )
        except ProfileError:
            raise
        except (KeyError, TypeError, ValueError) as e:
            raise ProfileError(f"profile is damaged or incomplete ({type(e).__name__}: {e})") from None


def _voice(d: Any) -> VoiceProfile | None:
    if d is None:
        return None
    if not isinstance(d, Mapping):
        raise ProfileError("profile field voice must be an object or null")
    lo, hi = (float(v) for v in d["spread"])
    try:
        return VoiceProfile(_unpack(d["embeddings"], "voice.embeddings"), tuple(int(i) for i in d["sources"]),
                            float(d["speech_s"]), (lo, hi))
    except ValueError as e:
        raise ProfileError(f"profile field voice: {e}") from None


def _pack(a: npt.NDArray[np.floating[Any]]) -> dict[str, Any]:
    a = np.ascontiguousarray(a, dtype="<f4")
    return {"shape": list(a.shape), "dtype": "<f4", "data": base64.b64encode(a.tobytes()).decode("ascii")}


def _unpack(d: Mapping[str, Any], what: str) -> npt.NDArray[np.float32]:
    if not isinstance(d, Mapping) or d.get("dtype") != "<f4":
        raise ProfileError(f"profile field {what} must be a little-endian float32 array")
    shape = tuple(int(s) for s in d["shape"])
    if len(shape) != 2 or any(s < 0 for s in shape):
        raise ProfileError(f"profile field {what} has a bad shape {shape}")
    try:
        buf = base64.b64decode(str(d["data"]).encode("ascii"), validate=True)
    except (ValueError, TypeError) as e:
        raise ProfileError(f"profile field {what} is not valid base64 ({e})") from None
    if len(buf) != 4 * math.prod(shape):
        raise ProfileError(f"profile field {what}: {len(buf)} bytes for shape {shape}")
    return np.frombuffer(buf, dtype="<f4").reshape(shape).astype(np.float32)


__all__ = ["FORMAT", "FORMAT_VERSION", "FootageItem", "PersonProfile", "check_name"]
