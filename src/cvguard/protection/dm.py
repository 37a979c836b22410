"""Private-message rules: who may write to whom, how fast, and when repeated abuse escalates.

A ``dm`` event is one message: the author is the sender, ``target_ids`` the recipient (each, when
the platform names several). :class:`DmGuard` keeps what the rules need, all in event time:

- **Strangers get one message until the recipient replies.** A sender with no follow either way
  (the event's relationship hints) and no conversation with the recipient may send one message; a
  further one while it is unanswered sets ``dm_unanswered``. A message the other way is a reply:
  from it on the pair talks freely, for good. Precisely, per pair the earliest message each way
  is kept; the conversation is open from the later of the two (the first reply), and a message
  ``(t, event_id)`` is unanswered when the sender's earliest message to the recipient comes before
  it and the conversation is not open at ``t``. An unanswered first message older than
  ``unanswered_expiry_s`` no longer counts: the stranger may try once more.
- **Rates.** A sender over ``per_recipient`` messages to one recipient within
  ``per_recipient_window_s``, or over ``per_sender`` messages to anyone within
  ``per_sender_window_s``, sets ``dm_over_rate`` (every message counts, delivered or not).
- **Escalation.** ``abuse_threshold`` abusive messages (a verdict with a violation) from one sender
  to one recipient within ``abuse_window_s`` open an :class:`Escalation` episode; each further one
  while the episode lasts (the previous abusive message less than the window before) updates it
  (same id, new count). The next burst after a quiet window is a new episode (id ``…:2``).

**Order, lateness and duplicates.** :meth:`DmGuard.observe` takes a batch (in any order) before it
is decided, and :meth:`DmGuard.flags` reads as of the message itself: only messages earlier in
event time (``(t, event_id)`` breaks ties) count, so two messages of one batch are judged as if
they came one after the other, and a late message is judged against what came before it. Every
message is kept under its ``event_id``: observing it twice changes nothing and counts once.
Windows are kept for their length plus ``lateness_s`` behind the pipeline clock (``now``), so a
message later than that is judged on what is left. A decision is made once: a late reply does not
undo the block of a message decided before it arrived.

``save()`` / ``restore()`` give and take a JSON-able state (the pipeline checkpoints it with the
behaviour state).
"""

from __future__ import annotations

import hashlib
from bisect import bisect_left
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

from cvguard.events import Event

RULE = "dm-repeated-abuse"
MAX_ID = 256  # an escalation id fits the store's column (the width of an alert id)
MAX_EVENT_IDS = 100  # the event ids an escalation lists (the first ones, then the latest)
_SWEEP_EVERY = 10_000  # observed messages between two sweeps of idle senders and pairs

Key = tuple[float, str]  # (event time in epoch seconds, event_id): the order of messages


class VerdictLike(Protocol):
    @property
    def violation(self) -> bool: ...


@dataclass(frozen=True, slots=True)
class DmLimits:
    """The rules' numbers (``Settings.dm_*``)."""

    per_recipient: int = 20
    per_recipient_window_s: float = 60.0
    per_sender: int = 60
    per_sender_window_s: float = 600.0
    abuse_threshold: int = 3
    abuse_window_s: float = 86_400.0
    unanswered_expiry_s: float = 30 * 86_400.0
    lateness_s: float = 600.0

    def __post_init__(self) -> None:
        if min(self.per_recipient, self.per_sender, self.abuse_threshold) < 1:
            raise ValueError("DM limits and the abuse threshold must be at least 1")
        windows = (self.per_recipient_window_s, self.per_sender_window_s, self.abuse_window_s,
                   self.unanswered_expiry_s)
        if min(windows) <= 0 or self.lateness_s < 0:
            raise ValueError("DM windows must be positive")


@dataclass(frozen=True, slots=True)
class Escalation:
    """Repeated abusive messages from one sender to one recipient (an episode, updated as it grows)."""

    escalation_id: str  # dm-repeated-abuse:SENDER:RECIPIENT:EPISODE
    sender_id: str
    recipient_id: str
    rule: str
    count: int  # abusive messages in the episode
    threshold: int
    window_s: float
    event_ids: tuple[str, ...]  # in event-time order (at most MAX_EVENT_IDS)
    first_at: datetime  # event time of the episode's first abusive message
    last_at: datetime  # and of its latest
    raised_at: datetime  # event time the threshold was reached

    def to_dict(self) -> dict[str, Any]:
        return {
            "escalation_id": self.escalation_id,
            "sender_id": self.sender_id,
            "recipient_id": self.recipient_id,
            "rule": self.rule,
            "count": self.count,
            "threshold": self.threshold,
            "window_s": self.window_s,
            "event_ids": list(self.event_ids),
            "first_at": self.first_at.isoformat(),
            "last_at": self.last_at.isoformat(),
            "raised_at": self.raised_at.isoformat(),
        }


@dataclass(slots=True)
class _Episode:
    number: int
    keys: list[Key]  # the episode's abusive messages, in order
    raised: Key  # the message that reached the threshold
    open: bool = True


def escalation_id(sender: str, recipient: str, episode: int) -> str:
    """``dm-repeated-abuse:SENDER:RECIPIENT:EPISODE``; past ``MAX_ID`` the pair by its SHA-256."""
    found = f"{RULE}:{sender}:{recipient}:{episode}"
    if len(found) <= MAX_ID:
        return found
    digest = hashlib.sha256(f"{sender}\x00{recipient}".encode()).hexdigest()
    return f"{RULE}:sha256:{digest}:{episode}"


def at_time(t: float) -> datetime:
    """Epoch seconds as a UTC datetime."""
    return datetime.fromtimestamp(t, UTC)


def _add(keys: list[Key], key: Key) -> bool:
    """Insert ``key`` in order; False when it was there already (a duplicate)."""
    i = bisect_left(keys, key)
    if i < len(keys) and keys[i] == key:
        return False
    keys.insert(i, key)
    return True


def _count_before(keys: list[Key], key: Key, window_s: float) -> int:
    """Messages in ``keys`` before ``key`` and within ``window_s`` of it (start inclusive)."""
    return bisect_left(keys, key) - bisect_left(keys, (key[0] - window_s, ""))


def _prune(keys: list[Key], horizon: float) -> None:
    cut = bisect_left(keys, (horizon, ""))
    if cut:
        del keys[:cut]


def _sweep(table: dict[Any, list[Key]], horizon: float) -> None:
    for k in list(table):
        keys = table[k]
        _prune(keys, horizon)
        if not keys:
            del table[k]


def is_stranger(event: Event) -> bool:
    """No follow either way, as far as the platform's hints say."""
    rel = event.relationship
    return not (rel.target_follows_author or rel.author_follows_target)


class DmGuard:
    """The private-message state of one pipeline (see the module docstring)."""

    def __init__(self, limits: DmLimits | None = None) -> None:
        self.limits = limits if limits is not None else DmLimits()
        # (sender, recipient) -> the sender's earliest message to the recipient
        self._first: dict[tuple[str, str], Key] = {}
        self._to_one: dict[tuple[str, str], list[Key]] = {}  # per pair, the rate window
        self._from: dict[str, list[Key]] = {}  # per sender, across recipients
        self._abuse: dict[tuple[str, str], list[Key]] = {}  # abusive messages per pair
        self._episodes: dict[tuple[str, str], _Episode] = {}
        self._now = float("-inf")
        self._since_sweep = 0

    # -- writing ------------------------------------------------------------------------------------

    def observe(
        self, items: Iterable[tuple[Event, VerdictLike]], now: datetime | float | None = None
    ) -> list[Escalation]:
        """Take the batch's messages (other surfaces are skipped); ``now`` is the pipeline clock,
        which bounds what the windows keep. Returns the escalations raised or updated, in order."""
        dms = [(e, v) for e, v in items if e.surface._value_ == "dm" and e.target_ids]
        if isinstance(now, datetime):
            now = now.timestamp()
        if now is not None and now > self._now:
            self._now = now
        if not dms:
            return []
        dms.sort(key=lambda item: (item[0].occurred_at, item[0].event_id))
        lim = self.limits
        out: list[Escalation] = []
        for event, verdict in dms:
            sender = event.author.id
            key = (event.occurred_at.timestamp(), event.event_id)
            senders = self._from.setdefault(sender, [])
            if not _add(senders, key):
                continue  # seen already
            for recipient in dict.fromkeys(event.target_ids):
                if recipient == sender:
                    continue
                pair = (sender, recipient)
                first = self._first.get(pair)
                if first is None or key < first or (
                    first[0] < key[0] - lim.unanswered_expiry_s and (recipient, sender) not in self._first
                ):
                    self._first[pair] = key
                _add(self._to_one.setdefault(pair, []), key)
                if verdict.violation:
                    found = self._escalate(pair, key)
                    if found is not None:
                        out.append(found)
        self._since_sweep += len(dms)
        self._trim(dms)
        return out

    def _escalate(self, pair: tuple[str, str], key: Key) -> Escalation | None:
        lim = self.limits
        abuse = self._abuse.setdefault(pair, [])
        _add(abuse, key)
        episode = self._episodes.get(pair)
        if episode is not None and episode.open and key[0] - episode.keys[-1][0] <= lim.abuse_window_s \
                and key[0] >= episode.keys[0][0] - lim.abuse_window_s:
            _add(episode.keys, key)
            return self._escalation(pair, episode)
        # a window that holds this message and reaches the threshold: the one ending with it, or
        # (a late message) one ending with a later message less than a window after it
        w = lim.abuse_window_s
        i = bisect_left(abuse, key)
        while i < len(abuse) and abuse[i][0] <= key[0] + w:
            end = abuse[i]
            start = bisect_left(abuse, (end[0] - w, ""))
            if i + 1 - start >= lim.abuse_threshold:
                number = 1 if episode is None else episode.number + 1
                episode = self._episodes[pair] = _Episode(number, abuse[start : i + 1], end)
                return self._escalation(pair, episode)
            i += 1
        return None

    def _escalation(self, pair: tuple[str, str], episode: _Episode) -> Escalation:
        lim = self.limits
        keys = episode.keys
        half = MAX_EVENT_IDS // 2
        shown = keys if len(keys) <= MAX_EVENT_IDS else keys[:half] + keys[-half:]
        sender, recipient = pair
        return Escalation(
            escalation_id=escalation_id(sender, recipient, episode.number),
            sender_id=sender,
            recipient_id=recipient,
            rule=RULE,
            count=len(keys),
            threshold=lim.abuse_threshold,
            window_s=lim.abuse_window_s,
            event_ids=tuple(k[1] for k in shown),
            first_at=at_time(keys[0][0]),
            last_at=at_time(keys[-1][0]),
            raised_at=at_time(episode.raised[0]),
        )

    def _trim(self, dms: Sequence[tuple[Event, VerdictLike]]) -> None:
        """Drop what the windows no longer need behind the clock: the touched lists now, and every
        idle sender and pair once in a while."""
        lim = self.limits
        now = self._now
        if now == float("-inf"):
            return
        rate_h = now - lim.per_recipient_window_s - lim.lateness_s
        sender_h = now - lim.per_sender_window_s - lim.lateness_s
        abuse_h = now - lim.abuse_window_s - lim.lateness_s
        for event, _ in dms:
            sender = event.author.id
            _prune(self._from.get(sender, []), sender_h)
            for recipient in event.target_ids:
                _prune(self._to_one.get((sender, recipient), []), rate_h)
        if self._since_sweep < _SWEEP_EVERY:
            return
        self._since_sweep = 0
        _sweep(self._from, sender_h)
        _sweep(self._to_one, rate_h)
        _sweep(self._abuse, abuse_h)
        for episode in self._episodes.values():
            if episode.keys[-1][0] < abuse_h:
                episode.open = False  # the number stays, for the next episode's id
                episode.keys = episode.keys[-1:]
        expiry = now - lim.unanswered_expiry_s - lim.lateness_s
        for pair, key in list(self._first.items()):
            if key[0] < expiry and (pair[1], pair[0]) not in self._first:
                del self._first[pair]  # an old unanswered first message: forgotten

    # -- reading ------------------------------------------------------------------------------------

    def flags(self, event: Event) -> tuple[bool, bool]:
        """``(dm_unanswered, dm_over_rate)`` for a message already observed, as of its own time."""
        sender = event.author.id
        key = (event.occurred_at.timestamp(), event.event_id)
        lim = self.limits
        over = _count_before(self._from.get(sender, []), key, lim.per_sender_window_s) >= lim.per_sender
        unanswered = False
        stranger = is_stranger(event)
        for recipient in event.target_ids:
            if recipient == sender:
                continue
            pair = (sender, recipient)
            if not over:
                window = self._to_one.get(pair, [])
                over = _count_before(window, key, lim.per_recipient_window_s) >= lim.per_recipient
            if stranger and not unanswered:
                unanswered = self._unanswered(pair, key)
        return unanswered, over

    def _unanswered(self, pair: tuple[str, str], key: Key) -> bool:
        mine = self._first.get(pair)
        if mine is None or mine >= key or mine[0] < key[0] - self.limits.unanswered_expiry_s:
            return False  # this is the first message (or the earlier one expired)
        theirs = self._first.get((pair[1], pair[0]))
        return theirs is None or max(mine, theirs) > key  # no reply before this message

    def conversation_open(self, a: str, b: str, at: datetime) -> bool:
        """Whether ``a`` and ``b`` have written to each other by ``at`` (either way round)."""
        one, two = self._first.get((a, b)), self._first.get((b, a))
        return one is not None and two is not None and max(one, two)[0] <= at.timestamp()

    # -- persistence --------------------------------------------------------------------------------

    def save(self) -> dict[str, Any]:
        """The state as JSON-able lists (restored by :meth:`restore`)."""
        return {
            "format": 1,
            "now": None if self._now == float("-inf") else self._now,
            "first": [[s, r, t, i] for (s, r), (t, i) in self._first.items()],
            "to_one": [[s, r, [list(k) for k in keys]] for (s, r), keys in self._to_one.items() if keys],
            "from": [[s, [list(k) for k in keys]] for s, keys in self._from.items() if keys],
            "abuse": [[s, r, [list(k) for k in keys]] for (s, r), keys in self._abuse.items() if keys],
            "episodes": [
                [s, r, e.number, [list(k) for k in e.keys], list(e.raised), e.open]
                for (s, r), e in self._episodes.items()
            ],
        }

    def restore(self, state: dict[str, Any]) -> None:
        def keys(raw: list[list[Any]]) -> list[Key]:
            return [(float(t), str(i)) for t, i in raw]

        self._now = float("-inf") if state.get("now") is None else float(state["now"])
        self._first = {(s, r): (float(t), i) for s, r, t, i in state["first"]}
        self._to_one = {(s, r): keys(k) for s, r, k in state["to_one"]}
        self._from = {s: keys(k) for s, k in state["from"]}
        self._abuse = {(s, r): keys(k) for s, r, k in state["abuse"]}
        self._episodes = {
            (s, r): _Episode(int(n), keys(k), (float(raised[0]), str(raised[1])), bool(is_open))
            for s, r, n, k, raised, is_open in state["episodes"]
        }
        self._since_sweep = 0

    def __len__(self) -> int:
        """Pairs with a message kept (for stats and tests)."""
        return len(self._first)
