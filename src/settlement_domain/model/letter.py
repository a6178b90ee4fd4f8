"""Letter (brev): request, selection and decision letters, and their delivery (R9)."""

from __future__ import annotations

from datetime import datetime, timedelta
from enum import StrEnum
from typing import TYPE_CHECKING, Any
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from settlement_domain.errors import RuleViolation
from settlement_domain.model.ids import natural_id

if TYPE_CHECKING:
    from settlement_domain.model.dynamic import DynamicEvent
# R9: a letter to a municipality not opened within two days of its dispatch goes by post.
FALLBACK_AFTER = timedelta(hours=48)


class LetterKind(StrEnum):
    REQUEST = "request"  # anmodningsbrev, R1
    SELECTION = "selection"  # utsøkingsbrev, R4
    DECISION_MUNICIPALITY = "decision_municipality"  # vedtaksbrev to the municipality, R5
    DECISION_PERSON = "decision_person"  # vedtaksbrev to the person, R5


class Channel(StrEnum):
    """The way a letter goes out by its kind: digital post (SvarUT / Altinn) or post."""

    DIGITAL = "digital"  # SvarUT / Altinn
    POST = "post"


class Delivery(StrEnum):
    """One delivery of a letter: the digital one, or the one on paper (the post)."""

    DIGITAL = "digital"
    PAPER = "paper"


class Letter(Aggregate):
    """One letter, issued exactly once for the event that caused it (R9).

    Its id derives from the causing aggregate, version and kind, so that a retry cannot issue a
    second letter for the same cause. Its content (``content``, and the persons' data in
    ``personal``) is fixed when it is issued; delivery follows as events of its own, recorded by the
    outbox after the channel answered (never inside the command that issued the letter).
    """

    if TYPE_CHECKING:  # the classes @event("...") makes below (settlement_domain/model/dynamic.py)

        class LetterDispatched(DynamicEvent): ...

        class LetterDeliveryFailed(DynamicEvent): ...

        class LetterDeliveryRetried(DynamicEvent): ...

        class LetterOpened(DynamicEvent): ...

        class LetterFellBackToPaper(DynamicEvent): ...

    @staticmethod
    def create_id(cause_id: UUID, cause_version: int, kind: str) -> UUID:
        return natural_id("letter", cause_id, cause_version, kind)

    class LetterIssued(Aggregate.Created):
        """R9: the letter, its recipient municipality and channel; version 2 added its fixed
        ``content`` (no personal data) and ``personal`` (names, birth dates, a person's address).
        A version-1 letter has neither: it renders from what its other fields say."""

        class_version = 2

        meta: dict[str, Any]
        cause_id: UUID
        cause_version: int
        kind: str
        municipality: str
        channel: str
        person_ids: list[UUID]
        year: int | None
        content: dict[str, Any]
        personal: dict[str, Any]

        @staticmethod
        def upcast_v1_v2(state: dict[str, Any]) -> None:
            state["content"] = {}
            state["personal"] = {}

    @event(LetterIssued)
    def __init__(
        self,
        meta: dict[str, Any],
        cause_id: UUID,
        cause_version: int,
        kind: str,
        municipality: str,
        channel: str,
        person_ids: list[UUID],
        year: int | None,
        content: dict[str, Any],
        personal: dict[str, Any],
    ) -> None:
        self.kind = kind
        self.municipality = municipality
        self.channel = channel
        self.person_ids = person_ids
        self.year = year
        self.content = content
        self.personal = personal
        self.cause_id = cause_id
        # Delivery state: the delivery still to be made (digital to a municipality, paper to a person).
        self.pending: str | None = Delivery.PAPER if channel == Channel.POST else Delivery.DIGITAL
        self.attempts = 0
        self.next_attempt_at: datetime | None = None
        self.failed_permanently = False
        self.dispatched: dict[str, dict[str, Any]] = {}  # delivery -> channel, shipment id, time
        self.opened_at: datetime | None = None
        self.fallback_at: datetime | None = None

    # Delivery ----------------------------------------------------------------------------------

    @property
    def digital_dispatched_at(self) -> datetime | None:
        found = self.dispatched.get(Delivery.DIGITAL)
        return found["dispatched_at"] if found else None

    @property
    def fallback_due_at(self) -> datetime | None:
        """R9: when the letter goes by post unless opened first (digital letters only)."""
        at = self.digital_dispatched_at
        return at + FALLBACK_AFTER if at is not None else None

    @property
    def undelivered(self) -> bool:
        """R18e: the letter may still go out: a delivery waiting (or to be tried again), or a digital
        letter sent and not opened that still falls back to paper (R9). False once it is delivered
        (dispatched, and if digital opened or gone to post and dispatched there) or failed for good
        (IMDi's retry makes it undelivered again)."""
        if self.pending is not None:
            return not self.failed_permanently
        return self.digital_dispatched_at is not None and self.opened_at is None and self.fallback_at is None

    def check_pending(self, delivery: str) -> None:
        if self.pending != delivery:
            raise RuleViolation(
                "R9",
                "Letter %(letter)s has no %(delivery)s delivery waiting; it is recorded once.",
                field="delivery",
                params={"letter": self.id, "delivery": delivery},
            )

    def dispatch(
        self, meta: dict[str, Any], delivery: str, channel: str, shipment_id: str, at: datetime
    ) -> None:
        """R9: the channel took the letter (its shipment id); recorded once per delivery."""
        self.check_pending(delivery)
        if not shipment_id.strip():
            raise RuleViolation("R9", "A dispatch names the channel's shipment id.", field="shipment_id")
        self._dispatched(
            meta=meta, delivery=delivery, channel=channel, shipment_id=shipment_id, dispatched_at=at
        )

    @event("LetterDispatched")
    def _dispatched(
        self, meta: dict[str, Any], delivery: str, channel: str, shipment_id: str, dispatched_at: datetime
    ) -> None:
        self.dispatched[delivery] = {
            "channel": channel,
            "shipment_id": shipment_id,
            "dispatched_at": dispatched_at,
        }
        self.pending = None
        self.attempts = 0
        self.next_attempt_at = None
        self.failed_permanently = False

    def fail_delivery(
        self,
        meta: dict[str, Any],
        delivery: str,
        channel: str,
        reason: str,
        permanent: bool,
        next_attempt_at: datetime | None,
    ) -> None:
        """R9: the channel did not take the letter: why, and when the outbox tries again (none if
        the failure is permanent: then IMDi must act, and retries it)."""
        self.check_pending(delivery)
        if self.failed_permanently:
            raise RuleViolation(
                "R9",
                "Letter %(letter)s already failed; IMDi retries it.",
                field="delivery",
                params={"letter": self.id},
            )
        self._delivery_failed(
            meta=meta,
            delivery=delivery,
            channel=channel,
            reason=reason,
            permanent=permanent,
            attempt=self.attempts + 1,
            next_attempt_at=None if permanent else next_attempt_at,
        )

    @event("LetterDeliveryFailed")
    def _delivery_failed(
        self,
        meta: dict[str, Any],
        delivery: str,
        channel: str,
        reason: str,
        permanent: bool,
        attempt: int,
        next_attempt_at: datetime | None,
    ) -> None:
        self.attempts = attempt
        self.next_attempt_at = next_attempt_at
        self.failed_permanently = permanent

    def retry_delivery(self, meta: dict[str, Any]) -> None:
        """R9: IMDi has the failed letter tried again (after the municipality's address was fixed)."""
        if not self.failed_permanently:
            raise RuleViolation(
                "R9",
                "Letter %(letter)s has no failed delivery to retry.",
                field="letter_id",
                params={"letter": self.id},
            )
        assert self.pending is not None  # a permanent failure is of the delivery still pending
        self._delivery_retried(meta=meta, delivery=self.pending)

    @event("LetterDeliveryRetried")
    def _delivery_retried(self, meta: dict[str, Any], delivery: str) -> None:
        self.failed_permanently = False
        self.attempts = 0
        self.next_attempt_at = None

    def open(self, meta: dict[str, Any], opened_at: datetime, source: str) -> bool:
        """R9: the recipient opened the digital letter (from the channel's status, or IMDi's
        callback). Only after a digital dispatch; a letter already opened stays opened (no event)."""
        dispatched_at = self.digital_dispatched_at
        if dispatched_at is None:
            raise RuleViolation(
                "R9",
                "Letter %(letter)s was not sent by digital post.",
                field="letter_id",
                params={"letter": self.id},
            )
        if self.opened_at is not None:
            return False
        self._opened(meta=meta, opened_at=max(opened_at, dispatched_at), source=source)
        return True

    @event("LetterOpened")
    def _opened(self, meta: dict[str, Any], opened_at: datetime, source: str) -> None:
        self.opened_at = opened_at

    def fall_back_to_paper(self, meta: dict[str, Any], now: datetime) -> None:
        """R9: sent by digital post, not opened 48 hours after dispatch: it goes by post, once."""
        due = self.fallback_due_at
        if due is None:
            raise RuleViolation(
                "R9",
                "Letter %(letter)s was not sent by digital post.",
                field="letter_id",
                params={"letter": self.id},
            )
        if self.fallback_at is not None:
            raise RuleViolation(
                "R9", "Letter %(letter)s already went to post.", field="letter_id", params={"letter": self.id}
            )
        if self.opened_at is not None and self.opened_at < due:
            raise RuleViolation(
                "R9", "Letter %(letter)s was opened in time.", field="letter_id", params={"letter": self.id}
            )
        if now < due:
            raise RuleViolation(
                "R9",
                "Letter %(letter)s goes to post at %(due)s, not before.",
                field="now",
                params={"letter": self.id, "due": due},
            )
        self._fell_back(meta=meta, due_at=due, fallback_at=now)

    @event("LetterFellBackToPaper")
    def _fell_back(self, meta: dict[str, Any], due_at: datetime, fallback_at: datetime) -> None:
        self.fallback_at = fallback_at
        self.pending = Delivery.PAPER
        self.attempts = 0
        self.next_attempt_at = None
        self.failed_permanently = False
