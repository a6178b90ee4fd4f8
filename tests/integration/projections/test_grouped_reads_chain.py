"""R20 and the views over read records appended in groups (R6/R14): the chain links every record of a
group in log order, and every view (the audit trail's reads among them) equals a replay of the log."""

from __future__ import annotations

from uuid import UUID

from api.cli.main import main
from projections.engine.chain import verify_chain
from settlement_domain import commands as c
from settlement_domain.application import CommandResult, SettlementApp
from tests.given import IMDI, events_named
from tests.integration.domain.test_grouped_read_records import _held_first_group, _race
from tests.integration.projections.conftest import catch_up

READERS = 10


def test_records_of_a_group_are_chained_and_the_views_equal_a_replay(
    app: SettlementApp, engine, history, database_url, capsys
) -> None:
    people = [UUID(str(p)) for p in history.persons.values()]
    _held_first_group(app, READERS - 1)
    before = app.position()
    outcomes = _race(
        [
            lambda i=i: app.handle(IMDI, c.RecordFolderRead(people[i % len(people)]))
            for i in range(READERS - 2)
        ]
        + [
            lambda: app.handle(IMDI, c.RecordPersonalDataListed("GET /refugees", tuple(people)))
            for _ in range(2)
        ]
    )
    assert all(isinstance(o, CommandResult) for o in outcomes), outcomes
    assert app.read_records.groups == 2  # the first alone, then the other nine in one transaction
    assert len(events_named(app, "PersonFolderViewed", since=before)) == READERS - 2
    catch_up(app, engine)  # the runner advances the chain with its batches
    report = verify_chain(app, engine)
    assert report.intact and report.problems == 0 and report.unlinked == 0
    assert report.linked == report.log_events == app.position()
    assert main(["audit", "verify", "--database-url", database_url]) == 0, capsys.readouterr()
