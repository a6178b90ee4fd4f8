"""Commands: what an actor asks the service to do, as data, in domain types, parsed once at the edge.

Commands are imperative (``ApproveDistributionList``); the events they cause are past tense
(``DistributionListApproved``). ``SettlementApp.handle(ctx, command)`` runs them; which roles may
send each one is in :mod:`settlement_domain.permissions`.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from dataclasses import dataclass, fields
from datetime import date, datetime
from enum import Enum
from typing import Any, ClassVar
from uuid import UUID

from settlement_domain.values import (
    Category,
    ContactInformation,
    Decline,
    ImportSource,
    Mapping,
    PostalAddress,
    Residence,
)

KEYED_FINGERPRINT = "hmac1:"  # what a keyed fingerprint starts with (a plain one is bare hex)


def _plain(value: Any) -> Any:
    """A command's value as the JSON its fingerprint is made of."""
    if isinstance(value, (PostalAddress, Residence, ContactInformation, Mapping, ImportSource)):
        return value.as_dict()
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


@dataclass(frozen=True, slots=True)
class Command:
    """Base of every command."""

    # A read that is recorded (R6) is checked and recorded every time, whatever key it came with.
    idempotent: ClassVar[bool] = True
    # A read record (R6/R14): its one new aggregate is appended with the other reads of the moment, in
    # one transaction (settlement_domain/group_append.py).
    read_record: ClassVar[bool] = False

    @classmethod
    def snake_name(cls) -> str:
        """The command's name in snake case (``approve_distribution_list``)."""
        return re.sub(r"(?<!^)(?=[A-Z])", "_", cls.__name__).lower()

    def fingerprint_arguments(self) -> dict[str, Any]:
        """The arguments a retry must repeat exactly. New optional fields are left out while unset,
        so that idempotency records stored before a field existed still match their retries."""
        return {
            f.name: _plain(getattr(self, f.name))
            for f in fields(self)
            if not (f.name in self.added_later and getattr(self, f.name) is None)
        }

    added_later: ClassVar[frozenset[str]] = frozenset()

    def fingerprint(self) -> str:
        """Tells a retry (same command, same arguments) from a reused key (anything else): a plain
        hash, as stored by idempotency records before :meth:`keyed_fingerprint` (still matched)."""
        return hashlib.sha256(self._fingerprint_payload()).hexdigest()

    def keyed_fingerprint(self, key: bytes) -> str:
        """The fingerprint an idempotency record stores: an HMAC with a key of the store (R18), so
        that a record of a command with personal data (a registration's name and birth date, a
        mapping, a decline's reason) cannot be checked against guesses without that key."""
        return KEYED_FINGERPRINT + hmac.new(key, self._fingerprint_payload(), hashlib.sha256).hexdigest()

    def _fingerprint_payload(self) -> bytes:
        return json.dumps(
            [self.snake_name(), self.fingerprint_arguments()], sort_keys=True, default=str
        ).encode()


# Municipalities -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RegisterMunicipality(Command):
    """Lifecycle 1: IMDi registers a municipality by its 4-digit number."""

    number: str
    name: str
    county: str
    organisation_number: str | None = None  # R9: the digital address for letters

    added_later: ClassVar[frozenset[str]] = frozenset({"organisation_number"})


@dataclass(frozen=True, slots=True)
class RenameMunicipality(Command):
    """Lifecycle 1: IMDi gives a registered municipality its name (or a new one)."""

    number: str
    name: str


@dataclass(frozen=True, slots=True)
class UpdateContact(Command):
    """Lifecycle 1: the municipality (or IMDi) keeps its contact information current."""

    number: str
    contact: ContactInformation

    def fingerprint_arguments(self) -> dict[str, Any]:
        return {"number": self.number, **self.contact.as_dict()}


# Requests and quota decisions -----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RequestSettlement(Command):
    """R1: IMDi asks a municipality to settle persons (of which unaccompanied minors) in a year."""

    number: str
    year: int
    persons: int
    unaccompanied_minors: int
    reason: str | None = None


@dataclass(frozen=True, slots=True)
class DecideQuota(Command):
    """R2: the municipality's decision on how many it settles in a year."""

    number: str
    year: int
    persons: int
    unaccompanied_minors: int
    decided_on: date


# Refugees -------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RegisterRefugee(Command):
    """Lifecycle 4: the reception system (or IMDi, for resettlement refugees) registers a person."""

    full_name: str
    birth_date: date
    family_id: str | None
    unaccompanied_minor: bool
    residence: Residence
    postal_address: PostalAddress
    category: Category
    duf_number: str | None = None  # R21: UDI's 12-digit id, when known

    added_later: ClassVar[frozenset[str]] = frozenset({"duf_number"})


@dataclass(frozen=True, slots=True)
class RecordMapping(Command):
    """Lifecycle 4: the reception centre records its mapping (kartlegging) of the person."""

    refugee_id: UUID
    mapping: Mapping

    def fingerprint_arguments(self) -> dict[str, Any]:
        return {"refugee_id": self.refugee_id, **self.mapping.as_dict()}


# Distribution lists ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CreateDistributionList(Command):
    """R3: IMDi proposes persons to one municipality for a settlement year, families whole."""

    municipality: str
    refugee_ids: tuple[UUID, ...]
    respond_by: date
    year: int | None = None  # default: the year of respond_by

    added_later: ClassVar[frozenset[str]] = frozenset({"year"})


@dataclass(frozen=True, slots=True)
class WithdrawDistributionList(Command):
    """R3: IMDi withdraws an open list; its persons become free for another list."""

    list_id: UUID
    reason: str


@dataclass(frozen=True, slots=True)
class ApproveDistributionList(Command):
    """R4: the list's municipality accepts or declines every person on it."""

    list_id: UUID
    accepted: tuple[UUID, ...]
    declined: tuple[Decline, ...] = ()

    def fingerprint_arguments(self) -> dict[str, Any]:
        return {
            "list_id": self.list_id,
            "accepted": list(self.accepted),
            "declined": {str(d.refugee_id): d.reason for d in self.declined},
        }


# Settlement decisions and dates ---------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class DecideSettlement(Command):
    """R5: IMDi decides that a selected person is settled in the municipality."""

    refugee_id: UUID
    municipality: str
    year: int | None = None  # default: the year of the place the selection took
    override_reason: str | None = None


@dataclass(frozen=True, slots=True)
class RegisterSettlementDate(Command):
    """R7 (the municipality, persons who lived privately) and R8 (the reception system)."""

    refugee_id: UUID
    settlement_date: date


@dataclass(frozen=True, slots=True)
class CorrectSettlementDate(Command):
    """R7f: IMDi corrects a settlement date (or sets it where R7d bars the municipality), with a reason."""

    refugee_id: UUID
    settlement_date: date
    reason: str


# Deviations and person folders ----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class OpenDeviation(Command):
    """R12: IMDi registers a discrepancy (avvik) on a person's case."""

    refugee_id: UUID
    kind: str
    description: str
    registered_private_by_known_deviation: bool = False


@dataclass(frozen=True, slots=True)
class ResolveDeviation(Command):
    """R12: IMDi resolves an open deviation."""

    refugee_id: UUID
    deviation_id: str
    note: str


@dataclass(frozen=True, slots=True)
class RecordFolderRead(Command):
    """R6: a read of a person folder, checked and recorded every time."""

    refugee_id: UUID

    idempotent: ClassVar[bool] = False
    read_record: ClassVar[bool] = True


@dataclass(frozen=True, slots=True)
class RecordPersonalDataListed(Command):
    """R14: a list or report showed these persons' names or birth dates to the sender (one per request).

    ``what`` says which list or report (its route); the edge has checked the sender may see them.
    """

    what: str
    refugee_ids: tuple[UUID, ...]

    idempotent: ClassVar[bool] = False
    read_record: ClassVar[bool] = True


@dataclass(frozen=True, slots=True)
class ErasePersonalData(Command):
    """R18: IMDi erases a person's personal data (their data key), with the legal basis and a reason."""

    refugee_id: UUID
    legal_basis: str
    reason: str


# Capacity for unaccompanied minors ------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ReportMinorCapacity(Command):
    """R11: the municipality reports vacant capacity for unaccompanied minors aged 15-17."""

    municipality: str
    places: int
    expected_week: str
    min_age: int
    max_age: int
    round_the_clock_staffing: bool
    special_conditions: str = ""


@dataclass(frozen=True, slots=True)
class WithdrawMinorCapacity(Command):
    """R11: the municipality withdraws an open capacity report."""

    capacity_id: UUID
    reason: str


@dataclass(frozen=True, slots=True)
class MarkMinorCapacityFilled(Command):
    """R11: the municipality marks an open capacity report as filled."""

    capacity_id: UUID


# Support cases --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class FileSupportCase(Command):
    """R16: a municipality files a question or problem to IMDi."""

    subject: str
    text: str


@dataclass(frozen=True, slots=True)
class AnswerSupportCase(Command):
    """R16: IMDi answers a support case and may close it."""

    case_id: UUID
    text: str
    close: bool = False


@dataclass(frozen=True, slots=True)
class EraseSupportCaseTexts(Command):
    """R18: IMDi erases a support case's subject, text and answers (the case's key), with the legal
    basis and a reason (naming no person)."""

    case_id: UUID
    legal_basis: str
    reason: str


# Imports (R15) --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RecordHistoricalFigure(Command):
    """R15: one figure of IMDi's statistics: a municipality's request, decision or settled count in a year."""

    number: str
    year: int
    kind: str  # "request", "decision" or "settled"
    persons: int
    source: ImportSource
    revise_reason: str | None = None


@dataclass(frozen=True, slots=True)
class RecordHistoricalRegistration(Command):
    """R15: a person of a person-level history, registered on the source's date under its source id."""

    person: str  # the source's id of the person; the person's id here is derived from it
    registered_on: date
    full_name: str
    birth_date: date
    family: str | None  # the source's id of the family, if any
    unaccompanied_minor: bool
    residence: Residence
    postal_address: PostalAddress
    category: Category
    source: ImportSource


@dataclass(frozen=True, slots=True)
class RecordHistoricalMapping(Command):
    """R15: the mapping of a person of a history (personal data)."""

    person: str
    mapping: Mapping
    mapped_on: date
    source: ImportSource


@dataclass(frozen=True, slots=True)
class RecordHistoricalSelection(Command):
    """R15: a municipality selected the person on the source's date; the place is in ``year``."""

    person: str
    municipality: str
    selected_on: date
    year: int
    source: ImportSource


@dataclass(frozen=True, slots=True)
class RecordHistoricalDecision(Command):
    """R15: the settlement decision of a person of a history, on the source's date, for ``year``."""

    person: str
    municipality: str
    decided_on: date
    source: ImportSource
    year: int | None = None  # default: the year the selection took its place in


@dataclass(frozen=True, slots=True)
class RecordHistoricalSettlementDate(Command):
    """R15: the settlement date of a person of a history."""

    person: str
    settlement_date: date
    source: ImportSource
    revise_reason: str | None = None  # another stored date is corrected to this one (R7f), with the reason


HISTORICAL_FACTS = (
    RecordHistoricalRegistration,
    RecordHistoricalMapping,
    RecordHistoricalSelection,
    RecordHistoricalDecision,
    RecordHistoricalSettlementDate,
)


@dataclass(frozen=True, slots=True)
class RecordImport(Command):
    """R15: the record of an imported file, after its figures, so that the same file twice appends nothing."""

    file_name: str
    checksum: str
    file_format: str
    rows: int
    recorded: int
    unchanged: int
    skipped: int
    revised: int


# Data completeness (R19) ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class MarkCompleteness(Command):
    """R19: IMDi marks a year's data (or one municipality's) as complete, or as not complete again."""

    year: int
    municipality: str | None = None  # None: the whole year
    complete: bool = True


# Letters: delivery (R9) and exports (R17) -------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RecordLetterDispatch(Command):
    """R9: the outbox saw the channel take the letter (its shipment id); recorded once."""

    letter_id: UUID
    delivery: str  # "digital" or "paper"
    channel: str  # "svarut", "file" or "paper"
    shipment_id: str
    at: datetime


@dataclass(frozen=True, slots=True)
class RecordLetterDeliveryFailure(Command):
    """R9: the channel did not take the letter: the reason, and when the outbox tries again."""

    letter_id: UUID
    delivery: str
    channel: str
    reason: str
    permanent: bool
    next_attempt_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class RecordLetterOpened(Command):
    """R9: the recipient opened the digital letter (the channel's status, or IMDi's callback)."""

    letter_id: UUID
    opened_at: datetime
    source: str  # "channel" or "callback"


@dataclass(frozen=True, slots=True)
class FallBackToPaper(Command):
    """R9: a digital letter not opened 48 hours after its dispatch goes by post (checked at ``now``)."""

    letter_id: UUID
    now: datetime


@dataclass(frozen=True, slots=True)
class RetryLetterDelivery(Command):
    """R9: IMDi has a letter whose delivery failed tried again."""

    letter_id: UUID


@dataclass(frozen=True, slots=True)
class RecordCaseFileExport(Command):
    """R17: a person's case file was exported (PDF/A or JSON); checked like a folder read (R6)."""

    refugee_id: UUID
    format: str

    idempotent: ClassVar[bool] = False


@dataclass(frozen=True, slots=True)
class RecordLettersExport(Command):
    """R17: a municipality's letters were written out for its records system."""

    municipality: str
    since: date | None
    letter_ids: tuple[UUID, ...]

    idempotent: ClassVar[bool] = False
