"""The demo year: it plays end to end, shows real refusals with their rule codes, and replays idempotently."""

from __future__ import annotations

import io
import re
from datetime import date

import pytest
from rich.console import Console

from api.cli import language
from api.cli.main import main
from api.demo.story import play_story, story_anchor
from settlement_domain.application import SettlementApp
from settlement_domain.persistence import store_environment

SHOWN_RULES = {"R1", "R2", "R3", "R4", "R5", "R6", "R7a", "R7b", "R7c", "R7e", "R7f", "R11", "R12", "R16"}


def quiet() -> tuple[Console, io.StringIO]:
    out = io.StringIO()
    return Console(file=out, width=160, color_system=None), out


@pytest.fixture
def store(database_url: str) -> SettlementApp:
    app = SettlementApp(store_environment(database_url))
    yield app
    app.close()


def test_the_demo_year_plays_and_shows_the_refusals_with_their_rules(store: SettlementApp) -> None:
    console, out = quiet()
    report = play_story(store, console)

    assert report.appended == store.position() > 100
    assert set(report.refused_rules) >= SHOWN_RULES
    text = out.getvalue()
    assert "refused by R7c: The person has an unresolved deviation." in text
    assert "refused by R11: Unaccompanied minors under 15 are settled through Bufetat" in text
    assert "refused by R5" in text and "with an override" in text
    assert story_anchor(store) == report.anchor


def test_the_demo_year_leaves_the_given_application_and_its_clock_alone(database_url: str) -> None:
    # A running server's application plays the demo (serve --demo): the story walks its own days on an
    # application of its own over the same store, and the server's "today" never moves.
    def server_clock() -> date:
        return date(2025, 6, 16)

    app = SettlementApp(store_environment(database_url), clock=server_clock)
    try:
        report = play_story(app, quiet()[0])
        assert app.clock is server_clock
        assert app.position() == report.events_after > report.events_before == 0
    finally:
        app.close()


def test_playing_the_demo_year_again_appends_only_its_folder_read(store: SettlementApp) -> None:
    first = play_story(store, quiet()[0])
    console, out = quiet()
    before = store.position()
    second = play_story(store, console)

    # Commands replay from their idempotency keys; a read of a person folder is recorded every time (R6).
    new = [
        type(store.mapper.to_domain_event(n)).__name__
        for n in store.recorder.select_notifications(before + 1, 100)
    ]
    assert new == ["PersonFolderViewed"]
    assert second.appended == 1 and second.events_after == first.events_after + 1
    assert second.replayed == first.accepted - 1 and second.accepted == 1
    assert len(second.refusals) == len(first.refusals)
    assert "appended by this play" in out.getvalue()


def test_settlement_demo_runs_from_the_command_line(tmp_path, capsys: pytest.CaptureFixture[str]) -> None:
    url = f"sqlite:///{tmp_path / 'demo.db'}"
    assert main(["demo", "--database-url", url]) == 0
    assert main(["demo", "--database-url", url]) == 0
    out = capsys.readouterr().out
    assert "refused by R1" in out and "refused by R3" in out
    assert out.count("appended by this play") == 2


# English words of the story's narration, refusals, legend and summary: none is left in the bokmål story.
ENGLISH = re.compile(
    r"\b(the|registers|requests|refused|accepts|declines|proposes|decides|transfers|persons|minors|events|"
    r"commands|appended|replayed|accepted|deviation|settlement|quota|list|letter|found|today)\b",
    re.IGNORECASE,
)
NORWEGIAN_DATE = re.compile(r"\b\d{2}\.\d{2}\.\d{4}\b")
ISO_DATE = re.compile(r"\b\d{4}-\d{2}-\d{2}\b")


@pytest.fixture
def default_language(monkeypatch: pytest.MonkeyPatch) -> None:
    """No SETTLEMENT_LANG and no --lang left over from another test: the command line's default (and a
    terminal wide enough that no step is wrapped)."""
    monkeypatch.delenv("SETTLEMENT_LANG", raising=False)
    monkeypatch.setenv("COLUMNS", "400")
    language.choose(None)


def test_the_demo_year_is_told_in_bokmal_by_default_and_in_english_with_lang_en(
    default_language: None, tmp_path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["demo", "--database-url", f"sqlite:///{tmp_path / 'nb.db'}"]) == 0
    bokmal = capsys.readouterr().out
    # The refusals come from the domain's templates through the catalog, with their rule codes.
    assert "avvist etter R7c: Personen har et ubehandlet avvik." in bokmal
    assert "avvist etter R11: Enslige mindreårige under 15 år bosettes gjennom Bufetat" in bokmal
    assert "avvist etter R1: Bare IMDi kan sende anmodninger om bosetting." in bokmal
    assert "avvist som ikke funnet (en annen kommunes sak): Fant ikke fordelingsliste " in bokmal
    # Chapters, steps, legend and summary; names of municipalities and persons as they are.
    assert "Bosettingsdemo: et år med IMDi og fem kommuner" in bokmal
    assert "IMDi: anmoder Oslo om å bosette 600 personer (30 enslige mindreårige)" in bokmal
    assert "Mottak: overfører bosettingsdatoen for Samir Demo-Haddad i Oslo fra Mottak Øst" in bokmal
    assert "Stavanger: tar imot familien Kovalenko; utsøkingsbrev" in bokmal
    assert "kommandoer avvist" in bokmal and "lagret i denne kjøringen" in bokmal
    assert "ikke funnet ×2" in bokmal
    # Dates as a Norwegian reader writes them, and not one English word left.
    assert NORWEGIAN_DATE.search(bokmal) and not ISO_DATE.search(bokmal)
    assert [line for line in bokmal.splitlines() if ENGLISH.search(line)] == []

    assert main(["--lang", "en", "demo", "--database-url", f"sqlite:///{tmp_path / 'en.db'}"]) == 0
    english = capsys.readouterr().out
    assert "refused by R7c: The person has an unresolved deviation." in english
    assert "IMDi: requests Oslo to settle 600 persons (30 unaccompanied minors)" in english
    assert "refused as not found (another municipality's case): No distribution list " in english
    assert "commands refused" in english and "not found ×2" in english
    assert ISO_DATE.search(english) and not NORWEGIAN_DATE.search(english)
    assert "avvist" not in english and "Bosettingsdemo" not in english
    assert any(ENGLISH.search(line) for line in english.splitlines())  # the check above can fail


def test_settlement_lang_en_tells_the_demo_year_in_english(
    default_language: None, monkeypatch: pytest.MonkeyPatch, tmp_path, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("SETTLEMENT_LANG", "en")
    assert main(["demo", "--database-url", f"sqlite:///{tmp_path / 'en.db'}"]) == 0
    out = capsys.readouterr().out
    assert "Settlement demo: a year of IMDi and five municipalities" in out
    assert "refused by R3: The respond-by date must be after today." in out


def test_bad_demo_options_are_one_line_in_the_readers_language(
    default_language: None, tmp_path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"sqlite:///{tmp_path / 'store.db'}"
    assert main(["demo", "--seed", "3", "--database-url", url]) == 2
    assert capsys.readouterr().err.strip() == "settlement: --seed brukes bare sammen med --scale"
    assert main(["demo", "--scale", "0", "--database-url", url]) == 2
    assert capsys.readouterr().err.strip() == "settlement: --scale må være større enn 0"
    assert main(["--lang", "en", "demo", "--scale", "-1", "--database-url", url]) == 2
    assert capsys.readouterr().err.strip() == "settlement: --scale must be above 0"
    assert not (tmp_path / "store.db").exists()  # refused before the store is opened
    assert main(["demo", "--database-url", "sqlite:///:memory:"]) == 2
    assert capsys.readouterr().err.strip() == (
        "settlement: Demoen må spilles inn i et lager som en ny tilkobling kan åpne, ikke sqlite:///:memory:."
    )
