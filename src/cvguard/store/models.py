"""The database schema: events, their verdicts, alerts and the events behind each alert.

Core ``Table`` objects, not ORM classes: the store writes in bulk (one multi-row statement per batch)
and hands back plain dataclasses, so nothing here is ever attached to a session. The Alembic
revisions under ``migrations/versions`` create exactly this schema; a test compares the two.

Portability (SQLite and PostgreSQL):
- every timestamp goes through :class:`UTCDateTime`: stored as UTC (naive text on SQLite,
  ``timestamptz`` on PostgreSQL) and always read back timezone-aware UTC;
- JSON columns are SQLAlchemy ``JSON`` (``jsonb`` on PostgreSQL);
- the list fields of an event (targets, topics) are kept as JSON on the row for reading back, and
  also exploded into ``event_targets`` / ``event_topics`` so that "everything aimed at target X
  between t0 and t1" is an index range scan.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Dialect,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
    TypeDecorator,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB

ID = 128  # longest id the Event schema accepts
ACTOR = 256  # who set an alert's status: an API key's name and id
DECIDER = 64  # the name of the model that decided a verdict (the model port)
ALERT_ID = 256  # kind:subject_type:subject_id:episode, around a subject id of up to ID
ACTION_KEY = 512  # an action's idempotency key: alert id, subject and action (policy.feed.action_key)

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)


class UTCDateTime(TypeDecorator[datetime]):
    """A timezone-aware UTC datetime on every backend (SQLite has no time zones)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the store; use timezone-aware UTC")
        value = value.astimezone(UTC)
        # SQLite compares timestamps as text: store them all in one zone, without an offset
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


JSONDoc = JSON().with_variant(JSONB(), "postgresql")

events = Table(
    "events",
    metadata,
    Column("event_id", String(ID), primary_key=True),
    Column("surface", String(32), nullable=False),
    Column("occurred_at", UTCDateTime(), nullable=False),
    Column("author_id", String(ID), nullable=False),
    Column("author_created_at", UTCDateTime(), nullable=True),
    Column("author_verified", Boolean(), nullable=False),
    Column("author_minor", Boolean(), nullable=False),
    Column("mcn_id", String(ID), nullable=True),
    Column("target_ids", JSONDoc, nullable=False),
    Column("thread_id", String(ID), nullable=True),
    Column("topic_ids", JSONDoc, nullable=False),
    Column("reply_to", String(ID), nullable=True),
    Column("target_follows_author", Boolean(), nullable=True),
    Column("author_follows_target", Boolean(), nullable=True),
    # NULL once retention has purged it (or when ingested with keep_text=False); the hash stays
    Column("text", Text(), nullable=True),
    Column("text_sha256", String(64), nullable=False),
    Column("ingested_at", UTCDateTime(), nullable=False),
    Index(None, "occurred_at"),
    Index(None, "author_id", "occurred_at"),
    Index(None, "thread_id", "occurred_at"),
    Index(None, "mcn_id"),
)

event_targets = Table(
    "event_targets",
    metadata,
    Column("event_id", String(ID), ForeignKey("events.event_id", ondelete="CASCADE"), nullable=False),
    Column("target_id", String(ID), nullable=False),
    Column("occurred_at", UTCDateTime(), nullable=False),  # copied from the event for range scans
    PrimaryKeyConstraint("event_id", "target_id"),
    Index(None, "target_id", "occurred_at"),
    sqlite_with_rowid=False,  # a link table: the primary key is the row, one b-tree fewer
)

event_topics = Table(
    "event_topics",
    metadata,
    Column("event_id", String(ID), ForeignKey("events.event_id", ondelete="CASCADE"), nullable=False),
    Column("topic_id", String(ID), nullable=False),
    Column("occurred_at", UTCDateTime(), nullable=False),
    PrimaryKeyConstraint("event_id", "topic_id"),
    Index(None, "topic_id", "occurred_at"),
    sqlite_with_rowid=False,
)

verdicts = Table(
    "verdicts",
    metadata,
    Column(
        "event_id",
        String(ID),
        ForeignKey("events.event_id", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column("violation", Boolean(), nullable=False),
    Column("score", Float(), nullable=False),
    Column("severity", String(32), nullable=True),
    Column("top_category", String(64), nullable=True),  # for grouping in SQL (topic summaries)
    Column("categories", JSONDoc, nullable=False),
    Column("spans", JSONDoc, nullable=False),
    Column("versions", JSONDoc, nullable=False),
    Column("notes", JSONDoc, nullable=False),
    # the model port: the model that decided (NULL: the built-in model alone) and each model's score
    Column("decided_by", String(DECIDER), nullable=True),
    Column("model_scores", JSONDoc, nullable=True),
)

alerts = Table(
    "alerts",
    metadata,
    Column("alert_id", String(ALERT_ID), primary_key=True),
    Column("kind", String(64), nullable=False),
    Column("subject_type", String(16), nullable=False),  # user / thread / topic / cluster
    Column("subject_id", String(ID), nullable=False),
    Column("level", String(16), nullable=False),  # watch / warning / critical
    # open / acknowledged / resolved / false_positive; set by behaviour (open, then resolved when
    # the episode subsides) until a person sets it (status_by not NULL), then only by people
    Column("status", String(16), nullable=False),
    Column("raised_at", UTCDateTime(), nullable=False),
    Column("updated_at", UTCDateTime(), nullable=False),
    Column("evidence", JSONDoc, nullable=False),
    Column("resolved_at", UTCDateTime(), nullable=True),  # event time the behaviour subsided
    Column("resolution", Text(), nullable=True),  # why it ended, in behaviour's words
    Column("status_by", String(ACTOR), nullable=True),  # who set the status (NULL: automation)
    Column("status_at", UTCDateTime(), nullable=True),  # wall-clock time a person set it
    Column("status_note", Text(), nullable=True),
    Index(None, "subject_id", "subject_type"),
    Index(None, "kind", "updated_at"),
    Index(None, "updated_at"),
    Index(None, "status", "updated_at"),
)

# Every status a person set on an alert, with the one before: a moderator's decision is auditable.
alert_status_history = Table(
    "alert_status_history",
    metadata,
    Column("change_id", Integer(), primary_key=True, autoincrement=True),
    Column("alert_id", String(ALERT_ID), ForeignKey("alerts.alert_id", ondelete="CASCADE"), nullable=False),
    Column("changed_at", UTCDateTime(), nullable=False),  # wall clock
    Column("actor", String(ACTOR), nullable=False),
    Column("previous_status", String(16), nullable=False),
    Column("status", String(16), nullable=False),
    Column("note", Text(), nullable=True),
    Index(None, "alert_id", "change_id"),
)

# No foreign key to events: an alert may be written by one worker before another worker's
# batch holding one of its events commits; the pipeline, not the schema, orders those writes.
alert_events = Table(
    "alert_events",
    metadata,
    Column("alert_id", String(ALERT_ID), ForeignKey("alerts.alert_id", ondelete="CASCADE"), nullable=False),
    Column("event_id", String(ID), nullable=False),
    PrimaryKeyConstraint("alert_id", "event_id"),
    Index(None, "event_id"),
    sqlite_with_rowid=False,
)


# The embedded pipeline's behaviour state (``BehaviourEngine.save()``, compressed JSON), saved at
# checkpoints so a restart resumes the windows instead of starting blind; ``through`` is the
# ingestion time of the last batch it covers: events stored after it are fed again on start.
behaviour_snapshots = Table(
    "behaviour_snapshots",
    metadata,
    Column("name", String(64), primary_key=True),
    Column("through", UTCDateTime(), nullable=False),
    Column("saved_at", UTCDateTime(), nullable=False),
    Column("format", Integer(), nullable=False),
    Column("data", LargeBinary(), nullable=False),
)


# API keys (``store.keys``): the secret is never stored, only its SHA-256; ``key_id`` is the public
# part of the key (``cvg_<key_id>_<secret>``), used to find the row, list and revoke.
api_keys = Table(
    "api_keys",
    metadata,
    Column("key_id", String(32), primary_key=True),
    Column("name", String(128), nullable=False),
    Column("role", String(16), nullable=False),  # platform / moderator / auditor / admin
    Column("secret_sha256", String(64), nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("expires_at", UTCDateTime(), nullable=True),
    Column("revoked_at", UTCDateTime(), nullable=True),
    Column("last_used_at", UTCDateTime(), nullable=True),
    # a platform key that acts for this one person only (a per-user client of the platform's)
    Column("user_id", String(ID), nullable=True),
)


# The action feed (``store.actions``): what the platform should do to content already published,
# in a strict order. ``seq`` is the cursor; ``key`` the idempotency key (appending it again is a
# no-op); ``undoes`` names the key of the action an undo reverses.
actions = Table(
    "actions",
    metadata,
    Column("seq", BigInteger().with_variant(Integer(), "sqlite"), primary_key=True, autoincrement=True),
    Column("key", String(ACTION_KEY), nullable=False, unique=True),
    Column("kind", String(32), nullable=False),
    Column("surface", String(32), nullable=False),
    Column("subject_type", String(16), nullable=False),  # event / user / topic
    Column("subject", String(ID), nullable=False),
    Column("params", JSONDoc, nullable=False),
    Column("reason", Text(), nullable=False),
    Column("rule_id", String(128), nullable=True),
    Column("alert_id", String(ALERT_ID), nullable=True),
    Column("policy_version", String(64), nullable=True),
    Column("created_at", UTCDateTime(), nullable=False),  # wall clock
    Column("undoes", String(ACTION_KEY), nullable=True),
    Index(None, "alert_id"),
    sqlite_autoincrement=True,  # ids never reused, even after the newest row is deleted
)


# What the policy decided for each event at ingest (``store.decisions``): one active decision and,
# when a candidate policy runs in shadow mode, one shadow decision per event; the first stays.
# ``decision`` is ``Decision.to_dict()`` (matched rules, spans, scores, alert ids); ``decided_at``
# is the event's time.
decisions = Table(
    "decisions",
    metadata,
    Column("event_id", String(ID), primary_key=True),
    Column("shadow", Boolean(), primary_key=True),
    Column("surface", String(32), nullable=False),
    Column("action", String(32), nullable=False),
    Column("rule_id", String(128), nullable=True),
    Column("policy", String(128), nullable=False),
    Column("policy_version", String(64), nullable=False),
    Column("decision", JSONDoc, nullable=False),
    Column("decided_at", UTCDateTime(), nullable=False),
)


# Reports people file about content or accounts (``store.reports``): the staff queue reads them by
# priority and due time; ``priority`` is ``base_priority`` raised by the crowd against the account.
REPORT_ID = 64
reports = Table(
    "reports",
    metadata,
    Column("report_id", String(REPORT_ID), primary_key=True),
    Column("reporter_id", String(ID), nullable=False),
    Column("client_key", String(ID), nullable=True),  # the platform's idempotency key, per reporter
    Column("category", String(64), nullable=False),
    Column("account_id", String(ID), nullable=True),  # the reported account (given or the events' author)
    Column("event_ids", JSONDoc, nullable=False),
    Column("evidence_event_ids", JSONDoc, nullable=False),
    Column("evidence_case_ids", JSONDoc, nullable=False),
    Column("text", Text(), nullable=True),
    Column("reporter_created_at", UTCDateTime(), nullable=True),
    Column("reporter_follows", JSONDoc, nullable=False),
    Column("minor", Boolean(), nullable=False),
    Column("base_priority", Integer(), nullable=False),
    Column("priority", Integer(), nullable=False),
    Column("priority_reasons", JSONDoc, nullable=False),
    Column("sla_from", UTCDateTime(), nullable=False),  # filing, or the reporter's answer to needs_more_info
    Column("due_at", UTCDateTime(), nullable=False),  # sla_from + the SLA of the priority
    Column("status", String(16), nullable=False),  # open / assigned / needs_more_info / upheld / rejected
    Column("assigned_to", String(ACTOR), nullable=True),
    Column("outcome", String(16), nullable=True),
    Column("decision_no", Integer(), nullable=False),
    Column("decided_by", String(ACTOR), nullable=True),
    Column("decided_at", UTCDateTime(), nullable=True),
    Column("decision_note", Text(), nullable=True),  # for staff
    Column("reply", Text(), nullable=True),  # the decision's message to the reporter
    Column("first_action_at", UTCDateTime(), nullable=True),
    Column("first_decided_at", UTCDateTime(), nullable=True),
    Column("filed_at", UTCDateTime(), nullable=False),  # wall clock
    Column("updated_at", UTCDateTime(), nullable=False),
    Index(None, "reporter_id", "filed_at"),
    Index(None, "account_id", "filed_at"),
    Index(None, "priority", "due_at", "report_id"),
    Index(None, "reporter_id", "client_key", unique=True),
)

# The crowd against one reported account as last assessed (``reports.rings``): one row per account,
# rewritten by each report filed against it; ``rings`` lists the suspected rings (members, reasons).
report_crowds = Table(
    "report_crowds",
    metadata,
    Column("account_id", String(ID), primary_key=True),
    Column("reporters", Integer(), nullable=False),
    Column("independent_reporters", Integer(), nullable=False),
    Column("rings", JSONDoc, nullable=False),
    Column("assessed_at", UTCDateTime(), nullable=False),  # wall clock
)

# Everything that happened to a report: filed, assigned, decided, reprioritised, info_added (by whom, when).
report_history = Table(
    "report_history",
    metadata,
    Column("entry_id", Integer(), primary_key=True, autoincrement=True),
    Column(
        "report_id", String(REPORT_ID), ForeignKey("reports.report_id", ondelete="CASCADE"), nullable=False
    ),
    Column("at", UTCDateTime(), nullable=False),  # wall clock
    Column("actor", String(ACTOR), nullable=False),
    Column("action", String(16), nullable=False),  # filed / assigned / decided / reprioritised / info_added
    Column("previous_status", String(16), nullable=True),
    Column("status", String(16), nullable=False),
    Column("outcome", String(16), nullable=True),
    Column("note", Text(), nullable=True),
    Index(None, "report_id", "entry_id"),
)


# The evidence vault (``store.evidence``): append-only, hash-chained copies of preserved content.
# No foreign key to events: a preserved item outlives the event (its deletion, the text retention
# purge); nothing in cvguard updates or deletes these rows. ``header`` and ``record`` hold the
# canonical JSON exactly as it was hashed (``evidence.chain``); the other columns repeat parts of
# it for lookups, and verification checks they agree. ``seq`` orders cases in the vault-wide chain
# (``vault_prev`` → ``vault_digest``), so a case removed or replaced whole is found too.
evidence_cases = Table(
    "evidence_cases",
    metadata,
    Column("seq", BigInteger().with_variant(Integer(), "sqlite"), primary_key=True, autoincrement=True),
    Column("case_id", String(32), nullable=False, unique=True),
    Column("owner_id", String(ID), nullable=True),  # the person the content concerns
    Column("actor", String(ACTOR), nullable=False),  # who preserved it
    Column("reason", Text(), nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),  # wall clock
    Column("header", Text(), nullable=False),  # canonical JSON: genesis = SHA-256 of it
    Column("item_count", Integer(), nullable=False),
    Column("head", String(64), nullable=False),
    Column("vault_prev", String(64), nullable=False),
    Column("vault_digest", String(64), nullable=False),
    Index(None, "owner_id", "seq"),
    sqlite_autoincrement=True,
)

evidence_items = Table(
    "evidence_items",
    metadata,
    Column("case_id", String(32), ForeignKey("evidence_cases.case_id"), nullable=False),
    Column("position", Integer(), nullable=False),
    Column("event_id", String(ID), nullable=False),
    Column("record", Text(), nullable=False),  # canonical JSON of the item
    Column("prev", String(64), nullable=False),
    Column("digest", String(64), nullable=False),
    PrimaryKeyConstraint("case_id", "position"),
    Index(None, "event_id"),
)


# The nudges among the decisions, by time (``store.nudges`` stats over a period): a partial index,
# so only a nudge's decision row pays for it on the ingest path.
NUDGES_ONLY = "action = 'nudge' AND shadow = false"
Index("ix_decisions_nudges_decided_at", decisions.c.decided_at,
      sqlite_where=text(NUDGES_ONLY), postgresql_where=text(NUDGES_ONLY))


# Repeated abusive private messages from one sender to one recipient (``store.dm``), one row per
# episode, updated as it grows; the event times come from the messages, ``recorded_at`` is the
# wall clock of the last write.
dm_escalations = Table(
    "dm_escalations",
    metadata,
    Column("escalation_id", String(ALERT_ID), primary_key=True),
    Column("sender_id", String(ID), nullable=False),
    Column("recipient_id", String(ID), nullable=False),
    Column("rule", String(128), nullable=False),
    Column("count", Integer(), nullable=False),
    Column("threshold", Integer(), nullable=False),
    Column("window_s", Float(), nullable=False),
    Column("event_ids", JSONDoc, nullable=False),
    Column("first_at", UTCDateTime(), nullable=False),
    Column("last_at", UTCDateTime(), nullable=False),
    Column("raised_at", UTCDateTime(), nullable=False),
    Column("recorded_at", UTCDateTime(), nullable=False),
    Index(None, "recipient_id", "last_at"),
    Index(None, "sender_id", "last_at"),
    Index(None, "last_at"),
)


# What the writer did after a nudge (``store.nudges``): one outcome per nudge, whose id is the
# event id of the decision; ``occurred_at`` is when the writer acted (the platform's time).
nudge_outcomes = Table(
    "nudge_outcomes",
    metadata,
    Column("nudge_id", String(ID), primary_key=True),
    Column("outcome", String(16), nullable=False),  # edited / cancelled / posted_anyway
    Column("occurred_at", UTCDateTime(), nullable=False),
    Column("recorded_at", UTCDateTime(), nullable=False),  # wall clock
    Column("recorded_by", String(ACTOR), nullable=False),  # the API key's name and id
)


# People (``store.people``): what cvguard keeps about the people targeted. ``updated_at`` (wall
# clock) is what a process's cache polls to see another process's changes.
# A person's key groups, and when they were last offered a shield (event time: the cool-down).
people = Table(
    "people",
    metadata,
    Column("user_id", String(ID), primary_key=True),
    Column("groups", JSONDoc, nullable=False),  # sorted list of group names
    Column("groups_by", String(ACTOR), nullable=True),
    Column("offered_at", UTCDateTime(), nullable=True),
    Column("updated_at", UTCDateTime(), nullable=False),
    Index(None, "updated_at"),
)

# A person's shield (one row: the current or last one); times are event time.
shields = Table(
    "shields",
    metadata,
    Column("user_id", String(ID), primary_key=True),
    Column("started_at", UTCDateTime(), nullable=False),
    Column("ends_at", UTCDateTime(), nullable=False),
    Column("scopes", JSONDoc, nullable=False),
    Column("audience", String(32), nullable=False),
    Column("close_friends", JSONDoc, nullable=False),
    Column("actor", String(ACTOR), nullable=False),
    Column("reason", Text(), nullable=False),
    Column("alert_id", String(ALERT_ID), nullable=True),
    Column("off_at", UTCDateTime(), nullable=True),
    Column("off_by", String(ACTOR), nullable=True),
    Column("updated_at", UTCDateTime(), nullable=False),
    Index(None, "updated_at"),
)

# Every change to a shield: who, when (event time), what and why.
shield_history = Table(
    "shield_history",
    metadata,
    Column("seq", BigInteger().with_variant(Integer(), "sqlite"), primary_key=True, autoincrement=True),
    Column("user_id", String(ID), nullable=False),
    Column("change", String(16), nullable=False),
    Column("at", UTCDateTime(), nullable=False),
    Column("actor", String(ACTOR), nullable=False),
    Column("reason", Text(), nullable=False),
    Column("alert_id", String(ALERT_ID), nullable=True),
    Column("recorded_at", UTCDateTime(), nullable=False),
    Index(None, "user_id"),
)

# What was held back from a person (hide_from_target, filter_folder): their filtered folder.
filtered = Table(
    "filtered",
    metadata,
    Column("user_id", String(ID), nullable=False),
    Column("event_id", String(ID), nullable=False),
    Column("surface", String(32), nullable=False),
    Column("action", String(32), nullable=False),
    Column("rule_id", String(128), nullable=True),
    Column("reason", Text(), nullable=False),
    Column("alert_ids", JSONDoc, nullable=False),
    Column("filtered_at", UTCDateTime(), nullable=False),  # the event's time
    Column("restored_at", UTCDateTime(), nullable=True),  # wall clock
    Column("restored_by", String(ACTOR), nullable=True),
    PrimaryKeyConstraint("user_id", "event_id"),
    Index(None, "user_id", "filtered_at"),
)


# The audit trail (``store.audit``, ``cvguard.audit``): append-only, one hash chain in ``seq``
# order (1, 2, 3, ... with no gaps: a gap is a removed entry). ``record`` holds the canonical JSON
# exactly as hashed; the other columns repeat parts of it for lookups and verification checks they
# agree. Nothing in cvguard updates or deletes these rows.
audit_log = Table(
    "audit_log",
    metadata,
    Column("seq", BigInteger().with_variant(Integer(), "sqlite"), primary_key=True, autoincrement=False),
    Column("at", UTCDateTime(), nullable=False),  # wall clock
    Column("actor", String(ACTOR), nullable=False),
    Column("action", String(64), nullable=False),
    Column("subject_type", String(32), nullable=False),
    Column("subject_id", String(ALERT_ID), nullable=False),
    Column("record", Text(), nullable=False),
    Column("prev", String(64), nullable=False),
    Column("digest", String(64), nullable=False),
    Index(None, "subject_type", "subject_id", "seq"),
)


# MCN joint handling (``store.mcns``, ``enforcement.mcn``): organisations, their member accounts
# (from events' ``author.mcn_id`` and from the platform), the violations put on each (a reversal
# marks its row, so counts are corrected exactly) and the measures taken against them. Times of
# violations and measures are event time; ``updated_at`` is the wall clock.
mcns = Table(
    "mcns",
    metadata,
    Column("mcn_id", String(ID), primary_key=True),
    Column("name", String(200), nullable=True),
    Column("contact", String(500), nullable=True),
    Column("status", String(16), nullable=False),  # active / closed
    Column("updated_at", UTCDateTime(), nullable=False),
)

mcn_members = Table(
    "mcn_members",
    metadata,
    Column("mcn_id", String(ID), nullable=False),
    Column("account_id", String(ID), nullable=False),
    Column("since", UTCDateTime(), nullable=True),
    Column("source", String(16), nullable=False),  # event / platform
    Column("left_at", UTCDateTime(), nullable=True),
    Column("updated_at", UTCDateTime(), nullable=False),
    PrimaryKeyConstraint("mcn_id", "account_id"),
    Index(None, "account_id"),
    Index(None, "updated_at"),  # what a cache of memberships polls (McnStore.members_stamp)
)

mcn_violations = Table(
    "mcn_violations",
    metadata,
    Column("mcn_id", String(ID), nullable=False),
    Column("violation_id", String(ALERT_ID), nullable=False),
    Column("account_id", String(ID), nullable=False),
    Column("roles", JSONDoc, nullable=False),
    Column("at", UTCDateTime(), nullable=False),
    Column("status", String(16), nullable=False),  # active / reversed
    Column("reversed_at", UTCDateTime(), nullable=True),
    Column("recorded_at", UTCDateTime(), nullable=False),
    PrimaryKeyConstraint("mcn_id", "violation_id"),
    Index(None, "mcn_id", "at"),
    Index(None, "violation_id"),
)

mcn_measures = Table(
    "mcn_measures",
    metadata,
    Column("measure_id", String(ALERT_ID), primary_key=True),
    Column("mcn_id", String(ID), nullable=False),
    Column("kind", String(32), nullable=False),
    Column("starts_at", UTCDateTime(), nullable=False),
    Column("expires_at", UTCDateTime(), nullable=True),
    Column("reason", Text(), nullable=False),
    Column("statement", JSONDoc, nullable=False),
    Column("decided_by", String(ACTOR), nullable=False),
    Column("threshold_id", String(64), nullable=True),
    Column("violation_ids", JSONDoc, nullable=False),
    Column("accounts", JSONDoc, nullable=False),
    Column("status", String(16), nullable=False),  # active / lifted (expired: past expires_at)
    Column("lifted_at", UTCDateTime(), nullable=True),
    Column("lifted_by", String(ACTOR), nullable=True),
    Column("lift_reason", Text(), nullable=True),
    Column("updated_at", UTCDateTime(), nullable=False),
    Index(None, "mcn_id", "starts_at"),
)


# -- The review queue and appeals (``store.review``, ``cvguard.review``) --------------------------
REVIEW_ID = 64  # rv_… / ap_… ids

# One staff queue: held content, reports, alerts, DM escalations and appeals, each referring to its
# own record (``kind``, ``ref_id``: one item per record). Times are wall clock.
review_items = Table(
    "review_items",
    metadata,
    Column("item_id", String(REVIEW_ID), primary_key=True),
    Column("kind", String(16), nullable=False),
    Column("ref_id", String(ALERT_ID), nullable=False),
    Column("priority", Integer(), nullable=False),
    Column("reasons", JSONDoc, nullable=False),
    Column("context", JSONDoc, nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("due_at", UTCDateTime(), nullable=False),
    Column("assignee", String(ACTOR), nullable=True),
    Column("assigned_at", UTCDateTime(), nullable=True),
    Column("decided_at", UTCDateTime(), nullable=True),
    Column("decided_by", String(ACTOR), nullable=True),
    Column("outcome", String(32), nullable=True),
    Column("note", Text(), nullable=True),
    Index(None, "kind", "ref_id", unique=True),
    Index(None, "priority", "due_at", "item_id"),
    Index(None, "decided_at"),
)

# One appeal per sanction; ``first_decider`` is who decided what is appealed (reviewed by another).
review_appeals = Table(
    "review_appeals",
    metadata,
    Column("appeal_id", String(REVIEW_ID), primary_key=True),
    Column("sanction_id", String(ID), nullable=False),
    Column("account_id", String(ID), nullable=False),
    Column("filed_at", UTCDateTime(), nullable=False),
    Column("filed_by", String(ACTOR), nullable=False),
    Column("deadline", UTCDateTime(), nullable=False),
    Column("text", Text(), nullable=True),
    Column("first_decider", String(ACTOR), nullable=True),
    Column("status", String(16), nullable=False),  # pending / upheld / rejected
    Column("reviewer", String(ACTOR), nullable=True),
    Column("outcome", String(16), nullable=True),
    Column("decided_at", UTCDateTime(), nullable=True),
    Column("feed_keys", JSONDoc, nullable=False),  # what the reversal and the outcome appended
    Index(None, "sanction_id", unique=True),
    Index(None, "account_id"),
)

# A person's decision on a piece of content: automation never overrides it (``pipeline.actions``).
human_decisions = Table(
    "human_decisions",
    metadata,
    Column("event_id", String(ID), primary_key=True),
    Column("action", String(32), nullable=False),
    Column("actor", String(ACTOR), nullable=False),
    Column("at", UTCDateTime(), nullable=False),
    Column("note", Text(), nullable=True),
    Column("item_id", String(REVIEW_ID), nullable=True),
)


# Enforcement (``store.enforcement``): the violation ledger and the sanctions graded from it. Times
# are event time except ``updated_at`` (wall clock: what the in-memory ledger polls). A reversed
# violation and a lifted sanction stay, with who and when; nothing deletes them.
ENFORCEMENT_ID = 512
ORIGIN = 32  # a store instance's token (violations.origin, sanctions.origin)
violations = Table(
    "violations",
    metadata,
    Column("violation_id", String(ENFORCEMENT_ID), primary_key=True),
    Column("account_id", String(ID), nullable=False),
    Column("at", UTCDateTime(), nullable=False),
    Column("confirmed_by", String(ENFORCEMENT_ID), nullable=False),
    Column("roles", JSONDoc, nullable=False),
    Column("event_id", String(ID), nullable=True),
    Column("surface", String(32), nullable=True),
    Column("action", String(32), nullable=True),
    Column("categories", JSONDoc, nullable=False),
    Column("score", Float(), nullable=True),
    Column("alert_id", String(ALERT_ID), nullable=True),
    Column("policy_version", String(64), nullable=True),
    Column("model_version", String(64), nullable=True),
    Column("mcn_id", String(ID), nullable=True),
    Column("status", String(16), nullable=False),
    Column("reversed_at", UTCDateTime(), nullable=True),
    Column("reversed_by", String(ACTOR), nullable=True),
    Column("updated_at", UTCDateTime(), nullable=False),
    # the EnforcementStore that wrote the row last (its ``origin``): a cache over that store
    # already holds what it wrote, and its poll skips those rows; NULL: written before 2026_12_03_0001
    Column("origin", String(ORIGIN), nullable=True),
    Index(None, "account_id", "at"),
    Index(None, "updated_at"),
)

sanctions = Table(
    "sanctions",
    metadata,
    Column("sanction_id", String(ENFORCEMENT_ID), primary_key=True),
    Column("account_id", String(ID), nullable=False),
    Column("kind", String(32), nullable=False),
    Column("step", Integer(), nullable=True),
    Column("starts_at", UTCDateTime(), nullable=False),
    Column("expires_at", UTCDateTime(), nullable=True),
    Column("violation_ids", JSONDoc, nullable=False),
    Column("rests_on", JSONDoc, nullable=False),
    Column("statement", JSONDoc, nullable=False),
    Column("decided_by", String(ENFORCEMENT_ID), nullable=False),
    Column("status", String(16), nullable=False),
    Column("lifted_at", UTCDateTime(), nullable=True),
    Column("lifted_by", String(ACTOR), nullable=True),
    Column("lift_reason", Text(), nullable=True),
    Column("updated_at", UTCDateTime(), nullable=False),
    Column("origin", String(ORIGIN), nullable=True),  # as violations.origin
    Index(None, "account_id", "starts_at"),
    Index(None, "updated_at"),
)
