"""Who is a minor: read through the key-groups protocol, so the real reader can be wired in.

Key groups (``PUT /v1/users/{id}/groups``) name what a person is, ``minor`` among them. Reports only
need ``groups_of(user_id)``; until the group store is wired the store falls back to what events say
about their authors (``author.minor``), and tests pass a reader of their own.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Protocol

MINOR = "minor"


class GroupsReader(Protocol):
    def groups_of(self, user_id: str) -> frozenset[str]: ...


class NoGroups:
    """A reader that knows no groups of anyone."""

    def groups_of(self, user_id: str) -> frozenset[str]:
        return frozenset()


class FixedGroups:
    """Groups given up front (tests, a static import)."""

    def __init__(self, groups: dict[str, Iterable[str]]) -> None:
        self._groups = {user: frozenset(g) for user, g in groups.items()}

    def groups_of(self, user_id: str) -> frozenset[str]:
        return self._groups.get(user_id, frozenset())


def any_minor(reader: GroupsReader, people: Iterable[str]) -> str | None:
    """The first of ``people`` (in the order given) who is a minor, or None."""
    for person in people:
        if MINOR in reader.groups_of(person):
            return person
    return None
