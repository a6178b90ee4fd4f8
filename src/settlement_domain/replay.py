"""R14: a municipality's places, the national figures and a person's case replayed to a past moment.

Replays read the log, never the read models. They read it through the aggregates' own streams, by id,
never by a scan of the global log, so that one municipality's replay costs only its own events:

* a municipality's places: the streams of its quota years, whose ids are known without a lookup
  (``QuotaYear.create_id(municipality, year)``, one for each year from ``rules.FIRST_YEAR`` to two
  years past the moment; a year never opened is an empty stream), then the stream of each person
  who held a place in one of those years (to know whether the person is an unaccompanied minor and
  whether the person is settled). Each stream is one range read of the primary key of
  ``stored_events`` (``originator_id, originator_version``), so the cost grows with the
  municipality's own events, not with the log;
* the national figures of one year: the registered municipalities (the only part that reads the
  global log, filtered by the ``MunicipalityRegistered`` topic), then each municipality's replay of
  that one year;
* a person's case: the person's own stream.

**Two clocks.** ``by="recorded"`` (the default) shows what the log knew at ``as_of``: every event
recorded at or before ``as_of`` counts, nothing recorded after it. ``by="business"`` shows what was
true at ``as_of`` as the log knows it *now*: every event recorded so far counts from the date of the
fact it records, compared with the calendar date of ``as_of`` in UTC (a fact dated that very day counts):

* a figure imported from IMDi's statistics (R15) counts from its year's first day (a request, a
  decision) or last day (the settled count): the statistics give years, not days;
* a request (R1) made here, a registration, a proposal, a decline, a withdrawn list,
  a mapping and a deviation have no business date: they count from their recorded time, or from the
  earliest business date of a fact recorded after them in the same stream if that is earlier (a
  stream's order is causal: a person selected on 12 January was registered and proposed by then, and
  a quota year decided on 1 March was requested by then; history imported long after the facts
  therefore replays at the facts' own dates);
* a quota decision (R2) counts from its ``decided_on``;
* a selection (R4), and the places it took, from the person's ``selected_on``;
* a settlement decision (R5), and the place it took or moved, from its ``decided_on``;
* a settlement date (R7, R8) from the date itself. Where a date was corrected (R7f), the date in
  force now is the one that counts: a person registered as settled on 1 March and corrected to 1 May
  is not settled as of 15 April.

The registry of municipalities has no business date either: by business time every municipality
registered so far is listed. Facts that count are applied in the order they were recorded, so that a place over quota (R5, R10)
is decided the way the domain decided it, by the places used just before it among those facts.

The places come from the quota years' own events (the places R4 and R5 took, moved and released),
as the domain counts them. One case differs from the places read model: a person selected before
selections took places (``RefugeeSelected`` version 1) and not yet decided holds no place in the
quota year, and so none here, while the read model counts the person as agreed in the list's year.

Each ``as_of`` is a timezone-aware datetime (a naive one is read as UTC); ``None`` is "now" (everything
recorded so far, on either clock).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any, Literal
from uuid import UUID

from eventsourcing.utils import get_topic, resolve_topic

from settlement_domain import rules
from settlement_domain.model import MOVED_TOPICS, Municipality, QuotaYear, Refugee

By = Literal["recorded", "business"]
BY: tuple[By, ...] = ("recorded", "business")

# The columns of ``projections.places.places(...)``'s rows, in order.
PLACES_COLUMNS = (
    "municipality", "year", "requested_persons", "requested_minors", "decided_persons", "decided_minors",
    "settled_persons", "settled_minors", "agreed_persons", "agreed_minors",
    "over_quota_persons", "over_quota_minors", "historical_request", "historical_decision",
    "historical_settled",
)  # fmt: skip


# The moment --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Moment:
    """``as_of`` on one of the two clocks: ``includes`` tells whether a fact counts at it."""

    as_of: datetime | None
    by: By

    @classmethod
    def of(cls, as_of: datetime | None, by: str) -> Moment:
        if by not in BY:
            raise ValueError(f"by is one of {', '.join(BY)}, not {by!r}")
        if as_of is not None and as_of.tzinfo is None:
            as_of = as_of.replace(tzinfo=UTC)
        return cls(as_of, by)

    @property
    def day(self) -> date | None:
        """The calendar day of the moment in UTC, which business dates compare with."""
        return None if self.as_of is None else self.as_of.astimezone(UTC).date()

    def recorded(self, e: Any) -> bool:
        """Whether an event without a business date counts: recorded at or before the moment."""
        return self.as_of is None or e.timestamp <= self.as_of


@dataclass
class ReplayCost:
    """What a replay read: the streams it asked for (by id) and the stored events they held."""

    streams: int = 0
    events: int = 0

    def read(
        self,
        app: Any,
        aggregate_id: UUID,
        *,
        stop_after: datetime | None = None,
        only: frozenset[type[Any]] | None = None,
    ) -> Iterator[Any]:
        """The events of one stream in version order, up to the last one recorded by ``stop_after``;
        with ``only``, just the events of those classes (the others are not even decoded)."""
        self.streams += 1
        for stored in app.recorder.select_events(aggregate_id):
            self.events += 1
            if only is not None and resolve_topic(stored.topic) not in only:
                continue
            e = app.mapper.to_domain_event(stored)
            if stop_after is not None and e.timestamp > stop_after:
                return
            yield e


# The persons who held places ----------------------------------------------------------------------


@dataclass
class _Person:
    """What a places replay needs of one person's case."""

    minor: bool = False
    selected_on: dict[UUID, date] = field(default_factory=dict)  # list id -> day of the selection
    decided_on: date | None = None
    settled: bool = False  # by recorded time: a date registered or corrected by the moment
    settlement_date: date | None = None  # the date in force, as far as the replay read


# The events of a person's case that a places replay needs (proposals, mappings, deviations are not).
_PERSON_FACTS = frozenset(
    {
        Refugee.RefugeeRegistered,
        Refugee.RefugeeSelected,
        Refugee.SettlementDecided,
        Refugee.SettlementDateRegistered,
        Refugee.SettlementDateCorrected,
    }
)


def _read_person(app: Any, refugee_id: UUID, moment: Moment, cost: ReplayCost) -> _Person:
    person = _Person()
    stop = moment.as_of if moment.by == "recorded" else None
    for e in cost.read(app, refugee_id, stop_after=stop, only=_PERSON_FACTS):
        if isinstance(e, Refugee.RefugeeRegistered):
            person.minor = bool(e.unaccompanied_minor)
        elif isinstance(e, Refugee.RefugeeSelected):
            person.selected_on[e.list_id] = e.selected_on
        elif isinstance(e, Refugee.SettlementDecided):
            person.decided_on = e.decided_on
        elif isinstance(e, Refugee.SettlementDateRegistered | Refugee.SettlementDateCorrected):
            person.settled = True
            person.settlement_date = e.settlement_date
    if moment.by == "business":  # the date in force now counts from that day
        day = moment.day
        person.settled = person.settlement_date is not None and (day is None or person.settlement_date <= day)
    return person


# A quota year, folded ------------------------------------------------------------------------------


@dataclass
class _Year:
    municipality: str
    year: int
    recorded: bool = False  # any fact of the year counts at the moment: the year has a row
    requested: tuple[int, int | None] | None = None
    historical_request: bool = False
    decided: tuple[int, int | None] | None = None
    historical_decision: bool = False
    historical_settled: int | None = None
    persons: dict[UUID, None] = field(default_factory=dict)  # whose place is here, in order taken
    minors_taken: int = 0
    over_quota_persons: int = 0
    over_quota_minors: int = 0

    def vacant(self) -> tuple[int, int]:
        """R10 as ``QuotaYear.vacant`` reads it, (0, 0) while nothing is decided."""
        if self.decided is None:
            return (0, 0)
        minors = self.decided[1] if self.decided[1] is not None else self.decided[0]  # R15: no minors' limit
        return (self.decided[0] - len(self.persons), minors - self.minors_taken)

    def apply(self, e: Any) -> None:
        """One fact of the quota year, as ``QuotaYear``'s own event methods apply it."""
        self.recorded = True
        if isinstance(e, QuotaYear.SettlementRequested):
            self.requested = (e.persons, e.unaccompanied_minors)
            self.historical_request = e.source is not None
        elif isinstance(e, QuotaYear.QuotaDecided):
            self.decided = (e.persons, e.unaccompanied_minors)
            self.historical_decision = e.source is not None
        elif isinstance(e, QuotaYear.HistoricalSettledCountRecorded):
            self.historical_settled = e.persons
        elif isinstance(e, QuotaYear.PlacesTakenBySelection):
            self.persons.update(dict.fromkeys(e.refugee_ids))
            self.minors_taken += e.unaccompanied_minors
        elif isinstance(e, QuotaYear.SettlementPlaceTaken):
            if e.override_reason is not None:  # over quota where no place of its kind was vacant
                vacant_persons, vacant_minors = self.vacant()
                self.over_quota_persons += int(vacant_persons < 1)
                self.over_quota_minors += int(e.unaccompanied_minor and vacant_minors < 1)
            self.persons[e.refugee_id] = None
            self.minors_taken += int(e.unaccompanied_minor)
        elif isinstance(e, QuotaYear.SettlementPlaceReleased):
            self.persons.pop(e.refugee_id, None)
            self.minors_taken -= int(e.unaccompanied_minor)

    def row(self, people: dict[UUID, _Person]) -> dict[str, Any]:
        settled = [people[p] for p in self.persons if people[p].settled]
        agreed = [people[p] for p in self.persons if not people[p].settled]
        requested, decided = self.requested or (None, None), self.decided or (None, None)
        return {
            "municipality": self.municipality, "year": self.year,
            "requested_persons": requested[0], "requested_minors": requested[1],
            "decided_persons": decided[0], "decided_minors": decided[1],
            "settled_persons": len(settled), "settled_minors": sum(p.minor for p in settled),
            "agreed_persons": len(agreed), "agreed_minors": sum(p.minor for p in agreed),
            "over_quota_persons": self.over_quota_persons, "over_quota_minors": self.over_quota_minors,
            "historical_request": self.historical_request, "historical_decision": self.historical_decision,
            "historical_settled": self.historical_settled,
        }  # fmt: skip


def _quota_fact_date(e: Any, people: dict[UUID, _Person]) -> date | None:
    """The business date of a quota year's fact, None for one without (see the module's two clocks)."""
    if isinstance(e, QuotaYear.SettlementRequested | QuotaYear.QuotaDecided) and e.source is not None:
        # R15: IMDi's statistics give a year's figures, not their days: a request and a decision count
        # from the year's first day, the year's settled count from its last.
        return date(e.year, 1, 1)
    if isinstance(e, QuotaYear.HistoricalSettledCountRecorded):
        return date(e.year, 12, 31)
    if isinstance(e, QuotaYear.QuotaDecided):
        return e.decided_on
    if isinstance(e, QuotaYear.PlacesTakenBySelection):
        days = [people[r].selected_on.get(e.list_id) for r in e.refugee_ids if r in people]
        return min((d for d in days if d is not None), default=None)
    if isinstance(e, QuotaYear.SettlementPlaceTaken | QuotaYear.SettlementPlaceReleased):
        person = people.get(e.refugee_id)
        return None if person is None else person.decided_on
    return None  # QuotaYearOpened, a request made here


def counting(events: list[Any], business_dates: list[date | None], moment: Moment) -> list[bool]:
    """Which of one stream's events count at the moment (see the module's two clocks).

    By business time a dated fact counts from its date; a fact without a date from its recorded time,
    or from the earliest date of the dated facts recorded after it in the same stream, if that is
    earlier (a stream's order is causal: a person selected on a day was registered by that day).
    """
    if moment.by == "recorded" or moment.as_of is None:
        return [moment.recorded(e) for e in events]
    day = moment.day
    assert day is not None
    counts = [False] * len(events)
    earliest_after: date | None = None
    for i in range(len(events) - 1, -1, -1):
        dated = business_dates[i]
        if dated is not None:
            counts[i] = dated <= day
            earliest_after = dated if earliest_after is None else min(earliest_after, dated)
        else:
            counts[i] = moment.recorded(events[i]) or (earliest_after is not None and earliest_after <= day)
    return counts


def _person_ids(e: Any) -> list[UUID]:
    if isinstance(e, QuotaYear.PlacesTakenBySelection):
        return list(e.refugee_ids)
    if isinstance(e, QuotaYear.SettlementPlaceTaken | QuotaYear.SettlementPlaceReleased):
        return [e.refugee_id]
    return []


# Places -------------------------------------------------------------------------------------------


@dataclass
class PlacesReplay:
    """A places replay's rows (the shape of ``projections.places.places``) and what it read."""

    rows: list[dict[str, Any]]
    cost: ReplayCost


def _years(app: Any, moment: Moment, years: Iterable[int] | None) -> list[int]:
    if years is not None:
        return sorted({int(y) for y in years}, reverse=True)
    # A quota year lies within R1's bounds of the day it was recorded: up to two years past it.
    latest = max(app.clock().year, (moment.as_of or datetime.now(UTC)).year)
    return list(range(latest + 2, rules.FIRST_YEAR - 1, -1))


def replay_places(
    app: Any,
    municipality: str,
    as_of: datetime | None,
    *,
    by: By = "recorded",
    years: Iterable[int] | None = None,
) -> PlacesReplay:
    """The municipality's places per year as of the moment, with the cost of the replay."""
    rules.check_municipality_number(municipality, "municipality")
    moment = Moment.of(as_of, by)
    cost = ReplayCost()
    stop = moment.as_of if moment.by == "recorded" else None
    streams: list[tuple[int, list[Any]]] = []
    people: dict[UUID, _Person] = {}
    for year in _years(app, moment, years):
        events = list(cost.read(app, QuotaYear.create_id(municipality, year), stop_after=stop))
        if events:
            streams.append((year, events))
            for e in events:
                for refugee_id in _person_ids(e):
                    if refugee_id not in people:
                        people[refugee_id] = _read_person(app, refugee_id, moment, cost)
    rows = []
    for year, events in streams:
        folded = _Year(municipality, year)
        dates = [_quota_fact_date(e, people) for e in events]
        for e, counts in zip(events, counting(events, dates, moment), strict=True):
            if counts and not isinstance(e, QuotaYear.QuotaYearOpened):
                folded.apply(e)
        if folded.recorded:
            rows.append(folded.row(people))
    return PlacesReplay(rows, cost)


def places_as_of(
    app: Any,
    municipality: str,
    as_of: datetime | None,
    *,
    by: By = "recorded",
    years: Iterable[int] | None = None,
) -> list[dict[str, Any]]:
    """R10, R14: the municipality's places rows as of ``as_of``, newest year first, replayed from the log.

    The rows have the shape of ``projections.places.places(...)``'s, and only years with a record at
    the moment have one. ``by`` is the clock (see the module); ``years`` limits the replay to those
    years (and then costs only theirs). A malformed municipality number is refused (``RuleViolation``).
    """
    return replay_places(app, municipality, as_of, by=by, years=years).rows


# National ---------------------------------------------------------------------------------------


# The registration's topic today, and the ones it was stored under before the aggregates moved.
MUNICIPALITY_REGISTERED = (
    get_topic(Municipality.MunicipalityRegistered),
    *(f"{old}.MunicipalityRegistered" for old, cls in MOVED_TOPICS.items() if cls is Municipality),
)
# The registry's facts a replay reads: registrations and renamings.
REGISTRY = (*MUNICIPALITY_REGISTERED, get_topic(Municipality.MunicipalityRenamed))
PAGE = 1000


def municipalities_as_of(
    app: Any, as_of: datetime | None = None, *, by: By = "recorded"
) -> list[dict[str, Any]]:
    """The registry (number, name and county of each municipality, by number) as of the moment: by
    recorded time the registrations recorded by then, by business time every registration recorded so
    far (a registration has no business date, and a municipality's figures date its existence).
    Reads only the registrations in the log (a scan of the log filtered by their topic), never a view."""
    moment = Moment.of(as_of, by)
    found: dict[str, dict[str, Any]] = {}
    start = 1
    while True:
        page = app.recorder.select_notifications(start, PAGE, topics=REGISTRY)
        for notification in page:
            e = app.mapper.to_domain_event(notification)
            if isinstance(e, Municipality.MunicipalityRenamed):
                # By recorded time a name counts from when it was given; by business time, like the
                # registrations, every name given so far (a placeholder name was never true in the past).
                if e.number in found and (moment.by == "business" or moment.recorded(e)):
                    found[e.number]["name"] = e.name
            elif moment.by == "business" or moment.recorded(e):
                found[e.number] = {"number": e.number, "name": e.name, "county": e.county}
        if len(page) < PAGE:
            break
        start = page[-1].id + 1
    return [found[number] for number in sorted(found)]


def national_as_of(
    app: Any, year: int, as_of: datetime | None, *, by: By = "recorded"
) -> list[dict[str, Any]]:
    """R13, R14: the places row of ``year`` of every registered municipality that has one as of the
    moment, by municipality number (the input of ``projections.reports.breakdown``)."""
    rows: list[dict[str, Any]] = []
    for m in municipalities_as_of(app, as_of, by=by):
        rows += places_as_of(app, m["number"], as_of, by=by, years=[year])
    return rows


# A person's case ----------------------------------------------------------------------------------


def _case_fact_date(e: Any, settlement_date: date | None) -> date | None:
    """The business date of a fact of a person's case, None for one without (see the module)."""
    if isinstance(e, Refugee.RefugeeSelected):
        return e.selected_on
    if isinstance(e, Refugee.SettlementDecided):
        return e.decided_on
    if isinstance(e, Refugee.SettlementDateRegistered | Refugee.SettlementDateCorrected):
        return settlement_date  # the date in force now counts, from that date
    return _source_date(e)


def _source_date(e: Any) -> date | None:
    """The source's date of a fact a history import recorded (R15), kept in its metadata where the
    event has no business date of its own (a registration, a mapping)."""
    source = (getattr(e, "meta", None) or {}).get("source") or {}
    return date.fromisoformat(source["date"]) if "date" in source else None


def case_as_of(app: Any, refugee_id: UUID, as_of: datetime | None, *, by: By = "recorded") -> Refugee | None:
    """R14: the person's case at the moment on either clock; None before the person was registered
    (or for an id that is no person). By recorded time it is ``SettlementApp.case_as_of``."""
    moment = Moment.of(as_of, by)
    if moment.by == "recorded":
        return app.case_as_of(refugee_id, moment.as_of)
    return case_as_of_business(app, refugee_id, moment.as_of)


def case_as_of_business(app: Any, refugee_id: UUID, as_of: datetime | None) -> Refugee | None:
    """R14: the person's case as it was at ``as_of`` by business time, as the log knows it now.

    The facts whose business date is after the moment are left out; the others are applied in
    recorded order. The case's ``version`` is that of the last fact applied.
    """
    moment = Moment.of(as_of, "business")
    events = list(app.repository.event_store.get(refugee_id))
    if not events or not isinstance(events[0], Refugee.RefugeeRegistered):
        return None
    dates = [
        e.settlement_date
        for e in events
        if isinstance(e, Refugee.SettlementDateRegistered | Refugee.SettlementDateCorrected)
    ]
    in_force = dates[-1] if dates else None
    counts = counting(events, [_case_fact_date(e, in_force) for e in events], moment)
    if not counts[0]:
        return None
    case: Refugee | None = None
    for e, included in zip(events, counts, strict=True):
        if case is None:
            case = e.mutate(None)
        elif included:
            # Facts left out leave gaps in the versions: apply the next one as if it followed.
            case.version = e.originator_version - 1
            case = e.mutate(case)
    return case


def case_facts(case: Refugee | None) -> dict[str, Any] | None:
    """The facts of a replayed case, without personal data (no name, birth date, address, mapping)."""
    if case is None:
        return None
    place = case.place
    return {
        "refugee_id": str(case.id),
        "version": case.version,
        "lived_privately": case.lived_privately,
        "unaccompanied_minor": case.unaccompanied_minor,
        "family_id": case.family_id,
        "proposed_to": case.proposed_to,
        "selected_by": case.selected_by,
        "selected_on": case.selected_on,
        "selection_year": case.selection_year,
        "decided_for": case.decided_for,
        "decision_year": case.decision_year,
        "place": None if place is None else {"municipality": place[0], "year": place[1]},
        "settlement_date": case.settlement_date,
        "open_deviations": sorted(d for d, is_open in case.deviations.items() if is_open),
        "mapping_recorded": case.mapping is not None,
    }


__all__ = [
    "BY",
    "PLACES_COLUMNS",
    "By",
    "Moment",
    "PlacesReplay",
    "ReplayCost",
    "case_as_of",
    "case_as_of_business",
    "case_facts",
    "municipalities_as_of",
    "national_as_of",
    "places_as_of",
    "replay_places",
]
