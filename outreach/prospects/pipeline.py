"""The pipeline's rules, in one place: which stage moves are allowed and what the system does.

People may move a prospect between any two stages (mistakes happen, deals come back). The system
only moves forward, and only from the stages where its event means something: a sent email makes
a fresh prospect *contacted*, a reply makes it *replied*, a live link makes it *linked*, a lost
link makes a linked prospect *lost*. Everything else is left as the user set it.
"""

from __future__ import annotations

import enum

from outreach.prospects.models import Stage

BOARD_COLUMNS: tuple[Stage, ...] = (
    Stage.PROSPECT,
    Stage.CONTACTED,
    Stage.REPLIED,
    Stage.LINKED,
    Stage.DECLINED,
    Stage.LOST,
)

STAGE_LABELS = {
    Stage.PROSPECT: "Prospect",
    Stage.CONTACTED: "Contacted",
    Stage.REPLIED: "Replied",
    Stage.LINKED: "Linked",
    Stage.DECLINED: "Declined",
    Stage.LOST: "Lost",
}


class MoveReason(enum.StrEnum):
    MANUAL = "manual"
    IMPORT = "import"
    EMAIL_SENT = "email_sent"
    REPLY_RECEIVED = "reply"
    LINK_LIVE = "link_live"
    LINK_LOST = "link_lost"


# For each automatic event: the stages it moves a prospect out of, and where to.
AUTOMATIC_MOVES: dict[MoveReason, tuple[frozenset[Stage], Stage]] = {
    MoveReason.EMAIL_SENT: (frozenset({Stage.PROSPECT}), Stage.CONTACTED),
    MoveReason.REPLY_RECEIVED: (frozenset({Stage.PROSPECT, Stage.CONTACTED}), Stage.REPLIED),
    MoveReason.LINK_LIVE: (frozenset(set(Stage) - {Stage.LINKED}), Stage.LINKED),
    MoveReason.LINK_LOST: (frozenset({Stage.LINKED}), Stage.LOST),
}


class StageMoveError(ValueError):
    """A move that cannot be made; the message is for the user."""


def next_stage(current: Stage, reason: MoveReason, requested: Stage | None = None) -> Stage | None:
    """Where a prospect in `current` goes for this reason; None when it stays where it is.

    Manual moves need `requested`; automatic reasons decide the target themselves.
    """
    if reason in (MoveReason.MANUAL, MoveReason.IMPORT):
        if requested is None:
            raise StageMoveError("Choose the stage to move to.")
        return None if requested == current else requested
    sources, target = AUTOMATIC_MOVES[reason]
    if requested is not None and requested != target:
        raise StageMoveError(f"A {reason.value} event moves prospects to {target.value} only.")
    return target if current in sources else None


def parse_stage(value: str) -> Stage:
    """A stage from user input, with the list of valid names in the error."""
    try:
        return Stage(value.strip().lower())
    except ValueError:
        names = ", ".join(stage.value for stage in Stage)
        raise StageMoveError(f"{value!r} is not a stage; use one of: {names}.") from None
