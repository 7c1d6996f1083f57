"""Enrolled people, kept in the project's store: enrol, look up, list, remove, export and import.

Profiles are stored as their own bytes (:meth:`PersonProfile.to_bytes`) with a
JSON summary beside them, versioned by the store (enrolling a name again adds
version 2, ...; a check uses the newest unless told otherwise). An exported
file is exactly those bytes, so ``people export`` on one machine and ``people
import`` on another give the same profile, byte for byte.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from unmask.errors import ProfileError, UnknownPerson
from unmask.reference.enroll import Enroller, Enrolment, Progress
from unmask.reference.profile import PersonProfile, check_name
from unmask.store import PersonRecord, Store

#: exported profiles are small (a few hundred kB for minutes of footage); anything far bigger is not one
MAX_PROFILE_BYTES = 64 * 1024 * 1024


class People:
    """Reference profiles in a :class:`~unmask.store.Store` (``People.open()`` uses the default database)."""

    def __init__(self, store: Store) -> None:
        self.store = store

    @classmethod
    def open(cls, url: str | None = None) -> People:
        return cls(Store.open(url))

    def close(self) -> None:
        self.store.close()

    def __enter__(self) -> People:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def enroll(self, name: str, paths: Sequence[str | Path], enroller: Enroller | None = None,
               progress: Progress | None = None) -> tuple[PersonRecord, Enrolment]:
        """Build a profile from ``paths`` and store it as the newest version of ``name``."""
        result = (enroller or Enroller()).enroll(name, paths, progress)
        rec = self.store.people.add(result.profile.name, result.profile.to_bytes(), result.profile.summary())
        return rec, result

    def resolve(self, name: str) -> str:
        """The stored spelling of ``name``: exact, else the one enrolled name equal to it ignoring case."""
        name = check_name(name)
        names = {r.name for r in self.store.people.latest()}
        if name in names:
            return name
        folded = [n for n in names if n.casefold() == name.casefold()]
        return folded[0] if len(folded) == 1 else name

    def get(self, name: str, version: int | None = None) -> PersonProfile:
        """The stored profile (newest version unless ``version``); ``UnknownPerson`` when absent."""
        rec = self.store.people.get(self.resolve(name), version)
        try:
            return PersonProfile.from_bytes(rec.profile, version=rec.version)
        except ProfileError as e:
            raise ProfileError(f"stored profile of {rec.name!r} version {rec.version} cannot be read: {e}") from None

    def latest(self) -> list[PersonRecord]:
        return self.store.people.latest()

    def versions(self, name: str) -> list[PersonRecord]:
        return self.store.people.versions(check_name(name))

    def remove(self, name: str, version: int | None = None) -> int:
        return self.store.people.delete(self.resolve(name), version)

    def export(self, name: str, path: str | Path, version: int | None = None) -> PersonRecord:
        """Write the stored profile bytes to ``path`` (atomically)."""
        rec = self.store.people.get(self.resolve(name), version)
        p = Path(path)
        if p.is_dir():
            raise ProfileError(f"{p}: is a directory; give a file name for the exported profile")
        tmp = p.with_name(f".{p.name}.tmp{os.getpid()}")
        try:
            tmp.write_bytes(rec.profile)
            tmp.replace(p)
        except OSError as e:
            tmp.unlink(missing_ok=True)
            raise ProfileError(f"{p}: cannot write the profile ({e.strerror or e})") from None
        return rec

    def import_file(self, path: str | Path, name: str | None = None) -> tuple[PersonRecord, PersonProfile]:
        """Read a profile file, validate it, and store it (under ``name`` if given) as a new version."""
        p = Path(path)
        try:
            if p.stat().st_size > MAX_PROFILE_BYTES:
                raise ProfileError(f"{p}: {p.stat().st_size} bytes is far too big for a person profile")
            raw = p.read_bytes()
        except FileNotFoundError:
            raise ProfileError(f"{p}: no such file") from None
        except IsADirectoryError:
            raise ProfileError(f"{p}: is a directory, not a profile file") from None
        except OSError as e:
            raise ProfileError(f"{p}: cannot read ({e.strerror or e})") from None
        try:
            return self.import_bytes(raw, name)
        except ProfileError as e:
            raise ProfileError(f"{p}: {e}") from None

    def import_bytes(self, raw: bytes, name: str | None = None) -> tuple[PersonRecord, PersonProfile]:
        """Validate exported profile bytes and store them (under ``name`` if given) as a new version."""
        if len(raw) > MAX_PROFILE_BYTES:
            raise ProfileError(f"{len(raw)} bytes is far too big for a person profile")
        profile = PersonProfile.from_bytes(raw)
        if name is not None and check_name(name) != profile.name:
            from dataclasses import replace

            profile = replace(profile, name=check_name(name))
            raw = profile.to_bytes()
        rec = self.store.people.add(profile.name, raw, profile.summary())
        return rec, PersonProfile.from_bytes(raw, version=rec.version)


__all__ = ["People", "UnknownPerson"]
