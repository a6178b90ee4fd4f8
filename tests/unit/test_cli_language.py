"""The command line speaks bokmål to a caseworker unless asked for English (``--lang en``, SETTLEMENT_LANG)."""

from __future__ import annotations

from pathlib import Path

import pytest

from api.cli.main import main


@pytest.fixture
def default_language(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SETTLEMENT_LANG", raising=False)


def test_a_usage_error_is_in_bokmal_by_default_and_english_on_request(
    default_language: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    names = tmp_path / "names.csv"
    names.write_text("a,b\n1,2\n", "utf-8")
    assert main(["municipality", "names", str(names)]) == 2
    assert capsys.readouterr().err.strip() == (
        "settlement: names.csv: overskriften må ha en nummerkolonne "
        "(code/kommunenummer/kommune_nr/kommune_id/number) og en navnekolonne (name/navn/kommunenavn)"
    )
    assert main(["--lang", "en", "municipality", "names", str(names)]) == 2
    assert "the header needs a number column" in capsys.readouterr().err


def test_a_refusal_of_the_domain_is_in_bokmal(
    default_language: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"sqlite:///{tmp_path / 'store.db'}"
    assert main(["municipality", "rename", "--database-url", url, "0301", "   "]) == 2
    error = capsys.readouterr().err.strip()
    assert error == "settlement: Fant ikke kommune 0301."
    assert main(["municipality", "rename", "--database-url", url, "0301", "   ", "--lang=en"]) == 2
    assert capsys.readouterr().err.strip() == "settlement: No municipality 0301."


def test_lang_takes_only_a_language_and_never_the_next_word(capsys: pytest.CaptureFixture[str]) -> None:
    # `settlement --lang projections status` must not swallow the command: a usage error, exit code 2.
    for line in (["--lang", "projections", "status"], ["--lang", "de", "municipality", "--help"], ["--lang"]):
        with pytest.raises(SystemExit) as stopped:
            main(line)
        assert stopped.value.code == 2
        assert capsys.readouterr().err.strip().endswith("(see --help)")


def test_argparse_usage_errors_are_in_bokmal_by_default(
    default_language: None, capsys: pytest.CaptureFixture[str]
) -> None:
    # argparse writes English; its templates (api.messages) give the caseworker the same error in bokmål.
    cases = [
        (["import"], "settlement import: disse argumentene mangler: file (se --help)"),
        (["projections", "rebuild", "--bogus"], "settlement: ukjente argumenter: --bogus (se --help)"),
        (
            ["audit", "replay", "--by", "x", "--person", "1"],
            "settlement audit replay: argumentet --by: ugyldig valg: 'x' (velg blant 'recorded', 'business') (se --help)",
        ),
    ]
    for line, expected in cases:
        with pytest.raises(SystemExit) as stopped:
            main(line)
        assert stopped.value.code == 2
        assert capsys.readouterr().err.strip() == expected
    with pytest.raises(SystemExit):
        main(["--lang", "en", "import"])
    assert (
        capsys.readouterr().err.strip()
        == "settlement import: the following arguments are required: file (see --help)"
    )
