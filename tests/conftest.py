"""Shared fixtures: databases (SQLite and PostgreSQL) and Redis, each isolated per test.

- ``database_url``: parametrised ``sqlite`` (a file under ``tmp_path``) / ``postgresql`` (a fresh
  schema per test, chosen through ``search_path`` in the URL, dropped afterwards).
- ``event_store``: a migrated :class:`cvguard.store.EventStore` on ``database_url``, closed afterwards.
- ``redis_url``: ``redis://host:port/N`` on a database number claimed for this test alone (so
  parallel test runs on one server do not flush each other), flushed before and after.

PostgreSQL and Redis default to 127.0.0.1 and can be pointed elsewhere with
``CVGUARD_TEST_POSTGRES_URL`` / ``CVGUARD_TEST_REDIS_URL``. When a server is unreachable its tests
are skipped with the reason, unless ``CVGUARD_REQUIRE_SERVICES=1`` (CI), where they fail.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import NoReturn
from urllib.parse import quote

import pytest

from cvguard.store import EventStore

POSTGRES_URL = os.environ.get("CVGUARD_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
REDIS_URL = os.environ.get("CVGUARD_TEST_REDIS_URL", "redis://127.0.0.1:6379")
REDIS_TEST_DBS = range(1, 16)  # db 0 holds only the claims
_CLAIM_SECONDS = 600


def _services_required() -> bool:
    return os.environ.get("CVGUARD_REQUIRE_SERVICES", "") == "1"


def _unavailable(service: str, url: str, why: str) -> NoReturn:
    message = f"{service} unreachable at {url} ({why})"
    if _services_required():
        pytest.fail(f"{message}; CVGUARD_REQUIRE_SERVICES=1 requires it", pytrace=False)
    pytest.skip(f"{message}; start it or set CVGUARD_REQUIRE_SERVICES=1 to make this a failure")


@cache
def _postgres_problem() -> str | None:
    import psycopg

    try:
        with psycopg.connect(POSTGRES_URL, connect_timeout=3) as conn:
            conn.execute("SELECT 1")
    except psycopg.Error as exc:
        return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return None


@cache
def _redis_problem() -> str | None:
    import redis

    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=3)
    try:
        client.ping()
    except redis.RedisError as exc:
        return str(exc) or type(exc).__name__
    finally:
        client.close()
    return None


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A PostgreSQL URL whose ``search_path`` is a fresh, empty schema (dropped after the test)."""
    import psycopg

    problem = _postgres_problem()
    if problem is not None:
        _unavailable("PostgreSQL", POSTGRES_URL, problem)
    schema = f"cvguard_test_{secrets.token_hex(6)}"
    with psycopg.connect(POSTGRES_URL, autocommit=True) as admin:
        admin.execute(f'CREATE SCHEMA "{schema}"')
    separator = "&" if "?" in POSTGRES_URL else "?"
    try:
        yield f"{POSTGRES_URL}{separator}options={quote(f'-csearch_path={schema}')}"
    finally:
        with psycopg.connect(POSTGRES_URL, autocommit=True) as admin:
            admin.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Every test using this runs once on SQLite and once on PostgreSQL, each on an empty database."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'cvguard.db'}"
    url: str = request.getfixturevalue("postgres_url")
    return url


@pytest.fixture
def event_store(database_url: str) -> Iterator[EventStore]:
    store = EventStore.open(database_url)
    try:
        yield store
    finally:
        store.close()


@pytest.fixture
def redis_url() -> Iterator[str]:
    """``redis://.../N``: a Redis database this test has to itself, empty at start and at end."""
    import redis

    problem = _redis_problem()
    if problem is not None:
        _unavailable("Redis", REDIS_URL, problem)
    base = REDIS_URL.rstrip("/")
    token = secrets.token_hex(8)
    claims = redis.Redis.from_url(f"{base}/0")
    try:
        db = next(
            (
                n
                for n in REDIS_TEST_DBS
                if claims.set(f"cvguard:test-claim:{n}", token, nx=True, ex=_CLAIM_SECONDS)
            ),
            None,
        )
        if db is None:
            pytest.fail(f"every Redis test database {REDIS_TEST_DBS} is claimed by other test runs")
        url = f"{base}/{db}"
        client = redis.Redis.from_url(url)
        try:
            client.flushdb()
            yield url
            client.flushdb()
        finally:
            client.close()
            if claims.get(f"cvguard:test-claim:{db}") == token.encode():
                claims.delete(f"cvguard:test-claim:{db}")
    finally:
        claims.close()
