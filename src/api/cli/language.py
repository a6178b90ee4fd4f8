"""The command line's language: bokmål unless ``--lang en`` or ``SETTLEMENT_LANG=en`` asks for English.

Messages a caseworker reads (an import's report, a refusal) are written in English in the code,
``_("...")``, and translated through the pages' nb catalog (``api/web/locale``). ``LANG`` is not
consulted: a server's is usually English, and the service speaks bokmål unless asked.
"""

from __future__ import annotations

import os
from decimal import Decimal
from typing import Any

from api.messages import error_text, translate
from api.web.i18n import LOCALES, format_number
from settlement_domain.errors import DomainError

ENVIRONMENT = "SETTLEMENT_LANG"
_chosen: list[str] = []  # --lang of this run, if given


def choose(value: str | None) -> None:
    """``--lang``: the language of this run's messages."""
    _chosen[:] = [value] if value in LOCALES else []


def locale() -> str:
    if _chosen:
        return _chosen[0]
    wanted = (os.environ.get(ENVIRONMENT) or "").strip().lower()
    return wanted if wanted in LOCALES else "nb"


def _(message: str, /, **values: Any) -> str:
    """``message`` in the run's language, with ``values`` filled in (``%(name)s``); numbers as the reader
    writes them (``12 345`` in bokmål)."""
    from api.web.i18n import translations

    text = translations(locale()).gettext(message)
    if not values:
        return text
    return text % {key: number(value) if _is_number(value) else value for key, value in values.items()}


def number(value: int | float | Decimal) -> str:
    return format_number(value, locale()) if locale() == "nb" else f"{value:,}"


def _is_number(value: object) -> bool:
    return isinstance(value, int | float | Decimal) and not isinstance(value, bool)


def refusal(error: DomainError) -> str:
    """A domain error in the run's language."""
    return error_text(locale(), error)


def text(message: str) -> str:
    """English text made elsewhere (a stored message, an edge's): in the run's language where a template
    of the catalog matches it."""
    return translate(locale(), message)
