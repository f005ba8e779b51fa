"""The CSV import in the browser: upload, check the column mapping, watch it run, see the result."""

from __future__ import annotations

import csv
import io
import secrets
import threading
from collections import Counter
from dataclasses import dataclass
from itertools import islice
from pathlib import Path

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_login import current_user
from sqlmodel import select
from werkzeug.datastructures import MultiDict

from outreach.campaigns.models import Campaign
from outreach.campaigns.views import campaign_or_404
from outreach.db import db_session, get_engine
from outreach.prospects.importing import (
    CUSTOM_PREFIX,
    FIELDS,
    MAX_CUSTOM_NAME_LENGTH,
    UnusableFileError,
    custom_field_name,
    read_rows,
    sniff_layout,
    suggest_mapping,
)
from outreach.prospects.imports import run_import_job
from outreach.prospects.models import ImportRejection, ImportStatus, ProspectImport

bp = Blueprint("imports", __name__)

FIELD_LABELS = {
    "domain": "Domain",
    "page_url": "Page URL",
    "domain_rating": "Domain rating (DR/DA)",
    "traffic": "Traffic",
    "relevance": "Relevance (1–5)",
    "contact_name": "Contact name",
    "contact_role": "Contact role",
    "email": "Email",
    "profile_url": "Profile URL",
    "tags": "Tags",
    "notes": "Notes",
}
PREVIEW_ROWS = 5
SHOWN_REJECTIONS = 200
# The browser waits this long for a small import to finish before showing a progress bar.
INLINE_WAIT_SECONDS = 1.0


def _uploads_dir() -> Path:
    folder = current_app.extensions["outreach"].settings.resolved_instance_path / "imports"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _job(import_id: int) -> ProspectImport:
    job = db_session().get(ProspectImport, import_id)
    if job is None:
        abort(404, f"There is no import {import_id}.")
    return job


@bp.route("/campaigns/<int:campaign_id>/import", methods=["GET", "POST"])
def new(campaign_id: int) -> str | tuple[str, int] | Response:
    campaign = campaign_or_404(campaign_id)
    if request.method == "GET":
        return render_template("prospects/import_upload.html", campaign=campaign, error="")
    upload = request.files.get("file")
    if upload is None or not upload.filename:
        return render_template(
            "prospects/import_upload.html", campaign=campaign, error="Choose a CSV file to import."
        ), 422
    path = _uploads_dir() / f"{secrets.token_hex(12)}.csv"
    upload.save(path)
    try:
        with path.open("rb") as stream:
            layout = sniff_layout(stream)
    except UnusableFileError as exc:
        path.unlink(missing_ok=True)
        return render_template(
            "prospects/import_upload.html", campaign=campaign, error=f"{upload.filename}: {exc}"
        ), 422
    job = ProspectImport(
        campaign_id=campaign.id,
        user_id=current_user.id,
        filename=Path(upload.filename).name[:255],
        stored_path=str(path),
        source=layout.source,
        columns=list(layout.columns),
        mapping=suggest_mapping(layout),
        total_bytes=path.stat().st_size,
    )
    session = db_session()
    session.add(job)
    session.commit()
    return redirect(url_for("imports.mapping", import_id=job.id))


@dataclass(frozen=True)
class CustomChoice:
    """A column the mapping page offers to keep as a custom field, as the form shows it."""

    index: int  # in the file's columns: names the form inputs, whatever the header holds
    column: str
    keep: bool
    name: str
    offered: bool  # not chosen for a known field, or kept already


@bp.route("/imports/<int:import_id>/mapping", methods=["GET", "POST"])
def mapping(import_id: int) -> str | tuple[str, int] | Response:
    """Show the suggested mapping with a preview; keep the user's choices; start the import."""
    job = _job(import_id)
    if job.status is not ImportStatus.MAPPING:
        return redirect(url_for("imports.show", import_id=job.id))
    path = Path(job.stored_path)
    with path.open("rb") as stream:
        layout = sniff_layout(stream)
    if request.method == "GET":
        choices = _choices_from_mapping(layout.columns, job.mapping)
    else:
        known = {
            name: request.form[name]
            for name in FIELDS
            if request.form.get(name) and request.form[name] in layout.columns
        }
        choices = _choices_from_form(layout.columns, known, request.form)
        custom, error = _custom_mapping(choices)
        if error:
            return _render_mapping(job, layout.columns, known, choices, [], error), 422
        job.mapping = known | custom
        db_session().commit()
    try:
        with path.open("rb") as stream:
            preview = list(islice(read_rows(stream, layout, job.mapping), PREVIEW_ROWS))
    except UnusableFileError as exc:
        status = 422 if request.method == "POST" else 200
        return _render_mapping(job, layout.columns, job.mapping, choices, [], str(exc)), status
    if request.method == "POST" and request.form.get("action") == "import":
        return _start(job)
    return _render_mapping(job, layout.columns, job.mapping, choices, preview, "")


def _default_names(columns: tuple[str, ...]) -> dict[int, tuple[str, str]]:
    """Index -> (column, suggested custom field name) for each column a mapping can name.

    Only a header's first column can be chosen (the mapping names columns), and headers that
    slug alike ("Topic", "topic") get _2, _3 so that keeping both needs no renaming.
    """
    first: dict[str, int] = {}
    for index, column in enumerate(columns):
        if column:
            first.setdefault(column, index)
    taken: Counter[str] = Counter()
    names: dict[int, tuple[str, str]] = {}
    for column, index in first.items():
        name = custom_field_name(column)
        taken[name] += 1
        if name and taken[name] > 1:
            suffix = f"_{taken[name]}"
            name = name[: MAX_CUSTOM_NAME_LENGTH - len(suffix)] + suffix
        names[index] = (column, name)
    return names


def _choices_from_mapping(columns: tuple[str, ...], mapping: dict[str, str]) -> list[CustomChoice]:
    kept = {
        column: key.removeprefix(CUSTOM_PREFIX)
        for key, column in mapping.items()
        if key.startswith(CUSTOM_PREFIX)
    }
    known = {column for key, column in mapping.items() if not key.startswith(CUSTOM_PREFIX)}
    return [
        CustomChoice(
            index=index,
            column=column,
            keep=column in kept,
            name=kept.get(column, default),
            offered=column in kept or column not in known,
        )
        for index, (column, default) in _default_names(columns).items()
    ]


def _choices_from_form(
    columns: tuple[str, ...], known: dict[str, str], form: MultiDict[str, str]
) -> list[CustomChoice]:
    """The choices as submitted, so a page shown again with an error keeps what was typed."""
    kept = set(form.getlist("custom"))
    choices = []
    for index, (column, default) in _default_names(columns).items():
        keep = str(index) in kept
        choices.append(
            CustomChoice(
                index=index,
                column=column,
                keep=keep,
                name=form.get(f"custom-name-{index}", default).strip(),
                offered=keep or column not in known.values(),
            )
        )
    return choices


def _custom_mapping(choices: list[CustomChoice]) -> tuple[dict[str, str], str]:
    """The mapping entries of the kept columns, or why they cannot be stored as they are.

    Name syntax is left to the parser, which says what is wrong with a name.
    """
    kept = [choice for choice in choices if choice.keep]
    unnamed = next((choice.column for choice in kept if not choice.name), None)
    if unnamed is not None:
        return {}, f"Give the custom field for column {unnamed!r} a name."
    clash = next((name for name, count in Counter(c.name for c in kept).items() if count > 1), None)
    if clash is not None:
        listed = ", ".join(repr(choice.column) for choice in kept if choice.name == clash)
        return {}, (
            f"Columns {listed} have the same custom field name {clash!r}: give each its own."
        )
    return {CUSTOM_PREFIX + choice.name: choice.column for choice in kept}, ""


def _render_mapping(
    job: ProspectImport,
    columns: tuple[str, ...],
    chosen: dict[str, str],
    choices: list[CustomChoice],
    preview: list[object],
    error: str,
) -> str:
    return render_template(
        "prospects/import_mapping.html",
        job=job,
        campaign=db_session().get(Campaign, job.campaign_id),
        columns=columns,
        chosen=chosen,
        fields=FIELDS,
        labels=FIELD_LABELS,
        custom_choices=[choice for choice in choices if choice.offered],
        custom_prefix=CUSTOM_PREFIX,
        max_custom_name=MAX_CUSTOM_NAME_LENGTH,
        preview=preview,
        error=error,
    )


def _start(job: ProspectImport) -> Response:
    session = db_session()
    job.status = ImportStatus.RUNNING
    session.commit()
    worker = threading.Thread(
        target=run_import_job, args=(get_engine(), job.id), name=f"import-{job.id}", daemon=True
    )
    worker.start()
    worker.join(INLINE_WAIT_SECONDS)
    return redirect(url_for("imports.show", import_id=job.id))


@bp.get("/imports/<int:import_id>")
def show(import_id: int) -> str:
    job = _job(import_id)
    return render_template("prospects/import_status.html", job=job, **_result(job))


@bp.get("/imports/<int:import_id>/progress")
def progress(import_id: int) -> str:
    """The progress fragment the status page polls while the import runs."""
    job = _job(import_id)
    return render_template("prospects/_import_progress.html", job=job, **_result(job))


def _result(job: ProspectImport) -> dict[str, object]:
    rejections: list[ImportRejection] = []
    if job.status in (ImportStatus.DONE, ImportStatus.FAILED):
        rejections = list(
            db_session().exec(
                select(ImportRejection)
                .where(ImportRejection.import_id == job.id)
                .order_by(ImportRejection.row)
                .limit(SHOWN_REJECTIONS)
            )
        )
    percent = int(100 * job.processed_bytes / job.total_bytes) if job.total_bytes else 0
    return {
        "campaign": db_session().get(Campaign, job.campaign_id),
        "rejections": rejections,
        "percent": percent,
        "shown": SHOWN_REJECTIONS,
    }


@bp.get("/imports/<int:import_id>/rejected.csv")
def rejected(import_id: int) -> Response:
    """The refused rows as they were, plus why, to fix and import again."""
    job = _job(import_id)
    rows = db_session().exec(
        select(ImportRejection)
        .where(ImportRejection.import_id == job.id)
        .order_by(ImportRejection.row)
    )
    # With a byte order mark, Excel reads the accents right whatever the locale.
    buffer = io.StringIO("\ufeff")
    buffer.seek(0, io.SEEK_END)
    writer = csv.writer(buffer)
    writer.writerow(["row", "error", *job.columns])
    for rejection in rows:
        writer.writerow([rejection.row, rejection.message, *rejection.raw])
    stem = Path(job.filename).stem
    return Response(
        buffer.getvalue(),
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{stem}-rejected.csv"'},
    )
