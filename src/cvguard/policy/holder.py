"""The active policy, following its file: edits are picked up without a restart.

At most every ``interval`` seconds (by ``clock``) the file's mtime and size are compared; on a
change its content hash is too (a touch without an edit changes nothing), and a changed file is
validated and compiled, then swapped in with one assignment, so a concurrent decision sees the old
policy or the new one, never a mix. A bad file keeps the old policy in service; its issues stay
in ``errors`` until a good file replaces it.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Callable
from pathlib import Path

from cvguard.policy.decide import CompiledPolicy, Decision, DecisionInput, compile_policy, decide
from cvguard.policy.validate import PolicyIssue, load_policy_text, parse_policy


def _stat(path: Path) -> tuple[int, int] | None:
    try:
        st = path.stat()
    except OSError:
        return None
    return st.st_mtime_ns, st.st_size


class PolicyHolder:
    def __init__(
        self,
        path: str | Path,
        *,
        interval: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
        on_error: Callable[[list[PolicyIssue]], None] | None = None,
    ) -> None:
        self.path = Path(path)
        self.interval = interval
        self._clock = clock
        self._on_error = on_error
        self._lock = threading.Lock()
        self._stat = _stat(self.path)
        text = self.path.read_text(encoding="utf-8")
        self._digest = hashlib.sha256(text.encode()).hexdigest()
        self._policy = load_policy_text(text, str(self.path))  # a bad policy at start-up is fatal
        self._checked_at = clock()
        self.errors: tuple[PolicyIssue, ...] = ()
        self.reloads = 0

    @property
    def policy(self) -> CompiledPolicy:
        """The active policy, after checking the file if ``interval`` has passed."""
        self.reload_if_changed()
        return self._policy

    @property
    def version(self) -> str:
        return self._policy.version

    @property
    def digest(self) -> str:
        """SHA-256 of the file content the active policy was loaded from."""
        return self._digest

    def decide(self, inp: DecisionInput) -> Decision:
        return decide(self.policy, inp)

    def reload_if_changed(self, *, force: bool = False) -> bool:
        """Load the file again if it changed; True when a new policy was swapped in."""
        now = self._clock()
        if not force and now - self._checked_at < self.interval:
            return False
        if not self._lock.acquire(blocking=False):
            return False  # another thread is already reloading
        try:
            self._checked_at = now
            stat = _stat(self.path)
            if stat == self._stat and not force:
                return False
            self._stat = stat
            try:
                text = self.path.read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError) as exc:
                self._fail([PolicyIssue(str(self.path), None, f"cannot read the file: {exc}", None)])
                return False
            digest = hashlib.sha256(text.encode()).hexdigest()
            if digest == self._digest:
                self.errors = ()  # back to the content in service
                return False
            policy, issues = parse_policy(text, str(self.path))
            if policy is None:
                self._fail(issues)
                return False
            self._policy = compile_policy(policy)
            self._digest = digest
            self.errors = ()
            self.reloads += 1
            return True
        finally:
            self._lock.release()

    def _fail(self, issues: list[PolicyIssue]) -> None:
        self.errors = tuple(issues)
        if self._on_error is not None:
            self._on_error(issues)
