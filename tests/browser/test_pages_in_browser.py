"""The pages in a real browser (Playwright driving Debian's Chromium; no browser download): each role
logs in on the demo login, walks its tasks, and every page passes axe-core (WCAG 2.1 AA) without a
serious or critical violation. Screenshots of each page go to test-artifacts/screenshots/."""

from __future__ import annotations

import re
import shutil
import threading
import time
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest
import uvicorn

from api.bench.ports import free_port
from api.demo.story import play_story
from api.http.app import create_app
from api.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
AXE = ROOT / "node_modules" / "axe-core" / "axe.min.js"
SHOTS = ROOT / "test-artifacts" / "screenshots"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
playwright = pytest.importorskip("playwright.sync_api")

pytestmark = pytest.mark.skipif(
    CHROMIUM is None or not AXE.exists(),
    reason="needs Debian's chromium (apt-get install chromium) and node_modules (npm ci)",
)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The service on the embedded store with the demo story and the demo login, as `make run` has it."""
    folder = tmp_path_factory.mktemp("browser")
    settings = Settings(
        database_url=f"sqlite:///{folder}/settlement.db",
        jwt_secret="browser-" + "z" * 40,
        web_secret="browser-web-" + "z" * 40,
        web_demo_login=True,
        projection_poll_seconds=0.02,
    )
    app = create_app(settings)
    play_story(app.state.settlement)
    port = free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)
    running = uvicorn.Server(config)
    thread = threading.Thread(target=running.run, daemon=True)
    thread.start()
    while not running.started:
        time.sleep(0.05)
    app.state.reads.wait_for(app.state.settlement.position(), timeout=60)
    yield f"http://127.0.0.1:{port}"
    running.should_exit = True
    thread.join(timeout=10)


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    with playwright.sync_playwright() as p:
        launched = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield launched
        launched.close()


def check(page: object, name: str) -> None:
    """axe-core on the page (WCAG 2.1 A and AA): no serious or critical violation; and a screenshot."""
    page.add_script_tag(path=str(AXE))
    result = page.evaluate(
        "async () => await axe.run(document, {runOnly: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa']})"
    )
    bad = [
        (v["id"], v["impact"], [n["target"] for n in v["nodes"]][:3])
        for v in result["violations"]
        if v["impact"] in ("serious", "critical")
    ]
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)
    assert bad == [], f"{name} ({page.url}): {bad}"


def log_in(browser: object, server: str, label: str) -> object:
    # bypass_csp: axe is injected as an inline script, which the pages' policy would refuse.
    context = browser.new_context(bypass_csp=True, locale="nb-NO", accept_downloads=True)
    page = context.new_page()
    page.goto(f"{server}/")
    assert page.url.startswith(f"{server}/login")
    check(page, "login")
    page.get_by_role("button", name=f"Logg inn som {label}").click()
    page.wait_for_url(f"{server}/")
    assert "Du er logget inn." in page.inner_text("main")
    return page


def walk(page: object, server: str, prefix: str) -> list[str]:
    """Every task in the menu: opens, in bokmål, and passes axe."""
    links = page.eval_on_selector_all("nav.site-nav a", "links => links.map(a => a.getAttribute('href'))")
    for href in links:
        page.goto(server + href)
        assert page.locator("html").get_attribute("lang") == "nb"
        check(page, f"{prefix}-{href.strip('/').replace('/', '-') or 'forside'}")
    return links


def test_a_municipal_caseworker_walks_the_tasks_in_bokmal(browser: object, server: str) -> None:
    page = log_in(browser, server, "Saksbehandler i kommunen 0301")
    links = walk(page, server, "kommune")
    assert {"/lists", "/settlement-dates", "/municipalities/0301", "/capacity", "/support", "/audit"} <= set(
        links
    )

    # The places and the R19 notice.
    page.goto(f"{server}/municipalities/0301")
    assert "Plasser per år" in page.inner_text("main")

    # R7: the demo's Nadia Demo-Yousef lived privately and was accepted by Oslo today; Oslo registers her
    # settlement date. A date in the future is refused, in words, beside the field (R7e); today's is taken.
    page.goto(f"{server}/settlement-dates")
    main = page.inner_text("main")
    assert "Du skal ikke registrere bosettingsdato på personer som" in main and "Nadia Demo-Yousef" in main
    check(page, "kommune-bosettingsdato")
    row = page.locator("li.ds-card").filter(has_text="Nadia Demo-Yousef")
    date_field = row.locator("input[id^='field-date-']")
    date_field.fill("30.11.2099")
    row.locator("button").click()
    assert "fram i tid" in page.inner_text("#error-summary")
    check(page, "kommune-bosettingsdato-avvist")
    page.locator("#error-summary a").first.click()
    assert page.evaluate("document.activeElement.id").startswith("field-date-")
    today = date.today().strftime("%d.%m.%Y")
    row = page.locator("li.ds-card").filter(has_text="Nadia Demo-Yousef")
    row.locator("input[id^='field-date-']").fill(today)
    row.locator("button").click()
    assert "Bosettingsdatoen er registrert." in page.inner_text("main")
    assert "Nadia Demo-Yousef" not in page.inner_text("main")  # no longer awaiting a date
    check(page, "kommune-bosettingsdato-registrert")

    # An empty support case is refused with an error summary linked to the fields.
    page.goto(f"{server}/support")
    page.get_by_role("button", name="Send til IMDi").click()
    assert "Oppgi et emne." in page.inner_text("#error-summary")
    check(page, "kommune-sak-avvist")
    page.get_by_label("Emne").fill("Spørsmål om fordelingslisten")
    page.get_by_label("Spørsmål eller problem").fill("Når kommer neste liste?")
    page.get_by_role("button", name="Send til IMDi").click()
    assert "Saken er sendt til IMDi." in page.inner_text("main")

    # A report downloads as a file.
    page.goto(f"{server}/reports")
    with page.expect_download() as download:
        page.get_by_role("link", name="CSV").first.click()
    saved = SHOTS.parent / "anmodninger-og-vedtak.csv"
    download.value.save_as(saved)
    assert "Anmodning" in saved.read_text("utf-8-sig")

    # Another municipality's pages are not found (404), in bokmål.
    answer = page.goto(f"{server}/municipalities/4601")
    assert answer.status == 404 and "Fant ikke siden" in page.inner_text("main")
    check(page, "kommune-fant-ikke")

    # A form posted without its CSRF token is refused.
    refused = page.request.post(f"{server}/support", form={"subject": "x", "text": "y"})
    assert refused.status == 403 and "Skjemaet kunne ikke sendes" in refused.text()

    # Logging out ends the session.
    page.get_by_role("button", name="Logg ut").click()
    page.goto(f"{server}/lists")
    assert page.url.startswith(f"{server}/login")


def test_an_imdi_caseworker_walks_the_tasks_and_answers_a_case(browser: object, server: str) -> None:
    page = log_in(browser, server, "Saksbehandler i IMDi")
    links = walk(page, server, "imdi")
    assert {"/municipalities", "/lists", "/persons", "/imports", "/reports", "/audit"} <= set(links)
    page.goto(f"{server}/lists/new")
    check(page, "imdi-ny-fordelingsliste")
    page.get_by_role("button", name="Send listen").click()
    assert "Velg kommunen." in page.inner_text("#error-summary")
    page.goto(f"{server}/municipalities/0301")
    check(page, "imdi-kommune-0301")
    # R19: the year's data is marked complete on the reports page (a bad year first: refused, in words).
    year = date.today().year - 1
    page.goto(f"{server}/reports?year={year}")
    page.locator("#field-mark_year").fill("tjue")
    page.get_by_role("button", name="Lagre markeringen").click()
    assert "Oppgi året, for eksempel 2025." in page.inner_text("#error-summary")
    check(page, "imdi-komplett-avvist")
    page.locator("#field-mark_year").fill(str(year))
    page.get_by_role("button", name="Lagre markeringen").click()
    assert "Datagrunnlaget er markert som komplett." in page.inner_text("main")
    check(page, "imdi-rapporter-komplett")
    # R15: an import uploaded on its page (a dry run: nothing stored), followed to its report.
    page.goto(f"{server}/imports")
    page.get_by_role("button", name="Importer", exact=True).click()
    assert "Velg filen som skal importeres." in page.inner_text("#error-summary")
    check(page, "imdi-import-avvist")
    page.locator("#field-file").set_input_files(str(ROOT / "docs" / "examples" / "imdi-long.csv"))
    page.get_by_label("Bare kontroller filen (prøvekjøring): lagre ingenting").check()
    page.get_by_role("button", name="Importer", exact=True).click()
    page.wait_for_url(re.compile(r".*/imports/[0-9a-f-]{36}$"))
    for _ in range(30):  # the page refreshes itself while the import runs
        if "kontrollert (prøvekjøring)" in page.inner_text("main"):
            break
        page.wait_for_timeout(500)
        page.reload()
    assert "kontrollert (prøvekjøring)" in page.inner_text("main")
    check(page, "imdi-import-rapport")
    person = page.goto(f"{server}/persons")
    assert person.status == 200
    first = page.locator("main table a.ds-link").first
    if first.count():
        first.click()
        assert "At du åpner denne mappen, blir loggført." in page.inner_text("main")
        check(page, "imdi-personmappe")


def test_an_auditor_reads_reports_and_the_audit_trail(browser: object, server: str) -> None:
    page = log_in(browser, server, "Revisor")
    links = walk(page, server, "revisor")
    assert set(links) >= {"/reports", "/audit"} and "/lists" not in links
    page.goto(f"{server}/audit?q=decision")
    check(page, "revisor-hendelseslogg-sok")
    answer = page.goto(f"{server}/lists")
    assert answer.status == 403 and "Du har ikke tilgang til denne siden" in page.inner_text("main")


def test_the_openapi_page_loads_swagger_ui_from_this_server(browser: object, server: str) -> None:
    context = browser.new_context()
    page = context.new_page()
    outside: list[str] = []
    page.on("request", lambda r: outside.append(r.url) if not r.url.startswith(server) else None)
    page.goto(f"{server}/schema")
    page.wait_for_selector(".swagger-ui .info", timeout=15000)
    assert outside == []
    assert re.search(r"Settlement API", page.inner_text("body"))
