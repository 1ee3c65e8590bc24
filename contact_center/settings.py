"""Configuration from the environment and an optional .env file; the only module that reads them."""

from __future__ import annotations

import ipaddress
import re
from pathlib import Path
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import phonenumbers
from pydantic import AliasChoices, BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from contact_center.customers.value_model import ValueModel


class SettingsError(Exception):
    """A configuration value is missing or malformed; the message says which and why."""


class ImapMailbox(BaseModel):
    """One mailbox polled for inbound email."""

    model_config = ConfigDict(extra="forbid")
    host: str = Field(min_length=1)
    port: int = Field(default=993, ge=1, le=65535)
    user: str = Field(min_length=1)
    password: SecretStr
    folder: str = "INBOX"
    ssl: bool = True


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
    redis_max_connections: int = Field(
        default=200,
        ge=4,
        le=10_000,
        description="Connections to Redis per process; when all are busy, a command waits up to 5 s.",
    )
    redis_prefix: str = Field(
        default="cc:", pattern=r"^[A-Za-z0-9:_\-]{1,64}$", description="Prefix of Redis keys and channels."
    )
    secret_key: SecretStr = Field(
        default=SecretStr(""),
        description="Key for signing; generated and kept in the data directory if empty.",
    )
    public_url: str = Field(default="http://localhost:8080", description="Base URL that Twilio signs.")
    default_region: str = Field(default="US", description="Region for phone numbers written without +.")
    timezone: str = Field(
        default="UTC",
        description="IANA time zone of the business: where report days and weeks begin (e.g. Europe/London).",
    )
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
    twilio_phone_number: str = Field(
        default="",
        validation_alias=AliasChoices("TWILIO_PHONE_NUMBER", "twilio_phone_number"),
        description="Our Twilio number (E.164): caller ID of callbacks, sender of SMS replies.",
    )
    twilio_api_base_url: str = Field(
        default="",
        validation_alias=AliasChoices("TWILIO_API_BASE_URL", "twilio_api_base_url"),
        description="Base URL of Twilio's REST API; empty means https://api.twilio.com.",
    )
    twilio_api_key: str = Field(default="", validation_alias=AliasChoices("TWILIO_API_KEY", "twilio_api_key"))
    twilio_api_secret: SecretStr = Field(
        default=SecretStr(""), validation_alias=AliasChoices("TWILIO_API_SECRET", "twilio_api_secret")
    )
    twilio_twiml_app_sid: str = Field(
        default="",
        validation_alias=AliasChoices("TWILIO_TWIML_APP_SID", "twilio_twiml_app_sid"),
        description="TwiML App of the agents' browser softphones (Voice JS SDK).",
    )
    twilio_media_hosts: str = Field(
        default="api.twilio.com,media.twiliocdn.com,mms.twiliocdn.com",
        validation_alias=AliasChoices("TWILIO_MEDIA_HOSTS", "twilio_media_hosts"),
        description="Comma-separated hosts MMS media may be fetched from.",
    )
    max_media_bytes: int = Field(default=5 * 1024 * 1024, ge=1024, description="Largest MMS media kept.")
    chat_topics: str = Field(
        default=(
            "General question=general,Billing=billing,Technical support=tech_support,Complaint=complaints"
        ),
        description="The chat form's topics and their queues: Label=queue, comma-separated.",
    )
    chat_identity_secret: SecretStr = Field(
        default=SecretStr(""), description="Shared with the website: HMAC key proving a logged-in user's id."
    )
    chat_max_attachment_bytes: int = Field(
        default=5 * 1024 * 1024, ge=1024, description="Largest file a chat customer may send."
    )
    chat_messages_per_minute: int = Field(default=30, ge=1, description="Messages a chat socket may send.")
    chat_starts_per_hour: int = Field(default=20, ge=1, description="Chats one address may start per hour.")
    wallboard_wait_alert_seconds: float = Field(
        default=120.0, ge=1, le=86_400, description="The wallboard alerts when a contact has waited longer."
    )
    agent_grace_seconds: float = Field(
        default=30.0,
        ge=0,
        le=3600,
        description="How long an agent whose last console closed stays logged in (a reload is no log-off).",
    )
    chat_embed_origins: str = Field(
        default="",
        description="Comma-separated origins of websites that may frame the /chat page; empty = none.",
    )
    inbox_max_waiting: int = Field(
        default=100_000, ge=100, description="Webhook payloads that may wait in the inbox before 503."
    )
    trusted_proxies: str = Field(
        default="",
        description="Our proxies (addresses or networks): their X-Forwarded-Proto/Host/For are believed.",
    )
    ivr_file: Path | None = Field(default=None, description="The IVR definition (YAML or JSON).")
    hold_music_url: str = Field(
        default="http://com.twilio.sounds.music.s3.amazonaws.com/MARKOVICHAMP-Borghestral.mp3",
        description="Audio played to callers waiting in queue.",
    )
    recording_consent: bool = Field(
        default=False, description="Record answered calls, after announcing it to the caller."
    )
    smtp_listen: str = Field(
        default="", description="host:port of the built-in SMTP listener for inbound email; empty = off."
    )
    email_address: str = Field(
        default="", description="Our support address: the From of email replies and acknowledgements."
    )
    email_domain: str = Field(
        default="", description="Domain of our Message-IDs; empty = the domain of CC_EMAIL_ADDRESS."
    )
    email_recipients: str = Field(
        default="",
        description="Comma-separated addresses or @domains the SMTP listener takes mail for; empty = any.",
    )
    email_max_message_bytes: int = Field(default=25 * 1024 * 1024, ge=1024)
    email_max_attachment_bytes: int = Field(default=10 * 1024 * 1024, ge=1)
    email_max_attachments: int = Field(default=20, ge=0)
    email_auto_ack: bool = Field(default=True, description="Acknowledge a customer's first email.")
    email_auto_replies_per_day: int = Field(
        default=3, ge=0, description="Most automatic answers one sender gets in 24 hours."
    )
    email_retry_attempts: int = Field(
        default=8, ge=1, le=20, description="Sending attempts before giving up."
    )
    smtp_relay_host: str = Field(default="", description="SMTP relay for outbound email; empty = no sending.")
    smtp_relay_port: int = Field(default=587, ge=1, le=65535)
    smtp_relay_user: str = Field(default="")
    smtp_relay_password: SecretStr = Field(default=SecretStr(""))
    smtp_relay_starttls: bool = Field(default=True, description="STARTTLS on the relay connection.")
    smtp_relay_tls: bool = Field(default=False, description="Implicit TLS (port 465) to the relay.")
    smtp_relay_timeout: float = Field(default=30.0, gt=0)
    imap_mailboxes: list[ImapMailbox] = Field(
        default_factory=list, description="JSON list of mailboxes to poll over IMAP."
    )
    imap_poll_seconds: float = Field(default=60.0, gt=0, description="Seconds between IMAP polls.")
    language_candidates: str = Field(
        default="en,es,fr,de,it,pt,nl",
        description="Languages (ISO 639-1) a customer's first message is detected among; empty = all known.",
    )
    complaint_keywords: str = Field(
        default=(
            "complain*,unacceptable,disgusted,furious,outraged,terrible service,worst,refund now,lawyer*,"
            "legal action,ombudsman,beschwerde*,reclamación,reclamaciones,queja*"
        ),
        description=(
            "Words or phrases that mark a message as a complaint, comma-separated; whole words, case and "
            "accents ignored, `word*` for every word beginning so."
        ),
    )
    complaint_sentiment_threshold: float = Field(
        default=-0.6,
        ge=-1.0,
        le=0.0,
        description="A message whose sentiment (VADER compound, -1 to 1) is at or below this is a complaint.",
    )
    ticket_reopen_days: float = Field(
        default=7, gt=0, description="Days after resolution in which a customer's reply reopens a ticket."
    )
    ticket_auto_close_days: float = Field(
        default=3, gt=0, description="Days after which a resolved ticket nobody reopened is closed."
    )
    ticket_repeat_contacts: int = Field(
        default=3, ge=2, description="Contacts about one ticket within ticket_repeat_days that escalate it."
    )
    ticket_repeat_days: float = Field(default=7, gt=0, description="Window of the repeat-contact trigger.")
    ticket_escalate_severity: str = Field(
        default="critical", description="Tickets of this severity are escalated as soon as they are opened."
    )
    ticket_pending_reminder_hours: float = Field(
        default=48, gt=0, description="Hours a ticket waits on the customer before its assignee is reminded."
    )
    survey_low_score: int = Field(
        default=2, ge=1, le=4, description="A satisfaction score at or below this escalates to a supervisor."
    )
    survey_valid_days: float = Field(default=7, gt=0, description="Days a survey can be answered.")
    ticket_timer_seconds: float = Field(
        default=15, gt=0, description="Seconds between runs of the ticket timers (SLA checks, auto-close)."
    )

    @field_validator("database_url")
    @classmethod
    def _check_database_url(cls, value: str) -> str:
        if value and not value.startswith(("sqlite+aiosqlite://", "postgresql+asyncpg://")):
            raise ValueError("must start with sqlite+aiosqlite:// or postgresql+asyncpg://")
        return value

    @field_validator("timezone")
    @classmethod
    def _check_timezone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown IANA time zone {value!r}") from None
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

    @field_validator("chat_embed_origins")
    @classmethod
    def _check_chat_embed_origins(cls, value: str) -> str:
        for item in _split(value):
            parts = urlsplit(item)
            if (
                parts.scheme not in {"http", "https"}
                or not parts.netloc
                or item.rstrip("/") != (f"{parts.scheme}://{parts.netloc}")
            ):
                raise ValueError(f"{item!r} is not an origin such as https://www.example.com")
        return value

    @field_validator("trusted_proxies")
    @classmethod
    def _check_trusted_proxies(cls, value: str) -> str:
        for item in _split(value):
            ipaddress.ip_network(item, strict=False)  # ValueError names the bad entry
        return value

    @field_validator("default_region")
    @classmethod
    def _check_region(cls, value: str) -> str:
        region = value.upper()
        if region not in phonenumbers.SUPPORTED_REGIONS:
            raise ValueError(f"{value!r} is not a region code phonenumbers knows (e.g. US, GB, DE)")
        return region

    @field_validator("smtp_listen")
    @classmethod
    def _check_smtp_listen(cls, value: str) -> str:
        if value:
            host, _, port = value.strip().rpartition(":")
            if not host or not port.isdigit() or not 0 <= int(port) <= 65535:
                raise ValueError("must be host:port, e.g. 127.0.0.1:2525")
        return value.strip()

    @field_validator("email_address")
    @classmethod
    def _check_email_address(cls, value: str) -> str:
        if value and not re.fullmatch(r"[^@\s<>]+@[^@\s<>]+\.[^@\s<>]+", value.strip()):
            raise ValueError("must be a plain address such as support@example.com")
        return value.strip()

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

    @property
    def twilio_enabled(self) -> bool:
        """True when Twilio's account and token are set: webhooks are verified and the REST API is used."""
        return bool(self.twilio_account_sid and self.twilio_auth_token.get_secret_value())

    @property
    def trusted_proxy_networks(self) -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
        """The networks whose forwarding headers are believed."""
        return [ipaddress.ip_network(item, strict=False) for item in _split(self.trusted_proxies)]

    @property
    def media_hosts(self) -> frozenset[str]:
        """Hosts MMS media may be fetched from."""
        return frozenset(host.lower() for host in _split(self.twilio_media_hosts))

    @property
    def smtp_listen_address(self) -> tuple[str, int] | None:
        """Host and port of the SMTP listener, or None when it is off."""
        if not self.smtp_listen:
            return None
        host, _, port = self.smtp_listen.rpartition(":")
        return host.strip("[]"), int(port)

    @property
    def message_id_domain(self) -> str:
        """The domain of the Message-IDs we sign."""
        if self.email_domain:
            return self.email_domain
        if "@" in self.email_address:
            return self.email_address.rsplit("@", 1)[1].lower()
        return urlsplit(self.public_url).hostname or "localhost"

    @property
    def email_sending_enabled(self) -> bool:
        """True when a relay and our address are set: replies and acknowledgements can go out."""
        return bool(self.smtp_relay_host and self.email_address)

    @property
    def chat_topic_pairs(self) -> list[tuple[str, str]]:
        """The chat topics as (label, queue)."""
        pairs = []
        for item in _split(self.chat_topics):
            label, _, queue = item.partition("=")
            pairs.append((label.strip(), (queue or label).strip()))
        return pairs

    @property
    def chat_embed_origin_list(self) -> list[str]:
        """The origins of websites that may frame the /chat page."""
        return [item.rstrip("/").lower() for item in _split(self.chat_embed_origins)]

    @property
    def language_candidate_list(self) -> list[str]:
        """The languages detection chooses among (empty: every language the detector knows)."""
        return [item.lower() for item in _split(self.language_candidates)]

    @property
    def complaint_keyword_list(self) -> list[str]:
        """The words and phrases that mark a message as a complaint."""
        return _split(self.complaint_keywords)

    def signing_key(self) -> bytes:
        """The secret key, creating and keeping a random one in the data directory when none is set."""
        if self.secret_key.get_secret_value():
            return self.secret_key.get_secret_value().encode()
        return _persistent_random_key(self.data_dir / "secret.key")


def _split(value: str) -> list[str]:
    return [item.strip() for item in value.split(",") if item.strip()]


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
