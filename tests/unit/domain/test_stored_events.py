"""Events and snapshots stored by earlier versions still load: a version-1 ``DistributionListCreated``
(no ``year``) is upcast with R3's default year, and topics from before the aggregates moved to
``settlement_domain.model`` resolve to today's classes."""

from __future__ import annotations

from datetime import date
from uuid import UUID, uuid4

import pytest
from eventsourcing.persistence import StoredEvent
from eventsourcing.utils import resolve_topic

from settlement_domain import commands as c
from settlement_domain.model import (
    MOVED_TOPICS,
    DistributionList,
    Family,
    FolderRead,
    Letter,
    QuotaYear,
    Refugee,
)
from tests.given import IMDI, OSLO, TODAY, decided_quota, person, refused, selected


def stored_events(app, aggregate_id):
    return list(app.recorder.select_events(aggregate_id))


def rewritten(app, stored: StoredEvent, change, *, topic: str | None = None) -> StoredEvent:
    """``stored`` as an earlier version would have written it: its state changed by ``change``,
    under another topic if given, for a new aggregate id (so that it can sit beside the original)."""
    state = app.mapper.transcoder.decode(stored.state)
    change(state)
    return StoredEvent(
        originator_id=uuid4(),
        originator_version=stored.originator_version,
        topic=topic or stored.topic,
        state=app.mapper.transcoder.encode(state),
    )


def test_a_list_is_stored_as_version_2_with_its_year(given):
    someone = person(given)
    list_id = UUID(
        given.handle(IMDI, c.CreateDistributionList("0301", (someone,), date(2026, 1, 10), 2025)).id
    )
    created = stored_events(given, list_id)[0]
    state = given.mapper.transcoder.decode(created.state)
    assert (state["class_version"], state["year"]) == (2, 2025)
    assert (
        created.topic == "settlement_domain.model.distribution_list:DistributionList.DistributionListCreated"
    )


@pytest.mark.parametrize(
    "topic",
    [None, "settlement_domain.distribution_list:DistributionList.DistributionListCreated"],
    ids=["todays-topic", "topic-before-the-move"],
)
def test_a_version_1_list_loads_with_the_year_of_its_respond_by_date(given, topic):
    someone = person(given)
    respond_by = date(TODAY.year + 1, 1, 10)
    list_id = UUID(
        given.handle(IMDI, c.CreateDistributionList("0301", (someone,), respond_by, TODAY.year)).id
    )

    def as_version_1(state):
        del state["year"], state["class_version"]

    v1 = rewritten(given, stored_events(given, list_id)[0], as_version_1, topic=topic)
    given.recorder.insert_events([v1])
    old = given.distribution_list(v1.originator_id)
    assert (old.respond_by, old.year, old.refugee_ids, old.status.value) == (
        respond_by,
        TODAY.year + 1,
        [someone],
        "open",
    )
    created = given.mapper.to_domain_event(v1)
    assert type(created) is DistributionList.DistributionListCreated
    assert created.year == respond_by.year


@pytest.mark.parametrize(
    ("topic", "cls"),
    [
        ("settlement_domain.refugee:Refugee.RefugeeRegistered", Refugee.RefugeeRegistered),
        ("settlement_domain.refugee:Refugee.RefugeeSelected", Refugee.RefugeeSelected),
        ("settlement_domain.refugee:Refugee.SettlementDecided", Refugee.SettlementDecided),
        ("settlement_domain.refugee:Family.FamilyMemberAdded", Family.FamilyMemberAdded),
        ("settlement_domain.refugee:PersonFolderView", FolderRead),
        ("settlement_domain.refugee:PersonFolderView.PersonFolderViewed", FolderRead.PersonFolderViewed),
        ("settlement_domain.quota:QuotaYear", QuotaYear),
        ("settlement_domain.quota:QuotaYear.SettlementPlaceTaken", QuotaYear.SettlementPlaceTaken),
        (
            "settlement_domain.distribution_list:DistributionList.DistributionListApproved",
            DistributionList.DistributionListApproved,
        ),
        ("settlement_domain.letter:Letter.LetterIssued", Letter.LetterIssued),
        *((topic, cls) for topic, cls in MOVED_TOPICS.items()),
    ],
)
def test_topics_from_before_the_move_resolve_to_todays_classes(topic, cls):
    assert resolve_topic(topic) is cls


def test_a_case_stored_under_the_old_topics_replays_to_the_same_state(given_places):
    app = given_places
    someone = person(app, family_id="fam-old")
    selected(app, OSLO, [someone])
    new_id = uuid4()
    app.recorder.insert_events(
        [
            StoredEvent(
                new_id,
                stored.originator_version,
                stored.topic.replace("settlement_domain.model.refugee:", "settlement_domain.refugee:"),
                stored.state,
            )
            for stored in stored_events(app, someone)
        ]
    )
    assert {e.topic.split(":")[0] for e in stored_events(app, new_id)} == {"settlement_domain.refugee"}
    old, today = app.refugee(new_id), app.refugee(someone)
    assert type(old) is Refugee
    assert {k: v for k, v in vars(old).items() if k != "_id"} == {
        k: v for k, v in vars(today).items() if k != "_id"
    }


def test_a_quota_year_snapshot_from_before_the_move_and_the_over_quota_counters_loads(given):
    app = given
    decided_quota(app, persons=3, minors=1)
    selected(app, OSLO, [person(app), person(app, minor=True)])
    quota_id = QuotaYear.create_id("0301", 2025)
    app.take_snapshot(quota_id)
    (snapshot,) = app.snapshots.recorder.select_events(quota_id, desc=True, limit=1)

    def as_before(state):
        state["topic"] = "settlement_domain.quota:QuotaYear"
        state["state"].pop("over_quota_persons", None)  # counters added later: absent in old snapshots
        state["state"].pop("over_quota_minors", None)

    old = rewritten(app, snapshot, as_before)
    app.snapshots.recorder.insert_events([old])
    loaded = app.repository.get(old.originator_id)
    assert type(loaded) is QuotaYear
    assert (loaded.decided, loaded.used, loaded.vacant()) == ((3, 1), (2, 1), (1, 0))
    assert (loaded.over_quota_persons, loaded.over_quota_minors) == (0, 0)


def legacy_selected(app) -> UUID:
    """A person selected for Oslo in 2025 as the code before places were taken at selection stored
    it: the same events, its ``RefugeeSelected`` of version 1 (no ``took_place``), and no place taken
    in the quota year. Made by copying a selected person's stream under a new id."""
    source = person(app)
    selected(app, OSLO, [source])
    legacy_id = uuid4()

    def as_version_1(state):
        if "took_place" in state:
            del state["took_place"], state["class_version"]

    copies = [rewritten(app, stored, as_version_1) for stored in stored_events(app, source)]
    copies = [
        StoredEvent(legacy_id, s.originator_version, s.topic, s.state) for s in copies
    ]  # one stream: one id
    app.recorder.insert_events(copies)
    return legacy_id


def test_a_person_selected_before_places_were_taken_at_selection_takes_one_at_the_decision(given):
    decided_quota(given, persons=1, minors=0, year=2025)
    legacy = legacy_selected(given)  # the copied-from person took 2025's one place
    case = given.refugee(legacy)
    assert (case.selected_by, case.selection_year, case.selection_took_place, case.place) == (
        "0301",
        2025,
        False,
        None,
    )
    # The decision takes the place the old selection never took, checked against the vacant ones (R5).
    with refused(given, "R5"):
        given.handle(IMDI, c.DecideSettlement(legacy, "0301"))
    given.handle(IMDI, c.DecideSettlement(legacy, "0301", override_reason="selected before the upgrade"))
    year = given.quota_year("0301", 2025)
    assert (year.used, year.over_quota_persons, year.vacant()) == ((2, 0), 1, (-1, 0))


def test_a_person_selected_before_places_were_taken_at_selection_releases_nothing_when_moved(given):
    decided_quota(given, persons=1, minors=0, year=2025)
    decided_quota(given, persons=3, minors=0, year=2026)
    legacy = legacy_selected(given)
    given.handle(IMDI, c.DecideSettlement(legacy, "0301", year=2026))
    assert given.quota_year("0301", 2025).used == (1, 0)  # never below what was taken
    assert given.quota_year("0301", 2026).used == (1, 0)
