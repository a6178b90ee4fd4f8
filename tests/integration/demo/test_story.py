"""The demo year: it plays end to end, shows real refusals with their rule codes, and replays idempotently."""

from __future__ import annotations

import io
from datetime import date

import pytest
from rich.console import Console

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
