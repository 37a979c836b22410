"""The alert words are defined once (cvguard.vocabulary) and every layer uses that definition."""

from __future__ import annotations

from cvguard import store
from cvguard import vocabulary as v
from cvguard.api.routes import alerts as routes
from cvguard.behavior import alerts as behaviour
from cvguard.policy import vocabulary as policy
from cvguard.store import alerts as store_alerts
from cvguard.store import memory


def test_levels_are_ascending_and_ranked() -> None:
    assert v.LEVELS == ("watch", "warning", "critical")
    assert [v.LEVEL_RANK[level] for level in (None, *v.LEVELS)] == [0, 1, 2, 3]


def test_every_layer_uses_the_one_definition() -> None:
    assert behaviour.LEVELS is v.LEVELS and behaviour.RANK is v.LEVEL_RANK
    assert policy.LEVELS is v.LEVELS and policy.LEVEL_RANK is v.LEVEL_RANK
    assert store.LEVELS is v.LEVELS and store.ALERT_STATUSES is v.ALERT_STATUSES
    for module in (store_alerts, memory):  # the SQL store and its twin check alerts against them
        assert module.LEVELS is v.LEVELS
        assert module.SUBJECT_TYPES is v.SUBJECT_TYPES
        assert module.ALERT_STATUSES is v.ALERT_STATUSES
    assert (routes.Kind, routes.Level, routes.SubjectType, routes.Status) == (
        v.Kind, v.Level, v.SubjectType, v.AlertStatus,
    )


def test_the_tuples_match_the_literals() -> None:
    assert v.KINDS == ("pile_on", "incitement", "brigade", "topic")
    assert v.SUBJECT_TYPES == ("user", "thread", "topic", "cluster")
    assert v.ALERT_STATUSES == ("open", "acknowledged", "resolved", "false_positive")
