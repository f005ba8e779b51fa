"""Benchmark: placements verified per second, end to end, beside a bare httpx loop.

    .venv/bin/python bench/links.py                    # SQLite, 2,000 placements
    .venv/bin/python bench/links.py --placements 5000 --postgres postgresql+psycopg://postgres@127.0.0.1/postgres

A local static site is served by Debian's nginx (`apt-get install nginx-light`; without it, by
Python's threaded HTTP server, slower) on every 127.0.0.x address, so that the checker's
per-host politeness (2 at a time per host) spreads over 32 hosts as it would over real sites.
"End to end" is what the scheduler does: claim the due placements, fetch each page through the
SSRF-guarded fetcher, verify it, store the check and the placement's new status (first checks
also move each prospect whose link went live to *linked*, with its history and activity). The
baseline fetches the same pages with one httpx client and a thread pool of the same size, and
finds the links with the same HTML parser.

Each row is timed from "go" until the last process reports its count, and the stored results
are counted afterwards. "CPU ms" is the processes' CPU time per page (all their threads; not
nginx's nor the database server's): on a shared machine it moves less than the rate does.
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import closing
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from prospects import drop_database, fresh_database, generate_csv, setup  # noqa: E402

HOSTS = 32
NOW = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)
NGINX_CONFIG = """
daemon off;
worker_processes 2;
pid {dir}/nginx.pid;
error_log {dir}/error.log warn;
events {{ worker_connections 1024; }}
http {{
    access_log off;
    client_body_temp_path {dir}/tmp;
    proxy_temp_path {dir}/tmp;
    fastcgi_temp_path {dir}/tmp;
    uwsgi_temp_path {dir}/tmp;
    scgi_temp_path {dir}/tmp;
    types {{ text/html html; }}
    keepalive_requests 100000;
    server {{
        listen {port};
        root {dir}/site;
    }}
}}
"""


def write_site(directory: Path, pages: int, seed: int = 11) -> None:
    """Blog posts of about 20 KB with a hundred links; most link to the client somewhere."""
    rng = random.Random(seed)  # noqa: S311  (sample data)
    directory.mkdir(parents=True)
    filler = " ".join(["Balcony tomatoes need sun, water and patience."] * 6)
    for n in range(pages):
        links = [
            f'<li><a href="https://site{rng.randint(0, 9999)}.example/post/{k}">Post {k}</a></li>'
            for k in range(100)
        ]
        kind = n % 10
        if kind < 7:
            links.insert(
                rng.randint(0, 99), '<li><a href="https://www.client.example/guide/">guide</a></li>'
            )
        elif kind < 9:
            links.insert(
                rng.randint(0, 99),
                '<li><a rel="nofollow" href="https://client.example/guide">guide</a></li>',
            )
        paragraphs = "".join(f"<p>{filler}</p>" for _ in range(20))
        (directory / f"{n}.html").write_text(
            f'<!doctype html><html><head><meta charset="utf-8"><title>Post {n}</title></head>'
            f"<body><article>{paragraphs}<ul>{''.join(links)}</ul></article></body></html>"
        )


def free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def start_site(workdir: Path, pages: int) -> tuple[subprocess.Popen[bytes], int, str]:
    """The pages served by nginx, or without it by Python's threaded HTTP server (HTTP/1.1,
    keep-alive) in a process of its own, which competes for the CPU and is slower; the
    process, its port and the server's name."""
    nginx = shutil.which("nginx", path="/usr/sbin:/usr/bin:/usr/local/sbin")
    (workdir / "tmp").mkdir(parents=True)
    write_site(workdir / "site", pages)
    port = free_port()
    if nginx is None:
        server = "Python http.server"
        command = [sys.executable, __file__, "--child-serve", str(workdir / "site"), str(port)]
    else:
        server = "nginx"
        # nginx's workers run as nobody: they must be able to walk to the pages.
        for folder in (workdir.parent, workdir, workdir / "site"):
            folder.chmod(0o755)
        config = workdir / "nginx.conf"
        config.write_text(NGINX_CONFIG.format(dir=workdir, port=port))
        command = [nginx, "-c", str(config)]
    process = subprocess.Popen(command)  # noqa: S603  (our own server and config)
    import httpx

    for _ in range(100):
        try:
            httpx.get(f"http://127.0.0.1:{port}/0.html", timeout=1)
            return process, port, server
        except httpx.TransportError:
            time.sleep(0.05)
    process.terminate()
    sys.exit(f"{server} did not start; see {workdir / 'error.log'}")


def child_serve(directory: str, port: int) -> None:
    """The fallback site: every 127.0.0.x address, keep-alive, no request log."""
    from functools import partial
    from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

    class Handler(SimpleHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *_: object) -> None:
            return

    ThreadingHTTPServer(("0.0.0.0", port), partial(Handler, directory=directory)).serve_forever()  # noqa: S104  (loopback addresses only: 127.0.0.x)


def page_urls(port: int, pages: int) -> list[str]:
    return [f"http://127.0.0.{1 + n % HOSTS}:{port}/{n}.html" for n in range(pages)]


def add_placements(
    app: object, campaign_id: int, owner_id: int, urls: list[str], workdir: Path
) -> None:
    """Prospects through the import, then one placement each, all due now."""
    import sqlalchemy as sa
    from sqlmodel import Session, select

    from outreach.links.models import Placement
    from outreach.prospects.importing import read_rows, sniff_layout, suggest_mapping
    from outreach.prospects.imports import import_rows
    from outreach.prospects.models import Prospect

    csv_path = workdir / "prospects.csv"
    generate_csv(csv_path, len(urls), seed=5, prefix="l")
    engine = app.extensions["outreach"].engine
    with Session(engine) as session, csv_path.open("rb") as stream:
        layout = sniff_layout(stream)
        import_rows(
            session, campaign_id, owner_id, read_rows(stream, layout, suggest_mapping(layout))
        )
    with Session(engine) as session:
        ids = list(session.exec(select(Prospect.id).order_by(Prospect.id).limit(len(urls))))
        session.execute(
            sa.insert(Placement),
            [
                {
                    "prospect_id": prospect_id,
                    "campaign_id": campaign_id,
                    "page_url": url,
                    "target": "domain:client.example",
                    "expected_anchor": "",
                    "expected_rel": "follow",
                    "link_type": "guest_post",
                    "paid": False,
                    "toxic": False,
                    "status": "promised",
                    "last_verdict": "",
                    "next_check_at": NOW,
                    "consecutive_failures": 0,
                    "reminders_sent": [],
                    "created_at": NOW,
                }
                for prospect_id, url in zip(ids, urls, strict=True)
            ],
        )
        session.commit()


def child_check(url: str, now: str, workers: int) -> None:
    """One checker process, as a scheduler process runs it; starts on "go" from stdin."""
    from outreach import create_app
    from outreach.config import Settings
    from outreach.links.checking import check_intervals
    from outreach.links.fetch import PageFetcher
    from outreach.links.services import CheckSettings, run_due_checks
    from outreach.ops.serving import freeze_loaded_app

    with tempfile.TemporaryDirectory() as tmp:
        app = create_app(Settings(database_url=url, instance_path=Path(tmp), secret_key="b" * 40))
        settings = CheckSettings(intervals=check_intervals(app), workers=workers)
        with PageFetcher(allow_private=True) as fetcher:
            freeze_loaded_app()  # as `flask scheduler` does before it starts its jobs
            print("ready", flush=True)
            sys.stdin.readline()
            started = cpu_seconds()
            counts = run_due_checks(
                app.extensions["outreach"].engine, fetcher, datetime.fromisoformat(now), settings
            )
            cpu = cpu_seconds() - started
        print(json.dumps({"checked": counts["checked"], "cpu": cpu}), flush=True)


def child_bare(urls_file: str, workers: int) -> None:
    urls = Path(urls_file).read_text().split()
    print("ready", flush=True)
    sys.stdin.readline()
    started = cpu_seconds()
    found, _ = time_bare_httpx(urls, workers)
    cpu = cpu_seconds() - started
    print(json.dumps({"checked": len(urls), "found": found, "cpu": cpu}), flush=True)


def cpu_seconds() -> float:
    """This process's CPU time so far, all threads."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


@dataclass(frozen=True)
class Timing:
    checked: int
    seconds: float
    cpu: float  # seconds, all the processes together
    found: int = 0

    @property
    def rate(self) -> float:
        return self.checked / self.seconds

    @property
    def cpu_ms(self) -> float:
        return self.cpu * 1000 / self.checked


def in_processes(commands: list[list[str]]) -> Timing:
    """Start the processes, wait until each is ready, let them go together, time until the
    last reports its count (its work is stored then; the interpreter's exit is not timed);
    returns what they report, summed."""
    children = [
        subprocess.Popen(  # noqa: S603  (this script)
            command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd=ROOT
        )
        for command in commands
    ]
    for child in children:
        assert child.stdout.readline().strip() == "ready"
    start = time.perf_counter()
    for child in children:
        child.stdin.write("go\n")
        child.stdin.flush()
    reports = []
    for child in children:
        line = child.stdout.readline()
        if not line:
            for other in children:
                other.kill()
                other.wait()
            raise RuntimeError(f"{command_label(commands)} died; its error is above")
        reports.append(json.loads(line))
    seconds = time.perf_counter() - start
    for child in children:
        child.communicate()
    return Timing(
        checked=sum(report["checked"] for report in reports),
        seconds=seconds,
        cpu=sum(report["cpu"] for report in reports),
        found=sum(report.get("found", 0) for report in reports),
    )


def command_label(commands: list[list[str]]) -> str:
    return f"a process of {len(commands)} ({commands[0][2]})"


def time_checkers(url: str, now: datetime, workers: int, processes: int) -> Timing:
    command = [sys.executable, __file__, "--child-check", url, now.isoformat(), str(workers)]
    return in_processes([command] * processes)


def time_bare_processes(urls: list[str], workers: int, processes: int, workdir: Path) -> Timing:
    commands = []
    for shard in range(processes):
        path = workdir / f"urls-{shard}.txt"
        path.write_text("\n".join(urls[shard::processes]))
        commands.append([sys.executable, __file__, "--child-bare", str(path), str(workers)])
    return in_processes(commands)


def time_bare_httpx(urls: list[str], workers: int) -> tuple[int, float]:
    """The floor: fetch and find the links, nothing checked, nothing stored."""
    import httpx
    from selectolax.lexbor import LexborHTMLParser

    def fetch_and_parse(client: httpx.Client, url: str) -> int:
        response = client.get(url)
        return sum(
            "client.example" in (node.attrs.get("href") or "")
            for node in LexborHTMLParser(response.content).css("a[href]")
        )

    limits = httpx.Limits(max_connections=workers * 2, max_keepalive_connections=workers * 2)
    start = time.perf_counter()
    with httpx.Client(limits=limits) as client, ThreadPoolExecutor(workers) as pool:
        found = sum(1 for links in pool.map(lambda u: fetch_and_parse(client, u), urls) if links)
    return found, time.perf_counter() - start


def copy_database(url: str, workdir: Path) -> str:
    """A copy of the database as it is now, to run first checks on again."""
    import sqlalchemy as sa
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    if parsed.get_backend_name() != "postgresql":
        copy = workdir / "bench-copy.db"
        with (
            closing(sqlite3.connect(parsed.database)) as source,
            closing(sqlite3.connect(copy)) as target,
        ):
            source.backup(target)
        return f"sqlite:///{copy}"
    name = f"{parsed.database}_copy"
    admin = sa.create_engine(parsed.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(sa.text(f'CREATE DATABASE "{name}" TEMPLATE "{parsed.database}"'))
    admin.dispose()
    return parsed.set(database=name).render_as_string(hide_password=False)


def stored(url: str) -> tuple[int, int]:
    """The checks stored, and the prospects moved to *linked*."""
    import sqlalchemy as sa

    engine = sa.create_engine(url)
    with engine.connect() as connection:
        checks = connection.execute(sa.text("SELECT count(*) FROM placement_checks")).scalar_one()
        linked = connection.execute(
            sa.text("SELECT count(*) FROM prospects WHERE stage = 'linked'")
        ).scalar_one()
    engine.dispose()
    return checks, linked


ROUNDS = (  # processes, what, days after the placements were added, on the copy
    (1, "first checks (promised -> live)", 0, False),
    (1, "re-checks of live links", 9, False),
    (2, "re-checks of live links", 18, False),
    (2, "first checks (promised -> live)", 0, True),
)


@dataclass(frozen=True)
class Round:
    label: str
    processes: int
    bare: Timing
    checks: Timing
    linked: int


def measure(
    base_url: str | None,
    placements: int,
    workers: int,
    rounds: tuple[tuple[int, str, int, bool], ...] = ROUNDS,
) -> tuple[str, list[Round]]:
    """Each round against a fresh bare loop on the same pages; the site's server and the
    rounds."""
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        server, port, server_name = start_site(workdir / "www", placements)
        url = fresh_database(base_url, workdir)
        copy = None
        try:
            urls = page_urls(port, placements)
            app, campaign_id, owner_id, _, _ = setup(url, workdir)
            add_placements(app, campaign_id, owner_id, urls, workdir)
            app.extensions["outreach"].engine.dispose()
            if any(on_copy for *_, on_copy in rounds):
                copy = copy_database(url, workdir)
            for processes, label, day, on_copy in rounds:
                database = copy if on_copy else url
                bare = time_bare_processes(urls, workers, processes, workdir)
                checks_before, _ = stored(database)
                timing = time_checkers(database, NOW + timedelta(days=day), workers, processes)
                checks_after, linked = stored(database)
                assert timing.checked == checks_after - checks_before == placements, (
                    timing.checked,
                    checks_after - checks_before,
                )
                if day == 0 and linked != bare.found:  # a prospect per page with the link
                    sys.exit(f"{linked:,} prospects linked for {bare.found:,} pages with the link")
                results.append(Round(label, processes, bare, timing, linked))
        finally:
            server.terminate()
            server.wait()
            drop_database(url)
            if copy:
                drop_database(copy)
    return server_name, results


def run(engine_name: str, base_url: str | None, placements: int, workers: int) -> None:
    server, rounds = measure(base_url, placements, workers)
    print(
        f"\n== {engine_name}: {placements:,} placements on {HOSTS} local hosts "
        f"({server}), {workers} threads per process"
    )
    print(f"{'':<50} {'pages/s':>8} {'vs bare':>8} {'CPU ms':>7}")
    for result in rounds:
        bare, timing, processes = result.bare, result.checks, result.processes
        print(
            f"{f'bare httpx fetch + parse, {processes} process(es)':<50} "
            f"{bare.rate:>8,.0f} {'':>8} {bare.cpu_ms:>7.2f}"
        )
        print(
            f"{f'{result.label}, {processes} process(es)':<50} {timing.rate:>8,.0f} "
            f"{timing.rate / bare.rate:>8.2f} {timing.cpu_ms:>7.2f}"
        )


def main() -> None:
    if len(sys.argv) == 5 and sys.argv[1] == "--child-check":
        child_check(sys.argv[2], sys.argv[3], int(sys.argv[4]))
        return
    if len(sys.argv) == 4 and sys.argv[1] == "--child-serve":
        child_serve(sys.argv[2], int(sys.argv[3]))
        return
    if len(sys.argv) == 4 and sys.argv[1] == "--child-bare":
        child_bare(sys.argv[2], int(sys.argv[3]))
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--placements", type=int, default=2000)
    parser.add_argument(
        "--workers", type=int, default=8, help="threads per process (local pages answer at once)"
    )
    parser.add_argument("--postgres", help="a PostgreSQL URL whose server may create databases")
    parser.add_argument("--skip-sqlite", action="store_true")
    args = parser.parse_args()
    if not args.skip_sqlite:
        run("SQLite", None, args.placements, args.workers)
    if args.postgres:
        run("PostgreSQL", args.postgres, args.placements, args.workers)


if __name__ == "__main__":
    main()
