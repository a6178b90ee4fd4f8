"""Given-steps for letters (R9, R17): a history that issues every kind of letter, a clock to move,
and reading a PDF back (``pdftotext`` from poppler-utils; the PDF/A markers from its streams)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import zlib
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from uuid import UUID

import pytest

from api.letters.channels import Channel, FileChannel, PaperChannel
from api.letters.outbox import Channels, Outbox
from api.letters.render import Renderer
from settlement_domain import commands as c
from settlement_domain.application import SettlementApp
from settlement_domain.values import ContactInformation, PostalAddress, Residence, ResidenceKind
from tests.given.actors import IMDI, OSLO, RECEPTION

SENT = datetime(2025, 6, 16, 9, 0, tzinfo=UTC)  # when the tests' outbox first ticks
OSLO_ORGNR = "974760673"
POSTMOTTAK = {"street": "Postboks 6999 St. Olavs plass", "postal_code": "0130", "city": "Oslo"}


def oslo_contact(organisation_number: str | None = OSLO_ORGNR) -> ContactInformation:
    return ContactInformation(
        "Åse Bjørnstad",
        "postmottak@oslo.kommune.no",
        "+47 21 80 21 80",
        PostalAddress(**POSTMOTTAK, rule="registry"),
        organisation_number,
    )


@dataclass
class LetterHistory:
    """Oslo (with contact and organisation number) and Bergen (without either); a request, a
    selection of two persons (one an unaccompanied minor) and a decision: every kind of letter."""

    letters: dict[str, UUID] = field(default_factory=dict)
    persons: dict[str, UUID] = field(default_factory=dict)


def letter_history(app: SettlementApp, *, bergen_request: bool = False) -> LetterHistory:
    h = LetterHistory()
    app.handle(IMDI, c.RegisterMunicipality("0301", "Oslo", "Oslo"))
    app.handle(IMDI, c.RegisterMunicipality("4601", "Bergen", "Vestland"))
    app.handle(OSLO, c.UpdateContact("0301", oslo_contact()))
    h.letters["request"] = UUID(app.handle(IMDI, c.RequestSettlement("0301", 2025, 12, 3)).extra["letter_id"])
    app.handle(OSLO, c.DecideQuota("0301", 2025, 10, 2, date(2025, 3, 1)))
    for key, name, born, minor in (
        ("åse", "Åse Øvrebø Ærø", date(1988, 4, 30), False),
        ("minor", "Bjørn Håkonsen", date(2009, 3, 1), True),
    ):
        registered = app.handle(
            RECEPTION,
            c.RegisterRefugee(
                full_name=name,
                birth_date=born,
                family_id=None,
                unaccompanied_minor=minor,
                residence=Residence(ResidenceKind.PRIVATE),
                postal_address=PostalAddress("Tøyengata 7", "0578", "Oslo"),
                category="asylum",
            ),
        )
        h.persons[key] = UUID(registered.id)
    ids = (h.persons["åse"], h.persons["minor"])
    list_id = app.handle(IMDI, c.CreateDistributionList("0301", ids, date(2025, 7, 1), 2025)).id
    approved = app.handle(OSLO, c.ApproveDistributionList(UUID(list_id), ids))
    h.letters["selection"] = UUID(approved.extra["letter_id"])
    to_oslo, to_person = app.handle(IMDI, c.DecideSettlement(h.persons["åse"], "0301", 2025)).extra[
        "letter_ids"
    ]
    h.letters["decision_municipality"], h.letters["decision_person"] = UUID(to_oslo), UUID(to_person)
    if bergen_request:
        h.letters["bergen"] = UUID(
            app.handle(IMDI, c.RequestSettlement("4601", 2025, 5, 0)).extra["letter_id"]
        )
    return h


class Clock:
    """The outbox's clock: stands still until moved."""

    def __init__(self, now: datetime = SENT) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def at(self, hours: float = 0, minutes: float = 0) -> datetime:
        """``hours`` and ``minutes`` after SENT."""
        self.now = SENT + timedelta(hours=hours, minutes=minutes)
        return self.now


def outbox_for(
    app: SettlementApp,
    engine,
    root: Path,
    clock: Clock,
    digital: Channel | None = None,
    *,
    locked: bool = True,
) -> Outbox:
    """An outbox on the test's store with the file channel (or ``digital``) and a print folder."""
    files = FileChannel(root / "outbox")
    channels = Channels(digital or files, PaperChannel(root / "print"), {"file": files})
    return Outbox(
        app,
        engine,
        channels,
        Renderer(),
        clock=clock,
        lock_path=(root / "outbox" / ".outbox.lock") if locked else None,
        jitter=lambda: 0.5,
    )


# Reading PDFs back ------------------------------------------------------------------------------


def pdftotext() -> str:
    """The path of pdftotext; skipped where poppler-utils is missing, except in CI (which installs it)."""
    found = shutil.which("pdftotext")
    if found is None:
        if os.environ.get("CI"):
            pytest.fail("pdftotext is missing: .ci/run installs poppler-utils")
        pytest.skip("pdftotext (poppler-utils) is not installed")
    return found


def pdf_text(pdf: bytes, tmp_path: Path) -> str:
    path = tmp_path / f"read-{len(pdf)}-{zlib.crc32(pdf)}.pdf"
    path.write_bytes(pdf)
    return subprocess.run(
        [pdftotext(), "-enc", "UTF-8", str(path), "-"], capture_output=True, text=True, check=True
    ).stdout


def pdf_structure(pdf: bytes) -> bytes:
    """The PDF's bytes with every Flate stream unpacked (object streams hide the catalogue's keys)."""
    parts = [pdf]
    for match in re.finditer(rb"stream\r?\n(.*?)\r?\nendstream", pdf, re.S):
        try:
            parts.append(zlib.decompress(match.group(1)))
        except zlib.error:
            continue
    return b"\n".join(parts)


def assert_pdf_a(pdf: bytes) -> None:
    """PDF/A-2b's markers: the identification in XMP, an output intent with its ICC profile, and
    every font embedded."""
    assert pdf.startswith(b"%PDF-")
    structure = pdf_structure(pdf)
    assert re.search(rb'pdfaid:part(="|>)2', structure), "no PDF/A part 2 identification in the XMP metadata"
    assert re.search(rb'pdfaid:conformance(="|>)B', structure), "no conformance level B in the XMP metadata"
    assert b"/OutputIntents" in structure and b"/GTS_PDFA1" in structure, "no PDF/A output intent"
    assert b"/DestOutputProfile" in structure, "the output intent has no ICC profile"
    fonts = len(re.findall(rb"/Type\s*/FontDescriptor", structure))
    embedded = structure.count(b"/FontFile2")
    assert fonts > 0 and embedded == fonts, f"{fonts} fonts, {embedded} embedded"
