"""The alert vocabulary, defined once: levels, kinds, subject types and statuses.

Behaviour raises alerts in these words, the store checks them, the API validates them and policies
name them; each imports them from here (no I/O, no cvguard import: every layer may depend on it).
"""

from __future__ import annotations

from typing import Literal, get_args

Level = Literal["watch", "warning", "critical"]  # ascending
Kind = Literal["pile_on", "incitement", "brigade", "topic"]
# "cluster": a brigade whose messages no single target, thread or topic holds the majority of,
# named by its LSH bucket.
SubjectType = Literal["user", "thread", "topic", "cluster"]
# An alert is open until behaviour resolves it (the episode subsided) or a person sets a status;
# once a person has, automation never changes the status again (manual beats automatic).
AlertStatus = Literal["open", "acknowledged", "resolved", "false_positive"]

LEVELS: tuple[Level, ...] = get_args(Level)
KINDS: tuple[Kind, ...] = get_args(Kind)
SUBJECT_TYPES: tuple[SubjectType, ...] = get_args(SubjectType)
ALERT_STATUSES: tuple[AlertStatus, ...] = get_args(AlertStatus)
# A level's rank (no level ranks lowest), for "at least this level" comparisons.
LEVEL_RANK: dict[str | None, int] = {None: 0, **{level: i + 1 for i, level in enumerate(LEVELS)}}
