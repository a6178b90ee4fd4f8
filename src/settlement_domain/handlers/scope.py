"""What a command handler works with: the actor, today, and the aggregates it loads and changes."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any, TypeVar
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError
from eventsourcing.domain import Aggregate

from settlement_domain.context import Actor, CommandContext, Role
from settlement_domain.errors import NotFound, Refusal, RuleViolation
from settlement_domain.model import (
    Channel,
    Family,
    FamilyKey,
    Letter,
    LetterKind,
    Municipality,
    QuotaYear,
    Refugee,
)
from settlement_domain.model.family import derive_family_id

A = TypeVar("A", bound=Aggregate)
REQUEST_REPLY_WEEKS = 8  # a request letter asks for the quota decision within eight weeks


@dataclass
class Outcome:
    """What a handler hands back to be saved together: the resource answered and all it changed."""

    primary: Aggregate
    changed: list[Aggregate] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)


class Scope:
    """One command's view of the store: loads aggregates (from the store, or a bulk run's unsaved
    ones), knows who acts and what day it is. Handlers load, call the aggregates and return an
    :class:`Outcome`; they never save."""

    def __init__(
        self,
        ctx: CommandContext,
        load: Callable[[UUID], Aggregate],
        today: date,
        settlement_cutoff: date,
        family_ids_key: Callable[[], bytes] | None = None,
        *,
        letters_naming: Callable[[UUID], Iterable[UUID] | None] | None = None,
    ) -> None:
        self.ctx = ctx
        self._load = load
        # The store's key for family ids, from the key table (R18); None: a store that keeps no keys
        # (in memory), which keeps its family key in the log as stores made before did.
        self._family_ids_key = family_ids_key
        self.today = today
        self.settlement_cutoff = settlement_cutoff
        self.meta = ctx.meta()
        self._letters_naming = letters_naming

    def undelivered_letters(self, refugee_id: UUID) -> list[Letter]:
        """R18e: the letters naming the person that may still go out, as the log says. The edge's
        lookup (:attr:`SettlementApp.letters_naming`, the letters read model) says which letters to
        load (None: it cannot tell now, and the erasure is refused for now); each one's state is its own
        aggregate's. Without a lookup (the in-memory store of the unit tests, unless one is given) none
        is known."""
        if self._letters_naming is None:
            return []
        named = self._letters_naming(refugee_id)
        if named is None:  # the lookup cannot tell now: the erasure waits rather than go ahead unchecked
            raise RuleViolation(
                "R18e",
                "The letters naming the person cannot be checked now (the letters read model is behind the "
                "log); try the erasure again shortly.",
                refusal=Refusal.STATE,
            )
        found = (self.find(Letter, letter_id) for letter_id in named)
        return [letter for letter in found if letter is not None and letter.undelivered]

    @property
    def actor(self) -> Actor:
        return self.ctx.actor

    @property
    def is_municipality(self) -> bool:
        return self.ctx.actor.role is Role.MUNICIPALITY

    def get(self, cls: type[A], aggregate_id: UUID, kind: str) -> A:
        """The aggregate, or :class:`NotFound` naming ``kind`` (also when the id is of another kind)."""
        try:
            aggregate = self._load(aggregate_id)
        except AggregateNotFoundError:
            raise NotFound(kind, aggregate_id) from None
        if not isinstance(aggregate, cls):
            raise NotFound(kind, aggregate_id)
        return aggregate

    def find(self, cls: type[A], aggregate_id: UUID) -> A | None:
        try:
            return self.get(cls, aggregate_id, cls.__name__)
        except NotFound:
            return None

    def municipality(self, number: str) -> Municipality:
        """The registered municipality; an unknown number is :class:`NotFound` naming the number."""
        found = self.find(Municipality, Municipality.create_id(number))
        if found is None:
            raise NotFound("municipality", number)
        return found

    def quota_year(self, number: str, year: int) -> QuotaYear:
        """The municipality's quota year, opened on first use."""
        return self.find(QuotaYear, QuotaYear.create_id(number, year)) or QuotaYear(
            meta=self.meta, municipality=number, year=year
        )

    def refugee(self, refugee_id: UUID) -> Refugee:
        return self.get(Refugee, refugee_id, "person")

    def family(self, family_id: str) -> Family | None:
        """The family with this ``family_id`` text: by its keyed id (the log's family key where the store
        has one, else the key table's), else (formed before the store had a key) by the text's natural
        id; None when there is none yet."""
        ref = self.family_ref(family_id)
        if (found := self.find(Family, ref)) is not None:
            return found
        return self.find(Family, Family.create_id(family_id))

    def family_ref(self, family_id: str) -> UUID:
        """The id a family with this text has, or gets when formed now."""
        key = self.find(FamilyKey, FamilyKey.create_id())
        if key is not None:  # a store that made its key in the log before the key table kept it
            return key.family_id(family_id)
        if self._family_ids_key is not None:
            return derive_family_id(self._family_ids_key(), family_id)
        return self._log_family_key().family_id(family_id)

    def _log_family_key(self) -> FamilyKey:
        if self._made_family_key is None:
            self._made_family_key = FamilyKey.make(self.meta)
        return self._made_family_key

    _made_family_key: FamilyKey | None = None

    def family_of(self, refugee: Refugee) -> Family | None:
        """The person's family: by the id its registration names, else (registered before it did) by
        its text; None for a person in no family."""
        if refugee.family_ref is not None:
            return self.find(Family, UUID(str(refugee.family_ref)))
        if refugee.family_id:
            return self.family(refugee.family_id)
        return None

    def join_family(self, family_id: str | None) -> tuple[Family | None, list[Aggregate]]:
        """The family a person registered with ``family_id`` joins (formed now when there is none), and
        the aggregates to save for it besides the family itself (a store key made in the log, in
        memory only)."""
        text = (family_id or "").strip()
        if not text:
            return None, []
        found = self.family(text)
        if found is not None:
            return found, []
        formed = Family.form(self.meta, text, self.family_ref(text))
        made: list[Aggregate] = [self._made_family_key] if self._made_family_key is not None else []
        self._made_family_key = None
        return formed, made

    def refugee_for_actor(self, refugee_id: UUID) -> Refugee:
        """The person, or 404 for a municipality that may not know of the person (tenancy)."""
        refugee = self.refugee(refugee_id)
        if self.is_municipality and not refugee.is_visible_to(self.actor.municipality or ""):
            raise NotFound("person", refugee_id)
        return refugee

    def letter(
        self,
        cause: Aggregate,
        kind: LetterKind,
        municipality: str,
        persons: Iterable[Refugee] = (),
        year: int | None = None,
        facts: dict[str, Any] | None = None,
    ) -> Letter:
        """R9: a letter caused by ``cause``'s latest event; digital post to municipalities, post to persons.

        Its content is fixed now: the date, IMDi's reference, the recipient as registered today, the
        ``facts`` of its kind, and the persons it names (their names and birth dates, and for a
        letter to a person the person's address, in the event's ``personal`` part).
        """
        channel = Channel.POST if kind is LetterKind.DECISION_PERSON else Channel.DIGITAL
        persons = list(persons)
        letter_id = Letter.create_id(cause.id, cause.version, kind.value)
        registered = self.find(Municipality, Municipality.create_id(municipality))
        content: dict[str, Any] = {
            "date": self.today,
            "reference": f"{self.today.year}/{letter_id.hex[:8].upper()}",
            "municipality_name": registered.name if registered else municipality,
            **(facts or {}),
        }
        if kind is not LetterKind.DECISION_PERSON:
            contact = (registered.contact if registered else None) or {}
            content["recipient"] = {
                "name": f"{registered.name if registered else municipality} kommune",
                "contact_person": contact.get("contact_person"),
                "postal_address": contact.get("postal_address"),
                "organisation_number": registered.organisation_number if registered else None,
            }
        personal: dict[str, Any] = {
            "persons": [
                {
                    "id": str(p.id),
                    "full_name": p.personal.get("full_name"),
                    "birth_date": p.personal.get("birth_date"),
                    "unaccompanied_minor": p.unaccompanied_minor,
                }
                for p in persons
            ]
        }
        if kind is LetterKind.DECISION_PERSON and persons:
            personal["recipient"] = {
                "name": persons[0].personal.get("full_name"),
                "postal_address": persons[0].personal.get("postal_address"),
            }
        return Letter(
            meta=self.meta,
            cause_id=cause.id,
            cause_version=cause.version,
            kind=kind.value,
            municipality=municipality,
            channel=channel.value,
            person_ids=[p.id for p in persons],
            year=year,
            content=content,
            personal=personal,
        )

    def reply_by(self) -> date:
        """The reply deadline a request letter states (R1): eight weeks from its date."""
        return self.today + timedelta(weeks=REQUEST_REPLY_WEEKS)


# A command handler: loads through the scope, calls the aggregates, answers what changed.
Handler = Callable[[Scope, Any], Outcome]
