"""How an input file is named in reports and on the console: never the analyst's directories, always text.

A report is shared (with an editor, a court, a colleague): by default it names the
file, not where it sat on the analyst's disk. File names are bytes on Linux;
those that are not UTF-8 reach Python as lone surrogates, which neither JSON
readers nor an HTML file can carry, so they are shown as U+FFFD.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping
from pathlib import Path


def printable(text: str) -> str:
    """``text`` with undecodable bytes (lone surrogates) as U+FFFD and control characters dropped."""
    try:
        clean = text.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
    except UnicodeEncodeError:  # a surrogate that is not an escaped byte
        clean = text.encode("utf-8", "replace").decode("utf-8")
    return "".join(c for c in clean if c.isprintable() or c == " ")


def recorded_name(path: str | os.PathLike[str], record_path: bool = False) -> str:
    """What a report records for the scanned file: its name, or (asked for) its full path."""
    p = Path(path)
    return printable(str(p.resolve()) if record_path else p.name)



_FACE = re.compile(r"\b([Ff]ace) (\d+)\b")


def face_renamer(person_ids: Mapping[int, int]) -> Callable[[str], str]:
    """A function that turns "face <track id>" in an analyzer's words into "face <person id>".

    Analyzers name the track they measured; the report names people (one face per person,
    however many stretches it was seen in). Apply it once, to text written with track ids.
    """
    moved = {t: p for t, p in person_ids.items() if t != p}

    def rename(text: str) -> str:
        if not moved:
            return text
        return _FACE.sub(lambda m: f"{m.group(1)} {moved.get(int(m.group(2)), int(m.group(2)))}", text)

    return rename
