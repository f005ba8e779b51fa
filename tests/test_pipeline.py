"""The stage rules, without database or clock."""

import pytest

from outreach.prospects.models import Stage
from outreach.prospects.pipeline import MoveReason, StageMoveError, next_stage, parse_stage


@pytest.mark.parametrize("current", list(Stage))
@pytest.mark.parametrize("requested", list(Stage))
def test_people_may_move_between_any_two_stages(current: Stage, requested: Stage) -> None:
    expected = None if current == requested else requested
    assert next_stage(current, MoveReason.MANUAL, requested) == expected


def test_manual_move_needs_a_target() -> None:
    with pytest.raises(StageMoveError, match="Choose the stage"):
        next_stage(Stage.PROSPECT, MoveReason.MANUAL)


@pytest.mark.parametrize(
    ("reason", "current", "expected"),
    [
        (MoveReason.EMAIL_SENT, Stage.PROSPECT, Stage.CONTACTED),
        (MoveReason.EMAIL_SENT, Stage.CONTACTED, None),
        (MoveReason.EMAIL_SENT, Stage.REPLIED, None),
        (MoveReason.EMAIL_SENT, Stage.DECLINED, None),
        (MoveReason.REPLY_RECEIVED, Stage.PROSPECT, Stage.REPLIED),
        (MoveReason.REPLY_RECEIVED, Stage.CONTACTED, Stage.REPLIED),
        (MoveReason.REPLY_RECEIVED, Stage.LINKED, None),
        (MoveReason.REPLY_RECEIVED, Stage.DECLINED, None),
        (MoveReason.LINK_LIVE, Stage.PROSPECT, Stage.LINKED),
        (MoveReason.LINK_LIVE, Stage.REPLIED, Stage.LINKED),
        (MoveReason.LINK_LIVE, Stage.LOST, Stage.LINKED),
        (MoveReason.LINK_LIVE, Stage.LINKED, None),
        (MoveReason.LINK_LOST, Stage.LINKED, Stage.LOST),
        (MoveReason.LINK_LOST, Stage.REPLIED, None),
    ],
)
def test_the_system_only_moves_forward_from_where_its_event_applies(
    reason: MoveReason, current: Stage, expected: Stage | None
) -> None:
    assert next_stage(current, reason) == expected


def test_automatic_reason_cannot_be_sent_elsewhere() -> None:
    with pytest.raises(StageMoveError, match="moves prospects to contacted only"):
        next_stage(Stage.PROSPECT, MoveReason.EMAIL_SENT, Stage.LINKED)


def test_parse_stage() -> None:
    assert parse_stage(" Contacted ") is Stage.CONTACTED
    with pytest.raises(StageMoveError, match="use one of: prospect, contacted"):
        parse_stage("won")
