"""Enrolled people for reference mode: one row per (name, version); adding a name again makes a new version."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from sqlalchemy import delete, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import undefer

from unmask.errors import StoreError, UnknownPerson
from unmask.store.engine import changed
from unmask.store.models import PersonRow
from unmask.store.records import PersonRecord, utc

if TYPE_CHECKING:
    from unmask.store import Store

MAX_NAME = 200


def check_name(name: str) -> str:
    """A person's name as stored: trimmed, non-empty, at most 200 characters, no control characters."""
    if not isinstance(name, str):
        raise StoreError(f"a person's name must be text, got {type(name).__name__}")
    n = name.strip()
    if not n:
        raise StoreError("a person's name must not be empty")
    if len(n) > MAX_NAME:
        raise StoreError(f"a person's name must be at most {MAX_NAME} characters")
    if any(ord(c) < 32 or ord(c) == 127 for c in n):
        raise StoreError("a person's name must not contain control characters")
    return n


def person_record(row: PersonRow) -> PersonRecord:
    created = utc(row.created_at)
    assert created is not None
    return PersonRecord(name=row.name, version=row.version, created_at=created, profile=bytes(row.profile),
                        summary=dict(row.summary or {}))


class PeopleRepo:
    """``store.people``: versioned reference profiles (bytes the reference analyzer serialises itself)."""

    def __init__(self, store: Store) -> None:
        self._store = store

    def add(self, name: str, profile: bytes, summary: Mapping[str, Any] | None = None) -> PersonRecord:
        """Store a new version of ``name``'s profile (version 1 for a new name) and return it."""
        name = check_name(name)
        if not isinstance(profile, (bytes, bytearray, memoryview)):
            raise StoreError(f"a profile must be bytes, got {type(profile).__name__}")
        for _ in range(5):  # two processes enrolling the same name at once: the loser retries
            try:
                with self._store.write() as s:
                    latest = s.scalar(select(func.max(PersonRow.version)).where(PersonRow.name == name)) or 0
                    row = PersonRow(name=name, version=latest + 1, created_at=self._store.now(), profile=bytes(profile),
                                    summary=dict(summary or {}))
                    s.add(row)
                    s.flush()
                    return person_record(row)
            except IntegrityError:
                continue
        raise StoreError(f"could not add a new version of {name!r}: too many concurrent enrolments")

    def get(self, name: str, version: int | None = None) -> PersonRecord:
        """The newest version of ``name`` (or the given one); :class:`UnknownPerson` when absent."""
        name = check_name(name)
        q = select(PersonRow).options(undefer(PersonRow.profile)).where(PersonRow.name == name)
        q = (q.where(PersonRow.version == version) if version is not None
             else q.order_by(PersonRow.version.desc()).limit(1))
        with self._store.read() as s:
            row = s.scalars(q).first()
            if row is None:
                raise UnknownPerson(name, version)
            return person_record(row)

    def latest(self) -> list[PersonRecord]:
        """The newest version of every enrolled person, by name."""
        newest = select(PersonRow.name, func.max(PersonRow.version).label("v")).group_by(PersonRow.name).subquery()
        q = (select(PersonRow).options(undefer(PersonRow.profile))
             .join(newest, (PersonRow.name == newest.c.name) & (PersonRow.version == newest.c.v))
             .order_by(PersonRow.name))
        with self._store.read() as s:
            return [person_record(r) for r in s.scalars(q)]

    def versions(self, name: str) -> list[PersonRecord]:
        """Every stored version of ``name``, oldest first; :class:`UnknownPerson` when none."""
        name = check_name(name)
        q = (select(PersonRow).options(undefer(PersonRow.profile)).where(PersonRow.name == name)
             .order_by(PersonRow.version))
        with self._store.read() as s:
            out = [person_record(r) for r in s.scalars(q)]
        if not out:
            raise UnknownPerson(name)
        return out

    def delete(self, name: str, version: int | None = None) -> int:
        """Remove ``name`` (every version, or one); returns how many versions went. :class:`UnknownPerson` when none."""
        name = check_name(name)
        q = delete(PersonRow).where(PersonRow.name == name)
        if version is not None:
            q = q.where(PersonRow.version == version)
        with self._store.write() as s:
            n = changed(s.execute(q))
        if not n:
            raise UnknownPerson(name, version)
        return int(n)
