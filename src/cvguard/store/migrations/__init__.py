"""Alembic migrations of the store; run them with :func:`cvguard.store.migrate`."""
