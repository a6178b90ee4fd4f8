"""The demo year: a realistic settlement year played through the application service, refusals included."""

# Every accepted step carries an idempotency key derived from the step, so playing the story again
# on the same store replays the first answers and appends nothing; refused steps are issued again.
# The story walks its own days on an application of its own over the store (api.demo.clock): the
# application it is given, perhaps the one a running server answers with, keeps its clock.
# What it prints is in the command line's language (api.cli.language: bokmål unless --lang en or
# SETTLEMENT_LANG=en): each step's text through the nb catalog, refusals from the domain's template and
# values (never the English ``message``), dates and numbers as the reader writes them. The commands, their
# idempotency keys and the data they carry are the same in every language.

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from uuid import UUID

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from api.cli import language
from api.cli.language import _
from api.demo.clock import WalkingClock, application_on_clock
from api.messages import render_value
from settlement_domain.application import CommandResult, SettlementApp
from settlement_domain.commands import (
    AnswerSupportCase,
    ApproveDistributionList,
    Command,
    CorrectSettlementDate,
    CreateDistributionList,
    DecideQuota,
    DecideSettlement,
    FileSupportCase,
    OpenDeviation,
    RecordFolderRead,
    RecordMapping,
    RegisterMunicipality,
    RegisterRefugee,
    RegisterSettlementDate,
    ReportMinorCapacity,
    RequestSettlement,
    ResolveDeviation,
    UpdateContact,
    WithdrawDistributionList,
)
from settlement_domain.context import Actor, CommandContext, Role
from settlement_domain.errors import DomainError, NotFound, RuleViolation
from settlement_domain.values import (
    Category,
    ContactInformation,
    Decline,
    Mapping,
    PostalAddress,
    Residence,
    ResidenceKind,
)

# 2024 numbers and counties (after the 2024 county split), with contact points that are invented.
DEMO_MUNICIPALITIES = (
    ("0301", "Oslo", "Oslo"),
    ("4601", "Bergen", "Vestland"),
    ("5001", "Trondheim", "Trøndelag"),
    ("1103", "Stavanger", "Rogaland"),
    ("3301", "Drammen", "Buskerud"),
)
OSLO, BERGEN, TRONDHEIM, STAVANGER, DRAMMEN = (m[0] for m in DEMO_MUNICIPALITIES)
NAMES = {number: name for number, name, _ in DEMO_MUNICIPALITIES}

IMDI = Actor("imdi-caseworker-ingrid", Role.IMDI)
RECEPTION = Actor("reception-system-udi", Role.RECEPTION)


def caseworker(number: str) -> Actor:
    """The settlement caseworker of one municipality."""
    return Actor(f"caseworker-{number}", Role.MUNICIPALITY, number)


class StoryError(RuntimeError):
    """The story went off its script: a refusal it shows was accepted."""


@dataclass
class StoryReport:
    """What one play of the story did: events appended, steps replayed, refusals shown."""

    anchor: date
    events_before: int
    events_after: int
    accepted: int = 0
    replayed: int = 0
    refusals: list[tuple[str, str]] = field(default_factory=list)  # (rule or NOT_FOUND, English message)

    @property
    def appended(self) -> int:
        return self.events_after - self.events_before

    @property
    def refused_rules(self) -> list[str]:
        return [rule for rule, _ in self.refusals]


NOT_FOUND = "not found"  # a tenancy refusal: another municipality's case is answered as if it did not exist


def shown_date(day: date) -> str:
    """A day as the reader writes it: ``30.11.2026`` in bokmål, ``2026-11-30`` in English."""
    return render_value(language.locale(), day)


def story_anchor(app: SettlementApp) -> date:
    """The story's "today": the day it was first played on this store (Oslo's registration)."""
    # A rerun on another day must send the very same arguments, dates included, for its
    # idempotency keys to replay rather than be refused as reused.
    try:
        oslo = app.municipality(OSLO)
    except NotFound:
        return datetime.now(UTC).date()
    return oslo.created_on.astimezone(UTC).date() if oslo.created_on.tzinfo else oslo.created_on.date()


class Story:
    """Issues the story's commands on a walking clock and prints each one as it happens."""

    def __init__(
        self, app: SettlementApp, clock: WalkingClock, console: Console, report: StoryReport
    ) -> None:
        self.app = app  # the story's own application, on ``clock``
        self.clock = clock
        self.console = console
        self.anchor = report.anchor
        self.report = report

    def day(self, days_before_today: int) -> date:
        """Moves the story to ``days_before_today`` days before the anchor and returns that day."""
        self.clock.today = self.anchor - timedelta(days=days_before_today)
        return self.clock.today

    def chapter(self, title: str) -> None:
        """A chapter's heading; ``title`` is already in the reader's language."""
        self.console.print()
        self.console.rule(f"[bold]{escape(title)}[/] [dim]({shown_date(self.clock.today)})[/]", align="left")

    def note(self, text: str) -> None:
        """A line of explanation under a step, in the reader's language."""
        self.console.print(f"     [dim]{escape(text)}[/]", highlight=False)

    def _who(self, actor: Actor) -> str:
        if actor.role is Role.MUNICIPALITY:
            return NAMES.get(actor.municipality or "", actor.municipality or "")
        if actor.role is Role.IMDI:
            return "IMDi"
        return _("Reception") if actor.role is Role.RECEPTION else actor.role.value

    def _line(self, mark: str, actor: Actor, text: str) -> str:
        today = shown_date(self.clock.today)
        return f" {mark} [dim]{today}[/] [bold]{escape(self._who(actor))}[/]: {escape(text)}"

    def do(self, key: str, actor: Actor, text: str, command: Command) -> CommandResult:
        """An accepted step; ``key`` makes it idempotent across plays of the story. ``text`` tells the step
        in the reader's language (made with ``_()``)."""
        ctx = CommandContext(actor=actor, correlation_id=f"demo-{key}", idempotency_key=f"demo-{key}")
        result = self.app.handle(ctx, command)
        if result.replayed:
            self.report.replayed += 1
            mark = "[cyan]↺[/]"
        else:
            self.report.accepted += 1
            mark = "[green]✓[/]"
        self.console.print(self._line(mark, actor, text), highlight=False)
        return result

    def refuse(self, actor: Actor, text: str, command: Command) -> str:
        """A step the rules refuse; returns the refusing rule (``not found`` for a tenancy 404)."""
        number = len(self.report.refusals) + 1
        ctx = CommandContext(actor=actor, correlation_id=f"demo-refused-{number}")
        refusal: DomainError
        try:
            self.app.handle(ctx, command)
        except RuleViolation as error:
            refusal, rule = error, error.rule
            why = _("refused by %(rule)s", rule=rule)
        except NotFound as error:
            # Tenancy: another municipality's case is answered as if it did not exist.
            refusal, rule = error, NOT_FOUND
            why = _("refused as not found (another municipality's case)")
        else:
            raise StoryError(f"{text}: expected a refusal, but the command was accepted")
        self.report.refusals.append((rule, refusal.message))
        # The refusal in the reader's language, from the domain's template and values (never .message).
        message = language.refusal(refusal)
        self.console.print(
            f"{self._line('[red]✗[/]', actor, text)}\n     [red]{escape(why)}[/]: {escape(message)}",
            highlight=False,
        )
        return rule


# The demo's addresses (all invented): the three reception centres, and where persons live privately.
RECEPTION_CENTRES = {
    "north": (
        Residence(ResidenceKind.RECEPTION_CENTRE, "RC-0114 Mottak Nord"),
        PostalAddress("Mottaksveien 14", "9008", "Tromsø"),
    ),
    "east": (
        Residence(ResidenceKind.RECEPTION_CENTRE, "RC-0307 Mottak Øst"),
        PostalAddress("Leirveien 7", "2003", "Lillestrøm"),
    ),
    "west": (
        Residence(ResidenceKind.RECEPTION_CENTRE, "RC-0462 Mottak Vest"),
        PostalAddress("Fjordgata 62", "5003", "Bergen"),
    ),
}
PRIVATE = Residence(ResidenceKind.PRIVATE)
PRIVATE_ADDRESSES = {
    "kidane": PostalAddress("Transittveien 3", "0150", "Oslo"),
    "ahmadi": PostalAddress("Kirkegata 9", "4006", "Stavanger"),
    "nasser": PostalAddress("Olav Tryggvasons gate 5", "7011", "Trondheim"),
    "yousef": PostalAddress("Tøyengata 21", "0578", "Oslo"),
}
OSLO_CONTACT = ContactInformation(
    contact_person="Settlement office, Oslo (demo)",
    email="bosetting.demo@oslo.example",
    phone="+47 21 00 00 00",
    postal_address=PostalAddress("Rådhusplassen 1", "0037", "Oslo", rule="registry"),
    organisation_number="999000301",  # R9: a made-up digital address for the demo's letters
)


def _years_before(day: date, years: int, days: int = 0) -> date:
    """A birth date ``years`` (and ``days``) before ``day``; 29 February falls back to the 28th."""
    try:
        born = day.replace(year=day.year - years)
    except ValueError:
        born = day.replace(year=day.year - years, day=28)
    return born - timedelta(days=days)


def play_story(app: SettlementApp, console: Console | None = None, anchor: date | None = None) -> StoryReport:
    """Plays the demo year into ``app``'s store and prints it.

    The story walks its own days on an application of its own over the same store; ``app`` itself
    (perhaps the running server's) is only read, and its clock is never changed.
    """
    console = console or Console()
    anchor = anchor or story_anchor(app)
    report = StoryReport(anchor=anchor, events_before=app.position(), events_after=0)
    title = _("Settlement demo: a year of IMDi and five municipalities")
    console.rule(f"[bold]{escape(title)}[/]")
    accepted = escape(_("accepted (appended to the log)"))
    refused = escape(_("refused, with the rule that refused"))
    replayed = escape(_("replayed from its idempotency key (nothing appended)"))
    console.print(
        f"[green]✓[/] {accepted}   [red]✗[/] {refused}   [cyan]↺[/] {replayed}",
        highlight=False,
    )
    if report.events_before:
        again = _(
            "The store holds %(events)s events; a story first played on %(day)s replays, and its refusals "
            "are issued again against today's state.",
            events=report.events_before,
            day=shown_date(anchor),
        )
        console.print(f"[dim]{escape(again)}[/]", highlight=False)
    clock = WalkingClock(anchor)
    with application_on_clock(app, clock) as own:
        story = Story(own, clock, console, report)
        _play(story)
        report.events_after = own.position()
    _print_summary(story)
    return report


def _play(s: Story) -> None:
    year = (s.anchor - timedelta(days=60)).year  # the year the story's persons are settled in
    _quotas(s, year)
    cast = _refugees(s)
    open_list = _lists_and_approvals(s, cast, year)
    _decisions_and_dates(s, cast, year)
    _open_list_minors_and_support(s, cast, open_list)
    _waiting_for_a_private_date(s, year)


@dataclass
class _Cast:
    """The story's persons: ids and names by story key, and the story keys of each family."""

    people: dict[str, UUID] = field(default_factory=dict)
    names: dict[str, str] = field(default_factory=dict)
    families: dict[str, list[str]] = field(default_factory=dict)


def _quotas(s: Story, year: int) -> None:
    a, do, refuse = s.anchor, s.do, s.refuse

    s.day(150)
    s.chapter(_("1. IMDi registers the municipalities"))
    for number, name, county in DEMO_MUNICIPALITIES:
        do(
            f"register-{number}",
            IMDI,
            _("registers %(number)s %(name)s (%(county)s)", number=number, name=name, county=county),
            RegisterMunicipality(number=number, name=name, county=county),
        )
    do(
        f"contact-{OSLO}",
        caseworker(OSLO),
        _("updates its contact information"),
        UpdateContact(number=OSLO, contact=OSLO_CONTACT),
    )

    s.day(140)
    s.chapter(_("2. IMDi's requests for %(year)s", year=str(year)))
    requests = {
        OSLO: (600, 30),
        BERGEN: (350, 20),
        TRONDHEIM: (250, 15),
        STAVANGER: (200, 10),
        DRAMMEN: (120, 5),
    }
    for number, (persons, minors) in requests.items():
        do(
            f"request-{number}-{year}",
            IMDI,
            _(
                "requests %(municipality)s to settle %(persons)s persons (%(minors)s unaccompanied minors) in "
                "%(year)s; request letter by digital post",
                municipality=NAMES[number],
                persons=persons,
                minors=minors,
                year=str(year),
            ),
            RequestSettlement(number=number, year=year, persons=persons, unaccompanied_minors=minors),
        )
    refuse(
        caseworker(BERGEN),
        _("tries to send %(municipality)s a request for %(year)s", municipality="Trondheim", year=str(year)),
        RequestSettlement(number=TRONDHEIM, year=year, persons=10, unaccompanied_minors=0),
    )
    refuse(
        IMDI,
        _("sends %(municipality)s a second request without saying why", municipality="Drammen"),
        RequestSettlement(number=DRAMMEN, year=year, persons=100, unaccompanied_minors=5),
    )
    refuse(
        IMDI,
        _(
            "asks %(municipality)s for %(persons)s persons of whom %(minors)s unaccompanied minors",
            municipality="Bergen",
            persons=10,
            minors=12,
        ),
        RequestSettlement(
            number=BERGEN, year=year, persons=10, unaccompanied_minors=12, reason="Typing error"
        ),
    )
    do(
        f"request-{DRAMMEN}-{year}-revised",
        IMDI,
        _(
            "revises Drammen's request to %(persons)s persons (%(minors)s minors): fewer arrivals than forecast",
            persons=100,
            minors=5,
        ),
        RequestSettlement(
            number=DRAMMEN,
            year=year,
            persons=100,
            unaccompanied_minors=5,
            reason="Fewer arrivals than forecast in the national prognosis",
        ),
    )

    s.day(120)
    s.chapter(_("3. The municipalities' quota decisions"))
    decisions = {
        OSLO: (560, 25),
        BERGEN: (330, 20),
        TRONDHEIM: (250, 12),
        STAVANGER: (180, 8),
        DRAMMEN: (100, 0),
    }
    for number, (persons, minors) in decisions.items():
        do(
            f"decide-{number}-{year}",
            caseworker(number),
            _(
                "the council decides to settle %(persons)s persons (%(minors)s unaccompanied minors) in %(year)s",
                persons=persons,
                minors=minors,
                year=str(year),
            ),
            DecideQuota(
                number=number,
                year=year,
                persons=persons,
                unaccompanied_minors=minors,
                decided_on=a - timedelta(days=125),
            ),
        )
    refuse(
        caseworker(OSLO),
        _("tries to record Bergen's quota decision"),
        DecideQuota(
            number=BERGEN, year=year, persons=400, unaccompanied_minors=20, decided_on=a - timedelta(days=125)
        ),
    )
    s.day(100)
    do(
        f"decide-{STAVANGER}-{year}-revised",
        caseworker(STAVANGER),
        _(
            "revises its decision to %(persons)s persons (%(minors)s minors) after a new council vote; both "
            "are kept",
            persons=200,
            minors=10,
        ),
        DecideQuota(
            number=STAVANGER,
            year=year,
            persons=200,
            unaccompanied_minors=10,
            decided_on=a - timedelta(days=101),
        ),
    )


def _refugees(s: Story) -> _Cast:
    a, do = s.anchor, s.do

    s.day(95)
    s.chapter(_("4. Refugees are registered and mapped"))
    north_res, north_addr = RECEPTION_CENTRES["north"]
    east_res, east_addr = RECEPTION_CENTRES["east"]
    west_res, west_addr = RECEPTION_CENTRES["west"]
    cast = _Cast()
    people, names = cast.people, cast.names

    def register(
        key: str,
        actor: Actor,
        name: str,
        born: date,
        family: str | None,
        minor: bool,
        residence: Residence,
        address: PostalAddress,
        category: Category,
        note: str,
    ) -> None:
        result = do(
            f"register-{key}",
            actor,
            _("registers %(name)s (%(note)s)", name=name, note=note),
            RegisterRefugee(
                full_name=name,
                birth_date=born,
                family_id=family,
                unaccompanied_minor=minor,
                residence=residence,
                postal_address=address,
                category=category,
            ),
        )
        people[key] = UUID(result.id)
        names[key] = name

    family_a = [
        ("a1", "Samir Demo-Haddad", 41),
        ("a2", "Lina Demo-Haddad", 38),
        ("a3", "Omar Demo-Haddad", 14),
        ("a4", "Nour Demo-Haddad", 11),
        ("a5", "Yara Demo-Haddad", 4),
    ]
    for key, name, age in family_a:
        register(
            key,
            RECEPTION,
            name,
            _years_before(a, age, 40),
            "demo-family-haddad",
            False,
            east_res,
            east_addr,
            Category.ASYLUM,
            _("family of five, age %(age)s, %(centre)s", age=age, centre="Mottak Øst"),
        )
    family_b = [
        ("b1", "Tesfay Demo-Kidane", 35),
        ("b2", "Selam Demo-Kidane", 31),
        ("b3", "Abel Demo-Kidane", 2),
    ]
    for key, name, age in family_b:
        register(
            key,
            IMDI,
            name,
            _years_before(a, age, 75),
            "demo-family-kidane",
            False,
            PRIVATE,
            PRIVATE_ADDRESSES["kidane"],
            Category.RESETTLEMENT,
            _("resettlement family of three, age %(age)s", age=age),
        )
    family_c = [("c1", "Olena Demo-Kovalenko", 44), ("c2", "Dmytro Demo-Kovalenko", 17)]
    for key, name, age in family_c:
        register(
            key,
            RECEPTION,
            name,
            _years_before(a, age, 10),
            "demo-family-kovalenko",
            False,
            west_res,
            west_addr,
            Category.COLLECTIVE_PROTECTION,
            _("mother and son, age %(age)s, %(centre)s", age=age, centre="Mottak Vest"),
        )
    family_e = [
        ("e1", "Hamid Demo-Rahimi", 50),
        ("e2", "Zahra Demo-Rahimi", 47),
        ("e3", "Ali Demo-Rahimi", 19),
        ("e4", "Sara Demo-Rahimi", 16),
    ]
    for key, name, age in family_e:
        register(
            key,
            RECEPTION,
            name,
            _years_before(a, age, 200),
            "demo-family-rahimi",
            False,
            north_res,
            north_addr,
            Category.ASYLUM,
            _("family of four, age %(age)s, %(centre)s", age=age, centre="Mottak Nord"),
        )
    register(
        "d",
        RECEPTION,
        "Maryam Demo-Ahmadi",
        _years_before(a, 29, 3),
        None,
        False,
        PRIVATE,
        PRIVATE_ADDRESSES["ahmadi"],
        Category.ASYLUM,
        _("single adult living privately"),
    )
    register(
        "g",
        RECEPTION,
        "Yusuf Demo-Osman",
        _years_before(a, 33, 55),
        None,
        False,
        east_res,
        east_addr,
        Category.ASYLUM,
        _("single adult, %(centre)s", centre="Mottak Øst"),
    )
    register(
        "h",
        RECEPTION,
        "Amal Demo-Nasser",
        _years_before(a, 26, 12),
        None,
        False,
        PRIVATE,
        PRIVATE_ADDRESSES["nasser"],
        Category.FAMILY_REUNIFICATION,
        _("single adult living privately"),
    )
    register(
        "m1",
        RECEPTION,
        "Ahmad Demo-Karimi",
        _years_before(a, 16, 30),
        None,
        True,
        north_res,
        north_addr,
        Category.ASYLUM,
        _("unaccompanied minor, %(age)s", age=16),
    )
    register(
        "m2",
        RECEPTION,
        "Bilal Demo-Sultani",
        _years_before(a, 17, 90),
        None,
        True,
        west_res,
        west_addr,
        Category.ASYLUM,
        _("unaccompanied minor, %(age)s", age=17),
    )
    do(
        "mapping-a1",
        RECEPTION,
        _("records the mapping of %(name)s (engineer, Arabic and English)", name=names["a1"]),
        RecordMapping(
            refugee_id=people["a1"],
            mapping=Mapping(
                education="Engineering degree",
                work_experience="Civil engineer, 12 years",
                languages=("ar", "en"),
                health_needs="",
                notes="Family of five; wants to live near a school",
            ),
        ),
    )
    do(
        "mapping-m1",
        RECEPTION,
        _("records the mapping of %(name)s (school pupil, needs follow-up)", name=names["m1"]),
        RecordMapping(
            refugee_id=people["m1"],
            mapping=Mapping(
                education="Lower secondary school",
                work_experience="",
                languages=("fa", "en"),
                health_needs="Follow-up by a psychologist",
                notes="Needs a housing with staff",
            ),
        ),
    )

    cast.families = {
        "haddad": [k for k, _, _ in family_a],
        "kidane": [k for k, _, _ in family_b],
        "kovalenko": [k for k, _, _ in family_c],
        "rahimi": [k for k, _, _ in family_e],
    }
    return cast


def _lists_and_approvals(s: Story, cast: _Cast, year: int) -> UUID:
    a, do, refuse = s.anchor, s.do, s.refuse
    people, names = cast.people, cast.names
    family_a, family_b, family_e = (cast.families[f] for f in ("haddad", "kidane", "rahimi"))

    def proposal(municipality: str, keys: list[str], respond_by: date) -> CreateDistributionList:
        # Every list is for the story's settlement year, whatever year its respond-by date falls in.
        return CreateDistributionList(
            municipality=municipality,
            refugee_ids=tuple(people[k] for k in keys),
            respond_by=respond_by,
            year=year,
        )

    def answer(
        list_id: UUID, accepted: list[str], declined: dict[str, str] | None = None
    ) -> ApproveDistributionList:
        return ApproveDistributionList(
            list_id=list_id,
            accepted=tuple(people[k] for k in accepted),
            declined=tuple(Decline(people[k], reason) for k, reason in (declined or {}).items()),
        )

    s.day(80)
    s.chapter(_("5. IMDi's distribution lists"))
    respond_by = a - timedelta(days=66)
    refuse(
        IMDI,
        _(
            "proposes the Haddad family to %(municipality)s with today as respond-by date",
            municipality="Oslo",
        ),
        proposal(OSLO, family_a, s.clock.today),
    )
    refuse(
        IMDI,
        _("proposes only two of the five Haddads to %(municipality)s", municipality="Oslo"),
        proposal(OSLO, ["a1", "a2"], respond_by),
    )
    list_oslo = UUID(
        do(
            "list-oslo",
            IMDI,
            _(
                "proposes the Haddad family (%(count)s) and %(name)s to %(municipality)s",
                count=len(family_a),
                name=names["g"],
                municipality="Oslo",
            ),
            proposal(OSLO, [*family_a, "g"], respond_by),
        ).id
    )
    # Amal's list stays open to the end of the story, so the refusals about her hold on every rerun.
    list_open = UUID(
        do(
            "list-trondheim-h",
            IMDI,
            _("proposes %(name)s to %(municipality)s", name=names["h"], municipality="Trondheim"),
            proposal(TRONDHEIM, ["h"], a + timedelta(days=7)),
        ).id
    )
    refuse(
        IMDI,
        _("proposes %(name)s to Drammen while she is on Trondheim's open list", name=names["h"]),
        proposal(DRAMMEN, ["h"], respond_by),
    )
    list_bergen = UUID(
        do(
            "list-bergen",
            IMDI,
            _(
                "proposes the %(family)s family (%(count)s) to %(municipality)s",
                family="Kidane",
                count=len(family_b),
                municipality="Bergen",
            ),
            proposal(BERGEN, family_b, respond_by),
        ).id
    )
    list_bergen_2 = UUID(
        do(
            "list-bergen-rahimi",
            IMDI,
            _(
                "proposes the %(family)s family (%(count)s) to %(municipality)s",
                family="Rahimi",
                count=len(family_e),
                municipality="Bergen",
            ),
            proposal(BERGEN, family_e, respond_by),
        ).id
    )
    list_trondheim = UUID(
        do(
            "list-trondheim",
            IMDI,
            _(
                "proposes the Kovalenko family (%(count)s) and %(name)s (minor) to %(municipality)s",
                count=2,
                name=names["m1"],
                municipality="Trondheim",
            ),
            proposal(TRONDHEIM, ["c1", "c2", "m1"], respond_by),
        ).id
    )
    list_stavanger = UUID(
        do(
            "list-stavanger",
            IMDI,
            _("proposes %(name)s to %(municipality)s", name=names["d"], municipality="Stavanger"),
            proposal(STAVANGER, ["d"], respond_by),
        ).id
    )
    list_drammen = UUID(
        do(
            "list-drammen",
            IMDI,
            _("proposes %(name)s (minor) to %(municipality)s", name=names["m2"], municipality="Drammen"),
            proposal(DRAMMEN, ["m2"], respond_by),
        ).id
    )
    refuse(
        caseworker(BERGEN),
        _("opens the person folder of the Rahimi family's father before selecting him"),
        RecordFolderRead(refugee_id=people["e1"]),
    )

    s.day(75)
    do(
        "withdraw-bergen-rahimi",
        IMDI,
        _("withdraws the Rahimi list: the family has relatives in Trøndelag"),
        WithdrawDistributionList(
            list_id=list_bergen_2,
            reason="The family has close relatives in Trøndelag; proposed there instead",
        ),
    )
    list_trondheim_2 = UUID(
        do(
            "list-trondheim-rahimi",
            IMDI,
            _(
                "proposes the %(family)s family (%(count)s) to %(municipality)s",
                family="Rahimi",
                count=len(family_e),
                municipality="Trondheim",
            ),
            proposal(TRONDHEIM, family_e, respond_by),
        ).id
    )

    s.day(70)
    s.chapter(_("6. The municipalities approve their lists (selection)"))
    refuse(
        caseworker(OSLO),
        _("approves its list but forgets %(name)s", name=names["g"]),
        answer(list_oslo, family_a),
    )
    refuse(
        caseworker(OSLO),
        _("accepts the Haddad parents only"),
        answer(list_oslo, family_a[:2], {**{k: "Only two places" for k in family_a[2:]}, "g": "No flat"}),
    )
    refuse(
        caseworker(BERGEN),
        _("tries to approve Oslo's list"),
        answer(list_oslo, [*family_a, "g"]),
    )
    do(
        "approve-oslo",
        caseworker(OSLO),
        _(
            "accepts the Haddad family and declines %(name)s (no single flats free); selection letter",
            name=names["g"],
        ),
        answer(list_oslo, family_a, {"g": "No single-person flats free this quarter"}),
    )
    do(
        "approve-bergen",
        caseworker(BERGEN),
        _("accepts the %(family)s family; selection letter", family="Kidane"),
        answer(list_bergen, family_b),
    )
    do(
        "approve-trondheim",
        caseworker(TRONDHEIM),
        _(
            "accepts %(name)s and declines the Kovalenko family (no flat for two before summer)",
            name=names["m1"],
        ),
        answer(list_trondheim, ["m1"], {"c1": "No suitable flat for two", "c2": "No suitable flat for two"}),
    )
    do(
        "approve-trondheim-rahimi",
        caseworker(TRONDHEIM),
        _("accepts the %(family)s family; selection letter", family="Rahimi"),
        answer(list_trondheim_2, family_e),
    )
    do(
        "approve-stavanger",
        caseworker(STAVANGER),
        _("accepts %(name)s; selection letter", name=names["d"]),
        answer(list_stavanger, ["d"]),
    )
    # Selection takes places of the list's year (R4): Drammen decided none for unaccompanied minors.
    refuse(
        caseworker(DRAMMEN),
        _("accepts %(name)s (minor), with no places decided for minors", name=names["m2"]),
        answer(list_drammen, ["m2"]),
    )
    do(
        f"decide-{DRAMMEN}-{year}-minor",
        caseworker(DRAMMEN),
        _(
            "the council revises its decision for %(year)s to %(persons)s persons and one unaccompanied "
            "minor: Bilal's adult brother lives in %(municipality)s",
            year=str(year),
            persons=100,
            municipality="Drammen",
        ),
        DecideQuota(
            number=DRAMMEN, year=year, persons=100, unaccompanied_minors=1, decided_on=a - timedelta(days=71)
        ),
    )
    do(
        "approve-drammen",
        caseworker(DRAMMEN),
        _("accepts %(name)s again; selection letter", name=names["m2"]),
        answer(list_drammen, ["m2"]),
    )
    do(
        "folder-bergen-b1",
        caseworker(BERGEN),
        _("opens %(name)s's person folder (the read is recorded)", name=names["b1"]),
        RecordFolderRead(refugee_id=people["b1"]),
    )
    s.day(68)
    list_stavanger_2 = UUID(
        do(
            "list-stavanger-kovalenko",
            IMDI,
            _(
                "proposes the %(family)s family (%(count)s) to %(municipality)s",
                family="Kovalenko",
                count=2,
                municipality="Stavanger",
            ),
            proposal(STAVANGER, ["c1", "c2"], a - timedelta(days=55)),
        ).id
    )
    s.day(64)
    do(
        "approve-stavanger-kovalenko",
        caseworker(STAVANGER),
        _("accepts the %(family)s family; selection letter", family="Kovalenko"),
        answer(list_stavanger_2, ["c1", "c2"]),
    )

    return list_open


def _decisions_and_dates(s: Story, cast: _Cast, year: int) -> None:
    a, do, refuse = s.anchor, s.do, s.refuse
    people, names = cast.people, cast.names
    family_a, family_b, family_e = (cast.families[f] for f in ("haddad", "kidane", "rahimi"))

    def date_of(key: str, days_before: int) -> RegisterSettlementDate:
        return RegisterSettlementDate(refugee_id=people[key], settlement_date=a - timedelta(days=days_before))

    s.day(60)
    s.chapter(_("7. IMDi's settlement decisions"))
    refuse(
        IMDI,
        _("decides %(name)s for %(municipality)s, which declined him", name=names["g"], municipality="Oslo"),
        DecideSettlement(refugee_id=people["g"], municipality=OSLO),
    )
    # A decision keeps the place the selection took, in the list's year (R5).
    settled_in = [
        (OSLO, [*family_a]),
        (BERGEN, [*family_b]),
        (TRONDHEIM, ["m1", *family_e]),
        (STAVANGER, ["d"]),
        (DRAMMEN, ["m2"]),
    ]
    for number, keys in settled_in:
        for key in keys:
            do(
                f"decide-{key}",
                IMDI,
                _(
                    "decides %(name)s for %(municipality)s; letters to the municipality (digital) and the "
                    "person (post)",
                    name=names[key],
                    municipality=NAMES[number],
                ),
                DecideSettlement(refugee_id=people[key], municipality=number, year=year),
            )
    # Naming another year moves the place there, checked against that year's vacant places (R5).
    refuse(
        IMDI,
        _(
            "decides the Kovalenko family for %(municipality)s in %(year)s, whose quota is not decided yet",
            municipality="Stavanger",
            year=str(year + 1),
        ),
        DecideSettlement(refugee_id=people["c1"], municipality=STAVANGER, year=year + 1),
    )
    for key in ("c1", "c2"):
        do(
            f"decide-{key}",
            IMDI,
            _(
                "decides %(name)s for Stavanger in %(year)s with an override: Stavanger counts the family in "
                "next year's quota",
                name=names[key],
                year=str(year + 1),
            ),
            DecideSettlement(
                refugee_id=people[key],
                municipality=STAVANGER,
                year=year + 1,
                override_reason=f"Stavanger has agreed to count the family in its {year + 1} "
                "quota; that decision is not recorded yet",
            ),
        )

    s.day(55)
    s.chapter(_("8. A deviation"))
    deviation = do(
        "deviation-d",
        IMDI,
        _("opens a deviation on %(name)s: address mismatch", name=names["d"]),
        OpenDeviation(
            refugee_id=people["d"],
            kind="address mismatch",
            description="The registered address differs from the population register",
        ),
    ).extra["deviation_id"]

    s.day(40)
    s.chapter(_("9. Settlement dates"))
    for key in family_a:
        do(
            f"date-{key}",
            RECEPTION,
            _(
                "transfers %(name)s's settlement date in %(municipality)s from %(centre)s",
                name=names[key],
                municipality="Oslo",
                centre="Mottak Øst",
            ),
            date_of(key, 45),
        )
    refuse(
        caseworker(OSLO),
        _("registers a date for %(name)s itself (he came from a reception centre)", name=names["a1"]),
        date_of("a1", 45),
    )
    refuse(caseworker(BERGEN), _("registers the Kidane family's date as next week"), date_of("b1", -7))
    refuse(caseworker(BERGEN), _("registers a date before the family was selected"), date_of("b1", 90))
    for key in family_b:
        do(
            f"date-{key}",
            caseworker(BERGEN),
            _("registers %(name)s's settlement date (lived privately)", name=names[key]),
            date_of(key, 42),
        )
    refuse(
        caseworker(BERGEN),
        _("registers %(name)s's date a second time", name=names["b1"]),
        date_of("b1", 41),
    )
    do(
        "correct-b1",
        IMDI,
        _("corrects %(name)s's date: he moved in a day later than his family", name=names["b1"]),
        CorrectSettlementDate(
            refugee_id=people["b1"],
            settlement_date=a - timedelta(days=41),
            reason="The father arrived one day after the family (confirmed by Bergen)",
        ),
    )
    for key in ["m1", *family_e]:
        do(
            f"date-{key}",
            RECEPTION,
            _(
                "transfers %(name)s's settlement date in %(municipality)s",
                name=names[key],
                municipality="Trondheim",
            ),
            date_of(key, 41),
        )
    refuse(
        caseworker(STAVANGER),
        _("registers %(name)s's date while the deviation is open", name=names["d"]),
        date_of("d", 40),
    )
    s.day(30)
    refuse(
        caseworker(TRONDHEIM),
        _(
            "registers a date for %(name)s, settled in %(municipality)s",
            name=names["b1"],
            municipality="Bergen",
        ),
        date_of("b1", 31),
    )
    do(
        "resolve-d",
        IMDI,
        _("resolves the deviation: the population register was updated"),
        ResolveDeviation(
            refugee_id=people["d"],
            deviation_id=deviation,
            note="The population register now shows the same address",
        ),
    )
    refuse(
        IMDI,
        _("resolves the same deviation again"),
        ResolveDeviation(refugee_id=people["d"], deviation_id=deviation, note="Again"),
    )
    do(
        "date-d",
        caseworker(STAVANGER),
        _("registers %(name)s's settlement date (lived privately)", name=names["d"]),
        date_of("d", 35),
    )
    for key in ("c1", "c2"):
        do(
            f"date-{key}",
            RECEPTION,
            _(
                "transfers %(name)s's settlement date in %(municipality)s from %(centre)s",
                name=names[key],
                municipality="Stavanger",
                centre="Mottak Vest",
            ),
            date_of(key, 33),
        )
    do(
        "date-m2",
        RECEPTION,
        _(
            "transfers %(name)s's settlement date in %(municipality)s",
            name=names["m2"],
            municipality="Drammen",
        ),
        date_of("m2", 32),
    )


def _open_list_minors_and_support(s: Story, cast: _Cast, list_open: UUID) -> None:
    a, do, refuse = s.anchor, s.do, s.refuse
    people, names = cast.people, cast.names

    s.day(3)
    s.chapter(_("10. An open list, capacity for minors and a support case"))
    refuse(
        caseworker(TRONDHEIM),
        _("registers %(name)s's date before selecting her", name=names["h"]),
        RegisterSettlementDate(refugee_id=people["h"], settlement_date=a - timedelta(days=3)),
    )
    s.note(
        _(
            "Trondheim's list %(list)s stays open: the answer is due in a week",
            list=str(list_open),
        )
    )
    s.day(0)
    week = (a + timedelta(days=21)).isocalendar()
    expected_week = f"{week.year}-W{week.week:02d}"
    refuse(
        caseworker(BERGEN),
        _(
            "reports %(places)s places for unaccompanied minors aged %(min_age)s-%(max_age)s",
            places=_("two"),
            min_age=13,
            max_age=15,
        ),
        ReportMinorCapacity(
            municipality=BERGEN,
            places=2,
            expected_week=expected_week,
            min_age=13,
            max_age=15,
            round_the_clock_staffing=True,
            special_conditions="",
        ),
    )
    do(
        "capacity-bergen",
        caseworker(BERGEN),
        _(
            "reports %(places)s places for unaccompanied minors aged %(min_age)s-%(max_age)s from week "
            "%(week)s of %(year)s",
            places=_("three"),
            min_age=15,
            max_age=17,
            week=str(week.week),
            year=str(week.year),
        ),
        ReportMinorCapacity(
            municipality=BERGEN,
            places=3,
            expected_week=expected_week,
            min_age=15,
            max_age=17,
            round_the_clock_staffing=True,
            special_conditions="Housing with staff in Åsane",
        ),
    )
    case = UUID(
        do(
            "support-oslo",
            caseworker(OSLO),
            _("files a support case: a decision letter was not received"),
            FileSupportCase(
                subject="Decision letter not received",
                text="We have not received the decision letter for one family settled this autumn.",
            ),
        ).id
    )
    do(
        "support-answer",
        IMDI,
        _("answers and closes the support case"),
        AnswerSupportCase(
            case_id=case,
            text="The letter was re-sent by digital post today; it is also visible in the person folder.",
            close=True,
        ),
    )
    refuse(
        IMDI,
        _("answers the closed support case again"),
        AnswerSupportCase(case_id=case, text="Any news?", close=False),
    )


def _waiting_for_a_private_date(s: Story, year: int) -> str:
    """R7: a person who lived privately, selected by Oslo today, whose settlement date Oslo has yet to
    register (the municipality registers it; for persons from a reception centre the reception system
    does, R8). The story leaves it to the caseworker: on the pages, «Bosettingsdato for privatboende»."""
    a, do = s.anchor, s.do
    s.day(0)
    s.chapter(_("11. A person who lived privately waits for Oslo's settlement date"))
    person = UUID(
        do(
            "register-p",
            IMDI,
            _(
                "registers %(name)s (single adult living privately in %(municipality)s, family reunification)",
                name="Nadia Demo-Yousef",
                municipality="Oslo",
            ),
            RegisterRefugee(
                full_name="Nadia Demo-Yousef",
                birth_date=_years_before(a, 31, 140),
                family_id=None,
                unaccompanied_minor=False,
                residence=PRIVATE,
                postal_address=PRIVATE_ADDRESSES["yousef"],
                category=Category.FAMILY_REUNIFICATION,
            ),
        ).id
    )
    listed = UUID(
        do(
            "list-oslo-p",
            IMDI,
            _("proposes %(name)s to %(municipality)s", name="Nadia Demo-Yousef", municipality="Oslo"),
            CreateDistributionList(
                municipality=OSLO, refugee_ids=(person,), respond_by=a + timedelta(days=14), year=year
            ),
        ).id
    )
    do(
        "approve-oslo-p",
        caseworker(OSLO),
        _(
            "accepts %(name)s; she lives privately, so %(municipality)s registers her settlement date itself",
            name="Nadia Demo-Yousef",
            municipality="Oslo",
        ),
        ApproveDistributionList(list_id=listed, accepted=(person,), declined=()),
    )
    s.note(
        _(
            "Oslo registers %(name)s's settlement date on the day she settles (R7)",
            name="Nadia Demo-Yousef",
        )
    )
    return str(person)


def _print_summary(s: Story) -> None:
    report = s.report
    s.console.print()
    number = language.number
    table = Table(title=escape(_("The demo year")), show_header=False)
    table.add_row(escape(_("story's today")), shown_date(report.anchor))
    table.add_row(escape(_("events in the store")), number(report.events_after))
    table.add_row(escape(_("appended by this play")), number(report.appended))
    table.add_row(escape(_("commands accepted")), number(report.accepted))
    table.add_row(escape(_("commands replayed (idempotency keys)")), number(report.replayed))
    by_rule = Counter(_("not found") if rule == NOT_FOUND else rule for rule in report.refused_rules)
    rules = ", ".join(f"{rule} ×{number(count)}" if count > 1 else rule for rule, count in by_rule.items())
    table.add_row(escape(_("commands refused")), escape(f"{number(len(report.refusals))}: {rules}"))
    s.console.print(table)
