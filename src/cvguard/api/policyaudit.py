"""The policy in service, in the audit trail: which policy decided from when.

:class:`PolicyInService` wraps the app's policy source (``api.policy``): the first time the policy
is asked for, and each time the source swaps in another one (a policy file edited and reloaded:
``policy.PolicyHolder``), it appends ``policy.in_service`` to the audit trail: the policy's name
and version, the file and its SHA-256 when there is one, and the version it replaced. The check is
an identity comparison per call; the entry is written once per change. A trail that cannot be
written (the database down) is tried again on the next call; deciding is never held up by it.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

from cvguard.api.policy import PolicySource
from cvguard.errors import StoreError
from cvguard.policy import CompiledPolicy, PolicyHolder
from cvguard.store.audit import AuditLog
from cvguard.store.audit_batches import AUTOMATON

__all__ = ["PolicyInService"]

log = logging.getLogger(__name__)


class PolicyInService:
    """A policy source that records each policy it puts in service (see the module docstring)."""

    def __init__(self, source: PolicySource, trail: Callable[[], AuditLog]) -> None:
        self._source = source
        self._trail = trail
        self._recorded: CompiledPolicy | None = None
        self._lock = threading.Lock()

    @property
    def source(self) -> PolicySource:
        return self._source

    def __getattr__(self, name: str) -> Any:
        # the rest of the source as it is (a holder's errors, digest, reloads)
        return getattr(self._source, name)

    @property
    def policy(self) -> CompiledPolicy:
        policy = self._source.policy
        if policy is not self._recorded:
            self._record(policy)
        return policy

    def _record(self, policy: CompiledPolicy) -> None:
        if not self._lock.acquire(blocking=False):
            return  # another thread is recording it
        try:
            if policy is self._recorded:
                return
            before = self._recorded
            holder = self._source if isinstance(self._source, PolicyHolder) else None
            self._trail().append(
                actor=AUTOMATON, action="policy.in_service", subject_type="policy", subject_id=policy.name,
                inputs={"file": None if holder is None else str(holder.path),
                        "sha256": None if holder is None else holder.digest},
                before=None if before is None else {"name": before.name, "version": before.version},
                after={"name": policy.name, "version": policy.version},
                policy_version=policy.version,
            )
            self._recorded = policy
        except StoreError as exc:
            log.warning("the policy in service could not be recorded in the audit trail: %s", exc)
        finally:
            self._lock.release()
