"""Letters as PDF/A-2b in bokmål (R9, R17): one template per kind, the content fixed in the letter's event.

WeasyPrint lays the HTML out and writes PDF/A-2b itself: the fonts embedded (subset), XMP metadata
with the PDF/A identification, and an sRGB output intent. The font is DejaVu Sans (Debian's
``fonts-dejavu-core``), which has æ, ø and å; see docs/letters.md for why this library.
"""

from __future__ import annotations

import html
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any
from uuid import UUID

from settlement_domain.personal_keys import ERASED_NAME

DEFAULT_FONT_DIR = Path("/usr/share/fonts/truetype/dejavu")
FONT_FILES = {"normal": "DejaVuSans.ttf", "bold": "DejaVuSans-Bold.ttf"}
PDF_VARIANT = "pdf/a-2b"

# IMDi's sender block, as on its letters.
SENDER = (
    "Integrerings- og mangfoldsdirektoratet (IMDi)",
    "Postboks 8059 Dep",
    "0031 Oslo",
)
MONTHS = (
    "januar", "februar", "mars", "april", "mai", "juni",
    "juli", "august", "september", "oktober", "november", "desember",
)  # fmt: skip
KIND_TITLES = {
    "request": "Anmodning om bosetting av flyktninger",
    "selection": "Bekreftelse på utsøking av personer til bosetting",
    "decision_municipality": "Vedtak om bosetting",
    "decision_person": "Vedtak om bosettingskommune",
}
KIND_NAMES = {
    "request": "anmodningsbrev",
    "selection": "utsøkingsbrev",
    "decision_municipality": "vedtaksbrev til kommunen",
    "decision_person": "vedtaksbrev til personen",
}


class LetterRenderingError(RuntimeError):
    """A letter cannot be rendered here (the font is missing): an operator's problem, named plainly."""


@dataclass(frozen=True)
class LetterData:
    """What a letter says, as its events fixed it (``LetterIssued``'s content and personal part)."""

    letter_id: UUID
    kind: str
    municipality: str
    year: int | None
    person_ids: list[UUID]
    content: Mapping[str, Any]
    personal: Mapping[str, Any]
    issued_at: datetime

    @classmethod
    def of(cls, letter: Any) -> LetterData:
        """From the ``Letter`` aggregate."""
        return cls(
            letter_id=letter.id,
            kind=letter.kind,
            municipality=letter.municipality,
            year=letter.year,
            person_ids=list(letter.person_ids),
            content=dict(letter.content or {}),
            personal=dict(letter.personal or {}),
            issued_at=letter.created_on,
        )

    @property
    def date(self) -> date:
        value = self.content.get("date")
        if isinstance(value, str):
            return date.fromisoformat(value)
        return value or self.issued_at.date()

    @property
    def reference(self) -> str:
        return self.content.get("reference") or f"{self.date.year}/{self.letter_id.hex[:8].upper()}"

    @property
    def title(self) -> str:
        title = KIND_TITLES[self.kind]
        if self.kind == "request" and self.content.get("revision"):
            title = "Revidert " + title[0].lower() + title[1:]
        return f"{title} i {self.year}" if self.year and self.kind != "decision_person" else title

    @property
    def municipality_name(self) -> str:
        return self.content.get("municipality_name") or self.municipality

    @property
    def persons(self) -> list[Mapping[str, Any]]:
        """The persons the letter names; an erased person (R18) reads ``slettet``, without a birth date."""
        return [
            {**p, "full_name": ERASED_NAME, "birth_date": None} if p.get("erased") else p
            for p in self.personal.get("persons") or []
        ]

    def recipient(self) -> tuple[str, list[str]]:
        """The addressee's name and address lines as the letter fixed them."""
        if self.kind == "decision_person":
            recipient = self.personal.get("recipient") or {}
            name = ERASED_NAME if recipient.get("erased") else recipient.get("name") or "Mottaker"
        else:
            recipient = self.content.get("recipient") or {}
            name = recipient.get("name") or f"{self.municipality_name} kommune"
        return name, address_lines(recipient.get("postal_address"))

    @property
    def file_name(self) -> str:
        """The letter's file name in exports and shipments: its reference and kind."""
        return f"{self.reference.replace('/', '-')}-{self.kind}.pdf"


def address_lines(address: Mapping[str, Any] | None) -> list[str]:
    if not address:
        return []
    return [
        str(address.get("street", "")),
        f"{address.get('postal_code', '')} {address.get('city', '')}".strip(),
    ]


def long_date(value: date | str | None) -> str:
    """``16. juni 2025``."""
    if value is None:
        return ""
    if isinstance(value, str):
        value = date.fromisoformat(value[:10])
    return f"{value.day}. {MONTHS[value.month - 1]} {value.year}"


def persons_word(n: int) -> str:
    return "1 person" if n == 1 else f"{n} personer"


# The body of each kind: (facts as label/value rows, paragraphs, what the recipient must do) ------


def _paragraphs(letter: LetterData) -> tuple[list[tuple[str, str]], list[str], list[str]]:
    c, name = letter.content, f"{letter.municipality_name} kommune"
    year = letter.year
    if letter.kind == "request":
        persons, minors = c.get("persons"), c.get("unaccompanied_minors")
        facts = [("Bosettingsår", str(year))]
        if persons is not None:
            facts += [("Antall personer", str(persons)), ("Herav enslige mindreårige", str(minors or 0))]
        if c.get("reply_by"):
            facts.append(("Svarfrist", long_date(c["reply_by"])))
        text = [
            f"Integrerings- og mangfoldsdirektoratet (IMDi) anmoder {name} om å bosette "
            + (
                f"{persons_word(persons)} i {year}, av disse {minors or 0} enslige mindreårige."
                if persons is not None
                else f"flyktninger i {year}."
            )
        ]
        if c.get("revision"):
            text.append("Denne anmodningen erstatter den forrige anmodningen for samme år.")
            if c.get("reason"):
                text.append(f"Begrunnelse: {c['reason']}")
        todo = [
            "Kommunen bes behandle anmodningen og registrere kommunestyrets vedtak om hvor mange personer "
            "kommunen vil bosette, og hvor mange av dem som kan være enslige mindreårige, i bosettingstjenesten"
            + (f" innen {long_date(c['reply_by'])}." if c.get("reply_by") else "."),
        ]
        return facts, text, todo
    if letter.kind == "selection":
        persons = letter.persons
        minors = c.get("minors", sum(1 for p in persons if p.get("unaccompanied_minor")))
        facts = [
            ("Bosettingsår", str(year)),
            ("Antall personer", str(len(persons) or len(letter.person_ids))),
        ]
        facts.append(("Herav enslige mindreårige", str(minors)))
        if c.get("selected_on"):
            facts.append(("Sagt ja", long_date(c["selected_on"])))
        text = [f"{name} har sagt ja til å bosette disse personene i {year}:"]
        todo = [
            "Personmappene er nå tilgjengelige for kommunen i bosettingstjenesten. IMDi fatter vedtak om "
            "bosetting for hver person, og kommunen får et eget vedtaksbrev for hver av dem.",
            "Når en person har flyttet til kommunen, registrerer kommunen bosettingsdatoen i tjenesten.",
        ]
        return facts, text, todo
    person = letter.persons[0] if letter.persons else {}
    who = person.get("full_name") or "personen"
    born = f", født {long_date(person['birth_date'])}," if person.get("birth_date") else ""
    facts = [("Bosettingskommune", name), ("Bosettingsår", str(year))]
    if c.get("decided_on"):
        facts.append(("Vedtaksdato", long_date(c["decided_on"])))
    if letter.kind == "decision_municipality":
        text = [f"IMDi har vedtatt at {who}{born} skal bosettes i {name} i {year}."]
        if c.get("over_quota"):
            text.append("Vedtaket går utover det antallet kommunen har vedtatt å bosette.")
        todo = [
            "Kommunen tar imot personen og registrerer bosettingsdatoen i bosettingstjenesten når personen "
            "har flyttet til kommunen.",
        ]
        return facts, text, todo
    text = [f"IMDi har vedtatt at du skal bosettes i {name}. Vedtaket gjelder bosetting i {year}."]
    todo = [
        "Kommunen tar kontakt med deg om bolig og flytting. Du trenger ikke gjøre noe nå.",
        "Har du spørsmål, kan du kontakte mottaket du bor på eller kommunen.",
    ]
    return facts, text, todo


def letter_text(letter: LetterData) -> dict[str, Any]:
    """The letter's words, structured (the JSON form of the case file shows it this way)."""
    facts, text, todo = _paragraphs(letter)
    name, lines = letter.recipient()
    return {
        "title": letter.title,
        "date": long_date(letter.date),
        "reference": letter.reference,
        "recipient": [name, *lines],
        "facts": [{"label": k, "value": v} for k, v in facts],
        "paragraphs": text,
        "persons": [
            {"full_name": p.get("full_name"), "birth_date": _iso(p.get("birth_date"))} for p in letter.persons
        ]
        if letter.kind == "selection"
        else [],
        "what_to_do": todo,
    }


def _iso(value: Any) -> str | None:
    return value.isoformat() if isinstance(value, date) else value


# HTML -----------------------------------------------------------------------------------------


def _e(value: Any) -> str:
    return html.escape(str(value))


def _block(lines: Iterable[str]) -> str:
    return "<br>".join(_e(line) for line in lines if line)


STYLE = """
@page { size: A4; margin: 20mm 20mm 22mm 25mm;
        @bottom-right { content: "Side " counter(page) " av " counter(pages); font-family: Brev; font-size: 8pt; } }
html, body { font-family: Brev; font-size: 10.5pt; line-height: 1.4; color: #000; }
.sender { font-size: 9pt; }
.head { display: flex; justify-content: space-between; margin-bottom: 14mm; }
.recipient { margin: 10mm 0 12mm 0; min-height: 25mm; }
.meta { font-size: 9pt; text-align: right; }
h1 { font-size: 15pt; font-weight: bold; margin: 0 0 6mm 0; }
h2 { font-size: 11pt; font-weight: bold; margin: 6mm 0 2mm 0; }
table { border-collapse: collapse; margin: 3mm 0; }
td, th { border-bottom: 0.5pt solid #999; padding: 1.2mm 4mm 1.2mm 0; text-align: left; vertical-align: top; }
th { font-weight: bold; }
.sheet { page-break-after: always; padding-top: 40mm; }
.sheet .to { font-size: 14pt; margin: 10mm 0; }
.small { font-size: 8.5pt; }
.event td { font-size: 9pt; }
"""


def _font_faces(font_dir: Path) -> str:
    faces = []
    for weight, file_name in FONT_FILES.items():
        path = font_dir / file_name
        if not path.is_file():
            raise LetterRenderingError(
                f"The letter font {path} is missing: install Debian's fonts-dejavu-core "
                "or set SETTLEMENT_LETTER_FONT_DIR to a folder with DejaVuSans.ttf and DejaVuSans-Bold.ttf."
            )
        faces.append(
            f"@font-face {{ font-family: Brev; src: url('{path.as_uri()}'); font-weight: {weight}; }}"
        )
    return "\n".join(faces)


def letter_body(letter: LetterData) -> str:
    """The letter's HTML (without the page frame)."""
    facts, text, todo = _paragraphs(letter)
    name, lines = letter.recipient()
    rows = "".join(f"<tr><th>{_e(k)}</th><td>{_e(v)}</td></tr>" for k, v in facts)
    persons = ""
    if letter.kind == "selection" and letter.persons:
        persons = (
            "<table><tr><th>Navn</th><th>Fødselsdato</th><th></th></tr>"
            + "".join(
                f"<tr><td>{_e(p.get('full_name') or '')}</td><td>{_e(long_date(p.get('birth_date')))}</td>"
                f"<td>{'enslig mindreårig' if p.get('unaccompanied_minor') else ''}</td></tr>"
                for p in letter.persons
            )
            + "</table>"
        )
    return (
        f'<div class="head"><div class="sender">{_block(SENDER)}</div>'
        f'<div class="meta">Dato: {_e(long_date(letter.date))}<br>Vår referanse: {_e(letter.reference)}</div></div>'
        f'<div class="recipient">{_block([name, *lines])}</div>'
        f"<h1>{_e(letter.title)}</h1>"
        + "".join(f"<p>{_e(p)}</p>" for p in text)
        + persons
        + f"<table>{rows}</table>"
        + "<h2>Dette må mottakeren gjøre</h2>"
        + "".join(f"<p>{_e(p)}</p>" for p in todo)
        + "<p>Med hilsen<br>Integrerings- og mangfoldsdirektoratet</p>"
        + '<p class="small">Brevet er sendt elektronisk og har derfor ingen håndskrevet signatur.</p>'
    )


def address_sheet(name: str, lines: list[str], reference: str) -> str:
    """The sheet in front of a paper letter: the recipient as it stands today, for the window envelope."""
    return (
        f'<div class="sheet"><div class="sender">{_block(SENDER)}</div>'
        f'<div class="to">{_block([name, *lines])}</div>'
        f'<p class="small">Adresseark for brev {_e(reference)}</p></div>'
    )


@dataclass
class Renderer:
    """Renders letters and case files to PDF/A-2b with the configured font."""

    font_dir: Path = DEFAULT_FONT_DIR
    _faces: str | None = field(default=None, init=False, repr=False)

    def document(self, title: str, body: str) -> bytes:
        """One HTML document as PDF/A-2b bytes."""
        import weasyprint  # type: ignore[import-untyped]  # imported on first use: loading it (and Pango) costs a moment

        if self._faces is None:
            self._faces = _font_faces(self.font_dir)
        page = (
            f'<!DOCTYPE html><html lang="nb"><head><meta charset="utf-8"><title>{_e(title)}</title>'
            f'<meta name="author" content="IMDi"><style>{self._faces}{STYLE}</style></head>'
            f"<body>{body}</body></html>"
        )
        return weasyprint.HTML(string=page).write_pdf(pdf_variant=PDF_VARIANT)

    def letter(self, letter: LetterData, sheet: tuple[str, list[str]] | None = None) -> bytes:
        """The letter as PDF/A-2b; with ``sheet`` (name, address lines) an address sheet in front."""
        front = address_sheet(sheet[0], sheet[1], letter.reference) if sheet else ""
        return self.document(letter.title, front + letter_body(letter))
