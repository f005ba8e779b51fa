"""Writing parsed CSV rows into a campaign: batched inserts, one transaction per batch."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB
from sqlmodel import Session, select

from outreach.activity.services import record_activity
from outreach.db import utcnow
from outreach.prospects.importing import (
    ParsedRow,
    RowError,
    UnusableFileError,
    read_rows,
    sniff_layout,
)
from outreach.prospects.models import (
    Contact,
    Domain,
    EmailStatus,
    ImportRejection,
    ImportStatus,
    Prospect,
    ProspectImport,
    ProspectTag,
    Stage,
    StageChange,
    Tag,
)
from outreach.prospects.pipeline import MoveReason
from outreach.prospects.services import search_text

# Rows per transaction. Each commit of SQLite's write-ahead log writes back every index page the
# batch touched, and at 100k prospects a batch touches most of them: 2,500 rows cost a seventh
# less time than 1,000 for ~7 MB more memory, and still hold the write lock only ~0.2 s.
BATCH_SIZE = 2500
# An import adding this many prospects refreshes the planner's statistics at its end.
REFRESH_STATISTICS_AFTER = 5000

log = logging.getLogger(__name__)


@dataclass
class ImportSummary:
    """The outcome of an import; `errors` holds every rejected row, duplicates included."""

    imported: int = 0
    duplicates: int = 0
    errors: list[RowError] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        return {
            "imported": self.imported,
            "duplicates": self.duplicates,
            "errors": [{"row": error.row, "message": error.message} for error in self.errors],
        }


@dataclass
class _Batch:
    rows: list[ParsedRow] = field(default_factory=list)
    errors: list[RowError] = field(default_factory=list)


def import_rows(
    session: Session,
    campaign_id: int,
    owner_id: int | None,
    rows: Iterable[ParsedRow | RowError],
    *,
    import_id: int | None = None,
    after_batch: Callable[[ImportSummary], None] | None = None,
) -> ImportSummary:
    """Add every good row as a prospect; report every other row with its reason.

    With `import_id`, rejected rows are also stored for the download of rejected rows.
    """
    summary = ImportSummary()
    first_row_of: dict[str, int] = {}
    batch = _Batch()
    for item in rows:
        if isinstance(item, RowError):
            batch.errors.append(item)
        else:
            batch.rows.append(item)
        if len(batch.rows) + len(batch.errors) >= BATCH_SIZE:
            _flush(session, campaign_id, owner_id, batch, first_row_of, summary, import_id)
            batch = _Batch()
            if after_batch:
                after_batch(summary)
    _flush(session, campaign_id, owner_id, batch, first_row_of, summary, import_id)
    if summary.imported >= REFRESH_STATISTICS_AFTER:
        refresh_statistics(session)
    if after_batch:
        after_batch(summary)
    return summary


def refresh_statistics(session: Session) -> None:
    """Let the query planner see the new rows, so that lists stay fast right after an import.

    PostgreSQL's autovacuum gets there later (VACUUM also lets counts use index-only scans);
    SQLite never does on its own.
    """
    session.commit()
    engine = session.get_bind()
    if engine.dialect.name == "postgresql":
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            for table in ("prospects", "domains", "contacts", "prospect_tags", "stage_changes"):
                connection.execute(sa.text(f"VACUUM (ANALYZE) {table}"))
    else:
        with engine.begin() as connection:
            connection.execute(sa.text("ANALYZE"))


def _flush(
    session: Session,
    campaign_id: int,
    owner_id: int | None,
    batch: _Batch,
    first_row_of: dict[str, int],
    summary: ImportSummary,
    import_id: int | None,
) -> None:
    errors = list(batch.errors)
    duplicates = 0
    fresh: list[ParsedRow] = []
    for row in batch.rows:
        if row.domain in first_row_of:
            errors.append(
                RowError(
                    row.row,
                    f"duplicate: {row.domain} is already in row {first_row_of[row.domain]}",
                    row.raw,
                )
            )
            duplicates += 1
            continue
        first_row_of[row.domain] = row.row
        fresh.append(row)

    known = {
        name: (domain_id, dnc)
        for domain_id, name, dnc in session.exec(
            select(Domain.id, Domain.name, Domain.do_not_contact).where(
                Domain.name.in_([row.domain for row in fresh])
            )
        )
    }
    in_campaign = set(
        session.exec(
            select(Prospect.domain_id).where(
                Prospect.campaign_id == campaign_id,
                Prospect.domain_id.in_([domain_id for domain_id, _ in known.values()]),
            )
        )
    )
    accepted: list[ParsedRow] = []
    for row in fresh:
        domain_id, dnc = known.get(row.domain, (None, False))
        if dnc:
            errors.append(RowError(row.row, f"{row.domain} is marked do-not-contact", row.raw))
        elif domain_id in in_campaign:
            errors.append(
                RowError(row.row, f"duplicate: {row.domain} is already in this campaign", row.raw)
            )
            duplicates += 1
        else:
            accepted.append(row)

    now = utcnow()
    new_names = [row.domain for row in accepted if row.domain not in known]
    if new_names:
        inserted = _insert_from_json(
            session,
            Domain.__table__,
            ("name",),
            [(name,) for name in new_names],
            {"do_not_contact": False, "do_not_contact_reason": "", "notes": "", "created_at": now},
            returning=("id", "name"),
        )
        known.update({name: (domain_id, False) for domain_id, name in inserted})

    contact_ids = _contacts(session, accepted, known, set(new_names), now)
    if accepted:
        # Rows come back in any order; (campaign, domain) is unique, so map by domain.
        prospect_of_domain = {
            domain_id: prospect_id
            for prospect_id, domain_id in _insert_from_json(
                session,
                Prospect.__table__,
                PROSPECT_COLUMNS,
                [_prospect_values(row, known, contact_ids) for row in accepted],
                {
                    "campaign_id": campaign_id,
                    "stage": Stage.PROSPECT,
                    "stage_changed_at": now,
                    "owner_id": owner_id,
                    "asset_id": None,
                    "timezone": "",
                    "created_at": now,
                    "updated_at": now,
                },
                returning=("id", "domain_id"),
            )
        }
        prospect_ids = [prospect_of_domain[known[row.domain][0]] for row in accepted]
        _insert_from_json(
            session,
            StageChange.__table__,
            ("prospect_id",),
            [(prospect_id,) for prospect_id in prospect_ids],
            {
                "from_stage": None,
                "to_stage": Stage.PROSPECT,
                "changed_at": now,
                "changed_by_id": owner_id,
                "reason": MoveReason.IMPORT.value,
            },
        )
        _tags(session, zip(prospect_ids, accepted, strict=True))
    if import_id is not None and errors:
        _insert_from_json(
            session,
            ImportRejection.__table__,
            ("row", "message", "raw"),
            [(error.row, error.message, list(error.raw)) for error in errors],
            {"import_id": import_id},
        )
    session.commit()
    summary.imported += len(accepted)
    summary.duplicates += duplicates
    summary.errors.extend(sorted(errors, key=lambda error: error.row))


def _split_name(name: str) -> tuple[str, str]:
    first, _, last = name.strip().partition(" ")
    return first[:100], last.strip()[:100]


def _contacts(
    session: Session,
    rows: list[ParsedRow],
    known: dict[str, tuple[int, bool]],
    new_domains: set[str],
    now: Any,
) -> dict[int, int]:
    """Contact id for each row (by row number) that names someone; existing emails are reused.

    Only a domain that was there before this batch can have contacts to reuse."""
    people = [row for row in rows if row.email or row.contact_name or row.profile_url]
    if not people:
        return {}
    emails = {row.email for row in people if row.email and row.domain not in new_domains}
    existing = (
        {
            (domain_id, email): contact_id
            for contact_id, domain_id, email in session.exec(
                select(Contact.id, Contact.domain_id, Contact.email).where(
                    Contact.email.in_(emails)
                )
            )
        }
        if emails
        else {}
    )
    ids: dict[int, int] = {}
    new_rows: list[ParsedRow] = []
    for row in people:
        key = (known[row.domain][0], row.email)
        if row.email and key in existing:
            ids[row.row] = existing[key]
        else:
            new_rows.append(row)
    if new_rows:
        # A batch holds each domain once, so the new contact of a domain is unambiguous.
        contact_of_domain = {
            domain_id: contact_id
            for contact_id, domain_id in _insert_from_json(
                session,
                Contact.__table__,
                ("domain_id", "first_name", "last_name", "role", "email", "profile_url"),
                [
                    (
                        known[row.domain][0],
                        *_split_name(row.contact_name),
                        row.contact_role[:200],
                        row.email,
                        row.profile_url,
                    )
                    for row in new_rows
                ],
                {"email_status": EmailStatus.UNKNOWN, "timezone": "", "created_at": now},
                returning=("id", "domain_id"),
            )
        }
        for row in new_rows:
            ids[row.row] = contact_of_domain[known[row.domain][0]]
    return ids


# What differs from one imported prospect to the next, in `_prospect_values` order.
PROSPECT_COLUMNS = (
    "domain_id",
    "page_url",
    "primary_contact_id",
    "domain_rating",
    "traffic",
    "relevance",
    "notes",
    "custom_fields",
    "search_text",
)


def _prospect_values(
    row: ParsedRow, known: dict[str, tuple[int, bool]], contact_ids: dict[int, int]
) -> tuple[Any, ...]:
    contact_id = contact_ids.get(row.row)
    people = [f"{row.contact_name} {row.email or ''}"] if contact_id is not None else []
    return (
        known[row.domain][0],
        row.page_url,
        contact_id,
        row.domain_rating,
        row.traffic,
        row.relevance,
        row.notes,
        row.custom_fields,
        search_text(row.domain, people, row.notes),
    )


def _tags(session: Session, pairs: Iterable[tuple[int, ParsedRow]]) -> None:
    wanted = [(prospect_id, tag) for prospect_id, row in pairs for tag in row.tags]
    if not wanted:
        return
    names = {tag for _, tag in wanted}
    ids = dict(session.exec(select(Tag.name, Tag.id).where(Tag.name.in_(names))).all())
    missing = sorted(names - set(ids))
    if missing:
        for tag_id, name in session.execute(
            sa.insert(Tag.__table__).returning(Tag.id, Tag.name),
            [{"name": name} for name in missing],
        ):
            ids[name] = tag_id
    _insert_from_json(
        session,
        ProspectTag.__table__,
        ("prospect_id", "tag_id"),
        [(prospect_id, ids[tag]) for prospect_id, tag in dict.fromkeys(wanted)],
    )


def _insert_from_json(
    session: Session,
    table: sa.Table,
    columns: Sequence[str],
    rows: Sequence[Sequence[Any]],
    same_for_all: dict[str, Any] | None = None,
    returning: Sequence[str] = (),
) -> list[sa.Row[Any]]:
    """Insert many rows sent as one JSON document that the database takes apart, in order.

    A multi-row VALUES has a parameter per value and executemany a statement per row: either
    way SQLAlchemy and the driver handle every value in Python (and psycopg parses the whole
    statement text again), which cost more than the database's own work. `rows` hold
    JSON-native values (numbers, text, None, dicts for JSON columns) in `columns` order;
    `same_for_all` values are bound once each, with their column's type.
    """
    dialect = session.get_bind().dialect
    postgresql = dialect.name == "postgresql"
    if not postgresql:
        # SQLite keeps a JSON value as the text its column type writes; json_extract passes
        # that text on as it is.
        for index, name in enumerate(columns):
            write = table.c[name].type.dialect_impl(dialect).bind_processor(dialect)
            if isinstance(table.c[name].type, sa.JSON) and write is not None:
                rows = [(*row[:index], write(row[index]), *row[index + 1 :]) for row in rows]
    document = sa.bindparam(
        "rows", json.dumps(rows, ensure_ascii=False, separators=(",", ":")), type_=sa.Text
    )
    if postgresql:
        elements = (
            # jsonb: parsed once, then each value is a lookup (json would rescan per value).
            sa.func.jsonb_array_elements(sa.cast(document, JSONB))
            .table_valued("value", with_ordinality="position")
            .render_derived()
        )
        values = [
            _postgresql_element(elements.c.value, index, table.c[name].type)
            for index, name in enumerate(columns)
        ]
        order = elements.c.position
    else:
        elements = sa.func.json_each(document).table_valued("value", "key")
        values = [
            sa.func.json_extract(elements.c.value, sa.literal_column(f"'$[{index}]'"))
            for index in range(len(columns))
        ]
        order = elements.c.key
    constants = [
        _constant(value, table.c[name].type, postgresql)
        for name, value in (same_for_all or {}).items()
    ]
    statement = sa.insert(table).from_select(
        [*columns, *(same_for_all or {})],
        sa.select(*values, *constants).select_from(elements).order_by(order),
    )
    if returning:
        return session.execute(statement.returning(*(table.c[name] for name in returning))).all()
    session.execute(statement)
    return []


def _postgresql_element(row: Any, index: int, column_type: sa.types.TypeEngine[Any]) -> Any:
    """Value `index` of a JSON array `row` as the column takes it. Text goes in as TEXT, so
    that a value too long for its column is refused as it would be from a parameter, not cut
    short by a cast."""
    if isinstance(column_type, sa.JSON):
        return sa.cast(row.op("->")(sa.literal_column(str(index))), column_type)
    return sa.cast(row.op("->>")(sa.literal_column(str(index))), _unbounded(column_type))


def _constant(value: Any, column_type: sa.types.TypeEngine[Any], postgresql: bool) -> Any:
    """A value bound once for every row. PostgreSQL needs its type spelled out: a bare NULL in
    a select list is text."""
    bound = sa.bindparam(None, value, type_=column_type)
    return sa.cast(bound, _unbounded(column_type)) if postgresql else bound


def _unbounded(column_type: sa.types.TypeEngine[Any]) -> sa.types.TypeEngine[Any]:
    """TEXT for a column of text of some length, else the column's own type."""
    stored = column_type.impl_instance if isinstance(column_type, sa.TypeDecorator) else column_type
    return sa.Text() if isinstance(stored, sa.String) else column_type


def run_import_job(engine: sa.Engine, import_id: int) -> None:
    """Run an uploaded import to the end, keeping its progress and outcome on the record."""
    with Session(engine, expire_on_commit=False) as session:
        job = session.get(ProspectImport, import_id)
        job.status = ImportStatus.RUNNING
        session.commit()
        path = Path(job.stored_path)
        try:
            with path.open("rb") as stream:
                layout = sniff_layout(stream)
                rows = read_rows(stream, layout, job.mapping)

                def progress(summary: ImportSummary) -> None:
                    job.processed_bytes = min(stream.tell(), job.total_bytes)
                    job.imported = summary.imported
                    job.duplicates = summary.duplicates
                    job.rejected = len(summary.errors)
                    session.commit()

                import_rows(
                    session,
                    job.campaign_id,
                    job.user_id,
                    rows,
                    import_id=job.id,
                    after_batch=progress,
                )
            job.status = ImportStatus.DONE
            job.processed_bytes = job.total_bytes
            record_activity(
                session,
                "prospects.imported",
                f"Imported {job.imported} prospects from {job.filename}",
                campaign_id=job.campaign_id,
                data={"import_id": job.id, "rejected": job.rejected},
            )
        except UnusableFileError as exc:
            session.rollback()
            job.status, job.error = ImportStatus.FAILED, str(exc)
        except Exception as exc:
            session.rollback()
            log.exception("import %s failed", import_id)
            job.status, job.error = ImportStatus.FAILED, f"The import stopped: {exc}"
        job.finished_at = utcnow()
        session.commit()
        path.unlink(missing_ok=True)


ABANDONED_AFTER = timedelta(days=1)


def discard_abandoned_imports(session: Session, now: datetime) -> int:
    """Delete uploads whose mapping nobody confirmed within a day, record and file. One
    conditional delete: two schedulers at once, or a user confirming the mapping just now,
    leave each upload either deleted once or imported, never both."""
    paths = list(
        session.execute(
            sa.delete(ProspectImport)
            .where(
                ProspectImport.status == ImportStatus.MAPPING,
                ProspectImport.created_at < now - ABANDONED_AFTER,
            )
            .returning(ProspectImport.stored_path)
            .execution_options(synchronize_session=False)
        ).scalars()
    )
    session.commit()
    for path in paths:
        Path(path).unlink(missing_ok=True)
    return len(paths)
