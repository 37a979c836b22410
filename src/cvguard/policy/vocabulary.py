"""The words a policy may use: surfaces, actions per surface, levels, roles, relationships, groups.

Event surfaces come from :class:`cvguard.events.Surface`; three more exist only for decisions (a
platform asks about them, nothing is published there): ``search_suggestion``, ``hotlist_item`` and
``recommendation``. Each surface has the set of actions a platform can carry out on it, and a
fallback action for content no rule matches.
"""

from __future__ import annotations

from cvguard.events import Surface
from cvguard.taxonomy import SEVERITY_ORDER
from cvguard.vocabulary import LEVEL_RANK as LEVEL_RANK  # the alert levels, defined once
from cvguard.vocabulary import LEVELS as LEVELS

DECISION_ONLY_SURFACES = ("search_suggestion", "hotlist_item", "recommendation")
SURFACES: tuple[str, ...] = (*(s.value for s in Surface), *DECISION_ONLY_SURFACES)

_CHAT = ("allow", "nudge", "fold", "hide_from_target", "hold_for_review", "block")
# hide_from_target on a post or repost: it names a person whose shield covers mentions or reposts
_POST = (
    "allow",
    "limit_visibility",
    "exclude_from_recommendation",
    "hide_from_target",
    "hold_for_review",
    "remove",
)
_SEARCH = ("allow", "suppress", "filter_results")
_TOPIC = ("allow", "guidance_note", "lock_topic", "pull")

ACTIONS: dict[str, tuple[str, ...]] = {
    "comment": _CHAT,
    "reply": _CHAT,
    "danmaku": _CHAT,
    "live_chat": _CHAT,
    "dm": ("deliver", "filter_folder", "block"),
    "post": _POST,  # a video's title and description arrive as a post
    "repost": _POST,
    "search_query": _SEARCH,
    "search_suggestion": _SEARCH,
    "topic": _TOPIC,
    "hotlist_item": _TOPIC,
    "group_message": ("allow", "remove", "mute_member"),
    "recommendation": ("allow", "exclude"),
}
ALL_ACTIONS: tuple[str, ...] = tuple(dict.fromkeys(a for acts in ACTIONS.values() for a in acts))

# What happens when no rule matches: the content goes through.
FALLBACK: dict[str, str] = {s: ("deliver" if s == "dm" else "allow") for s in SURFACES}

SEVERITIES = SEVERITY_ORDER  # inappropriate < harmful < illegal
SEVERITY_RANK: dict[str | None, int] = {None: -1, **{s: i for i, s in enumerate(SEVERITY_ORDER)}}
ROLES = ("initiator", "copycat")  # the author's role in an incitement (behavior.incitement.Role)
# The author as the target sees them: "follower" follows the target, "followed" is followed by the
# target, "mutual" both; anything else (including no hint from the platform) is a "stranger".
RELATIONSHIPS = ("stranger", "follower", "followed", "mutual")
# Groups a target may belong to that call for stricter handling; the platform or a moderator marks
# people with them (``PUT /v1/users/{id}/groups``). A platform may mark its own extra groups too
# (``Settings.extra_key_groups``), but a policy names only these: validation stays strict.
KEY_GROUPS = (
    "minor", "hot_event_bystander", "elderly", "disabled", "bereaved", "victim", "public_figure"
)

# The screening threshold (detection.screen.THRESHOLD): a category "is present" at this score.
CATEGORY_THRESHOLD = 0.5


def relationship_of(target_follows_author: bool | None, author_follows_target: bool | None) -> str:
    """The relationship word for the platform's two follow hints (``events.Relationship``)."""
    if target_follows_author and author_follows_target:
        return "mutual"
    if author_follows_target:
        return "follower"
    if target_follows_author:
        return "followed"
    return "stranger"
