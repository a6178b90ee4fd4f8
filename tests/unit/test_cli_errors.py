"""The command line answers bad input with one line and exit code 2, a broken store with one line, never a traceback."""

from __future__ import annotations

import pytest

from api.cli.main import main


def one_line(text: str) -> str:
    lines = [line for line in text.splitlines() if line.strip()]
    assert len(lines) == 1, text
    return lines[0]


def test_an_unknown_command_is_one_line_and_exit_2(capsys):
    with pytest.raises(SystemExit) as caught:
        main(["no-such-command"])
    assert caught.value.code == 2
    assert "invalid choice" in one_line(capsys.readouterr().err)


def test_a_bad_setting_names_the_setting(capsys, monkeypatch):
    monkeypatch.setenv("SETTLEMENT_SETTLEMENT_CUTOFF", "not-a-date")
    assert main(["projections", "status"]) == 2
    assert one_line(capsys.readouterr().err).startswith("settlement: settlement_cutoff:")


def test_an_unreachable_store_is_one_line_without_its_parameters(capsys):
    code = main(["projections", "--database-url", "postgresql://nobody@127.0.0.1:1/none", "status"])
    assert code == 1
    assert "could not be used" in one_line(capsys.readouterr().err)


def test_every_command_is_listed_with_the_module_that_registers_it():
    """A command imports only its own module (``COMMANDS``): each command there must be one its
    module registers, and every registered command must be there."""
    import argparse

    from api.cli import main as cli

    def registered(modules):
        parser = argparse.ArgumentParser()
        subparsers = parser.add_subparsers()
        for name in modules:
            __import__(name, fromlist=["register"]).register(subparsers)
        return set(subparsers.choices)

    assert registered(cli.COMMAND_MODULES) == set(cli.COMMANDS)
    for command, module in cli.COMMANDS.items():
        assert command in registered([module]), command
        assert command in cli.build_parser([command])._subparsers._group_actions[0].choices
