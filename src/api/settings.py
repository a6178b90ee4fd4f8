"""Settings: one typed object, read from the environment (prefix ``SETTLEMENT_``) once."""

from __future__ import annotations

from datetime import date

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
