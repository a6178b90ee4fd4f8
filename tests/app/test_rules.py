"""Every numbered rule, accepted and refused, through the application service on SQLite and PostgreSQL.

Given earlier commands, when a command runs, then the events it appended, or the refusing rule
(and nothing appended).
"""

from __future__ import annotations

from contextlib import contextmanager
from datetime import date, timedelta
from uuid import UUID, uuid4

import pytest

from settlement_domain.errors import NotFound, Refusal, RuleViolation
from tests.builders import (
    ADDRESS,
    AUDITOR,
    BERGEN,
    IMDI,
    OSLO,
    RECEPTION,
    distribution_list,
    events_since,
    municipalities,
    person,
    quota,
    selected,
    types_since,
)
from tests.conftest import TODAY


@contextmanager
def refused(app, rule: str, refusal: Refusal | None = None):
    """Then: the command is refused by ``rule`` and appends nothing."""
    before = app.position()
    with pytest.raises(RuleViolation) as caught:
        yield caught
    assert caught.value.rule == rule, caught.value
    if refusal is not None:
        assert caught.value.refusal is refusal
    assert app.position() == before, "a refused command appended events"


@contextmanager
def not_found(app):
    before = app.position()
    with pytest.raises(NotFound):
        yield
    assert app.position() == before


@pytest.fixture
def given(app):
    municipalities(app)
    return app


# R1 -------------------------------------------------------------------------------------------


def test_imdi_requests_places_and_a_request_letter_goes_out(given):
    app = given
    before = app.position()
    result = app.request_settlement(IMDI, "0301", 2025, 120, 10)
    assert types_since(app, before) == ["QuotaYearOpened", "SettlementRequested", "LetterIssued"]
    requested, letter = events_since(app, before)[1:]
    assert (requested.municipality, requested.year, requested.persons, requested.unaccompanied_minors) == (
        "0301", 2025, 120, 10
    )
    assert requested.meta == {"sub": "ingrid", "role": "imdi", "municipality": None,
                              "correlation_id": IMDI.correlation_id}
    assert (letter.kind, letter.channel, letter.municipality) == ("request", "digital", "0301")
    assert result.extra["letter_id"] == str(letter.originator_id)


def test_a_revised_request_is_kept_with_its_reason(given):
    app = given
    app.request_settlement(IMDI, "0301", 2025, 120, 10)
    before = app.position()
    app.request_settlement(IMDI, "0301", 2025, 150, 12, reason="Higher national need")
    revised = events_since(app, before)[0]
    assert (revised.persons, revised.revision, revised.reason) == (150, 1, "Higher national need")
    assert app.quota_year("0301", 2025).requested == (150, 12)


def test_a_revision_without_reason_is_refused(given):
    given.request_settlement(IMDI, "0301", 2025, 120, 10)
    with refused(given, "R1"):
        given.request_settlement(IMDI, "0301", 2025, 150, 12)


def test_only_imdi_sends_requests(given):
    with refused(given, "R1", Refusal.FORBIDDEN):
        given.request_settlement(OSLO, "0301", 2025, 120, 10)


@pytest.mark.parametrize(
    ("year", "persons", "minors", "field"),
    [(2025, -1, 0, "persons"), (2025, 5, 6, "unaccompanied_minors"), (2025, 5, -1, "unaccompanied_minors"),
     (1999, 5, 0, "year"), (TODAY.year + 3, 5, 0, "year")],
)
def test_request_bounds(given, year, persons, minors, field):
    with refused(given, "R1", Refusal.INPUT) as caught:
        given.request_settlement(IMDI, "0301", year, persons, minors)
    assert caught.value.field == field


def test_a_request_needs_a_registered_municipality(given):
    with not_found(given):
        given.request_settlement(IMDI, "9999", 2025, 10, 0)


# R2 -------------------------------------------------------------------------------------------


def test_the_municipality_decides_its_quota_and_revisions_are_kept(given):
    app = given
    before = app.position()
    app.decide_quota(OSLO, "0301", 2025, 100, 8, TODAY - timedelta(days=3))
    app.decide_quota(OSLO, "0301", 2025, 90, 8, TODAY)
    first, second = [e for e in events_since(app, before) if type(e).__name__ == "QuotaDecided"]
    assert (first.persons, first.revision, first.recorded_by_imdi) == (100, 0, False)
    assert (second.persons, second.revision) == (90, 1)
    assert app.quota_year("0301", 2025).decided == (90, 8)


def test_imdi_may_record_a_decision_on_the_municipalitys_behalf(given):
    before = given.position()
    given.decide_quota(IMDI, "0301", 2025, 100, 8, TODAY)
    assert events_since(given, before)[-1].recorded_by_imdi is True


def test_a_municipality_cannot_decide_for_another(given):
    with refused(given, "R2", Refusal.FORBIDDEN):
        given.decide_quota(BERGEN, "0301", 2025, 100, 8, TODAY)


def test_reception_cannot_decide_quotas(given):
    with refused(given, "R2", Refusal.FORBIDDEN):
        given.decide_quota(RECEPTION, "0301", 2025, 100, 8, TODAY)


def test_quota_decision_bounds_and_date(given):
    with refused(given, "R2", Refusal.INPUT):
        given.decide_quota(OSLO, "0301", 2025, 5, 6, TODAY)
    with refused(given, "R2", Refusal.INPUT) as caught:
        given.decide_quota(OSLO, "0301", 2025, 5, 1, TODAY + timedelta(days=1))
    assert caught.value.field == "decided_on"
    with refused(given, "R2", Refusal.INPUT) as caught:
        given.decide_quota(OSLO, "0301", 2025, 5, 1, date(1, 1, 1))
    assert caught.value.field == "decided_on"


# R3 -------------------------------------------------------------------------------------------


def test_imdi_proposes_a_whole_family_on_a_list(given):
    app = given
    family = [person(app, family_id="fam-1"), person(app, family_id="fam-1")]
    before = app.position()
    list_id = distribution_list(app, "0301", family)
    assert types_since(app, before) == ["DistributionListCreated", "RefugeeProposed", "RefugeeProposed"]
    dlist = app.distribution_list(list_id)
    assert dlist.families == {"fam-1": family}
    assert all(app.refugee(r).open_list_id == list_id for r in family)


def test_a_family_is_never_split_across_lists(given):
    app = given
    mother, child = person(app, family_id="fam-2"), person(app, family_id="fam-2")
    with refused(app, "R3"):
        distribution_list(app, "0301", [mother])
    assert app.refugee(child).open_list_id is None


def test_a_person_on_an_open_list_cannot_be_proposed_again(given):
    app = given
    someone = person(app)
    distribution_list(app, "0301", [someone])
    with refused(app, "R3"):
        distribution_list(app, "4601", [someone])


def test_a_selected_person_cannot_be_proposed_again(given):
    app = given
    someone = person(app)
    selected(app, OSLO, [someone])
    with refused(app, "R3"):
        distribution_list(app, "4601", [someone])


def test_lists_name_registered_persons_and_a_future_respond_by(given):
    app = given
    with refused(app, "R3", Refusal.INPUT):
        distribution_list(app, "0301", [uuid4()])
    someone = person(app)
    with refused(app, "R3", Refusal.INPUT) as caught:
        app.create_distribution_list(IMDI, "0301", [someone], TODAY)
    assert caught.value.field == "respond_by"


def test_only_imdi_creates_lists(given):
    someone = person(given)
    with refused(given, "R3", Refusal.FORBIDDEN):
        given.create_distribution_list(OSLO, "0301", [someone], TODAY + timedelta(days=3))


def test_withdrawing_a_list_frees_its_persons(given):
    app = given
    someone = person(app)
    list_id = distribution_list(app, "0301", [someone])
    before = app.position()
    app.withdraw_distribution_list(IMDI, list_id, "Wrong municipality")
    assert types_since(app, before) == ["DistributionListWithdrawn", "ProposalWithdrawn"]
    distribution_list(app, "4601", [someone])  # free again
    with refused(app, "R3"):
        app.withdraw_distribution_list(IMDI, list_id, "again")


# R4 -------------------------------------------------------------------------------------------


def test_approval_selects_the_accepted_and_frees_the_declined(given):
    app = given
    family = [person(app, family_id="f"), person(app, family_id="f")]
    single = person(app)
    list_id = distribution_list(app, "0301", [*family, single])
    before = app.position()
    result = app.approve_distribution_list(OSLO, list_id, family, {single: "No suitable housing"})
    assert types_since(app, before) == [
        "DistributionListApproved", "RefugeeSelected", "RefugeeSelected", "RefugeeDeclined", "LetterIssued",
    ]
    letter = events_since(app, before)[-1]
    assert (letter.kind, letter.channel, letter.person_ids) == ("selection", "digital", family)
    assert result.extra["selected"] == [str(r) for r in family]
    assert app.refugee(family[0]).selected_by == "0301"
    assert app.refugee(single).selected_by is None
    distribution_list(app, "4601", [single])  # a declined person may go on another list


def test_an_approval_names_every_person_exactly_once(given):
    app = given
    a, b = person(app), person(app)
    list_id = distribution_list(app, "0301", [a, b])
    with refused(app, "R4", Refusal.INPUT):
        app.approve_distribution_list(OSLO, list_id, [a], {})
    with refused(app, "R4", Refusal.INPUT):
        app.approve_distribution_list(OSLO, list_id, [a, b], {a: "twice"})
    with refused(app, "R4", Refusal.INPUT):
        app.approve_distribution_list(OSLO, list_id, [a], {b: "  "})


def test_a_family_is_accepted_or_declined_whole(given):
    app = given
    family = [person(app, family_id="g"), person(app, family_id="g")]
    list_id = distribution_list(app, "0301", family)
    with refused(app, "R4", Refusal.INPUT):
        app.approve_distribution_list(OSLO, list_id, [family[0]], {family[1]: "Only one"})


def test_only_the_lists_own_municipality_approves_while_open(given):
    app = given
    someone = person(app)
    list_id = distribution_list(app, "0301", [someone])
    with not_found(app):
        app.approve_distribution_list(BERGEN, list_id, [someone], {})
    with refused(app, "R4", Refusal.FORBIDDEN):
        app.approve_distribution_list(IMDI, list_id, [someone], {})
    app.approve_distribution_list(OSLO, list_id, [someone], {})
    with refused(app, "R4"):
        app.approve_distribution_list(OSLO, list_id, [someone], {})


# R5 -------------------------------------------------------------------------------------------


def test_a_settlement_decision_takes_a_place_and_issues_two_letters(given):
    app = given
    quota(app, persons=1, minors=0)
    someone = person(app)
    selected(app, OSLO, [someone])
    before = app.position()
    app.decide_settlement(IMDI, someone, "0301", 2025)
    assert types_since(app, before) == [
        "SettlementDecided", "SettlementPlaceTaken", "LetterIssued", "LetterIssued",
    ]
    letters = events_since(app, before)[2:]
    assert {(e.kind, e.channel) for e in letters} == {("decision_municipality", "digital"), ("decision_person", "post")}
    assert app.quota_year("0301", 2025).places_taken == 1


def test_a_decision_needs_the_person_selected_by_that_municipality(given):
    app = given
    quota(app)
    someone = person(app)
    with refused(app, "R5"):
        app.decide_settlement(IMDI, someone, "0301", 2025)
    selected(app, BERGEN, [someone])
    with refused(app, "R5"):
        app.decide_settlement(IMDI, someone, "0301", 2025)


def test_past_the_decided_number_a_decision_needs_an_override(given):
    app = given
    quota(app, persons=1, minors=0)
    first, second = person(app), person(app)
    selected(app, OSLO, [first, second])
    app.decide_settlement(IMDI, first, "0301", 2025)
    with refused(app, "R5"):
        app.decide_settlement(IMDI, second, "0301", 2025)
    app.decide_settlement(IMDI, second, "0301", 2025, override_reason="Family reunification")
    assert app.quota_year("0301", 2025).places_taken == 2


def test_minors_need_a_decided_minors_place(given):
    app = given
    quota(app, persons=5, minors=0)
    minor = person(app, minor=True)
    selected(app, OSLO, [minor])
    with refused(app, "R5"):
        app.decide_settlement(IMDI, minor, "0301", 2025)


def test_without_a_quota_decision_only_an_override_settles(given):
    app = given
    someone = person(app)
    selected(app, OSLO, [someone])
    with refused(app, "R5"):
        app.decide_settlement(IMDI, someone, "0301", 2025)
    app.decide_settlement(IMDI, someone, "0301", 2025, override_reason="Urgent")
    with refused(app, "R5"):
        app.decide_settlement(IMDI, someone, "0301", 2025, override_reason="again")


def test_only_imdi_makes_settlement_decisions(given):
    someone = person(given)
    selected(given, OSLO, [someone])
    with refused(given, "R5", Refusal.FORBIDDEN):
        given.decide_settlement(OSLO, someone, "0301", 2025)


# R6 -------------------------------------------------------------------------------------------


def test_folder_reads_are_recorded_once_the_municipality_selected_the_person(given):
    app = given
    someone = person(app)
    list_id = distribution_list(app, "0301", [someone])
    with refused(app, "R6", Refusal.FORBIDDEN):
        app.record_folder_view(OSLO, someone)
    with not_found(app):
        app.record_folder_view(BERGEN, someone)
    app.approve_distribution_list(OSLO, list_id, [someone], {})
    before = app.position()
    app.record_folder_view(OSLO, someone)
    app.record_folder_view(AUDITOR, someone)
    viewed = events_since(app, before)
    assert [type(e).__name__ for e in viewed] == ["PersonFolderViewed", "PersonFolderViewed"]
    assert viewed[0].meta["sub"] == "kari" and viewed[0].refugee_id == someone
    assert viewed[1].meta["role"] == "auditor"
    with refused(app, "R6", Refusal.FORBIDDEN):
        app.record_folder_view(RECEPTION, someone)


# R7 / R8 --------------------------------------------------------------------------------------


@pytest.fixture
def private_selected(given):
    """A person who lived privately, selected by Oslo today."""
    someone = person(given, private=True)
    selected(given, OSLO, [someone])
    return someone


def test_the_municipality_registers_the_date_of_a_private_resident(given, private_selected):
    before = given.position()
    given.register_settlement_date(OSLO, private_selected, TODAY)
    registered = events_since(given, before)[0]
    assert (type(registered).__name__, registered.settlement_date, registered.municipality, registered.source) == (
        "SettlementDateRegistered", TODAY, "0301", "municipality",
    )


def test_r7a_the_person_must_be_selected_by_this_municipality(given):
    someone = person(given, private=True)
    distribution_list(given, "0301", [someone])
    with refused(given, "R7a"):
        given.register_settlement_date(OSLO, someone, TODAY)
    with not_found(given):
        given.register_settlement_date(BERGEN, someone, TODAY)


def test_r7b_persons_from_a_reception_centre_get_their_date_from_reception(given):
    someone = person(given, private=False)
    selected(given, OSLO, [someone])
    with refused(given, "R7b"):
        given.register_settlement_date(OSLO, someone, TODAY)


def test_r7c_an_unresolved_deviation_blocks_the_date(given, private_selected):
    deviation = given.open_deviation(IMDI, private_selected, "address", "Address unknown").extra["deviation_id"]
    with refused(given, "R7c"):
        given.register_settlement_date(OSLO, private_selected, TODAY)
    given.resolve_deviation(IMDI, private_selected, deviation, "Address confirmed")
    given.register_settlement_date(OSLO, private_selected, TODAY)


def test_r7d_a_known_deviation_flag_bars_the_municipality(given, private_selected):
    deviation = given.open_deviation(
        IMDI, private_selected, "residence", "Settled from reception", registered_private_by_known_deviation=True
    ).extra["deviation_id"]
    given.resolve_deviation(IMDI, private_selected, deviation, "Known")
    with refused(given, "R7d"):
        given.register_settlement_date(OSLO, private_selected, TODAY)
    given.correct_settlement_date(IMDI, private_selected, TODAY, "Registered by IMDi (R7d)")
    assert given.refugee(private_selected).settlement_date == TODAY


@pytest.mark.parametrize(
    "offset", [timedelta(days=1), -timedelta(days=1)], ids=["future", "before-selection"]
)
def test_r7e_the_date_lies_between_selection_and_today(given, private_selected, offset):
    with refused(given, "R7e"):
        given.register_settlement_date(OSLO, private_selected, TODAY + offset)


def test_r7e_the_date_is_not_before_the_cutoff(given, private_selected):
    given.settlement_cutoff = TODAY + timedelta(days=1)
    with refused(given, "R7e", Refusal.INPUT):
        given.register_settlement_date(OSLO, private_selected, TODAY)


def test_r7f_one_date_only_and_corrections_are_imdis_with_a_reason(given, private_selected):
    given.register_settlement_date(OSLO, private_selected, TODAY)
    with refused(given, "R7f"):
        given.register_settlement_date(OSLO, private_selected, TODAY)
    with refused(given, "R7f", Refusal.FORBIDDEN):
        given.correct_settlement_date(OSLO, private_selected, TODAY - timedelta(days=1), "typo")
    with refused(given, "R7f", Refusal.INPUT):
        given.correct_settlement_date(IMDI, private_selected, TODAY, " ")
    before = given.position()
    with refused(given, "R7f"):
        given.correct_settlement_date(IMDI, private_selected, TODAY, "Same date again")
    given.correct_settlement_date(IMDI, private_selected, TODAY.replace(day=1), "Moved on the 1st")
    corrected = events_since(given, before)[0]
    assert (corrected.settlement_date, corrected.previous_date, corrected.reason) == (
        TODAY.replace(day=1), TODAY, "Moved on the 1st"
    )


def test_r8_reception_transfers_the_date_of_persons_from_a_centre(given):
    someone = person(given, private=False)
    selected(given, OSLO, [someone])
    before = given.position()
    given.register_settlement_date(RECEPTION, someone, TODAY)
    assert events_since(given, before)[0].source == "reception"


def test_r8_reception_does_not_register_private_residents_or_unselected_persons(given, private_selected):
    with refused(given, "R8"):
        given.register_settlement_date(RECEPTION, private_selected, TODAY)
    unselected = person(given)
    with refused(given, "R8"):
        given.register_settlement_date(RECEPTION, unselected, TODAY)


def test_imdi_and_auditors_do_not_register_dates(given, private_selected):
    for ctx in (IMDI, AUDITOR):
        with refused(given, "R7", Refusal.FORBIDDEN):
            given.register_settlement_date(ctx, private_selected, TODAY)


# R9 -------------------------------------------------------------------------------------------


def test_a_retried_command_issues_its_letter_exactly_once(given):
    from dataclasses import replace

    app = given
    ctx = replace(IMDI, idempotency_key="req-0301-2025")
    first = app.request_settlement(ctx, "0301", 2025, 100, 5)
    position = app.position()
    again = app.request_settlement(ctx, "0301", 2025, 100, 5)
    assert app.position() == position
    assert again.replayed and (again.id, again.version, again.extra) == (first.id, first.version, first.extra)
    letters = [e for e in events_since(app, 0) if type(e).__name__ == "LetterIssued"]
    assert len(letters) == 1


def test_letter_ids_derive_from_their_cause(given):
    app = given
    someone = person(app)
    list_id = selected(app, OSLO, [someone])
    letter = [e for e in events_since(app, 0) if type(e).__name__ == "LetterIssued"][-1]
    dlist = app.distribution_list(list_id)
    from settlement_domain.letter import Letter

    assert letter.originator_id == Letter.create_id(dlist.id, dlist.version, "selection")


# R10 (the write side's part: latest request and decision stand; places taken count persons) ----


def test_r10_latest_request_and_decision_stand_and_overrides_go_negative(given):
    app = given
    app.request_settlement(IMDI, "0301", 2025, 10, 1)
    app.request_settlement(IMDI, "0301", 2025, 3, 1, reason="Lower need")
    app.decide_quota(OSLO, "0301", 2025, 1, 0, TODAY)
    people = [person(app), person(app)]
    selected(app, OSLO, people)
    app.decide_settlement(IMDI, people[0], "0301", 2025)
    with refused(app, "R5"):
        app.decide_settlement(IMDI, people[1], "0301", 2025)
    app.decide_settlement(IMDI, people[1], "0301", 2025, override_reason="Keep family nearby")
    year = app.quota_year("0301", 2025)
    assert (year.requested, year.decided, year.places_taken) == ((3, 1), (1, 0), 2)


# R11 ------------------------------------------------------------------------------------------


def capacity(app, ctx=OSLO, **changes):
    fields = {
        "municipality": "0301", "places": 2, "expected_week": "2025-W30", "min_age": 15, "max_age": 17,
        "round_the_clock_staffing": True, "special_conditions": "Near upper secondary school",
    }
    fields.update(changes)
    return app.report_minor_capacity(ctx, **fields)


def test_a_municipality_reports_capacity_for_minors_and_withdraws_it(given):
    before = given.position()
    result = capacity(given)
    reported = events_since(given, before)[0]
    assert (type(reported).__name__, reported.places, reported.expected_week) == (
        "MinorCapacityReported", 2, "2025-W30"
    )
    given.withdraw_minor_capacity(OSLO, result.id, "Places went to others")
    with refused(given, "R11"):
        given.mark_minor_capacity_filled(OSLO, result.id)


def test_capacity_for_minors_under_15_goes_to_bufetat(given):
    with refused(given, "R11", Refusal.INPUT) as caught:
        capacity(given, min_age=13)
    assert "Bufetat" in caught.value.message


@pytest.mark.parametrize(
    ("changes", "field"),
    [({"places": 0}, "places"), ({"max_age": 18}, "max_age"), ({"min_age": 17, "max_age": 16}, "min_age"),
     ({"expected_week": "2025-W23"}, "expected_week"), ({"expected_week": "2025-14"}, "expected_week"),
     ({"expected_week": "2025-W54"}, "expected_week"), ({"expected_week": "9999-W52"}, "expected_week"),
     ({"expected_week": "２０２５-W30"}, "expected_week")],
)
def test_capacity_bounds(given, changes, field):
    with refused(given, "R11", Refusal.INPUT) as caught:
        capacity(given, **changes)
    assert caught.value.field == field


def test_the_current_week_is_not_in_the_past(given):
    capacity(given, expected_week="2025-W25")


def test_only_the_municipality_itself_reports_and_changes_capacity(given):
    with refused(given, "R11", Refusal.FORBIDDEN):
        capacity(given, ctx=BERGEN)
    with refused(given, "R11", Refusal.FORBIDDEN):
        capacity(given, ctx=IMDI)
    report = capacity(given)
    with not_found(given):
        given.mark_minor_capacity_filled(BERGEN, report.id)
    given.mark_minor_capacity_filled(OSLO, report.id)


# R12 ------------------------------------------------------------------------------------------


def test_imdi_opens_and_resolves_deviations(given):
    someone = person(given)
    before = given.position()
    deviation = given.open_deviation(IMDI, someone, "identity", "Two birth dates on file").extra["deviation_id"]
    assert given.refugee(someone).has_open_deviation
    given.resolve_deviation(IMDI, someone, deviation, "Birth date confirmed")
    assert types_since(given, before) == ["DeviationOpened", "DeviationResolved"]
    assert not given.refugee(someone).has_open_deviation
    with refused(given, "R12"):
        given.resolve_deviation(IMDI, someone, deviation, "again")
    with not_found(given):
        given.resolve_deviation(IMDI, someone, str(uuid4()), "unknown")


def test_only_imdi_handles_deviations(given):
    someone = person(given)
    selected(given, OSLO, [someone])
    with refused(given, "R12", Refusal.FORBIDDEN):
        given.open_deviation(OSLO, someone, "identity", "x")
    with refused(given, "R12", Refusal.INPUT):
        given.open_deviation(IMDI, someone, "identity", "   ")


# R16 ------------------------------------------------------------------------------------------


def test_a_municipality_files_a_support_case_and_imdi_answers_and_closes_it(given):
    before = given.position()
    case = given.file_support_case(OSLO, "Missing letter", "We never got the selection letter.")
    given.answer_support_case(IMDI, case.id, "Resent through SvarUT.", close=False)
    given.answer_support_case(IMDI, case.id, "Closing.", close=True)
    filed, *answers = events_since(given, before)
    assert (filed.municipality, filed.meta["sub"]) == ("0301", "kari")
    assert [a.closed for a in answers] == [False, True]
    with refused(given, "R16"):
        given.answer_support_case(IMDI, case.id, "Late", close=True)


def test_support_case_roles(given):
    with refused(given, "R16", Refusal.FORBIDDEN):
        given.file_support_case(IMDI, "s", "t")
    case = given.file_support_case(OSLO, "s", "t")
    with refused(given, "R16", Refusal.FORBIDDEN):
        given.answer_support_case(OSLO, case.id, "self-answer", close=True)
    with refused(given, "R16", Refusal.INPUT):
        given.file_support_case(OSLO, "", "t")


# Registration and the registry ------------------------------------------------------------------


def test_registration_keeps_personal_data_in_its_personal_field(given):
    before = given.position()
    someone = person(given, family_id="fam-x", name="Amina Test")
    registered, formed, member = events_since(given, before)
    assert [type(e).__name__ for e in (registered, formed, member)] == [
        "RefugeeRegistered", "FamilyFormed", "FamilyMemberAdded"
    ]
    assert registered.personal["full_name"] == "Amina Test"
    assert registered.personal["postal_address"] == ADDRESS
    assert "Amina" not in repr({k: v for k, v in vars(registered).items() if k != "personal"})
    assert member.refugee_id == someone


@pytest.mark.parametrize(
    ("changes", "field"),
    [({"postal_address": {**ADDRESS, "postal_code": "٠١٥٠"}}, "postal_address.postal_code"),
     ({"full_name": " "}, "full_name"), ({"category": "tourist"}, "category"),
     ({"residence": {"kind": "hotel"}}, "residence.kind"),
     ({"residence": {"kind": "reception_centre"}}, "residence.centre_id"),
     ({"postal_address": {**ADDRESS, "postal_code": "12"}}, "postal_address.postal_code"),
     ({"birth_date": TODAY + timedelta(days=1)}, "birth_date"),
     ({"unaccompanied_minor": True}, "unaccompanied_minor")],
)
def test_registration_refuses_malformed_persons(given, changes, field):
    fields = {
        "full_name": "A", "birth_date": date(1990, 1, 1), "family_id": None, "unaccompanied_minor": False,
        "residence": {"kind": "private"}, "postal_address": ADDRESS, "category": "asylum",
    }
    fields.update(changes)
    with refused(given, "registration", Refusal.INPUT) as caught:
        given.register_refugee(RECEPTION, **fields)
    assert caught.value.field == field


def test_municipalities_register_once_and_keep_their_contact_current(given):
    with refused(given, "registry"):
        given.register_municipality(IMDI, "0301", "Oslo", "Oslo")
    with refused(given, "roles", Refusal.FORBIDDEN):
        given.register_municipality(OSLO, "5001", "Trondheim", "Trøndelag")
    with refused(given, "roles", Refusal.INPUT):
        given.register_municipality(IMDI, "501", "Trondheim", "Trøndelag")
    with refused(given, "roles", Refusal.INPUT):
        given.register_municipality(IMDI, "٥٠٠١", "Trondheim", "Trøndelag")  # Arabic-Indic digits
    contact = {"contact_person": "Kari", "email": "kari@oslo.kommune.no", "phone": "+47 21 80 21 80",
               "postal_address": ADDRESS}
    given.update_contact(OSLO, "0301", **contact)
    assert given.municipality("0301").contact["email"] == "kari@oslo.kommune.no"
    with refused(given, "roles", Refusal.FORBIDDEN):
        given.update_contact(BERGEN, "0301", **contact)
    with refused(given, "registry", Refusal.INPUT):
        given.update_contact(OSLO, "0301", **{**contact, "email": "no-at-sign"})


def test_mapping_is_recorded_by_reception(given):
    someone = person(given)
    given.record_mapping(RECEPTION, someone, "Upper secondary", "Carpenter", ["ar", "en"], "None", "")
    assert given.refugee(someone).mapping["languages"] == ["ar", "en"]
    with refused(given, "roles", Refusal.FORBIDDEN):
        given.record_mapping(OSLO, someone, "", "", [], "", "")


def test_ids_of_unknown_aggregates_are_not_found(given):
    with not_found(given):
        given.refugee("not-a-uuid")
    with not_found(given):
        given.answer_support_case(IMDI, uuid4(), "x", close=True)
    assert isinstance(UUID(given.register_municipality(IMDI, "5001", "Trondheim", "Trøndelag").id), UUID)
