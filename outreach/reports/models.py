"""Rollups that the database keeps for the reports.

A report over 50k links and 100k prospects must not read them: triggers on placements, prospects
and time entries (migrations c858849638b7 and 21b4ad9d6681, see `reports.rollups`) add each row's
share to these tables whenever a row is written, by the app, a bulk statement or a cascade alike.
`reports.rollups.rebuild_rollups` recomputes them from the rows and is the reference the tests
hold the triggers to. Money is kept in cents, so sums are exact on SQLite too.
"""

from __future__ import annotations

from datetime import date

from sqlmodel import Field, SQLModel

# Owner 0 is "no owner": a key column cannot be NULL.
NO_OWNER = 0


class LinkTally(SQLModel, table=True):
    """Live links per campaign, owner, type, rel verdict, paid and DR band (its lowest DR)."""

    __tablename__ = "link_tallies"

    campaign_id: int = Field(foreign_key="campaigns.id", ondelete="CASCADE", primary_key=True)
    owner_id: int = Field(default=NO_OWNER, primary_key=True)
    link_type: str = Field(max_length=32, primary_key=True)
    verdict: str = Field(max_length=20, primary_key=True)
    paid: bool = Field(primary_key=True)
    band: int = Field(primary_key=True)
    links: int = 0
    overridden: int = 0
    override_cents: int = 0


class LinkWeekTally(SQLModel, table=True):
    """Links by the week (its Monday, UTC) they first went live: all of them (`ever_live`, for
    survival) and those live now, by rel verdict and DR band (for value over time)."""

    __tablename__ = "link_week_tallies"

    campaign_id: int = Field(foreign_key="campaigns.id", ondelete="CASCADE", primary_key=True)
    week: date = Field(primary_key=True)
    verdict: str = Field(max_length=20, primary_key=True)
    band: int = Field(primary_key=True)
    ever_live: int = 0
    links: int = 0
    overridden: int = 0
    override_cents: int = 0


class AnchorTally(SQLModel, table=True):
    """Live links per anchor text found."""

    __tablename__ = "anchor_tallies"

    campaign_id: int = Field(foreign_key="campaigns.id", ondelete="CASCADE", primary_key=True)
    anchor: str = Field(max_length=500, primary_key=True)
    links: int = 0


class ProspectTally(SQLModel, table=True):
    """Prospects per campaign, owner and stage."""

    __tablename__ = "prospect_tallies"

    campaign_id: int = Field(foreign_key="campaigns.id", ondelete="CASCADE", primary_key=True)
    owner_id: int = Field(default=NO_OWNER, primary_key=True)
    stage: str = Field(max_length=32, primary_key=True)
    prospects: int = 0


class SpendTally(SQLModel, table=True):
    """What a campaign spent per week (its Monday, UTC) and person: link prices (`price_cents`,
    by when the placement was agreed and its prospect's owner) and logged minutes (priced at read
    time, at the person's current rate)."""

    __tablename__ = "spend_tallies"

    campaign_id: int = Field(foreign_key="campaigns.id", ondelete="CASCADE", primary_key=True)
    week: date = Field(primary_key=True)
    person_id: int = Field(default=NO_OWNER, primary_key=True)
    price_cents: int = 0
    minutes: int = 0


class ValueBand(SQLModel, table=True):
    """The DR bands of a campaign with a value model of its own (one starts at DR 0); the
    triggers count links by band. Campaigns on the default model have none."""

    __tablename__ = "value_bands"

    campaign_id: int = Field(foreign_key="campaigns.id", ondelete="CASCADE", primary_key=True)
    min_dr: int = Field(primary_key=True)
