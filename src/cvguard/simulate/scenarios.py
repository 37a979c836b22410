"""The scenarios: background traffic, three kinds of incident and two look-alikes that are not.

Each scenario gets its own ``random.Random`` and returns a :class:`Scenario`: its ground-truth record
(``None`` for background) and its items in time order. Incidents are small and are planned up front,
so their truth (first abusive event ids, members) is known before the stream is written; background
traffic and a celebrity's day are large and stream lazily.

    pile_on         a topic heats up, then hundreds of strangers (many new accounts) abuse one
                    ordinary person, ramping over 10-60 minutes
    brigade         20-60 mostly new accounts, some under one MCN, post near-identical messages
                    within a few minutes
    incitement      a post calling others to attack (冲了/挂人/开盒 + @handle), then copycats
    accountability  an incitement by three accounts of one MCN (calling twice), first-time
                    copycats, and a repeat offender with two earlier violations who joins in: the
                    cast enforcement grades by role (not in the default set: ``--scenarios``)
    celebrity_day   thousands of mentions an hour, mostly friendly, a steady small share of abuse
                    (NOT an incident)
    civil_debate    a topic full of strong, civil disagreement (NOT an incident)
    viral_post      an ordinary person's post goes viral: thousands of friendly stranger comments,
                    some swearing at the situation, fans' copy-paste chants, one to three rude
                    comments at the poster (NOT an incident: attention is not hostility)
    news_thread     a news post whose commenters abuse the people in the news and groups, not the
                    poster (NOT an incident)
    fan_war         two fandoms abusing each other under a post: replies aimed at rival fans,
                    comments at the other fandom (NOT an incident of the poster, nor a pile-on)
    group_debate    a heated debate in a group chat among people who know each other, sharp words
                    included (NOT an incident)
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from random import Random
from typing import Any

from cvguard.simulate.corpus import PILE_ON_ABUSE, Template
from cvguard.simulate.emit import HOUR_MS, MINUTE_MS, EventMaker, Item, arrivals, ramp, thread_of
from cvguard.simulate.population import DAY_MS, Account, Population, Zipf
from cvguard.simulate.timefmt import iso

FIRST_ABUSIVE = 20  # how many leading abusive event ids the truth lists


@dataclass(slots=True)
class Scenario:
    truth: dict[str, Any] | None
    items: Iterable[Item]


def _choose(rng: Random, weights: dict[str, float]) -> str:
    return rng.choices(tuple(weights), weights=tuple(weights.values()))[0]


def _truth(
    incident_id: str,
    kind: str,
    abusive: list[Item],
    *,
    target: Account | None = None,
    topic: str | None = None,
    initiators: Iterable[str] = (),
    start: int | None = None,
    end: int | None = None,
    **extra: Any,
) -> dict[str, Any]:
    abusive = sorted(abusive, key=lambda item: item[0])
    members: dict[str, None] = {}
    for _, event in abusive:
        members.setdefault(event["author"]["id"], None)
    initiator_ids = list(initiators)
    for initiator in initiator_ids:
        members.pop(initiator, None)
    record: dict[str, Any] = {"incident_id": incident_id, "kind": kind}
    if target is not None:
        record["target_id"] = target.id
    if topic is not None:
        record["topic_id"] = topic
    record |= {
        "start": iso(abusive[0][0] if start is None else start),
        "end": iso(abusive[-1][0] if end is None else end),
        "first_abusive_event_ids": [e["event_id"] for _, e in abusive[:FIRST_ABUSIVE]],
        "initiator_ids": initiator_ids,
        "member_ids": list(members),
        "abusive_event_ids": [e["event_id"] for _, e in abusive],
    }
    return record | extra


def _attackers(
    rng: Random, pop: Population, n: int, *, fresh: float, new: float, avoid: Account
) -> list[Account]:
    """``n`` accounts: a share of fresh ones (``new`` of those days old), the rest existing strangers."""
    out: list[Account] = []
    friends = pop.friends[avoid.index] if avoid.index < len(pop.friends) else set()
    chosen: set[str] = {avoid.id}
    while len(out) < n:
        if rng.random() < fresh:
            account = pop.new_account(rng, new=rng.random() < new)
        else:
            account = rng.choice(pop.users)
            if account.index in friends or account.id in chosen:
                continue
        chosen.add(account.id)
        out.append(account)
    return out


# --------------------------------------------------------------------------------- background


_BACKGROUND_SURFACES: dict[str, float] = {
    "comment": 34, "reply": 14, "danmaku": 12, "live_chat": 7, "dm": 6, "post": 12, "repost": 7,
    "search_query": 6, "group_message": 2,
}


def background(
    rng: Random, pop: Population, *, start: int, end: int, per_user_day: float, abuse_rate: float
) -> Scenario:
    """Ordinary traffic of every account, with thin ordinary abuse spread across targets."""
    corpus = pop.corpus
    maker = EventMaker(rng, pop)
    mean_per_ms = len(pop.users) * per_user_day / DAY_MS

    def items() -> Iterator[Item]:
        comments: deque[tuple[str, Account, str]] = deque(maxlen=400)  # (event id, author, thread)
        posts: deque[tuple[str, Account, str]] = deque(maxlen=200)
        surfaces, weights = tuple(_BACKGROUND_SURFACES), tuple(_BACKGROUND_SURFACES.values())
        for t in arrivals(rng, start, end, mean_per_ms):
            author: Account = pop.active.pick(rng)
            surface = rng.choices(surfaces, weights=weights)[0]
            topic_id, topic_name = pop.topic_pick.pick(rng)
            on_topic = rng.random() < 0.3
            target: Account | None = None
            thread: str | None = None
            reply_to: str | None = None
            if surface == "search_query":
                name = pop.popular.pick(rng).handle
                text = corpus.pick(rng, corpus.search, name=name, topic=topic_name)
                yield maker.make(t, surface, author, text, topic=topic_id if on_topic else None)
                continue
            if surface in ("comment", "danmaku"):
                target = pop.popular.pick(rng)
                thread = thread_of(target, rng.randrange(8))
            elif surface == "live_chat":
                target = pop.popular.pick(rng)
                thread = f"live_{target.id}"
            elif surface == "reply" and comments:
                reply_to, target, thread = rng.choice(comments)
            elif surface == "repost" and posts:
                reply_to, target, thread = rng.choice(posts)
            elif surface in ("dm", "group_message"):
                target = pop.friend_of(rng, author) if rng.random() < 0.8 else rng.choice(pop.users)
                thread = f"dm_{author.id}" if surface == "dm" else f"grp_{rng.randrange(300):03d}"
            else:
                surface = "post"
                thread = thread_of(author, rng.randrange(8))
                if rng.random() < 0.1:
                    target = pop.popular.pick(rng)
            if target is not None and target.id == author.id:
                target = None
            if target is not None and rng.random() < abuse_rate:
                text = corpus.abusive(rng, name=target.handle, topic=topic_name)
            else:
                pool = corpus.neutral
                roll = rng.random()
                if target is not None and target.verified and roll < 0.4:
                    pool = corpus.praise
                elif roll > 0.94:
                    pool = corpus.disagree
                name = target.handle if target else author.handle
                text = corpus.pick(rng, pool, name=name, topic=topic_name)
            item = maker.make(
                t, surface, author, text, target=target, thread=thread,
                topic=topic_id if on_topic else None, reply_to=reply_to,
            )
            if surface in ("comment", "reply"):
                comments.append((item[1]["event_id"], author, thread or ""))
            elif surface == "post":
                posts.append((item[1]["event_id"], author, thread or ""))
            yield item

    return Scenario(None, items())


# ----------------------------------------------------------------------------------- pile-on


_PILE_ON_SURFACES: dict[str, float] = {
    "comment": 50, "reply": 15, "dm": 20, "repost": 5, "danmaku": 5, "post": 5,
}


def pile_on(rng: Random, pop: Population, incident_id: str, *, at: int, target: Account) -> Scenario:
    """A hot event about ``target`` heats a topic; then strangers pile on, ramping up."""
    corpus = pop.corpus
    maker = EventMaker(rng, pop)
    topic_id, topic_name = rng.choice(pop.topics)
    own_thread = thread_of(target, 99)
    items: list[Item] = []
    # The target's own post that the hot event is about.
    post = maker.make(at - rng.randint(5, 30) * MINUTE_MS, "post", target,
                      corpus.pick(rng, corpus.neutral, name=target.handle, topic=topic_name),
                      thread=own_thread, topic=topic_id)
    items.append(post)
    post_id = post[1]["event_id"]
    surge = at + int(rng.uniform(10, 40) * MINUTE_MS)
    length = rng.uniform(10, 60) * MINUTE_MS
    # The topic heats up: discussion, mostly critical, not abusive.
    for _ in range(rng.randint(150, 400)):
        t = int(rng.triangular(at, at + 2 * HOUR_MS, surge + 10 * MINUTE_MS))
        author = rng.choice(pop.users)
        if author.id == target.id:
            continue
        text = corpus.pick(rng, corpus.hot_event, name=target.handle, topic=topic_name)
        kind = _choose(rng, {"post": 40, "comment": 25, "repost": 20, "search_query": 15})
        if kind == "search_query":
            items.append(maker.make(t, kind, author, topic_name, topic=topic_id))
        elif kind == "post":
            items.append(maker.make(t, kind, author, text, topic=topic_id, thread=thread_of(author, 7)))
        else:
            items.append(maker.make(t, kind, author, text, target=target, thread=own_thread,
                                    topic=topic_id, reply_to=post_id if kind == "repost" else None))
    abusive: list[Item] = []
    attackers = _attackers(rng, pop, rng.randint(150, 450), fresh=0.7, new=0.6, avoid=target)
    for attacker in attackers:
        if rng.random() < 0.85:
            t = ramp(rng, surge, length)
        else:
            t = surge + int(length + rng.expovariate(3.0 / length))
        for _ in range(1 + (rng.random() < 0.35) + (rng.random() < 0.15)):
            surface = _choose(rng, _PILE_ON_SURFACES)
            text = corpus.abusive(rng, name=target.handle, topic=topic_name, mix=PILE_ON_ABUSE)
            item = maker.make(
                t, surface, attacker, text, target=target,
                thread=f"dm_{attacker.id}" if surface == "dm" else own_thread,
                topic=topic_id if rng.random() < 0.4 else None,
                reply_to=post_id if surface in ("reply", "repost") else None,
                follows=(False, rng.random() < 0.08),  # strangers, a few turned followers
            )
            abusive.append(item)
            t += int(rng.expovariate(1 / (4 * MINUTE_MS)))
    # A few people stand up for the target.
    for _ in range(len(attackers) // 6):
        author = rng.choice(pop.users)
        if author.id != target.id:
            t = surge + int(rng.uniform(0, 1.5 * length))
            text = corpus.pick(rng, corpus.disagree if rng.random() < 0.5 else corpus.neutral,
                               name=target.handle, topic=topic_name)
            items.append(maker.make(t, "comment", author, text, target=target, thread=own_thread))
    items += abusive
    items.sort(key=lambda item: item[0])
    truth = _truth(incident_id, "pile_on", abusive, target=target, topic=topic_id,
                   heat_start=iso(at), minor_target=target.minor)
    return Scenario(truth, items)


def _target_post(
    rng: Random, pop: Population, maker: EventMaker, target: Account, at: int, *, salt: int, earliest_min: int
) -> tuple[str, str, str, Item]:
    """The target's own post on a topic, ``earliest_min``-180 minutes before ``at``: where an
    attack lands. Returns the topic id and name, the thread and the post."""
    topic_id, topic_name = rng.choice(pop.topics)
    thread = thread_of(target, salt)
    post = maker.make(at - rng.randint(earliest_min, 180) * MINUTE_MS, "post", target,
                      pop.corpus.pick(rng, pop.corpus.neutral, name=target.handle, topic=topic_name),
                      thread=thread)
    return topic_id, topic_name, thread, post


# ----------------------------------------------------------------------------------- brigade


def brigade(rng: Random, pop: Population, incident_id: str, *, at: int, target: Account) -> Scenario:
    """20-60 accounts, mostly new, some under one MCN, posting near-identical messages."""
    corpus = pop.corpus
    maker = EventMaker(rng, pop)
    topic_id, topic_name, thread, post = _target_post(rng, pop, maker, target, at, salt=98, earliest_min=30)
    post_id = post[1]["event_id"]
    mcn = rng.choice(pop.mcns)
    template: Template = rng.choice(corpus.brigade)
    window = rng.uniform(2, 6) * MINUTE_MS
    members = [
        pop.new_account(rng, new=rng.random() < 0.75, mcn_id=mcn if rng.random() < 0.4 else None)
        for _ in range(rng.randint(20, 60))
    ]
    abusive: list[Item] = []
    for member in members:
        for copy in range(1 + (rng.random() < 0.2)):
            t = at + int(rng.uniform(0, window)) + copy * rng.randint(20_000, 120_000)
            surface = _choose(rng, {"comment": 75, "reply": 15, "repost": 10})
            text = corpus.near_duplicate(rng, template, name=target.handle, topic=topic_name)
            abusive.append(maker.make(
                t, surface, member, text, target=target, thread=thread,
                topic=topic_id if rng.random() < 0.3 else None,
                reply_to=post_id if surface != "comment" else None, follows=(False, False),
            ))
    items = sorted([post, *abusive], key=lambda item: item[0])
    shared = sorted({m.mcn_id for m in members if m.mcn_id == mcn})
    truth = _truth(incident_id, "brigade", abusive, target=target, topic=topic_id, mcn_ids=shared)
    return Scenario(truth, items)


# -------------------------------------------------------------------------------- incitement


def incitement(rng: Random, pop: Population, incident_id: str, *, at: int, target: Account) -> Scenario:
    """An initiator calls others to attack ``target`` (often with doxxing); copycats follow."""
    corpus = pop.corpus
    maker = EventMaker(rng, pop)
    topic_id, topic_name, thread, post = _target_post(rng, pop, maker, target, at, salt=97, earliest_min=10)
    post_id = post[1]["event_id"]
    initiator = (pop.new_account(rng, new=rng.random() < 0.5) if rng.random() < 0.3
                 else _attackers(rng, pop, 1, fresh=0.0, new=0.0, avoid=target)[0])
    incite_items = [maker.make(
        at, "post" if rng.random() < 0.7 else "comment", initiator,
        corpus.pick(rng, corpus.incite, name=target.handle, topic=topic_name),
        target=target, thread=thread_of(initiator, 96), topic=topic_id, follows=(False, False),
    )]
    if rng.random() < 0.5:  # and says it again a few minutes later
        incite_items.append(maker.make(
            at + rng.randint(3, 15) * MINUTE_MS, "post", initiator,
            corpus.pick(rng, corpus.incite, name=target.handle, topic=topic_name),
            target=target, thread=thread_of(initiator, 96), topic=topic_id, follows=(False, False),
        ))
    incite_id = incite_items[0][1]["event_id"]
    start = at + int(rng.uniform(1, 5) * MINUTE_MS)
    length = rng.uniform(10, 60) * MINUTE_MS
    copycats = _attackers(rng, pop, rng.randint(40, 200), fresh=0.5, new=0.5, avoid=target)
    abusive: list[Item] = list(incite_items)
    for copycat in copycats:
        if copycat.id == initiator.id:
            continue
        t = ramp(rng, start, length)
        for _ in range(1 + (rng.random() < 0.3)):
            surface = _choose(rng, {"comment": 50, "dm": 20, "repost": 20, "reply": 10})
            text = corpus.abusive(rng, name=target.handle, topic=topic_name, mix=PILE_ON_ABUSE)
            if surface == "repost" and rng.random() < 0.5:
                text = rng.choice(("冲了 ", "已冲 ", "来了 ", "+1 ")) + text
            abusive.append(maker.make(
                t, surface, copycat, text, target=target,
                thread=f"dm_{copycat.id}" if surface == "dm" else thread,
                reply_to=incite_id if surface == "repost" else post_id if surface == "reply" else None,
                follows=(False, rng.random() < 0.05),
            ))
            t += int(rng.expovariate(1 / (3 * MINUTE_MS)))
    items = sorted([post, *abusive], key=lambda item: item[0])
    truth = _truth(incident_id, "incitement", abusive, target=target, topic=topic_id,
                   initiators=[initiator.id], incitement_event_ids=[e["event_id"] for _, e in incite_items])
    return Scenario(truth, items)


# ---------------------------------------------------------------------------- accountability


def accountability(rng: Random, pop: Population, incident_id: str, *, at: int, target: Account) -> Scenario:
    """Three accounts of one MCN call others onto ``target`` and call again once the crowd came;
    first-time copycats insult the target (once or twice each); a repeat offender, who insulted two
    other people 50 and 26 hours before, joins in. The truth names each role."""
    corpus = pop.corpus
    maker = EventMaker(rng, pop)
    topic_id, topic_name, thread, post = _target_post(rng, pop, maker, target, at, salt=95, earliest_min=10)
    mcn = rng.choice(pop.mcns)
    inciters = [pop.new_account(rng, new=False, mcn_id=mcn) for _ in range(3)]
    calls: list[Item] = []
    for i, inciter in enumerate(inciters):
        for t in (at + i * 40_000, at + rng.randint(12, 20) * MINUTE_MS + i * 30_000):
            calls.append(maker.make(
                t, "post", inciter, corpus.pick(rng, corpus.incite, name=target.handle, topic=topic_name),
                target=target, thread=thread_of(inciter, 96), topic=topic_id, follows=(False, False),
            ))
    insult = {"insult": 1}
    avoid = {a.id for a in inciters}
    offender = next(a for a in _attackers(rng, pop, 5, fresh=0.0, new=0.0, avoid=target) if a.id not in avoid)
    avoid.add(offender.id)
    priors: list[Item] = []
    for hours in (50, 26):  # two earlier violations against two other people, a day apart
        other = rng.choice([a for a in pop.ordinary if a.id not in (target.id, offender.id)])
        priors.append(maker.make(
            at - hours * HOUR_MS, "comment", offender,
            corpus.abusive(rng, name=other.handle, mix=insult, evade=0.0),
            target=other, thread=thread_of(other, 94), follows=(False, False),
        ))
    copycats = [a for a in _attackers(rng, pop, rng.randint(30, 60), fresh=0.5, new=0.3, avoid=target)
                if a.id not in avoid]
    abusive: list[Item] = list(calls)
    start, length = at + 3 * MINUTE_MS, rng.uniform(15, 25) * MINUTE_MS
    for copycat in copycats:
        t = ramp(rng, start, length)
        for _ in range(1 + (rng.random() < 0.3)):
            abusive.append(maker.make(
                t, "comment", copycat, corpus.abusive(rng, name=target.handle, mix=insult, evade=0.0),
                target=target, thread=thread, topic=topic_id if rng.random() < 0.3 else None,
                follows=(False, False),
            ))
            t += int(rng.expovariate(1 / (3 * MINUTE_MS)))
    joined = maker.make(
        at + rng.randint(6, 10) * MINUTE_MS, "comment", offender,
        corpus.abusive(rng, name=target.handle, mix=insult, evade=0.0),
        target=target, thread=thread, follows=(False, False),
    )
    abusive.append(joined)
    items = sorted([*priors, post, *abusive], key=lambda item: item[0])
    truth = _truth(
        incident_id, "accountability", abusive, target=target, topic=topic_id,
        initiators=[a.id for a in inciters], mcn_id=mcn,
        incitement_event_ids=[e["event_id"] for _, e in calls],
        copycat_ids=[a.id for a in copycats], repeat_offender_ids=[offender.id],
        prior_violation_event_ids=[e["event_id"] for _, e in priors],
    )
    return Scenario(truth, items)


# ------------------------------------------------------------------------------ non-incidents


def celebrity_day(
    rng: Random, pop: Population, incident_id: str, *, start: int, end: int, per_hour: float
) -> Scenario:
    """A verified celebrity's ordinary busy day: thousands of mentions an hour, a little abuse."""
    corpus = pop.corpus
    maker = EventMaker(rng, pop)
    celeb = pop.new_account(rng, new=False, verified=True, mcn_id=rng.choice(pop.mcns))
    passers_by = [pop.new_account(rng) for _ in range(1500)]
    fans = Zipf(rng.sample(pop.users, len(pop.users)), 0.8)
    topic_id, topic_name = rng.choice(pop.topics)
    # One evening live stream (20:00-22:00 Beijing) doubles the traffic while it lasts.
    day0 = start - (start + 8 * HOUR_MS) % DAY_MS
    live = [(d + 20 * HOUR_MS - 8 * HOUR_MS, d + 22 * HOUR_MS - 8 * HOUR_MS)
            for d in range(day0, end + DAY_MS, DAY_MS)]

    def boost(t: int) -> float:
        return 2.0 if any(a <= t < b for a, b in live) else 1.0

    def items() -> Iterator[Item]:
        posts: deque[str] = deque(maxlen=20)
        next_post = start
        for t in arrivals(rng, start, end, per_hour / HOUR_MS, boost=boost):
            if t >= next_post:  # the celebrity posts every few hours; fans reply and repost
                own = maker.make(t, "post", celeb, corpus.pick(rng, corpus.neutral, topic=topic_name),
                                 thread=thread_of(celeb, len(posts) % 4))
                posts.append(own[1]["event_id"])
                next_post = t + rng.randint(2, 5) * HOUR_MS
                yield own
            author: Account = fans.pick(rng) if rng.random() < 0.7 else rng.choice(passers_by)
            on_live = boost(t) > 1.0
            surface = _choose(rng, {"live_chat": 60, "danmaku": 20, "comment": 20} if on_live else
                              {"comment": 45, "reply": 10, "danmaku": 15, "repost": 15, "post": 10,
                               "search_query": 5})
            roll = rng.random()
            if surface == "search_query":
                yield maker.make(t, surface, author, celeb.handle + rng.choice(("", " 新歌", " 直播")))
                continue
            if roll < 0.025:
                text = corpus.abusive(rng, name=celeb.handle, topic=topic_name)
            elif roll < 0.09:
                text = corpus.pick(rng, corpus.disagree, name=celeb.handle, topic=topic_name)
            elif roll < 0.6:
                text = corpus.pick(rng, corpus.praise, name=celeb.handle, topic=topic_name)
            else:
                text = corpus.pick(rng, corpus.neutral, name=celeb.handle, topic=topic_name)
            thread = f"live_{celeb.id}" if surface == "live_chat" else thread_of(celeb, rng.randrange(4))
            yield maker.make(
                t, surface, author, text, target=celeb, thread=thread,
                topic=topic_id if rng.random() < 0.1 else None,
                reply_to=rng.choice(posts) if surface in ("reply", "repost") and posts else None,
            )

    truth: dict[str, Any] = {
        "incident_id": incident_id, "kind": "celebrity_day", "target_id": celeb.id,
        "start": iso(start), "end": iso(end), "first_abusive_event_ids": [], "initiator_ids": [],
        "member_ids": [], "abusive_share": 0.025, "mentions_per_hour": per_hour,
    }
    return Scenario(truth, items())


def civil_debate(rng: Random, pop: Population, incident_id: str, *, at: int, topic_name: str) -> Scenario:
    """Many people disagreeing strongly, and civilly, about one topic for a few hours."""
    corpus = pop.corpus
    maker = EventMaker(rng, pop)
    topic_id = f"topic_{rng.getrandbits(40):010x}"
    length = rng.uniform(1.5, 3.0) * HOUR_MS
    people = rng.sample(pop.users, min(len(pop.users), rng.randint(80, 250)))
    speakers = Zipf(people, 0.7)
    opener: Account = people[0]
    thread = thread_of(opener, 95)
    items = [maker.make(at, "post", opener, corpus.pick(rng, corpus.disagree, topic=topic_name),
                        thread=thread, topic=topic_id)]
    count = int(rng.uniform(8, 20) * length / MINUTE_MS)
    times = sorted(at + int(rng.uniform(0, length)) for _ in range(count))
    said: list[tuple[str, Account]] = [(items[0][1]["event_id"], opener)]
    for t in times:
        author: Account = speakers.pick(rng)
        pool = corpus.disagree if rng.random() < 0.8 else corpus.neutral
        kind = _choose(rng, {"reply": 45, "comment": 45, "post": 10})
        if kind == "reply":
            reply_to, target = said[max(0, len(said) - 1 - int(rng.expovariate(0.1)))]
        else:
            reply_to, target = None, opener
        text = corpus.pick(rng, pool, name=target.handle, topic=topic_name)
        if target.id == author.id or kind == "post":
            item = maker.make(t, "post", author, text, topic=topic_id, thread=thread_of(author, 95))
        else:
            item = maker.make(t, kind, author, text, target=target, thread=thread, topic=topic_id,
                              reply_to=reply_to)
        said.append((item[1]["event_id"], author))
        items.append(item)
    members = list(dict.fromkeys(e["author"]["id"] for _, e in items))
    truth: dict[str, Any] = {
        "incident_id": incident_id, "kind": "civil_debate", "topic_id": topic_id, "topic": topic_name,
        "start": iso(items[0][0]), "end": iso(items[-1][0]), "first_abusive_event_ids": [],
        "initiator_ids": [], "member_ids": members, "event_count": len(items),
    }
    return Scenario(truth, items)



def _decaying(rng: Random, at: int, length: float, n: int) -> list[int]:
    """``n`` times from ``at`` on, busiest at first and fading over about ``length`` ms."""
    return sorted(at + int(min(length, rng.expovariate(3.0 / length))) for _ in range(n))


def _non_incident(incident_id: str, kind: str, items: list[Item], **extra: Any) -> dict[str, Any]:
    members = list(dict.fromkeys(e["author"]["id"] for _, e in items))
    return {
        "incident_id": incident_id, "kind": kind, "start": iso(items[0][0]), "end": iso(items[-1][0]),
        "first_abusive_event_ids": [], "initiator_ids": [], "member_ids": members,
        "event_count": len(items), **extra,
    }


def viral_post(rng: Random, pop: Population, incident_id: str, *, at: int, poster: Account) -> Scenario:
    """An ordinary person's post goes viral: a flood of friendly strangers and a rude comment or two."""
    corpus = pop.corpus
    maker = EventMaker(rng, pop)
    topic_id, topic_name = rng.choice(pop.topics)
    thread = thread_of(poster, 94)
    post = maker.make(at, "post", poster, corpus.pick(rng, corpus.neutral, topic=topic_name),
                      thread=thread, topic=topic_id)
    post_id = post[1]["event_id"]
    items: list[Item] = [post]
    length = rng.uniform(3, 6) * HOUR_MS
    passers_by = [pop.new_account(rng) for _ in range(600)]
    chanters = rng.sample(pop.users, 40)  # a fan circle pasting the same check-in
    chant = rng.choice(corpus.chant)
    rude = rng.randint(1, 3)
    times = _decaying(rng, at + MINUTE_MS, length, rng.randint(2000, 5000))
    rude_at = set(rng.sample(range(len(times) // 10, len(times)), rude))
    for k, t in enumerate(times):
        author: Account = rng.choice(passers_by) if rng.random() < 0.5 else rng.choice(pop.users)
        if author.id == poster.id:
            continue
        roll = rng.random()
        if k in rude_at:
            text = corpus.abusive(rng, name=poster.handle, topic=topic_name)
        elif roll < 0.03:
            author = rng.choice(chanters)
            text = corpus.render(rng, chant, name=poster.handle, topic=topic_name)
        elif roll < 0.15:
            text = corpus.pick(rng, corpus.situation, name=poster.handle, topic=topic_name)
        elif roll < 0.6:
            text = corpus.pick(rng, corpus.praise, name=poster.handle, topic=topic_name)
        else:
            text = corpus.pick(rng, corpus.neutral, name=poster.handle, topic=topic_name)
        surface = _choose(rng, {"comment": 70, "repost": 20, "reply": 10})
        items.append(maker.make(
            t, surface, author, text, target=poster, thread=thread,
            topic=topic_id if rng.random() < 0.1 else None,
            reply_to=post_id if surface != "comment" else None,
        ))
    truth = _non_incident(incident_id, "viral_post", items, target_id=poster.id, rude_comments=rude)
    return Scenario(truth, items)


def news_thread(rng: Random, pop: Population, incident_id: str, *, at: int) -> Scenario:
    """A news account reports on a third party; commenters abuse that third party and groups."""
    corpus = pop.corpus
    maker = EventMaker(rng, pop)
    outlet = pop.new_account(rng, new=False, verified=rng.random() < 0.6)
    topic_id, topic_name = rng.choice(pop.topics)
    thread = thread_of(outlet, 93)
    post = maker.make(at, "post", outlet, corpus.pick(rng, corpus.news, topic=topic_name),
                      thread=thread, topic=topic_id)
    post_id = post[1]["event_id"]
    items: list[Item] = [post]
    readers = [pop.new_account(rng) for _ in range(400)]
    for t in _decaying(rng, at + MINUTE_MS, rng.uniform(2, 4) * HOUR_MS, rng.randint(300, 1500)):
        author: Account = rng.choice(readers) if rng.random() < 0.6 else rng.choice(pop.users)
        roll = rng.random()
        if roll < 0.25:
            text = corpus.pick(rng, corpus.third_party, topic=topic_name)
        elif roll < 0.32:
            text = corpus.render(rng, rng.choice(corpus.abuse["discrimination"]), topic=topic_name)
        elif roll < 0.55:
            text = corpus.pick(rng, corpus.hot_event, name=outlet.handle, topic=topic_name)
        elif roll < 0.7:
            text = corpus.pick(rng, corpus.disagree, topic=topic_name)
        else:
            text = corpus.pick(rng, corpus.neutral, topic=topic_name)
        surface = _choose(rng, {"comment": 75, "repost": 15, "reply": 10})
        items.append(maker.make(
            t, surface, author, text, target=outlet, thread=thread,
            topic=topic_id if rng.random() < 0.3 else None,
            reply_to=post_id if surface != "comment" else None,
        ))
    truth = _non_incident(incident_id, "news_thread", items, target_id=outlet.id, topic_id=topic_id)
    return Scenario(truth, items)


def fan_war(rng: Random, pop: Population, incident_id: str, *, at: int, poster: Account) -> Scenario:
    """Two fandoms under one post: replies abuse rival fans, comments abuse the rival fandom."""
    corpus = pop.corpus
    maker = EventMaker(rng, pop)
    _, topic_name = rng.choice(pop.topics)
    thread = thread_of(poster, 92)
    post = maker.make(at, "post", poster, corpus.pick(rng, corpus.neutral, topic=topic_name), thread=thread)
    post_id = post[1]["event_id"]
    items: list[Item] = [post]
    sides = [[pop.new_account(rng) for _ in range(rng.randint(30, 80))] for _ in range(2)]
    said: list[deque[tuple[str, Account]]] = [deque(maxlen=60), deque(maxlen=60)]
    length = rng.uniform(1, 3) * HOUR_MS
    for t in sorted(at + int(rng.uniform(0, length)) for _ in range(rng.randint(300, 800))):
        side = rng.randrange(2)
        author: Account = rng.choice(sides[side])
        rival = said[1 - side]
        if rival and rng.random() < 0.6:  # a reply to a rival fan's recent comment
            reply_to, target = rng.choice(rival)
            pool = corpus.fan_war if rng.random() < 0.5 else corpus.disagree
            item = maker.make(t, "reply", author, corpus.pick(rng, pool, topic=topic_name), target=target,
                              thread=thread, reply_to=reply_to, follows=(False, False))
        else:  # a comment on the post: cheering one's own side, or jeering at the other
            pool = corpus.fan_war if rng.random() < 0.3 else corpus.praise
            text = corpus.pick(rng, pool, name=poster.handle, topic=topic_name)
            item = maker.make(t, "comment", author, text, target=poster, thread=thread, reply_to=post_id)
        said[side].append((item[1]["event_id"], author))
        items.append(item)
    truth = _non_incident(incident_id, "fan_war", items, target_id=poster.id)
    return Scenario(truth, items)


def group_debate(rng: Random, pop: Population, incident_id: str, *, at: int) -> Scenario:
    """A heated argument in a group chat among acquaintances, sharp words included."""
    corpus = pop.corpus
    maker = EventMaker(rng, pop)
    members = rng.sample(pop.users, rng.randint(15, 40))
    speakers = Zipf(members, 0.8)
    thread = f"grp_debate_{rng.getrandbits(32):08x}"
    topic_name = rng.choice(corpus.words["debate"])
    items: list[Item] = []
    last: deque[tuple[str, Account]] = deque(maxlen=8)
    length = rng.uniform(2, 4) * HOUR_MS
    for t in sorted(at + int(rng.uniform(0, length)) for _ in range(rng.randint(300, 800))):
        author: Account = speakers.pick(rng)
        others = [(i, a) for i, a in last if a.id != author.id]
        reply_to, target = rng.choice(others) if others else (None, rng.choice(members))
        if target.id == author.id:
            continue
        roll = rng.random()
        pool = corpus.heated if roll < 0.2 else corpus.disagree if roll < 0.8 else corpus.neutral
        text = corpus.pick(rng, pool, name=target.handle, topic=topic_name)
        item = maker.make(t, "group_message", author, text, target=target, thread=thread, reply_to=reply_to,
                          follows=(True, True))
        last.append((item[1]["event_id"], author))
        items.append(item)
    truth = _non_incident(incident_id, "group_debate", items, thread_id=thread)
    return Scenario(truth, items)
