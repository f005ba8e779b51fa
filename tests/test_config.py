"""Settings come from config/default.toml, a second TOML file and the environment, strictly."""

from pathlib import Path

import pytest

from outreach import create_app
from outreach.config import ConfigError, ensure_secret_key, load_settings


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("DATABASE_URL", "SECRET_KEY", "PORT", "TIMEZONE", "LOG_LEVEL", "OUTREACH_CONFIG"):
        monkeypatch.delenv(name, raising=False)


def test_defaults_come_from_the_config_file() -> None:
    settings = load_settings()
    assert settings.port == 5000
    assert settings.host == "127.0.0.1"
    assert settings.resolved_database_url.startswith("sqlite:///")
    assert settings.resolved_database_url.endswith("instance/outreach.db")


def test_environment_overrides_the_file(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PORT", "8080")
    monkeypatch.setenv("DATABASE_URL", "postgresql+psycopg://u@db.internal/outreach")
    monkeypatch.setenv("SESSION_COOKIE_SECURE", "true")
    monkeypatch.setenv("LOG_LEVEL", "debug")
    settings = load_settings()
    assert settings.port == 8080
    assert settings.resolved_database_url == "postgresql+psycopg://u@db.internal/outreach"
    assert settings.session_cookie_secure is True
    assert settings.log_level == "DEBUG"


@pytest.mark.parametrize(
    ("name", "value", "expected"),
    [
        ("PORT", "abc", "port (env PORT): Input should be a valid integer"),
        ("PORT", "70000", "port (env PORT): Input should be less than or equal to 65535"),
        ("DATABASE_URL", "mysql://x/y", "must start with sqlite:// or postgresql+psycopg://"),
        ("TIMEZONE", "Mars/Olympus", "'Mars/Olympus' is not an IANA time zone"),
        ("SECRET_KEY", "short", "secret_key (env SECRET_KEY): must be at least 32 characters"),
        ("SESSION_COOKIE_SECURE", "maybe", "session_cookie_secure (env SESSION_COOKIE_SECURE)"),
        ("LOG_LEVEL", "loud", "log_level (env LOG_LEVEL)"),
    ],
)
def test_bad_values_are_named_in_the_error(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str, expected: str
) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(ConfigError) as caught:
        load_settings()
    assert expected in str(caught.value)
    assert repr(value) in str(caught.value) or value.upper() in str(caught.value)


def test_every_bad_value_is_reported_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PORT", "x")
    monkeypatch.setenv("TIMEZONE", "Nowhere")
    with pytest.raises(ConfigError) as caught:
        load_settings()
    message = str(caught.value)
    assert "port" in message
    assert "timezone" in message


def test_second_config_file_overrides_defaults(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    extra = tmp_path / "site.toml"
    extra.write_text('port = 6001\ntimezone = "Europe/Berlin"\n')
    monkeypatch.setenv("OUTREACH_CONFIG", str(extra))
    settings = load_settings()
    assert (settings.port, settings.timezone) == (6001, "Europe/Berlin")


def test_unknown_key_in_a_config_file_is_an_error(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    extra = tmp_path / "site.toml"
    extra.write_text("prot = 6001\n")
    monkeypatch.setenv("OUTREACH_CONFIG", str(extra))
    with pytest.raises(ConfigError, match="prot: unknown setting"):
        load_settings()


def test_broken_toml_and_missing_file_are_errors(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    broken = tmp_path / "broken.toml"
    broken.write_text("port = = 1\n")
    monkeypatch.setenv("OUTREACH_CONFIG", str(broken))
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_settings()
    monkeypatch.setenv("OUTREACH_CONFIG", str(tmp_path / "missing.toml"))
    with pytest.raises(ConfigError, match="which is not a file"):
        load_settings()


def test_create_app_stops_with_the_message_on_bad_config(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PORT", "not-a-port")
    with pytest.raises(SystemExit) as caught:
        create_app()
    assert "port (env PORT)" in str(caught.value.code)


def test_secret_key_is_generated_once_and_kept(tmp_path: Path) -> None:
    settings = load_settings(instance_path=tmp_path)
    first = ensure_secret_key(settings)
    assert len(first) >= 32
    assert ensure_secret_key(settings) == first
    assert (tmp_path / "secret_key").stat().st_mode & 0o777 == 0o600
