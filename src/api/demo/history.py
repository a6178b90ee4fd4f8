"""Demo data at scale: a seeded history of settlement in Norway, 2016-2025, through the application service."""

# Volumes follow the shape of the real ones (the 2016 peak, the low years 2018-2021, Ukraine from
# 2022); names, people and addresses are invented. The same scale and seed give the same commands
# in the same order; only the random uuid4 ids of persons, lists and deviations differ. The history
# walks its own days on an application of its own over the store (api.demo.clock), in bulk runs with
# Python's garbage collector paused (its scans of the bulk run's identity map cost more than the work).

from __future__ import annotations

import heapq
import random
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any
from uuid import UUID

from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from rich.table import Table

from api.cli import language
from api.cli.language import _
from api.demo.clock import WalkingClock, application_on_clock
from settlement_domain.application import CommandResult, SettlementApp
from settlement_domain.bulk import BulkRun, bulk_run, paused_garbage_collector
from settlement_domain.commands import (
    AnswerSupportCase,
    ApproveDistributionList,
    Command,
    CreateDistributionList,
    DecideQuota,
    DecideSettlement,
    FileSupportCase,
    MarkMinorCapacityFilled,
    OpenDeviation,
    RecordMapping,
    RegisterMunicipality,
    RegisterRefugee,
    RegisterSettlementDate,
    ReportMinorCapacity,
    RequestSettlement,
    ResolveDeviation,
    UpdateContact,
    WithdrawDistributionList,
    WithdrawMinorCapacity,
)
from settlement_domain.context import Actor, CommandContext, Role
from settlement_domain.errors import RuleViolation
from settlement_domain.values import (
    Category,
    ContactInformation,
    Decline,
    Mapping,
    PostalAddress,
    Residence,
    ResidenceKind,
)

FIRST_YEAR, LAST_YEAR = 2016, 2025

# Persons settled nationally per year, in the shape of IMDi's published figures.
SETTLED_PER_YEAR = {
    2016: 15_300,
    2017: 11_300,
    2018: 4_900,
    2019: 4_600,
    2020: 3_600,
    2021: 5_000,
    2022: 31_000,
    2023: 33_000,
    2024: 23_500,
    2025: 15_000,
}
# Share of unaccompanied minors among the settled (high in 2016, a few percent since).
MINOR_SHARE = {2016: 0.07, 2017: 0.05, 2022: 0.02, 2023: 0.02, 2024: 0.02, 2025: 0.02}
DEFAULT_MINOR_SHARE = 0.03
# Arrivals per month; 2022 ramps up from March (the war in Ukraine).
MONTH_WEIGHTS = {2022: (0.2, 0.2, 0.6, 1.0, 1.3, 1.4, 1.4, 1.4, 1.4, 1.4, 1.3, 1.2)}
FAMILY_SIZES = (1, 2, 3, 4, 5, 6, 7)
FAMILY_SIZE_WEIGHTS = (0.36, 0.14, 0.14, 0.13, 0.11, 0.08, 0.04)

# (number, name, 2024 county number): the larger municipalities under their real 2024 numbers.
KNOWN_MUNICIPALITIES = (
    ("0301", "Oslo", 709),
    ("1103", "Stavanger", 148),
    ("1106", "Haugesund", 38),
    ("1108", "Sandnes", 83),
    ("1101", "Eigersund", 15),
    ("1119", "Hå", 19),
    ("1120", "Klepp", 20),
    ("1121", "Time", 19),
    ("1124", "Sola", 28),
    ("1127", "Randaberg", 11),
    ("1149", "Karmøy", 43),
    ("1505", "Kristiansund", 24),
    ("1506", "Molde", 32),
    ("1508", "Ålesund", 60),
    ("1520", "Ørsta", 11),
    ("1577", "Volda", 11),
    ("1804", "Bodø", 53),
    ("1806", "Narvik", 21),
    ("1813", "Brønnøy", 8),
    ("1820", "Alstahaug", 7),
    ("1833", "Rana", 26),
    ("1860", "Vestvågøy", 12),
    ("1865", "Vågan", 10),
    ("1870", "Sortland", 11),
    ("3101", "Halden", 31),
    ("3103", "Moss", 50),
    ("3105", "Sarpsborg", 58),
    ("3107", "Fredrikstad", 84),
    ("3201", "Bærum", 130),
    ("3203", "Asker", 97),
    ("3205", "Lillestrøm", 91),
    ("3207", "Nordre Follo", 62),
    ("3209", "Ullensaker", 41),
    ("3301", "Drammen", 103),
    ("3303", "Kongsberg", 28),
    ("3305", "Ringerike", 31),
    ("3401", "Kongsvinger", 18),
    ("3403", "Hamar", 32),
    ("3405", "Lillehammer", 29),
    ("3407", "Gjøvik", 30),
    ("3411", "Ringsaker", 35),
    ("3901", "Horten", 27),
    ("3903", "Holmestrand", 25),
    ("3905", "Tønsberg", 58),
    ("3907", "Sandefjord", 65),
    ("3909", "Larvik", 48),
    ("3911", "Færder", 27),
    ("4001", "Porsgrunn", 37),
    ("4003", "Skien", 56),
    ("4005", "Notodden", 13),
    ("4201", "Risør", 7),
    ("4202", "Grimstad", 24),
    ("4203", "Arendal", 46),
    ("4204", "Kristiansand", 116),
    ("4205", "Lindesnes", 23),
    ("4206", "Farsund", 10),
    ("4207", "Flekkefjord", 9),
    ("4601", "Bergen", 291),
    ("4602", "Kinn", 17),
    ("4613", "Bømlo", 12),
    ("4621", "Voss", 16),
    ("4624", "Bjørnafjorden", 26),
    ("4626", "Øygarden", 39),
    ("4627", "Askøy", 30),
    ("4631", "Alver", 30),
    ("4640", "Sogndal", 12),
    ("5001", "Trondheim", 214),
    ("5006", "Steinkjer", 24),
    ("5007", "Namsos", 15),
    ("5028", "Melhus", 17),
    ("5035", "Stjørdal", 25),
    ("5037", "Levanger", 20),
    ("5038", "Verdal", 15),
    ("5501", "Tromsø", 78),
    ("5503", "Harstad", 25),
    ("5601", "Alta", 21),
    ("5603", "Hammerfest", 11),
    ("5605", "Sør-Varanger", 10),
    ("5607", "Vadsø", 6),
)
# The 15 counties of 2024 and how many municipalities each has (357 in all).
COUNTIES = {
    "03": ("Oslo", 1),
    "11": ("Rogaland", 23),
    "15": ("Møre og Romsdal", 27),
    "18": ("Nordland", 41),
    "31": ("Østfold", 12),
    "32": ("Akershus", 21),
    "33": ("Buskerud", 18),
    "34": ("Innlandet", 46),
    "39": ("Vestfold", 6),
    "40": ("Telemark", 17),
    "42": ("Agder", 25),
    "46": ("Vestland", 43),
    "50": ("Trøndelag", 38),
    "55": ("Troms", 21),
    "56": ("Finnmark", 18),
}
NAME_STEMS = (
    "Aur",
    "Bjør",
    "Dal",
    "Eid",
    "Fjell",
    "Frø",
    "Gran",
    "Hol",
    "Hov",
    "Lin",
    "Lund",
    "Mel",
    "Nor",
    "Ose",
    "Rau",
    "Rød",
    "Sel",
    "Sken",
    "Sol",
    "Stor",
    "Sul",
    "Tor",
    "Tve",
    "Ul",
    "Val",
    "Vik",
    "Øst",
    "Ås",
    "Å",
)
NAME_ENDINGS = (
    "dal",
    "vik",
    "nes",
    "stad",
    "heim",
    "øy",
    "fjord",
    "sand",
    "berg",
    "land",
    "by",
    "voll",
    "strand",
    "haug",
)
GIVEN_NAMES = (
    "Ahmad",
    "Aisha",
    "Ali",
    "Amina",
    "Andrii",
    "Dmytro",
    "Fatima",
    "Hamid",
    "Hanna",
    "Hassan",
    "Iryna",
    "Khadija",
    "Layla",
    "Mariam",
    "Mohammed",
    "Mustafa",
    "Nadia",
    "Oksana",
    "Olena",
    "Omar",
    "Rahel",
    "Samir",
    "Sara",
    "Tesfay",
    "Yusuf",
    "Zahra",
    "Bohdan",
    "Kateryna",
    "Abdi",
    "Hodan",
    "Semhar",
    "Yonas",
    "Rania",
    "Karim",
)
FAMILY_NAMES = (
    "Abdi",
    "Ahmadi",
    "Ali",
    "Bondarenko",
    "Haddad",
    "Hassan",
    "Hussein",
    "Ibrahim",
    "Karimi",
    "Kidane",
    "Kovalenko",
    "Kravchenko",
    "Mahmoud",
    "Mohamed",
    "Nasser",
    "Osman",
    "Rahimi",
    "Said",
    "Shevchenko",
    "Sultani",
    "Tesfaye",
    "Yusuf",
    "Haile",
    "Melnyk",
    "Boyko",
    "Tkachenko",
    "Omar",
    "Saleh",
)
DECLINE_REASONS = (
    "No suitable housing available this month",
    "The family needs a larger flat than we have",
    "Health needs that our services cannot meet now",
    "Housing for single adults is full",
)
WITHDRAW_REASONS = (
    "The family has close relatives in another municipality",
    "Proposed to a municipality nearer to treatment",
)
DEVIATION_KINDS = (
    ("address mismatch", "The registered address differs from the population register"),
    ("residence unclear", "Reception centre and municipality disagree on where the person lived"),
    ("identity check", "The identity papers are being checked again"),
)


# Events of a generated history: the municipalities' requests and decisions are fixed, the rest grows
# with the scale (measured: 1,524,421 events at scale 1.0, seed 1).
FIXED_EVENTS, EVENTS_PER_SCALE = 15_500, 1_509_000


def scale_for_events(events: int) -> float:
    """The scale whose history holds about ``events`` events (at least 15,500, the fixed part)."""
    return max(events - FIXED_EVENTS, 1_000) / EVENTS_PER_SCALE


@dataclass(frozen=True)
class MunicipalityPlan:
    """One municipality of the generated country: number, name, county and its share of the settled."""

    number: str
    name: str
    county: str
    weight: float


def municipalities() -> list[MunicipalityPlan]:
    """357 municipalities in 15 counties: the known ones under their real numbers, the rest invented."""
    # A fixed seed of its own, so that every generated history has the same municipalities.
    rng = random.Random(2024)
    known = {number: (name, population) for number, name, population in KNOWN_MUNICIPALITIES}
    used_names = {name for name, _ in known.values()}
    plans: list[MunicipalityPlan] = []
    for county, (county_name, count) in COUNTIES.items():
        numbers = sorted(n for n in known if n.startswith(county))
        free = (f"{county}{i:02d}" for i in range(1, 100) if f"{county}{i:02d}" not in known)
        numbers += [next(free) for _ in range(count - len(numbers))]
        for number in sorted(numbers):
            population: float
            if number in known:
                name, population = known[number]
            else:
                name = _invented_name(rng, used_names)
                population = min(rng.lognormvariate(1.5, 0.9), 14.0)  # thousands; most are small
            plans.append(MunicipalityPlan(number, name, county_name, population))
    return plans


def _invented_name(rng: random.Random, used: set[str]) -> str:
    while True:
        name = rng.choice(NAME_STEMS) + rng.choice(NAME_ENDINGS)
        if name not in used:
            used.add(name)
            return name


@dataclass
class GenerationSummary:
    """What one generated history holds: events appended, persons, refusals by rule, volumes per year."""

    scale: float
    seed: int
    municipalities: int = 0
    events: int = 0
    commands: int = 0
    persons: int = 0
    unaccompanied_minors: int = 0
    families: int = 0
    lists: int = 0
    lists_withdrawn: int = 0
    declined_persons: int = 0
    overrides: int = 0
    deviations: int = 0
    late_dates: int = 0
    capacity_reports: int = 0
    support_cases: int = 0
    refusals: Counter[str] = field(default_factory=Counter)
    requested_by_year: dict[int, int] = field(default_factory=dict)
    decided_by_year: dict[int, int] = field(default_factory=dict)
    settled_by_year: Counter[int] = field(default_factory=Counter)
    seconds: float = 0.0

    @property
    def events_per_s(self) -> float:
        return self.events / self.seconds if self.seconds else 0.0


ProgressCallback = Callable[[int, int, GenerationSummary], None]


class GenerationError(RuntimeError):
    """The generator's script broke: a command it expected to pass was refused, or the reverse."""


@dataclass
class _Person:
    id: UUID
    minor: bool
    private: bool


@dataclass
class _Family:
    key: str
    persons: list[_Person]
    minor: bool  # an unaccompanied minor on his or her own

    @property
    def size(self) -> int:
        return len(self.persons)


def require_empty_store(app: SettlementApp) -> None:
    """History is generated into an empty store only: its requests would otherwise be revisions."""
    if app.position() != 0:
        raise ValueError(
            _(
                "The store already holds %(events)s events; generate history into an empty store.",
                events=app.position(),
            )
        )


def generate(
    app: SettlementApp,
    scale: float,
    seed: int = 1,
    progress: ProgressCallback | None = None,
    flush_every: int = 200,
) -> GenerationSummary:
    """Generates the 2016-2025 history into ``app``'s empty store; ``scale`` 1.0 is full size.

    The rules judge "today" (R3 respond-by, R7e no future dates), so the history runs on an
    application of its own over the store, with a clock that walks through its years; ``app``
    itself is only read.
    """
    if scale <= 0:
        raise ValueError(_("The scale must be above 0."))
    require_empty_store(app)
    clock = WalkingClock(date(FIRST_YEAR - 1, 9, 1))
    started = time.perf_counter()
    with application_on_clock(app, clock) as own, paused_garbage_collector():
        generator = _Generator(own, clock, scale, seed, progress, flush_every)
        generator.run()
    summary = generator.summary
    summary.seconds = time.perf_counter() - started
    summary.events = app.position()
    return summary


class _Generator:
    """Schedules the history's commands on a timeline and issues them in day order."""

    def __init__(
        self,
        app: SettlementApp,
        clock: WalkingClock,
        scale: float,
        seed: int,
        progress: ProgressCallback | None,
        flush_every: int,
    ) -> None:
        self.app = app
        self.scale = scale
        self.seed = seed
        self.rng = random.Random(seed)
        self.progress = progress
        self.flush_every = max(1, flush_every)
        self.clock = clock
        self.summary = GenerationSummary(scale=scale, seed=seed)
        self.plans = municipalities()
        self.imdi = Actor("imdi-generator", Role.IMDI)
        self.reception = Actor("reception-system", Role.RECEPTION)
        self.caseworkers = {
            p.number: Actor(f"caseworker-{p.number}", Role.MUNICIPALITY, p.number) for p in self.plans
        }
        self.timeline: list[tuple[date, int, int, Callable[..., None], tuple[Any, ...]]] = []
        self.sequence = 0
        self.run_: BulkRun | None = None
        self.flushed_at = 0
        self.correlation = 0
        # Places per (municipality, year), as [persons, minors]: decided; committed (on open lists,
        # selected or decided); taken (selected or decided: R10's "used", what R4 and R5 check).
        self.decided: dict[tuple[str, int], list[int]] = {}
        self.committed: dict[tuple[str, int], list[int]] = defaultdict(lambda: [0, 0])
        self.taken: dict[tuple[str, int], list[int]] = defaultdict(lambda: [0, 0])
        self.requested: dict[tuple[str, int], tuple[int, int]] = {}  # the latest request, per year
        self.pool: list[_Family] = []
        self.families = 0

    # Timeline ------------------------------------------------------------------------------

    def at(self, day: date, phase: int, action: Callable[..., None], *args: Any) -> None:
        """Schedules ``action`` on ``day``; ``phase`` orders the actions of one day."""
        self.sequence += 1
        heapq.heappush(self.timeline, (day, phase, self.sequence, action, args))

    def run(self) -> None:
        self.at(self.clock.today, 0, self.register_municipalities)
        for year in range(FIRST_YEAR, LAST_YEAR + 1):
            self.at(date(year - 1, 10, 1), 1, self.send_requests, year)
            self.at(date(year - 1, 12, 10), 1, self.record_decisions, year)
            self.at(date(year, 2, 15), 1, self.revise_requests, year)
            self.at(date(year, 3, 20), 1, self.revise_decisions, year)
            self.at(date(year, 3, 1), 6, self.capacity_reports, year)
            self.at(date(year, 1, 15), 6, self.support_cases, year)
            weights = MONTH_WEIGHTS.get(year, (1.0,) * 12)
            arrivals = _apportion(round(SETTLED_PER_YEAR[year] * self.scale), weights)
            for month, persons in enumerate(arrivals, start=1):
                self.at(date(year, month, 2), 2, self.register_arrivals, year, persons)
                self.at(date(year, month, 5), 3, self.propose, year)
        steps_total = (LAST_YEAR - FIRST_YEAR + 3) * 12
        while self.timeline:
            year = self.timeline[0][0].year
            # One bulk run per year: many commands per transaction, and an identity map that does
            # not grow with the whole history.
            with bulk_run(self.app) as run:
                self.run_, self.flushed_at = run, 0
                while self.timeline and self.timeline[0][0].year == year:
                    day, _, _, action, args = heapq.heappop(self.timeline)
                    if self.progress and day.month != self.clock.today.month:
                        done = (day.year - FIRST_YEAR + 1) * 12 + day.month
                        self.progress(min(done, steps_total), steps_total, self.summary)
                    self.clock.today = day
                    action(*args)
            self.run_ = None
        if self.progress:
            self.progress(steps_total, steps_total, self.summary)

    # Commands ------------------------------------------------------------------------------

    def _context(self, actor: Actor) -> CommandContext:
        self.correlation += 1
        return CommandContext(actor=actor, correlation_id=f"history-{self.seed}-{self.correlation}")

    def _handle(self, actor: Actor, command: Command) -> CommandResult:
        ctx = self._context(actor)
        return self.run_.handle(ctx, command) if self.run_ is not None else self.app.handle(ctx, command)

    def do(self, actor: Actor, command: Command) -> CommandResult:
        """A command the history expects to pass; a refusal means the script is wrong."""
        try:
            result = self._handle(actor, command)
        except RuleViolation as refusal:
            raise GenerationError(
                f"{command.snake_name()} on {self.clock.today} was refused: {refusal}"
            ) from refusal
        self.summary.commands += 1
        if self.run_ is not None and self.run_.commands - self.flushed_at >= self.flush_every:
            self.run_.flush()
            self.flushed_at = self.run_.commands
        return result

    def refused(self, rule: str, actor: Actor, command: Command) -> None:
        """A command the history issues knowing the rules refuse it (a caseworker's slip).

        A bulk run puts back what a refused command touched, so nothing needs flushing first.
        """
        try:
            self._handle(actor, command)
        except RuleViolation as refusal:
            if refusal.rule != rule:
                raise GenerationError(
                    f"{command.snake_name()} was refused by {refusal.rule}, not {rule}: {refusal}"
                ) from refusal
            self.summary.commands += 1
            self.summary.refusals[rule] += 1
            return
        raise GenerationError(
            f"{command.snake_name()} on {self.clock.today} was accepted; {rule} should refuse it"
        )

    # Municipalities, requests and decisions --------------------------------------------------

    def register_municipalities(self) -> None:
        for plan in self.plans:
            self.do(self.imdi, RegisterMunicipality(number=plan.number, name=plan.name, county=plan.county))
            contact = ContactInformation(
                contact_person=f"Settlement office, {plan.name}",
                email=f"bosetting@{plan.number}.kommune.example",
                phone=f"+47 9{plan.number}0000",
                postal_address=PostalAddress(
                    "Rådhusgata 1", f"{plan.number[:2]}00", plan.name, rule="registry"
                ),
            )
            self.do(self.caseworkers[plan.number], UpdateContact(number=plan.number, contact=contact))
        self.summary.municipalities = len(self.plans)

    def send_requests(self, year: int) -> None:
        settled = SETTLED_PER_YEAR[year] * self.scale
        persons = _apportion(round(settled * 1.25), [p.weight for p in self.plans])
        share = MINOR_SHARE.get(year, DEFAULT_MINOR_SHARE)
        minors = _apportion(round(settled * share * 1.15), [p.weight for p in self.plans])
        self.summary.requested_by_year[year] = sum(persons)
        for plan, p, m in zip(self.plans, persons, minors, strict=True):
            self.requested[(plan.number, year)] = (p, min(m, p))
            self.do(
                self.imdi,
                RequestSettlement(number=plan.number, year=year, persons=p, unaccompanied_minors=min(m, p)),
            )

    def record_decisions(self, year: int) -> None:
        total = 0
        for plan in self.plans:
            persons, minors = self.requested[(plan.number, year)]
            decided = round(persons * self.rng.triangular(0.7, 1.05, 0.93))
            decided_minors = min(decided, round(minors * self.rng.triangular(0.6, 1.1, 0.95)))
            actor = self.caseworkers[plan.number] if self.rng.random() < 0.9 else self.imdi
            self.do(
                actor,
                DecideQuota(
                    number=plan.number,
                    year=year,
                    persons=decided,
                    unaccompanied_minors=decided_minors,
                    decided_on=self.clock.today - timedelta(days=5),
                ),
            )
            self.decided[(plan.number, year)] = [decided, decided_minors]
            total += decided
        self.summary.decided_by_year[year] = total

    def revise_requests(self, year: int) -> None:
        for plan in self.plans:
            persons, minors = self.requested[(plan.number, year)]
            if persons == 0 or self.rng.random() >= 0.03:
                continue
            if self.rng.random() < 0.3:
                # A caseworker forgets that a second request needs its reason (R1).
                self.refused(
                    "R1",
                    self.imdi,
                    RequestSettlement(
                        number=plan.number, year=year, persons=persons + 5, unaccompanied_minors=minors
                    ),
                )
            revised = persons + max(1, round(persons * self.rng.uniform(0.05, 0.2)))
            self.do(
                self.imdi,
                RequestSettlement(
                    number=plan.number,
                    year=year,
                    persons=revised,
                    unaccompanied_minors=minors,
                    reason="Arrivals above the national prognosis",
                ),
            )
            self.requested[(plan.number, year)] = (revised, minors)
            self.summary.requested_by_year[year] += revised - persons

    def revise_decisions(self, year: int) -> None:
        for plan in self.plans:
            places = self.decided[(plan.number, year)]
            if places[0] == 0 or self.rng.random() >= 0.05:
                continue
            # Never below the places already committed: R2 refuses a decision below the used
            # places, and the lists still open must fit at their approval (R4).
            committed = self.committed[(plan.number, year)][0]
            revised = max(round(places[0] * self.rng.uniform(0.9, 1.2)), places[1], committed)
            self.revise_decision(plan.number, year, revised, places[1])

    def revise_decision(self, number: str, year: int, persons: int, minors: int) -> None:
        """The municipality's council revises its quota decision (R2); the summary counts the change."""
        places = self.decided[(number, year)]
        self.do(
            self.caseworkers[number],
            DecideQuota(
                number=number,
                year=year,
                persons=persons,
                unaccompanied_minors=minors,
                decided_on=self.clock.today,
            ),
        )
        self.summary.decided_by_year[year] += persons - places[0]
        places[0], places[1] = persons, minors

    # Refugees --------------------------------------------------------------------------------

    def register_arrivals(self, year: int, persons: int) -> None:
        rng = self.rng
        share = MINOR_SHARE.get(year, DEFAULT_MINOR_SHARE)
        # The share is of persons; a minor arrives alone, the other arrivals as families.
        mean_size = sum(s * w for s, w in zip(FAMILY_SIZES, FAMILY_SIZE_WEIGHTS, strict=True))
        minor_arrival = share * mean_size / (1 - share + share * mean_size)
        while persons > 0:
            if rng.random() < minor_arrival:
                family = self.register_family(year, 1, minor=True)
            else:
                size = min(rng.choices(FAMILY_SIZES, FAMILY_SIZE_WEIGHTS)[0], max(persons, 1))
                family = self.register_family(year, size, minor=False)
            self.pool.append(family)
            persons -= family.size

    def register_family(self, year: int, size: int, minor: bool) -> _Family:
        rng, today = self.rng, self.clock.today
        self.families += 1
        self.summary.families += 1
        key = f"history-{self.seed}-{self.families}"
        surname = rng.choice(FAMILY_NAMES)
        resettlement = not minor and rng.random() < (
            0.5 if 2018 <= year <= 2021 else 0.2 if year < 2022 else 0.1
        )
        if resettlement:
            actor, category, private = self.imdi, Category.RESETTLEMENT, True
        else:
            actor = self.reception
            category = (
                Category.ASYLUM
                if minor or year < 2022 or rng.random() < 0.3
                else Category.COLLECTIVE_PROTECTION
            )
            if not minor and rng.random() < 0.05:
                category = Category.FAMILY_REUNIFICATION
            private = not minor and rng.random() < (0.35 if year >= 2022 else 0.15)
        centre = rng.randint(1, 40)
        residence = (
            Residence(ResidenceKind.PRIVATE)
            if private
            else Residence(ResidenceKind.RECEPTION_CENTRE, f"RC-{centre:04d}")
        )
        address = PostalAddress(
            f"{rng.choice(('Mottaksveien', 'Storgata', 'Kirkeveien', 'Parkveien'))} {rng.randint(1, 80)}",
            f"{rng.randint(1, 99):02d}{rng.randint(0, 99):02d}",
            rng.choice(self.plans).name,
        )
        ages = [rng.randint(15, 17)] if minor else _family_ages(rng, size)
        persons: list[_Person] = []
        for age in ages:
            born = today - timedelta(days=age * 365 + rng.randint(30, 330))
            result = self.do(
                actor,
                RegisterRefugee(
                    full_name=f"{rng.choice(GIVEN_NAMES)} {surname}",
                    birth_date=born,
                    family_id=None if minor else key,
                    unaccompanied_minor=minor,
                    residence=residence,
                    postal_address=address,
                    category=category,
                ),
            )
            refugee_id = UUID(result.id)
            persons.append(_Person(refugee_id, minor, private))
            if not private and rng.random() < 0.6:
                self.do(
                    self.reception,
                    RecordMapping(
                        refugee_id=refugee_id,
                        mapping=Mapping(
                            education=rng.choice(
                                ("None", "Primary school", "Secondary school", "University")
                            ),
                            work_experience=rng.choice(
                                ("", "Farming", "Trade", "Health care", "Construction")
                            ),
                            languages=(rng.choice(("ar", "ti", "fa", "uk", "so", "ru")),),
                        ),
                    ),
                )
        self.summary.persons += len(persons)
        self.summary.unaccompanied_minors += int(minor)
        return _Family(key, persons, minor)

    # Distribution lists ----------------------------------------------------------------------

    def propose(self, year: int) -> None:
        """Every family waiting in the pool goes on a list to a municipality with places left."""
        by_municipality: dict[str, list[_Family]] = defaultdict(list)
        pool, self.pool = self.pool, []
        # Large families first, while the larger quotas still have room for them.
        for family in sorted(pool, key=lambda f: -f.size):
            number = self.choose_municipality(family, year)
            self.committed[(number, year)][0] += family.size
            self.committed[(number, year)][1] += int(family.minor)
            by_municipality[number].append(family)
        today = self.clock.today
        for number, families in by_municipality.items():
            self.request_more(number, year)
            for chunk in _chunks(families, 40):
                ids = tuple(p.id for f in chunk for p in f.persons)
                list_id = UUID(
                    self.do(
                        self.imdi,
                        CreateDistributionList(
                            municipality=number,
                            refugee_ids=ids,
                            respond_by=today + timedelta(days=14),
                            year=year,
                        ),
                    ).id
                )
                self.summary.lists += 1
                if self.rng.random() < 0.02:
                    self.at(today + timedelta(days=3), 3, self.withdraw, number, year, list_id, chunk)
                else:
                    self.at(today + timedelta(days=7), 4, self.approve, number, year, list_id, chunk)

    def choose_municipality(self, family: _Family, year: int) -> str:
        """Weighted by decided places still free; where the family fits in no decision, weighted by
        the places IMDi requested and the municipality has not decided (it raises its decision before
        approving, R2 and R4); where it fits in no request either, the one with most places free."""
        free, requested_free = [], []
        most = (-(10**9), self.plans[0].number)
        for plan in self.plans:
            decided = self.decided.get((plan.number, year), [0, 0])
            requested = self.requested.get((plan.number, year), (0, 0))
            committed = self.committed[(plan.number, year)]
            persons_free = decided[0] - committed[0]
            ok = persons_free >= family.size and (not family.minor or decided[1] - committed[1] >= 1)
            free.append(persons_free if ok else 0)
            persons_requested = requested[0] - committed[0]
            ok = persons_requested >= family.size and (not family.minor or requested[1] - committed[1] >= 1)
            requested_free.append(persons_requested if ok else 0)
            most = max(most, (persons_free, plan.number))
        for weights in (free, requested_free):
            if sum(weights) > 0:
                return self.rng.choices(self.plans, weights)[0].number
        return most[1]

    def request_more(self, number: str, year: int) -> None:
        """Families proposed past the places IMDi requested: IMDi first revises its request (R1), so that
        the municipality can raise its decision to fit them when it approves (R2, R4)."""
        persons, minors = self.requested[(number, year)]
        committed = self.committed[(number, year)]
        if committed[0] <= persons and committed[1] <= minors:
            return
        revised = (max(persons, committed[0]), max(minors, committed[1]))
        self.do(
            self.imdi,
            RequestSettlement(
                number=number,
                year=year,
                persons=revised[0],
                unaccompanied_minors=revised[1],
                reason="More arrivals than requested places; families are proposed",
            ),
        )
        self.requested[(number, year)] = revised
        self.summary.requested_by_year[year] += revised[0] - persons

    def withdraw(self, number: str, year: int, list_id: UUID, families: list[_Family]) -> None:
        self.do(
            self.imdi, WithdrawDistributionList(list_id=list_id, reason=self.rng.choice(WITHDRAW_REASONS))
        )
        self.summary.lists_withdrawn += 1
        self.release(number, year, families)

    def release(self, number: str, year: int, families: list[_Family]) -> None:
        for family in families:
            self.committed[(number, year)][0] -= family.size
            self.committed[(number, year)][1] -= int(family.minor)
            self.pool.append(family)

    def approve(self, number: str, year: int, list_id: UUID, families: list[_Family]) -> None:
        """The municipality accepts its families (a few declined); the accepted take places of the year (R4)."""
        accepted: list[_Family] = []
        declined: list[_Family] = []
        for family in families:
            (declined if self.rng.random() < 0.05 else accepted).append(family)
        reason = self.rng.choice(DECLINE_REASONS)
        approval = ApproveDistributionList(
            list_id=list_id,
            accepted=tuple(p.id for f in accepted for p in f.persons),
            declined=tuple(Decline(p.id, reason) for f in declined for p in f.persons),
        )
        decided, taken = self.decided[(number, year)], self.taken[(number, year)]
        persons = sum(f.size for f in accepted)
        minors = sum(int(f.minor) for f in accepted)
        if accepted and (taken[0] + persons > decided[0] or taken[1] + minors > decided[1]):
            # More accepted than places left: the council raises its decision first (R2), or,
            # now and then, the caseworker tries to approve before it has (refused by R4).
            if self.rng.random() < 0.1:
                self.refused("R4", self.caseworkers[number], approval)
            new_minors = max(decided[1], taken[1] + minors)
            self.revise_decision(number, year, max(decided[0], taken[0] + persons, new_minors), new_minors)
        self.do(self.caseworkers[number], approval)
        taken[0] += persons
        taken[1] += minors
        self.summary.declined_persons += sum(f.size for f in declined)
        self.release(number, year, declined)
        if accepted:
            self.at(self.clock.today + timedelta(days=3), 4, self.decide, number, year, accepted)

    # Settlement decisions and dates ----------------------------------------------------------

    def decide(self, number: str, year: int, families: list[_Family]) -> None:
        """IMDi's decisions keep the places the selection took, in the list's year; a family that
        moves in after New Year is decided for that year, and its places move there (R5)."""
        for family in families:
            moved_in = self.clock.today + timedelta(days=self.rng.randint(3, 45))
            if moved_in.year == year:
                for person in family.persons:
                    self.do(self.imdi, DecideSettlement(refugee_id=person.id, municipality=number, year=year))
            else:
                self.move_places(number, year, moved_in.year, family)
            self.plan_date(number, family, moved_in)

    def move_places(self, number: str, year: int, to_year: int, family: _Family) -> None:
        """The family's decisions name the year it moves in; past that year's vacant places, IMDi
        first tries without a reason, is refused by R5, and then decides with one (over quota)."""
        decided = self.decided.get((number, to_year))
        taken = self.taken[(number, to_year)]
        tried = False
        for person in family.persons:
            minor = int(person.minor)
            full = decided is None or taken[0] + 1 > decided[0] or taken[1] + minor > decided[1]
            override = None
            if full:
                if not tried:
                    self.refused(
                        "R5",
                        self.imdi,
                        DecideSettlement(refugee_id=person.id, municipality=number, year=to_year),
                    )
                    tried = True
                override = "The family moves in after New Year; counted in next year's quota"
                self.summary.overrides += 1
            self.do(
                self.imdi,
                DecideSettlement(
                    refugee_id=person.id, municipality=number, year=to_year, override_reason=override
                ),
            )
            for key, change in (((number, year), -1), ((number, to_year), 1)):
                for places in (self.taken[key], self.committed[key]):
                    places[0] += change
                    places[1] += change * minor

    def plan_date(self, number: str, family: _Family, moved_in: date) -> None:
        """The family moves in together; the date is reported from reception or by the municipality."""
        rng = self.rng
        private = family.persons[0].private
        late = rng.random() < 0.04
        lag = rng.randint(60, 180) if late else rng.randint(0, 5) if not private else rng.randint(1, 20)
        reported = moved_in + timedelta(days=lag)
        self.summary.late_dates += family.size if late else 0
        for person in family.persons:
            if rng.random() < 0.015:
                self.summary.deviations += 1
                kind, description = rng.choice(DEVIATION_KINDS)
                deviation = self.do(
                    self.imdi, OpenDeviation(refugee_id=person.id, kind=kind, description=description)
                ).extra["deviation_id"]
                if private:
                    self.at(reported, 5, self.blocked_date, number, person, moved_in)
                resolved = reported + timedelta(days=rng.randint(5, 30))
                self.at(resolved, 4, self.resolve, person, deviation)
                self.at(resolved + timedelta(days=2), 5, self.register_date, number, person, moved_in, False)
            else:
                slip = private and rng.random() < 0.01
                self.at(reported, 5, self.register_date, number, person, moved_in, slip)

    def blocked_date(self, number: str, person: _Person, moved_in: date) -> None:
        self.refused(
            "R7c",
            self.caseworkers[number],
            RegisterSettlementDate(refugee_id=person.id, settlement_date=moved_in),
        )

    def resolve(self, person: _Person, deviation: str) -> None:
        self.do(
            self.imdi,
            ResolveDeviation(
                refugee_id=person.id, deviation_id=deviation, note="Checked against the population register"
            ),
        )

    def register_date(self, number: str, person: _Person, moved_in: date, slip: bool) -> None:
        actor = self.caseworkers[number] if person.private else self.reception
        if slip:
            # The caseworker types a date before the selection (R7e) and then the right one.
            self.refused(
                "R7e",
                actor,
                RegisterSettlementDate(refugee_id=person.id, settlement_date=moved_in - timedelta(days=60)),
            )
        self.do(actor, RegisterSettlementDate(refugee_id=person.id, settlement_date=moved_in))
        self.summary.settled_by_year[moved_in.year] += 1

    # Minors' capacity and support cases ------------------------------------------------------

    def capacity_reports(self, year: int) -> None:
        rng, today = self.rng, self.clock.today
        candidates = [p for p in self.plans if self.decided[(p.number, year)][1] > 0] or self.plans
        for _report in range(max(1, round(60 * self.scale))):
            plan = rng.choice(candidates)
            week = (today + timedelta(weeks=rng.randint(2, 12))).isocalendar()
            expected = f"{week.year}-W{week.week:02d}"
            actor = self.caseworkers[plan.number]
            if rng.random() < 0.1:
                self.refused(
                    "R11",
                    actor,
                    ReportMinorCapacity(
                        municipality=plan.number,
                        places=1,
                        expected_week=expected,
                        min_age=14,
                        max_age=16,
                        round_the_clock_staffing=True,
                        special_conditions="",
                    ),
                )
            capacity = self.do(
                actor,
                ReportMinorCapacity(
                    municipality=plan.number,
                    places=rng.randint(1, 4),
                    expected_week=expected,
                    min_age=rng.choice((15, 16)),
                    max_age=17,
                    round_the_clock_staffing=rng.random() < 0.5,
                    special_conditions=rng.choice(("", "Housing with staff", "Close to school")),
                ),
            )
            self.summary.capacity_reports += 1
            later = today + timedelta(days=rng.randint(20, 90))
            if rng.random() < 0.4:
                self.at(later, 6, self.close_capacity, actor, UUID(capacity.id), rng.random() < 0.8)

    def close_capacity(self, actor: Actor, capacity_id: UUID, filled: bool) -> None:
        if filled:
            self.do(actor, MarkMinorCapacityFilled(capacity_id=capacity_id))
        else:
            self.do(
                actor, WithdrawMinorCapacity(capacity_id=capacity_id, reason="The places were used otherwise")
            )

    def support_cases(self, year: int) -> None:
        rng = self.rng
        for _case in range(max(1, round(80 * self.scale))):
            plan = rng.choice(self.plans)
            day = date(year, 1, 15) + timedelta(days=rng.randint(0, 320))
            self.at(day, 6, self.file_case, plan.number)

    def file_case(self, number: str) -> None:
        subject = self.rng.choice(
            ("Decision letter not received", "Wrong settlement date", "Question on grant")
        )
        case = self.do(
            self.caseworkers[number], FileSupportCase(subject=subject, text="Please see the case and advise.")
        )
        self.summary.support_cases += 1
        self.at(
            self.clock.today + timedelta(days=self.rng.randint(1, 10)), 6, self.answer_case, UUID(case.id)
        )

    def answer_case(self, case_id: UUID) -> None:
        self.do(self.imdi, AnswerSupportCase(case_id=case_id, text="Answered and corrected.", close=True))


def _family_ages(rng: random.Random, size: int) -> list[int]:
    """One or two adults and children; now and then a grown-up child living with the family."""
    adults = 1 if size == 1 or rng.random() < 0.25 else 2
    parent = rng.randint(22, 55)
    ages = [parent] + ([max(18, parent + rng.randint(-6, 6))] if adults == 2 else [])
    for _child in range(size - adults):
        ages.append(
            rng.randint(18, 21)
            if parent > 42 and rng.random() < 0.15
            else rng.randint(0, min(17, parent - 18))
        )
    return ages


def _apportion(total: int, weights: list[float] | tuple[float, ...]) -> list[int]:
    """``total`` split in proportion to ``weights`` (largest remainder), so the parts sum to it."""
    whole = sum(weights)
    exact = [total * w / whole for w in weights]
    parts = [int(x) for x in exact]
    by_remainder = sorted(range(len(weights)), key=lambda i: (parts[i] - exact[i], i))
    for i in by_remainder[: total - sum(parts)]:
        parts[i] += 1
    return parts


def _chunks(families: list[_Family], max_persons: int) -> Iterator[list[_Family]]:
    chunk: list[_Family] = []
    persons = 0
    for family in families:
        if chunk and persons + family.size > max_persons:
            yield chunk
            chunk, persons = [], 0
        chunk.append(family)
        persons += family.size
    if chunk:
        yield chunk


@contextmanager
def rich_progress(console: Console) -> Iterator[ProgressCallback]:
    """A progress bar over the history's months, with events so far and events per second."""
    label = escape(_("history"))
    columns = (
        TextColumn(f"[bold]{label}[/]"),
        BarColumn(),
        TextColumn("{task.fields[status]}"),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
    )
    with Progress(*columns, console=console) as bar:
        task = bar.add_task("history", total=None, status="")
        started = time.perf_counter()

        def report(done: int, total: int, summary: GenerationSummary) -> None:
            seconds = time.perf_counter() - started
            rate = round(summary.commands / seconds) if seconds else 0
            status = _(
                "%(persons)s persons, %(commands)s commands (%(rate)s/s)",
                persons=summary.persons,
                commands=summary.commands,
                rate=rate,
            )
            bar.update(task, completed=done, total=total, status=escape(status))

        yield report


def print_summary(summary: GenerationSummary, console: Console) -> None:
    """The generated history in two tables: the totals and the volumes per year, in the reader's language
    (``--lang``; numbers as the reader writes them)."""
    number = language.number
    title = _(
        "Generated history (scale %(scale)s, seed %(seed)s)", scale=summary.scale, seed=str(summary.seed)
    )
    totals = Table(title=escape(title), show_header=False)
    refused = ", ".join(f"{rule} {number(n)}" for rule, n in sorted(summary.refusals.items()))
    for label, value in (
        (_("events appended"), number(summary.events)),
        (
            _("events per second"),
            _(
                "%(rate)s (%(seconds)s s)",
                rate=round(summary.events_per_s),
                seconds=round(summary.seconds, 1),
            ),
        ),
        (_("commands"), number(summary.commands)),
        (_("municipalities"), number(summary.municipalities)),
        (
            _("persons"),
            _("%(persons)s in %(families)s families", persons=summary.persons, families=summary.families),
        ),
        (_("unaccompanied minors"), number(summary.unaccompanied_minors)),
        (
            _("distribution lists"),
            _("%(lists)s (%(withdrawn)s withdrawn)", lists=summary.lists, withdrawn=summary.lists_withdrawn),
        ),
        (_("persons declined"), number(summary.declined_persons)),
        (_("decisions with override"), number(summary.overrides)),
        (_("deviations"), number(summary.deviations)),
        (_("late settlement dates"), number(summary.late_dates)),
        (
            _("capacity reports / support cases"),
            f"{number(summary.capacity_reports)} / {number(summary.support_cases)}",
        ),
        (_("refused commands"), refused or _("none")),
    ):
        totals.add_row(escape(label), escape(value))
    console.print(totals)
    years = Table(
        *(escape(word) for word in (_("year"), _("requested"), _("decided"), _("settled"))),
        title=escape(_("Persons per year")),
    )
    for year in range(FIRST_YEAR, LAST_YEAR + 1):
        years.add_row(
            str(year),
            number(summary.requested_by_year.get(year, 0)),
            number(summary.decided_by_year.get(year, 0)),
            number(summary.settled_by_year.get(year, 0)),
        )
    later = sum(n for y, n in summary.settled_by_year.items() if y > LAST_YEAR)
    if later:
        years.add_row(f"{LAST_YEAR + 1}", "", "", number(later))
    console.print(years)
