"""The SQL store's connection handling, shared by the per-aggregate parts of ``EventStore``.

``StoreBase`` owns the engine, the clock that stamps writes, the dialect's INSERT (for ON CONFLICT)
and the bulk writer; every call runs in one transaction (``_tx``), a database failure surfacing as
``StoreError``. An append-only log whose order must be the commit order (the action feed, the
evidence vault, the audit trail) appends in ``_serialised(lock_key)``.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from datetime import UTC, datetime
from enum import Enum
from typing import Any, Self

from sqlalchemy import Connection, Engine, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import SQLAlchemyError

from cvguard.errors import StoreError
from cvguard.store.bulk import BulkWriter
from cvguard.store.engine import create_store_engine, migrate


def _utcnow() -> datetime:
    return datetime.now(UTC)


def _plain(value: object) -> str:
    return str(value.value) if isinstance(value, Enum) else str(value)


def _db_text(value: str) -> str:
    # PostgreSQL text cannot hold NUL; the hash is taken over the original text
    return value.replace("\x00", "\ufffd") if "\x00" in value else value


_SQLITE_LOCKS: dict[str, threading.Lock] = {}
_SQLITE_LOCKS_GUARD = threading.Lock()


def _sqlite_lock(engine: Engine) -> AbstractContextManager[Any]:
    """One in-process lock per SQLite file, shared by every store on it: this process's writers
    queue on it instead of polling SQLite's busy handler, which is unfair under contention (a
    writer can lose every retry for longer than the busy timeout). Other processes still meet
    ``BEGIN IMMEDIATE``."""
    if engine.dialect.name != "sqlite":
        return nullcontext()
    with _SQLITE_LOCKS_GUARD:
        return _SQLITE_LOCKS.setdefault(str(engine.url), threading.Lock())


class StoreBase:
    """A connection to SQLite or PostgreSQL, which ``EventStore``'s parts share.

    ``EventStore.open(url)`` builds the engine and migrates; ``EventStore(engine)`` wraps one the
    caller owns. ``clock`` stamps ``ingested_at`` (injected so tests can pin it).
    """

    # Set by a store whose errors name it and the error's type only (never the database's message).
    _failure: str | None = None

    def __init__(self, engine: Engine, *, clock: Callable[[], datetime] = _utcnow) -> None:
        self._engine = engine
        self._clock = clock
        dialect = engine.dialect.name
        if dialect not in ("sqlite", "postgresql"):
            raise StoreError(f"unsupported database dialect {dialect!r}")
        self._insert: Callable[..., Any] = sqlite.insert if dialect == "sqlite" else postgresql.insert
        self._bulk = BulkWriter(engine.dialect)

    @classmethod
    def open(
        cls, url: str, *, run_migrations: bool = True, clock: Callable[[], datetime] = _utcnow
    ) -> Self:
        engine = create_store_engine(url)
        try:
            if run_migrations:
                migrate(engine)
        except BaseException:
            engine.dispose()
            raise
        return cls(engine, clock=clock)

    @property
    def engine(self) -> Engine:
        return self._engine

    def close(self) -> None:
        self._engine.dispose()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    @contextmanager
    def _tx(self) -> Iterator[Connection]:
        try:
            with self._engine.begin() as connection:
                yield connection
        except SQLAlchemyError as exc:
            raise self._error(exc) from exc

    def transaction(self) -> AbstractContextManager[Connection]:
        """One transaction on this store's database, for a caller that writes to several stores
        on it at once (their ``connection=`` or ``append_in``), committed or rolled back together."""
        return self._tx()

    @contextmanager
    def _serialised(self, lock_key: int) -> Iterator[Connection]:
        """A transaction that holds an append lock until it ends, so appends are numbered in commit
        order: ``pg_advisory_xact_lock(lock_key)`` on PostgreSQL; on SQLite ``BEGIN IMMEDIATE``
        behind the file's in-process lock."""
        try:
            with _sqlite_lock(self._engine), self._engine.connect() as connection:
                if self._engine.dialect.name == "sqlite":
                    connection.exec_driver_sql("BEGIN IMMEDIATE")
                else:
                    connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": lock_key})
                try:
                    yield connection
                except BaseException:
                    connection.rollback()
                    raise
                connection.commit()
        except SQLAlchemyError as exc:
            raise self._error(exc) from exc

    def _error(self, exc: SQLAlchemyError) -> StoreError:
        if self._failure is not None:
            return StoreError(f"{self._failure}: {type(exc).__name__}")
        return StoreError(f"{type(exc).__name__}: {exc}")


def same_database(one: Engine, other: Engine) -> bool:
    """Whether two engines reach the same database (so one transaction can write for both)."""
    if one is other:
        return True
    if one.url.get_backend_name() == "sqlite" and one.url.database in (None, "", ":memory:"):
        return False  # each in-memory engine is a database of its own

    def where(e: Engine) -> tuple[str, ...]:
        u = e.url
        return (u.get_backend_name(), u.host or "", str(u.port or ""), u.database or "",
                str(sorted(u.query.items())))

    return where(one) == where(other)
