"""R18: an erased person's letters leave no name on disk.

The file channel keeps a folder per letter (``<outbox>/<letter id>/``: the PDF and
``forsendelse.json``, whose ``mottaker`` names the recipient) and the print queue a PDF per letter
(``<print>/<letter id>.pdf``). On erasure (``POST /refugees/{id}/erasure`` and ``settlement erase``)
the files of every letter naming the person are removed; the file channel's ``forsendelse.json`` is
rewritten without the recipient and title, keeping the shipment's id, so that the outbox still knows
the letter was sent and never sends it again. The letters are found through the letters read model
(its ``person_ids``), so a letter issued moments before the erasure and not yet folded there is
missed: ``settlement erase`` run again for an erased person cleans up what is left.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from uuid import UUID

from sqlalchemy import Engine

from api.letters.channels import FileChannel, PaperChannel, _write_atomically
from api.settings import Settings
from projections.engine.paging import ReadModelNotReady
from projections.engine.runner import caught_up_to
from projections.letters import letters_of, undelivered_naming

log = logging.getLogger(__name__)

WAIT_SECONDS = 5.0  # how long the letters read model is given to reach the erasure


def undelivered_letters_lookup(app: Any, engine: Engine) -> Callable[[UUID], list[UUID] | None]:
    """R18e: the application's lookup of the letters naming a person that may not be delivered yet
    (``SettlementApp.letters_naming``), from the letters read model once it has reached the log's
    head (waited for up to WAIT_SECONDS; if it does not, None, and the domain refuses the erasure for
    now, R18e). The
    erasure then decides on each letter's own state; a letter issued so late that the read model had
    not folded it is caught by the outbox, which never sends a letter naming an erased person
    (``Outbox.deliver``)."""

    def lookup(person: UUID) -> list[UUID] | None:
        head = app.recorder.max_notification_id() or 0
        try:
            if _letters_reached(engine, head, WAIT_SECONDS):
                return [UUID(letter_id) for letter_id in undelivered_naming(engine, str(person))]
        except ReadModelNotReady:  # not installed yet: no better than behind
            log.info("The letters read model is not ready; an erasure waits (R18e)")
        return None  # cannot tell now: the domain refuses the erasure for now (R18e)

    return lookup


def _letters_reached(engine: Engine, position: int, timeout: float) -> bool:
    """Whether the letters read model reached ``position`` within ``timeout`` (the others may lag)."""
    return caught_up_to(engine, position, timeout=timeout, names=["letters"])


@dataclass(frozen=True)
class ErasedFiles:
    letters: int  # letters naming the person
    files: int  # files removed or rewritten


def erase_letter_files(
    engine: Engine, settings: Settings, person: UUID, *, position: int | None = None
) -> ErasedFiles:
    """Removes the files of the letters naming ``person`` from the outbox folder and the print queue
    (module doc); ``position``: the erasure's log position, which the letters read model is awaited
    to reach first. Never raises for a file: what cannot be removed is logged (by letter id only)."""
    if position is not None:
        _letters_reached(engine, position, WAIT_SECONDS)
    try:
        letter_ids = [str(row["letter_id"]) for row in letters_of(engine, person=str(person))]
    except ReadModelNotReady:
        return ErasedFiles(0, 0)
    outbox, prints = FileChannel(settings.letters_outbox_dir), PaperChannel(settings.letters_print_dir)
    files = 0
    for letter_id in letter_ids:
        try:
            files += _erase_folder(outbox.folder(UUID(letter_id)))
            printed = prints.path(UUID(letter_id))
            if printed.exists():
                printed.unlink()
                files += 1
        except OSError as error:
            log.warning(
                "R18: the files of letter %s could not be removed (%s)", letter_id, type(error).__name__
            )
    return ErasedFiles(len(letter_ids), files)


def _erase_folder(folder: Path) -> int:
    if not folder.is_dir():
        return 0
    files = 0
    meta = folder / "forsendelse.json"
    kept: dict[str, object] | None = None
    if meta.is_file():
        shipment = json.loads(meta.read_text(encoding="utf-8"))
        kept = {k: shipment[k] for k in ("id", "sendt", "eksternReferanse") if k in shipment}
        if kept == shipment or shipment.get("slettet") is True:
            kept = None  # rewritten before
    for path in folder.iterdir():
        if path.name in ("forsendelse.json", "lest.json") or not path.is_file():
            continue
        path.unlink()
        files += 1
    if kept is not None:
        _write_atomically(meta, json.dumps({**kept, "slettet": True}, indent=2).encode())
        files += 1
    return files
