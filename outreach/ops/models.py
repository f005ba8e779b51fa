"""What each scheduler pass did, kept for two weeks for the admin page."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from outreach.db import JSONType, UTCDateTime


class JobRun(SQLModel, table=True):
    """One pass of a scheduler job. Written when it starts and again when it ends, so a pass
    whose process died shows as started and never finished."""

    __tablename__ = "job_runs"

    id: int | None = Field(default=None, primary_key=True)
    job: str = Field(max_length=64)
    # host:pid of the scheduler process that ran it.
    worker: str = Field(max_length=255)
    started_at: datetime = Field(sa_type=UTCDateTime, index=True)
    finished_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    duration_ms: int | None = None
    # What the pass returned, flattened to name -> number (e.g. "sent", "received_reply").
    counts: dict[str, int] = Field(default_factory=dict, sa_type=JSONType)
    error: str = Field(default="", sa_type=sa.Text)
