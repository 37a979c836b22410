"""Who is on the simulated platform: accounts, their popularity, topics and who follows whom.

Every identifier is generated (``u`` + eight random digits, ``mcn_`` + four letters); nothing is
taken from real people. Popularity is Zipf-like: a few creators and topics draw most traffic.
"""

from __future__ import annotations

import zlib
from bisect import bisect
from dataclasses import dataclass, field
from itertools import accumulate
from random import Random
from typing import Any

from cvguard.simulate.corpus import Corpus
from cvguard.simulate.timefmt import iso

DAY_MS = 86_400_000


@dataclass(slots=True)
class Account:
    index: int
    id: str
    handle: str
    created_ms: int
    verified: bool = False
    minor: bool = False
    mcn_id: str | None = None
    author: dict[str, Any] = field(default_factory=dict)  # the Event's author object, built once

    def freeze(self) -> Account:
        author: dict[str, Any] = {
            "id": self.id,
            "created_at": iso(self.created_ms),
            "verified": self.verified,
            "minor": self.minor,
        }
        if self.mcn_id is not None:
            author["mcn_id"] = self.mcn_id
        self.author = author
        return self


class Zipf:
    """Draws ``items[k]`` with probability proportional to ``1 / (k + 1) ** s``."""

    def __init__(self, items: list[Any], s: float) -> None:
        self.items = items
        self._cum = list(accumulate(1.0 / (k + 1) ** s for k in range(len(items))))
        self._total = self._cum[-1]

    def pick(self, rng: Random) -> Any:
        return self.items[bisect(self._cum, rng.random() * self._total)]


class Population:
    """The background accounts, the creators they talk to, the topics, and a follow graph.

    ``new_account`` hands out further accounts (celebrities, brigade members, fresh attack accounts)
    to the scenarios while they are planned, from the same identifier space, so nothing in an id
    says which scenario it belongs to.
    """

    def __init__(self, rng: Random, *, start_ms: int, users: int, targets: int, topics: int) -> None:
        self.rng = rng
        self.start_ms = start_ms
        self.corpus = Corpus.default()
        self._used: set[str] = set()
        self._salt = rng.getrandbits(32)
        self.mcns = [self._mcn_id() for _ in range(24)]
        self.users = [self.new_account(rng) for _ in range(users)]
        # Activity is skewed too: a few accounts write much of the traffic.
        self.active = Zipf(rng.sample(self.users, len(self.users)), 0.6)
        # At most half the accounts are creators, so that there are always ordinary people.
        creators = rng.sample(self.users, min(targets, len(self.users) // 2))
        for rank, creator in enumerate(creators):
            # The head of the popularity curve is mostly verified creators, many signed to an MCN.
            creator.verified = rank < max(1, len(creators) // 100) or rng.random() < 0.004
            creator.minor = creator.minor and not creator.verified
            if creator.mcn_id is None and rng.random() < (0.5 if rank < len(creators) // 10 else 0.05):
                creator.mcn_id = rng.choice(self.mcns)
            creator.freeze()
        self.creators = creators
        self.popular = Zipf(creators, 1.05)
        # Ordinary people: not creators, not verified; pile-ons pick their targets here.
        creator_ids = {c.id for c in creators}
        self.ordinary = [u for u in self.users if u.id not in creator_ids and not u.verified]
        names = self.corpus.words["topics"]
        self.topics = [(f"topic_{rng.getrandbits(40):010x}", names[i % len(names)]) for i in range(topics)]
        self.topic_pick = Zipf(self.topics, 1.0)
        # A small friend circle per user (mutual follows); DMs mostly go inside it.
        self.friends: list[set[int]] = [set() for _ in self.users]
        for user in self.users:
            for _ in range(4):
                other = rng.randrange(len(self.users))
                if other != user.index:
                    self.friends[user.index].add(other)
                    self.friends[other].add(user.index)

    def _mcn_id(self) -> str:
        return "mcn_" + "".join(self.rng.choice("abcdefghjkmnpqrstuvwxyz") for _ in range(4))

    def new_account(
        self,
        rng: Random,
        *,
        new: bool | None = None,
        verified: bool = False,
        mcn_id: str | None = None,
    ) -> Account:
        """A fresh account; ``new=True`` makes it days old, ``None`` draws a realistic age."""
        while True:
            account_id = f"u{rng.randrange(10**8):08d}"
            if account_id not in self._used:
                self._used.add(account_id)
                break
        if new is None:
            roll = rng.random()
            new = roll < 0.06
        if new:
            age_days = rng.uniform(0.05, 7.0)
        elif rng.random() < 0.12:
            age_days = rng.uniform(7.0, 90.0)
        else:
            age_days = min(4000.0, rng.lognormvariate(6.4, 0.8))  # median ≈ 600 days
        words = self.corpus.words
        handle = f"{rng.choice(words['prefix'])}{rng.choice(words['core'])}{rng.randrange(10000):04d}"
        index = len(self._used) - 1
        account = Account(
            index=index,
            id=account_id,
            handle=handle,
            created_ms=self.start_ms - int(age_days * DAY_MS),
            verified=verified,
            minor=not verified and rng.random() < 0.07,
            mcn_id=mcn_id if mcn_id is not None else (rng.choice(self.mcns) if rng.random() < 0.01 else None),
        )
        return account.freeze()

    def follows(self, follower: Account, followee: Account) -> bool:
        """Whether ``follower`` follows ``followee``: friends do, and a hashed share of the rest."""
        if follower.index < len(self.friends) and followee.index in self.friends[follower.index]:
            return True
        share = 0.35 if followee.verified else 0.03
        h = zlib.crc32(f"{follower.id}>{followee.id}".encode()) ^ self._salt
        return (h & 0xFFFF) < share * 0x10000

    def friend_of(self, rng: Random, user: Account) -> Account | None:
        circle = self.friends[user.index] if user.index < len(self.friends) else set()
        return self.users[rng.choice(sorted(circle))] if circle else None
