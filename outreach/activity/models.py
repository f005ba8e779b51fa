"""The activity log behind every timeline: who did what to which campaign or prospect."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from outreach.db import JSONType, created_at_field


class Activity(SQLModel, table=True):
    __tablename__ = "activities"
    __table_args__ = (
        sa.Index("ix_activities_prospect_at", "prospect_id", "at"),
        sa.Index("ix_activities_campaign_at", "campaign_id", "at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    at: datetime = created_at_field()
    # NULL for what the system did on its own (scheduler, checks).
    actor_id: int | None = Field(default=None, foreign_key="users.id", ondelete="SET NULL")
    # Dotted event name, e.g. "campaign.created", "prospect.note", "placement.lost".
    kind: str = Field(max_length=60)
    campaign_id: int | None = Field(default=None, foreign_key="campaigns.id", ondelete="CASCADE")
    prospect_id: int | None = Field(default=None, foreign_key="prospects.id", ondelete="CASCADE")
    summary: str = Field(default="", max_length=500)
    data: dict[str, Any] = Field(default_factory=dict, sa_type=JSONType)
