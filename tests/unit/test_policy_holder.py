"""Hot reload: a changed file is picked up, a bad one keeps the old policy, the version follows."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from cvguard.policy import DecisionInput, PolicyError, PolicyHolder
from cvguard.verdict import Verdict

ABUSE = Verdict(True, 0.8, "harmful", {"insult": 0.8}, (), {})


def write(path: Path, version: str, action: str, *, bump: int = 0) -> None:
    path.write_text(
        f'version: "{version}"\nname: p\nrules:\n'
        f"  - {{id: r, surfaces: [comment], when: {{violation: true}}, action: {action}, reason: x}}\n",
        encoding="utf-8",
    )
    st = path.stat()  # mtimes can be coarse: move it on explicitly so every write is seen
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + bump * 1_000_000_000))


class Clock:
    def __init__(self) -> None:
        self.t = 0.0

    def __call__(self) -> float:
        return self.t


@pytest.fixture
def setup(tmp_path: Path) -> tuple[Path, Clock, PolicyHolder]:
    path = tmp_path / "policy.yaml"
    write(path, "1", "fold")
    clock = Clock()
    return path, clock, PolicyHolder(path, interval=5.0, clock=clock)


def test_a_changed_file_is_picked_up_after_the_interval(setup: tuple[Path, Clock, PolicyHolder]) -> None:
    path, clock, holder = setup
    assert holder.version == "1" and holder.decide(DecisionInput("comment", verdict=ABUSE)).action == "fold"
    write(path, "2", "block", bump=1)
    clock.t = 1.0  # within the interval: not looked at yet
    assert holder.policy.version == "1"
    clock.t = 6.0
    d = holder.decide(DecisionInput("comment", verdict=ABUSE))
    assert (d.action, d.policy_version, holder.version, holder.reloads) == ("block", "2", "2", 1)


def test_a_bad_file_keeps_the_old_policy_with_its_errors(setup: tuple[Path, Clock, PolicyHolder]) -> None:
    path, clock, holder = setup
    write(path, "2", "lock_topic", bump=1)  # not an action on comments
    clock.t = 6.0
    assert holder.policy.version == "1"
    assert len(holder.errors) == 1 and "is not valid on comment" in holder.errors[0].message
    write(path, "3", "nudge", bump=2)  # fixed: swapped in, errors cleared
    assert holder.reload_if_changed(force=True) and holder.version == "3" and holder.errors == ()


def test_a_touch_without_an_edit_changes_nothing(setup: tuple[Path, Clock, PolicyHolder]) -> None:
    path, _, holder = setup
    digest = holder.digest
    write(path, "1", "fold", bump=3)  # same content, new mtime
    assert not holder.reload_if_changed(force=True) and holder.digest == digest and holder.reloads == 0


def test_a_deleted_file_keeps_the_policy(tmp_path: Path) -> None:
    path = tmp_path / "policy.yaml"
    write(path, "1", "fold")
    seen: list[int] = []
    holder = PolicyHolder(path, on_error=lambda issues: seen.append(len(issues)))
    path.unlink()
    assert not holder.reload_if_changed(force=True)
    assert holder.version == "1" and seen == [1] and "cannot read" in holder.errors[0].message


def test_a_bad_file_at_start_up_is_fatal(tmp_path: Path) -> None:
    path = tmp_path / "p.yaml"
    write(path, "1", "pull")
    with pytest.raises(PolicyError, match="is not valid on comment"):
        PolicyHolder(path)
