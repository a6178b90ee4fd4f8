"""R7 (the municipality registers the settlement date of persons who lived privately, (a) to (f) in
order) and R8 (the reception system transfers the date of persons settled from a reception centre)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from settlement_domain import commands as c
from settlement_domain.errors import Refusal
from tests.given import (
    AUDITOR,
    BERGEN,
    IMDI,
    OSLO,
    RECEPTION,
    TODAY,
    decided,
    distribution_list,
    events_since,
    not_found,
    person,
    refused,
    selected,
)


@pytest.fixture
def private_selected(given_places):
    """A person who lived privately, selected by Oslo today."""
    someone = person(given_places, private=True)
    selected(given_places, OSLO, [someone])
    return someone


def test_the_municipality_registers_the_date_of_a_private_resident(given_places, private_selected):
    app = given_places
    before = app.position()
    app.handle(OSLO, c.RegisterSettlementDate(private_selected, TODAY))
    registered = events_since(app, before)[0]
    assert (
        type(registered).__name__,
        registered.settlement_date,
        registered.municipality,
        registered.source,
    ) == (
        "SettlementDateRegistered",
        TODAY,
        "0301",
        "municipality",
    )
    assert app.refugee(private_selected).settlement_date == TODAY


def test_the_municipality_registers_the_date_after_the_decision_too(given_places, private_selected):
    decided(given_places, private_selected)
    given_places.handle(OSLO, c.RegisterSettlementDate(private_selected, TODAY))
    assert given_places.refugee(private_selected).settlement_date == TODAY


def test_r7a_the_person_must_be_selected_by_this_municipality(given_places):
    app = given_places
    someone = person(app, private=True)
    distribution_list(app, "0301", [someone])
    with refused(app, "R7a", Refusal.STATE):
        app.handle(OSLO, c.RegisterSettlementDate(someone, TODAY))
    with not_found(app):
        app.handle(BERGEN, c.RegisterSettlementDate(someone, TODAY))


def test_r7b_persons_from_a_reception_centre_get_their_date_from_reception(given_places):
    someone = person(given_places, private=False)
    selected(given_places, OSLO, [someone])
    with refused(given_places, "R7b", Refusal.STATE):
        given_places.handle(OSLO, c.RegisterSettlementDate(someone, TODAY))


def test_r7c_an_unresolved_deviation_blocks_the_date(given_places, private_selected):
    app = given_places
    deviation = app.handle(IMDI, c.OpenDeviation(private_selected, "address", "Address unknown")).extra[
        "deviation_id"
    ]
    with refused(app, "R7c", Refusal.STATE):
        app.handle(OSLO, c.RegisterSettlementDate(private_selected, TODAY))
    app.handle(IMDI, c.ResolveDeviation(private_selected, deviation, "Address confirmed"))
    app.handle(OSLO, c.RegisterSettlementDate(private_selected, TODAY))


def test_r7d_a_known_deviation_flag_bars_the_municipality(given_places, private_selected):
    app = given_places
    deviation = app.handle(
        IMDI,
        c.OpenDeviation(
            private_selected,
            "residence",
            "Settled from reception",
            registered_private_by_known_deviation=True,
        ),
    ).extra["deviation_id"]
    app.handle(IMDI, c.ResolveDeviation(private_selected, deviation, "Known"))
    with refused(app, "R7d", Refusal.STATE):
        app.handle(OSLO, c.RegisterSettlementDate(private_selected, TODAY))
    app.handle(IMDI, c.CorrectSettlementDate(private_selected, TODAY, "Registered by IMDi (R7d)"))
    assert app.refugee(private_selected).settlement_date == TODAY


@pytest.mark.parametrize(
    "offset", [timedelta(days=1), -timedelta(days=1)], ids=["future", "before-selection"]
)
def test_r7e_the_date_lies_between_selection_and_today(given_places, private_selected, offset):
    with refused(given_places, "R7e"):
        given_places.handle(OSLO, c.RegisterSettlementDate(private_selected, TODAY + offset))


def test_r7e_the_date_is_not_before_the_cutoff(given_places, private_selected):
    given_places.settlement_cutoff = TODAY + timedelta(days=1)
    with refused(given_places, "R7e", Refusal.INPUT) as caught:
        given_places.handle(OSLO, c.RegisterSettlementDate(private_selected, TODAY))
    assert caught.value.field == "date"


def test_r7f_one_date_only_and_corrections_are_imdis_with_a_reason(given_places, private_selected):
    app = given_places
    app.handle(OSLO, c.RegisterSettlementDate(private_selected, TODAY))
    with refused(app, "R7f", Refusal.STATE):
        app.handle(OSLO, c.RegisterSettlementDate(private_selected, TODAY))
    with refused(app, "R7f", Refusal.FORBIDDEN):
        app.handle(OSLO, c.CorrectSettlementDate(private_selected, TODAY - timedelta(days=1), "typo"))
    with refused(app, "R7f", Refusal.INPUT):
        app.handle(IMDI, c.CorrectSettlementDate(private_selected, TODAY, " "))
    before = app.position()
    with refused(app, "R7f", Refusal.STATE):
        app.handle(IMDI, c.CorrectSettlementDate(private_selected, TODAY, "Same date again"))
    app.handle(IMDI, c.CorrectSettlementDate(private_selected, TODAY.replace(day=1), "Moved on the 1st"))
    corrected = events_since(app, before)[0]
    assert (
        type(corrected).__name__,
        corrected.settlement_date,
        corrected.previous_date,
        corrected.reason,
    ) == ("SettlementDateCorrected", TODAY.replace(day=1), TODAY, "Moved on the 1st")


def test_r7f_a_correction_needs_a_selected_person_and_a_date_within_bounds(given_places, private_selected):
    app = given_places
    unselected = person(app)
    with refused(app, "R7f", Refusal.STATE):
        app.handle(IMDI, c.CorrectSettlementDate(unselected, TODAY, "No municipality yet"))
    with refused(app, "R7e", Refusal.INPUT):
        app.handle(IMDI, c.CorrectSettlementDate(private_selected, TODAY + timedelta(days=1), "Tomorrow"))


def test_r8_reception_transfers_the_date_of_persons_from_a_centre(given_places):
    someone = person(given_places, private=False)
    selected(given_places, OSLO, [someone])
    before = given_places.position()
    given_places.handle(RECEPTION, c.RegisterSettlementDate(someone, TODAY))
    registered = events_since(given_places, before)[0]
    assert (registered.source, registered.municipality) == ("reception", "0301")


def test_r8_reception_transfers_one_date_only_and_within_bounds(given_places):
    someone = person(given_places, private=False)
    selected(given_places, OSLO, [someone])
    with refused(given_places, "R7e"):
        given_places.handle(RECEPTION, c.RegisterSettlementDate(someone, TODAY + timedelta(days=1)))
    given_places.handle(RECEPTION, c.RegisterSettlementDate(someone, TODAY))
    with refused(given_places, "R7f", Refusal.STATE):
        given_places.handle(RECEPTION, c.RegisterSettlementDate(someone, TODAY))


def test_r8_reception_does_not_register_private_residents_or_unselected_persons(
    given_places, private_selected
):
    with refused(given_places, "R8", Refusal.STATE):
        given_places.handle(RECEPTION, c.RegisterSettlementDate(private_selected, TODAY))
    unselected = person(given_places)
    with refused(given_places, "R8", Refusal.STATE):
        given_places.handle(RECEPTION, c.RegisterSettlementDate(unselected, TODAY))


def test_imdi_and_auditors_do_not_register_dates(given_places, private_selected):
    for ctx in (IMDI, AUDITOR):
        with refused(given_places, "R7", Refusal.FORBIDDEN) as caught:
            given_places.handle(ctx, c.RegisterSettlementDate(private_selected, TODAY))
        assert (
            caught.value.message
            == "Only the municipality or the reception system may register settlement dates."
        )
