"""Engines for any SQLAlchemy URL; SQLite gets WAL, a busy timeout and write-locking transactions.

SQLite in WAL mode lets status reads proceed while a worker writes. Writes start
with ``BEGIN IMMEDIATE`` so two writers queue on the lock instead of one failing
when it upgrades a read transaction; reads start a plain ``BEGIN``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, cast

from sqlalchemy import CursorResult, Engine, Result, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, NoSuchModuleError

from unmask.errors import StoreError

SQLITE_BUSY_TIMEOUT_S = 30.0
IMMEDIATE = "unmask_sqlite_immediate"  # execution option: begin a write transaction


def normalise_url(url: str) -> str:
    """``postgresql://`` means psycopg 3 here (the driver unmask pins), not psycopg2."""
    if url.startswith("postgresql://") or url.startswith("postgres://"):
        return "postgresql+psycopg://" + url.split("://", 1)[1]
    return url


def make_engine(url: str) -> Engine:
    url = normalise_url(url)
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise StoreError(f"not a database URL: {_redact(url)!r}") from None
    if parsed.get_backend_name() == "sqlite":
        return _sqlite_engine(parsed)
    try:
        return create_engine(parsed, pool_pre_ping=True, future=True)
    except (NoSuchModuleError, ImportError) as e:
        raise StoreError(f"no driver for {parsed.drivername} ({e}); for PostgreSQL install unmask[postgres]") from None


def _sqlite_engine(parsed: Any) -> Engine:
    db = parsed.database
    if db and db != ":memory:" and not db.startswith("file:"):
        try:
            Path(db).expanduser().parent.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise StoreError(f"cannot create the directory for {db} ({e.strerror or e})") from None
    engine = create_engine(parsed, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_S, "check_same_thread": False})

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None  # we emit BEGIN ourselves (below)
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=FULL")  # a finished scan survives a power cut, not only a kill
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute(f"PRAGMA busy_timeout={int(SQLITE_BUSY_TIMEOUT_S * 1000)}")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE" if conn.get_execution_options().get(IMMEDIATE) else "BEGIN")

    return engine


def _redact(url: str) -> str:
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return url.split("@")[-1]


redact = _redact


def changed(result: Result[Any]) -> int:
    """Rows an UPDATE or DELETE touched (``Session.execute`` types every result as a plain ``Result``)."""
    return cast("CursorResult[Any]", result).rowcount
