"""Protection of the people targeted: shields, key groups and what an alert offers them. Pure.

A :class:`Shield` is a person's protection: on from one event time to another, over some scopes
(comments, DMs, search...), holding back an audience (strangers, recent followers, everyone but
close friends). Policies read it through ``DecisionInput.target_protected``
(:func:`holds_back`); what is held back goes to the person's filtered folder, never deleted.
:func:`plan_protection` decides what a pile-on warning does for its target: a key-group member's
shield turns on by itself, anyone else is offered one (with a cool-down); :class:`ConvergenceWatch`
raises an earlier signal (abuse from a few strangers converging on one person) that
:func:`plan_early` answers the same way. No I/O here: the store
(``store.people``) keeps shields, groups and the folder; ``pipeline.protection`` wires them in.
"""

from cvguard.protection.early import ConvergenceWatch, EarlyConfig, EarlySignal
from cvguard.protection.plan import (
    AUTO_DAYS,
    OFFER_COOLDOWN,
    REMINDER_BEFORE,
    ProtectionStep,
    plan_early,
    plan_protection,
    reminder_due,
)
from cvguard.protection.shield import (
    AUDIENCES,
    BASE_GROUPS,
    DEFAULT_SCOPES,
    DURATIONS,
    RECENT_DAYS,
    SCOPES,
    Shield,
    ShieldChange,
    extend_shield,
    holds_back,
    new_shield,
    scope_of,
    valid_group,
)

__all__ = [
    "AUDIENCES",
    "AUTO_DAYS",
    "BASE_GROUPS",
    "DEFAULT_SCOPES",
    "DURATIONS",
    "OFFER_COOLDOWN",
    "RECENT_DAYS",
    "REMINDER_BEFORE",
    "SCOPES",
    "ConvergenceWatch",
    "EarlyConfig",
    "EarlySignal",
    "ProtectionStep",
    "Shield",
    "ShieldChange",
    "extend_shield",
    "holds_back",
    "new_shield",
    "plan_early",
    "plan_protection",
    "reminder_due",
    "scope_of",
    "valid_group",
]
