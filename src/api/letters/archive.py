"""Archiving (R17): a person's case file (PDF/A or JSON) and a municipality's letters with a manifest,
ready for a Noark 5 records system. The system is not the archive; these are what goes into one.

A municipality's case file is limited as R6 says: it reads the case only once it has selected the
person (the application refuses otherwise), and it sees neither another municipality's letters nor
the steps of the case that name another municipality.
"""

from __future__ import annotations

import csv
import hashlib
import io
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any
from uuid import UUID

from api.letters.render import (
    KIND_NAMES,
    LetterData,
    Renderer,
    address_lines,
    letter_body,
    letter_text,
    long_date,
)
from projections import letters as letters_model
from settlement_domain.model import Letter, Refugee
from settlement_domain.personal_keys import ERASED_NAME

CATEGORY_NAMES = {
    "asylum": "asylsøker med opphold",
    "resettlement": "overføringsflyktning",
    "family_reunification": "familiegjenforent",
    "collective_protection": "kollektiv beskyttelse",
}
MANIFEST_COLUMNS = ("reference", "date", "kind", "recipient", "file", "sha256")


def _d(value: Any) -> str:
    if isinstance(value, datetime):
        value = value.date()
    return long_date(value) if value else ""


# A step of the case in words, and the municipality it names (for R6's limit).
STEPS: dict[str, Callable[[Any], str]] = {
    "RefugeeRegistered": lambda e: (
        "Registrert i bosettingstjenesten"
        + (f" ({CATEGORY_NAMES.get(e.category, e.category)})" if getattr(e, "category", None) else "")
    ),
    "MappingRecorded": lambda e: "Kartlegging fra mottaket registrert",
    "RefugeeProposed": lambda e: f"Foreslått for kommune {e.municipality} på en fordelingsliste",
    "ProposalWithdrawn": lambda e: "Fordelingslisten ble trukket tilbake",
    "RefugeeDeclined": lambda e: f"Kommune {e.municipality} sa nei",
    "RefugeeSelected": lambda e: (
        f"Kommune {e.municipality} sa ja (utsøkt) for bosetting i {e.year}, {_d(e.selected_on)}"
    ),
    "SettlementDecided": lambda e: (
        f"Vedtak om bosetting i kommune {e.municipality} i {e.year}, {_d(e.decided_on)}"
        + (" (utover kommunens vedtak)" if e.override_reason else "")
    ),
    "SettlementDateRegistered": lambda e: (
        f"Bosettingsdato {_d(e.settlement_date)} registrert i kommune {e.municipality}"
    ),
    "SettlementDateCorrected": lambda e: f"Bosettingsdato rettet til {_d(e.settlement_date)} av IMDi",
    "DeviationOpened": lambda e: f"Avvik registrert ({e.kind})",
    "DeviationResolved": lambda e: "Avvik løst",
}
HISTORY_WORDS = {
    "issued": "utstedt",
    "dispatched": "sendt",
    "failed": "sending feilet",
    "retried": "sendes på nytt",
    "opened": "åpnet",
    "fell_back": "ikke åpnet innen 48 timer: sendes per post",
}


@dataclass(frozen=True)
class Reader:
    """Who reads the case file: a municipality sees its own part (R6), imdi and auditors all."""

    municipality: str | None

    def sees(self, municipality: str | None) -> bool:
        return self.municipality is None or municipality in (None, self.municipality)


def case_file(app: Any, source: Any, refugee_id: UUID, reader: Reader) -> dict[str, Any]:
    """The person's case as JSON: the person, every step in words, and every letter with its delivery."""
    refugee: Refugee = app.refugee(refugee_id)
    steps = []
    for event in app.repository.event_store.get(refugee_id):
        name = type(event).__name__
        if not reader.sees(getattr(event, "municipality", None)):
            continue
        describe = STEPS.get(name)
        steps.append(
            {
                "recorded_at": event.timestamp.isoformat(),
                "event": name,
                "text": describe(event) if describe else name,
            }
        )
    letters = []
    for row in letters_model.letters_of(source, reader.municipality, person=str(refugee_id)):
        letter = app.repository.get(UUID(row["letter_id"]))
        if not isinstance(letter, Letter):
            continue
        data = LetterData.of(letter)
        history = letters_model.histories(source, [row["letter_id"]]).get(row["letter_id"], [])
        letters.append(
            {
                "letter_id": row["letter_id"],
                "kind": letter.kind,
                "municipality": letter.municipality,
                "person_ids": [str(p) for p in letter.person_ids],
                "status": row["status"],
                "text": letter_text(data),
                "history": [
                    {"at": h["at"].isoformat(), "event": h["event"], "channel": h["channel"]} for h in history
                ],
            }
        )
    personal = refugee.personal
    birth = personal.get("birth_date")
    return {
        "refugee_id": str(refugee_id),
        "person": {
            # R18: an erased person's case file keeps its steps, and reads "slettet" for the name.
            "full_name": ERASED_NAME if personal.get("erased") else personal.get("full_name"),
            "erased": bool(personal.get("erased")),
            "birth_date": birth.isoformat() if isinstance(birth, date) else birth,
            "postal_address": personal.get("postal_address"),
            "category": refugee.category,
            "unaccompanied_minor": refugee.unaccompanied_minor,
            "municipality": refugee.municipality if reader.sees(refugee.municipality) else None,
            "settlement_year": refugee.decision_year or refugee.selection_year,
            "settlement_date": refugee.settlement_date.isoformat() if refugee.settlement_date else None,
        },
        "steps": steps,
        "letters": letters,
    }


def _e(value: Any) -> str:
    import html

    return html.escape(str(value if value is not None else ""))


def case_file_pdf(renderer: Renderer, app: Any, case: dict[str, Any]) -> bytes:
    """The case file as PDF/A-2b: the person, the steps in words, then every letter as it was sent."""
    person = case["person"]
    facts = [
        ("Navn", person["full_name"]),
        ("Fødselsdato", long_date(person["birth_date"])),
        ("Adresse", ", ".join(address_lines(person["postal_address"]))),
        ("Kategori", CATEGORY_NAMES.get(person["category"], person["category"])),
        ("Enslig mindreårig", "ja" if person["unaccompanied_minor"] else "nei"),
        ("Bosettingskommune", person["municipality"] or ""),
        ("Bosettingsår", person["settlement_year"] or ""),
        ("Bosettingsdato", long_date(person["settlement_date"]) if person["settlement_date"] else ""),
    ]
    body = [
        f"<h1>Saksmappe: {_e(person['full_name'])}</h1>",
        f'<p class="small">Eksportert fra bosettingstjenesten {_e(long_date(date.today()))}. '
        "Tjenesten er ikke et arkiv: denne mappen er til kommunens eller IMDis arkiv (Noark 5).</p>",
        "<table>" + "".join(f"<tr><th>{_e(k)}</th><td>{_e(v)}</td></tr>" for k, v in facts) + "</table>",
        '<h2>Saksgang</h2><table class="event"><tr><th>Registrert</th><th>Hendelse</th></tr>',
        "".join(
            f"<tr><td>{_e(_d(datetime.fromisoformat(s['recorded_at'])))}</td><td>{_e(s['text'])}</td></tr>"
            for s in case["steps"]
        ),
        "</table>",
        "<h2>Brev</h2>",
    ]
    if not case["letters"]:
        body.append("<p>Ingen brev.</p>")
    for item in case["letters"]:
        history = "; ".join(
            f"{HISTORY_WORDS.get(h['event'], h['event'])} {_d(datetime.fromisoformat(h['at']))}"
            for h in item["history"]
        )
        body.append(
            f"<p>{_e(KIND_NAMES.get(item['kind'], item['kind']).capitalize())} {_e(item['text']['reference'])}: "
            f"{_e(history)}</p>"
        )
    for item in case["letters"]:
        letter = app.repository.get(UUID(item["letter_id"]))
        body.append('<div style="page-break-before: always">' + letter_body(LetterData.of(letter)) + "</div>")
    return renderer.document(f"Saksmappe {person['full_name']}", "".join(body))


# A municipality's letters for its records system ----------------------------------------------


@dataclass(frozen=True)
class LettersExport:
    """What ``export_letters`` wrote: the letters' ids, the files and the manifest."""

    letter_ids: list[UUID]
    files: list[Path]
    manifest: Path


def export_letters(
    app: Any, source: Any, renderer: Renderer, municipality: str, since: date | None, folder: Path
) -> LettersExport:
    """Writes the municipality's letters (issued on or after ``since``) as PDF/A files, and
    ``manifest.csv``: reference, date, kind, recipient, file and SHA-256 of each."""
    folder.mkdir(parents=True, exist_ok=True)
    ids: list[UUID] = []
    files: list[Path] = []
    lines = io.StringIO()
    writer = csv.writer(lines, lineterminator="\r\n")
    writer.writerow(MANIFEST_COLUMNS)
    for row in letters_model.letters_of(source, municipality, since=since):
        letter = app.repository.get(UUID(row["letter_id"]))
        if not isinstance(letter, Letter):
            continue
        data = LetterData.of(letter)
        pdf = renderer.letter(data)
        path = folder / data.file_name
        path.write_bytes(pdf)
        name, _ = data.recipient()
        writer.writerow(
            (
                data.reference,
                data.date.isoformat(),
                data.kind,
                name,
                path.name,
                hashlib.sha256(pdf).hexdigest(),
            )
        )
        ids.append(letter.id)
        files.append(path)
    manifest = folder / "manifest.csv"
    manifest.write_text(lines.getvalue(), encoding="utf-8")
    return LettersExport(ids, files, manifest)
