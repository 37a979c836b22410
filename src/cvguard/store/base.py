"""The SQL store's connection handling, shared by the per-aggregate parts of ``EventStore``.

``StoreBase`` owns the engine, the clock that stamps writes, the dialect's INSERT (for ON CONFLICT)
and the bulk writer; every call runs in one transaction (``_tx``), a database failure surfacing as
``StoreError``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from enum import Enum
from typing import Any, Self

from sqlalchemy import Connection, Engine
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

    def _error(self, exc: SQLAlchemyError) -> StoreError:
        if self._failure is not None:
            return StoreError(f"{self._failure}: {type(exc).__name__}")
        return StoreError(f"{type(exc).__name__}: {exc}")
