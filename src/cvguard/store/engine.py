"""Engines and migrations: the one place that knows SQLite from PostgreSQL.

``create_store_engine(url)`` accepts ``sqlite:///path`` (WAL, busy timeout, foreign keys),
``sqlite://`` (in memory, one shared connection: the store's in-memory twin for tests) and
``postgresql://`` / ``postgres://`` / ``postgresql+psycopg://`` (always the psycopg 3 driver).
``migrate(url_or_engine)`` brings the schema to the newest Alembic revision; the app and every
worker call it at start, and concurrent callers serialise on a lock (an advisory lock on
PostgreSQL, ``BEGIN IMMEDIATE`` on SQLite) so the second one finds the work done.
"""

from __future__ import annotations

import json
import time
from datetime import date, datetime
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, OperationalError, SQLAlchemyError
from sqlalchemy.pool import StaticPool

from cvguard.config import redact_url
from cvguard.errors import StoreError

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
SQLITE_BUSY_TIMEOUT_MS = 10_000  # a writer waits this long for another writer before failing
# Ingest writes land on random pages of several indexes (event id, author, thread, target, topic).
# With SQLite's defaults (a 2 MiB page cache, a checkpoint every 1,000 WAL pages) every batch
# re-reads those pages and checkpoints, with an fsync, on nearly every commit: about half of the
# replay time. A 64 MiB cache keeps the hot index pages, and checkpointing every 16,384 pages
# (64 MiB of WAL) writes a page rewritten by many batches to the database file once.
SQLITE_CACHE_KIB = 65_536  # per connection, grown only as pages are touched
SQLITE_WAL_CHECKPOINT_PAGES = 16_384
SQLITE_WAL_LIMIT_BYTES = 64 * 1024 * 1024  # the WAL is truncated back to this after a checkpoint
_MIGRATION_LOCK = 0x63766775  # "cvgu": pg_advisory lock key held while migrating
_MIGRATION_ATTEMPTS = 5


def store_url(url: str) -> URL:
    """Parse a database URL, rewriting any PostgreSQL URL to the psycopg 3 driver."""
    try:
        parsed = make_url(url)
    except (ArgumentError, ValueError):  # ValueError: e.g. a port that is not a number
        raise StoreError(f"not a database URL: {redact_url(url)!r}") from None
    backend = parsed.get_backend_name()
    if backend in ("postgresql", "postgres"):
        return parsed.set(drivername="postgresql+psycopg")
    if backend == "sqlite":
        return parsed
    raise StoreError(f"unsupported database {backend!r}: use sqlite:///PATH or postgresql://...")


def json_default(value: object) -> Any:
    # evidence may carry timestamps; they come back as ISO 8601 strings
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, set | frozenset):
        return sorted(value)
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


_ENCODER = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), default=json_default)


def json_dumps(value: object) -> str:
    """JSON as the store writes it (compact, UTF-8 kept, timestamps as ISO 8601)."""
    if not value and isinstance(value, list | tuple | dict):
        return "{}" if isinstance(value, dict) else "[]"
    return _ENCODER.encode(value)


def create_store_engine(url: str, *, echo: bool = False) -> Engine:
    """An engine for ``url``, configured for cvguard (call ``dispose()`` when done).

    ``hide_parameters``: a database error (logged, printed) never carries the values of the
    statement, which are users' message texts and ids."""
    parsed = store_url(url)
    if parsed.get_backend_name() == "postgresql":
        return create_engine(
            parsed, echo=echo, json_serializer=json_dumps, pool_pre_ping=True, hide_parameters=True
        )
    memory = parsed.database in (None, "", ":memory:")
    if memory:
        engine = create_engine(
            parsed,
            echo=echo,
            json_serializer=json_dumps,
            hide_parameters=True,
            poolclass=StaticPool,
            connect_args={"check_same_thread": False},
        )
    else:
        assert parsed.database is not None
        Path(parsed.database).expanduser().parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(parsed, echo=echo, json_serializer=json_dumps, hide_parameters=True)

    @event.listens_for(engine, "connect")
    def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}")
            if not memory:
                # Readers never block the writer and vice versa. NORMAL under WAL: a commit is in
                # the WAL file (the OS holds it) before it returns, so a killed process loses no
                # returned batch; only a power cut or OS crash can lose the commits since the last
                # checkpoint (at most SQLITE_WAL_CHECKPOINT_PAGES of WAL).
                cursor.execute("PRAGMA journal_mode = WAL")
                cursor.execute("PRAGMA synchronous = NORMAL")
                cursor.execute(f"PRAGMA cache_size = -{SQLITE_CACHE_KIB}")
                cursor.execute(f"PRAGMA wal_autocheckpoint = {SQLITE_WAL_CHECKPOINT_PAGES}")
                cursor.execute(f"PRAGMA journal_size_limit = {SQLITE_WAL_LIMIT_BYTES}")
            cursor.execute("PRAGMA foreign_keys = ON")
        finally:
            cursor.close()

    return engine


def alembic_config(url: str | None = None) -> Config:
    """The Alembic configuration of the store (for ``command.revision`` and friends)."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    # new revisions are named by date: 2026_11_24_0002_add_something.py
    config.set_main_option(
        "file_template",
        "%%(year)d_%%(month).2d_%%(day).2d_%%(rev)s_%%(slug)s",
    )
    if url is not None:
        config.set_main_option("sqlalchemy.url", store_url(url).render_as_string(hide_password=False))
    return config


def migrate(target: str | Engine) -> None:
    """Upgrade the database at ``target`` (a URL or an engine) to the newest schema; idempotent."""
    engine = create_store_engine(target) if isinstance(target, str) else target
    try:
        for attempt in range(_MIGRATION_ATTEMPTS):
            try:
                _migrate_once(engine)
                return
            except SQLAlchemyError as exc:
                # SQLite: a new file's first connections race to switch it to WAL, which needs the
                # file to themselves and fails at once ("database is locked") instead of waiting
                # in the busy handler. The loser tries again; the migration itself is idempotent.
                sqlite = engine.dialect.name == "sqlite"
                locked = sqlite and isinstance(exc, OperationalError) and "locked" in str(exc)
                if not locked or attempt == _MIGRATION_ATTEMPTS - 1:
                    raise StoreError(f"migrating {engine.url.render_as_string()} failed: {exc}") from exc
                time.sleep(0.1 * (attempt + 1))
    finally:
        if isinstance(target, str):
            engine.dispose()


def _migrate_once(engine: Engine) -> None:
    with engine.connect() as connection:
        if engine.dialect.name == "sqlite":
            # take the write lock first: a second process migrating waits here, then no-ops
            connection.exec_driver_sql("BEGIN IMMEDIATE")
        else:
            connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _MIGRATION_LOCK})
        config = alembic_config()
        config.attributes["connection"] = connection
        command.upgrade(config, "head")
        connection.commit()
