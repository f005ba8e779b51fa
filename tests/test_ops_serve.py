"""`make serve`: scripts/serve.sh migrates, runs gunicorn and the scheduler, and stops both on
SIGTERM; the production example config is a valid configuration."""

from __future__ import annotations

import gc
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa

from outreach.config import PROJECT_ROOT, load_settings
from outreach.ops import serving
from tests.mailservers import free_port


def test_the_postgresql_example_is_a_valid_configuration(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OUTREACH_CONFIG", str(PROJECT_ROOT / "config/postgresql.example.toml"))
    settings = load_settings()
    assert settings.resolved_database_url.startswith("postgresql+psycopg://")
    assert (settings.log_format, settings.session_cookie_secure) == ("json", True)


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[subprocess.Popen[str], str, Path]]:
    """scripts/serve.sh on a fresh SQLite database, in its own process group so that nothing
    it started can outlive the test."""
    port = free_port()
    database = tmp_path / "serve.db"
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{database}",
        "INSTANCE_PATH": str(tmp_path / "instance"),
        "PORT": str(port),
        "HOST": "127.0.0.1",
        "WEB_CONCURRENCY": "1",
        "LOG_FORMAT": "json",
        "VENV": str(Path(sys.executable).parent.parent),
    }
    env.pop("OUTREACH_CONFIG", None)
    process = subprocess.Popen(
        [str(PROJECT_ROOT / "scripts/serve.sh")],
        env=env,
        stderr=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        text=True,
        start_new_session=True,
    )
    try:
        yield process, f"http://127.0.0.1:{port}", database
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def wait_until(check: Callable[[], bool], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError("timed out")
        time.sleep(0.1)


def answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=1).status_code == 200
    except httpx.TransportError:
        return False


def test_serve_runs_web_and_scheduler_and_stops_both_on_sigterm(
    served: tuple[subprocess.Popen[str], str, Path],
) -> None:
    process, base, database = served
    wait_until(lambda: answers(f"{base}/readyz"))
    response = httpx.get(f"{base}/login?next=/", headers={"X-Request-ID": "lb-77"})
    assert response.status_code == 200
    assert response.headers["X-Request-ID"] == "lb-77"
    engine = sa.create_engine(f"sqlite:///{database}")
    try:

        def scheduler_ran() -> bool:
            with engine.connect() as connection:
                return bool(
                    connection.execute(
                        sa.text("SELECT count(*) FROM job_runs WHERE finished_at IS NOT NULL")
                    ).scalar()
                )

        wait_until(scheduler_ran)
    finally:
        engine.dispose()
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=30) == 0
    # Every process of the group is gone: gunicorn's master and worker, and the scheduler.
    with pytest.raises(ProcessLookupError):
        os.killpg(process.pid, 0)
    lines = [
        json.loads(line) for line in process.stderr.read().splitlines() if line.startswith("{")
    ]
    [login] = [line for line in lines if line.get("request_id") == "lb-77"]
    assert (login["path"], login["status"]) == ("/login", 200)
    # Probes are logged at DEBUG only, and the level here is INFO.
    assert not [line for line in lines if line.get("path") == "/readyz"]
    assert any(line.get("job") == "due-work" and "run_id" in line for line in lines)
    assert any(line["message"] == "scheduler stopped" for line in lines)


def test_each_worker_takes_its_startup_heap_out_of_the_collectors_sight() -> None:
    """Full collections would otherwise walk every module and mapper again, for ~100 ms."""
    assert gc.get_freeze_count() == 0
    try:
        serving.post_worker_init(worker=None)
        assert gc.get_freeze_count() > 10_000
    finally:
        gc.unfreeze()
