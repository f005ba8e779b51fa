"""Every benchmark in one run (`make bench`), on SQLite and PostgreSQL, printed as one table:
each figure beside a floor measured in the same run on the same engine, and its target.

    .venv/bin/python bench/all.py                        # full sizes, SQLite and PostgreSQL
    .venv/bin/python bench/all.py --postgres none        # SQLite only
    .venv/bin/python bench/all.py --quick                # small sizes, to see that it all works

Per engine, one throwaway database serves most figures: a CSV of 100k prospects is imported
(import rows/s) into a campaign that then gets a year of work (1M messages, 50k placements,
stage history, costs, time) beside a second campaign a quarter its size; 1M sequence steps are
left waiting in it (due in the coming weeks). On that: the list and board pages, the report
page and one scheduler pass. Sending (bench/mail.py, 1,000 emails to a local SMTP sink) and
verifying placements (bench/links.py, against a local site) each get a small database. Pages are
timed in-process through the Flask test client, signed in as a manager (server time, no
network). The app's clock is fixed at the data's "now".
"""

from __future__ import annotations

import argparse
import csv
import gc
import json
import os
import sys
import tempfile
import time
import traceback
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))
# Per-request and per-check INFO lines would go to the terminal in the timed code.
os.environ.setdefault("LOG_LEVEL", "WARNING")

import links  # noqa: E402
import mail  # noqa: E402
import report  # noqa: E402
import scheduler  # noqa: E402
from prospects import (  # noqa: E402
    drop_database,
    fresh_database,
    generate_csv,
    import_in_child,
    list_pages,
    login,
    page_times,
    setup,
)

from outreach.ops.serving import freeze_loaded_app  # noqa: E402

DEFAULT_POSTGRES = "postgresql+psycopg://postgres@127.0.0.1/postgres"
NOW = scheduler.NOW


@dataclass(frozen=True)
class Sizes:
    prospects: int  # imported, and again in the second campaign
    messages: int  # per campaign
    placements: int  # per campaign, for the report
    steps: int  # sequence steps waiting
    emails: int  # sent through the dispatcher
    checks: int  # placements verified against the local site
    check_rounds: int  # first checks, then re-checks
    repeat: int  # requests (or passes) timed per page


FULL = Sizes(100_000, 1_000_000, 50_000, 1_000_000, 1_000, 2_000, 2, 30)
QUICK = Sizes(1_000, 10_000, 500, 5_000, 50, 100, 1, 3)


@dataclass(frozen=True)
class Row:
    figure: str
    engine: str
    measured: float
    unit: str
    baseline: float
    baseline_what: str
    target: str
    met: bool
    error: str = ""

    @property
    def ratio(self) -> float:
        return self.measured / self.baseline

    def shown(self, baseline: bool = False) -> str:
        value = self.baseline if baseline else self.measured
        return f"{value:,.1f} {self.unit}" if self.unit == "ms" else f"{value:,.0f} {self.unit}"


def at_most(limit: float) -> tuple[str, Callable[[float, float], bool]]:
    return f"<= {limit:g} ms", lambda measured, _: measured <= limit


def at_least(limit: float, unit: str) -> tuple[str, Callable[[float, float], bool]]:
    return f">= {limit:,.0f} {unit}", lambda measured, _: measured >= limit


def share_of_baseline(share: float) -> tuple[str, Callable[[float, float], bool]]:
    return f">= {share:.0%} of baseline", lambda measured, base: measured >= share * base


class Table:
    def __init__(self, engine: str) -> None:
        self.engine = engine
        self.rows: list[Row] = []

    def add(
        self,
        figure: str,
        measured: float,
        unit: str,
        baseline: float,
        baseline_what: str,
        target: tuple[str, Callable[[float, float], bool]],
    ) -> None:
        text, test = target
        row = Row(
            figure,
            self.engine,
            measured,
            unit,
            baseline,
            baseline_what,
            text,
            test(measured, baseline),
        )
        self.rows.append(row)
        print(f"    = {figure}: {row.shown()} vs {baseline_what} {row.shown(baseline=True)}")

    def guarded(self, part: str, measure: Callable[[], None]) -> None:
        """Run one part; if it fails, say so in the table and go on with the next part."""
        try:
            measure()
        except Exception as exc:
            traceback.print_exc()
            error = f"{type(exc).__name__}: {str(exc).splitlines()[0][:120]}"
            nan = float("nan")
            self.rows.append(Row(part, self.engine, nan, "", nan, "", "", False, error))


def step(label: str) -> Callable[[], None]:
    """Call the returned function when the step is done: it prints the step and its time."""
    started = time.perf_counter()
    return lambda: print(f"  {label}: {time.perf_counter() - started:.1f} s", flush=True)


def import_floor(url: str, csv_path: Path) -> float:
    """Seconds to parse the same CSV with the csv module and insert its rows, as they are, into
    one table with one executemany through the same driver, in one transaction."""
    import sqlalchemy as sa

    engine = sa.create_engine(url)
    with engine.begin() as connection:
        connection.exec_driver_sql(
            "CREATE TABLE bench_import_floor (website TEXT, contact TEXT, email TEXT, "
            "dr INTEGER, traffic INTEGER, tags TEXT, notes TEXT)"
        )
    raw = engine.raw_connection()
    try:
        marker = "?" if engine.dialect.paramstyle == "qmark" else "%s"
        insert = f"INSERT INTO bench_import_floor VALUES ({', '.join([marker] * 7)})"  # noqa: S608
        started = time.perf_counter()
        with csv_path.open(encoding="utf-8", newline="") as stream:
            reader = csv.reader(stream)
            next(reader)
            rows = [(w, c, e, int(dr), int(t), tags, n) for w, c, e, dr, t, tags, n in reader]
        cursor = raw.cursor()
        cursor.executemany(insert, rows)
        raw.commit()
        seconds = time.perf_counter() - started
        cursor.execute("DROP TABLE bench_import_floor")
        raw.commit()
    finally:
        raw.close()
        engine.dispose()
    return seconds


def run_engine(name: str, base_url: str | None, sizes: Sizes, sink_port: int) -> list[Row]:
    """The three parts, each on databases of its own: one failing does not stop the others."""
    table = Table(name)
    print(f"\n== {name}", flush=True)
    table.guarded(
        "import, pages, scheduler", lambda: on_big_data(table, base_url, sizes, sink_port)
    )
    table.guarded("sending", lambda: sending(table, base_url, sizes, sink_port))
    table.guarded("placements verified", lambda: placements(table, base_url, sizes))
    return table.rows


def on_big_data(table: Table, base_url: str | None, sizes: Sizes, sink_port: int) -> None:
    """Import, then a year of work and waiting steps on top: the pages and the scheduler."""
    repeat = sizes.repeat
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        url = fresh_database(base_url, workdir)
        try:
            done = step("migrations, a manager, a campaign, a mailbox")
            app, campaign_id, owner_id, email, password = setup(url, workdir)
            scheduler.fix_clock(app, NOW)
            engine = app.extensions["outreach"].engine
            mailbox_id = mail.connect_mailbox(app, campaign_id, owner_id, sink_port)
            done()
            done = step("scheduler pass on the empty database")
            empty_pass = scheduler.time_pass(app, NOW, repeat)
            done()

            done = step(f"import {sizes.prospects:,} CSV rows, and the bare floor")
            csv_path = workdir / "prospects.csv"
            generate_csv(csv_path, sizes.prospects, seed=2, prefix="l")
            imported = import_in_child(url, csv_path, campaign_id, owner_id)
            assert imported["imported"] == sizes.prospects, imported
            floor_seconds = import_floor(url, csv_path)
            done()
            table.add(
                f"CSV import ({sizes.prospects:,} rows)",
                sizes.prospects / imported["seconds"],
                "rows/s",
                sizes.prospects / floor_seconds,
                "csv module + executemany",
                at_least(33_000, "rows/s"),
            )

            done = step(
                f"a year of work: {sizes.messages:,} messages, {sizes.placements:,} "
                "placements, and a campaign a quarter as big beside it"
            )
            report.populate(
                app,
                campaign_id,
                owner_id,
                sizes.prospects,
                sizes.messages,
                sizes.placements,
                imported=True,
                other_scale=0.25,
            )
            done()
            done = step(f"{sizes.steps:,} sequence steps waiting")
            waiting = scheduler.add_waiting_steps(engine, campaign_id, mailbox_id, sizes.steps)
            done()

            done = step("list, board and report pages")
            client = login(app, email, password)
            # As each gunicorn worker does once the app is loaded.
            freeze_loaded_app()
            healthz = page_times(client, "/healthz", repeat)
            pages = {
                label: page_times(client, path, repeat)
                for label, path in list_pages(campaign_id).items()
            }
            report_page = page_times(client, f"/campaigns/{campaign_id}/report", repeat)
            gc.unfreeze()
            done()
            for label, figures in pages.items():
                p50, p95 = figures["p50_ms"], figures["p95_ms"]
                print(f"    {label:<26} p50 {p50:6.1f} ms  p95 {p95:6.1f} ms")
            lists = {label: f for label, f in pages.items() if label.startswith("list")}
            for quantile in ("p50", "p95"):
                worst = max(lists, key=lambda label, q=quantile: lists[label][f"{q}_ms"])
                table.add(
                    f"list page {quantile} (slowest: {worst.removeprefix('list, ')})",
                    lists[worst][f"{quantile}_ms"],
                    "ms",
                    healthz[f"{quantile}_ms"],
                    "GET /healthz",
                    at_most(50),
                )
            for label, figures, limit in (
                ("board page", pages["board"], 50),
                ("report page", report_page, 100),
            ):
                for quantile in ("p50", "p95"):
                    table.add(
                        f"{label} {quantile}",
                        figures[f"{quantile}_ms"],
                        "ms",
                        healthz[f"{quantile}_ms"],
                        "GET /healthz",
                        at_most(limit),
                    )

            done = step("scheduler pass with the steps waiting")
            loaded_pass = scheduler.time_pass(app, NOW, repeat)
            done()
            for quantile in ("p50", "p95"):
                table.add(
                    f"scheduler pass {quantile} ({waiting:,} steps waiting)",
                    loaded_pass[f"{quantile}_ms"],
                    "ms",
                    empty_pass[f"{quantile}_ms"],
                    "same pass, empty db",
                    at_most(200),
                )

            engine.dispose()
        finally:
            drop_database(url)


def sending(table: Table, base_url: str | None, sizes: Sizes, sink_port: int) -> None:
    done = step(f"send {sizes.emails:,} emails (a database of their own), and a bare smtplib loop")
    result = mail.measure(base_url, sizes.emails, sink_port)
    done()
    print(f"    rendering the due steps: {result.emails / result.render_seconds:,.0f} emails/s")
    table.add(
        "sending (claim, send, record)",
        result.emails / result.send_seconds,
        "emails/s",
        result.emails / result.bare_seconds,
        "bare smtplib loop",
        share_of_baseline(0.8),
    )


def placements(table: Table, base_url: str | None, sizes: Sizes) -> None:
    rounds = ((2, "first checks", 0, False), (2, "re-checks", 9, False))[: sizes.check_rounds]
    done = step(f"verify {sizes.checks:,} placements with 2 processes, and the bare loops")
    server, results = links.measure(base_url, sizes.checks, 8, rounds)
    done()
    for result in results:
        table.add(
            f"placements verified, {result.label}",
            result.checks.rate,
            "pages/s",
            result.bare.rate,
            f"bare httpx loop ({server})",
            at_least(1_000, "pages/s"),
        )


def print_table(rows: list[Row]) -> None:
    header = ("figure", "engine", "measured", "baseline", "what the baseline is", "ratio")
    header += ("target", "met?")
    lines = [
        (
            row.figure,
            row.engine,
            row.shown(),
            row.shown(baseline=True).removesuffix(f" {row.unit}"),
            row.baseline_what,
            f"{row.ratio:.2f}",
            row.target,
            "yes" if row.met else "MISSED",
        )
        if not row.error
        else (row.figure, row.engine, "FAILED", "", row.error, "", "", "FAILED")
        for row in rows
    ]
    widths = [max(len(str(cells[n])) for cells in [header, *lines]) for n in range(len(header))]
    right = {2, 3, 5}
    for cells in [header, tuple("-" * width for width in widths), *lines]:
        print(
            "  ".join(
                cell.rjust(width) if n in right else cell.ljust(width)
                for n, (cell, width) in enumerate(zip(cells, widths, strict=True))
            ).rstrip()
        )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, a minute or less")
    parser.add_argument(
        "--postgres",
        default=os.environ.get("BENCH_POSTGRES", DEFAULT_POSTGRES),
        help="a PostgreSQL server URL whose user may create databases (a throwaway one is "
        "created and dropped); 'none' skips PostgreSQL",
    )
    parser.add_argument("--no-sqlite", action="store_true", help="PostgreSQL only")
    parser.add_argument("--json", type=Path, help="also write the rows to this file")
    args = parser.parse_args(argv)
    sizes = QUICK if args.quick else FULL
    started = time.perf_counter()
    sink, port = mail.start_sink()
    rows: list[Row] = []
    try:
        if not args.no_sqlite:
            rows += run_engine("SQLite", None, sizes, port)
        if args.postgres and args.postgres != "none":
            rows += run_engine("PostgreSQL", args.postgres, sizes, port)
    finally:
        sink.terminate()
        sink.wait()
    print()
    print_table(rows)
    missed = sum(not row.met and not row.error for row in rows)
    failed = [row for row in rows if row.error]
    print(
        f"\n{len(rows)} figures, {missed} target(s) missed, {len(failed)} part(s) failed; "
        f"ratio = measured / baseline; {time.perf_counter() - started:.0f} s in all"
    )
    if args.json:
        args.json.write_text(
            json.dumps([{**asdict(row), "ratio": row.ratio} for row in rows], indent=1)
        )
    if failed:
        sys.exit(1)


if __name__ == "__main__":
    main()
