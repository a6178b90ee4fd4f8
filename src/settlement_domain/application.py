"""The application service: ``handle(ctx, command)``, the one write API of settlement.

It checks the sender's role against the role table, answers a retry from its idempotency record,
runs the command's handler and stores everything the command caused in ONE transaction: the
aggregates it changed, the letters it issued and the answer to a retry.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, ClassVar
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError, Application, ProcessingEvent
from eventsourcing.domain import Aggregate, MutableOrImmutableAggregate
from eventsourcing.persistence import ApplicationRecorder, IntegrityError, JSONTranscoder, Mapper, Recording

from settlement_domain import personal_keys, rules
from settlement_domain.commands import Command
from settlement_domain.context import Actor, CommandContext, Role
from settlement_domain.errors import ConcurrencyConflict, DomainError, IdempotencyKeyReused, NotFound
from settlement_domain.group_append import GroupAppender
from settlement_domain.handlers import HANDLERS, Outcome, Scope
from settlement_domain.model import (
    FAMILY_IDS_KEY,
    DistributionList,
    IdempotencyRecord,
    Import,
    Municipality,
    QuotaYear,
    Refugee,
)
from settlement_domain.notifier import CoalescedNotifier
from settlement_domain.permissions import check_permitted
from settlement_domain.persistence import NOTIFY_SETTING, DateAsISO, notify_channel, notify_statement
from settlement_domain.personal_keys import PersonalKeys, SealingMapper, keyed_recorder_class

FINGERPRINT_KEY = (
    "store:idempotency-fingerprints"  # the key the idempotency records' fingerprints are made with
)

_KEYED_RECORDERS: dict[type[Any], type[Any]] = {}


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


class SettlementApp(Application):
    """Settlement's write side on the eventsourcing library (SQLite or PostgreSQL by environment)."""

    name = "settlement"
    # A big municipality's quota year collects an event per approved list and moved place:
    # snapshots keep loading it cheap however many persons it settles.
    # R14: read records name their persons for this many years (settings: read_retention_years).
    read_retention_years = 5
    snapshotting_intervals: ClassVar[dict[type[MutableOrImmutableAggregate], int]] = {QuotaYear: 50}

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
        # R18e: the ids of the letters naming a person that may not be delivered yet (a superset is
        # fine: each letter's own state decides); the edges set it from the letters read model.
        self.letters_naming: Callable[[UUID], Iterable[UUID] | None] | None = None
        # Called after every committed save (with the last position it reached): the projection
        # runner of this process wakes on it (on PostgreSQL every process also hears a NOTIFY).
        self.on_saved: list[Callable[[int], None]] = []
        # PostgreSQL: after each committed save, NOTIFY on the schema's channel, so that projection
        # runners in other processes wake at once (projections/engine/wakeup.py).
        self.notify_sql: str | None = None
        if (
            self.env.get("PERSISTENCE_MODULE") == "eventsourcing.postgres"
            and self.env.get(NOTIFY_SETTING) != "n"
        ):
            self.notify_sql = notify_statement(notify_channel(self.env.get("POSTGRES_SCHEMA")))
        self.notifier = CoalescedNotifier(self._send_notify) if self.notify_sql is not None else None
        # R18: a data key per person, in the store's own key table (none for the in-memory store).
        self.personal_keys: PersonalKeys | None = None
        if hasattr(self.recorder, "personal_keys"):  # the keyed recorder of construct_recorder
            self.personal_keys = PersonalKeys(
                self.recorder.datastore,  # type: ignore[attr-defined]
                personal_keys.master_keys_from_env(self.env.get),
                postgres=type(self.recorder).__mro__[1].__module__ == "eventsourcing.postgres",
                reload=lambda: personal_keys.master_keys_from_env(self.env.get),
            )
            self.recorder.personal_keys = self.personal_keys
        assert isinstance(self.mapper, SealingMapper)
        self.mapper.keys = self.personal_keys
        # R6/R14: the records of reads, appended in groups (one transaction for those of the moment).
        self.read_records = GroupAppender(self.save)

    def _record(self, processing_event: ProcessingEvent[UUID]) -> list[Recording[UUID]]:
        """The library's recording of a save; the data keys made and the erasures noted while its
        events were encoded never outlive it (R18): a save whose encoding failed leaves no stray key or
        erasure for the next save on this thread."""
        keys = self.personal_keys
        if keys is None:
            return super()._record(processing_event)
        with keys.pending_for_one_save():
            return super()._record(processing_event)

    def construct_mapper(self) -> Mapper[UUID]:
        return self.factory.mapper(transcoder=self.construct_transcoder(), mapper_class=SealingMapper)

    def construct_recorder(self) -> ApplicationRecorder:
        """The library's recorder; on SQLite and PostgreSQL one that stores the data keys made for the
        events in the same transaction as the events (R18)."""
        recorder = super().construct_recorder()
        base = type(recorder)
        if base.__module__ in ("eventsourcing.sqlite", "eventsourcing.postgres"):
            keyed = _KEYED_RECORDERS.get(base)
            if keyed is None:
                keyed = _KEYED_RECORDERS[base] = keyed_recorder_class(base)
            recorder.__class__ = keyed
        return recorder

    def register_transcodings(self, transcoder: JSONTranscoder) -> None:
        super().register_transcodings(transcoder)
        transcoder.register(DateAsISO())

    # Writes --------------------------------------------------------------------------------------

    def handle(self, ctx: CommandContext, command: Command) -> CommandResult:
        """Runs ``command`` for the actor in ``ctx`` and stores all it caused in one transaction."""
        key = ctx.idempotency_key if command.idempotent else None
        record_id: UUID | None = None
        fingerprint: str | None = None
        accepted: tuple[str, ...] = ()
        if command.read_record and not key:
            return self._record_read(ctx, command)
        if key:
            fingerprint, accepted = self._fingerprints(command)
            record_id = IdempotencyRecord.create_id(ctx.idempotency_scope, key)
            earlier = self._replay(record_id, accepted)
            if earlier is not None:
                return earlier
        try:
            outcome = self.run_handler(ctx, command, self.repository.get)
        except DomainError:
            # A retry racing its own first attempt may see the first attempt's effects (and be
            # refused by them) before it sees the idempotency record: answer it as a retry.
            if record_id is not None and (earlier := self._replay(record_id, accepted)) is not None:
                return earlier
            raise
        result = CommandResult(str(outcome.primary.id), outcome.primary.version, 0, extra=outcome.extra)
        to_save: list[Aggregate] = [outcome.primary, *outcome.changed]
        if record_id is not None and key is not None and fingerprint is not None:
            to_save.append(
                IdempotencyRecord(
                    meta=ctx.meta(),
                    scope=ctx.idempotency_scope,
                    key=key,
                    fingerprint=fingerprint,
                    result=result.as_dict(),
                )
            )
        try:
            recordings = self.save(*to_save)
        except IntegrityError:
            if record_id is not None and (earlier := self._replay(record_id, accepted)) is not None:
                return earlier
            raise ConcurrencyConflict(
                "Someone else changed this case at the same moment; reload it and try again."
            ) from None
        position = recordings[-1].notification.id if recordings else self.position()
        return CommandResult(result.id, result.version, position, extra=result.extra)

    def _record_read(self, ctx: CommandContext, command: Command) -> CommandResult:
        """A read record (R6/R14): checked here, in the request's thread, then appended with the other
        reads waiting and answered only once its group has committed."""
        outcome = self.run_handler(ctx, command, self.repository.get)
        if outcome.changed:  # a read record is one new aggregate; anything more is saved as a write
            try:
                recordings = self.save(outcome.primary, *outcome.changed)
            except IntegrityError:
                raise ConcurrencyConflict(
                    "Someone else changed this case at the same moment; reload it and try again."
                ) from None
            position = recordings[-1].notification.id if recordings else self.position()
        else:
            position = self.read_records.append(outcome.primary)
        return CommandResult(str(outcome.primary.id), outcome.primary.version, position, extra=outcome.extra)

    def _notify(self, recordings: list[Any]) -> None:
        """The library calls this after each save has committed: tell whoever waits for new events."""
        super()._notify(recordings)
        if recordings and self.notifier is not None:
            # Sent by the notifier's thread, one NOTIFY per burst of commits: the save neither waits
            # for a pool connection nor for the round trip (settlement_domain/notifier.py).
            self.notifier.poke()
        if recordings and self.on_saved:
            position = recordings[-1].notification.id
            for hook in list(self.on_saved):
                hook(position)

    def _send_notify(self) -> None:
        assert self.notify_sql is not None
        with self.recorder.datastore.get_connection() as conn:  # type: ignore[attr-defined]
            conn.execute(self.notify_sql)  # autocommit: delivered at once

    def close(self) -> None:
        if self.notifier is not None:
            self.notifier.close()  # after the NOTIFY of the last save, if still wanted
        super().close()

    def run_handler(
        self, ctx: CommandContext, command: Command, load: Callable[[UUID], Aggregate]
    ) -> Outcome:
        """Checks the role and runs the command's handler against aggregates from ``load`` (no save)."""
        check_permitted(ctx.actor, command)
        keys = self.personal_keys
        family_ids_key = None if keys is None else (lambda: keys.store_key(FAMILY_IDS_KEY))
        scope = Scope(
            ctx,
            load,
            self.clock(),
            self.settlement_cutoff,
            family_ids_key,
            letters_naming=self.letters_naming,
        )
        return HANDLERS[type(command)](scope, command)

    def family_label_erased(self, case: Any) -> bool:
        """R18: whether the family's text of ``case`` (a :class:`Refugee`) is erased, a member's erasure
        having deleted the family's key: a replay of the case then never shows the text, though the
        person's own registration still opens it."""
        if not getattr(case, "family_id", None) and getattr(case, "family_ref", None) is None:
            return False
        keys = self.personal_keys
        family_ids_key = None if keys is None else (lambda: keys.store_key(FAMILY_IDS_KEY))
        reader = CommandContext(Actor("replay", Role.AUDITOR), "replay")  # reads only: nothing is saved
        scope = Scope(reader, self.repository.get, self.clock(), self.settlement_cutoff, family_ids_key)
        family = scope.family_of(case)
        return family is not None and bool(family.label_erased)

    def _fingerprints(self, command: Command) -> tuple[str, tuple[str, ...]]:
        """(the fingerprint a new idempotency record stores, those a stored record may hold for the
        same request): keyed with the store's fingerprint key where the store keeps keys (R18); the
        plain one of records stored before keeps matching."""
        plain = command.fingerprint()
        if self.personal_keys is None:
            return plain, (plain,)
        keyed = command.keyed_fingerprint(self.personal_keys.store_key(FINGERPRINT_KEY))
        return keyed, (keyed, plain)

    def _replay(self, record_id: UUID, accepted: tuple[str, ...]) -> CommandResult | None:
        try:
            record: IdempotencyRecord = self.repository.get(record_id)
        except AggregateNotFoundError:
            return None
        if record.fingerprint not in accepted:
            raise IdempotencyKeyReused("This Idempotency-Key was already used for a different request.")
        answer = dict(record.result)
        return CommandResult(
            id=answer.pop("id"),
            version=answer.pop("version"),
            position=self.position(),
            replayed=True,
            extra=answer,
        )

    # Reads of the write side ----------------------------------------------------------------------

    def position(self) -> int:
        """The highest position in the global log (0 when empty)."""
        return self.recorder.max_notification_id() or 0

    def _get(self, cls: type[Any], aggregate_id: UUID | str, kind: str) -> Any:
        try:
            aggregate: Any = self.repository.get(
                aggregate_id if isinstance(aggregate_id, UUID) else UUID(str(aggregate_id))
            )
        except (AggregateNotFoundError, ValueError):
            raise NotFound(kind, aggregate_id) from None
        if not isinstance(aggregate, cls):
            raise NotFound(kind, aggregate_id)
        return aggregate

    def municipality(self, number: str) -> Municipality:
        try:
            return self._get(Municipality, Municipality.create_id(number), "municipality")
        except NotFound:
            raise NotFound("municipality", number) from None

    def quota_year(self, number: str, year: int) -> QuotaYear | None:
        try:
            return self._get(QuotaYear, QuotaYear.create_id(number, year), "quota year")
        except NotFound:
            return None

    def refugee(self, refugee_id: UUID | str) -> Refugee:
        return self._get(Refugee, refugee_id, "person")

    def distribution_list(self, list_id: UUID | str) -> DistributionList:
        return self._get(DistributionList, list_id, "distribution list")

    def imported(self, checksum: str) -> Import | None:
        """The record of the file with this checksum, if it was imported (R15)."""
        try:
            return self._get(Import, Import.create_id(checksum), "import")
        except NotFound:
            return None

    def case_as_of(self, refugee_id: UUID, as_of: datetime | None) -> Refugee | None:
        """R14: the person's case as it stood at ``as_of`` (recorded time), replayed from the log;
        None before the person was registered (or for an id that is no person)."""
        version = None
        stored: Aggregate.Event
        for stored in self.repository.event_store.get(refugee_id):  # type: ignore[assignment]
            if as_of is not None and stored.timestamp > as_of:
                break
            version = stored.originator_version
        if version is None:
            return None
        case: Any = self.repository.get(refugee_id, version=version)
        return case if isinstance(case, Refugee) else None
