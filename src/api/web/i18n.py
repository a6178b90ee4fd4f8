"""Bokmål first: the pages' message catalogs (gettext, through Babel), the locale of a request, and the
Norwegian formats of dates and numbers.

Messages are written in English in the code and templates (``_("...")``); ``locale/nb/LC_MESSAGES/
messages.po`` gives their bokmål. nb is the default; English is chosen by ``Accept-Language`` or the
language switch. ``python -m api.web.i18n`` adds new messages to the catalog (with no translation, which
``tests/unit/web/test_catalog.py`` refuses until one is written).
"""

from __future__ import annotations

import io
import sys
from collections.abc import Iterable
from datetime import date, datetime
from decimal import Decimal
from functools import cache
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po, write_po
from babel.numbers import format_decimal
from babel.support import NullTranslations, Translations

HERE = Path(__file__).parent
CATALOG = HERE / "locale" / "nb" / "LC_MESSAGES" / "messages.po"
LOCALES = ("nb", "en")
DEFAULT_LOCALE = "nb"
OSLO = ZoneInfo("Europe/Oslo")
# How the messages are found: Python modules by their gettext calls, templates by Jinja2's extractor.
METHOD_MAP = [("**.py", "python"), ("templates/**.html", "jinja2")]
KEYWORDS = {"_": None, "N_": None, "gettext": None, "ngettext": (1, 2), "translate": (2,)}
# The domain's refusals and the other edges' messages: what the constructors of the errors are given.
SOURCES = HERE.parent.parent  # src/
ERROR_KEYWORDS = {
    **KEYWORDS,
    "RuleViolation": (2,),
    "refuse_input": (2,),
    "FactConflict": None,
    "Text": None,
    "DomainError": None,
    "ConcurrencyConflict": None,
    "IdempotencyKeyReused": None,
    "ReadNotRecorded": None,
    "require_own_municipality": (4,),
}
OTHER_SOURCES: list[tuple[Path, list[tuple[str, str]], dict[str, Any]]] = [
    (SOURCES / "settlement_domain", [("**.py", "python")], ERROR_KEYWORDS),
    (SOURCES / "api", [("web/**", "ignore"), ("**.py", "python")], ERROR_KEYWORDS),
    # The audit trail's summaries (``T`` is Text there), translated where they are shown.
    (SOURCES / "projections", [("audit_trail.py", "python"), ("**", "ignore")], {"T": None, "_if": (2,)}),
]


def N_(message: str) -> str:
    """Marks a message for the catalog where it is defined; it is translated where it is shown."""
    return message


@cache
def translations(locale: str) -> NullTranslations:
    """The catalog of ``locale``: nb from its .po file (compiled in memory), en the messages as written."""
    if locale != "nb":
        return NullTranslations()
    with CATALOG.open("rb") as file:
        catalog = read_po(file, locale="nb")
    buffer = io.BytesIO()
    write_mo(buffer, catalog)
    buffer.seek(0)
    return Translations(buffer)


def gettext(locale: str, message: str, **values: Any) -> str:
    """``message`` in ``locale``, with ``values`` filled in (``%(name)s``)."""
    text = translations(locale).gettext(message)
    return text % values if values else text


def choose_locale(chosen: str | None, accept_language: str | None) -> str:
    """The switch's choice, else the first of ``Accept-Language`` this service speaks, else bokmål.

    ``q=0`` says a language is not acceptable (RFC 9110, 12.5.4): ``en, nb;q=0`` never gets bokmål,
    and ``nb;q=0`` alone gets English; ``*`` stands for the languages not named."""
    if chosen in LOCALES:
        return chosen
    ranked: list[tuple[float, int, str]] = []
    refused: set[str] = set()
    named: set[str] = set()
    for index, part in enumerate((accept_language or "").split(",")):
        tag, *params = (piece.strip() for piece in part.split(";"))
        quality = 1.0
        for param in params:
            name, _eq, value = param.partition("=")
            if name.strip().lower() == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        locale = _locale_of(tag.lower())
        if locale is not None:
            named.add(locale)
        if quality <= 0:
            if locale is not None:
                refused.add(locale)
            continue
        ranked.append((-quality, index, tag.lower()))
    for _q, _i, tag in sorted(ranked):
        if tag == "*":
            others = [locale for locale in (DEFAULT_LOCALE, *LOCALES) if locale not in named]
            if others:
                return others[0]
            continue
        locale = _locale_of(tag)
        if locale is not None and locale not in refused:
            return locale
    if DEFAULT_LOCALE in refused:
        return next((locale for locale in LOCALES if locale not in refused), DEFAULT_LOCALE)
    return DEFAULT_LOCALE


def _locale_of(tag: str) -> str | None:
    primary = tag.split("-")[0]
    if primary in ("nb", "no", "nn"):
        return "nb"
    if primary == "en":
        return "en"
    return None


def format_date(value: date | datetime | str | None) -> str:
    """``30.11.2026``; a moment is shown as the day in Norway."""
    if value is None or value == "":
        return ""
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    if isinstance(value, datetime):
        value = value.astimezone(OSLO) if value.tzinfo else value
    return value.strftime("%d.%m.%Y")


def format_moment(value: datetime | str | None) -> str:
    """``30.11.2026 14:05``, Norwegian time."""
    if value is None or value == "":
        return ""
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    local = value.astimezone(OSLO) if value.tzinfo else value
    return local.strftime("%d.%m.%Y %H:%M")


def format_number(value: int | float | Decimal | str | None, locale: str = "nb") -> str:
    """``12 345`` (a non-breaking space between thousands) and ``1,5`` in bokmål; text (``<5``) as it is."""
    if value is None or not isinstance(value, (int, float, Decimal, str)):  # None, or a template's Undefined
        return ""
    if isinstance(value, str):
        return value
    return format_decimal(value, locale="nb_NO" if locale == "nb" else "en_GB")


def parse_date(text: str) -> date:
    """A date typed as ``30.11.2026`` (or ``2026-11-30``, as a date field sends it)."""
    text = text.strip()
    if "." in text:
        day, month, year = text.split(".")
        return date(int(year), int(month), int(day))
    return date.fromisoformat(text)


def extract_messages() -> Catalog:
    """Every message of the pages' Python modules and templates."""
    from api.messages import DOMAIN_WORDS  # the words the domain passes as values; imports this module

    catalog = Catalog(locale="nb", project="settlement", charset="utf-8")
    for filename, lineno, message, comments, _context in extract_from_dir(
        str(HERE), METHOD_MAP, keywords=KEYWORDS, comment_tags=("Translators:",)
    ):
        catalog.add(message, None, [(filename, lineno)], auto_comments=comments)
    for directory, method_map, keywords in OTHER_SOURCES:
        for filename, lineno, message, comments, _context in extract_from_dir(
            str(directory), method_map, keywords=keywords, comment_tags=("Translators:",)
        ):
            where = f"{directory.name}/{filename}"
            catalog.add(message, None, [(where, lineno)], auto_comments=comments)
    for word in DOMAIN_WORDS:
        if catalog.get(word) is None:
            catalog.add(word, None, [("api/messages.py", 0)])
    return catalog


def missing_translations() -> list[str]:
    """The messages in use that the nb catalog does not translate (an empty list when all are)."""
    with CATALOG.open("rb") as file:
        existing = read_po(file, locale="nb")
    missing = []
    for message in extract_messages():
        if not message.id:
            continue
        found = existing.get(message.id)
        strings: Iterable[object] = (  # babel's string may also be a list or None
            (found.string if isinstance(found.string, tuple) else (found.string,)) if found else ()
        )
        if found is None or not all(strings) or found.fuzzy:
            missing.append(message.id if isinstance(message.id, str) else message.id[0])
    return missing


def update_catalog() -> int:
    """Adds the messages in use to the nb catalog (untranslated) and drops those no longer used."""
    with CATALOG.open("rb") as file:
        existing = read_po(file, locale="nb")
    template = extract_messages()
    existing.update(template, no_fuzzy_matching=True)
    existing.obsolete.clear()
    with CATALOG.open("wb") as file:
        write_po(file, existing, omit_header=False, sort_output=True, ignore_obsolete=True, width=110)
    missing = missing_translations()
    for message in missing:
        print(f"untranslated: {message}", file=sys.stderr)
    return 1 if missing else 0


if __name__ == "__main__":
    sys.exit(update_catalog())
