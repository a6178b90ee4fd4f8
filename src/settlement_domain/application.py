"""The application service: the one write API of settlement, one method per command.

Every command takes a :class:`CommandContext` (who acts, for which request), checks the role table
and the numbered rules, and stores all the events it causes in ONE transaction: the aggregates it
changed, the letters it issued and, when an idempotency key was given, the answer to a retry.
"""

from __future__ import annotations

import copy
import functools
import gc
import hashlib
import inspect
import json
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field, replace
from datetime import date
from typing import Any, ClassVar, TypeVar
from uuid import UUID, uuid4

from eventsourcing.application import AggregateNotFoundError, Application
from eventsourcing.domain import Aggregate
from eventsourcing.persistence import IntegrityError, JSONTranscoder

from settlement_domain import rules
from settlement_domain.context import Actor, CommandContext, Role
from settlement_domain.distribution_list import DistributionList
from settlement_domain.errors import (
    ConcurrencyConflict,
    DomainError,
    IdempotencyKeyReused,
    NotFound,
    Refusal,
    RuleViolation,
)
from settlement_domain.idempotency import IdempotencyRecord
from settlement_domain.letter import Channel, Letter, LetterKind
from settlement_domain.minor_capacity import MinorCapacity
from settlement_domain.municipality import Municipality
from settlement_domain.persistence import DateAsISO
from settlement_domain.quota import QuotaYear
from settlement_domain.refugee import (
    Category,
    DateSource,
    Family,
    PersonFolderView,
    Refugee,
    ResidenceKind,
)
from settlement_domain.support_case import SupportCase

A = TypeVar("A", bound=Aggregate)

IMDI, MUNICIPALITY, RECEPTION, AUDITOR = Role.IMDI, Role.MUNICIPALITY, Role.RECEPTION, Role.AUDITOR


@dataclass(frozen=True)
class CommandResult:
    """What a command answers: the resource's id and version, and the log position it reached."""

    id: str
    version: int
    position: int
    replayed: bool = False
    extra: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {"id": self.id, "version": self.version, **self.extra}


@dataclass
class Outcome:
    """What a command's body hands back to be saved: the resource answered and all it changed."""

    primary: Aggregate
    changed: list[Aggregate] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)


def command(method: Callable[..., Outcome]) -> Callable[..., CommandResult]:
    """Runs a command body under the idempotency key and saves its outcome in one transaction."""
    signature = inspect.signature(method)

    @functools.wraps(method)
    def wrapper(self: SettlementApp, ctx: CommandContext, *args: Any, **kwargs: Any) -> CommandResult:
        bound = signature.bind(self, ctx, *args, **kwargs)
        bound.apply_defaults()
        arguments = {k: v for k, v in bound.arguments.items() if k not in ("self", "ctx")}
        return self._execute(ctx, method.__name__, arguments, lambda: method(self, ctx, *args, **kwargs))

    return wrapper


class UnitOfWork:
    """Bulk mode: many commands, one transaction per ``flush()`` (imports, the demo generator).

    Aggregates are kept in an identity map for the whole unit, so that later commands see the
    changes of earlier unflushed ones without reading the store. A refused command leaves no trace:
    the aggregates it touched are put back as they were before it ran.
    """

    def __init__(self, app: SettlementApp) -> None:
        self.app = app
        self.identity: dict[UUID, Aggregate] = {}
        self.dirty: dict[UUID, Aggregate] = {}
        self.backups: dict[UUID, Aggregate] = {}
        self.commands = 0

    def get(self, aggregate_id: UUID) -> Aggregate:
        aggregate = self.identity.get(aggregate_id)
        if aggregate is None:
            aggregate = self.app.repository.get(aggregate_id)
            self.identity[aggregate_id] = aggregate
        if aggregate_id not in self.backups:
            self.backups[aggregate_id] = _backup(aggregate)
        return aggregate

    def run(self, body: Callable[[], Outcome]) -> Outcome:
        self.backups = {}
        try:
            outcome = body()
        except BaseException:
            for aggregate_id, backup in self.backups.items():
                self.identity[aggregate_id] = backup
                if aggregate_id in self.dirty:  # its earlier unflushed events are in the backup too
                    self.dirty[aggregate_id] = backup
            raise
        finally:
            self.backups = {}
        for aggregate in (outcome.primary, *outcome.changed):
            self.identity[aggregate.id] = aggregate
            self.dirty[aggregate.id] = aggregate
        self.commands += 1
        return outcome

    def flush(self) -> int:
        """Saves everything changed since the last flush in one transaction; returns the log position."""
        if not self.dirty:
            return self.app.position()
        try:
            recordings = self.app.save(*self.dirty.values())
        except IntegrityError:
            raise ConcurrencyConflict(
                "Another writer changed the same aggregates during the bulk run; nothing of this batch was stored."
            ) from None
        finally:
            self.dirty = {}
        return recordings[-1].notification.id if recordings else self.app.position()


def _backup(aggregate: Aggregate) -> Aggregate:
    """A copy good enough to undo one command: the aggregates' ``apply`` methods replace values or
    change containers one level deep (a dict of deviations, a list of members), and events are
    immutable, so copying each container once is enough (and much cheaper than ``deepcopy``).
    """
    clone = copy.copy(aggregate)
    for name, value in vars(aggregate).items():
        if isinstance(value, (list, dict, set)):
            setattr(clone, name, copy.copy(value))
    return clone


def _fingerprint(name: str, arguments: dict[str, Any]) -> str:
    payload = json.dumps([name, arguments], sort_keys=True, default=str)
    return hashlib.sha256(payload.encode()).hexdigest()


class SettlementApp(Application):
    """Settlement's write side on the eventsourcing library (SQLite or PostgreSQL by environment)."""

    name = "settlement"
    # A big municipality's quota year collects a place-taken event per settlement decision:
    # snapshots keep loading it cheap however many persons it settles.
    snapshotting_intervals: ClassVar[dict[type[Aggregate], int]] = {QuotaYear: 50}

    def __init__(
        self,
        env: dict[str, str] | None = None,
        *,
        clock: Callable[[], date] = date.today,
        settlement_cutoff: date = rules.DEFAULT_SETTLEMENT_CUTOFF,
    ) -> None:
        super().__init__(env)
        self.clock = clock
        self.settlement_cutoff = settlement_cutoff
        self._unit: ContextVar[UnitOfWork | None] = ContextVar(f"settlement-uow-{id(self)}", default=None)

    def register_transcodings(self, transcoder: JSONTranscoder) -> None:
        super().register_transcodings(transcoder)
        transcoder.register(DateAsISO())

    # Plumbing ------------------------------------------------------------------------------

    @contextmanager
    def unit_of_work(self) -> Iterator[UnitOfWork]:
        """Commands inside are stored on ``flush()`` (and at the end), many per transaction.

        Results carry position 0 until flushed. Idempotency keys are not accepted in a unit.
        On an error leaving the block, unflushed work is dropped, never half-stored.
        """
        if self._unit.get() is not None:
            raise RuntimeError("units of work do not nest")
        unit = UnitOfWork(self)
        token = self._unit.set(unit)
        # The identity map grows to every aggregate of the run and holds no reference cycles; the
        # cyclic collector's full scans of it would cost more than the commands themselves.
        collecting = gc.isenabled()
        gc.disable()
        try:
            yield unit
            unit.flush()
        finally:
            if collecting:
                gc.enable()
            self._unit.reset(token)

    def _execute(
        self, ctx: CommandContext, name: str, arguments: dict[str, Any], body: Callable[[], Outcome]
    ) -> CommandResult:
        unit = self._unit.get()
        if unit is not None:
            if ctx.idempotency_key:
                raise ValueError("Idempotency keys are not accepted inside a unit of work.")
            outcome = unit.run(body)
            return CommandResult(
                str(outcome.primary.id), outcome.primary.version, 0, extra=outcome.extra
            )
        record_id = None
        fingerprint = ""
        if ctx.idempotency_key:
            fingerprint = _fingerprint(name, arguments)
            record_id = IdempotencyRecord.create_id(ctx.idempotency_scope, ctx.idempotency_key)
            earlier = self._replay(record_id, fingerprint)
            if earlier is not None:
                return earlier
        try:
            outcome = body()
        except DomainError:
            # A retry racing its own first attempt may see the first attempt's effects (and be
            # refused by them) before it sees the idempotency record: answer it as a retry.
            if record_id is not None and (earlier := self._replay(record_id, fingerprint)) is not None:
                return earlier
            raise
        result = CommandResult(
            id=str(outcome.primary.id), version=outcome.primary.version, position=0, extra=outcome.extra
        )
        to_save: list[Aggregate] = [outcome.primary, *outcome.changed]
        if record_id is not None:
            to_save.append(
                IdempotencyRecord(
                    meta=ctx.meta(),
                    scope=ctx.idempotency_scope,
                    key=ctx.idempotency_key,
                    fingerprint=fingerprint,
                    result=result.as_dict(),
                )
            )
        try:
            recordings = self.save(*to_save)
        except IntegrityError:
            if record_id is not None:
                earlier = self._replay(record_id, fingerprint)
                if earlier is not None:
                    return earlier
            raise ConcurrencyConflict(
                "Someone else changed this case at the same moment; reload it and try again."
            ) from None
        position = recordings[-1].notification.id if recordings else self.position()
        return CommandResult(result.id, result.version, position, extra=result.extra)

    def _replay(self, record_id: UUID, fingerprint: str) -> CommandResult | None:
        try:
            record = self.repository.get(record_id)
        except AggregateNotFoundError:
            return None
        if record.fingerprint != fingerprint:
            raise IdempotencyKeyReused(
                "This Idempotency-Key was already used for a different request."
            )
        answer = dict(record.result)
        return CommandResult(
            id=answer.pop("id"),
            version=answer.pop("version"),
            position=self.position(),
            replayed=True,
            extra=answer,
        )

    def position(self) -> int:
        """The highest position in the global log (0 when empty)."""
        return self.recorder.max_notification_id() or 0

    def _get(self, cls: type[A], aggregate_id: UUID | str, kind: str) -> A:
        unit = self._unit.get()
        try:
            aggregate_id = aggregate_id if isinstance(aggregate_id, UUID) else UUID(str(aggregate_id))
            aggregate = unit.get(aggregate_id) if unit else self.repository.get(aggregate_id)
        except (AggregateNotFoundError, ValueError):
            raise NotFound(kind, aggregate_id) from None
        if not isinstance(aggregate, cls):
            raise NotFound(kind, aggregate_id)
        return aggregate

    def _find(self, cls: type[A], aggregate_id: UUID) -> A | None:
        try:
            return self._get(cls, aggregate_id, cls.__name__)
        except NotFound:
            return None

    def municipality(self, number: str) -> Municipality:
        return self._get(Municipality, Municipality.create_id(number), "municipality")

    def quota_year(self, number: str, year: int) -> QuotaYear | None:
        return self._find(QuotaYear, QuotaYear.create_id(number, year))

    def refugee(self, refugee_id: UUID | str) -> Refugee:
        return self._get(Refugee, refugee_id, "person")

    def distribution_list(self, list_id: UUID | str) -> DistributionList:
        return self._get(DistributionList, list_id, "distribution list")

    def _refugee_for(self, actor: Actor, refugee_id: UUID | str) -> Refugee:
        """The person, or 404 for a municipality that may not know of the person (tenancy)."""
        refugee = self.refugee(refugee_id)
        if actor.role is MUNICIPALITY and not refugee.is_visible_to(actor.municipality or ""):
            raise NotFound("person", refugee_id)
        return refugee

    def _quota_year_for(self, ctx: CommandContext, number: str, year: int) -> QuotaYear:
        return self.quota_year(number, year) or QuotaYear(meta=ctx.meta(), municipality=number, year=year)

    def _letter(
        self,
        ctx: CommandContext,
        cause: Aggregate,
        kind: LetterKind,
        municipality: str,
        person_ids: Iterable[UUID] = (),
        year: int | None = None,
    ) -> Letter:
        """R9: a letter caused by ``cause``'s latest event; digital post to municipalities, post to persons."""
        channel = Channel.POST if kind is LetterKind.DECISION_PERSON else Channel.DIGITAL
        return Letter(
            meta=ctx.meta(),
            cause_id=cause.id,
            cause_version=cause.version,
            kind=kind.value,
            municipality=municipality,
            channel=channel.value,
            person_ids=list(person_ids),
            year=year,
        )

    # Municipalities ------------------------------------------------------------------------

    @command
    def register_municipality(self, ctx: CommandContext, number: str, name: str, county: str) -> Outcome:
        """Lifecycle 1: IMDi registers a municipality by its 4-digit number."""
        rules.require_role("roles", ctx.actor, IMDI, action="register municipalities")
        rules.check_municipality_number(number)
        name = rules.check_text("registry", name, "name", max_length=200)
        county = rules.check_text("registry", county, "county", max_length=200)
        if self._find(Municipality, Municipality.create_id(number)) is not None:
            raise RuleViolation("registry", f"Municipality {number} is already registered.", field="number")
        return Outcome(Municipality(meta=ctx.meta(), number=number, name=name, county=county))

    @command
    def update_contact(
        self,
        ctx: CommandContext,
        number: str,
        contact_person: str,
        email: str,
        phone: str,
        postal_address: dict[str, Any],
    ) -> Outcome:
        """Lifecycle 1: the municipality (or IMDi) keeps its contact information current."""
        rules.require_role("roles", ctx.actor, MUNICIPALITY, IMDI, action="update contact information")
        rules.require_own_municipality("roles", ctx.actor, number, "update contact information")
        municipality = self.municipality(number)
        email = rules.check_text("registry", email, "email", max_length=320)
        if "@" not in email:
            raise rules.refuse_input("registry", "The e-mail address needs an @.", "email")
        contact = {
            "contact_person": rules.check_text("registry", contact_person, "contact_person", max_length=200),
            "email": email,
            "phone": rules.check_text("registry", phone, "phone", max_length=50),
            "postal_address": _postal_address("registry", postal_address),
        }
        municipality.update_contact(meta=ctx.meta(), contact=contact)
        return Outcome(municipality)

    # Requests and quota decisions ------------------------------------------------------------

    @command
    def request_settlement(
        self,
        ctx: CommandContext,
        number: str,
        year: int,
        persons: int,
        unaccompanied_minors: int,
        reason: str | None = None,
    ) -> Outcome:
        """R1: IMDi asks a municipality to settle persons in a year; a revision gives a reason."""
        rules.require_role("R1", ctx.actor, IMDI, action="send settlement requests")
        rules.check_place_counts("R1", year, persons, unaccompanied_minors, self.clock())
        self.municipality(number)
        quota = self._quota_year_for(ctx, number, year)
        quota.request(ctx.meta(), persons, unaccompanied_minors, reason)
        letter = self._letter(ctx, quota, LetterKind.REQUEST, number, year=year)
        return Outcome(quota, [letter], {"letter_id": str(letter.id)})

    @command
    def decide_quota(
        self,
        ctx: CommandContext,
        number: str,
        year: int,
        persons: int,
        unaccompanied_minors: int,
        decided_on: date,
    ) -> Outcome:
        """R2: the municipality's decision on how many it settles (IMDi may record it, marked so)."""
        rules.require_role("R2", ctx.actor, MUNICIPALITY, IMDI, action="record quota decisions")
        rules.require_own_municipality("R2", ctx.actor, number, "record quota decisions")
        today = self.clock()
        rules.check_place_counts("R2", year, persons, unaccompanied_minors, today)
        if decided_on > today:
            raise rules.refuse_input("R2", "The decision date is in the future.", "decided_on")
        if decided_on.year < rules.FIRST_YEAR:
            raise rules.refuse_input("R2", f"The decision date is before {rules.FIRST_YEAR}.", "decided_on")
        self.municipality(number)
        quota = self._quota_year_for(ctx, number, year)
        quota.decide(ctx.meta(), persons, unaccompanied_minors, decided_on, ctx.actor.role is IMDI)
        return Outcome(quota)

    # Refugees --------------------------------------------------------------------------------

    @command
    def register_refugee(
        self,
        ctx: CommandContext,
        full_name: str,
        birth_date: date,
        family_id: str | None,
        unaccompanied_minor: bool,
        residence: dict[str, Any],
        postal_address: dict[str, Any],
        category: str,
    ) -> Outcome:
        """Lifecycle 4: the reception system (or IMDi, for resettlement refugees) registers a person."""
        rules.require_role("roles", ctx.actor, IMDI, RECEPTION, action="register refugees")
        today = self.clock()
        full_name = rules.check_text("registration", full_name, "full_name", max_length=300)
        if birth_date > today or birth_date.year < 1900:
            raise rules.refuse_input("registration", "The birth date is not a possible one.", "birth_date")
        if unaccompanied_minor and rules.age_on(birth_date, today) >= 18:
            raise rules.refuse_input(
                "registration", "An unaccompanied minor is under 18 years old.", "unaccompanied_minor"
            )
        if category not in Category.__members__.values():
            raise rules.refuse_input(
                "registration", f"The category is one of {', '.join(Category)}.", "category"
            )
        family_id = (family_id or "").strip() or None
        refugee = Refugee(
            meta=ctx.meta(),
            personal={
                "full_name": full_name,
                "birth_date": birth_date,
                "postal_address": _postal_address("registration", postal_address),
            },
            family_id=family_id,
            unaccompanied_minor=bool(unaccompanied_minor),
            residence=_residence(residence),
            category=str(category),
        )
        changed: list[Aggregate] = []
        if family_id is not None:
            family = self._find(Family, Family.create_id(family_id)) or Family(
                meta=ctx.meta(), family_id=family_id
            )
            family.add_member(meta=ctx.meta(), refugee_id=refugee.id)
            changed.append(family)
        return Outcome(refugee, changed)

    @command
    def record_mapping(
        self,
        ctx: CommandContext,
        refugee_id: UUID | str,
        education: str,
        work_experience: str,
        languages: list[str],
        health_needs: str,
        notes: str,
    ) -> Outcome:
        """Lifecycle 4: the reception centre records its mapping (kartlegging) of the person."""
        rules.require_role("roles", ctx.actor, RECEPTION, IMDI, action="record mappings")
        refugee = self.refugee(refugee_id)
        refugee.record_mapping(
            meta=ctx.meta(),
            personal={
                "education": education or "",
                "work_experience": work_experience or "",
                "languages": [str(language) for language in languages or []],
                "health_needs": health_needs or "",
                "notes": notes or "",
            },
        )
        return Outcome(refugee)

    # Distribution lists ----------------------------------------------------------------------

    @command
    def create_distribution_list(
        self, ctx: CommandContext, municipality: str, refugee_ids: list[UUID | str], respond_by: date
    ) -> Outcome:
        """R3: IMDi proposes registered, available persons to one municipality, families whole."""
        rules.require_role("R3", ctx.actor, IMDI, action="create distribution lists")
        rules.check_municipality_number(municipality, "municipality")
        if respond_by <= self.clock():
            raise rules.refuse_input("R3", "The respond-by date must be after today.", "respond_by")
        if not refugee_ids:
            raise rules.refuse_input("R3", "A distribution list names at least one person.", "refugee_ids")
        self._get(Municipality, Municipality.create_id(municipality), "municipality")
        refugees: dict[UUID, Refugee] = {}
        for raw_id in refugee_ids:
            try:
                refugee = self.refugee(raw_id)
            except NotFound:
                raise rules.refuse_input("R3", f"Person {raw_id} is not registered.", "refugee_ids") from None
            if refugee.id in refugees:
                raise rules.refuse_input("R3", f"Person {raw_id} is named twice.", "refugee_ids")
            refugee.check_may_be_proposed()
            refugees[refugee.id] = refugee
        families: dict[str, list[UUID]] = {}
        for refugee in refugees.values():
            if refugee.family_id is None or refugee.family_id in families:
                continue
            members = self._get(Family, Family.create_id(refugee.family_id), "family").members
            left_out = [m for m in members if m not in refugees]
            if left_out:
                raise RuleViolation(
                    "R3",
                    f"Family {refugee.family_id} is proposed whole; missing: "
                    f"{', '.join(map(str, left_out))}.",
                    field="refugee_ids",
                )
            families[refugee.family_id] = list(members)
        dlist = DistributionList(
            meta=ctx.meta(),
            municipality=municipality,
            refugee_ids=list(refugees),
            families=families,
            respond_by=respond_by,
        )
        for refugee in refugees.values():
            refugee.propose(meta=ctx.meta(), list_id=dlist.id, municipality=municipality)
        return Outcome(dlist, list(refugees.values()))

    @command
    def withdraw_distribution_list(self, ctx: CommandContext, list_id: UUID | str, reason: str) -> Outcome:
        """R3: IMDi withdraws an open list; its persons become free for another list."""
        rules.require_role("R3", ctx.actor, IMDI, action="withdraw distribution lists")
        reason = rules.check_text("R3", reason, "reason")
        dlist = self.distribution_list(list_id)
        dlist.check_open("R3")
        dlist.withdraw(meta=ctx.meta(), municipality=dlist.municipality, reason=reason)
        changed: list[Aggregate] = []
        for refugee_id in dlist.refugee_ids:
            refugee = self.refugee(refugee_id)
            if refugee.open_list_id == dlist.id:
                refugee.withdraw_proposal(meta=ctx.meta(), list_id=dlist.id)
                changed.append(refugee)
        return Outcome(dlist, changed)

    @command
    def approve_distribution_list(
        self,
        ctx: CommandContext,
        list_id: UUID | str,
        accepted: list[UUID | str],
        declined: dict[UUID | str, str],
    ) -> Outcome:
        """R4: the list's municipality accepts or declines every person; accepting selects (utsøking)."""
        rules.require_role("R4", ctx.actor, MUNICIPALITY, action="approve distribution lists")
        dlist = self.distribution_list(list_id)
        if dlist.municipality != ctx.actor.municipality:
            raise NotFound("distribution list", list_id)
        accepted_ids = [_uuid("R4", r, "accepted") for r in accepted]
        declined_ids = {_uuid("R4", r, "declined"): reason for r, reason in declined.items()}
        dlist.check_approval(accepted_ids, declined_ids)
        today = self.clock()
        dlist.approve(
            meta=ctx.meta(),
            municipality=dlist.municipality,
            accepted=accepted_ids,
            declined=[{"refugee_id": r, "reason": reason.strip()} for r, reason in declined_ids.items()],
            approved_on=today,
        )
        changed: list[Aggregate] = []
        for refugee_id in accepted_ids:
            refugee = self.refugee(refugee_id)
            refugee.select(
                meta=ctx.meta(), list_id=dlist.id, municipality=dlist.municipality,
                selected_on=today, year=today.year,
            )
            changed.append(refugee)
        for refugee_id, reason in declined_ids.items():
            refugee = self.refugee(refugee_id)
            refugee.decline(
                meta=ctx.meta(), list_id=dlist.id, municipality=dlist.municipality, reason=reason.strip()
            )
            changed.append(refugee)
        extra: dict[str, Any] = {"selected": [str(r) for r in accepted_ids]}
        if accepted_ids:
            letter = self._letter(
                ctx, dlist, LetterKind.SELECTION, dlist.municipality, accepted_ids, today.year
            )
            changed.append(letter)
            extra["letter_id"] = str(letter.id)
        return Outcome(dlist, changed, extra)

    # Settlement decisions and dates ----------------------------------------------------------

    @command
    def decide_settlement(
        self,
        ctx: CommandContext,
        refugee_id: UUID | str,
        municipality: str,
        year: int | None = None,
        override_reason: str | None = None,
    ) -> Outcome:
        """R5: IMDi settles a selected person in the municipality, taking a place of its quota."""
        rules.require_role("R5", ctx.actor, IMDI, action="make settlement decisions")
        rules.check_municipality_number(municipality, "municipality")
        today = self.clock()
        year = today.year if year is None else year
        if not rules.FIRST_YEAR <= year <= today.year + 2:
            raise rules.refuse_input("R5", f"The settlement year must be between 2000 and {today.year + 2}.", "year")
        override_reason = (override_reason or "").strip() or None
        refugee = self.refugee(refugee_id)
        refugee.check_may_be_decided(municipality)
        quota = self._quota_year_for(ctx, municipality, year)
        quota.check_place_available(refugee.unaccompanied_minor, override_reason)
        refugee.decide_settlement(
            meta=ctx.meta(), municipality=municipality, year=year, decided_on=today,
            override_reason=override_reason,
        )
        quota.take_place(
            meta=ctx.meta(), refugee_id=refugee.id,
            unaccompanied_minor=refugee.unaccompanied_minor, override_reason=override_reason,
        )
        to_municipality = self._letter(
            ctx, refugee, LetterKind.DECISION_MUNICIPALITY, municipality, [refugee.id], year
        )
        to_person = self._letter(ctx, refugee, LetterKind.DECISION_PERSON, municipality, [refugee.id], year)
        return Outcome(
            refugee,
            [quota, to_municipality, to_person],
            {"letter_ids": [str(to_municipality.id), str(to_person.id)]},
        )

    @command
    def register_settlement_date(
        self, ctx: CommandContext, refugee_id: UUID | str, settlement_date: date
    ) -> Outcome:
        """R7 (municipality, persons who lived privately) and R8 (reception system, from a centre)."""
        rules.require_role(
            "R7", ctx.actor, MUNICIPALITY, RECEPTION, action="register settlement dates"
        )
        refugee = self._refugee_for(ctx.actor, refugee_id)
        today = self.clock()
        if ctx.actor.role is MUNICIPALITY:
            refugee.check_date_by_municipality(
                ctx.actor.municipality or "", settlement_date, today, self.settlement_cutoff
            )
            source = DateSource.MUNICIPALITY
        else:
            refugee.check_date_from_reception(settlement_date, today, self.settlement_cutoff)
            source = DateSource.RECEPTION
        refugee.register_settlement_date(
            meta=ctx.meta(),
            settlement_date=settlement_date,
            municipality=refugee.municipality,
            source=source.value,
        )
        return Outcome(refugee)

    @command
    def correct_settlement_date(
        self, ctx: CommandContext, refugee_id: UUID | str, settlement_date: date, reason: str
    ) -> Outcome:
        """R7f: IMDi corrects a settlement date (or sets it where R7d bars the municipality), with a reason."""
        rules.require_role("R7f", ctx.actor, IMDI, action="correct settlement dates")
        reason = rules.check_text("R7f", reason, "reason")
        refugee = self.refugee(refugee_id)
        if refugee.municipality is None:
            raise RuleViolation("R7f", "The person has not been selected by or decided for any municipality.")
        if refugee.settlement_date == settlement_date:
            raise RuleViolation("R7f", "That settlement date is already registered.", field="date")
        today = self.clock()
        if settlement_date < self.settlement_cutoff:
            raise rules.refuse_input(
                "R7e", f"The date is before the settlement cut-off {self.settlement_cutoff}.", "date"
            )
        if settlement_date > today:
            raise rules.refuse_input("R7e", "The date is in the future.", "date")
        refugee.correct_settlement_date(
            meta=ctx.meta(),
            settlement_date=settlement_date,
            previous_date=refugee.settlement_date,
            municipality=refugee.municipality,
            reason=reason,
        )
        return Outcome(refugee)

    # Deviations ------------------------------------------------------------------------------

    @command
    def open_deviation(
        self,
        ctx: CommandContext,
        refugee_id: UUID | str,
        kind: str,
        description: str,
        registered_private_by_known_deviation: bool = False,
    ) -> Outcome:
        """R12: IMDi registers a discrepancy (avvik) on a person's case; it blocks R7 until resolved."""
        rules.require_role("R12", ctx.actor, IMDI, action="open deviations")
        kind = rules.check_text("R12", kind, "kind", max_length=100)
        description = rules.check_text("R12", description, "description")
        refugee = self.refugee(refugee_id)
        deviation_id = str(uuid4())
        refugee.open_deviation(
            meta=ctx.meta(),
            deviation_id=deviation_id,
            kind=kind,
            description=description,
            registered_private_by_known_deviation=bool(registered_private_by_known_deviation),
        )
        return Outcome(refugee, extra={"deviation_id": deviation_id})

    @command
    def resolve_deviation(
        self, ctx: CommandContext, refugee_id: UUID | str, deviation_id: str, note: str
    ) -> Outcome:
        """R12: IMDi resolves an open deviation."""
        rules.require_role("R12", ctx.actor, IMDI, action="resolve deviations")
        note = rules.check_text("R12", note, "note")
        refugee = self.refugee(refugee_id)
        refugee.check_deviation_open(str(deviation_id))
        refugee.resolve_deviation(meta=ctx.meta(), deviation_id=str(deviation_id), note=note)
        return Outcome(refugee, extra={"deviation_id": str(deviation_id)})

    # Person folders --------------------------------------------------------------------------

    def record_folder_view(self, ctx: CommandContext, refugee_id: UUID | str) -> CommandResult:
        """R6: every read of a person folder is recorded; municipalities read only after selection.

        A read is never idempotent: each one is checked and recorded, whatever key it came with.
        """
        return self._record_folder_view(replace(ctx, idempotency_key=None), refugee_id)

    @command
    def _record_folder_view(self, ctx: CommandContext, refugee_id: UUID | str) -> Outcome:
        rules.require_role("R6", ctx.actor, IMDI, AUDITOR, MUNICIPALITY, action="read person folders")
        refugee = self._refugee_for(ctx.actor, refugee_id)
        if ctx.actor.role is MUNICIPALITY and not refugee.may_see_folder(ctx.actor.municipality or ""):
            raise RuleViolation(
                "R6",
                "The person folder opens once the municipality has selected the person.",
                refusal=Refusal.FORBIDDEN,
            )
        view = PersonFolderView(
            meta=ctx.meta(), refugee_id=refugee.id, municipality=refugee.municipality
        )
        return Outcome(view, extra={"refugee_id": str(refugee.id)})

    # Capacity for unaccompanied minors -------------------------------------------------------

    @command
    def report_minor_capacity(
        self,
        ctx: CommandContext,
        municipality: str,
        places: int,
        expected_week: str,
        min_age: int,
        max_age: int,
        round_the_clock_staffing: bool,
        special_conditions: str,
    ) -> Outcome:
        """R11: the municipality reports vacant capacity for unaccompanied minors aged 15-17."""
        rules.require_role("R11", ctx.actor, MUNICIPALITY, action="report capacity for minors")
        rules.require_own_municipality("R11", ctx.actor, municipality, "report capacity")
        rules.check_minor_capacity(places, expected_week, min_age, max_age, self.clock())
        return Outcome(
            MinorCapacity(
                meta=ctx.meta(),
                municipality=municipality,
                places=places,
                expected_week=expected_week,
                min_age=min_age,
                max_age=max_age,
                round_the_clock_staffing=bool(round_the_clock_staffing),
                special_conditions=(special_conditions or "").strip(),
            )
        )

    def _own_capacity(self, ctx: CommandContext, capacity_id: UUID | str) -> MinorCapacity:
        rules.require_role("R11", ctx.actor, MUNICIPALITY, action="change capacity reports")
        capacity = self._get(MinorCapacity, capacity_id, "capacity report")
        if capacity.municipality != ctx.actor.municipality:
            raise NotFound("capacity report", capacity_id)
        capacity.check_open()
        return capacity

    @command
    def withdraw_minor_capacity(self, ctx: CommandContext, capacity_id: UUID | str, reason: str) -> Outcome:
        """R11: the municipality withdraws an open capacity report."""
        reason = rules.check_text("R11", reason, "reason")
        capacity = self._own_capacity(ctx, capacity_id)
        capacity.withdraw(meta=ctx.meta(), reason=reason)
        return Outcome(capacity)

    @command
    def mark_minor_capacity_filled(self, ctx: CommandContext, capacity_id: UUID | str) -> Outcome:
        """R11: the municipality marks an open capacity report as filled."""
        capacity = self._own_capacity(ctx, capacity_id)
        capacity.mark_filled(meta=ctx.meta())
        return Outcome(capacity)

    # Support cases ---------------------------------------------------------------------------

    @command
    def file_support_case(self, ctx: CommandContext, subject: str, text: str) -> Outcome:
        """R16: a municipality files a question or problem to IMDi."""
        rules.require_role("R16", ctx.actor, MUNICIPALITY, action="file support cases")
        subject = rules.check_text("R16", subject, "subject", max_length=300)
        text = rules.check_text("R16", text, "text")
        return Outcome(
            SupportCase(meta=ctx.meta(), municipality=ctx.actor.municipality, subject=subject, text=text)
        )

    @command
    def answer_support_case(
        self, ctx: CommandContext, case_id: UUID | str, text: str, close: bool
    ) -> Outcome:
        """R16: IMDi answers a support case and may close it."""
        rules.require_role("R16", ctx.actor, IMDI, action="answer support cases")
        text = rules.check_text("R16", text, "text")
        case = self._get(SupportCase, case_id, "support case")
        case.check_open()
        case.answer(meta=ctx.meta(), text=text, closed=bool(close))
        return Outcome(case)


def _uuid(rule: str, value: UUID | str, field_name: str) -> UUID:
    if isinstance(value, UUID):
        return value
    try:
        return UUID(str(value))
    except ValueError:
        raise rules.refuse_input(rule, f"{value!r} is not a person id.", field_name) from None


def _postal_address(rule: str, address: dict[str, Any]) -> dict[str, str]:
    if not isinstance(address, dict):
        raise rules.refuse_input(rule, "The postal address has street, postal_code and city.", "postal_address")
    street = rules.check_text(rule, address.get("street"), "postal_address.street", max_length=200)
    postal_code = str(address.get("postal_code") or "").strip()
    if not rules.FOUR_DIGITS.match(postal_code):
        raise rules.refuse_input(rule, "A Norwegian postal code has 4 digits.", "postal_address.postal_code")
    city = rules.check_text(rule, address.get("city"), "postal_address.city", max_length=100)
    return {"street": street, "postal_code": postal_code, "city": city}


def _residence(residence: dict[str, Any]) -> dict[str, str]:
    kind = residence.get("kind") if isinstance(residence, dict) else None
    if kind == ResidenceKind.PRIVATE:
        return {"kind": ResidenceKind.PRIVATE.value}
    if kind == ResidenceKind.RECEPTION_CENTRE:
        centre_id = rules.check_text("registration", residence.get("centre_id"), "residence.centre_id", max_length=100)
        return {"kind": ResidenceKind.RECEPTION_CENTRE.value, "centre_id": centre_id}
    raise rules.refuse_input(
        "registration", "The residence is a reception_centre (with centre_id) or private.", "residence.kind"
    )
