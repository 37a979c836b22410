"""The private-message rules in scale-out mode: their state in Redis, shared by every API node.

In scale-out mode (``CVGUARD_REDIS_URL``) API nodes decide events before queueing them
(``api.scaleout``), several at once; the rules of ``protection.dm`` must then see one state. The
same rules run as one Lua script per request, atomically: each message of the request, in event
time order, is added (once per ``event_id``) and judged as of itself.

Keys (prefix ``cvguard:dm:``): ``firstt`` / ``firsti`` (hashes: per directed pair
``SENDER\\0RECIPIENT`` the earliest message's time and id), ``from:SENDER`` and ``to:PAIR`` (sorted
sets of message ids scored by event time: the rate windows; a sorted set orders equal scores by
id, which is the ``(t, event_id)`` order of the embedded rules), ``abuse:PAIR`` (abusive messages)
and ``episode:PAIR`` (the escalation episode: number, first, last, raised). Windows are trimmed
behind the workers' newest event time plus the lateness, as in the embedded rules; the earliest
message per pair is kept (no sweep of old unanswered ones: one hash field per pair that ever wrote).

Differences from the embedded rules (``protection.dm``): a late abusive message does not complete
an episode that only a later message would have closed (the embedded guard looks ahead); the
rest is the same.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import redis

from cvguard.events import Event
from cvguard.protection.dm import (
    MAX_EVENT_IDS,
    RULE,
    DmLimits,
    Escalation,
    VerdictLike,
    at_time,
    escalation_id,
    is_stranger,
)

PREFIX = "cvguard:dm:"

_SCRIPT = r"""
local P = cjson.decode(ARGV[1])
local msgs = cjson.decode(ARGV[2])
local pre = P.prefix
local function fmt(x) return string.format('%.6f', x) end
local function less(t1, i1, t2, i2) return t1 < t2 or (t1 == t2 and i1 < i2) end
local function before(key, id, t, w)
  local rank = redis.call('ZRANK', key, id)
  if not rank then return 0 end
  return rank - redis.call('ZCOUNT', key, '-inf', '(' .. fmt(t - w))
end
local function first(pair)
  local ft = redis.call('HGET', pre .. 'firstt', pair)
  if not ft then return nil, nil end
  return tonumber(ft), redis.call('HGET', pre .. 'firsti', pair)
end
local out = {}
for i, m in ipairs(msgs) do
  local s, r, t, id, stranger, abusive = m[1], m[2], m[3], m[4], m[5], m[6]
  local ts = fmt(t)
  local pair, back = s .. '\0' .. r, r .. '\0' .. s
  local fromk, tok = pre .. 'from:' .. s, pre .. 'to:' .. pair
  local new = redis.call('ZADD', fromk, 'NX', ts, id) == 1
  if new then
    redis.call('ZADD', tok, ts, id)
    local ft, fi = first(pair)
    if (not ft) or less(t, id, ft, fi)
        or (ft < t - P.expiry and redis.call('HEXISTS', pre .. 'firstt', back) == 0) then
      redis.call('HSET', pre .. 'firstt', pair, ts)
      redis.call('HSET', pre .. 'firsti', pair, id)
    end
  end
  local over = before(fromk, id, t, P.w_all) >= P.n_all or before(tok, id, t, P.w_one) >= P.n_one
  local unanswered = false
  if stranger == 1 then
    local mt, mi = first(pair)
    if mt and less(mt, mi, t, id) and mt >= t - P.expiry then
      local tt, ti = first(back)
      if not tt then
        unanswered = true
      else
        local ot, oi = mt, mi
        if less(mt, mi, tt, ti) then ot, oi = tt, ti end
        unanswered = less(t, id, ot, oi)
      end
    end
  end
  local episode = 0
  if new and abusive == 1 then
    local ak, ek = pre .. 'abuse:' .. pair, pre .. 'episode:' .. pair
    redis.call('ZADD', ak, ts, id)
    local n = tonumber(redis.call('HGET', ek, 'n') or '0')
    local last, efirst = redis.call('HGET', ek, 'last'), redis.call('HGET', ek, 'first')
    if last and t - tonumber(last) <= P.w_abuse and t >= tonumber(efirst) - P.w_abuse then
      if t > tonumber(last) then redis.call('HSET', ek, 'last', ts) end
      if t < tonumber(efirst) then redis.call('HSET', ek, 'first', ts) end
      episode = n
    elseif redis.call('ZCOUNT', ak, fmt(t - P.w_abuse), ts) >= P.threshold then
      local head = redis.call('ZRANGEBYSCORE', ak, fmt(t - P.w_abuse), '+inf', 'WITHSCORES', 'LIMIT', 0, 1)
      redis.call('HSET', ek, 'n', n + 1, 'first', head[2], 'last', ts, 'raised', ts)
      episode = n + 1
    end
  end
  if P.now then
    redis.call('ZREMRANGEBYSCORE', fromk, '-inf', '(' .. fmt(P.now - P.w_all - P.late))
    redis.call('ZREMRANGEBYSCORE', tok, '-inf', '(' .. fmt(P.now - P.w_one - P.late))
  end
  out[i] = {unanswered and 1 or 0, over and 1 or 0, episode}
end
return out
"""


@dataclass(frozen=True, slots=True)
class Judged:
    """The flags of one request's messages (a ``DmReader`` for the decision context)."""

    by_id: dict[str, tuple[bool, bool]]
    escalations: list[Escalation]

    def flags(self, event: Event) -> tuple[bool, bool]:
        return self.by_id.get(event.event_id, (False, False))


class SharedDmGuard:
    """``protection.dm`` against state in Redis (see the module docstring)."""

    def __init__(self, client: redis.Redis, limits: DmLimits | None = None, *, prefix: str = PREFIX) -> None:
        self.client = client
        self.limits = limits if limits is not None else DmLimits()
        self.prefix = prefix
        self._script = client.register_script(_SCRIPT)

    def judge(self, items: Sequence[tuple[Event, VerdictLike]], now: float | None) -> Judged:
        """Add the request's messages to the shared state and judge each as of itself."""
        dms = sorted(
            ((e, v) for e, v in items if e.surface._value_ == "dm" and e.target_ids),
            key=lambda item: (item[0].occurred_at, item[0].event_id),
        )
        msgs: list[list[Any]] = []
        owners: list[Event] = []
        for event, verdict in dms:
            t = round(event.occurred_at.timestamp(), 6)
            for recipient in dict.fromkeys(event.target_ids):
                if recipient != event.author.id:
                    msgs.append([event.author.id, recipient, t, event.event_id, int(is_stranger(event)),
                                 int(verdict.violation)])
                    owners.append(event)
        if not msgs:
            return Judged({}, [])
        lim = self.limits
        params: dict[str, Any] = {
            "prefix": self.prefix, "late": lim.lateness_s,
            "w_one": lim.per_recipient_window_s, "n_one": lim.per_recipient,
            "w_all": lim.per_sender_window_s, "n_all": lim.per_sender,
            "w_abuse": lim.abuse_window_s, "threshold": lim.abuse_threshold,
            "expiry": lim.unanswered_expiry_s,
        }
        if now is not None:  # (a JSON null would be truthy in the script)
            params["now"] = now
        raw = self._script(args=[json.dumps(params), json.dumps(msgs)])
        by_id: dict[str, tuple[bool, bool]] = {}
        episodes: dict[tuple[str, str], int] = {}
        for msg, event, (unanswered, over, episode) in zip(msgs, owners, raw, strict=True):
            was = by_id.get(event.event_id, (False, False))
            by_id[event.event_id] = (was[0] or bool(unanswered), was[1] or bool(over))
            if int(episode):
                episodes[(msg[0], msg[1])] = int(episode)
        return Judged(by_id, [self._escalation(pair, n) for pair, n in episodes.items()])

    def _escalation(self, pair: tuple[str, str], number: int) -> Escalation:
        sender, recipient = pair
        key = f"{sender}\x00{recipient}"
        episode = self.client.hgetall(f"{self.prefix}episode:{key}")
        first = float(episode[b"first"])
        found: list[tuple[bytes, float]] = list(
            self.client.zrangebyscore(f"{self.prefix}abuse:{key}", first, "+inf", withscores=True)  # type: ignore[arg-type]
        )
        keys = [(float(score), member.decode()) for member, score in found]
        half = MAX_EVENT_IDS // 2
        shown = keys if len(keys) <= MAX_EVENT_IDS else keys[:half] + keys[-half:]
        return Escalation(
            escalation_id=escalation_id(sender, recipient, number), sender_id=sender,
            recipient_id=recipient, rule=RULE,
            count=len(keys), threshold=self.limits.abuse_threshold, window_s=self.limits.abuse_window_s,
            event_ids=tuple(k[1] for k in shown), first_at=at_time(keys[0][0]), last_at=at_time(keys[-1][0]),
            raised_at=at_time(float(episode[b"raised"])),
        )
