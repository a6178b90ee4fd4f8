"""Settings: one typed object, read from the environment (prefix ``SETTLEMENT_``) once."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from pydantic import SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

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
    projection_poll_seconds: float = 0.2
    """How often the in-process projection runner looks for new events when it has caught up."""

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
