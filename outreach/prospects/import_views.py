"""The CSV import in the browser: upload, check the column mapping, watch it run, see the result."""

from __future__ import annotations

import csv
import io
import secrets
import threading
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

from outreach.campaigns.models import Campaign
from outreach.campaigns.views import campaign_or_404
from outreach.db import db_session, get_engine
from outreach.prospects.importing import (
    FIELDS,
    UnusableFileError,
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


@bp.route("/imports/<int:import_id>/mapping", methods=["GET", "POST"])
def mapping(import_id: int) -> str | tuple[str, int] | Response:
    """Show the suggested mapping with a preview; keep the user's choices; start the import."""
    job = _job(import_id)
    if job.status is not ImportStatus.MAPPING:
        return redirect(url_for("imports.show", import_id=job.id))
    path = Path(job.stored_path)
    with path.open("rb") as stream:
        layout = sniff_layout(stream)
    if request.method == "POST":
        job.mapping = {
            name: request.form[name]
            for name in FIELDS
            if request.form.get(name) and request.form[name] in layout.columns
        }
        db_session().commit()
    try:
        with path.open("rb") as stream:
            preview = list(islice(read_rows(stream, layout, job.mapping), PREVIEW_ROWS))
    except UnusableFileError as exc:
        status = 422 if request.method == "POST" else 200
        return _render_mapping(job, layout.columns, [], str(exc)), status
    if request.method == "POST" and request.form.get("action") == "import":
        return _start(job)
    return _render_mapping(job, layout.columns, preview, "")


def _render_mapping(
    job: ProspectImport, columns: tuple[str, ...], preview: list[object], error: str
) -> str:
    return render_template(
        "prospects/import_mapping.html",
        job=job,
        campaign=db_session().get(Campaign, job.campaign_id),
        columns=columns,
        chosen=job.mapping,
        fields=FIELDS,
        labels=FIELD_LABELS,
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
