"""The letter outbox (R9): delivery as its own step, after the command that issued the letter.

Each tick, at the injected clock's ``now``:
1. digital letters due to go by post (48 hours after dispatch, R9) are asked about once more (were
   they opened in time?), and those still unopened fall back to paper: ``LetterFellBackToPaper``,
   recorded once whichever worker comes first;
2. the other digital letters not yet opened are asked about (``LetterOpened``);
3. every letter waiting for a delivery goes out through its channel (``LetterDispatched``), or its
   failure is recorded with the next attempt (``LetterDeliveryFailed``).

The letters read model says where to look; each decision is made on the letter itself, loaded from
the log. A channel is asked for the letter's shipment before sending, so a crash between sending and
recording sends nothing twice where the channel can tell; the record itself is checked by the
letter (a second worker's record is refused) and so made exactly once.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import random
import threading
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID

from sqlalchemy import Engine, text

from api.letters.channels import Channel, DeliveryError, FileChannel, PaperChannel, Shipment, SvarUT
from api.letters.render import LetterData, LetterRenderingError, Renderer, address_lines
from api.settings import Settings
from projections import letters as letters_model
from projections.engine.generations import lock_key
from settlement_domain import commands as c
from settlement_domain.context import Actor, CommandContext, Role
from settlement_domain.errors import ConcurrencyConflict, NotFound, RuleViolation
from settlement_domain.model import Delivery, Letter, Municipality

log = logging.getLogger(__name__)

OUTBOX_ACTOR = Actor("letter-outbox", Role.IMDI)  # the outbox sends on IMDi's behalf
RETRY_BASE = timedelta(minutes=1)
RETRY_MAX = timedelta(hours=6)
OUTBOX_LOCK = (
    "letters-outbox"  # the PostgreSQL advisory lock (per schema) one outbox worker holds while it ticks
)
STATUS_EVERY = timedelta(minutes=5)  # a letter not yet due for post is asked about at most this often


def now_utc() -> datetime:
    return datetime.now(UTC)


@dataclass
class TickReport:
    """What one tick did (counts only: no personal data)."""

    dispatched: int = 0
    failed: int = 0
    opened: int = 0
    fell_back: int = 0
    busy: bool = False
    problems: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "dispatched": self.dispatched,
            "failed": self.failed,
            "opened": self.opened,
            "fell_back": self.fell_back,
            "busy": self.busy,
        }


@dataclass
class Channels:
    """The channel of each delivery: digital (SvarUT, or the file channel) and paper."""

    digital: Channel
    paper: Channel
    by_name: dict[str, Channel] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.by_name = {self.digital.name: self.digital, self.paper.name: self.paper, **self.by_name}

    @classmethod
    def from_settings(cls, settings: Settings, **svarut_options: Any) -> Channels:
        file_channel = FileChannel(settings.letters_outbox_dir)
        digital: Channel = file_channel
        if settings.svarut_url:
            password = settings.svarut_password.get_secret_value() if settings.svarut_password else None
            digital = SvarUT(
                settings.svarut_url,
                settings.svarut_user,
                password,
                timeout=settings.svarut_timeout_seconds,
                **svarut_options,
            )
        # The file channel stays known, so letters it sent before SvarUT was set are still followed.
        return cls(digital, PaperChannel(settings.letters_print_dir), {"file": file_channel})


def backoff(attempt: int, jitter: Callable[[], float] = random.random) -> timedelta:
    """When to try again after ``attempt`` failures: doubling from a minute, at most six hours, jittered."""
    delay = min(RETRY_BASE * (2 ** max(attempt - 1, 0)), RETRY_MAX)
    return delay * (0.75 + 0.5 * jitter())


class Outbox:
    """Sends issued letters through their channels and records what happened."""

    def __init__(
        self,
        app: Any,
        engine: Engine,
        channels: Channels,
        renderer: Renderer,
        *,
        clock: Callable[[], datetime] = now_utc,
        lock_path: Path | None = None,
        jitter: Callable[[], float] = random.random,
    ) -> None:
        self.app = app
        self.engine = engine
        self.channels = channels
        self.renderer = renderer
        self.clock = clock
        self.lock_path = lock_path
        self.jitter = jitter
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._asked: dict[str, datetime] = {}  # letter id -> when its status was last asked for

    @classmethod
    def from_settings(
        cls, app: Any, engine: Engine, settings: Settings, *, clock: Callable[[], datetime] = now_utc
    ) -> Outbox:
        return cls(
            app,
            engine,
            Channels.from_settings(settings),
            Renderer(settings.letter_font_dir),
            clock=clock,
            lock_path=settings.letters_outbox_dir / ".outbox.lock",
        )

    # One worker at a time ----------------------------------------------------------------------

    @contextlib.contextmanager
    def _exclusive(self) -> Iterator[bool]:
        """Whether this worker may tick now: one worker at a time per store (PostgreSQL: an
        advisory lock; SQLite: a lock file beside the outbox folder)."""
        if self.engine.dialect.name == "postgresql":
            with self.engine.connect() as conn:
                conn = conn.execution_options(isolation_level="AUTOCOMMIT")
                # per schema: stores in other schemas of the same database never wait for this one
                key = lock_key(conn, OUTBOX_LOCK)
                got = conn.execute(text("select pg_try_advisory_lock(:k)"), {"k": key}).scalar_one()
                try:
                    yield bool(got)
                finally:
                    if got:
                        conn.execute(text("select pg_advisory_unlock(:k)"), {"k": key})
            return
        if self.lock_path is None:
            yield True
            return
        self.lock_path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.lock_path, "a+b") as handle:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                yield False
                return
            try:
                yield True
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    # The tick ----------------------------------------------------------------------------------

    def tick(self, now: datetime | None = None) -> TickReport:
        """One round of work at ``now`` (the clock's, unless given)."""
        now = now or self.clock()
        report = TickReport()
        with self._exclusive() as mine:
            if not mine:
                report.busy = True
                return report
            for letter_id in letters_model.fallback_due(self.engine, now):
                self.poll(UUID(letter_id), report)
                self._fall_back(UUID(letter_id), now, report)
            awaiting = letters_model.awaiting_opening(self.engine)
            for letter_id in awaiting:
                asked = self._asked.get(letter_id)
                if asked is None or now - asked >= STATUS_EVERY or now < asked:
                    self._asked[letter_id] = now
                    self.poll(UUID(letter_id), report)
            still = set(awaiting)
            self._asked = {k: v for k, v in self._asked.items() if k in still}
            for letter_id in letters_model.due_deliveries(self.engine, now):
                self.deliver(UUID(letter_id), now, report)
        return report

    def _record(self, command: c.Command) -> bool:
        """Records through the application; a record another worker made first is no error."""
        ctx = CommandContext(OUTBOX_ACTOR, f"outbox-{uuid.uuid4().hex[:12]}")
        try:
            self.app.handle(ctx, command)
        except (RuleViolation, ConcurrencyConflict):
            return False
        return True

    def _letter(self, letter_id: UUID) -> Letter | None:
        try:
            found = self.app.repository.get(letter_id)
        except Exception:
            return None
        return found if isinstance(found, Letter) else None

    def poll(self, letter_id: UUID, report: TickReport) -> None:
        """Asks the channel whether the digital letter was opened; records when."""
        letter = self._letter(letter_id)
        if letter is None or letter.opened_at is not None:
            return
        sent = letter.dispatched.get(Delivery.DIGITAL)
        channel = self.channels.by_name.get(sent["channel"]) if sent else None
        if sent is None or channel is None:
            return
        try:
            opened_at = channel.opened_at(sent["shipment_id"], letter_id)
        except DeliveryError as error:
            report.problems.append(error.reason)
            return
        if opened_at is not None and self._record(c.RecordLetterOpened(letter_id, opened_at, "channel")):
            report.opened += 1

    def _fall_back(self, letter_id: UUID, now: datetime, report: TickReport) -> None:
        letter = self._letter(letter_id)
        if letter is None or letter.fallback_at is not None:
            return
        due = letter.fallback_due_at
        if due is None or now < due or (letter.opened_at is not None and letter.opened_at < due):
            return
        if self._record(c.FallBackToPaper(letter_id, now)):
            report.fell_back += 1
            self.deliver(letter_id, now, report)  # to the print queue now, not at the next tick

    # Delivery ----------------------------------------------------------------------------------

    def _shipment(self, letter: Letter, data: LetterData, delivery: str) -> Shipment:
        """The shipment with the recipient's addresses as they stand now; a missing one is a
        permanent failure that IMDi sees (R9)."""
        if letter.kind == "decision_person":
            recipient = data.personal.get("recipient") or {}
            name, address, orgnr = recipient.get("name") or "", recipient.get("postal_address"), None
            if not address:
                raise DeliveryError("Personen har ingen registrert postadresse", permanent=True)
        else:
            try:
                municipality: Municipality = self.app.municipality(letter.municipality)
            except NotFound:
                raise DeliveryError(
                    f"Kommune {letter.municipality} er ikke registrert", permanent=True
                ) from None
            name = f"{municipality.name} kommune"
            address, orgnr = municipality.postal_address, municipality.organisation_number
            if delivery == Delivery.DIGITAL and not orgnr:
                raise DeliveryError(
                    f"{name} har ikke oppgitt organisasjonsnummer (digital adresse for SvarUT)",
                    permanent=True,
                )
            if not address:
                raise DeliveryError(f"{name} har ikke oppgitt postadresse (postmottak)", permanent=True)
        pdf = self.renderer.letter(
            data, (name, address_lines(address)) if delivery == Delivery.PAPER else None
        )
        return Shipment(letter.id, data.reference, data.title, data.file_name, pdf, name, address, orgnr)

    def _names_erased(self, letter: Letter) -> bool:
        """Whether a person the letter names was erased (R18)."""
        for person_id in letter.person_ids:
            try:
                if self.app.refugee(person_id).erased:
                    return True
            except NotFound:
                continue
        return False

    def deliver(self, letter_id: UUID, now: datetime, report: TickReport | None = None) -> None:
        """Sends one letter's waiting delivery and records the outcome."""
        report = report or TickReport()
        letter = self._letter(letter_id)
        if letter is None or letter.pending is None or letter.failed_permanently:
            return
        if letter.next_attempt_at is not None and letter.next_attempt_at > now:
            return
        delivery = letter.pending
        channel = self.channels.paper if delivery == Delivery.PAPER else self.channels.digital
        try:
            shipment_id = channel.lookup(letter_id)  # sent before a crash? then record, never resend
            if shipment_id is None:
                if self._names_erased(letter):
                    # R18: never sent once a person it names is erased (an erasure waits for the
                    # letters naming the person, R18e; this catches one issued moments before it).
                    raise DeliveryError("En person brevet nevner er slettet (R18)", permanent=True)
                try:
                    shipment = self._shipment(letter, LetterData.of(letter), delivery)
                except LetterRenderingError:
                    # The operator's to fix (the font): shown on the letter, tried again later.
                    raise DeliveryError(
                        "Brevet kan ikke lages: skriften mangler på serveren", permanent=False
                    ) from None
                shipment_id = channel.send(shipment)
        except DeliveryError as error:
            retry_at = None if error.permanent else now + backoff(letter.attempts + 1, self.jitter)
            command = c.RecordLetterDeliveryFailure(
                letter_id, delivery, channel.name, error.reason, error.permanent, retry_at
            )
            if self._record(command):
                report.failed += 1
            log.warning("letter %s: delivery through %s failed (%s)", letter_id, channel.name, error.reason)
            return
        if self._record(c.RecordLetterDispatch(letter_id, delivery, channel.name, shipment_id, now)):
            report.dispatched += 1

    # Live --------------------------------------------------------------------------------------

    def run_forever(self, poll_seconds: float) -> None:
        """Ticks until ``stop()``; a failed tick is logged (kind only) and tried again next time."""
        while not self._stop.is_set():
            try:
                self.tick()
            except Exception as error:
                log.error("letter outbox: tick failed (%s)", type(error).__name__)
            self._stop.wait(poll_seconds)

    def start(self, poll_seconds: float) -> threading.Thread:
        self._stop.clear()
        self._thread = threading.Thread(
            target=self.run_forever, args=(poll_seconds,), name="letter-outbox", daemon=True
        )
        self._thread.start()
        return self._thread

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None
