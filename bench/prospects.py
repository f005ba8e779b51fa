"""Benchmark: CSV import speed and memory, and prospect list/board server time at scale.

    .venv/bin/python bench/prospects.py                      # SQLite, 100k prospects
    .venv/bin/python bench/prospects.py --postgres postgresql+psycopg://postgres@127.0.0.1/postgres
    .venv/bin/python bench/prospects.py --rows 20000         # quicker

Each run builds a fresh database with the migrations, imports a generated CSV through the same
code as `flask prospects import`, then times list and board requests through the WSGI app
(server time: routing, queries and template rendering; no network).
"""

from __future__ import annotations

import argparse
import json
import random
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

WORDS = "green garden urban balcony leaf soil seed bloom herb compost sprout petal root".split()
TAGS = ["gardening", "diy", "urban", "high-priority", "local", "news"]


def generate_csv(path: Path, rows: int, seed: int = 7, prefix: str = "") -> None:
    """A link builder's prospect sheet: distinct sites, some contacts, metrics, tags, notes."""
    rng = random.Random(seed)  # noqa: S311  (sample data)
    with path.open("w", encoding="utf-8", newline="") as out:
        out.write("Website,Contact,Email,DR,Traffic,Tags,Notes\n")
        for n in range(rows):
            site = f"{prefix}{rng.choice(WORDS)}-{n}.example"
            person = rng.choice(["Anna", "Tom", "Mia", "Lukas", ""])
            email = f"{person.lower()}@{site}" if person else ""
            tags = "|".join(rng.sample(TAGS, rng.randint(0, 2)))
            out.write(
                f"https://www.{site}/blog/post-{n},{person},{email},{rng.randint(0, 95)},"
                f"{rng.randint(0, 500_000)},{tags},found via search {n % 97}\n"
            )


def fresh_database(base_url: str | None, workdir: Path) -> str:
    import sqlalchemy as sa
    from sqlalchemy.engine import make_url

    if base_url is None:
        return f"sqlite:///{workdir / 'bench.db'}"
    url = make_url(base_url)
    name = f"outreach_bench_{int(time.time())}"
    admin = sa.create_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(sa.text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return url.set(database=name).render_as_string(hide_password=False)


def drop_database(url: str) -> None:
    import sqlalchemy as sa
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    if parsed.get_backend_name() != "postgresql":
        return
    admin = sa.create_engine(parsed.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{parsed.database}" WITH (FORCE)'))
    admin.dispose()


def import_in_child(url: str, csv_path: Path, campaign_id: int, owner_id: int) -> dict:
    """Import in a separate process so its peak memory (max RSS) is the import's own."""
    result = subprocess.run(  # noqa: S603  (this script, with our own arguments)
        [
            sys.executable,
            __file__,
            "--child-import",
            url,
            str(csv_path),
            str(campaign_id),
            str(owner_id),
        ],
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
    )
    return json.loads(result.stdout.strip().splitlines()[-1])


def resident_mb() -> float:
    """The process's own resident memory now (RssAnon): not the start-up high-water mark, and
    not the database file pages SQLite maps in, which are shared, reclaimable page cache."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("RssAnon:"):
            return int(line.split()[1]) / 1024
    return 0.0


def child_import(url: str, csv_path: str, campaign_id: int, owner_id: int) -> None:
    from sqlmodel import Session

    import outreach.models  # noqa: F401
    from outreach.db import make_engine
    from outreach.prospects.importing import read_rows, sniff_layout, suggest_mapping
    from outreach.prospects.imports import import_rows

    engine = make_engine(url)
    before = resident_mb()
    peak = [before]
    start = time.perf_counter()
    with Session(engine) as session, open(csv_path, "rb") as stream:
        layout = sniff_layout(stream)
        rows = read_rows(stream, layout, suggest_mapping(layout))
        summary = import_rows(
            session, campaign_id, owner_id, rows, after_batch=lambda _: peak.append(resident_mb())
        )
    elapsed = time.perf_counter() - start
    figures = {
        "imported": summary.imported,
        "rejected": len(summary.errors),
        "seconds": elapsed,
        "rss_before_mb": before,
        "rss_peak_mb": max(peak),
    }
    print(json.dumps(figures))


def setup(url: str, workdir: Path) -> tuple[object, int, int, str, str]:
    from alembic import command
    from sqlmodel import Session

    from outreach import create_app
    from outreach.auth.models import Role
    from outreach.auth.services import create_user
    from outreach.campaigns.models import Campaign, CampaignKind, Client
    from outreach.config import Settings
    from outreach.dbcli import alembic_config

    command.upgrade(alembic_config(url), "head")
    app = create_app(
        Settings(database_url=url, instance_path=workdir / "instance", secret_key="b" * 40)
    )
    with Session(app.extensions["outreach"].engine) as session:
        user = create_user(session, "bench@agency.example", "bench password", Role.MANAGER)
        client = Client(name="Client", domain="client.example", website="https://client.example/")
        session.add(client)
        session.commit()
        campaign = Campaign(
            name="Bench",
            kind=CampaignKind.GUEST_POST,
            client_id=client.id,
            client_url="https://client.example/",
            owner_id=user.id,
        )
        session.add(campaign)
        session.commit()
        return app, campaign.id, user.id, user.email, "bench password"


def login(app: object, email: str, password: str) -> object:
    """A test client signed in through the login form, as a person would be."""
    client = app.test_client()
    page = client.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    client.post("/login", data={"email": email, "password": password, "csrf_token": token})
    return client


def page_times(client: object, path: str, repeat: int, headers: dict | None = None) -> dict:
    """Server time of one page: p50 and p95 in ms of `repeat` requests after one warm-up."""
    assert client.get(path, headers=headers).status_code == 200, path
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        response = client.get(path, headers=headers)
        samples.append((time.perf_counter() - start) * 1000)
        assert response.status_code == 200
    samples.sort()
    return {
        "p50_ms": statistics.median(samples),
        "p95_ms": samples[min(len(samples) - 1, int(len(samples) * 0.95))],
    }


def list_pages(campaign_id: int) -> dict[str, str]:
    base = f"/prospects/?campaign={campaign_id}"
    return {
        "list, newest first": base,
        "list, sorted by DR": f"{base}&sort=dr&order=desc",
        "list, page 200": f"{base}&page=200",
        "list, stage filter": f"{base}&stage=prospect&dr_min=40",
        "list, tag filter": f"{base}&tag=high-priority",
        "list, search": f"{base}&q=anna+search",
        "list, contacted filter": f"{base}&never_contacted=true&sort=traffic",
        "board": f"/campaigns/{campaign_id}/board",
    }


def time_pages(app: object, campaign_id: int, email: str, password: str, repeat: int) -> dict:
    client = login(app, email, password)
    return {
        name: page_times(client, path, repeat) for name, path in list_pages(campaign_id).items()
    }


def run(engine_name: str, base_url: str | None, rows: int, repeat: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        url = fresh_database(base_url, workdir)
        try:
            app, campaign_id, owner_id, email, password = setup(url, workdir)
            small, large = workdir / "small.csv", workdir / "large.csv"
            generate_csv(small, rows // 10, seed=1, prefix="s")
            generate_csv(large, rows, seed=2, prefix="l")
            small_run = import_in_child(url, small, campaign_id, owner_id)
            large_run = import_in_child(url, large, campaign_id, owner_id)
            total = small_run["imported"] + large_run["imported"]
            print(f"\n== {engine_name}: {total:,} prospects in the campaign")
            for label, result, count in (
                ("import", small_run, rows // 10),
                ("import", large_run, rows),
            ):
                print(
                    f"{label} {count:>7,} rows: {count / result['seconds']:>8,.0f} rows/s "
                    f"({result['seconds']:.1f} s), {result['rejected']} refused; memory "
                    f"{result['rss_before_mb']:.0f} MB before, {result['rss_peak_mb']:.0f} MB peak"
                )
            timings = time_pages(app, campaign_id, email, password, repeat)
            print(f"{'page':<26} {'p50 ms':>8} {'p95 ms':>8}")
            for name, figures in timings.items():
                print(f"{name:<26} {figures['p50_ms']:>8.1f} {figures['p95_ms']:>8.1f}")
            app.extensions["outreach"].engine.dispose()
        finally:
            drop_database(url)


def main() -> None:
    if len(sys.argv) == 6 and sys.argv[1] == "--child-import":
        child_import(sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5]))
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=40, help="requests per page")
    parser.add_argument("--postgres", help="a PostgreSQL URL whose server may create databases")
    parser.add_argument("--skip-sqlite", action="store_true")
    args = parser.parse_args()
    if not args.skip_sqlite:
        run("SQLite", None, args.rows, args.repeat)
    if args.postgres:
        run("PostgreSQL", args.postgres, args.rows, args.repeat)


if __name__ == "__main__":
    main()
