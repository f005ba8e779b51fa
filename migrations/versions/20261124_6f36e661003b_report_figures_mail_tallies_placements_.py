"""report figures: mail tallies, placements campaign and found verdict, first-reached stage times

Revision ID: 6f36e661003b
Revises: 712ca6c9a1a0
Create Date: 2026-11-24 06:37:55.278218
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "6f36e661003b"
down_revision: str | Sequence[str] | None = "712ca6c9a1a0"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def backfill_placements() -> None:
    op.execute(
        "UPDATE placements SET campaign_id ="
        " (SELECT campaign_id FROM prospects WHERE prospects.id = placements.prospect_id)"
    )
    for column, source in (("found_verdict", "verdict"), ("found_anchor", "anchor_text")):
        op.execute(
            f"UPDATE placements SET {column} = COALESCE((SELECT substr({source}, 1, 500)"  # noqa: S608  (constants)
            " FROM placement_checks WHERE placement_id = placements.id AND found"
            " ORDER BY checked_at DESC, id DESC LIMIT 1), '')"
        )


def backfill_mail_tallies() -> None:
    """Replies take the template of the email they answer; then the counts per day."""
    op.execute(
        "UPDATE messages SET template_id = (SELECT answered.template_id FROM messages answered"
        " WHERE answered.message_id = messages.in_reply_to)"
        " WHERE direction = 'inbound' AND template_id IS NULL AND in_reply_to <> ''"
    )
    if op.get_bind().dialect.name == "postgresql":
        sent_day = "CAST(timezone('UTC', m.sent_at) AS DATE)"
        received_day = "CAST(timezone('UTC', m.received_at) AS DATE)"
    else:
        sent_day, received_day = "date(m.sent_at)", "date(m.received_at)"
    op.execute(
        "INSERT INTO mail_tallies (campaign_id, day, template_id, sent, replies)"  # noqa: S608  (constants)
        " SELECT campaign_id, day, template_id, sum(sent), sum(replies) FROM ("
        f" SELECT p.campaign_id, {sent_day} AS day, COALESCE(m.template_id, 0) AS template_id,"
        " 1 AS sent, 0 AS replies FROM messages m JOIN prospects p ON p.id = m.prospect_id"
        " WHERE m.direction = 'outbound' AND m.status = 'sent' AND m.sent_at IS NOT NULL"
        " UNION ALL"
        f" SELECT p.campaign_id, {received_day}, COALESCE(m.template_id, 0), 0, 1"
        " FROM messages m JOIN prospects p ON p.id = m.prospect_id"
        " WHERE m.direction = 'inbound' AND m.inbound_kind = 'reply'"
        " AND m.received_at IS NOT NULL"
        ") AS mail GROUP BY campaign_id, day, template_id"
    )


def upgrade() -> None:
    op.create_table(
        "mail_tallies",
        sa.Column("campaign_id", sa.Integer(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("template_id", sa.Integer(), nullable=False),
        sa.Column("sent", sa.Integer(), nullable=False),
        sa.Column("replies", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["campaign_id"],
            ["campaigns.id"],
            name=op.f("fk_mail_tallies_campaign_id_campaigns"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("campaign_id", "day", "template_id", name=op.f("pk_mail_tallies")),
    )
    with op.batch_alter_table("placements", schema=None) as batch_op:
        batch_op.add_column(sa.Column("campaign_id", sa.Integer(), nullable=True))
        batch_op.add_column(
            sa.Column(
                "found_verdict",
                sa.String(length=20),
                server_default=sa.text("('')"),
                nullable=False,
            )
        )
        batch_op.add_column(
            sa.Column(
                "found_anchor",
                sa.String(length=500),
                server_default=sa.text("('')"),
                nullable=False,
            )
        )
    backfill_placements()
    with op.batch_alter_table("placements", schema=None) as batch_op:
        batch_op.alter_column("campaign_id", existing_type=sa.Integer(), nullable=False)
        batch_op.create_index(
            "ix_placements_campaign_first_live",
            ["campaign_id", "first_live_at", "lost_at"],
            unique=False,
        )
        batch_op.create_index(
            "ix_placements_campaign_live",
            [
                "campaign_id",
                "link_type",
                "found_verdict",
                "paid",
                "prospect_id",
                "value_override",
            ],
            unique=False,
            sqlite_where=sa.text("status IN ('live', 'unknown') AND first_live_at IS NOT NULL"),
            postgresql_where=sa.text("status IN ('live', 'unknown') AND first_live_at IS NOT NULL"),
        )
        batch_op.create_foreign_key(
            batch_op.f("fk_placements_campaign_id_campaigns"),
            "campaigns",
            ["campaign_id"],
            ["id"],
            ondelete="CASCADE",
        )

    with op.batch_alter_table("prospects", schema=None) as batch_op:
        batch_op.add_column(sa.Column("contacted_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("replied_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("linked_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.create_index(
            "ix_prospects_campaign_owner_stage", ["campaign_id", "owner_id", "stage"], unique=False
        )
    for stage, column in (
        ("contacted", "contacted_at"),
        ("replied", "replied_at"),
        ("linked", "linked_at"),
    ):
        op.execute(
            f"UPDATE prospects SET {column} = (SELECT min(changed_at) FROM stage_changes"  # noqa: S608  (constants)
            f" WHERE stage_changes.prospect_id = prospects.id AND to_stage = '{stage}')"
        )
    backfill_mail_tallies()


def downgrade() -> None:
    with op.batch_alter_table("prospects", schema=None) as batch_op:
        batch_op.drop_index("ix_prospects_campaign_owner_stage")
        batch_op.drop_column("linked_at")
        batch_op.drop_column("replied_at")
        batch_op.drop_column("contacted_at")

    with op.batch_alter_table("placements", schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f("fk_placements_campaign_id_campaigns"), type_="foreignkey"
        )
        batch_op.drop_index(
            "ix_placements_campaign_live",
            sqlite_where=sa.text("status IN ('live', 'unknown') AND first_live_at IS NOT NULL"),
            postgresql_where=sa.text("status IN ('live', 'unknown') AND first_live_at IS NOT NULL"),
        )
        batch_op.drop_index("ix_placements_campaign_first_live")
        batch_op.drop_column("found_anchor")
        batch_op.drop_column("found_verdict")
        batch_op.drop_column("campaign_id")

    op.drop_table("mail_tallies")
