"""The API in scale-out mode (``CVGUARD_REDIS_URL`` set): events go to the Redis stream, reads come
from the shared behaviour state that the ``cvguard worker`` processes maintain.

``POST /v1/events`` validates every event as in embedded mode, appends the good ones to the stream
and answers 202: they are queued, not yet screened or stored, so the answer holds the queued ids
and the refused events, and no counts of duplicates or alerts (those follow in ``GET /v1/alerts``
once a worker has processed them). When the workers are far behind (more than ``max_backlog``
entries), the API waits a little and then answers 503 rather than trimming unread events.

``GET /v1/targets/{id}`` and ``/v1/topics/{id}`` read a replica of the shared behaviour state: the
latest snapshot plus the passes the leader applied after it, caught up on every request. "Now" is
the newest event time applied, as in embedded mode.

Decisions (``POST /v1/events`` answers them with the 202): the API node screens the good events
itself and decides each with the app's policy against the shared state as the replica has it when
the request comes (``SharedView.decide``: the events of the request itself are not applied yet, so
an alert they will raise counts from the next request on), records the decisions (first one per
event stays), then still queues the events for the workers, which screen and store them as before.
Private messages are judged against the DM state every API node shares in Redis
(``pipeline.shared_dm``), and the escalations of repeated abuse are recorded by the node that saw
the message which raised or updated them.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TypeVar

import redis

from cvguard.api.problems import Overloaded
from cvguard.behavior import TargetState, TopicState
from cvguard.errors import StoreError
from cvguard.events import Event
from cvguard.pipeline.clock import EPOCH
from cvguard.pipeline.context import PeopleView, PolicyLike
from cvguard.pipeline.ingest import Decided, Item, decide_fresh
from cvguard.pipeline.redis_bus import DEFAULT_GROUP, BacklogFull, RedisStreamBus
from cvguard.pipeline.shared_dm import SharedDmGuard
from cvguard.pipeline.shared_state import SharedBehaviour
from cvguard.protection.dm import DmLimits

DEFAULT_MAX_BACKLOG = 500_000  # entries; the stream's cap (redis_bus.DEFAULT_MAXLEN) is twice this
PUBLISH_WAIT_S = 2.0


class StreamIngest:
    """Appends validated events to the event stream (the workers' input)."""

    def __init__(
        self, client: redis.Redis, *, max_backlog: int = DEFAULT_MAX_BACKLOG, wait_s: float = PUBLISH_WAIT_S
    ) -> None:
        self.bus = RedisStreamBus(client)
        self.max_backlog, self.wait_s = max_backlog, wait_s
        self._grouped = False

    def publish(self, events: list[Event]) -> list[str]:
        if not events:
            return []
        try:
            if not self._grouped:
                # The workers' group, created now if no worker has yet: the backlog is counted
                # against it, so events queued before any worker starts are waited for, never
                # trimmed by the stream's cap.
                self.bus.ensure_group(DEFAULT_GROUP)
                self._grouped = True
            return self.bus.publish(events, max_backlog=self.max_backlog, timeout_s=self.wait_s)
        except BacklogFull as exc:
            raise Overloaded(str(exc)) from exc
        except redis.RedisError as exc:
            raise StoreError(f"the event stream is unavailable: {exc}") from exc

S = TypeVar("S", TargetState, TopicState)


class SharedView:
    """Behaviour reads from the shared state, with the same shape as the embedded pipeline's."""

    def __init__(self, client: redis.Redis, dm: DmLimits | None = None) -> None:
        self.state = SharedBehaviour(client)
        self.dm = SharedDmGuard(client, dm)  # the private-message rules, shared by every API node
        self._lock = threading.Lock()  # one replica, requests on a thread pool

    def target_state(self, target_id: str) -> tuple[datetime, TargetState]:
        return self._read(lambda at: self.state.engine.target_state(target_id, at))

    def topic_state(self, topic_id: str) -> tuple[datetime, TopicState]:
        return self._read(lambda at: self.state.engine.topic_state(topic_id, at))

    def _read(self, view: Callable[[datetime], S]) -> tuple[datetime, S]:
        """Catch the replica up, then ``view`` it as of the newest event time applied."""
        with self._lock:
            try:
                self.state.sync()
            except redis.RedisError as exc:
                raise StoreError(f"the shared behaviour state is unavailable: {exc}") from exc
            newest = self.state.newest
            at = EPOCH if newest is None else datetime.fromtimestamp(newest, UTC)
            return at, view(at)

    def now(self) -> datetime | None:
        """The newest event time applied (None before any); caught up first."""
        with self._lock:
            try:
                self.state.sync()
            except redis.RedisError as exc:
                raise StoreError(f"the shared behaviour state is unavailable: {exc}") from exc
            newest = self.state.newest
            return None if newest is None else datetime.fromtimestamp(newest, UTC)

    def decide(
        self,
        items: list[Item],
        policy: PolicyLike,
        shadow: PolicyLike | None = None,
        people: PeopleView | None = None,
    ) -> Decided:
        """Decide ``items`` against the shared state caught up now, as of the newest event time
        applied (the shared ingest step's ``decide_fresh``); private messages are judged against
        the DM state in Redis first (``pipeline.shared_dm``), escalations returned with the decisions;
        ``people``: the targets' key groups and shields (``pipeline.protection``, polled from the
        shared database)."""
        with self._lock:
            try:
                self.state.sync()
                judged = self.dm.judge(items, now=self.state.newest)
            except redis.RedisError as exc:
                raise StoreError(f"the shared behaviour state is unavailable: {exc}") from exc
            decided = decide_fresh(
                policy, items, self.state.engine, at=self.state.newest, shadow=shadow, whole=True,
                dm=judged, people=people,
            )
            decided.escalations = list(judged.escalations)
            return decided
