"""Handlers for letter delivery (R9) and exports for a records system (R17).

The outbox (``api.letters``) sends a letter through its channel and then records what happened with
these commands; each checks the letter's state, so that a dispatch or a fallback is recorded once
whichever worker comes second.
"""

from __future__ import annotations

from uuid import UUID

from settlement_domain import commands as c
from settlement_domain.errors import NotFound
from settlement_domain.handlers.scope import Handler, Outcome, Scope
from settlement_domain.model import Export, Letter
from settlement_domain.permissions import require_own_municipality
from settlement_domain.rules import check_municipality_number, check_text, refuse_input

DELIVERIES = ("digital", "paper")
CHANNELS = ("svarut", "file", "paper")


def _letter(scope: Scope, letter_id: UUID) -> Letter:
    return scope.get(Letter, letter_id, "letter")


def _check_delivery(delivery: str, channel: str) -> None:
    if delivery not in DELIVERIES:
        raise refuse_input(
            "R9", "A delivery is one of %(deliveries)s.", "delivery", {"deliveries": list(DELIVERIES)}
        )
    if channel not in CHANNELS:
        raise refuse_input("R9", "A channel is one of %(channels)s.", "channel", {"channels": list(CHANNELS)})


def record_dispatch(scope: Scope, cmd: c.RecordLetterDispatch) -> Outcome:
    _check_delivery(cmd.delivery, cmd.channel)
    letter = _letter(scope, cmd.letter_id)
    letter.dispatch(scope.meta, cmd.delivery, cmd.channel, cmd.shipment_id, cmd.at)
    return Outcome(letter)


def record_failure(scope: Scope, cmd: c.RecordLetterDeliveryFailure) -> Outcome:
    _check_delivery(cmd.delivery, cmd.channel)
    letter = _letter(scope, cmd.letter_id)
    reason = check_text("R9", cmd.reason, "reason", max_length=500)
    letter.fail_delivery(scope.meta, cmd.delivery, cmd.channel, reason, cmd.permanent, cmd.next_attempt_at)
    return Outcome(letter)


def record_opened(scope: Scope, cmd: c.RecordLetterOpened) -> Outcome:
    if cmd.source not in ("channel", "callback"):
        raise refuse_input("R9", "An opening comes from the channel or the callback.", "source")
    letter = _letter(scope, cmd.letter_id)
    recorded = letter.open(scope.meta, cmd.opened_at, cmd.source)
    assert letter.opened_at is not None  # open() records the opening or finds it recorded, else raises
    return Outcome(letter, extra={"opened_at": letter.opened_at.isoformat(), "recorded": recorded})


def fall_back_to_paper(scope: Scope, cmd: c.FallBackToPaper) -> Outcome:
    letter = _letter(scope, cmd.letter_id)
    letter.fall_back_to_paper(scope.meta, cmd.now)
    return Outcome(letter)


def retry_delivery(scope: Scope, cmd: c.RetryLetterDelivery) -> Outcome:
    letter = _letter(scope, cmd.letter_id)
    letter.retry_delivery(scope.meta)
    return Outcome(letter)


def record_case_file_export(scope: Scope, cmd: c.RecordCaseFileExport) -> Outcome:
    if cmd.format not in ("pdf", "json"):
        raise refuse_input("R17", "A case file is exported as pdf or json.", "format")
    refugee = scope.refugee_for_actor(cmd.refugee_id)
    if scope.is_municipality:
        refugee.check_folder_readable_by(scope.actor.municipality or "")
    export = Export(
        meta=scope.meta,
        kind="case_file",
        refugee_id=refugee.id,
        municipality=scope.actor.municipality,
        format=cmd.format,
        since=None,
        letter_ids=[],
    )
    return Outcome(export, extra={"refugee_id": str(refugee.id)})


def record_letters_export(scope: Scope, cmd: c.RecordLettersExport) -> Outcome:
    check_municipality_number(cmd.municipality, "municipality")
    require_own_municipality("R17", scope.actor, cmd.municipality, "export letters")
    try:
        scope.municipality(cmd.municipality)
    except NotFound:
        raise refuse_input(
            "R17",
            "Municipality %(number)s is not registered.",
            "municipality",
            {"number": cmd.municipality},
        ) from None
    export = Export(
        meta=scope.meta,
        kind="letters",
        refugee_id=None,
        municipality=cmd.municipality,
        format="pdf",
        since=cmd.since,
        letter_ids=list(cmd.letter_ids),
    )
    return Outcome(export)


HANDLERS: dict[type[c.Command], Handler] = {
    c.RecordLetterDispatch: record_dispatch,
    c.RecordLetterDeliveryFailure: record_failure,
    c.RecordLetterOpened: record_opened,
    c.FallBackToPaper: fall_back_to_paper,
    c.RetryLetterDelivery: retry_delivery,
    c.RecordCaseFileExport: record_case_file_export,
    c.RecordLettersExport: record_letters_export,
}
