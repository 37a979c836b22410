"""The app's policy and action feed: loaded once per app, kept on ``app.state``.

``app.state.policy`` is a :class:`PolicySource`: the default policy shipped with cvguard, or the
file ``CVGUARD_POLICY_FILE`` names through a :class:`~cvguard.policy.PolicyHolder`, which follows
the file (an edit is in service within a second, a bad edit keeps the old policy; a bad file at
start is fatal). ``app.state.feed`` opens the action feed (``store.actions``) on first use.
"""

from __future__ import annotations

import threading
from typing import Protocol

from cvguard.config import Settings
from cvguard.policy import CompiledPolicy, PolicyHolder, default_policy
from cvguard.store.actions import ActionFeed
from cvguard.store.audit import AuditLog


class PolicySource(Protocol):
    @property
    def policy(self) -> CompiledPolicy: ...


class FixedPolicy:
    """A policy that never changes (the default one)."""

    def __init__(self, policy: CompiledPolicy) -> None:
        self._policy = policy

    @property
    def policy(self) -> CompiledPolicy:
        return self._policy


def policy_source(settings: Settings) -> PolicySource:
    """The policy the app decides with: ``settings.policy_file`` followed for edits, or the default."""
    if settings.policy_file is not None:
        return PolicyHolder(settings.policy_file)
    return FixedPolicy(default_policy())


class FeedHolder:
    """Opens the action feed on ``settings.database_url`` (migrated) on first use, once."""

    def __init__(self, settings: Settings) -> None:
        self._url = settings.database_url
        self._audited = settings.audit_automated
        self._feed: ActionFeed | None = None
        self._lock = threading.Lock()

    def __call__(self) -> ActionFeed:
        if self._feed is None:
            with self._lock:
                if self._feed is None:
                    feed = ActionFeed.open(self._url)
                    if self._audited:  # each append leaves an entry in the audit trail
                        feed.audit = AuditLog(feed.engine)
                    self._feed = feed
        return self._feed

    def close(self) -> None:
        with self._lock:
            if self._feed is not None:
                self._feed.close()
                self._feed = None
