"""``POST /v1/search/suggestions`` and ``POST /v1/hotlist``: the platform asks, the policy answers.

Search and hot lists publish nothing; the platform asks before it shows a suggestion or a list
item. Each text is screened, the behaviour state gives the context (an open pile-on or incitement
alert against a person, a topic under an alert) and the app's policy decides (surfaces
``search_query``, ``search_suggestion``, ``hotlist_item``; see docs/POLICY.md).

Which people a suggestion or item is about is the platform's to say (it maps names to its user
ids): a suggestion is a plain string or ``{text, user_ids}``, and ``user_ids`` at the top of a
search names the people the query is about (they count for every suggestion). The person under
the most severe open alert is the one the decision rests on.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Request
from pydantic import BaseModel, Field, StringConstraints

from cvguard.api.deps import BehaviourDep, BehaviourView, PipelineDep, ScreenerDep, SettingsDep
from cvguard.api.problems import PayloadTooLarge
from cvguard.api.routes.alerts import NO_NUL
from cvguard.api.schemas import Problem, SpanOut
from cvguard.config import Settings
from cvguard.pipeline.context import PeopleView
from cvguard.policy import CompiledPolicy, Decision, DecisionInput, decide
from cvguard.policy.vocabulary import LEVEL_RANK
from cvguard.protection import holds_back

router = APIRouter(prefix="/v1", tags=["decisions"])

MAX_ITEMS = 100
MAX_PEOPLE = 10
Text = Annotated[str, StringConstraints(min_length=1, max_length=1000)]
UserId = Annotated[str, StringConstraints(min_length=1, max_length=128, pattern=NO_NUL)]
ItemId = Annotated[str, StringConstraints(min_length=1, max_length=128, pattern=NO_NUL)]


class RuleMatchOut(BaseModel):
    rule_id: str
    action: str
    priority: int
    reason: str


class DecisionOut(BaseModel):
    action: str = Field(description="What to do (the surface's actions: docs/POLICY.md).")
    params: dict[str, Any]
    rule_id: str | None = Field(description="The winning rule; null when none matched (the fallback).")
    reason: str
    matched: list[RuleMatchOut] = Field(description="Every rule that matched, in the policy's order.")
    alert_ids: list[str] = Field(description="The alerts the winning rule rests on.")
    score: float
    severity: str | None
    categories: dict[str, float]
    spans: list[SpanOut]
    policy: str
    policy_version: str

    @staticmethod
    def fields(decision: Decision) -> dict[str, Any]:
        data = decision.to_dict()
        for key in ("event_id", "surface", "nudge"):
            data.pop(key, None)
        return data


class Suggestion(BaseModel):
    text: Text
    user_ids: list[UserId] = Field(default_factory=list, max_length=MAX_PEOPLE)


class SuggestionsIn(BaseModel):
    query: str = Field(max_length=1000, description="What the user typed.")
    user_ids: list[UserId] = Field(
        default_factory=list,
        max_length=MAX_PEOPLE,
        description="The people the query is about (the platform maps names to its user ids).",
    )
    suggestions: list[Text | Suggestion] = Field(
        max_length=MAX_ITEMS,
        description="Candidate suggestions: a string, or {text, user_ids} naming the people it is about.",
    )


class SuggestionOut(DecisionOut):
    suggestion: str
    user_ids: list[str] = Field(description="The people considered: the query's and the suggestion's.")


class SuggestionsOut(BaseModel):
    query: DecisionOut = Field(description="The decision about the query itself (surface search_query).")
    suggestions: list[SuggestionOut] = Field(description="One per suggestion, in the order sent.")


class HotlistItem(BaseModel):
    item_id: ItemId
    title: Text
    topic_id: UserId | None = None
    user_ids: list[UserId] = Field(default_factory=list, max_length=MAX_PEOPLE)


class HotlistIn(BaseModel):
    items: list[HotlistItem] = Field(max_length=MAX_ITEMS)


class HotlistItemOut(DecisionOut):
    item_id: str
    topic_id: str | None


class HotlistOut(BaseModel):
    items: list[HotlistItemOut] = Field(description="One per item, in the order sent.")


_PROBLEMS: dict[int | str, dict[str, Any]] = {
    status: {"model": Problem, "content": {"application/problem+json": {}}, "description": why}
    for status, why in (
        (400, "The body is not valid JSON."),
        (413, "The body, or the characters to screen in all (CVGUARD_MAX_SCREEN_CHARS), over its limit."),
        (422, "The body does not match the schema; `errors` names each field."),
        (503, "The behaviour state or the store is unavailable."),
    )
}

Context = tuple[str | None, str | None]  # (level, alert id)


def _within(settings: Settings, texts: list[str]) -> None:
    total = sum(len(t) for t in texts)
    if total > settings.max_screen_chars:
        raise PayloadTooLarge(
            f"the request has {total} characters to screen; one request may screen at most "
            f"{settings.max_screen_chars} (split it into several requests)"
        )


def _policy(request: Request) -> CompiledPolicy:
    policy: CompiledPolicy = request.app.state.policy.policy
    return policy


def _state(view: Any) -> dict[str, Any]:
    """A behaviour view as a dict (a typed view has ``to_dict()``)."""
    to_dict = getattr(view, "to_dict", None)
    data = to_dict() if callable(to_dict) else view
    return data if isinstance(data, dict) else {}


def _open_alert(state: dict[str, Any], kinds: tuple[str, ...]) -> Context:
    """The highest open alert of ``kinds`` in a state (level and id); the state's level without an
    id when it lists no alerts."""
    alerts = state.get("alerts")
    if not isinstance(alerts, list):
        level = state.get("level")
        return (level if level in LEVEL_RANK and level is not None else None), None
    best: Context = (None, None)
    for alert in alerts:
        if not isinstance(alert, dict) or alert.get("kind") not in kinds or alert.get("resolved_at"):
            continue
        level = alert.get("level")
        if level in LEVEL_RANK and LEVEL_RANK[level] > LEVEL_RANK[best[0]]:
            alert_id = alert.get("alert_id")
            best = (level, alert_id if isinstance(alert_id, str) else None)
    return best


class _People:
    """The pile-on context of people, each looked up once per request."""

    def __init__(self, view: BehaviourView, book: PeopleView | None = None) -> None:
        self._view = view
        self._book = book  # shields (pipeline.protection): a person may be protected from search
        self._seen: dict[str, Context] = {}
        self._as_of: float | None = None

    def one(self, user_id: str) -> Context:
        if user_id not in self._seen:
            as_of, state = self._view.target_state(user_id)
            self._as_of = as_of.timestamp()
            self._seen[user_id] = _open_alert(_state(state), ("pile_on", "incitement"))
        return self._seen[user_id]

    def protected(self, user_ids: list[str]) -> bool:
        """Whether one of them has a shield on that covers search (after ``worst`` read the time)."""
        book, t = self._book, self._as_of
        if book is None or t is None:
            return False
        return any(
            holds_back(book.shield_of(u), surface="search_suggestion", t=t, author_id="",
                       relationship="stranger", account_age_days=None)
            for u in user_ids
        )

    def worst(self, user_ids: list[str]) -> Context:
        best: Context = (None, None)
        for user_id in dict.fromkeys(user_ids):
            found = self.one(user_id)
            if LEVEL_RANK[found[0]] > LEVEL_RANK[best[0]]:
                best = found
        return best


@router.post(
    "/search/suggestions",
    response_model=SuggestionsOut,
    responses=_PROBLEMS,
    summary="Which search suggestions to suppress, and why",
)
def search_suggestions(
    body: SuggestionsIn,
    request: Request,
    settings: SettingsDep,
    screener: ScreenerDep,
    behaviour: BehaviourDep,
    pipeline: PipelineDep,
) -> SuggestionsOut:
    """A suggestion that pairs a person under an open pile-on (warning or above), or a person whose
    shield covers search, with abusive words is suppressed (with the default policy); so is an
    abusive one about anybody. Name the people with `user_ids`, on the query or per suggestion."""
    policy = _policy(request)
    items = [Suggestion(text=s) if isinstance(s, str) else s for s in body.suggestions]
    _within(settings, [body.query, *(s.text for s in items)])
    verdicts = screener.screen_many([body.query or " ", *(s.text for s in items)])
    people = _People(behaviour, pipeline.people)
    level, alert_id = people.worst(body.user_ids)
    query = decide(
        policy,
        DecisionInput(
            surface="search_query",
            verdict=verdicts[0] if body.query else None,
            pile_on_level=level,
            pile_on_alert_id=alert_id,
        ),
    )
    out: list[SuggestionOut] = []
    for item, verdict in zip(items, verdicts[1:], strict=True):
        user_ids = list(dict.fromkeys([*body.user_ids, *item.user_ids]))
        level, alert_id = people.worst(user_ids)
        decision = decide(
            policy,
            DecisionInput(
                surface="search_suggestion", verdict=verdict, pile_on_level=level, pile_on_alert_id=alert_id,
                target_protected=people.protected(user_ids),
            ),
        )
        out.append(
            SuggestionOut.model_validate(
                {**DecisionOut.fields(decision), "suggestion": item.text, "user_ids": user_ids}
            )
        )
    return SuggestionsOut(query=DecisionOut.model_validate(DecisionOut.fields(query)), suggestions=out)


@router.post(
    "/hotlist", response_model=HotlistOut, responses=_PROBLEMS, summary="An action per hot-list item"
)
def hotlist(
    body: HotlistIn, request: Request, settings: SettingsDep, screener: ScreenerDep, behaviour: BehaviourDep
) -> HotlistOut:
    """Each item's title is screened; its topic's state (an open topic alert) and the people it is
    about (an open pile-on) give the context: `allow`, `guidance_note` (with the note), `pull`, or
    `lock_topic`."""
    policy = _policy(request)
    _within(settings, [item.title for item in body.items])
    verdicts = screener.screen_many([item.title for item in body.items]) if body.items else []
    people = _People(behaviour)
    topics: dict[str, Context] = {}
    out: list[HotlistItemOut] = []
    for item, verdict in zip(body.items, verdicts, strict=True):
        topic: Context = (None, None)
        if item.topic_id is not None:
            if item.topic_id not in topics:
                _as_of, state = behaviour.topic_state(item.topic_id)
                topics[item.topic_id] = _open_alert(_state(state), ("topic",))
            topic = topics[item.topic_id]
        level, alert_id = people.worst(item.user_ids)
        decision = decide(
            policy,
            DecisionInput(
                surface="hotlist_item",
                event_id=item.item_id,
                verdict=verdict,
                topic_level=topic[0],
                topic_alert_id=topic[1],
                pile_on_level=level,
                pile_on_alert_id=alert_id,
            ),
        )
        out.append(
            HotlistItemOut.model_validate(
                {**DecisionOut.fields(decision), "item_id": item.item_id, "topic_id": item.topic_id}
            )
        )
    return HotlistOut(items=out)
