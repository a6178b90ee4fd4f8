"""What the service says to a person, in the reader's language: the domain's refusals and the edges' own.

The domain refuses with an English template and its values (:class:`settlement_domain.errors.DomainError`:
``template``, ``params``; a value that is words is a :class:`~settlement_domain.errors.Text`); an edge
renders them here through the nb catalog (``api/web/locale``), bokmål by default and English on request.
Dates come as ``30.11.2026`` in bokmål and ``2026-11-30`` in English.

The edges' own messages (problems of the HTTP layer, the web framework's validation messages) are raised
as English text; :func:`translate` finds the template of :data:`EDGE_MESSAGES` the text was made from and
gives its translation with the same values. A message no template matches stays English, which
``tests/unit/web/test_problem_language.py`` refuses for every message raised in ``src/api/http``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from datetime import date, datetime
from functools import cache
from typing import Any

from babel.messages.pofile import read_po

from api.web.i18n import CATALOG, N_, format_date, format_moment, translations
from projections.audit_trail import decode_text
from settlement_domain.errors import DomainError, Text
from settlement_domain.model.distribution_list import ListStatus
from settlement_domain.permissions import PERMISSIONS, ROLE_NAMES

# Words the domain passes as values (``Text(kind)``), which extraction from the code cannot see.
DOMAIN_WORDS = (
    *(permission.action for permission in PERMISSIONS.values()),
    *ROLE_NAMES.values(),
    *(status.value for status in ListStatus),
    N_("request"),
    N_("decision"),
    N_("settled"),
    N_("open"),
    N_("withdrawn"),
    N_("filled"),
    N_("No %(kind)s %(key)s."),  # NotFound's message, and what it names:
    N_("person"),
    N_("municipality"),
    N_("distribution list"),
    N_("support case"),
    N_("letter"),
    N_("import"),
    N_("report"),
    N_("family"),
    N_("capacity report"),
    N_("deviation"),
    N_("selection"),
    N_("case file"),
)

# The edges' own messages as templates: a text made from one of them is translated with its values.
EDGE_MESSAGES = (
    # api.http.auth (401)
    N_("The local token secret file %(path)s is empty."),
    N_("The token's signing key is not among the configured keys."),
    N_("The token's signing key could not be found."),
    N_("The bearer token is not a JWT."),
    N_("The token's signing algorithm is not accepted here."),
    N_("The token has expired."),
    N_("The token was issued by an issuer this service does not trust."),
    N_("The token is meant for another audience."),
    N_("The token's signature does not verify."),
    N_("The token is not valid: %(kind)s."),
    N_("The token has no usable subject."),
    N_("The token's role is not one of imdi, municipality, reception, auditor."),
    N_("The token's municipality claim is not a 4-digit string."),
    N_("A municipality token needs a 4-digit municipality claim."),
    N_("Send a bearer token: Authorization: Bearer <JWT>."),
    # api.http.errors, server, context, reads, schemas, spreadsheets and the controllers
    N_("The request is not valid; see errors."),
    N_("The request is not valid: %(count)s problems, the first %(listed)s listed."),
    N_("The body is larger than %(limit)s bytes."),
    N_("Something went wrong on our side."),
    N_("This server has too many open connections; try again shortly."),
    N_("The request line and headers are larger than %(limit)s bytes."),
    N_("The request line and headers did not arrive within %(seconds)s s."),
    N_("The read models have reached position %(reached)s, not yet %(wanted)s."),
    N_("The projections stopped on an error; the operator has been told."),
    N_("The %(name)s read model is not installed; run `settlement projections run`."),
    N_("The %(name)s read model is being rebuilt for a new version of the service; try again shortly."),
    N_("The cursor is not one this list handed out."),
    N_("min_position is beyond the end of the event log."),
    N_("beyond the end of the event log"),
    N_("The cursor is not valid."),
    N_("not a cursor this list handed out"),
    N_("The path or query string contains a NUL character."),
    N_("contains a NUL character"),
    N_("The body must be JSON, sent as Content-Type: application/json."),
    N_("The body is not valid UTF-8."),
    N_("not valid UTF-8"),
    N_("The body nests arrays and objects more than %(depth)s deep."),
    N_("nested more than %(depth)s deep"),
    N_("An object in the body has more than %(keys)s keys."),
    N_("an object with more than %(keys)s keys"),
    N_("Idempotency-Key is 1-128 letters, digits or . _ : -"),
    N_("1-128 letters, digits or . _ : -"),
    N_("%(parameter)s must be between the years %(first)s and %(last)s."),
    N_("must be between the years %(first)s and %(last)s"),
    N_("Reports come as %(json)s, %(csv)s or %(xlsx)s."),
    N_(
        "Only persons awaiting a settlement date are listed here; settled persons are in "
        "/reports/settled-persons."
    ),
    N_("only true is served"),
    N_("Name the municipality."),
    N_("required for this role"),
    N_("%(running)s imports are running or waiting their turn; try again shortly."),
    N_("This file is being imported with other options; wait until that import has finished."),
    N_(
        "Send the file as multipart/form-data (a part named file) or as the body, Content-Type: text/csv "
        "(IMDi's statistics) or application/x-ndjson (a person-level history)."
    ),
    N_("%(key)s must be one line of at most 300 characters."),
    N_("must be one line of at most 300 characters"),
    N_("%(key)s must name a file."),
    N_("must name a file"),
    N_("%(key)s must be true or false."),
    N_("must be true or false"),
    N_("%(key)s must be given once, as text."),
    N_("must be given once, as text"),
    N_("%(key)s is not a field of this form."),
    N_("is not a field of this form"),
    N_("%(key)s must be one part of the form."),
    N_("must be one part of the form"),
    N_("%(key)s is empty."),
    N_("is empty"),
    N_("%(key)s needs a reason."),
    N_("needs a reason"),
    N_("Changed at the same moment"),
    # api.imports: why a file or a line of it is refused (the import report, the import page)
    N_("The header lacks the columns of IMDi's long format: %(columns)s."),
    N_("the figure %(text)s is not a number"),
    N_("the figure %(text)s is not a whole number of persons"),
    N_("the figure %(text)s is not a possible number of persons"),
    N_("The file is not UTF-8 text."),
    N_("The file is empty."),
    N_("The file has no lines."),
    N_("Line %(line)s is not CSV as IMDi writes it (%(error)s)."),
    N_("the row has %(count)s columns, the header %(width)s"),
    N_("the year %(year)s is not a year"),
    N_("the municipality number %(number)s has not 4 digits"),
    N_("%(municipality)s %(year)s %(kind)s is given twice (also on line %(line)s)"),
    N_("the row names neither a municipality nor a county"),
    N_("the line is longer than %(limit)s characters"),
    N_("the line is not a JSON object"),
    N_("%(key)s: %(value)s is not one of %(choices)s"),
    N_("person: a source id is 1-64 letters, digits or . _ : / -, starting with a letter or digit"),
    N_("%(key)s: a text is needed"),
    N_("%(key)s: a date YYYY-MM-DD is needed"),
    N_("%(key)s: not a date of the calendar"),
    N_("%(key)s: a year is a whole number"),
    N_("%(key)s: true or false"),
    N_("%(key)s: an object is needed"),
    N_("unknown field %(field)s"),
    N_("%(key)s: unknown field"),
    N_("%(key)s: one of %(choices)s"),
    N_("%(key)s: a list of texts is needed"),
    N_("%(key)s: %(reason)s"),  # a field and why (a value object's refusal): the reason by its own template
    # The web framework's own answers (litestar's details) and the validation messages of its parsers
    N_("Not Found"),
    N_("Method Not Allowed"),
    N_("Bad Request"),
    N_("Forbidden"),
    N_("Unauthorized"),
    N_("Internal Server Error"),
    N_("Not Acceptable"),
    N_("Request Entity Too Large"),
    N_("Too Many Requests"),
    N_("Validation failed for %(method)s %(path)s"),
    N_("Field required"),
    N_("Extra inputs are not permitted"),
    N_("Input should be a valid integer"),
    N_("Input should be a valid integer, unable to parse string as an integer"),
    N_("Input should be a valid integer, got a number with a fractional part"),
    N_("Input should be a valid string"),
    N_("Input should be a valid boolean"),
    N_("Input should be a valid boolean, unable to interpret input"),
    N_("Input should be a valid number"),
    N_("Input should be a valid number, unable to parse string as a number"),
    N_("Input should be a valid date"),
    N_("Input should be a valid date in the format YYYY-MM-DD, %(reason)s"),
    N_("Input should be a valid datetime, %(reason)s"),
    N_("Input should be a valid datetime"),
    N_("Input should be a valid UUID, %(reason)s"),
    N_("Input should be a valid UUID"),
    N_("Input should be a valid list"),
    N_("Input should be a valid dictionary"),
    N_("Input should be a valid dictionary or instance of %(model)s"),
    N_("Input should be %(expected)s"),
    N_("Input should be greater than %(limit)s"),
    N_("Input should be greater than or equal to %(limit)s"),
    N_("Input should be less than %(limit)s"),
    N_("Input should be less than or equal to %(limit)s"),
    N_("String should have at least %(limit)s characters"),
    N_("String should have at least %(limit)s character"),
    N_("String should have at most %(limit)s characters"),
    N_("String should have at most %(limit)s character"),
    N_("String should match pattern '%(pattern)s'"),
    N_("List should have at least %(limit)s items after validation, not %(count)s"),
    N_("List should have at least %(limit)s item after validation, not %(count)s"),
    N_("List should have at most %(limit)s items after validation, not %(count)s"),
    N_("List should have at most %(limit)s item after validation, not %(count)s"),
    N_("Value error, %(reason)s"),
    # the reasons of our own validators (api.http.schemas), inside "Value error, ..."
    N_("contains a control character (U+%(code)s), which is not allowed here"),
    N_("must be a date written YYYY-MM-DD"),
    N_("must be a JSON integer (not a string, a boolean or a decimal)"),
    N_("Input should be %(choices)s or %(last)s"),
    N_("Input should be a valid date or datetime, %(reason)s"),
    N_("month value is outside expected range of 1-12"),
    N_("day value is outside expected range"),
    N_("input is too short"),
    N_("invalid character in year"),
    N_("Invalid RFC3339 encoded datetime"),
    N_("Input data was truncated"),
    N_("Unable to extract tag using discriminator %(tag)s"),
    N_("The value found using %(rest)s"),
    N_("Expected `%(expected)s`, got `%(got)s`"),
    N_("Expected `%(expected)s`, got `%(got)s` - at `%(path)s`"),
    N_("Object missing required field `%(field)s`"),
    N_("Object missing required field `%(field)s` - at `%(path)s`"),
    N_("Invalid enum value %(value)s"),
    N_("Invalid enum value %(value)s - at `%(path)s`"),
    N_("Expected `%(expected)s` >= %(limit)s"),
    N_("Expected `%(expected)s` <= %(limit)s"),
    N_("Expected `%(expected)s` >= %(limit)s - at `%(path)s`"),
    N_("Expected `%(expected)s` <= %(limit)s - at `%(path)s`"),
    N_("Expected `%(expected)s` of length <= %(limit)s"),
    N_("Expected `%(expected)s` of length >= %(limit)s"),
    N_("Expected `%(expected)s` matching regex %(pattern)s"),
    N_("Missing required %(kind)s parameter %(name)s for path %(path)s"),
    N_("Missing required %(kind)s parameter %(name)s for url %(path)s"),
    # api.http.controllers.imports (503)
    N_("The import could not be started: the store's database cannot be written now; try again shortly."),
    # argparse's usage errors (the command line's OneLineParser)
    N_("the following arguments are required: %(names)s"),
    N_("unrecognized arguments: %(words)s"),
    N_("argument %(argument)s: %(problem)s"),
    N_("invalid choice: %(value)s (choose from %(choices)s)"),
    N_("expected one argument"),
    N_("expected at least one argument"),
    N_("invalid int value: %(value)s"),
    N_("invalid float value: %(value)s"),
    N_("not allowed with argument %(other)s"),
    N_("one of the arguments %(names)s is required"),
    N_("ambiguous option: %(option)s could match %(matches)s"),
)


def render(locale: str, template: str, params: Mapping[str, Any] | None = None) -> str:
    """``template`` (an English msgid) in ``locale``, its values filled in."""
    text = translations(locale).gettext(template)
    if not params:
        return text
    return text % {key: render_value(locale, value) for key, value in params.items()}


def render_value(locale: str, value: Any) -> str:
    """A value of a message as the reader writes it: words translated, dates Norwegian in bokmål."""
    if isinstance(value, Text):
        return render(locale, value.template, value.params)
    if isinstance(value, list | tuple | set | frozenset):
        return ", ".join(render_value(locale, item) for item in value)
    if isinstance(value, datetime):
        return format_moment(value) if locale == "nb" else value.isoformat()
    if isinstance(value, date):
        return format_date(value) if locale == "nb" else value.isoformat()
    return str(value)


def error_text(locale: str, error: DomainError) -> str:
    """A domain error's message in ``locale``."""
    return render(locale, error.template, error.params)


def _pattern(template: str) -> re.Pattern[str]:
    # ``key`` names a field or parameter of the request (``revise needs a reason.``): only such a name
    # matches it, so that "%(key)s is empty." never takes a sentence ("The list is empty.").
    # A name used twice matches the same text again (a backreference), never a second group of that name.
    parts = re.split(r"%\((\w+)\)s", template.replace("%%", "%"))
    seen: set[str] = set()
    pieces = []
    for index, part in enumerate(parts):
        if index % 2 == 0:
            pieces.append(re.escape(part))
        elif part in seen:
            pieces.append(f"(?P={part})")
        else:
            seen.add(part)
            pieces.append((KEY if part == "key" else f"(?P<{part}>.+?)").replace("NAME", part))
    return re.compile(f"^{''.join(pieces)}$", re.DOTALL)


KEY = r"(?P<NAME>[A-Za-z_][A-Za-z0-9_.\[\]$-]*)"


MIN_FIXED_TEXT = 15  # a template of the catalog matches English text only with this much text of its own


@cache
def _patterns() -> tuple[tuple[str, re.Pattern[str]], ...]:
    """The edges' templates, then the catalog's other templates (the domain's refusals, for text stored
    before it was shown: an import report's conflicts), each longer one first so the most specific wins."""
    edge = sorted({template for template in EDGE_MESSAGES if "%(" in template}, key=len, reverse=True)
    catalog = sorted(
        {
            template
            for template in _catalog_ids()
            if "%(" in template
            and template not in edge
            and len(re.sub(r"%\(\w+\)s", "", template)) >= MIN_FIXED_TEXT
        },
        key=len,
        reverse=True,
    )
    return tuple((template, _pattern(template)) for template in (*edge, *catalog))


@cache
def _catalog_ids() -> tuple[str, ...]:
    """The message ids of the nb catalog, read from the .po file itself (not from gettext's internals)."""
    with CATALOG.open("rb") as file:
        catalog = read_po(file, locale="nb")
    return tuple(message.id for message in catalog if isinstance(message.id, str) and message.id)


def template_of(text: str) -> tuple[str, dict[str, str]] | None:
    """The template of :data:`EDGE_MESSAGES` (or of the domain's words) ``text`` was made from, and its values."""
    if text in _constants():
        return text, {}
    for template, pattern in _patterns():
        match = pattern.match(text)
        if match:
            return template, match.groupdict()
    return None


@cache
def _constants() -> frozenset[str]:
    return frozenset(
        template for template in (*EDGE_MESSAGES, *DOMAIN_WORDS, *_catalog_ids()) if "%(" not in template
    )


def translate(locale: str, text: str) -> str:
    """An edge's English ``text`` in ``locale`` (the text itself where no template matches)."""
    if locale == "en" or not text:
        return text
    found = template_of(text)
    if found is None:
        return text
    template, values = found
    # ``key`` is a field's name, never translated; every other value as the reader writes it
    return render(
        locale,
        template,
        {name: value if name == "key" else _value(locale, value) for name, value in values.items()},
    )


_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def _value(locale: str, value: str) -> str:
    """A value found in English text: a word of the catalog translated, a date written the reader's way."""
    if _ISO_DATE.match(value):
        try:
            return render_value(locale, date.fromisoformat(value))
        except ValueError:
            return value
    if value in _constants():
        return translations(locale).gettext(value)
    return translate(locale, value)  # a reason made from a template of its own ("Value error, ...")


def audit_summaries(locale: str, items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Audit rows with each ``summary`` in ``locale``: the view keeps the English line and its template
    (``summary_text``), rendered here through the catalog (a row of an older view: its English line)."""
    if locale == "en":
        return items
    return [{**item, "summary": audit_summary(locale, item)} for item in items]


def audit_summary(locale: str, item: Mapping[str, Any]) -> str:
    stored = item.get("summary_text")
    if locale == "en" or not stored:
        return str(item["summary"])
    return render_value(locale, decode_text(json.loads(stored)))
