"""Importing IMDi's statistics over HTTP (R15): upload, follow the import, read its figures, list the imports."""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from settlement_domain.context import Role
from tests.e2e.conftest import IMDI, MUNICIPALITY, OSLO, Api, auth, problem

DATA = Path(__file__).resolve().parents[1] / "data" / "imdi"
HEADER = '"aar","fylke_nr","bosetting","enhet","tabellvariabel","tabell_navn","kommune_nr"\n'
GOOD_ROW = '"2014","NULL","vedtak","personer","12","t","0301"\n'
BAD_ROW = '"2013","NULL","bosatt","personer","7.5","t","0301"\n'
SMALL_FILE = (HEADER + GOOD_ROW).encode()
WAIT_SECONDS = 30.0


def upload(
    api: Api,
    content: bytes,
    file_name: str = "upload.csv",
    role: Role = IMDI,
    municipality: str | None = None,
    **options: Any,
) -> httpx.Response:
    """A multipart upload with the options as form fields."""
    fields = {k: str(v).lower() if isinstance(v, bool) else v for k, v in options.items()}
    return api.request(
        "POST", "/imports", role, municipality, files={"file": (file_name, content, "text/csv")}, data=fields
    )


def post_csv(api: Api, content: bytes, **params: Any) -> httpx.Response:
    """The file itself as the body (text/csv), the options as query parameters."""
    return api.request(
        "POST", "/imports", IMDI, content=content, headers={"Content-Type": "text/csv"}, params=params
    )


def observe(api: Api, path: str, **params: Any) -> httpx.Response:
    """A read as IMDi that does not ask to see the test's own writes (no ``min_position``): what the
    service answers now, as a watcher of an import sees it."""
    return api.client.get("/api/v1" + path, headers=auth(IMDI), params=params)


def finished(api: Api, import_id: str, timeout: float = WAIT_SECONDS) -> dict[str, Any]:
    """The import once it is no longer running (a bounded wait)."""
    deadline = time.monotonic() + timeout
    while True:
        found = api.ok(observe(api, f"/imports/{import_id}"))
        if found["state"] != "running":
            return found
        assert time.monotonic() < deadline, f"the import is still running after {timeout} s: {found}"
        time.sleep(0.05)


def started(response: httpx.Response) -> dict[str, Any]:
    assert response.status_code == 202, f"{response.status_code}: {response.text}"
    body = response.json()
    assert response.headers["Location"] == f"/api/v1/imports/{body['id']}"
    return body


def read_once_level(api: Api, path: str, position: int, timeout: float = WAIT_SECONDS, **params: Any) -> Any:
    """A read of the read models at ``position`` or later: the API waits 2 s and then answers 503
    (stale read); a client asks again. A loaded machine folds thousands of imported events slower."""
    deadline = time.monotonic() + timeout
    while True:
        response = api.get(path, IMDI, params={**params, "min_position": position})
        if response.status_code != 503 or time.monotonic() > deadline:
            return api.ok(response)


def written_meanwhile(api: Api, name: str) -> str:
    """A registration made while an import is being recorded: on SQLite the import's transaction may
    hold the store's one writer lock longer than a write waits, which answers 503 with Retry-After
    (Busy); a client asks again, as the contract tells it to."""
    from tests.e2e.story import register_refugee

    deadline = time.monotonic() + WAIT_SECONDS
    while True:
        try:
            return register_refugee(api, name)
        except AssertionError as refused:
            if not str(refused).startswith("503") or time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def imported(api: Api, content: bytes, **options: Any) -> dict[str, Any]:
    """Uploads ``content`` and waits for its import to finish."""
    return finished(api, started(upload(api, content, **options))["id"])


def test_an_uploaded_file_is_imported_in_the_background_and_its_figures_are_read(api: Api) -> None:
    content = (DATA / "bosatt_vedtak.csv").read_bytes()
    answer = started(upload(api, content, "bosatt_vedtak.csv"))
    assert answer["state"] in ("running", "imported") and answer["file_name"] == "bosatt_vedtak.csv"
    assert len(answer["checksum"]) == 64
    done = finished(api, answer["id"])
    assert done["state"] == "imported", done
    report = done["report"]
    assert report["imported"] and report["recorded"] > 3000 and not report["bad_rows"]
    assert report["position"] > 0 and done["position"] == report["position"]
    assert OSLO in report["municipalities_registered"]

    places = read_once_level(api, f"/municipalities/{OSLO}/places", report["position"], year=2013)
    assert places["persons"]["requested"] == 490 and places["persons"]["decided"] == 450
    assert places["historical"] == {"request": True, "decision": True, "settled": 468}

    # The same file again: answered at once, nothing appended.
    position = api.app.state.settlement.position()
    again = upload(api, content, "another-name.csv")
    assert again.status_code == 200, again.text
    assert again.json()["state"] == "already_imported" and again.json()["id"] == answer["id"]
    assert api.app.state.settlement.position() == position
    # The import is still found, with its report, and in the list once.
    assert api.ok(api.get(f"/imports/{answer['id']}", IMDI))["state"] == "imported"
    listed = api.ok(api.get("/imports", IMDI, params={"min_position": report["position"]}))
    assert [i["id"] for i in listed] == [answer["id"]]
    assert listed[0]["recorded"] == report["recorded"] and listed[0]["recorded_at"]


def test_a_raw_csv_body_imports_with_its_options_in_the_query(api: Api) -> None:
    dry = finished(api, started(post_csv(api, SMALL_FILE, file_name="small.csv", dry_run="true"))["id"])
    assert dry["state"] == "validated" and dry["report"]["recorded"] == 1 and dry["report"]["position"] == 0
    assert dry["file_name"] == "small.csv"
    done = finished(api, started(post_csv(api, SMALL_FILE, file_name="small.csv"))["id"])
    assert done["state"] == "imported" and done["report"]["recorded"] == 1
    places = api.ok(
        api.get(
            f"/municipalities/{OSLO}/places", IMDI, params={"year": 2014, "min_position": done["position"]}
        )
    )
    assert places["persons"]["decided"] == 12


def test_a_file_with_a_bad_row_is_refused_unless_the_good_rows_are_asked_for(api: Api) -> None:
    content = (HEADER + GOOD_ROW + BAD_ROW).encode()
    position = api.app.state.settlement.position()
    refused = imported(api, content)
    assert refused["state"] == "refused" and refused["report"]["refused"]
    assert refused["report"]["bad_rows"] == [
        {"line": 3, "reason": "the figure '7.5' is not a whole number of persons"}
    ]
    assert "1 bad rows" in refused["message"] and "skip_invalid=true" in refused["message"]
    assert api.app.state.settlement.position() == position  # nothing stored

    skipped = imported(api, content, skip_invalid=True)
    assert skipped["id"] == refused["id"] and skipped["state"] == "imported"
    assert skipped["report"]["recorded"] == 1 and skipped["skipped"] == 1


def test_a_file_in_another_format_is_refused_with_the_reason(api: Api) -> None:
    refused = imported(api, b"a,b\n1,2\n")
    assert refused["state"] == "refused" and "header" in refused["message"] and refused["report"] is None


def test_the_same_file_posted_twice_at_once_is_imported_once(api: Api) -> None:
    first, second = upload(api, SMALL_FILE), upload(api, SMALL_FILE)
    assert first.status_code == 202 and second.status_code in (200, 202), second.text
    assert first.json()["id"] == second.json()["id"]
    done = finished(api, first.json()["id"])
    assert done["state"] == "imported" and done["report"]["recorded"] == 1
    listed = api.ok(api.get("/imports", IMDI, params={"min_position": done["position"]}))
    assert [i["id"] for i in listed] == [done["id"]]


def test_imports_are_listed_newest_first_with_their_states(api: Api) -> None:
    first = imported(api, SMALL_FILE)
    refused = imported(api, (HEADER + BAD_ROW).encode())
    second = imported(api, (HEADER + '"2015","NULL","vedtak","personer","3","t","0301"\n').encode())
    listed = api.ok(api.get("/imports", IMDI, params={"min_position": second["position"]}))
    assert [(i["id"], i["state"]) for i in listed] == [
        (second["id"], "imported"),
        (refused["id"], "refused"),
        (first["id"], "imported"),
    ]


def test_only_imdi_imports_and_reads_the_imports(api: Api) -> None:
    problem(upload(api, SMALL_FILE, role=MUNICIPALITY, municipality=OSLO), 403, rule="R15")
    problem(api.get("/imports", MUNICIPALITY, OSLO), 403)
    problem(api.get(f"/imports/{uuid.uuid4()}", Role.AUDITOR), 403)
    assert api.ok(api.get("/imports", IMDI)) == []


def test_a_body_that_is_no_file_is_refused(api: Api) -> None:
    body = problem(api.post("/imports", {"file": "x"}, IMDI), 415)
    assert body["errors"][0]["field"] == "Content-Type"
    problem(api.request("POST", "/imports", IMDI), 415)
    empty = problem(upload(api, b""), 422)
    assert [e["field"] for e in empty["errors"]] == ["file"]
    assert [e["field"] for e in problem(post_csv(api, b""), 422)["errors"]] == ["file"]
    assert [e["field"] for e in problem(upload(api, SMALL_FILE, dry_run="maybe"), 422)["errors"]] == [
        "dry_run"
    ]
    assert [e["field"] for e in problem(upload(api, SMALL_FILE, revise=" "), 422)["errors"]] == ["revise"]
    assert [e["field"] for e in problem(upload(api, SMALL_FILE, other="x"), 422)["errors"]] == ["other"]
    assert api.ok(api.get("/imports", IMDI)) == []


def test_an_unknown_import_is_404(api: Api) -> None:
    problem(api.get(f"/imports/{uuid.uuid4()}", IMDI), 404)
    problem(api.get("/imports/not-an-id", IMDI), 404)


def test_an_unexpected_error_fails_the_import_and_logs_only_its_type(
    api: Api, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(*args: Any, **kwargs: Any) -> None:
        raise ValueError("Kari Nordmann, born 1990-01-01")  # a message that could quote personal data

    monkeypatch.setattr("api.http.controllers.imports.import_file", broken)
    failed = imported(api, SMALL_FILE)
    assert failed["state"] == "failed" and failed["report"] is None and "Kari" not in failed["message"]
    assert "ValueError" in caplog.text and "Kari" not in caplog.text
    assert [i["state"] for i in api.ok(api.get("/imports", IMDI))] == ["failed"]


def test_reads_keep_answering_while_an_import_is_recorded_and_folded_and_writes_made_meanwhile_count(
    api: Api, database_url: str
) -> None:
    from api.cli.main import main
    from tests.e2e.story import request_and_decide, two_municipalities

    two_municipalities(api)
    request_and_decide(api, OSLO, persons=5, minors=1)
    job = started(upload(api, (DATA / "bosetting.csv").read_bytes(), "bosetting.csv"))
    statuses: list[int] = []
    written: list[str] = []
    rounds_while_running = 0
    deadline = time.monotonic() + 4 * WAIT_SECONDS  # a busy machine records and folds slowly
    while True:
        state = api.ok(observe(api, f"/imports/{job['id']}"))["state"]
        rounds_while_running += state == "running"
        for path, params in (
            (f"/municipalities/{OSLO}/places", {"year": 2025}),
            ("/reports/national", {"year": 2013}),
            ("/audit/events", {"limit": 5}),
        ):
            statuses.append(observe(api, path, **params).status_code)
        written.append(written_meanwhile(api, f"Written During {len(written)}"))
        if state != "running" and len(written) >= 3:
            break
        assert time.monotonic() < deadline
    done = finished(api, job["id"])
    assert done["state"] == "imported", done
    assert set(statuses) == {200}, statuses
    assert rounds_while_running >= 1  # reads and writes did happen while the import ran
    # The figures and every write made meanwhile are in the read models; they equal a replay of the log.
    position = max(done["position"], api.position)
    places = read_once_level(api, f"/municipalities/{OSLO}/places", position, year=2013)
    assert places["historical"]["request"] is True
    for person in written:
        assert read_once_level(api, f"/refugees/{person}", position)["refugee_id"] == person
    assert main(["audit", "verify", "--database-url", database_url]) == 0


def test_imports_waiting_their_turn_are_bounded_and_the_next_one_is_told_to_come_back(api: Api) -> None:
    from api.http.controllers.imports import MAX_UNFINISHED, ImportJobs

    api.app.state.imports = jobs = ImportJobs()
    with jobs._one_at_a_time:  # the import before takes its time: the next ones wait their turn
        waiting = [
            started(upload(api, (HEADER + f'"2014","NULL","vedtak","personer","{n}","t","0301"\n').encode()))
            for n in range(MAX_UNFINISHED)
        ]
        refused = problem(upload(api, SMALL_FILE), 503)
        assert "try again" in refused["detail"]
        assert upload(api, SMALL_FILE).headers["Retry-After"] == "10"
    states = [finished(api, job["id"])["state"] for job in waiting]
    assert states[0] == "imported" and set(states) <= {"imported", "refused"}
    again = started(upload(api, SMALL_FILE))  # room again
    assert finished(api, again["id"])["state"] in ("imported", "refused")


@pytest.mark.timeout(
    900
)  # 100,000 events recorded, folded and replayed: a minute unloaded, minutes on a busy machine
def test_a_person_level_history_of_100000_events_imports_while_the_api_serves(
    api: Api, database_url: str
) -> None:
    """R15 at scale: reads answer 200 all the time the history is recorded and folded, the person
    folders and places show it afterwards, and the read models equal a fresh replay of the log."""
    from api.bench.history_file import EVENTS_PER_PERSON, generate
    from api.cli.main import main
    from settlement_domain.handlers.history import person_id
    from tests.e2e.story import two_municipalities

    two_municipalities(api)
    history = generate(100_000 // EVENTS_PER_PERSON + 1, year=2022)
    before = api.app.state.settlement.position()
    job = started(
        api.request(
            "POST",
            "/imports",
            IMDI,
            content=history.content,
            headers={"Content-Type": "application/x-ndjson"},
        )
    )
    statuses: list[int] = []
    written: list[str] = []
    rounds_while_running = 0
    deadline = time.monotonic() + 600
    while observe(api, f"/imports/{job['id']}").json()["state"] == "running":
        rounds_while_running += 1
        for path, params in (
            (f"/municipalities/{OSLO}/places", {"year": 2022}),
            ("/reports/national", {"year": 2022}),
            ("/audit/events", {"limit": 5}),
        ):
            statuses.append(observe(api, path, **params).status_code)
        if len(written) < 3:
            written.append(written_meanwhile(api, f"Written During {len(written)}"))
        assert time.monotonic() < deadline
        time.sleep(0.2)
    done = finished(api, job["id"])
    assert done["state"] == "imported", done
    assert rounds_while_running >= 1 and len(statuses) >= 3  # reads did happen while it was recorded
    assert done["report"]["recorded"] == history.lines
    assert api.app.state.settlement.position() - before >= 100_000
    # The read models catch up while reads go on; then they hold the history and the writes made meanwhile.
    position = max(done["position"], api.position)
    while True:
        response = observe(api, f"/municipalities/{OSLO}/places", year=2022, min_position=position)
        statuses.append(response.status_code)
        if response.status_code == 200:
            break
        assert response.status_code == 503 and response.json()["type"].endswith("stale-read"), response.text
        statuses.pop()  # a stale read while the views fold is the contract's answer, not a failure
        assert time.monotonic() < deadline
    assert set(statuses) == {200}, sorted(set(statuses))
    places = response.json()
    assert places["persons"]["settled"] > 0
    folder = read_once_level(api, f"/refugees/{person_id('P0000000')}", position)
    assert folder["settlement_date"] is not None
    for person in written:
        assert read_once_level(api, f"/refugees/{person}", position)["refugee_id"] == person
    assert main(["audit", "verify", "--database-url", database_url]) == 0


def test_imdi_names_a_municipality_an_import_registered(api: Api) -> None:
    done = imported(api, SMALL_FILE)
    assert done["report"]["municipalities_registered"] == [OSLO]
    assert read_once_level(api, f"/municipalities/{OSLO}", done["position"])["name"] == f"kommune {OSLO}"
    assert api.ok(api.put(f"/municipalities/{OSLO}/name", {"name": "Oslo"}, IMDI))["renamed"] is True
    assert api.ok(api.get(f"/municipalities/{OSLO}", IMDI))["name"] == "Oslo"
    again = api.put(f"/municipalities/{OSLO}/name", {"name": "Oslo"}, IMDI)  # a retry: nothing recorded
    assert again.status_code == 201 and again.json()["renamed"] is False
    problem(
        api.put(f"/municipalities/{OSLO}/name", {"name": "Christiania"}, MUNICIPALITY, OSLO), 403, "registry"
    )
    problem(api.put("/municipalities/9999/name", {"name": "Ukjent"}, IMDI), 404)
    problem(api.put(f"/municipalities/{OSLO}/name", {"name": ""}, IMDI), 422)
    events = api.ok(api.get("/audit/events", IMDI, params={"type": "MunicipalityRenamed"}))
    assert [e["summary"] for e in events["items"]] == [
        f"Municipality {OSLO} renamed from kommune {OSLO} to Oslo"
    ]


def test_a_history_is_posted_as_json_lines_and_its_persons_are_read(api: Api) -> None:
    example = Path(__file__).resolve().parents[2] / "docs" / "examples" / "person-history.jsonl"
    job = started(
        api.request(
            "POST",
            "/imports",
            IMDI,
            content=example.read_bytes(),
            headers={"Content-Type": "application/x-ndjson"},
        )
    )
    done = finished(api, job["id"])
    assert done["state"] == "imported" and done["file_name"] == "upload.jsonl", done
    assert done["report"]["file_format"] == "person-history" and done["report"]["recorded"] == 13
    places = read_once_level(api, f"/municipalities/{OSLO}/places", done["position"], year=2019)
    assert places["persons"]["settled"] == 2
    bad = imported(api, b'{"fact": "settled", "person": "X", "date": "2019-13-01"}\n', file_name="bad.jsonl")
    assert bad["state"] == "refused" and bad["report"]["bad_rows"] == [
        {"line": 1, "reason": "date: not a date of the calendar"}
    ]


def test_another_server_process_answers_for_an_import_it_did_not_run(
    api: Api, database_url: str, tmp_path: Path
) -> None:
    # Behind a load balancer (serve --workers N) the next request may reach another process: each one
    # answers for every import of the store, whichever process ran it (R15), report included.
    from litestar.testing import TestClient

    from api.http.app import create_app
    from api.http.import_jobs import JOBS
    from projections.engine.store import write_transaction
    from tests.e2e.conftest import settings_for
    from tests.given import TODAY

    other_app = create_app(settings_for(database_url, tmp_path), clock=lambda: TODAY)
    with TestClient(other_app) as client:
        other = Api(client)
        content = (HEADER + GOOD_ROW + BAD_ROW.replace("7.5", "7.5 Kari Nordmann")).encode()
        refused = imported(api, content)
        assert refused["state"] == "refused"
        seen = other.ok(observe(other, f"/imports/{refused['id']}"))
        assert (seen["state"], seen["file_name"], seen["message"]) == (
            "refused", refused["file_name"], refused["message"],
        )  # fmt: skip
        assert seen["report"]["bad_rows"] == refused["report"]["bad_rows"]
        assert refused["id"] in {i["id"] for i in other.ok(observe(other, "/imports"))}
        # The report names the file's values: sealed with the store's key in the shared table (R18).
        engine = api.app.state.reads.engine
        with engine.connect() as conn:
            stored = conn.execute(JOBS.select().where(JOBS.c.import_id == refused["id"])).mappings().one()
        assert b"Kari Nordmann" not in bytes(stored["sealed"]) and stored["state"] == "refused"

        # A job whose process stopped mid-way (no heartbeat for five minutes) is failed, not running for ever.
        with write_transaction(engine) as conn:
            conn.execute(
                JOBS.update()
                .where(JOBS.c.import_id == refused["id"])
                .values(state="running", updated_at=stored["updated_at"] - timedelta(minutes=6))
            )
        stale = other.ok(observe(other, f"/imports/{refused['id']}"))
        assert stale["state"] == "failed" and "stopped before it finished" in stale["message"]
        # ... and the file can be posted again, on any process.
        again = imported(other, content, skip_invalid=True)
        assert again["state"] == "imported" and again["skipped"] == 1
        assert api.ok(observe(api, f"/imports/{refused['id']}"))["state"] == "imported"

        # A file another live process runs now is answered with its job, never imported twice; with
        # other options it is refused (R15) until that import has finished.
        fresh = (HEADER + '"2015","NULL","vedtak","personer","9","t","0301"\n').encode()
        first = started(upload(api, fresh, dry_run=True))
        assert finished(api, first["id"])["state"] == "validated"
        with write_transaction(engine) as conn:  # as if that import still ran on a process elsewhere
            conn.execute(
                JOBS.update()
                .where(JOBS.c.import_id == first["id"])
                .values(state="running", owner="elsewhere:1:abc", updated_at=datetime.now(UTC))
            )
        answer = upload(other, fresh, dry_run=True)
        assert answer.status_code == 202 and answer.json()["state"] == "running"
        problem(upload(other, fresh), 409, "R15")
        # That process stops: its shutdown marks what it leaves unfinished failed at once.
        jobs = other_app.state.imports
        jobs.shared.owner = "elsewhere:1:abc"
        jobs.shared.abandoned([first["id"]])
        assert other.ok(observe(other, f"/imports/{first['id']}"))["state"] == "failed"
