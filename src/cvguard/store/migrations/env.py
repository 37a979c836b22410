"""Alembic environment: runs revisions on the connection ``cvguard.store.migrate`` hands over.

Used without that (``alembic -c`` with ``sqlalchemy.url`` set, e.g. to autogenerate a revision from
:mod:`cvguard.store.models`), it builds its own engine the same way the store does.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection

from cvguard.store.engine import create_store_engine
from cvguard.store.models import metadata


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        render_as_batch=connection.dialect.name == "sqlite",  # SQLite cannot ALTER most things
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def _main() -> None:
    if context.is_offline_mode():
        raise SystemExit("offline (--sql) migrations are not supported; run cvguard.store.migrate")
    connection = context.config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    url = context.config.get_main_option("sqlalchemy.url")
    if not url:
        raise SystemExit("set sqlalchemy.url, or call cvguard.store.migrate(url)")
    engine = create_store_engine(url)
    try:
        with engine.begin() as own:
            _run(own)
    finally:
        engine.dispose()


_main()
