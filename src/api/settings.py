"""Settings: one typed object, read from the environment (prefix ``SETTLEMENT_``) once."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from settlement_domain.persistence import DEFAULT_DATABASE_URL
from settlement_domain.rules import DEFAULT_SETTLEMENT_CUTOFF


class Settings(BaseSettings):
    """Everything an operator can configure; see docs/operator-guide.md."""

    model_config = SettingsConfigDict(env_prefix="SETTLEMENT_", extra="ignore")

    database_url: str = DEFAULT_DATABASE_URL
    """``sqlite:///var/settlement.db`` (embedded default) or ``postgresql://user@host:5432/db``."""
    cipher_key: SecretStr | None = None
    """Encrypts the stored events at rest (AES-GCM, base64 key of 16, 24 or 32 bytes)."""
    settlement_cutoff: date = DEFAULT_SETTLEMENT_CUTOFF
    """R7e: no settlement date before this day."""

    jwt_secret: SecretStr | None = None
    """HS256 secret for local use; unset (and no JWKS) means a random one kept in ``jwt_secret_file``."""
    jwt_jwks: str | None = None
    """A JWKS file path or ``https://`` URL with the RS256/ES256 keys of an OIDC provider."""
    jwt_issuer: str = "settlement"
    jwt_audience: str = "settlement-api"
    jwt_secret_file: Path = Path("var/jwt-secret")
    """Where the local HS256 secret is created (mode 0600) when neither a secret nor a JWKS is set."""
    jwt_leeway_seconds: int = 30
    """Clock skew tolerated on ``exp`` between the token issuer and this server."""
    checkpoint_key_file: Path = Path("var/checkpoint-key")
    """R20: the Ed25519 key that signs checkpoints of the hash chain (created, mode 0600, by the first
    ``settlement audit checkpoint``). Keep it outside the database and its backups."""
    checkpoint_public_key: str | None = None
    """R20: the checkpoint key's public half (64 hex digits), for verifying where the key is not at hand."""
    search_key: SecretStr | None = None
    """R21: the key of the person search's blind index (16 characters or more); unset means a random one
    kept in ``search_key_file``. Every process of one store needs the same key."""
    search_key_file: Path = Path("var/search-key")
    master_key: SecretStr | None = None
    """R18: the master key that wraps every person's data key (32 characters or more); unset means a
    random one kept in ``master_key_file``. Keep it off the database's disk and out of its backups."""
    master_key_file: Path = Path("var/master-key")
    new_master_key: SecretStr | None = None
    """R18: the master key ``settlement keys rotate-master`` re-wraps the data keys with (when
    ``master_key`` is set; with the key file, the command makes the new key itself)."""
    read_retention_years: int = Field(default=5, ge=1, le=100)
    """R14: read records older than this (whole months) become unreadable: the process that runs the
    projections deletes their month keys by itself (``read_expiry_minutes``), as ``settlement keys expire`` does."""
    read_expiry_minutes: float = Field(default=60.0, ge=0)
    """R14: how often the process that runs the projections looks for read records past the retention
    period (at start, then every this many minutes; the work is done only when a month has passed it);
    0 turns it off (then run ``settlement keys expire`` from cron)."""
    projection_poll_seconds: float = 1.0
    """How often the in-process projection runner looks for new events when it has caught up: the
    fallback only, since this process's writes wake it at once, and on PostgreSQL so does the NOTIFY
    that every process's committed writes send (projections/engine/wakeup.py)."""

    # The caseworkers' web pages (api/web); see docs/operator-guide.md.
    web_secret: SecretStr | None = None
    """Signs the pages' CSRF tokens; unset means a random one kept in ``web_secret_file``."""
    web_secret_file: Path = Path("var/web-secret")
    web_session_dir: Path | None = None
    """Where server-side sessions are kept (needed with ``serve --workers``); unset: in memory."""
    web_session_idle_minutes: int = 30
    """A session unused this long has expired; the user signs in again."""
    web_session_hours: int = 10
    """A session ends this long after sign-in, used or not."""
    web_cookie_secure: bool = True
    """Session and CSRF cookies are sent over HTTPS only (browsers also send them to localhost)."""
    web_demo_login: bool = False
    """The local demo login page listing the demo users (``settlement serve --demo`` turns it on)."""
    web_assets_dir: Path | None = None
    """The installed npm packages (node_modules); unset: the repository's own."""
    oidc_issuer: str | None = None
    """The OIDC provider (ID-porten, Entra ID, ...): its ``/.well-known/openid-configuration`` is read."""
    oidc_client_id: str | None = None
    oidc_client_secret: SecretStr | None = None
    oidc_scopes: str = "openid profile"
    oidc_redirect_url: str | None = None
    """The callback the provider returns to (``https://host/login/callback``); unset: from the request."""
    oidc_role_claim: str = "role"
    """The ID token claim naming the user's role (a string, or a list of which the first mapped one counts)."""
    oidc_role_map: dict[str, str] = {}
    """Claim values to roles, like ``{"imdi-saksbehandler": "imdi"}``; unset: the values are the roles."""
    oidc_municipality_claim: str = "municipality"
    """The ID token claim with a municipality user's 4-digit municipality number."""
    oidc_subject_claim: str = "sub"
    # Operations (docs/operations.md) ------------------------------------------------------------
    read_database_url: str | None = None
    """Serve reads from this PostgreSQL URL (a streaming replica of ``database_url``); writes, and the
    projections, stay on ``database_url``. Only for API processes without projections."""
    log_level: Literal["debug", "info", "warning", "error", "critical"] = "info"
    """The lowest level written to the JSON-lines log (stderr)."""
    cors_origins: Annotated[list[str], NoDecode] = Field(default_factory=list)
    """Browser origins allowed to call the API (comma-separated, e.g. ``https://a.example,https://b.example``);
    none by default (no CORS headers at all); ``*`` allows any origin."""
    ready_max_lag: int = Field(default=1000, ge=0)
    """``/health/ready`` answers 503 while any read model is more than this many events behind the log."""

    # Limits on requests (docs/operations.md, "Limits on requests") ----------------------------
    max_body_bytes: int = Field(default=1_000_000, ge=1024)
    """The largest JSON request body (413 beyond it)."""
    max_header_bytes: int = Field(default=32_768, ge=1024)
    """The largest request line and headers together (431 beyond them)."""
    max_connections: int = Field(default=1000, ge=1)
    """Open connections per process; a request on one more answers 429."""
    keep_alive_seconds: float = Field(default=5.0, gt=0)
    """An idle connection (or a new one that sends nothing) is closed after this long."""
    header_timeout_seconds: float = Field(default=10.0, gt=0)
    """The request line and headers must arrive within this long of their first byte (else 408)."""
    body_timeout_seconds: float = Field(default=60.0, gt=0)
    """The request body must arrive within this long of the headers (else the connection is closed)."""

    @field_validator("cors_origins", mode="before")
    @classmethod
    def _split_origins(cls, value: object) -> object:
        if isinstance(value, str):
            return [origin.strip().rstrip("/") for origin in value.split(",") if origin.strip()]
        return value

    # Letters (R9, R17): see docs/letters.md.
    svarut_url: str | None = None
    """KS SvarUT's base URL; set, municipality letters go through SvarUT, else through the file channel."""
    svarut_user: str | None = None
    svarut_password: SecretStr | None = None
    svarut_timeout_seconds: float = 10.0
    """How long one call to SvarUT may take before it counts as failed (and is retried)."""
    letters_outbox_dir: Path = Path("var/outbox")
    """The file channel: one folder per letter sent (PDF and metadata), when SvarUT is not set."""
    letters_print_dir: Path = Path("var/print")
    """The print queue: one PDF per letter going by post, the address sheet in front."""
    letter_font_dir: Path = Path("/usr/share/fonts/truetype/dejavu")
    """Where DejaVuSans.ttf and DejaVuSans-Bold.ttf are (Debian's fonts-dejavu-core)."""
    letters_poll_seconds: float = 10.0
    """How often the outbox inside ``settlement serve`` (and ``settlement letters run``) looks for work."""
    letters_worker: bool = True
    """Run the letter outbox inside ``settlement serve`` (with its projections)."""
