"""The caseworkers' pages over HTTP, without a browser: login, tenancy, CSRF, refusals in bokmål, PRG,
reports, session expiry (both backends). The browser walk is in tests/browser."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

import httpx
import pytest
from litestar.testing import TestClient

from api.http.app import create_app
from api.web.refusals import explain
from settlement_domain.errors import RuleViolation
from tests.e2e.conftest import BERGEN, IMDI, MUNICIPALITY, OSLO, Api, problem, settings_for
from tests.e2e.story import (
    deliver_letters,
    propose,
    register_refugee,
    selected_person,
    two_municipalities,
    with_places,
)
from tests.given import TODAY

WEB = "https://testserver.local"  # the cookies are Secure: the client sends them over HTTPS only


class Browserless:
    """A web client that keeps its cookies and fills in the CSRF token of the page it last read."""

    def __init__(self, client: TestClient, api: Api) -> None:
        self.client, self.api, self.token = client, api, ""

    # The pages as a browser set to bokmål asks for them (the shared client's default is the API tests' English).
    LANGUAGE: ClassVar[dict[str, str]] = {"Accept-Language": "nb-NO,nb;q=0.9"}

    def get(self, path: str, **kwargs: Any) -> httpx.Response:
        kwargs["headers"] = {**self.LANGUAGE, **(kwargs.get("headers") or {})}
        response = self.client.get(path, follow_redirects=False, **kwargs)
        found = re.search(r'name="_csrf_token" value="([^"]+)"', response.text)
        if found:
            self.token = found.group(1)
        return response

    def post(self, path: str, data: dict[str, str], *, token: bool = True, **kwargs: Any) -> httpx.Response:
        body = {**data, "_csrf_token": self.token} if token else data
        kwargs["headers"] = {**self.LANGUAGE, **(kwargs.get("headers") or {})}
        return self.client.post(path, data=body, follow_redirects=False, **kwargs)

    def login(self, user: str) -> None:
        self.get("/login")
        response = self.post("/login/demo", {"user": user, "next": "/"})
        assert response.status_code == 303, response.text


def web_app(database_url: str, tmp_path: Path, **overrides: Any) -> Any:
    settings = settings_for(
        database_url,
        tmp_path,
        **{"web_demo_login": True, "web_secret": "web-secret-" + "y" * 40, **overrides},
    )
    return create_app(settings, clock=lambda: TODAY)


@pytest.fixture
def both(database_url: str, tmp_path: Path) -> Iterator[tuple[Api, Browserless]]:
    app = web_app(database_url, tmp_path)
    with TestClient(app, base_url=WEB) as client:  # one client: one lifespan, one projection runner
        api = Api(client)
        two_municipalities(api)
        yield api, Browserless(client, api)


def text(response: httpx.Response) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", response.text))


def test_a_page_asks_for_login_and_the_login_lists_the_demo_users_in_bokmal(both) -> None:
    _, web = both
    assert web.get("/lists").headers["location"] == "/login?next=/lists"
    page = web.get("/login")
    assert page.status_code == 200 and 'lang="nb"' in page.text
    assert "Logg inn som Saksbehandler i kommunen 0301" in text(page)
    assert "reception-system-udi" not in page.text  # an integration has no login to the pages


def test_the_municipality_answers_a_list_with_a_form_and_a_family_whole(both) -> None:
    api, web = both
    with_places(api, OSLO)
    alone = register_refugee(api, "Amina Hassan")
    family = [register_refugee(api, name, family_id="fam-1") for name in ("Omar Ali", "Sara Ali")]
    list_id = propose(api, OSLO, [alone, *family])
    web.login("caseworker-0301")
    page = web.get(f"/lists/{list_id}", params={"min_position": api.position})
    assert page.status_code == 200 and "Familie på 2" in text(page)
    missing = web.post(f"/lists/{list_id}/approval", {})
    assert missing.status_code == 422
    assert "Rett opp følgende for å gå videre" in text(missing) and "Velg ta imot eller avslå" in text(
        missing
    )
    # The summary links to the family's field, named by its opaque reference, never by the family text.
    found = re.search(r'href="#field-(answer-family-[^"]+)"', missing.text)
    assert found is not None and "fam-1" not in missing.text
    answered = web.post(
        f"/lists/{list_id}/approval",
        {found[1]: "accept", f"answer-{alone}": "decline", f"reason-{alone}": "Ingen bolig"},
    )
    assert answered.status_code == 303 and answered.headers["location"] == f"/lists/{list_id}"
    after = web.get(f"/lists/{list_id}")
    assert "Listen er besvart: 2 tatt imot, 1 avslått." in text(after)


def test_a_municipality_never_reaches_another_municipalitys_pages(both) -> None:
    api, web = both
    oslo_list = propose(api, OSLO, [register_refugee(api)])
    person = selected_person(api, OSLO)
    web.login("caseworker-4601")
    for path in (f"/lists/{oslo_list}", f"/municipalities/{OSLO}", f"/persons/{person}", "/lists/not-a-uuid"):
        page = web.get(path, params={"min_position": api.position})
        assert page.status_code == 404, path
        assert "Fant ikke siden" in text(page)
    forbidden = web.get("/imports")
    assert forbidden.status_code == 403 and "Du har ikke tilgang til denne siden" in text(forbidden)


def test_a_form_posted_without_its_csrf_token_is_refused(both) -> None:
    _, web = both
    web.login("caseworker-0301")
    refused = web.post("/support", {"subject": "Hjelp", "text": "Noe er galt"}, token=False)
    assert refused.status_code == 403 and "Skjemaet kunne ikke sendes" in text(refused)
    assert web.post("/support", {"subject": "Hjelp", "text": "Noe er galt"}).status_code == 303


def test_the_r7_refusals_are_explained_in_bokmal_beside_the_date(both) -> None:
    api, web = both
    private = selected_person(api, OSLO)
    web.login("caseworker-0301")
    page = web.get("/settlement-dates", params={"min_position": api.position})
    assert "Du skal ikke registrere bosettingsdato på personer som" in text(page)
    assert "ble bosatt før 2016" in text(page)
    future = web.post(f"/settlement-dates/{private}", {f"date-{private}": "30.11.2099"})
    assert future.status_code == 422
    assert "fram i tid. (R7e)" in text(future)
    assert f'aria-describedby="error-date-{private}"' in future.text or f"error-date-{private}" in future.text
    done = web.post(f"/settlement-dates/{private}", {f"date-{private}": TODAY.strftime("%d.%m.%Y")})
    assert done.status_code == 303
    again = web.post(f"/settlement-dates/{private}", {f"date-{private}": TODAY.strftime("%d.%m.%Y")})
    assert "Personen har allerede en registrert bosettingsdato" in text(again) and "(R7f)" in text(again)


def test_reports_download_as_csv_with_norwegian_values_and_pages_speak_english_on_request(both) -> None:
    api, web = both
    with_places(api, OSLO)
    web.login("caseworker-0301")
    csv = web.get(
        "/reports/download/requests-and-decisions",
        params={"format": "csv", "min_position": api.position},
    )
    assert csv.status_code == 200 and csv.headers["content-type"].startswith("text/csv")
    assert "Anmodning" in csv.text and "ikke komplett" in csv.text and BERGEN not in csv.text
    page = web.get(f"/municipalities/{OSLO}")
    assert "Datagrunnlaget er ikke komplett" in text(page) and "20" in text(page)
    english = web.get(f"/municipalities/{OSLO}", headers={"Accept-Language": "en-GB,en;q=0.9"})
    assert 'lang="en"' in english.text and "The data is not complete" in text(english)


def test_a_decision_date_is_shown_and_taken_as_30_11_2026(both) -> None:
    api, web = both
    web.login("caseworker-0301")
    web.get(f"/municipalities/{OSLO}", params={"min_position": api.position})
    recorded = web.post(
        f"/municipalities/{OSLO}/quota?min_position={api.position}",
        {"year": "2025", "persons": "1234", "minors": "2", "decided_on": "02.06.2025"},
    )
    assert recorded.status_code == 303
    page = web.get(f"/municipalities/{OSLO}")
    assert "vedtatt 02.06.2025" in text(page) and "1\u00a0234 personer" in page.text


def test_an_unused_session_expires_with_a_page_in_bokmal(database_url: str, tmp_path: Path) -> None:
    app = web_app(database_url, tmp_path, web_session_idle_minutes=-1)
    with TestClient(app, base_url=WEB) as client:
        web = Browserless(client, None)  # type: ignore[arg-type]
        web.login("caseworker-0301")
        expired = web.get("/")
        assert expired.status_code == 401 and "Økten din er utløpt" in text(expired)
        assert 'href="/login"' in expired.text  # the way back: log in again
        assert web.get("/login").status_code == 200


def test_an_erased_person_s_folder_says_so_in_bokmal(both) -> None:
    """R18: the folder page of an erased person shows the erasure through the message catalogue, not
    the stored marker, and a refused erasure is explained in bokmål with its rule code."""
    api, web = both
    person = selected_person(api, OSLO)
    refused = api.post(
        f"/refugees/{person}/erasure", {"legal_basis": "GDPR art. 17", "reason": "asked"}, IMDI
    )
    assert refused.status_code == 409
    api.ok(api.post(f"/refugees/{person}/settlement-date", {"date": TODAY.isoformat()}, MUNICIPALITY, OSLO))
    deliver_letters(api, person)  # R18e: the selection letter names the person
    api.ok(api.post(f"/refugees/{person}/erasure", {"legal_basis": "GDPR art. 17", "reason": "asked"}, IMDI))
    web.login("imdi-caseworker-ingrid")
    folder = web.get(f"/persons/{person}", params={"min_position": api.position})
    assert folder.status_code == 200, folder.text
    assert "Personopplysninger slettet (R18)" in text(folder)
    assert "slettet</dd>" not in folder.text.replace(" ", "")  # not the stored marker as the name
    words = explain("nb", RuleViolation("R18b", "English detail"))
    assert words.startswith("Slettingen ble avvist") and words.endswith("(R18b)")


def test_imdi_marks_a_years_data_complete_on_the_reports_page(both) -> None:
    api, web = both
    with_places(api, OSLO)
    web.login("imdi-caseworker-ingrid")
    page = web.get("/reports", params={"year": "2025", "min_position": api.position})
    assert "Marker datagrunnlaget som komplett" in text(page)
    refused = web.post("/reports/completeness", {"mark_year": "tjue", "mark_complete": "true"})
    assert refused.status_code == 422 and "Oppgi året, for eksempel 2025." in text(refused)
    marked = web.post(
        "/reports/completeness", {"mark_year": "2025", "mark_municipality": OSLO, "mark_complete": "true"}
    )
    assert marked.status_code == 303
    written = api.app.state.settlement.position()  # the page's write, which the reads wait for
    marks = api.ok(api.get("/completeness", IMDI, params={"min_position": written}))
    assert [(m["year"], m["municipality"], m["complete"]) for m in marks] == [(2025, OSLO, True)]
    web.login("caseworker-0301")
    assert "Marker datagrunnlaget som komplett" not in text(web.get("/reports"))  # IMDi's task only


EXAMPLE = Path(__file__).resolve().parents[2] / "docs" / "examples" / "imdi-long.csv"


def test_imdi_uploads_an_import_on_its_page_and_follows_it_to_its_report(both) -> None:
    api, web = both
    web.login("imdi-caseworker-ingrid")
    page = web.get("/imports")
    assert page.status_code == 200 and "Importer en fil" in text(page)
    token = web.token

    def upload(fields: dict[str, str], content: bytes | None, name: str = "imdi-long.csv") -> httpx.Response:
        files = {"file": (name, content, "text/csv")} if content is not None else None
        return web.client.post(
            "/imports",
            data={**fields, "_csrf_token": token},
            files=files,
            headers=Browserless.LANGUAGE,
            follow_redirects=False,
        )

    # Bad forms: no file; revisions without a reason. Both shown beside their field, in bokmål.
    empty = upload({}, b"  ")
    assert empty.status_code == 422 and "Velg filen som skal importeres." in text(empty)
    assert 'href="#field-file"' in empty.text
    # The page shown again carries the token, so the corrected form can be sent from it.
    assert f'name="_csrf_token" value="{token}"' in empty.text
    no_reason = upload({"revise_on": "on", "revise": ""}, EXAMPLE.read_bytes())
    assert no_reason.status_code == 422 and "Begrunnelsen skal være én linje" in text(no_reason)
    # Without its CSRF token a multipart form is refused too.
    forged = web.client.post(
        "/imports", files={"file": ("x.csv", EXAMPLE.read_bytes(), "text/csv")}, follow_redirects=False
    )
    assert forged.status_code == 403

    # A dry run stores nothing; its page says so and the state is "kontrollert".
    dry = upload({"dry_run": "on"}, EXAMPLE.read_bytes())
    assert dry.status_code == 303 and dry.headers["location"].startswith("/imports/")
    where = dry.headers["location"]
    api.app.state.imports.wait()
    checked = web.get(where)
    assert checked.status_code == 200 and "kontrollert (prøvekjøring)" in text(checked)
    assert "ja: ingenting lagres" in text(checked)

    # The import itself: followed to "importert", the figures then in the places.
    started = upload({}, EXAMPLE.read_bytes())
    assert started.status_code == 303 and started.headers["location"] == where
    api.app.state.imports.wait()
    report = web.get(where)
    assert "importert" in text(report) and "imdi-long.csv" in text(report)
    listed = text(web.get("/imports"))
    assert "imdi-long.csv" in listed and "importert" in listed
    written = api.app.state.settlement.position()
    places = api.ok(
        api.get(f"/municipalities/{OSLO}/places", IMDI, params={"year": 2013, "min_position": written})
    )
    assert places["persons"]["decided"] == 40

    # The same file again changes nothing and says so.
    again = upload({}, EXAMPLE.read_bytes())
    assert again.status_code == 303 and again.headers["location"] == "/imports"
    assert "Denne filen er importert før" in text(web.get("/imports"))

    # A file with a bad row is refused, and the page names its line.
    bad = (
        EXAMPLE.read_text(encoding="utf-8")
        + '"20x3","NULL","vedtak","personer","1","bosatt_vedtak","0301","NULL","NULL"\n'
    )
    refused = upload({}, bad.encode("utf-8"), "feil.csv")
    api.app.state.imports.wait()
    page = text(web.get(refused.headers["location"]))
    assert "avvist" in page and "Rader med feil" in page and "12" in page
    assert "20x3&#39; er ikke et årstall" in page  # the reason in bokmål too (the quote escaped)

    # Only IMDi imports: a municipality neither sees the page nor may post to it.
    web.login("caseworker-0301")
    assert web.get("/imports").status_code == 403
    refused_role = upload({}, EXAMPLE.read_bytes())
    assert refused_role.status_code == 403, (refused_role.status_code, refused_role.headers.get("location"))


def test_the_import_pages_show_an_import_still_running_or_refused_without_a_report(both) -> None:
    api, web = both
    web.login("imdi-caseworker-ingrid")
    web.get("/imports")
    token = web.token

    def upload(content: bytes, name: str) -> httpx.Response:
        return web.client.post(
            "/imports",
            data={"_csrf_token": token},
            files={"file": (name, content, "text/csv")},
            headers=Browserless.LANGUAGE,
            follow_redirects=False,
        )

    # A file that is not UTF-8 is refused with no report: its page and the list still answer.
    refused = upload("\u00e6\u00f8\u00e5;1;2\n".encode("latin-1"), "latin.csv")
    assert refused.status_code == 303
    api.app.state.imports.wait()
    assert web.get(refused.headers["location"]).status_code == 200
    assert web.get("/imports").status_code == 200
    # A running import (no report yet) shows its state and a link to follow it, not a refresh.
    jobs = api.app.state.imports
    held = jobs._one_at_a_time  # an import that holds the queue: the next one waits, running
    held.acquire()
    try:
        waiting = upload(EXAMPLE.read_bytes(), "imdi-long.csv")
        page = web.get(waiting.headers["location"])
        assert page.status_code == 200 and "pågår" in text(page)
        assert "Se hvor langt den har kommet" in text(page) and 'http-equiv="refresh"' not in page.text
        assert web.get("/imports").status_code == 200
    finally:
        held.release()
    jobs.wait()
    # A name with a control character is refused at the field, never stored or echoed raw.
    escape = upload(EXAMPLE.read_bytes(), "a\x1b[31mred.csv")
    assert escape.status_code == 422 and "Filnavnet er for langt" in text(escape)
    assert "\x1b" not in escape.text


def test_the_import_upload_is_refused_by_role_before_its_body_is_read(both) -> None:
    _, web = both
    web.login("caseworker-0301")
    web.get("/")
    # No multipart boundary: had the body been parsed first (by the CSRF middleware), this would be a 422.
    refused = web.client.post(
        "/imports",
        content=b"x" * 1000,
        headers={**Browserless.LANGUAGE, "Content-Type": "multipart/form-data"},
        follow_redirects=False,
    )
    assert refused.status_code == 403
    web.client.cookies.clear()
    anonymous = web.client.post(
        "/imports", content=b"x", headers={"Content-Type": "multipart/form-data"}, follow_redirects=False
    )
    assert anonymous.status_code in (302, 303) and anonymous.headers["location"].startswith("/login")


def _listed(api: Api, person: str) -> list[dict]:
    """The read records (R14) naming ``person``, found by the audit search by person."""
    head = api.app.state.settlement.position()
    params = {"person": person, "type": "PersonalDataListed", "min_position": head, "limit": 500}
    return api.ok(api.get("/audit/events", IMDI, params=params))["items"]


def test_every_page_that_shows_names_leaves_one_read_record(both) -> None:
    # R14: the pages are read routes too: each page that shows names records one PersonalDataListed
    # naming the persons it showed; a list's persons not selected yet are shown without names.
    api, web = both
    with_places(api, OSLO)
    waiting = register_refugee(api, "Side Venter")
    unselected = register_refugee(api, "Side Uvalgt")
    free = register_refugee(api, "Side Ledig")
    chosen = propose(api, OSLO, [waiting])
    api.ok(
        api.post(
            f"/distribution-lists/{chosen}/approval",
            {"accepted": [waiting], "declined": []},
            MUNICIPALITY,
            OSLO,
        )
    )
    open_list = propose(api, OSLO, [unselected])
    persons = (waiting, unselected, free)

    def read(user: str, path: str, shown: set[str]) -> None:
        web.login(user)
        before = {p: len(_listed(api, p)) for p in persons}
        page = web.get(
            path + ("&" if "?" in path else "?") + f"min_position={api.app.state.settlement.position()}"
        )
        assert page.status_code == 200, page.text
        after = {p: len(_listed(api, p)) for p in persons}
        assert {p for p in persons if after[p] == before[p] + 1} == shown, path
        assert all(after[p] - before[p] <= 1 for p in persons), path
        if shown:
            (latest, *_) = _listed(api, next(iter(shown)))
            assert f"page {path.split('?')[0]}" in latest["summary"], latest["summary"]

    read("imdi-caseworker-ingrid", "/", {waiting})  # the persons selected, on IMDi's front page
    read("imdi-caseworker-ingrid", "/persons", {waiting})
    read("imdi-caseworker-ingrid", "/lists/new", {free})  # the free persons, with birth dates
    read("imdi-caseworker-ingrid", f"/lists/{open_list}", {unselected})
    read("caseworker-0301", f"/lists/{chosen}", {waiting})
    read("caseworker-0301", f"/lists/{open_list}", set())  # not selected yet: no names, no record
    read("caseworker-0301", "/persons", {waiting})
    read("caseworker-0301", "/settlement-dates", {waiting})
    api.ok(api.post(f"/refugees/{waiting}/settlement-date", {"date": TODAY.isoformat()}, MUNICIPALITY, OSLO))
    read("caseworker-0301", "/reports/download/settled-persons?format=csv", {waiting})


def test_a_read_whose_record_fails_is_not_shown_over_the_api_nor_on_its_page(both) -> None:
    """R6/R14: when the group of read records a request's read went into cannot be stored, the request
    answers 503 (a problem over the API, a page in bokmål) and shows no personal data; the next read is
    recorded and shown."""
    api, web = both
    person = selected_person(api, OSLO)
    settlement = api.app.state.settlement
    save = settlement.read_records._save

    def failing(*aggregates: Any) -> Any:
        raise OSError("the database went away")

    settlement.read_records._save = failing
    refused = api.get(f"/refugees/{person}", IMDI)
    body = problem(refused, 503)
    assert body["type"].endswith("read-not-recorded") and refused.headers["Retry-After"] == "1"
    assert "Amina" not in refused.text
    web.login("imdi-caseworker-ingrid")
    page = web.get(f"/persons/{person}", params={"min_position": api.position})
    assert page.status_code == 503 and "Amina" not in page.text
    assert "Lesingen kunne ikke registreres" in text(page)
    settlement.read_records._save = save
    shown = api.get(f"/refugees/{person}", IMDI)
    assert shown.status_code == 200 and "Amina Hassan" in shown.text
