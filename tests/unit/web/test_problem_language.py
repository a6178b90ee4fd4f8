"""Bokmål in every message a person reads from the domain and the edges: each is a template the nb
catalog translates; none is an f-string the catalog cannot know."""

from __future__ import annotations

import ast
from datetime import date
from pathlib import Path

import pytest

from api import messages
from api.web import i18n
from settlement_domain.errors import NotFound, RuleViolation, Text
from settlement_domain.permissions import roles_in_words

SRC = Path(__file__).resolve().parents[3] / "src"

# The constructors whose first (or named) argument is a message a person reads.
DOMAIN_CONSTRUCTORS = {
    "RuleViolation": 1,
    "refuse_input": 1,
    "FactConflict": 0,
    "Text": 0,
    "DomainError": 0,
    "ConcurrencyConflict": 0,
    "IdempotencyKeyReused": 0,
}
EDGE_CONSTRUCTORS = {
    "Unauthenticated": 0,
    "ValidationException": 0,
    "UnsupportedMediaType": 0,
    "NotAcceptable": 0,
    "Busy": 0,
    "ReadModelsUnavailable": 0,
    "StaleRead": None,
    "_invalid": 1,  # the import form's field errors: ``<field> <message>.``
}


def _calls(root: Path, names: dict[str, int | None]) -> list[tuple[str, ast.Call, int | None]]:
    found = []
    for path in sorted(root.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text("utf-8"))):
            if isinstance(node, ast.Call):
                name = node.func.id if isinstance(node.func, ast.Name) else getattr(node.func, "attr", None)
                if name in names:
                    found.append((f"{path.relative_to(SRC)}:{node.lineno}", node, names[name]))
    return found


def _sample(node: ast.expr) -> str | None:
    """The text a message argument makes, with ``7`` for each value of an f-string; None if not text."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.JoinedStr):
        return "".join(part.value if isinstance(part, ast.Constant) else "7" for part in node.values)
    return None


def test_the_domain_raises_templates_not_formatted_text() -> None:
    # A message made by an f-string cannot be found in the catalog: give a template and its params.
    formatted = [
        where
        for root in (SRC / "settlement_domain", SRC / "api")
        for where, call, index in _calls(root, DOMAIN_CONSTRUCTORS)
        if index is not None
        and len(call.args) > index
        and isinstance(call.args[index], ast.JoinedStr | ast.BinOp)
    ]
    assert formatted == []


def test_every_message_an_edge_raises_has_a_bokmal_template() -> None:
    untranslated = []
    for where, call, index in _calls(SRC / "api" / "http", EDGE_CONSTRUCTORS):
        if index is None or len(call.args) <= index:
            continue
        text = _sample(call.args[index])
        if (
            text is not None
            and where.startswith("api/http/controllers/imports.py")
            and "_invalid" in ast.unparse(call.func)
        ):
            text = f"file {text}."
        if text is not None and messages.translate("nb", text) == text:
            untranslated.append((where, text))
    assert untranslated == []


def test_the_catalog_check_finds_a_refusal_of_the_domain_without_translation(tmp_path, monkeypatch) -> None:
    catalog = tmp_path / "messages.po"
    catalog.write_text('msgid ""\nmsgstr ""\n"Content-Type: text/plain; charset=utf-8\\n"\n', "utf-8")
    monkeypatch.setattr(i18n, "CATALOG", catalog)
    missing = set(i18n.missing_translations())
    assert {"The person has an unresolved deviation.", "Only %(roles)s may %(action)s."} <= missing
    assert {"approve distribution lists", "The token has expired.", "Field required"} <= missing


def test_a_refusal_is_rendered_in_bokmal_with_its_values_and_in_english_as_raised() -> None:
    error = RuleViolation(
        "R7e", "The date is before the person was selected (%(date)s).", params={"date": date(2026, 3, 2)}
    )
    assert error.message == "The date is before the person was selected (2026-03-02)."
    assert messages.error_text("en", error) == error.message
    assert messages.error_text("nb", error) == "Datoen er før personen ble tatt imot (02.03.2026)."
    assert messages.error_text("nb", NotFound("distribution list", "x")) == "Fant ikke fordelingsliste x."


def test_words_inside_a_message_are_translated_too() -> None:
    from settlement_domain.context import Role

    roles = roles_in_words({Role.IMDI, Role.MUNICIPALITY})
    assert str(roles) == "IMDi or the municipality"
    assert messages.render_value("nb", roles) == "IMDi eller kommunen"
    nested = Text("No vacant place: %(shortfall)s.", {"shortfall": Text("%(count)s places", {"count": 3})})
    assert messages.render_value("en", nested) == "No vacant place: 3 places."


@pytest.mark.parametrize(
    ("english", "bokmal"),
    [
        ("Field required", "Feltet er påkrevd"),
        ("Input should be greater than or equal to 0", "Verdien må være større enn eller lik 0"),
        ("The body is larger than 1000000 bytes.", "Innholdet er større enn 1000000 byte."),
        ("revise needs a reason.", "revise krever en begrunnelse."),
        ("Expected `int`, got `str` - at `$.year`", "Forventet `int`, fikk `str` – i `$.year`"),
        # our validators' reasons inside pydantic's "Value error, ..." (issue 11: no English left inside)
        (
            "Value error, contains a control character (U+0007), which is not allowed here",
            "Ugyldig verdi: inneholder et kontrolltegn (U+0007), som ikke er tillatt her",
        ),
        (
            "Value error, must be a date written YYYY-MM-DD",
            "Ugyldig verdi: må være en dato skrevet ÅÅÅÅ-MM-DD",
        ),
        ("Input should be 'asylum' or 'resettlement'", "Verdien må være 'asylum' eller 'resettlement'"),
        (
            "Input should be a valid date or datetime, month value is outside expected range of 1-12",
            "Verdien må være en gyldig dato eller et gyldig tidspunkt, måneden er utenfor 1–12",
        ),
        ("Input data was truncated", "JSON-innholdet er avkortet eller ufullstendig"),
        # a field's template never takes a sentence, which the domain's own template translates instead
        ("Declining Amina needs a reason.", "Avslag på Amina krever en begrunnelse."),
    ],
)
def test_an_edge_message_is_translated_by_its_template(english: str, bokmal: str) -> None:
    assert messages.translate("nb", english) == bokmal
    assert messages.translate("en", english) == english


def test_a_message_no_template_knows_stays_as_it_is() -> None:
    assert messages.translate("nb", "Something nobody wrote a template for") == (
        "Something nobody wrote a template for"
    )


def test_a_template_that_names_a_value_twice_matches_the_same_value_twice() -> None:
    # A repeated placeholder is a backreference: building the patterns must not fail (every edge
    # message's translation goes through them), and the text matches only where both are the same.
    pattern = messages._pattern("%(year)s: the year %(year)s is closed for %(key)s.")
    assert pattern.match("2025: the year 2025 is closed for revise.") is not None
    assert pattern.match("2025: the year 2026 is closed for revise.") is None


def test_a_template_for_a_field_name_does_not_take_a_sentence() -> None:
    # "%(key)s is empty." is for a form field ("file is empty."): a sentence is left as it is.
    assert messages.translate("nb", "The list is empty.") == "The list is empty."
    assert messages.translate("nb", "file is empty.") != "file is empty."


@pytest.mark.parametrize(
    ("english", "bokmal"),
    [
        ("the year '20x3' is not a year", "året '20x3' er ikke et årstall"),
        (
            "0301 2013 vedtak is given twice (also on line 4)",
            "0301 2013 vedtak er oppgitt to ganger (også på linje 4)",
        ),
        ("birth_date: a date YYYY-MM-DD is needed", "birth_date: en dato ÅÅÅÅ-MM-DD må oppgis"),
        ("The file is not UTF-8 text.", "Filen er ikke UTF-8-tekst."),
        ("Reason: a line", "Reason: a line"),  # a field's name is never translated
    ],
)
def test_why_an_import_refuses_a_line_is_told_in_bokmal(english: str, bokmal: str) -> None:
    assert messages.translate("nb", english) == bokmal
