"""Composition root shared by the command line and the HTTP app: settings in, application out."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date

from api.keys import search_key
from api.settings import Settings
from projections import person_search
from settlement_domain.application import SettlementApp
from settlement_domain.persistence import store_environment


def open_application(settings: Settings, *, clock: Callable[[], date] | None = None) -> SettlementApp:
    """The write side on the configured store (created on first use); ``clock`` fixes "today" in tests.

    Every process opens the store through here, so here the person search index gets its key (R21).
    """
    person_search.use_key(search_key(settings))
    cipher_key = settings.cipher_key.get_secret_value() if settings.cipher_key else None
    env = store_environment(
        settings.database_url,
        cipher_key=cipher_key,
        master_key=settings.master_key.get_secret_value() if settings.master_key else None,
        master_key_file=str(settings.master_key_file),
    )
    app = SettlementApp(env, clock=clock or date.today, settlement_cutoff=settings.settlement_cutoff)
    app.read_retention_years = settings.read_retention_years
    return app
