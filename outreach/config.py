"""Settings: defaults from config/default.toml, then OUTREACH_CONFIG, then environment variables."""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from cryptography.fernet import Fernet
from pydantic import Field, ValidationError, field_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_CONFIG_FILE = PROJECT_ROOT / "config" / "default.toml"
SUPPORTED_DATABASES = ("sqlite", "postgresql+psycopg")


class ConfigError(Exception):
    """The configuration cannot be used; the message says which setting and why."""


class Settings(BaseSettings):
    """Every setting of the app. Field names are the TOML keys; upper case, the env variables."""

    model_config = SettingsConfigDict(extra="forbid", case_sensitive=False, frozen=True)

    instance_path: Path = Path("instance")
    database_url: str = ""
    host: str = "127.0.0.1"
    port: int = Field(default=5000, ge=1, le=65535)
    secret_key: str = ""
    session_cookie_secure: bool = False
    trusted_proxies: int = Field(default=0, ge=0, le=5)
    timezone: str = "UTC"
    currency: str = Field(default="USD", pattern=r"^[A-Z]{3}$")
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    log_format: Literal["text", "json"] = "text"
    email_check_deliverability: bool = False
    scheduler_heartbeat_seconds: int = Field(default=60, ge=1, le=86_400)
    public_url: str = "http://127.0.0.1:5000"
    mail_encryption_key: str = ""
    mail_claim_lease_seconds: int = Field(default=600, ge=10, le=86_400)
    dispatch_interval_seconds: int = Field(default=60, ge=1, le=3_600)
    smtp_timeout_seconds: float = Field(default=30.0, gt=0, le=600)
    links_allow_private: bool = False
    link_check_timeout_seconds: float = Field(default=20.0, gt=0, le=300)
    link_check_workers: int = Field(default=16, ge=1, le=256)
    link_check_promised_hours: float = Field(default=24, gt=0, le=24 * 90)
    link_check_live_days: float = Field(default=7, gt=0, le=365)

    @field_validator("database_url")
    @classmethod
    def _known_database(cls, value: str) -> str:
        if value and value.split("://", 1)[0] not in SUPPORTED_DATABASES:
            raise ValueError(
                "must start with sqlite:// or postgresql+psycopg:// "
                f"(got {value.split('://', 1)[0]!r})"
            )
        return value

    @field_validator("secret_key")
    @classmethod
    def _long_enough(cls, value: str) -> str:
        if value and len(value) < 32:
            raise ValueError("must be at least 32 characters long")
        return value

    @field_validator("timezone")
    @classmethod
    def _real_timezone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"{value!r} is not an IANA time zone such as Europe/Berlin") from None
        return value

    @field_validator("public_url")
    @classmethod
    def _absolute_url(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")) or value[-3:] == "://":
            raise ValueError(
                "must be the app's address as people reach it, e.g. https://outreach.example.com"
            )
        return value.rstrip("/")

    @field_validator("mail_encryption_key")
    @classmethod
    def _fernet_key(cls, value: str) -> str:
        if value:
            try:
                Fernet(value)
            except ValueError:
                raise ValueError(
                    "must be a Fernet key (32 url-safe base64-encoded bytes), e.g. from "
                    "`flask mailboxes new-key`"
                ) from None
        return value

    @field_validator("log_level", mode="before")
    @classmethod
    def _upper_level(cls, value: Any) -> Any:
        return value.upper() if isinstance(value, str) else value

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        files = [DEFAULT_CONFIG_FILE]
        extra = os.environ.get("OUTREACH_CONFIG")
        if extra:
            files.append(Path(extra))
        return (init_settings, env_settings, TomlConfigSettingsSource(settings_cls, files))

    @property
    def resolved_instance_path(self) -> Path:
        path = self.instance_path
        return path if path.is_absolute() else PROJECT_ROOT / path

    @property
    def resolved_database_url(self) -> str:
        return self.database_url or f"sqlite:///{self.resolved_instance_path / 'outreach.db'}"


def load_settings(**overrides: Any) -> Settings:
    """Read the settings, turning pydantic's errors into one readable ConfigError."""
    extra = os.environ.get("OUTREACH_CONFIG")
    if extra and not Path(extra).is_file():
        raise ConfigError(f"OUTREACH_CONFIG names {extra!r}, which is not a file")
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        raise ConfigError(describe_errors(exc)) from None
    except ValueError as exc:  # TOML syntax errors surface as tomllib.TOMLDecodeError
        raise ConfigError(f"a config file is not valid TOML: {exc}") from None


def describe_errors(exc: ValidationError) -> str:
    lines = ["invalid configuration:"]
    for error in exc.errors():
        key = ".".join(str(part) for part in error["loc"]) or "settings"
        if error["type"] == "extra_forbidden":
            lines.append(f"  {key}: unknown setting (check the spelling in the config file)")
            continue
        message = error["msg"].removeprefix("Value error, ")
        lines.append(f"  {key} (env {key.upper()}): {message}; got {error['input']!r}")
    return "\n".join(lines)


def ensure_secret_key(settings: Settings) -> str:
    """Use the configured key, else one generated once and kept in the instance folder."""
    return settings.secret_key or _instance_key(settings, "secret_key", secrets.token_urlsafe(48))


def ensure_mail_key(settings: Settings) -> str:
    """The key that encrypts mailbox passwords: configured, else generated once like the secret."""
    return settings.mail_encryption_key or _instance_key(
        settings, "mail_encryption_key", Fernet.generate_key().decode()
    )


def _instance_key(settings: Settings, name: str, new_key: str) -> str:
    key_file = settings.resolved_instance_path / name
    if key_file.exists():
        return key_file.read_text().strip()
    key_file.parent.mkdir(parents=True, exist_ok=True)
    key_file.write_text(new_key)
    key_file.chmod(0o600)
    return new_key
