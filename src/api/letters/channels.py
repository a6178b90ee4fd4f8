"""The channels a letter goes out through (R9): SvarUT (digital), the file channel (the embedded
stand-in for SvarUT) and the paper print queue.

Every channel can be asked first whether it already holds a shipment for a letter (``lookup``), so
that a worker that crashed between sending and recording never sends the letter twice where the
channel can tell. A failure is a :class:`DeliveryError`: permanent (the outbox stops and IMDi must
act) or not (the outbox tries again later). Its reason is shown to IMDi: bokmål, no personal data.
"""

from __future__ import annotations

import json
import os
import random
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol
from uuid import UUID

import httpx

API = "/tjenester/api/forsendelse/v1"
LEST = "LEST"  # SvarUT's status of a shipment opened by its recipient


class DeliveryError(Exception):
    """The channel did not take the letter."""

    def __init__(self, reason: str, *, permanent: bool) -> None:
        super().__init__(reason)
        self.reason = reason
        self.permanent = permanent


@dataclass(frozen=True)
class Shipment:
    """One letter to send: its PDF, title, file name and the recipient's addresses today."""

    letter_id: UUID
    reference: str
    title: str
    file_name: str
    pdf: bytes
    recipient_name: str
    postal_address: dict[str, Any] | None
    organisation_number: str | None = None

    def forsendelse(self) -> dict[str, Any]:
        """SvarUT's ``forsendelse`` JSON for this shipment."""
        address = self.postal_address or {}
        receiver: dict[str, Any] = {
            "postAdresse": {
                "navn": self.recipient_name,
                "adresse1": address.get("street", ""),
                "postnr": address.get("postal_code", ""),
                "poststed": address.get("city", ""),
            }
        }
        if self.organisation_number:
            receiver["digitalAdresse"] = {"orgnr": self.organisation_number}
        return {
            "tittel": self.title,
            "eksternReferanse": str(self.letter_id),
            "mottaker": receiver,
            "dokumenter": [{"filnavn": self.file_name, "mimeType": "application/pdf"}],
        }


class Channel(Protocol):
    name: str

    def lookup(self, letter_id: UUID) -> str | None:
        """The shipment id already made for this letter, if the channel has one."""

    def send(self, shipment: Shipment) -> str:
        """Sends the letter; answers the channel's shipment id, or raises :class:`DeliveryError`."""

    def opened_at(self, shipment_id: str, letter_id: UUID) -> datetime | None:
        """When the recipient opened the shipment, or None (not yet, or the channel cannot tell)."""


def _write_atomically(path: Path, data: bytes) -> None:
    """The file appears whole or not at all (written beside it, then renamed)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


class FileChannel:
    """The embedded default for digital post: one folder per letter under the outbox folder, with the
    PDF and ``forsendelse.json`` (SvarUT's metadata and the shipment id). ``lest.json`` in the folder
    marks the letter opened (``settlement letters open``)."""

    name = "file"

    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    def folder(self, letter_id: UUID) -> Path:
        return self.root / str(letter_id)

    def lookup(self, letter_id: UUID) -> str | None:
        meta = self.folder(letter_id) / "forsendelse.json"
        if not meta.is_file():
            return None
        return json.loads(meta.read_text(encoding="utf-8"))["id"]

    def send(self, shipment: Shipment) -> str:
        folder = self.folder(shipment.letter_id)
        shipment_id = f"file-{shipment.letter_id}"
        try:
            _write_atomically(folder / shipment.file_name, shipment.pdf)
            meta = {"id": shipment_id, "sendt": datetime.now(UTC).isoformat(), **shipment.forsendelse()}
            # The metadata last: a folder without it holds no shipment yet (lookup says so).
            _write_atomically(
                folder / "forsendelse.json", json.dumps(meta, ensure_ascii=False, indent=2).encode()
            )
        except OSError as error:
            raise DeliveryError(
                f"Utboksmappen kan ikke skrives ({type(error).__name__})", permanent=False
            ) from None
        return shipment_id

    def mark_opened(self, letter_id: UUID, at: datetime) -> None:
        """The recipient opened the letter (for trying the service out without SvarUT)."""
        if self.lookup(letter_id) is None:
            raise ValueError(f"Letter {letter_id} is not in the outbox folder {self.root}.")
        millis = int(at.timestamp() * 1000)
        _write_atomically(
            self.folder(letter_id) / "lest.json",
            json.dumps({"status": LEST, "sisteStatusEndring": millis}).encode(),
        )

    def opened_at(self, shipment_id: str, letter_id: UUID) -> datetime | None:
        marker = self.folder(letter_id) / "lest.json"
        if not marker.is_file():
            return None
        status = json.loads(marker.read_text(encoding="utf-8"))
        if status.get("status") != LEST:
            return None
        return datetime.fromtimestamp(status["sisteStatusEndring"] / 1000, UTC)


class PaperChannel:
    """The print queue: one PDF per letter going by post, the address sheet in front, named by the
    letter's id (so a letter is queued once however often it is sent)."""

    name = "paper"

    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    def path(self, letter_id: UUID) -> Path:
        return self.root / f"{letter_id}.pdf"

    def lookup(self, letter_id: UUID) -> str | None:
        return f"paper-{letter_id}" if self.path(letter_id).is_file() else None

    def send(self, shipment: Shipment) -> str:
        try:
            _write_atomically(self.path(shipment.letter_id), shipment.pdf)
        except OSError as error:
            raise DeliveryError(
                f"Utskriftskøen kan ikke skrives ({type(error).__name__})", permanent=False
            ) from None
        return f"paper-{shipment.letter_id}"

    def opened_at(self, shipment_id: str, letter_id: UUID) -> datetime | None:
        return None  # paper tells nothing


class SvarUT:
    """KS SvarUT's REST forsendelse service v1, with HTTP Basic.

    Timeouts, connection errors and 5xx answers are retried (``attempts`` in all) with exponential
    backoff and jitter; a 4xx answer is a permanent failure. Before each attempt to send, the
    shipments already made for the letter's reference are looked up, so that a shipment SvarUT took
    before the answer was lost is never made twice.
    """

    name = "svarut"

    def __init__(
        self,
        url: str,
        user: str | None,
        password: str | None,
        *,
        timeout: float = 10.0,
        attempts: int = 3,
        backoff: float = 0.5,
        sleep: Callable[[float], None] = time.sleep,
        jitter: Callable[[], float] = random.random,
    ) -> None:
        self.base = url.rstrip("/") + API
        auth = httpx.BasicAuth(user or "", password or "") if user else None
        self.client = httpx.Client(auth=auth, timeout=timeout)
        self.timeout = timeout
        self.attempts = attempts
        self.backoff = backoff
        self.sleep = sleep
        self.jitter = jitter

    def close(self) -> None:
        self.client.close()

    def _pause(self, attempt: int) -> None:
        # Exponential, with jitter: many letters failing together do not come back in step.
        self.sleep(self.backoff * (2**attempt) * (0.5 + self.jitter()))

    def _once(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        """One call; a transient failure is a non-permanent DeliveryError, a 4xx a permanent one."""
        try:
            response = self.client.request(method, self.base + path, **kwargs)
        except httpx.TimeoutException:
            raise DeliveryError(f"SvarUT svarte ikke innen {self.timeout:g} s", permanent=False) from None
        except httpx.TransportError as error:
            raise DeliveryError(
                f"Ingen forbindelse med SvarUT ({type(error).__name__})", permanent=False
            ) from None
        if response.status_code >= 500:
            raise DeliveryError(f"SvarUT svarte {response.status_code}", permanent=False)
        if response.status_code >= 400:
            raise DeliveryError(
                f"SvarUT avviste forsendelsen ({response.status_code}); se SvarUTs logg", permanent=True
            )
        return response

    def _json(self, response: httpx.Response) -> Any:
        try:
            return response.json()
        except ValueError:
            raise DeliveryError("SvarUT svarte med noe som ikke er JSON", permanent=False) from None

    def _retried(self, call: Callable[[], Any]) -> Any:
        for attempt in range(self.attempts):
            try:
                return call()
            except DeliveryError as error:
                if error.permanent or attempt == self.attempts - 1:
                    raise
                self._pause(attempt)
        raise AssertionError("unreachable")

    def lookup(self, letter_id: UUID) -> str | None:
        found = self._retried(lambda: self._json(self._once("GET", f"/eksternref/{letter_id}")))
        if not isinstance(found, list):
            raise DeliveryError("SvarUT svarte uventet på oppslag av referansen", permanent=False)
        return str(found[0]) if found else None

    def _attempt_send(self, shipment: Shipment) -> str:
        existing = self.lookup(shipment.letter_id)
        if existing is not None:
            return existing
        started = self._json(self._once("POST", "/startNyForsendelse"))
        shipment_id = str(started.get("id", "")) if isinstance(started, dict) else ""
        if not shipment_id:
            raise DeliveryError("SvarUT ga ingen forsendelses-id", permanent=False)
        files = [
            (
                "forsendelse",
                (None, json.dumps(shipment.forsendelse(), ensure_ascii=False), "application/json"),
            ),
            ("filer", (shipment.file_name, shipment.pdf, "application/pdf")),
        ]
        self._once("POST", f"/{shipment_id}/sendForsendelse", files=files)
        return shipment_id

    def send(self, shipment: Shipment) -> str:
        return self._retried(lambda: self._attempt_send(shipment))

    def opened_at(self, shipment_id: str, letter_id: UUID) -> datetime | None:
        status = self._retried(lambda: self._json(self._once("GET", f"/{shipment_id}/status")))
        if not isinstance(status, dict) or status.get("status") != LEST:
            return None
        changed = status.get("sisteStatusEndring")
        if not isinstance(changed, int | float):
            raise DeliveryError("SvarUT oppga ikke når forsendelsen ble lest", permanent=False)
        return datetime.fromtimestamp(changed / 1000, UTC)
