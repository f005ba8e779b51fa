"""Importing CSV files into a campaign: the CLI contract, the browser flow, batches."""

import csv
import io
import json
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlmodel import func, select

from outreach.auth.models import Role
from outreach.prospects.importing import read_rows, sniff_layout, suggest_mapping
from outreach.prospects.imports import BATCH_SIZE, import_rows
from outreach.prospects.models import (
    Contact,
    Domain,
    ImportRejection,
    ImportStatus,
    Prospect,
    ProspectImport,
    ProspectTag,
    Stage,
    StageChange,
    Tag,
)
from tests.conftest import csrf_token

FIXTURES = Path(__file__).resolve().parents[2] / "shared" / "fixtures" / "imports"
needs_fixtures = pytest.mark.skipif(not FIXTURES.is_dir(), reason=f"{FIXTURES} is missing")


def run_cli(app, campaign_id, path, *options):
    return app.test_cli_runner().invoke(
        args=["prospects", "import", str(campaign_id), str(path), *options]
    )


def prospect_of(session, domain):
    return session.exec(select(Prospect).join(Domain).where(Domain.name == domain)).one()


@needs_fixtures
def test_cli_imports_the_handmade_sheet(app, session, campaign):
    result = run_cli(app, campaign.id, FIXTURES / "handmade-prospects-latin1.csv")
    assert result.exit_code == 0, result.output
    summary = json.loads(result.output)
    assert set(summary) == {"imported", "duplicates", "errors"}
    assert summary["imported"] == 4
    assert summary["duplicates"] == 1
    messages = {error["row"]: error["message"] for error in summary["errors"]}
    assert set(messages) == {5, 7}
    assert "already in row 2" in messages[5]
    assert "not a website" in messages[7]
    anna = session.exec(
        select(Contact).where(Contact.email == "anna@gardenista-blog.example")
    ).one()
    assert anna.first_name == "Anna"
    assert anna.last_name == "Grün"
    assert session.exec(select(Contact).where(Contact.email == "tom@urbanplanter.example")).one()


@needs_fixtures
@pytest.mark.parametrize(
    ("name", "imported"),
    [
        ("ahrefs-backlinks.csv", 8),
        ("ahrefs-referring-domains.csv", 12),
        ("semrush-backlinks.csv", 8),
        ("majestic-backlinks.csv", 6),
        ("gsc-top-linking-sites.csv", 12),
    ],
)
def test_cli_imports_each_tool_export(app, campaign, name, imported):
    result = run_cli(app, campaign.id, FIXTURES / name)
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["imported"] == imported


def test_cli_exits_2_for_an_unusable_file(app, campaign, tmp_path):
    empty = tmp_path / "empty.csv"
    empty.write_bytes(b"")
    result = run_cli(app, campaign.id, empty)
    assert result.exit_code == 2
    missing = run_cli(app, campaign.id, tmp_path / "nope.csv")
    assert missing.exit_code == 2
    unknown = run_cli(app, 999, empty)
    assert unknown.exit_code == 2
    assert "there is no campaign 999" in unknown.output


def test_existing_campaign_prospects_and_do_not_contact(app, session, campaign, tmp_path):
    session.add(Domain(name="stop.example", do_not_contact=True))
    session.commit()
    first = tmp_path / "first.csv"
    first.write_text("domain,email,tags\nkeep.example,ed@keep.example,Gardening|DIY\n")
    assert json.loads(run_cli(app, campaign.id, first).output)["imported"] == 1
    second = tmp_path / "second.csv"
    second.write_text(
        "domain,email\nkeep.example,ed@keep.example\nstop.example,\nnew.example,ed@keep.example\n"
    )
    summary = json.loads(run_cli(app, campaign.id, second).output)
    assert summary["imported"] == 1
    assert summary["duplicates"] == 1
    assert [e["message"] for e in summary["errors"]] == [
        "duplicate: keep.example is already in this campaign",
        "stop.example is marked do-not-contact",
    ]
    assert session.exec(select(func.count()).select_from(ProspectTag)).one() == 2
    # The same address at another domain is another person record.
    assert session.exec(select(func.count()).select_from(Contact)).one() == 2


def test_duplicates_across_batches_are_caught(session, campaign):
    lines = ["domain"] + [f"site{n}.example" for n in range(BATCH_SIZE + 5)] + ["site3.example"]
    stream = io.BytesIO("\n".join(lines).encode())
    layout = sniff_layout(stream)
    batches = []
    summary = import_rows(
        session,
        campaign.id,
        None,
        read_rows(stream, layout, suggest_mapping(layout)),
        after_batch=lambda s: batches.append(s.imported),
    )
    assert summary.imported == BATCH_SIZE + 5
    assert summary.duplicates == 1
    assert summary.errors[0].row == BATCH_SIZE + 7
    assert batches[0] == BATCH_SIZE
    assert session.exec(select(func.count()).select_from(Prospect)).one() == BATCH_SIZE + 5


def test_text_of_every_kind_is_stored_as_written(session, campaign):
    """Rows go to the database as one JSON document: quotes, backslashes, line breaks, emoji and
    accented text must come back exactly, numbers as numbers, empty cells as NULL."""
    notes = 'Line one\nline "two" \\ back\tslash 😀 \u2028 end'
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows(
        [
            ["Website", "Contact", "Role", "Email", "DR", "Traffic", "Tags", "Notes", "Topic"],
            ["https://www.Bücher.de/x", "  Émile  Zola ", "Rédactrice", "Émile@Bücher.de", "54",
             "1 240", "SEO|Ünï", notes, "Balkon 🌱 \"plants\""],
            ["plain.example", "", "", "", "", "", "", "", ""],
        ]
    )  # fmt: skip
    stream = io.BytesIO(out.getvalue().encode())
    layout = sniff_layout(stream)
    mapping = suggest_mapping(layout) | {"custom.topic": "Topic"}
    owner_id = campaign.owner_id
    summary = import_rows(session, campaign.id, owner_id, read_rows(stream, layout, mapping))
    assert (summary.imported, summary.errors) == (2, [])

    books, plain = prospect_of(session, "bücher.de"), prospect_of(session, "plain.example")
    assert books.id < plain.id  # in file order
    assert (books.page_url, books.notes, books.custom_fields) == (
        "",
        notes,
        {"topic": 'Balkon 🌱 "plants"'},
    )
    assert (books.domain_rating, books.traffic, books.relevance) == (54, 1240, None)
    assert (books.stage, books.owner_id, books.live_links) == (Stage.PROSPECT, owner_id, 0)
    words = f"bücher.de Émile  Zola émile@bücher.de {notes}".lower().split()
    assert books.search_text == " ".join(words)
    contact = session.get(Contact, books.primary_contact_id)
    assert (contact.first_name, contact.last_name, contact.role, contact.email) == (
        "Émile",
        "Zola",
        "Rédactrice",
        "émile@bücher.de",
    )
    tags = session.exec(
        select(Tag.name).join(ProspectTag).where(ProspectTag.prospect_id == books.id)
    ).all()
    assert sorted(tags) == ["seo", "ünï"]
    change = session.exec(select(StageChange).where(StageChange.prospect_id == books.id)).one()
    assert (change.from_stage, change.to_stage, change.changed_by_id, change.reason) == (
        None,
        Stage.PROSPECT,
        owner_id,
        "import",
    )
    assert (plain.primary_contact_id, plain.notes, plain.custom_fields, plain.traffic) == (
        None,
        "",
        {},
        None,
    )


def test_browser_flow_upload_map_import_and_download_rejects(client, session, login, campaign):
    login(Role.BUILDER)
    url = f"/campaigns/{campaign.id}/import"
    content = (
        "Partner;Correo;Nota\n"
        "alpha.example;a@alpha.example;first\n"
        "not a site;;bad\n"
        "beta.example;b@;bad email\n"
    )
    upload = client.post(
        url,
        data={
            "csrf_token": csrf_token(client, url),
            "file": (io.BytesIO(content.encode("latin-1")), "lista.csv"),
        },
        content_type="multipart/form-data",
    )
    assert upload.status_code == 302
    mapping_url = upload.headers["Location"]
    page = client.get(mapping_url).get_data(as_text=True)
    assert "Which column is which?" in page
    assert 'value="Partner"' in page
    assert "Choose the column that holds the website (domain) or the page URL" in page
    data = {
        "csrf_token": csrf_token(client, mapping_url),
        "domain": "Partner",
        "email": "Correo",
        "notes": "Nota",
    }
    preview = client.post(mapping_url, data={**data, "action": "preview"}).get_data(as_text=True)
    assert "alpha.example" in preview
    assert "Will be refused" in preview
    reloaded = client.get(mapping_url).get_data(as_text=True)
    assert '<option value="Partner" selected>' in reloaded
    done = client.post(mapping_url, data={**data, "action": "import"}, follow_redirects=True)
    text = done.get_data(as_text=True)
    assert "<strong>1</strong> prospects imported" in text
    assert "<strong>2</strong> rows refused in all" in text
    job_id = mapping_url.split("/")[2]
    rejected = client.get(f"/imports/{job_id}/rejected.csv")
    body = rejected.get_data(as_text=True)
    assert body.startswith("\ufeff")
    rows = list(csv.reader(io.StringIO(body.removeprefix("\ufeff"))))
    assert rows[0] == ["row", "error", "Partner", "Correo", "Nota"]
    assert [row[0] for row in rows[1:]] == ["3", "4"]
    assert rows[2][2:] == ["beta.example", "b@", "bad email"]
    assert session.exec(select(func.count()).select_from(ImportRejection)).one() == 2
    assert client.get(mapping_url).status_code == 302


def test_upload_of_an_unusable_file_says_why(client, login, campaign):
    login(Role.BUILDER)
    url = f"/campaigns/{campaign.id}/import"
    response = client.post(
        url,
        data={
            "csrf_token": csrf_token(client, url),
            "file": (io.BytesIO(b"\x00\x01\x02binary"), "x.xlsx"),
        },
        content_type="multipart/form-data",
    )
    assert response.status_code == 422
    assert "x.xlsx:" in response.get_data(as_text=True)
    missing = client.post(url, data={"csrf_token": csrf_token(client, url)})
    assert "Choose a CSV file to import." in missing.get_data(as_text=True)


def test_large_imports_refresh_planner_statistics(session, campaign):
    from outreach.prospects.imports import refresh_statistics

    refresh_statistics(session)
    connection = session.connection()
    if connection.dialect.name == "postgresql":
        analysed = connection.execute(
            sa.text(
                "SELECT last_vacuum, last_analyze FROM pg_stat_user_tables"
                " WHERE relname = 'prospects'"
            )
        ).one()
        assert all(analysed)
    else:
        assert connection.execute(sa.text("SELECT count(*) FROM sqlite_stat1")).scalar() > 0
    assert session.exec(select(func.count()).select_from(Prospect)).one() == 0


def test_progress_fragment_polls_while_running_and_stops_when_done(
    client, session, login, campaign
):
    from outreach.prospects.models import ImportStatus, ProspectImport

    user = login(Role.BUILDER)
    job = ProspectImport(
        campaign_id=campaign.id,
        user_id=user.id,
        filename="big.csv",
        status=ImportStatus.RUNNING,
        total_bytes=1000,
        processed_bytes=450,
        imported=300,
    )
    session.add(job)
    session.commit()
    running = client.get(f"/imports/{job.id}/progress").get_data(as_text=True)
    assert 'hx-trigger="every 500ms"' in running
    assert 'aria-valuenow="45"' in running
    assert "300 prospects so far" in running
    job.status, job.processed_bytes, job.rejected = ImportStatus.DONE, 1000, 0
    session.commit()
    done = client.get(f"/imports/{job.id}/progress").get_data(as_text=True)
    assert "hx-trigger" not in done
    assert "<strong>300</strong> prospects imported" in done


def test_abandoned_uploads_are_discarded_after_a_day(session, campaign, tmp_path):
    from datetime import UTC, datetime, timedelta

    from outreach.prospects.imports import discard_abandoned_imports
    from outreach.prospects.models import ImportStatus, ProspectImport

    now = datetime(2026, 11, 24, 12, tzinfo=UTC)
    files = {}
    for name, age, status in (
        ("old", timedelta(days=2), ImportStatus.MAPPING),
        ("fresh", timedelta(hours=3), ImportStatus.MAPPING),
        ("finished", timedelta(days=5), ImportStatus.DONE),
    ):
        files[name] = tmp_path / f"{name}.csv"
        files[name].write_text("domain\nx.example\n")
        session.add(
            ProspectImport(
                campaign_id=campaign.id,
                filename=f"{name}.csv",
                stored_path=str(files[name]),
                status=status,
                created_at=now - age,
            )
        )
    session.commit()
    assert discard_abandoned_imports(session, now) == 1
    assert not files["old"].exists()
    assert files["fresh"].exists()
    left = session.exec(select(ProspectImport.filename).order_by(ProspectImport.filename)).all()
    assert left == ["finished.csv", "fresh.csv"]


# --- Custom fields --------------------------------------------------------------------------------

CUSTOM_SHEET = (
    "Website,Topic,Pitch angle,Niche\n"
    "one.example,Balcony plants,their 2023 list,Garden\n"
    "two.example,,,Home\n"
    "one.example,Herbs,,Garden\n"
)


def test_import_rows_stores_custom_fields_readable_by_the_api(session, campaign, api_as):
    stream = io.BytesIO(CUSTOM_SHEET.encode())
    layout = sniff_layout(stream)
    mapping = {"domain": "Website", "custom.topic": "Topic", "custom.angle": "Pitch angle"}
    summary = import_rows(session, campaign.id, None, read_rows(stream, layout, mapping))
    assert (summary.imported, summary.duplicates) == (2, 1)
    api = api_as(Role.MANAGER)
    one = api.get(f"/api/v1/prospects/{prospect_of(session, 'one.example').id}").json
    assert one["custom_fields"] == {"topic": "Balcony plants", "angle": "their 2023 list"}
    two = api.get(f"/api/v1/prospects/{prospect_of(session, 'two.example').id}").json
    assert two["custom_fields"] == {}


def test_a_later_import_leaves_existing_prospects_custom_fields_alone(app, session, campaign):
    first = io.BytesIO(b"Website,Topic\none.example,Balcony plants\n")
    layout = sniff_layout(first)
    mapping = {"domain": "Website", "custom.topic": "Topic"}
    import_rows(session, campaign.id, None, read_rows(first, layout, mapping))
    second = io.BytesIO(b"Website,Topic\none.example,Herbs\nthree.example,Herbs\n")
    summary = import_rows(session, campaign.id, None, read_rows(second, layout, mapping))
    assert (summary.imported, summary.duplicates) == (1, 1)
    session.expire_all()
    assert prospect_of(session, "one.example").custom_fields == {"topic": "Balcony plants"}
    assert prospect_of(session, "three.example").custom_fields == {"topic": "Herbs"}


def test_cli_custom_option(app, session, campaign, tmp_path):
    path = tmp_path / "list.csv"
    path.write_text(CUSTOM_SHEET)
    result = run_cli(app, campaign.id, path, "--custom", "Topic", "--custom", "Pitch angle=pitch")
    assert result.exit_code == 0, result.output
    summary = json.loads(result.output)
    assert set(summary) == {"imported", "duplicates", "errors"}
    assert (summary["imported"], summary["duplicates"]) == (2, 1)
    one = prospect_of(session, "one.example")
    assert one.custom_fields == {"topic": "Balcony plants", "pitch": "their 2023 list"}
    # The suggested mapping still applies next to the custom columns.
    assert prospect_of(session, "two.example").custom_fields == {}
    tags = session.exec(select(func.count()).select_from(ProspectTag)).one()
    assert tags == 2  # "Niche" is a known column: tags


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (["--custom", "=topic"], "'=topic' names no column: write COLUMN=NAME."),
        (["--custom", "Topic="], "'Topic=' gives no field name: write Topic=NAME."),
        (["--custom", "#"], "'#' gives no field name: write #=NAME."),
        (
            ["--custom", "Topic=x", "--custom", "Niche=x"],
            "columns 'Topic' and 'Niche' are both custom field 'x': give each its own NAME.",
        ),
        (["--custom", "Subject"], "The file has no column 'Subject' (chosen for custom.subject)."),
        (["--custom", "Topic=my topic"], "'my topic' (for column 'Topic') cannot be a custom"),
    ],
)
def test_cli_custom_option_mistakes(app, session, campaign, tmp_path, options, message):
    path = tmp_path / "list.csv"
    path.write_text(CUSTOM_SHEET)
    result = run_cli(app, campaign.id, path, *options)
    assert result.exit_code == 2
    assert message in " ".join(result.output.split())
    assert session.exec(select(func.count()).select_from(Prospect)).one() == 0


def upload(client, campaign, content):
    url = f"/campaigns/{campaign.id}/import"
    response = client.post(
        url,
        data={
            "csrf_token": csrf_token(client, url),
            "file": (io.BytesIO(content.encode()), "list.csv"),
        },
        content_type="multipart/form-data",
    )
    assert response.status_code == 302
    return response.headers["Location"]


def test_mapping_page_keeps_unmapped_columns_as_custom_fields(client, session, login, campaign):
    login(Role.BUILDER)
    mapping_url = upload(
        client, campaign, "Website,Topic,Pitch angle,Niche,2024 Price\n" + "a.example,Herbs,,x,5\n"
    )
    page = client.get(mapping_url).get_data(as_text=True)
    assert "Keep as custom field" in page
    # Website and Niche are recognised (domain, tags): only the other columns are offered.
    assert 'id="custom-name-1" name="custom-name-1" value="topic"' in page
    assert 'name="custom-name-2" value="pitch_angle"' in page
    assert 'name="custom-name-4" value="col_2024_price"' in page
    assert 'name="custom-name-0"' not in page
    assert 'name="custom-name-3"' not in page
    assert 'name="custom" value="1" aria-describedby="custom-column-1" >' in page  # unchecked

    data = {
        "csrf_token": csrf_token(client, mapping_url),
        "domain": "Website",
        "custom": ["1", "2"],
        "custom-name-1": "topic",
        "custom-name-2": " angle ",
        "custom-name-4": "col_2024_price",
    }
    preview = client.post(mapping_url, data={**data, "action": "preview"})
    assert preview.status_code == 200
    text = preview.get_data(as_text=True)
    assert "<code>topic</code>: Herbs" in text
    assert "<code>angle</code>" not in text  # an empty cell is no value
    job = session.get(ProspectImport, int(mapping_url.split("/")[2]))
    session.refresh(job)
    assert job.mapping == {
        "domain": "Website",
        "custom.topic": "Topic",
        "custom.angle": "Pitch angle",
    }
    # Niche is no longer chosen for tags, so it is offered now; the kept columns stay checked.
    assert 'name="custom-name-3" value="niche"' in text
    assert 'name="custom" value="2" aria-describedby="custom-column-2" checked>' in text
    reloaded = client.get(mapping_url).get_data(as_text=True)
    assert 'name="custom-name-2" value="angle"' in reloaded
    assert 'name="custom" value="1" aria-describedby="custom-column-1" checked>' in reloaded

    done = client.post(mapping_url, data={**data, "action": "import"}, follow_redirects=True)
    assert "<strong>1</strong> prospects imported" in done.get_data(as_text=True)
    assert prospect_of(session, "a.example").custom_fields == {"topic": "Herbs"}


@pytest.mark.parametrize(
    ("names", "message"),
    [
        ({"custom-name-1": "", "custom-name-2": "angle"}, "Give the custom field for column"),
        (
            {"custom-name-1": "topic", "custom-name-2": "topic"},
            "Columns &#39;Topic&#39;, &#39;Pitch angle&#39; have the same custom field name "
            "&#39;topic&#39;: give each its own.",
        ),
        (
            {"custom-name-1": "my topic", "custom-name-2": "angle"},
            "&#39;my topic&#39; (for column &#39;Topic&#39;) cannot be a custom field name",
        ),
    ],
)
def test_mapping_page_says_what_is_wrong_with_custom_names_and_keeps_them(
    client, session, login, campaign, names, message
):
    login(Role.BUILDER)
    mapping_url = upload(client, campaign, "Website,Topic,Pitch angle\na.example,Herbs,x\n")
    data = {
        "csrf_token": csrf_token(client, mapping_url),
        "domain": "Website",
        "custom": ["1", "2"],
        "action": "import",
        **names,
    }
    response = client.post(mapping_url, data=data)
    assert response.status_code == 422
    text = response.get_data(as_text=True)
    assert message in text
    assert '<option value="Website" selected>' in text
    for index in ("1", "2"):
        assert f'name="custom-name-{index}" value="{names[f"custom-name-{index}"]}"' in text
        assert f'value="{index}" aria-describedby="custom-column-{index}" checked>' in text
    job = session.get(ProspectImport, int(mapping_url.split("/")[2]))
    session.refresh(job)
    assert job.status is ImportStatus.MAPPING
    assert session.exec(select(func.count()).select_from(Prospect)).one() == 0
