"""Multi-row INSERTs for the ingest path, with values prepared once per row, not per column type.

SQLAlchemy's Core ``insert`` runs a bind processor for every value of every row (JSON encoding,
datetime formatting, type coercion); at thousands of events a second that bookkeeping costs more
than SQLite's own work. The hot path therefore prepares each row as a plain tuple (timestamps
and JSON already in their database form) and sends one ``INSERT ... VALUES (...), (...)``
statement per chunk through the driver (SQLite), or one ``INSERT ... SELECT * FROM unnest(...)``
with one binary array parameter per column (PostgreSQL: the statement stays a few hundred bytes
however many rows it carries, where a multi-row VALUES list of thousands of placeholders costs the
driver more to parse client-side than the server spends inserting, and text arrays cost a regex
per element to quote). Everything else in the store uses SQLAlchemy normally; the values written
here are exactly what :class:`~cvguard.store.models.UTCDateTime` and ``JSON`` would have written,
so SQLAlchemy reads them back as usual (a test checks both paths agree).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from functools import lru_cache
from itertools import chain
from typing import Any

from sqlalchemy import JSON, Connection, Dialect, Table

from cvguard.store.engine import json_dumps

_MAX_ROWS = 500  # per statement; keeps statements small enough to plan and log
_CACHED_STATEMENTS = 64
_MAX_PARAMS = {"sqlite": 32_766, "postgresql": 65_535}  # SQLite >= 3.32 / PostgreSQL protocol limit


class BulkWriter:
    """Row-value encoders and a chunked multi-row INSERT for one dialect (SQLite or PostgreSQL)."""

    def __init__(self, dialect: Dialect) -> None:
        self._dialect = dialect
        self._sqlite = dialect.name == "sqlite"
        self._statements: dict[tuple[str, int, bool, bool], str] = {}

    def time(self, value: datetime) -> Any:
        """A timezone-aware datetime as ``UTCDateTime`` stores it."""
        if value.tzinfo is not UTC:
            value = value.astimezone(UTC)
        if self._sqlite:
            # SQLAlchemy's SQLite DATETIME text format ("+00:00" cut); range queries compare these
            return value.isoformat(sep=" ", timespec="microseconds")[:26]
        return value

    @staticmethod
    def json(value: object) -> str:
        return json_dumps(value)

    @staticmethod
    def labels(value: tuple[str, ...]) -> str:
        """A short tuple of labels (roles, categories) as a JSON list; the few distinct ones are
        encoded once."""
        return _labels(value)

    def insert(
        self,
        conn: Connection,
        table: Table,
        rows: Sequence[tuple[Any, ...]],
        *,
        skip_existing: bool = False,
    ) -> list[Any]:
        """Insert ``rows`` (tuples in ``table.c`` order).

        With ``skip_existing``, rows whose primary key is already stored are skipped
        (``ON CONFLICT DO NOTHING``) and the first primary-key column of the rows actually
        inserted is returned; otherwise nothing is returned.
        """
        if not rows:
            return []
        if not self._sqlite:
            return self._insert_arrays(conn, table, rows, skip_existing, returning=True)[0]
        width = len(table.c)
        per_statement = max(1, min(_MAX_ROWS, _MAX_PARAMS[self._dialect.name] // width))
        inserted: list[Any] = []
        for start in range(0, len(rows), per_statement):
            chunk = rows[start : start + per_statement]
            sql = self._statement(table, len(chunk), skip_existing)
            params = tuple(chain.from_iterable(chunk))
            result = conn.exec_driver_sql(sql, params)
            if skip_existing:
                inserted.extend(r[0] for r in result)
        return inserted

    def insert_new(self, conn: Connection, table: Table, rows: Sequence[tuple[Any, ...]]) -> int:
        """Insert ``rows``, skipping those whose primary key is stored; how many were inserted
        (the driver's row count: no ids are sent back)."""
        if not rows:
            return 0
        if not self._sqlite:
            return self._insert_arrays(conn, table, rows, True, returning=False)[1]
        width = len(table.c)
        per_statement = max(1, min(_MAX_ROWS, _MAX_PARAMS[self._dialect.name] // width))
        count = 0
        for start in range(0, len(rows), per_statement):
            chunk = rows[start : start + per_statement]
            sql = self._statement(table, len(chunk), True, returning=False)
            count += int(conn.exec_driver_sql(sql, tuple(chain.from_iterable(chunk))).rowcount)
        return count

    def insert_returning(
        self,
        conn: Connection,
        table: Table,
        columns: Sequence[str],
        rows: Sequence[tuple[Any, ...]],
        *,
        unique: Sequence[str],
        returning: Sequence[str],
    ) -> list[tuple[Any, ...]]:
        """Insert ``rows`` (tuples in ``columns`` order; the others take their defaults, an
        autoincrement key its next number) in the order given, skipping a row that collides on
        ``unique`` (``ON CONFLICT DO NOTHING``); the ``returning`` columns of the rows inserted
        (in no promised order: return a unique column to tell them apart)."""
        if not rows:
            return []
        quote = self._dialect.identifier_preparer.quote
        names = ", ".join(quote(c) for c in columns)
        tail = (f" ON CONFLICT ({', '.join(quote(c) for c in unique)}) DO NOTHING"
                f" RETURNING {', '.join(quote(c) for c in returning)}")
        into = f"INSERT INTO {quote(table.name)} ({names})"
        out: list[tuple[Any, ...]] = []
        if not self._sqlite:
            # one array per column, unnested WITH ORDINALITY and ordered by it, so the numbers a
            # sequence gives follow the order of the rows
            key = (f"{table.name}:{names}:{tail}", -2, True, True)
            sql = self._statements.get(key)
            if sql is None:
                arrays = ", ".join(
                    f"CAST(%b AS {_array_type(table.c[c].type, self._dialect)})" for c in columns
                )
                alias = ", ".join(f"c{i}" for i in range(len(columns)))
                sql = (f"{into} SELECT {alias} FROM unnest({arrays}) WITH ORDINALITY AS t({alias}, n)"
                       f" ORDER BY n{tail}")
                self._statements[key] = sql
            values = tuple(list(col) for col in zip(*rows, strict=True))
            return [tuple(r) for r in conn.exec_driver_sql(sql, values)]
        per_statement = max(1, min(_MAX_ROWS, _MAX_PARAMS["sqlite"] // len(columns)))
        row = "(" + ", ".join("?" * len(columns)) + ")"
        for start in range(0, len(rows), per_statement):
            chunk = rows[start : start + per_statement]
            sql = f"{into} VALUES {', '.join([row] * len(chunk))}{tail}"
            out += [tuple(r) for r in conn.exec_driver_sql(sql, tuple(chain.from_iterable(chunk)))]
        return out

    def _insert_arrays(
        self,
        conn: Connection,
        table: Table,
        rows: Sequence[tuple[Any, ...]],
        skip_existing: bool,
        *,
        returning: bool,
    ) -> tuple[list[Any], int]:
        """The ids inserted (``skip_existing`` and ``returning``), and how many rows were."""
        key = (table.name, -1, skip_existing, returning)
        sql = self._statements.get(key)
        if sql is None:
            # %b: parameters in binary format (no per-element quoting of array text)
            arrays = ", ".join(f"CAST(%b AS {_array_type(c.type, self._dialect)})" for c in table.c)
            skip = self._skip(table, skip_existing, returning=returning)
            sql = f"{self._into(table)} SELECT * FROM unnest({arrays}){skip}"
            self._statements[key] = sql
        columns = tuple(list(col) for col in zip(*rows, strict=True))
        result = conn.exec_driver_sql(sql, columns)
        ids = [r[0] for r in result] if skip_existing and returning else []
        return ids, int(result.rowcount)

    def _into(self, table: Table) -> str:
        quote = self._dialect.identifier_preparer.quote
        return f"INSERT INTO {quote(table.name)} ({', '.join(quote(c.name) for c in table.c)})"

    def _skip(self, table: Table, skip_existing: bool, *, returning: bool = True) -> str:
        """The clause that skips stored primary keys and returns the ids inserted (or nothing)."""
        if not skip_existing:
            return ""
        quote = self._dialect.identifier_preparer.quote
        pk = list(table.primary_key.columns)
        keys = ", ".join(quote(c.name) for c in pk)
        back = f" RETURNING {quote(pk[0].name)}" if returning else ""
        return f" ON CONFLICT ({keys}) DO NOTHING{back}"

    def _statement(self, table: Table, n: int, skip_existing: bool, *, returning: bool = True) -> str:
        key = (table.name, n, skip_existing, returning)
        sql = self._statements.get(key)
        if sql is None:
            mark = "?" if self._sqlite else "%s"
            holders = [
                f"CAST({mark} AS JSONB)" if not self._sqlite and isinstance(c.type, JSON) else mark
                for c in table.c
            ]
            row = "(" + ", ".join(holders) + ")"
            skip = self._skip(table, skip_existing, returning=returning)
            sql = f"{self._into(table)} VALUES {', '.join([row] * n)}{skip}"
            if len(self._statements) >= _CACHED_STATEMENTS:
                self._statements.clear()  # odd batch sizes: keep the cache bounded
            self._statements[key] = sql
        return sql


@lru_cache(maxsize=1024)
def _labels(value: tuple[str, ...]) -> str:
    return json_dumps(list(value))


def _array_type(column_type: Any, dialect: Dialect) -> str:
    """The PostgreSQL array type one column's values travel in (JSON goes as text, cast once)."""
    if isinstance(column_type, JSON):
        return "jsonb[]"
    return f"{column_type.compile(dialect=dialect)}[]"
