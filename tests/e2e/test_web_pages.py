"""The caseworkers' pages over HTTP, without a browser: login, tenancy, CSRF, refusals in bokmål, PRG,
reports, session expiry (both backends). The browser walk is in tests/browser."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from litestar.testing import TestClient

from api.http.app import create_app
from api.web.refusals import explain
from settlement_domain.errors import RuleViolation
from tests.e2e.conftest import BERGEN, IMDI, MUNICIPALITY, OSLO, Api, settings_for
from tests.e2e.story import propose, register_refugee, selected_person, two_municipalities, with_places
from tests.given import TODAY

WEB = "https://testserver.local"  # the cookies are Secure: the client sends them over HTTPS only


class Browserless:
    """A web client that keeps its cookies and fills in the CSRF token of the page it last read."""

    def __init__(self, client: TestClient, api: Api) -> None:
        self.client, self.api, self.token = client, api, ""

    def get(self, path: str, **kwargs: Any) -> httpx.Response:
        response = self.client.get(path, follow_redirects=False, **kwargs)
        found = re.search(r'name="_csrf_token" value="([^"]+)"', response.text)
        if found:
            self.token = found.group(1)
        return response

    def post(self, path: str, data: dict[str, str], *, token: bool = True, **kwargs: Any) -> httpx.Response:
        body = {**data, "_csrf_token": self.token} if token else data
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
    api.ok(api.post(f"/refugees/{person}/erasure", {"legal_basis": "GDPR art. 17", "reason": "asked"}, IMDI))
    web.login("imdi-caseworker-ingrid")
    folder = web.get(f"/persons/{person}", params={"min_position": api.position})
    assert folder.status_code == 200, folder.text
    assert "Personopplysningene er slettet (R18)" in text(folder)
    assert "slettet</dd>" not in folder.text.replace(" ", "")  # not the stored marker as the name
    words = explain("nb", RuleViolation("R18b", "English detail"))
    assert words.startswith("Slettingen ble avvist") and words.endswith("(R18b)")
