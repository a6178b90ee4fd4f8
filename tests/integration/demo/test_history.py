"""The generated history: 357 municipalities, repeatable for a seed, in the shape of the real years."""

from __future__ import annotations

import io
from collections import Counter, defaultdict

import pytest
from rich.console import Console

from api.cli import language
from api.demo.history import (
    COUNTIES,
    GenerationSummary,
    generate,
    municipalities,
    print_summary,
    rich_progress,
    scale_for_events,
)
from settlement_domain.application import SettlementApp
from settlement_domain.commands import RegisterMunicipality
from settlement_domain.context import Actor, CommandContext, Role
from settlement_domain.persistence import store_environment

SCALE = 0.002


def run(url: str, seed: int = 7) -> tuple[SettlementApp, GenerationSummary]:
    app = SettlementApp(store_environment(url))
    return app, generate(app, SCALE, seed=seed)


def test_the_country_has_357_municipalities_numbered_within_their_2024_counties() -> None:
    plans = municipalities()
    assert len(plans) == 357
    assert len({p.number for p in plans}) == 357 and len({p.name for p in plans}) == 357
    county_numbers = {name: number for number, (name, _) in COUNTIES.items()}
    assert all(p.number.startswith(county_numbers[p.county]) for p in plans)
    assert Counter(p.county for p in plans) == {name: count for name, count in COUNTIES.values()}
    assert {p.name for p in plans} >= {"Oslo", "Bergen", "Trondheim", "Stavanger", "Drammen", "Tromsø"}
    assert municipalities() == plans


def test_a_seed_gives_the_same_history(database_url: str, tmp_path) -> None:
    app, first = run(database_url)
    app.close()
    other, second = run(f"sqlite:///{tmp_path / 'again.db'}")
    other.close()

    assert first.events == second.events > 0
    assert first.settled_by_year == second.settled_by_year
    assert first.refusals == second.refusals
    assert (first.persons, first.families, first.lists) == (second.persons, second.families, second.lists)


def test_the_history_has_the_shape_of_the_real_years(database_url: str) -> None:
    app, summary = run(database_url, seed=3)
    try:
        events = [
            app.mapper.to_domain_event(n) for n in app.recorder.select_notifications(start=1, limit=10**6)
        ]
    finally:
        app.close()
    assert len(events) == summary.events
    assert scale_for_events(summary.events) == pytest.approx(SCALE, rel=0.3)

    settled = summary.settled_by_year
    low = max(settled[y] for y in range(2018, 2022))
    assert min(settled[y] for y in range(2022, 2025)) > settled[2016] > settled[2017] > low > 0
    assert settled[2025] > low
    assert sum(summary.decided_by_year.values()) < sum(summary.requested_by_year.values())

    kinds = Counter(type(e).__name__ for e in events)
    assert kinds["MunicipalityRegistered"] == summary.municipalities == 357
    assert kinds["SettlementRequested"] >= 357 * 10 and kinds["QuotaDecided"] >= 357 * 10
    registered = [e for e in events if type(e).__name__ == "RefugeeRegistered"]
    assert len(registered) == summary.persons
    minors = sum(e.unaccompanied_minor for e in registered)
    assert minors == summary.unaccompanied_minors and 0 < minors / len(registered) < 0.1
    assert {"DistributionListWithdrawn", "RefugeeDeclined", "DeviationResolved"} <= set(kinds)
    assert summary.refusals["R5"] > 0 and summary.refusals["R7c"] + summary.refusals["R7e"] > 0

    # Families stay whole: selected together on one list, and moved in on one day.
    family_of = {e.refugee_id: e.originator_id for e in events if type(e).__name__ == "FamilyMemberAdded"}
    sizes = Counter(family_of.values())
    assert max(sizes.values()) <= 7 and min(sizes.values()) >= 1
    selected: dict[object, set] = defaultdict(set)
    moved: dict[object, set] = defaultdict(set)
    selected_count: Counter = Counter()
    for e in events:
        family = family_of.get(e.originator_id)
        if family is None:
            continue
        if type(e).__name__ == "RefugeeSelected":
            selected[family].add((e.list_id, e.municipality))
            selected_count[family] += 1
        elif type(e).__name__ == "SettlementDateRegistered":
            moved[family].add(e.settlement_date)
    assert selected and all(len(lists) == 1 for lists in selected.values())
    assert all(selected_count[f] == sizes[f] for f in selected)
    assert all(len(days) == 1 for days in moved.values())


def test_the_generator_wants_an_empty_store(tmp_path) -> None:
    app = SettlementApp(store_environment(f"sqlite:///{tmp_path / 'used.db'}"))
    try:
        imdi = CommandContext(actor=Actor("imdi", Role.IMDI), correlation_id="test")
        app.handle(imdi, RegisterMunicipality(number="0301", name="Oslo", county="Oslo"))
        with pytest.raises(ValueError, match="empty store"):
            generate(app, SCALE)
    finally:
        app.close()


def _printed(summary: GenerationSummary) -> str:
    out = io.StringIO()
    console = Console(file=out, width=200, color_system=None)
    with rich_progress(console) as report:
        report(120, 120, summary)
    print_summary(summary, console)
    return out.getvalue()


def test_the_history_s_totals_are_printed_in_bokmal_by_default_and_in_english_on_request(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    summary = GenerationSummary(scale=0.5, seed=7, municipalities=357, events=762_345, commands=401_000)
    summary.persons, summary.families, summary.lists, summary.lists_withdrawn = 12_345, 6_000, 3_100, 40
    summary.refusals.update({"R5": 1_204, "R4": 12})
    summary.requested_by_year[2016] = 7_650
    summary.settled_by_year[2026] = 1_500  # moved in after the last year
    summary.seconds = 100.0

    monkeypatch.delenv("SETTLEMENT_LANG", raising=False)
    language.choose(None)
    bokmal = _printed(summary)
    assert "Generert historikk (skala 0,5, frø 7)" in bokmal
    assert "hendelser lagret" in bokmal and "762\u00a0345" in bokmal
    assert "hendelser per sekund" in bokmal and "7\u00a0623 (100 s)" in bokmal
    assert "12\u00a0345 i 6\u00a0000 familier" in bokmal and "3\u00a0100 (40 trukket tilbake)" in bokmal
    assert "avviste kommandoer" in bokmal and "R4 12, R5 1\u00a0204" in bokmal
    assert "Personer per år" in bokmal and "anmodet" in bokmal and "7\u00a0650" in bokmal
    assert "historikk" in bokmal and "12\u00a0345 personer, 401\u00a0000 kommandoer" in bokmal
    assert "events" not in bokmal and "persons" not in bokmal

    language.choose("en")
    try:
        english = _printed(summary)
    finally:
        language.choose(None)
    assert "Generated history (scale 0.5, seed 7)" in english
    assert "762,345" in english and "12,345 in 6,000 families" in english and "R5 1,204" in english
    assert "Persons per year" in english and "12,345 persons, 401,000 commands" in english
    assert "hendelser" not in english
