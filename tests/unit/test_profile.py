"""Person profiles: a byte-exact round trip, and one-line refusals of anything that is not a valid profile."""

from __future__ import annotations

import base64
import json

import numpy as np
import pytest

from unmask.errors import ProfileError
from unmask.reference.profile import FORMAT_VERSION, FootageItem, PersonProfile, check_name


def _profile(name: str = "Ada Lovelace", n: int = 7, m: int = 4) -> PersonProfile:
    rng = np.random.default_rng(0)
    return PersonProfile(
        name=name,
        embeddings=rng.normal(size=(n, 128)).astype(np.float32),
        windows=rng.normal(size=(m, 66)).astype(np.float32),
        settings={"window_s": 4.0, "hop_s": 1.0, "fps": 8.0},
        footage=(FootageItem("a.mp4", "ab" * 32, "video", 9.5, 9.0, n - 1, m), FootageItem("b.jpg", "cd" * 32, "image", 0, 0, 1, 0)),
        embedding_sources=tuple([0] * (n - 1) + [1]),
        window_sources=tuple([0] * m),
        created_at="2026-01-01T00:00:00Z",
        unmask_version="0.1.0",
    )


def test_round_trip_is_exact():
    p = _profile()
    raw = p.to_bytes()
    q = PersonProfile.from_bytes(raw, version=3)
    assert np.array_equal(q.embeddings, p.embeddings) and np.array_equal(q.windows, p.windows)
    assert q.footage == p.footage and q.embedding_sources == p.embedding_sources and q.version == 3
    assert q.to_bytes() == raw and q.sha256() == p.sha256()
    d = json.loads(raw)
    assert d["format"] == "unmask-person-profile" and d["format_version"] == FORMAT_VERSION
    assert raw.isascii()  # plain JSON with base64 arrays: no pickle, nothing executable
    s = p.summary()
    assert s["embeddings"] == 7 and s["mannerism_windows"] == 4 and s["files"] == 2 and s["face_seconds"] == 9.0


def _damage(d: dict, what: str) -> dict:
    if what == "format":
        d["format"] = "something-else"
    elif what == "newer":
        d["format_version"] = FORMAT_VERSION + 1
    elif what == "shape":
        d["identity"]["embeddings"]["shape"] = [3, 128]
    elif what == "base64":
        d["identity"]["embeddings"]["data"] = "not base64!"
    elif what == "dtype":
        d["mannerisms"]["windows"]["dtype"] = "<f8"
    elif what == "missing":
        del d["footage"]
    elif what == "nan":
        a = np.full((1, 128), np.nan, "<f4")
        d["identity"]["embeddings"] = {"shape": [1, 128], "dtype": "<f4", "data": base64.b64encode(a.tobytes()).decode()}
        d["identity"]["sources"] = []
    elif what == "name":
        d["name"] = "   "
    return d


@pytest.mark.parametrize("what, words", [
    ("format", "not an unmask person profile"), ("newer", "newer than this unmask"), ("shape", "bytes for shape"),
    ("base64", "base64"), ("dtype", "float32"), ("missing", "damaged or incomplete"), ("nan", "finite"),
    ("name", "empty"),
])
def test_bad_profiles_are_refused_in_one_line(what, words):
    d = _damage(json.loads(_profile().to_bytes()), what)
    with pytest.raises(ProfileError) as e:
        PersonProfile.from_bytes(json.dumps(d).encode())
    assert words in str(e.value) and "\n" not in str(e.value)


@pytest.mark.parametrize("raw", [b"", b"\x80\x04\x95 pickle", b"[1, 2]", b"{\"format\": 1"])
def test_not_json_is_refused(raw):
    with pytest.raises(ProfileError):
        PersonProfile.from_bytes(raw)


def test_names():
    assert check_name("  Barack   Obama ") == "Barack Obama"
    assert check_name("a\nb") == "a b"
    for bad in ("", "   ", "x" * 201, "a\x00b"):
        with pytest.raises(ProfileError):
            check_name(bad)
