"""The storage port: events, verdicts and alerts in SQLite (default) or PostgreSQL.

    store = EventStore.open(settings.database_url)   # builds the engine and migrates
    new_ids = store.add_batch(events, verdicts, keep_text=True)
    store.close()

``migrate(url)`` brings a database to the newest schema (the app and workers call it at start);
``create_store_engine(url)`` is the one place engines are configured.
"""

from cvguard.store.engine import alembic_config, create_store_engine, migrate, store_url
from cvguard.store.repositories import (
    AlertLike,
    EventStore,
    EventText,
    Snapshot,
    StatusChange,
    StoredAlert,
    StoredEvent,
    TimelineEntry,
    TopicSummary,
)
from cvguard.vocabulary import ALERT_STATUSES, LEVELS

__all__ = [
    "ALERT_STATUSES",
    "LEVELS",
    "AlertLike",
    "EventStore",
    "EventText",
    "Snapshot",
    "StatusChange",
    "StoredAlert",
    "StoredEvent",
    "TimelineEntry",
    "TopicSummary",
    "alembic_config",
    "create_store_engine",
    "migrate",
    "store_url",
]
