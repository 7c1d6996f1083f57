"""Container and stream metadata: what the file's tags say about how it was made, as facts with their usual meaning.

Read with PyAV (``container.metadata`` and each stream's ``metadata``): encoder
and handler names, creation time, the device make, model and software Apple's
and Android's recorders write, and the rotation the probe found. Every value is
kept as a fact with a short explanation of what it usually means, and
:func:`reencoding_signs` names the tags that show the file was written by
something other than the camera (FFmpeg's ``Lavf``, an editing app, a screen
recorder).

These tags are context, never evidence: anyone can write them, most platforms
strip or rewrite them, and their absence proves nothing. The verdict never reads
them (docs/architecture.md, "Provenance").
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

Where = Literal["container", "video", "audio", "other"]

MAX_FACTS = 40
MAX_VALUE = 200

#: tags worth showing (lower-case key → what it is); others are kept out of the report
_KEYS: dict[str, str] = {
    "encoder": "encoder",
    "handler_name": "handler",
    "creation_time": "creation time",
    "com.apple.quicktime.creationdate": "creation date (Apple)",
    "com.apple.quicktime.make": "device make",
    "com.apple.quicktime.model": "device model",
    "com.apple.quicktime.software": "software",
    "com.android.manufacturer": "device make",
    "com.android.model": "device model",
    "com.android.version": "software",
    "make": "device make",
    "model": "device model",
    "software": "software",
    "vendor_id": "vendor",
    "major_brand": "file brand",
    "comment": "comment",
    "title": "title",
}

#: (pattern on the value, what writes it, re-encoded?) — first match wins
_KNOWN: tuple[tuple[str, str, bool], ...] = (
    (r"^lavf", "FFmpeg's libavformat wrote this file: it was re-muxed or converted by FFmpeg or a tool built on it "
               "(converters, download sites, many editors), not left as the recording device wrote it", True),
    (r"^lavc", "FFmpeg's libavcodec encoded this stream: the picture was re-encoded by FFmpeg or a tool built on it",
     True),
    (r"handbrake", "HandBrake, a video converter: the file was re-encoded", True),
    (r"premiere|after effects|adobe", "Adobe editing software", True),
    (r"final cut|imovie", "Apple's editing software", True),
    (r"davinci|resolve", "DaVinci Resolve, an editing app", True),
    (r"capcut", "CapCut, an editing app", True),
    (r"\bobs\b|screen ?record|screencast|bandicam|camtasia", "a screen recorder: the picture was recorded off a screen",
     True),
    (r"mainconcept", "the MainConcept encoder, used inside editing and broadcast software", True),
    (r"^videohandler$|^soundhandler$", "FFmpeg's default stream name: the file was written by FFmpeg or a tool "
                                       "built on it", True),
    (r"core media", "Apple's media framework (iPhone and iPad camera, macOS apps, QuickTime)", False),
)

_MEANING: dict[str, str] = {
    "creation time": "when the file says it was created; re-encoders reset or copy it, and anyone can set it, so "
                     "it does not prove when the scene was recorded",
    "creation date (Apple)": "the local time Apple's recorder says it started recording; copied or edited files "
                             "keep or rewrite it",
    "device make": "the maker of the device the file says recorded it; a tag anyone can write",
    "device model": "the device model the file says recorded it; a tag anyone can write",
    "software": "the software version the file names as its writer",
    "vendor": "the four-letter code of the program that wrote the stream ('FFMP' is FFmpeg)",
    "file brand": "the file format's brand (qt = QuickTime, isom/mp42 = MP4); says little about its origin",
    "comment": "free text written into the file",
    "title": "free text written into the file",
    "encoder": "the program that wrote or encoded it",
    "handler": "the name the writing program gave the stream",
}


@dataclass(frozen=True)
class MetadataFact:
    """One tag as the file states it, where it was found, and what it usually means."""

    key: str  # the tag's own name, e.g. com.apple.quicktime.model
    what: str  # e.g. "device model"
    value: str
    where: Where
    meaning: str


@dataclass(frozen=True)
class FileMetadata:
    """The file's descriptive tags; ``error`` says why they could not be read (the rest is then empty)."""

    facts: tuple[MetadataFact, ...] = ()
    rotation: int = 0
    reencoding_signs: tuple[str, ...] = ()  # "encoder = Lavf60.3.100: FFmpeg's libavformat wrote this file ..."
    note: str = ""
    error: str | None = None

    @property
    def reencoded(self) -> bool:
        """A tag shows the file was written by something other than the recording device (False: no tag says so)."""
        return bool(self.reencoding_signs)

    def first(self, what: str) -> str | None:
        return next((f.value for f in self.facts if f.what == what), None)


def _clean(value: Any) -> str:
    s = "".join(ch if ch.isprintable() else "" for ch in str(value)).strip()
    return s[:MAX_VALUE]


def _meaning(what: str, value: str) -> tuple[str, bool]:
    """What a tag usually means, and whether it shows a re-encoding."""
    if what in ("encoder", "handler", "software", "comment"):
        low = value.lower()
        for pattern, words, reencoded in _KNOWN:
            if re.search(pattern, low):
                return words, reencoded
    return _MEANING.get(what, ""), False


def facts_from_tags(tags: list[tuple[Where, dict[str, Any]]], rotation: int = 0) -> FileMetadata:
    """:class:`FileMetadata` from (where, tags) pairs, e.g. ``[("container", container.metadata), ...]``."""
    facts: list[MetadataFact] = []
    signs: list[str] = []
    seen: set[tuple[str, str]] = set()
    for where, d in tags:
        for key, raw in sorted(d.items()):
            what = _KEYS.get(str(key).lower())
            value = _clean(raw)
            if what is None or not value or (what, value) in seen or len(facts) >= MAX_FACTS:
                continue
            seen.add((what, value))
            meaning, reencoded = _meaning(what, value)
            facts.append(MetadataFact(_clean(key), what, value, where, meaning))
            if reencoded:
                signs.append(f"{what} '{value}': {meaning}")
    if rotation:
        facts.append(MetadataFact("rotation", "rotation", f"{rotation}°", "video",
                                  f"players turn the picture {rotation}° clockwise; phones store upright or sideways "
                                  "video this way, so it usually means the file came from a phone camera or keeps "
                                  "its display matrix"))
    descriptive = {f.what for f in facts} - {"file brand", "vendor", "handler"}
    note = ("The file carries little descriptive metadata. That is common (messaging apps, social platforms and "
            "many converters strip it) and proves nothing either way." if not descriptive else
            "These tags are what the file says about itself: anyone can write or remove them, so they are context, "
            "not evidence, and they do not change the verdict.")
    return FileMetadata(tuple(facts), rotation, tuple(signs), note)


def read_metadata(path: str | Path, rotation: int = 0) -> FileMetadata:
    """The tags of the file's container and streams (PyAV). Never raises: an unreadable file gives ``error``."""
    try:
        import av

        with av.open(str(path), metadata_errors="replace") as c:
            tags: list[tuple[Where, dict[str, Any]]] = [("container", dict(c.metadata))]
            for s in c.streams:
                where: Where = s.type if s.type in ("video", "audio") else "other"
                tags.append((where, dict(s.metadata)))
    except Exception as e:  # a file the probe accepted but PyAV cannot reopen, e.g. a still read by Pillow
        return FileMetadata(rotation=rotation, error=f"the container's tags could not be read ({type(e).__name__})",
                            note="No container tags could be read; that proves nothing either way.")
    return facts_from_tags(tags, rotation)


__all__ = ["FileMetadata", "MetadataFact", "facts_from_tags", "read_metadata"]
