"""Bokmål everywhere a person reads: every message of the pages has its nb translation; Norwegian formats."""

from __future__ import annotations

from datetime import UTC, date, datetime

from api.web import i18n
from api.web.refusals import RULES, explain
from settlement_domain.errors import RuleViolation


def test_every_message_of_the_pages_has_a_bokmal_translation() -> None:
    # Run `python -m api.web.i18n` to add new messages to the catalog, then translate them.
    assert i18n.missing_translations() == []


def test_the_catalog_check_finds_a_message_without_translation(tmp_path, monkeypatch) -> None:
    catalog = tmp_path / "messages.po"
    catalog.write_text('msgid ""\nmsgstr ""\n"Content-Type: text/plain; charset=utf-8\\n"\n', "utf-8")
    monkeypatch.setattr(i18n, "CATALOG", catalog)
    assert "Log in" in i18n.missing_translations()


def test_dates_and_numbers_are_written_the_norwegian_way() -> None:
    assert i18n.format_date(date(2026, 11, 30)) == "30.11.2026"
    assert i18n.format_moment(datetime(2026, 11, 30, 13, 5, tzinfo=UTC)) == "30.11.2026 14:05"  # Oslo time
    assert i18n.format_number(12345) == "12\u00a0345"
    assert i18n.format_number(1.5) == "1,5"
    assert i18n.format_number("<5") == "<5"
    assert i18n.parse_date("30.11.2026") == i18n.parse_date("2026-11-30") == date(2026, 11, 30)


def test_bokmal_is_the_default_and_english_is_chosen_by_accept_language_or_the_switch() -> None:
    assert i18n.choose_locale(None, None) == "nb"
    assert i18n.choose_locale(None, "en-GB,en;q=0.9,nb;q=0.8") == "en"
    assert i18n.choose_locale(None, "nn-NO,en;q=0.5") == "nb"
    assert i18n.choose_locale(None, "de-DE") == "nb"
    assert i18n.choose_locale("en", "nb") == "en"
    # q=0 is "not acceptable" (RFC 9110): never the refused language, and * stands for the others.
    assert i18n.choose_locale(None, "nb;q=0") == "en"
    assert i18n.choose_locale(None, "nb;q=0, de") == "en"
    assert i18n.choose_locale(None, "de, en;q=0") == "nb"
    assert i18n.choose_locale(None, "nb;q=0,*") == "en"
    assert i18n.choose_locale(None, "en;q=0,*;q=0.5") == "nb"
    assert i18n.choose_locale(None, "en;q=0.0, nb;q=0.1") == "nb"
    assert i18n.choose_locale(None, "en;level=1;q=0.9, nb;q=0.8") == "en"
    assert i18n.choose_locale(None, "en;q=bad, nb;q=0.2") == "nb"


def test_each_r7_refusal_is_explained_in_bokmal_with_its_rule_code() -> None:
    for rule in ("R7a", "R7b", "R7c", "R7d", "R7e", "R7f"):
        words = explain("nb", RuleViolation(rule, "English detail"))
        assert words.endswith(f"({rule})") and words != explain("en", RuleViolation(rule, "x"))
    assert "ubehandlet avvik" in explain("nb", RuleViolation("R7c", "x"))
    assert set(RULES) >= {"R1", "R2", "R3", "R4", "R5", "R6", "R11", "R16"}
