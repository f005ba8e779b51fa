"""Prospects in a real browser: a CSV import whose mapping the user corrects, the list's
filters and bulk tagging, and moving cards on the pipeline board by drag and drop and by
keyboard. Data is created through the services before a page opens (the live server shares
the database); everything after that goes through the pages a person would use."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable
from pathlib import Path

import pytest
from playwright.sync_api import Locator, Page, expect
from sqlmodel import Session

from outreach.auth.models import Role, User
from outreach.campaigns.models import Campaign
from outreach.prospects.models import Prospect
from outreach.prospects.schemas import ProspectInput
from outreach.prospects.services import add_prospect
from tests.browser.conftest import sign_in

# Column names no tool uses, so the app maps none of them on its own (it does know "Sitio").
HEADER = ["Enlace", "Correo", "Autoridad", "Comentario"]
IMPORT_ROWS = [
    HEADER,  # row 1
    ["https://www.gartenblog.de/gastbeitrag", "anna@gartenblog.de", "45", "Crème de la crème"],
    ["bücher-ecke.de", "info@buecher-ecke.de", "30", "IDN"],  # row 3
    ["balkonpflanzen.example", "", "12", ""],  # row 4
    ["not a website", "ben@example.org", "20", "Pâte à choux"],  # row 5: bad URL
    [],  # row 6: blank, skipped
    ["kochtipps.example", "x@", "33", "bad email"],  # row 7
    ["gartenblog.de", "other@gartenblog.de", "40", "same site as row 2"],  # row 8
]
IMPORTED = ["gartenblog.de", "bücher-ecke.de", "balkonpflanzen.example"]
REFUSED = {
    5: "Enlace: 'not a website' is not a URL or domain",
    7: "Correo: 'x@' is not a valid email address",
    8: "duplicate: gartenblog.de is already in row 2",
}
MAPPING = {
    "Domain": "Enlace",
    "Email": "Correo",
    "Domain rating (DR/DA)": "Autoridad",
    "Notes": "Comentario",
}


@pytest.fixture
def manager(make_user: Callable[..., User]) -> User:
    return make_user(Role.MANAGER, name="Maria")


def add(session: Session, campaign: Campaign, user: User, **fields: object) -> Prospect:
    return add_prospect(session, campaign, ProspectInput.model_validate(fields), user)


def write_import_file(path: Path) -> Path:
    """The sheet as a Spanish-locale Excel saves it: semicolons, Latin-1, CRLF."""
    lines = [";".join(row) for row in IMPORT_ROWS]
    path.write_bytes(("\r\n".join(lines) + "\r\n").encode("latin-1"))
    return path


def test_manager_corrects_the_column_mapping_and_imports_a_csv(
    page: Page, live_server: str, manager: User, campaign: Campaign, tmp_path: Path
) -> None:
    upload = write_import_file(tmp_path / "prospectos.csv")
    sign_in(page, live_server, manager)
    page.goto(f"{live_server}/campaigns/{campaign.id}")
    page.get_by_role("link", name="Import CSV").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Import prospects from a CSV file")
    page.get_by_label("CSV file").set_input_files(upload)
    page.get_by_role("button", name="Upload and map columns").click()

    expect(page).to_have_url(re.compile(r"/imports/\d+/mapping$"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Which column is which?")
    expect(page.get_by_text("prospectos.csv · recognised as generic · 4 columns")).to_be_visible()
    # Nothing was recognised, so there is no site to read and the preview says so.
    expect(page.get_by_role("alert")).to_have_text(
        "Choose the column that holds the website (domain) or the page URL of each prospect."
    )
    preview = page.locator("table.import-preview tbody")
    expect(preview.get_by_role("row")).to_have_text(["No rows to preview."])
    for label in MAPPING:
        expect(page.get_by_label(label, exact=True)).to_have_value("")

    for label, column in MAPPING.items():
        page.get_by_label(label, exact=True).select_option(column)
    page.get_by_role("button", name="Update preview").click()

    expect(page.get_by_role("alert")).to_have_count(0)
    for label, column in MAPPING.items():
        expect(page.get_by_label(label, exact=True)).to_have_value(column)
    rows = preview.get_by_role("row")
    expect(rows).to_have_count(5)  # the first five non-blank rows: 2, 3, 4, 5, 7
    expect(rows.nth(0)).to_have_text(re.compile(r"^2\s*gartenblog\.de\s*–\s*45\s*–\s*–"))
    expect(rows.nth(0)).to_contain_text("anna@gartenblog.de")
    expect(rows.nth(1)).to_contain_text("bücher-ecke.de")
    expect(rows.nth(2)).to_contain_text("balkonpflanzen.example")
    expect(rows.nth(3)).to_have_text(re.compile(r"^5\s*Will be refused: " + re.escape(REFUSED[5])))
    expect(rows.nth(4)).to_have_text(re.compile(r"^7\s*Will be refused: " + re.escape(REFUSED[7])))

    page.get_by_role("button", name="Import", exact=True).click()

    expect(page).to_have_url(re.compile(r"/imports/\d+$"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Import of prospectos.csv")
    result = page.get_by_role("status").filter(has_text="prospects imported")
    expect(result).to_have_text(
        re.compile(r"3\s+prospects imported,\s+1\s+duplicates skipped,\s+3\s+rows refused in all\.")
    )
    refused = page.get_by_role("table").filter(has=page.get_by_role("columnheader", name="Reason"))
    refused_rows = refused.locator("tbody").get_by_role("row")
    expect(refused_rows).to_have_count(len(REFUSED))
    for index, (row, reason) in enumerate(REFUSED.items()):
        expect(refused_rows.nth(index).get_by_role("cell").nth(0)).to_have_text(str(row))
        expect(refused_rows.nth(index).get_by_role("cell").nth(1)).to_contain_text(reason)

    with page.expect_download() as download_info:
        page.get_by_role("link", name="Download refused rows (CSV)").click()
    download = download_info.value
    assert download.suggested_filename == "prospectos-rejected.csv"
    lines = list(csv.reader(io.StringIO(Path(download.path()).read_text("utf-8-sig"))))
    assert lines[0] == ["row", "error", *HEADER]
    assert [line[0] for line in lines[1:]] == [str(row) for row in REFUSED]
    for line, (row, reason) in zip(lines[1:], REFUSED.items(), strict=True):
        assert line[1].startswith(reason), line
        assert line[2:] == IMPORT_ROWS[row - 1], line

    page.get_by_role("link", name="See the prospects").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Prospects (3)")
    table = page.get_by_role("table")
    for domain in IMPORTED:
        expect(table.get_by_role("link", name=domain, exact=True)).to_be_visible()
    expect(table.get_by_role("link", name="kochtipps.example")).to_have_count(0)
    expect(table.get_by_text("xn--")).to_have_count(0)  # the IDN is shown in Unicode
    gartenblog = table.get_by_role("row").filter(
        has=page.get_by_role("link", name="gartenblog.de", exact=True)
    )
    expect(gartenblog.get_by_role("cell").nth(3)).to_have_text("45")
    expect(gartenblog).to_contain_text("anna@gartenblog.de")

    # The Latin-1 note arrived intact: searching for it finds its row alone.
    filters = page.get_by_role("form", name="Filter prospects")
    filters.get_by_label("Search").fill("Crème")
    filters.get_by_role("button", name="Apply filters").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Prospects (1)")
    expect(table.locator("tbody").get_by_role("row")).to_have_count(1)
    expect(gartenblog).to_have_count(1)


DRS = {
    "alpha-garden.example": 15,
    "bravo-garden.example": 25,
    "charlie-garden.example": 35,
    "delta-garden.example": 45,
    "echo-garden.example": 55,
    "foxtrot-garden.example": 65,
    "golf-garden.example": 75,
    "hotel-garden.example": 85,
}
DR_MIN = 55  # a prospect has exactly this: the minimum is inclusive
OLD_TAG = "diy"


def list_row(page: Page, domain: str) -> Locator:
    return page.get_by_role("row").filter(has=page.get_by_role("link", name=domain, exact=True))


def test_filter_by_dr_then_tag_two_rows_in_bulk(
    page: Page, live_server: str, session: Session, manager: User, campaign: Campaign
) -> None:
    for index, (domain, rating) in enumerate(DRS.items()):
        tags = OLD_TAG if index % 3 == 0 else ""
        add(session, campaign, manager, domain=domain, domain_rating=rating, tags=tags)
    strong = [domain for domain, rating in DRS.items() if rating >= DR_MIN]
    chosen = ["echo-garden.example", "golf-garden.example"]
    tag = "priority-q3"

    sign_in(page, live_server, manager)
    page.goto(f"{live_server}/prospects/?campaign={campaign.id}")
    heading = page.get_by_role("heading", level=1)
    expect(heading).to_have_text(f"Prospects ({len(DRS)})")
    table = page.get_by_role("table")
    expect(table.locator("tbody").get_by_role("row")).to_have_count(len(DRS))

    filters = page.get_by_role("form", name="Filter prospects")
    filters.get_by_label("Minimum DR").fill(str(DR_MIN))
    filters.get_by_role("button", name="Apply filters").click()

    expect(page).to_have_url(re.compile(rf"dr_min={DR_MIN}"))
    expect(heading).to_have_text(f"Prospects ({len(strong)})")
    body_rows = table.locator("tbody").get_by_role("row")
    expect(body_rows).to_have_count(len(strong))
    for domain in strong:
        expect(list_row(page, domain)).to_have_count(1)
    for domain in set(DRS) - set(strong):
        expect(list_row(page, domain)).to_have_count(0)
    expect(filters.get_by_label("Minimum DR")).to_have_value(str(DR_MIN))
    bulk = page.get_by_role("group", name="Bulk actions")
    expect(bulk.get_by_label("Apply to")).to_contain_text(f"All {len(strong)} matching")

    for domain in chosen:
        page.get_by_label(f"Select {domain}", exact=True).check()
    bulk.get_by_label("Action", exact=True).select_option(label="Add tag")
    bulk.get_by_label("Value", exact=True).fill(tag)
    bulk.get_by_role("button", name="Apply").click()

    expect(page.get_by_role("alert")).to_contain_text(f"Tagged 2 prospects with {tag}.")
    expect(page).to_have_url(re.compile(rf"dr_min={DR_MIN}"))  # back on the same filtered list
    expect(heading).to_have_text(f"Prospects ({len(strong)})")
    expect(table.get_by_text(tag, exact=True)).to_have_count(len(chosen))
    for domain in strong:
        expect(list_row(page, domain).get_by_text(tag, exact=True)).to_have_count(
            1 if domain in chosen else 0
        )
    # Adding a tag keeps the ones a prospect had.
    expect(list_row(page, "golf-garden.example").get_by_text(OLD_TAG, exact=True)).to_be_visible()

    filters.get_by_label("Minimum DR").fill("")
    filters.get_by_label("Tag", exact=True).fill(tag)
    filters.get_by_role("button", name="Apply filters").click()

    expect(page).to_have_url(re.compile(rf"tag={tag}&dr_min=&"))
    expect(heading).to_have_text(f"Prospects ({len(chosen)})")
    expect(body_rows).to_have_count(len(chosen))
    for domain in chosen:
        expect(list_row(page, domain)).to_have_count(1)


BOARD_DRS = {"kiwi-garden.example": 20, "lime-garden.example": 21, "mango-garden.example": 22}


def column_count(page: Page, stage: str) -> Locator:
    return page.locator(f"[data-count={stage}]")


def column(page: Page, label: str) -> Locator:
    return page.get_by_role("list", name=f"{label} prospects", exact=True)


def card(page: Page, domain: str) -> Locator:
    return page.get_by_role("listitem").filter(
        has=page.get_by_role("link", name=domain, exact=True)
    )


def test_drag_a_card_to_contacted_and_move_another_by_keyboard(
    page: Page, live_server: str, session: Session, manager: User, campaign: Campaign
) -> None:
    for domain, rating in BOARD_DRS.items():
        add(session, campaign, manager, domain=domain, domain_rating=rating)
    dragged, keyed = "kiwi-garden.example", "lime-garden.example"

    sign_in(page, live_server, manager)
    page.goto(f"{live_server}/campaigns/{campaign.id}/board")
    expect(page.get_by_role("heading", level=1)).to_have_text("Pipeline board")
    expect(column_count(page, "prospect")).to_have_text("3")
    expect(column_count(page, "contacted")).to_have_text("0")
    expect(column(page, "Prospect").get_by_role("listitem")).to_have_count(3)

    # Grab the card by its text: Sortable ignores drags that start on its link, menu or button.
    handle = card(page, dragged).get_by_text(f"DR {BOARD_DRS[dragged]}")
    handle.drag_to(column(page, "Contacted"))

    expect(column_count(page, "prospect")).to_have_text("2")
    expect(column_count(page, "contacted")).to_have_text("1")
    expect(column(page, "Contacted").get_by_role("link", name=dragged)).to_be_visible()
    expect(column(page, "Prospect").get_by_role("link", name=dragged)).to_have_count(0)
    expect(page.locator("#board-status")).to_have_text("Moved to Contacted prospects")
    expect(card(page, dragged).get_by_label(f"Move {dragged} to")).to_have_value("contacted")

    page.reload()
    expect(column_count(page, "prospect")).to_have_text("2")
    expect(column_count(page, "contacted")).to_have_text("1")
    expect(column(page, "Contacted").get_by_role("listitem")).to_have_count(1)
    expect(column(page, "Contacted").get_by_role("link", name=dragged)).to_be_visible()
    expect(column(page, "Prospect").get_by_role("link", name=dragged)).to_have_count(0)

    # The same without a mouse: the card's own "Move to" menu and button.
    expect(column_count(page, "replied")).to_have_text("0")
    move_to = page.get_by_label(f"Move {keyed} to")
    move_to.focus()
    move_to.select_option(label="Replied")
    page.keyboard.press("Tab")
    expect(card(page, keyed).get_by_role("button", name="Move")).to_be_focused()
    with page.expect_navigation():
        page.keyboard.press("Enter")

    expect(page).to_have_url(f"{live_server}/campaigns/{campaign.id}/board")
    expect(page.get_by_role("alert")).to_contain_text(f"{keyed} moved to Replied.")
    expect(column_count(page, "prospect")).to_have_text("1")
    expect(column_count(page, "contacted")).to_have_text("1")
    expect(column_count(page, "replied")).to_have_text("1")
    expect(column(page, "Replied").get_by_role("link", name=keyed)).to_be_visible()
    expect(page.get_by_label(f"Move {keyed} to")).to_have_value("replied")
