"""Configuration from the environment and an optional .env file; the only module that reads them."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

import phonenumbers
from pydantic import AliasChoices, Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from contact_center.customers.value_model import ValueModel


class SettingsError(Exception):
    """A configuration value is missing or malformed; the message says which and why."""


class Settings(BaseSettings):
    """Every setting of the application, with embedded defaults for a single process on one machine."""

    model_config = SettingsConfigDict(
        env_prefix="CC_", env_file=".env", env_file_encoding="utf-8", extra="ignore", populate_by_name=True
    )

    data_dir: Path = Field(default=Path("data"), description="Directory for the SQLite file and uploads.")
    database_url: str = Field(
        default="", description="SQLAlchemy async URL; empty means a SQLite file under the data directory."
    )
    redis_url: str = Field(default="", description="Redis URL; empty means in-memory routing and events.")
    redis_prefix: str = Field(
        default="cc:", pattern=r"^[A-Za-z0-9:_\-]{1,64}$", description="Prefix of Redis keys and channels."
    )
    secret_key: SecretStr = Field(
        default=SecretStr(""),
        description="Key for signing; generated and kept in the data directory if empty.",
    )
    public_url: str = Field(default="http://localhost:8080", description="Base URL that Twilio signs.")
    default_region: str = Field(default="US", description="Region for phone numbers written without +.")
    session_ttl_hours: int = Field(default=12, ge=1, le=24 * 30)
    max_body_bytes: int = Field(default=1024 * 1024, ge=1024)
    log_level: str = Field(default="INFO")
    value_model: ValueModel = Field(default_factory=ValueModel)
    twilio_account_sid: str = Field(
        default="", validation_alias=AliasChoices("TWILIO_ACCOUNT_SID", "twilio_account_sid")
    )
    twilio_auth_token: SecretStr = Field(
        default=SecretStr(""), validation_alias=AliasChoices("TWILIO_AUTH_TOKEN", "twilio_auth_token")
    )

    @field_validator("database_url")
    @classmethod
    def _check_database_url(cls, value: str) -> str:
        if value and not value.startswith(("sqlite+aiosqlite://", "postgresql+asyncpg://")):
            raise ValueError("must start with sqlite+aiosqlite:// or postgresql+asyncpg://")
        return value

    @field_validator("redis_url")
    @classmethod
    def _check_redis_url(cls, value: str) -> str:
        if value and urlsplit(value).scheme not in {"redis", "rediss", "unix"}:
            raise ValueError("must be a redis://, rediss:// or unix:// URL")
        return value

    @field_validator("public_url")
    @classmethod
    def _check_public_url(cls, value: str) -> str:
        parts = urlsplit(value)
        if parts.scheme not in {"http", "https"} or not parts.netloc:
            raise ValueError("must be an absolute http:// or https:// URL")
        return value.rstrip("/")

    @field_validator("default_region")
    @classmethod
    def _check_region(cls, value: str) -> str:
        region = value.upper()
        if region not in phonenumbers.SUPPORTED_REGIONS:
            raise ValueError(f"{value!r} is not a region code phonenumbers knows (e.g. US, GB, DE)")
        return region

    @field_validator("log_level")
    @classmethod
    def _check_log_level(cls, value: str) -> str:
        level = value.upper()
        if level not in {"DEBUG", "INFO", "WARNING", "ERROR"}:
            raise ValueError("must be DEBUG, INFO, WARNING or ERROR")
        return level

    @property
    def effective_database_url(self) -> str:
        """The configured database URL, or the embedded SQLite file under the data directory."""
        if self.database_url:
            return self.database_url
        return f"sqlite+aiosqlite:///{(self.data_dir / 'contact_center.db').resolve()}"

    @property
    def is_embedded_sqlite(self) -> bool:
        """True when running on the SQLite file under the data directory (safe to migrate on start)."""
        return not self.database_url

    @property
    def secure_cookies(self) -> bool:
        """Mark cookies Secure when the public URL is https."""
        return self.public_url.startswith("https://")

    def signing_key(self) -> bytes:
        """The secret key, creating and keeping a random one in the data directory when none is set."""
        if self.secret_key.get_secret_value():
            return self.secret_key.get_secret_value().encode()
        return _persistent_random_key(self.data_dir / "secret.key")


def _persistent_random_key(path: Path) -> bytes:
    import secrets

    if path.exists():
        return path.read_bytes().strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(48).encode()
    path.write_bytes(key)
    path.chmod(0o600)
    return key


def load_settings(**overrides: object) -> Settings:
    """Read settings; raise SettingsError naming each malformed variable."""
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        lines = []
        for error in exc.errors():
            name = "_".join(str(part) for part in error["loc"]) or "settings"
            variable = name.upper() if name.upper().startswith("TWILIO_") else f"CC_{name.upper()}"
            lines.append(f"  {variable}: {error['msg']}")
        raise SettingsError("Invalid configuration:\n" + "\n".join(lines)) from None


__all__ = ["Settings", "SettingsError", "load_settings"]
