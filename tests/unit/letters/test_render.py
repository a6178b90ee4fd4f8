"""R9, R17: every kind of letter renders from the content its event fixed, to PDF/A-2b in bokmål;
the text read back names the recipient, the numbers, the persons and the dates, with æøå intact."""

from __future__ import annotations

from datetime import date

import pytest

from api.letters.render import LetterData, LetterRenderingError, Renderer, letter_text
from settlement_domain import commands as c
from settlement_domain.model import Letter
from tests.given import IMDI, OSLO, in_memory_app
from tests.given.letters import assert_pdf_a, letter_history, oslo_contact, pdf_text


@pytest.fixture(scope="module")
def rendered(tmp_path_factory):
    app = in_memory_app()
    history = letter_history(app)
    renderer = Renderer()
    tmp = tmp_path_factory.mktemp("letters")
    texts, pdfs = {}, {}
    for kind, letter_id in history.letters.items():
        data = LetterData.of(app.repository.get(letter_id))
        pdfs[kind] = renderer.letter(data)
        texts[kind] = " ".join(pdf_text(pdfs[kind], tmp).split())
    return app, history, texts, pdfs


def test_every_kind_is_pdf_a_2b_with_its_fonts_embedded(rendered):
    _, _, _, pdfs = rendered
    assert set(pdfs) == {"request", "selection", "decision_municipality", "decision_person"}
    for pdf in pdfs.values():
        assert_pdf_a(pdf)


def test_the_request_letter_states_the_year_the_numbers_the_deadline_and_what_to_do(rendered):
    _, history, texts, _ = rendered
    text = texts["request"]
    for expected in (
        "Integrerings- og mangfoldsdirektoratet (IMDi)",
        "Oslo kommune",
        "Postboks 6999 St. Olavs plass",
        "0130 Oslo",
        "Anmodning om bosetting av flyktninger i 2025",
        "anmoder Oslo kommune om å bosette 12 personer i 2025, av disse 3 enslige mindreårige",
        "Svarfrist 11. august 2025",  # the date (16 June) plus eight weeks
        "Dato: 16. juni 2025",
        f"Vår referanse: 2025/{history.letters['request'].hex[:8].upper()}",
        "registrere kommunestyrets vedtak",
    ):
        assert expected in text, expected


def test_the_selection_letter_names_the_selected_persons_with_æøå_intact(rendered):
    _, _, texts, _ = rendered
    text = texts["selection"]
    for expected in (
        "Bekreftelse på utsøking av personer til bosetting i 2025",
        "Oslo kommune har sagt ja til å bosette disse personene i 2025",
        "Åse Øvrebø Ærø 30. april 1988",
        "Bjørn Håkonsen 1. mars 2009 enslig mindreårig",
        "Antall personer 2",
        "Herav enslige mindreårige 1",
    ):
        assert expected in text, expected


def test_the_decision_letters_go_to_the_municipality_and_to_the_person_at_her_address(rendered):
    _, _, texts, _ = rendered
    to_oslo, to_person = texts["decision_municipality"], texts["decision_person"]
    assert "Vedtak om bosetting i 2025" in to_oslo
    assert (
        "IMDi har vedtatt at Åse Øvrebø Ærø, født 30. april 1988, skal bosettes i Oslo kommune i 2025"
        in to_oslo
    )
    assert "registrerer bosettingsdatoen" in to_oslo
    assert "Åse Øvrebø Ærø Tøyengata 7 0578 Oslo" in to_person
    assert "Vedtak om bosettingskommune" in to_person
    assert "du skal bosettes i Oslo kommune. Vedtaket gjelder bosetting i 2025" in to_person
    assert "Vedtaksdato 16. juni 2025" in to_person


def test_content_is_fixed_when_issued_a_later_contact_change_does_not_alter_the_letter(rendered, tmp_path):
    app, history, texts, _ = rendered
    changed = oslo_contact()
    app.handle(
        OSLO,
        c.UpdateContact(
            "0301",
            type(changed)(
                "Ny Person",
                changed.email,
                changed.phone,
                changed.postal_address.__class__("Rådhuset", "0037", "Oslo", rule="registry"),
                changed.organisation_number,
            ),
        ),
    )
    again = Renderer().letter(LetterData.of(app.repository.get(history.letters["request"])))
    assert " ".join(pdf_text(again, tmp_path).split()) == texts["request"]
    assert letter_text(LetterData.of(app.repository.get(history.letters["request"])))["recipient"] == [
        "Oslo kommune",
        "Postboks 6999 St. Olavs plass",
        "0130 Oslo",
    ]


def test_a_revised_request_says_so_and_gives_its_reason(tmp_path):
    app = in_memory_app()
    letter_history(app)
    revised = app.handle(IMDI, c.RequestSettlement("0301", 2025, 15, 4, reason="Flere ankomster fra Ukraina"))
    letter = app.repository.get(revised.extra["letter_id"])
    assert isinstance(letter, Letter) and letter.content["revision"] == 1
    text = " ".join(pdf_text(Renderer().letter(LetterData.of(letter)), tmp_path).split())
    assert "Revidert anmodning om bosetting av flyktninger i 2025" in text
    assert "Begrunnelse: Flere ankomster fra Ukraina" in text
    assert "15 personer i 2025, av disse 4 enslige mindreårige" in text


def test_a_missing_font_is_named_plainly(tmp_path):
    app = in_memory_app()
    history = letter_history(app)
    with pytest.raises(LetterRenderingError, match="fonts-dejavu-core"):
        Renderer(tmp_path).letter(LetterData.of(app.repository.get(history.letters["request"])))


def test_the_letter_date_is_the_day_it_was_issued():
    app = in_memory_app()
    history = letter_history(app)
    assert LetterData.of(app.repository.get(history.letters["selection"])).date == date(2025, 6, 16)
