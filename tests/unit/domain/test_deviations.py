"""R12: IMDi opens a deviation (avvik) on a person's case and resolves it with a note; an open
deviation blocks the municipality's settlement date (R7c)."""

from __future__ import annotations

from uuid import uuid4

from settlement_domain import commands as c
from settlement_domain.errors import Refusal
from tests.given import IMDI, OSLO, events_since, not_found, person, refused, selected, types_since


def test_imdi_opens_and_resolves_deviations(given):
    someone = person(given)
    before = given.position()
    deviation = given.handle(IMDI, c.OpenDeviation(someone, "identity", "Two birth dates on file")).extra[
        "deviation_id"
    ]
    assert given.refugee(someone).has_open_deviation
    result = given.handle(IMDI, c.ResolveDeviation(someone, deviation, "Birth date confirmed"))
    assert types_since(given, before) == ["DeviationOpened", "DeviationResolved"]
    opened, resolved = events_since(given, before)
    assert (
        opened.deviation_id,
        opened.kind,
        opened.description,
        opened.registered_private_by_known_deviation,
    ) == (deviation, "identity", "Two birth dates on file", False)
    assert (resolved.deviation_id, resolved.note) == (deviation, "Birth date confirmed")
    assert result.extra["deviation_id"] == deviation
    assert not given.refugee(someone).has_open_deviation


def test_a_deviation_is_resolved_only_once(given):
    someone = person(given)
    deviation = given.handle(IMDI, c.OpenDeviation(someone, "identity", "x")).extra["deviation_id"]
    given.handle(IMDI, c.ResolveDeviation(someone, deviation, "Done"))
    with refused(given, "R12", Refusal.STATE):
        given.handle(IMDI, c.ResolveDeviation(someone, deviation, "again"))


def test_an_unknown_deviation_or_person_is_not_found(given):
    someone = person(given)
    with not_found(given):
        given.handle(IMDI, c.ResolveDeviation(someone, str(uuid4()), "unknown"))
    with not_found(given):
        given.handle(IMDI, c.OpenDeviation(uuid4(), "identity", "Nobody"))


def test_a_person_may_have_several_open_deviations(given):
    someone = person(given)
    first = given.handle(IMDI, c.OpenDeviation(someone, "identity", "One")).extra["deviation_id"]
    second = given.handle(IMDI, c.OpenDeviation(someone, "address", "Two")).extra["deviation_id"]
    given.handle(IMDI, c.ResolveDeviation(someone, first, "Done"))
    assert given.refugee(someone).deviations == {first: False, second: True}
    assert given.refugee(someone).has_open_deviation


def test_only_imdi_handles_deviations(given_places):
    someone = person(given_places)
    selected(given_places, OSLO, [someone])
    with refused(given_places, "R12", Refusal.FORBIDDEN):
        given_places.handle(OSLO, c.OpenDeviation(someone, "identity", "x"))
    deviation = given_places.handle(IMDI, c.OpenDeviation(someone, "identity", "x")).extra["deviation_id"]
    with refused(given_places, "R12", Refusal.FORBIDDEN):
        given_places.handle(OSLO, c.ResolveDeviation(someone, deviation, "Fixed it ourselves"))


def test_a_deviation_needs_a_kind_and_a_description_and_a_resolution_a_note(given):
    someone = person(given)
    for command, field in [
        (c.OpenDeviation(someone, "identity", "   "), "description"),
        (c.OpenDeviation(someone, "", "Something"), "kind"),
        (c.ResolveDeviation(someone, "any", " "), "note"),
    ]:
        with refused(given, "R12", Refusal.INPUT) as caught:
            given.handle(IMDI, command)
        assert caught.value.field == field
