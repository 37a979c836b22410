"""The store port: what the pipeline, the API and the CLI read and write, one transaction a call.

Writes are bulk and idempotent: ``add_batch`` sends one ``INSERT ... ON CONFLICT DO NOTHING ...
RETURNING event_id`` for the whole batch (multi-row VALUES on SQLite and PostgreSQL alike), so
at-least-once delivery from the bus becomes exactly-once in the database, and only the events that
were new get their verdict, target and topic rows. Reads return the frozen records of
``store.records``; no SQLAlchemy object leaves the store. Every database failure surfaces as
``StoreError``.
"""

from __future__ import annotations

from cvguard.store.alerts import AlertRepository
from cvguard.store.decisions import DecisionRecord as DecisionRecord
from cvguard.store.decisions import DecisionRepository
from cvguard.store.events import EventRepository
from cvguard.store.records import AlertLike as AlertLike
from cvguard.store.records import EventText as EventText
from cvguard.store.records import Snapshot as Snapshot
from cvguard.store.records import StatusChange as StatusChange
from cvguard.store.records import StoredAlert as StoredAlert
from cvguard.store.records import StoredEvent as StoredEvent
from cvguard.store.records import TimelineEntry as TimelineEntry
from cvguard.store.records import TopicSummary as TopicSummary
from cvguard.store.snapshots import SnapshotRepository
from cvguard.store.summaries import SummaryRepository


class EventStore(
    EventRepository, SnapshotRepository, SummaryRepository, AlertRepository, DecisionRepository
):
    """Events, verdicts and alerts in SQLite or PostgreSQL: the one store port, one part per aggregate.

    ``EventStore.open(url)`` builds the engine and migrates; ``EventStore(engine)`` wraps one the
    caller owns. ``clock`` stamps ``ingested_at`` (injected so tests can pin it).

    - events and verdicts (``store.events``): ``add_batch``, ``conflicts``, ``get_event``,
      ``events_since``, ``last_ingested_at`` / ``last_occurred_at``, ``count_events``, ``purge_text``
    - behaviour snapshots (``store.snapshots``): ``save_snapshot``, ``load_snapshot``
    - timelines and summaries (``store.summaries``): ``target_timeline``, ``event_texts``,
      ``topic_summary``
    - alerts (``store.alerts``): ``upsert_alert(s)``, ``get_alert``, ``list_alerts``,
      ``set_alert_status``, ``alert_history``
    - decisions made at ingest (``store.decisions``): ``add_decisions``, ``get_decision``
    """
