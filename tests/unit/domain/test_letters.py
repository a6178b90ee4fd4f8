"""R9: a request, a selection and a settlement decision each issue their letters exactly once
(digital post to municipalities, post to persons); a refused command issues none."""

from __future__ import annotations

from dataclasses import replace

from settlement_domain import commands as c
from settlement_domain.model import Letter
from tests.given import (
    IMDI,
    OSLO,
    decided,
    decided_quota,
    distribution_list,
    events_named,
    person,
    refused,
    selected,
)


def test_a_request_issues_a_request_letter_to_the_municipality(given):
    result = given.handle(IMDI, c.RequestSettlement("0301", 2025, 10, 1))
    letter = events_named(given, "LetterIssued")[0]
    assert (letter.kind, letter.channel, letter.municipality, letter.year, letter.person_ids) == (
        "request",
        "digital",
        "0301",
        2025,
        [],
    )
    assert result.extra["letter_id"] == str(letter.originator_id)


def test_a_revised_request_issues_another_letter(given):
    given.handle(IMDI, c.RequestSettlement("0301", 2025, 10, 1))
    given.handle(IMDI, c.RequestSettlement("0301", 2025, 12, 1, reason="More need"))
    assert len({e.originator_id for e in events_named(given, "LetterIssued")}) == 2


def test_a_selection_issues_a_selection_letter_naming_the_selected_and_the_lists_year(given):
    app = given
    decided_quota(app, persons=2, minors=0, year=2026)
    accepted, declined = person(app), person(app)
    list_id = distribution_list(app, "0301", [accepted, declined], year=2026)
    before = app.position()
    result = app.handle(OSLO, c.ApproveDistributionList(list_id, (accepted,), (c.Decline(declined, "No"),)))
    letter = events_named(app, "LetterIssued", before)[0]
    assert (letter.kind, letter.channel, letter.municipality, letter.person_ids, letter.year) == (
        "selection",
        "digital",
        "0301",
        [accepted],
        2026,
    )
    assert result.extra["letter_id"] == str(letter.originator_id)


def test_declining_everyone_issues_no_selection_letter(given):
    someone = person(given)
    list_id = distribution_list(given, "0301", [someone])
    before = given.position()
    given.handle(OSLO, c.ApproveDistributionList(list_id, (), (c.Decline(someone, "No housing"),)))
    assert events_named(given, "LetterIssued", before) == []


def test_a_decision_issues_one_letter_to_the_municipality_and_one_by_post_to_the_person(given_places):
    someone = person(given_places)
    selected(given_places, OSLO, [someone])
    before = given_places.position()
    decided(given_places, someone)
    letters = events_named(given_places, "LetterIssued", before)
    assert sorted((e.kind, e.channel, e.municipality, tuple(e.person_ids), e.year) for e in letters) == [
        ("decision_municipality", "digital", "0301", (someone,), 2025),
        ("decision_person", "post", "0301", (someone,), 2025),
    ]


def test_a_retried_command_issues_its_letter_exactly_once(given):
    app = given
    ctx = replace(IMDI, idempotency_key="req-0301-2025")
    first = app.handle(ctx, c.RequestSettlement("0301", 2025, 100, 5))
    position = app.position()
    again = app.handle(ctx, c.RequestSettlement("0301", 2025, 100, 5))
    assert app.position() == position
    assert again.replayed and (again.id, again.version, again.extra) == (first.id, first.version, first.extra)
    assert len(events_named(app, "LetterIssued")) == 1


def test_letter_ids_derive_from_their_cause(given_places):
    app = given_places
    someone = person(app)
    list_id = selected(app, OSLO, [someone])
    letter = events_named(app, "LetterIssued")[-1]
    dlist = app.distribution_list(list_id)
    assert letter.originator_id == Letter.create_id(dlist.id, dlist.version, "selection")
    decided(app, someone)
    refugee = app.refugee(someone)
    assert {e.originator_id for e in events_named(app, "LetterIssued")[-2:]} == {
        Letter.create_id(refugee.id, refugee.version, kind)
        for kind in ("decision_municipality", "decision_person")
    }


def test_a_refused_command_issues_no_letter(given):
    app = given
    app.handle(IMDI, c.RequestSettlement("0301", 2025, 1, 0))
    with refused(app, "R1"):  # a revision without a reason
        app.handle(IMDI, c.RequestSettlement("0301", 2025, 2, 0))
    someone = person(app)
    list_id = distribution_list(app, "0301", [someone])
    with refused(app, "R4"):  # no quota decision: no selection, no letter
        app.handle(OSLO, c.ApproveDistributionList(list_id, (someone,)))
    assert len(events_named(app, "LetterIssued")) == 1
