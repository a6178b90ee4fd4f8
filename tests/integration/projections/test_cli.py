"""``settlement projections run|rebuild|status`` on a store with a small history."""

from __future__ import annotations

import json

from api.cli.main import main


def test_run_once_then_rebuild_all_then_status_show_every_projection_caught_up(
    app, history, database_url, capsys
):
    assert main(["projections", "--database-url", database_url, "run", "--once"]) == 0
    assert main(["projections", "--database-url", database_url, "rebuild", "--all", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["equal"] is True and report["events"] == app.position()
    assert {p["name"] for p in report["projections"]} >= {"places", "audit_trail", "person_folders"}
    assert main(["projections", "--database-url", database_url, "status", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert {(r["generation"], r["position"], r["lag"]) for r in rows} == {(2, app.position(), 0)}


def test_rebuild_needs_names_or_all_and_refuses_unknown_projections(database_url, capsys):
    assert main(["projections", "--database-url", database_url, "rebuild"]) == 2
    assert main(["projections", "--database-url", database_url, "rebuild", "nonsense"]) == 2
    assert "Unknown projections: nonsense" in capsys.readouterr().err
