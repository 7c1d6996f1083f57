"""The store: scans and enrolments (persistent queues), reports, and enrolled people, in one SQL database.

    >>> store = Store.open()                      # UNMASK_DATABASE_URL, else SQLite in the data directory
    >>> rec = store.people.add("Ada", profile_bytes, {"faces": 120})
    >>> store.people.get("Ada").version
    1

SQLite (WAL) by default in ``UNMASK_DATA_DIR`` or the user's data directory; any
SQLAlchemy URL through ``UNMASK_DATABASE_URL`` (PostgreSQL is tested). The schema is
migrated with the Alembic revisions shipped in ``unmask/store/migrations`` when the
store opens. Repositories hand out frozen records, never live ORM objects, and raise
:class:`~unmask.errors.StoreError` subclasses.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from types import TracebackType

from sqlalchemy import Engine
from sqlalchemy.exc import OperationalError, SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from unmask.errors import StoreError
from unmask.store.engine import IMMEDIATE, make_engine, redact
from unmask.store.enrolments import EnrolmentRepo
from unmask.store.migrate import upgrade
from unmask.store.paths import data_dir, default_url
from unmask.store.people import PeopleRepo
from unmask.store.records import EnrolmentFile, EnrolmentRecord, PersonRecord, ScanPage, ScanRecord, ScanStatus
from unmask.store.scans import ScanRepo

__all__ = ["Store", "EnrolmentFile", "EnrolmentRecord", "PersonRecord", "ScanRecord", "ScanPage", "ScanStatus",
           "data_dir", "default_url"]


class Store:
    """One database. Thread-safe; open one per process (worker processes open their own)."""

    def __init__(self, engine: Engine, url: str) -> None:
        self.engine = engine
        self.url = url
        self._sessions = sessionmaker(engine, expire_on_commit=False)
        self.people = PeopleRepo(self)
        self.scans = ScanRepo(self)
        self.enrolments = EnrolmentRepo(self)

    @classmethod
    def open(cls, url: str | None = None, migrate: bool = True) -> Store:
        """Open (and create or migrate) the database at ``url``, ``UNMASK_DATABASE_URL``, or the default SQLite file."""
        url = url or default_url()
        engine = make_engine(url)
        try:
            if migrate:
                upgrade(engine)
            else:
                with engine.connect():
                    pass
        except StoreError:
            engine.dispose()
            raise
        except (SQLAlchemyError, OSError) as e:
            engine.dispose()
            raise StoreError(f"cannot open the database {redact(url)}: {_short(e)}") from None
        return cls(engine, url)

    @property
    def is_sqlite(self) -> bool:
        return self.engine.dialect.name == "sqlite"

    @staticmethod
    def now() -> datetime:
        return datetime.now(UTC)

    @contextmanager
    def read(self) -> Iterator[Session]:
        """A session for reads; database failures become :class:`StoreError`."""
        try:
            with self._sessions() as s, s.begin():
                yield s
        except SQLAlchemyError as e:
            raise StoreError(f"database error: {_short(e)}") from e

    @contextmanager
    def write(self) -> Iterator[Session]:
        """A session that commits on success; on SQLite it takes the write lock up front (``BEGIN IMMEDIATE``)."""
        try:
            with self._sessions() as s:
                if self.is_sqlite:
                    s.connection(execution_options={IMMEDIATE: True})  # autobegins: BEGIN IMMEDIATE
                try:
                    yield s
                    s.commit()
                except BaseException:
                    s.rollback()
                    raise
        except OperationalError as e:
            raise StoreError(f"database error: {_short(e)}") from e

    def close(self) -> None:
        self.engine.dispose()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, et: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None) -> None:
        self.close()


def _short(e: BaseException) -> str:
    orig = getattr(e, "orig", None)
    text = str(orig if orig is not None else e).strip().splitlines()
    return (text[0] if text else type(e).__name__)[:300]
