"""Writing parsed CSV rows into a campaign: batched inserts, one transaction per batch."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import sqlalchemy as sa
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

BATCH_SIZE = 1000
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
        inserted = session.execute(
            sa.insert(Domain.__table__).returning(Domain.id, Domain.name),
            [
                {
                    "name": name,
                    "do_not_contact": False,
                    "do_not_contact_reason": "",
                    "notes": "",
                    "created_at": now,
                }
                for name in new_names
            ],
        )
        known.update({name: (domain_id, False) for domain_id, name in inserted})

    contact_ids = _contacts(session, accepted, known, now)
    if accepted:
        # Rows come back in any order; (campaign, domain) is unique, so map by domain.
        prospect_of_domain = {
            domain_id: prospect_id
            for prospect_id, domain_id in session.execute(
                sa.insert(Prospect.__table__).returning(Prospect.id, Prospect.domain_id),
                [
                    _prospect_values(row, campaign_id, owner_id, known, contact_ids, now)
                    for row in accepted
                ],
            )
        }
        prospect_ids = [prospect_of_domain[known[row.domain][0]] for row in accepted]
        session.execute(
            sa.insert(StageChange.__table__),
            [
                {
                    "prospect_id": prospect_id,
                    "from_stage": None,
                    "to_stage": Stage.PROSPECT,
                    "changed_at": now,
                    "changed_by_id": owner_id,
                    "reason": MoveReason.IMPORT.value,
                }
                for prospect_id in prospect_ids
            ],
        )
        _tags(session, zip(prospect_ids, accepted, strict=True))
    if import_id is not None and errors:
        session.execute(
            sa.insert(ImportRejection.__table__),
            [
                {"import_id": import_id, "row": e.row, "message": e.message, "raw": list(e.raw)}
                for e in errors
            ],
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
    now: Any,
) -> dict[int, int]:
    """Contact id for each row (by row number) that names someone; existing emails are reused."""
    people = [row for row in rows if row.email or row.contact_name or row.profile_url]
    if not people:
        return {}
    emails = {row.email for row in people if row.email}
    existing = {
        (domain_id, email): contact_id
        for contact_id, domain_id, email in session.exec(
            select(Contact.id, Contact.domain_id, Contact.email).where(Contact.email.in_(emails))
        )
    }
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
            for contact_id, domain_id in session.execute(
                sa.insert(Contact.__table__).returning(Contact.id, Contact.domain_id),
                [
                    {
                        "domain_id": known[row.domain][0],
                        "first_name": _split_name(row.contact_name)[0],
                        "last_name": _split_name(row.contact_name)[1],
                        "role": row.contact_role[:200],
                        "email": row.email,
                        "email_status": EmailStatus.UNKNOWN,
                        "profile_url": row.profile_url,
                        "timezone": "",
                        "created_at": now,
                    }
                    for row in new_rows
                ],
            )
        }
        for row in new_rows:
            ids[row.row] = contact_of_domain[known[row.domain][0]]
    return ids


def _prospect_values(
    row: ParsedRow,
    campaign_id: int,
    owner_id: int | None,
    known: dict[str, tuple[int, bool]],
    contact_ids: dict[int, int],
    now: Any,
) -> dict[str, Any]:
    people = [f"{row.contact_name} {row.email or ''}"] if row.row in contact_ids else []
    return {
        "campaign_id": campaign_id,
        "domain_id": known[row.domain][0],
        "page_url": row.page_url,
        "stage": Stage.PROSPECT,
        "stage_changed_at": now,
        "owner_id": owner_id,
        "asset_id": None,
        "primary_contact_id": contact_ids.get(row.row),
        "domain_rating": row.domain_rating,
        "traffic": row.traffic,
        "relevance": row.relevance,
        "timezone": "",
        "notes": row.notes,
        "custom_fields": row.custom_fields,
        "search_text": search_text(row.domain, people, row.notes),
        "created_at": now,
        "updated_at": now,
    }


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
    session.execute(
        sa.insert(ProspectTag.__table__),
        [{"prospect_id": prospect_id, "tag_id": ids[tag]} for prospect_id, tag in set(wanted)],
    )


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
