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
    checkpoint_key_file: Path = Path("var/checkpoint-key")
    """R20: the Ed25519 key that signs checkpoints of the hash chain (created, mode 0600, by the first
    ``settlement audit checkpoint``). Keep it outside the database and its backups."""
    checkpoint_public_key: str | None = None
    """R20: the checkpoint key's public half (64 hex digits), for verifying where the key is not at hand."""
    search_key: SecretStr | None = None
    """R21: the key of the person search's blind index (16 characters or more); unset means a random one
    kept in ``search_key_file``. Every process of one store needs the same key."""
    search_key_file: Path = Path("var/search-key")
    projection_poll_seconds: float = 0.2
    """How often the in-process projection runner looks for new events when it has caught up."""
