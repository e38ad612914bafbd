"""The reporting dashboard in a real headless Chromium (Debian's /usr/bin/chromium, driven by Playwright):
it loads, shows the numbers the API returns, and logs no console errors."""
from __future__ import annotations

import shutil
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from tests.support import reporting_scenario as scenario
from tests.support.reporting_system import Running, running_system, wait_until_projected

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run"]
sync_api = pytest.importorskip("playwright.sync_api", reason="pip install playwright (the browser is Debian's chromium)")
if not shutil.which(CHROMIUM):
    pytest.skip(f"{CHROMIUM} missing: apt-get install -y chromium", allow_module_level=True)


@pytest.fixture(scope="module")
def county(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Running, dict[str, Any]]]:
    with running_system(tmp_path_factory.mktemp("logs")) as run:
        ids = scenario.ids_for("e2e")
        scenario.first(run.sources, ids)
        wait_until_projected(run.db, run.sources.total)
        time.sleep(1.1)  # the page picks moments to the second
        ids["between"] = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S")
        time.sleep(1.1)
        scenario.later(run.sources, ids)
        wait_until_projected(run.db, run.sources.total)
        yield run, ids


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with sync_api.sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser: Any, county: tuple[Running, dict[str, Any]]) -> Iterator[Any]:
    context = browser.new_context(timezone_id="UTC", viewport={"width": 1300, "height": 900})
    page = context.new_page()
    problems: list[str] = []
    page.on("console", lambda m: problems.append(f"console.{m.type}: {m.text}") if m.type in ("error", "warning") else None)
    page.on("pageerror", lambda e: problems.append(f"page error: {e}"))
    page.goto(county[0].api.base + "/reporting/dashboard?token=dev-auditor")
    ready(page, "gates")
    yield page
    context.close()
    assert problems == [], problems


def ready(page: Any, view: str) -> None:
    page.wait_for_selector(f"main[data-view={view}][data-ready=true]", timeout=15_000)


def open_view(page: Any, view: str) -> None:
    page.click(f"nav button[data-view={view}]")
    ready(page, view)


def metric(page: Any, key: str) -> str:
    return str(page.inner_text(f"[data-metric='{key}']")).strip()


def bars(page: Any, chart: str) -> dict[str, int]:
    rects = page.query_selector_all(f"[data-chart='{chart}'] rect[data-value]")
    return {f"{r.get_attribute('data-category')}|{r.get_attribute('data-series')}": int(r.get_attribute("data-value"))
            for r in rects}


def test_the_four_gates_show_the_numbers_the_api_returns(page: Any, county: tuple[Running, dict[str, Any]]) -> None:
    api = county[0].api
    gates = api.get("/reporting/compliance", year=2025).json()

    assert "token" not in page.url
    for gate in ("selection", "responsibility", "safeguards"):
        for key, value in gates[gate].items():
            if page.query_selector(f"[data-metric='{gate}.{key}']"):
                assert metric(page, f"{gate}.{key}") == str(value), f"{gate}.{key}"
    assert metric(page, "method.total") == str(gates["method"]["gap_filling"]["total"])
    assert metric(page, "method.share") == "50%" and "✓" in metric(page, "method.compliant")
    plan = bars(page, "plan-vs-actual")
    assert plan["补短型 gap_filling|计划 planned"] == 2 and plan["对接型 docking|实际 actual"] == 1


def test_placement_charts_and_register_match_the_api(page: Any, county: tuple[Running, dict[str, Any]]) -> None:
    api = county[0].api
    by_type = api.get("/reporting/placements/summary", by="placement_type", year=2025).json()["items"]
    by_host = api.get("/reporting/placements/summary", by="host_unit,placement_type", year=2025).json()["items"]

    open_view(page, "placements")

    shown = bars(page, "placements-by-type")
    assert {k.split("|")[0].split()[-1]: v for k, v in shown.items()} == {r["placement_type"]: r["placements"] for r in by_type}
    host = {k: v for k, v in bars(page, "placements-by-host").items() if v}
    assert host == {f"{r['host_unit']}|{r['placement_type_label']} {r['placement_type']}": r["placements"] for r in by_host}
    assert page.get_attribute("[data-table=placements]", "data-total") == "4"


def test_grade_charts_count_only_groups_at_the_minimum(page: Any, county: tuple[Running, dict[str, Any]]) -> None:
    grades = county[0].api.get("/reporting/assessments/grades", year=2025).json()["items"]

    open_view(page, "assessments")

    ballots = {k.split("|")[0].split()[-1]: v for k, v in bars(page, "ballots").items()}
    assert ballots == {g: sum(r[f"ballots_{g}"] for r in grades) for g in ("excellent", "competent", "basically_competent",
                                                                           "incompetent")}
    assert ": 1" in metric(page, "grades.withheld")
    finals = bars(page, "final-grades")
    assert finals["qingshui-township 2025 下派年度考核|优秀 excellent"] == 1


def test_alerts_list_what_the_compliance_views_list(page: Any, county: tuple[Running, dict[str, Any]]) -> None:
    api = county[0].api
    open_view(page, "alerts")

    page.wait_for_selector("[data-table=overdue]")
    page.wait_for_selector("[data-table=missing]")
    for table, path, params in (("overdue", "overdue-check-ins", {}), ("unsigned", "unsigned-agreements", {}),
                                ("stuck", "stuck-nominations", {"stuck_days": 30}),
                                ("missing", "missing-assessments", {"year": 2025})):
        expected = api.get(f"/reporting/compliance/{path}", **params).json()["total"]
        assert page.get_attribute(f"[data-table={table}]", "data-total") == str(expected), table


def test_a_cadres_dossier_opens_from_the_search(page: Any, county: tuple[Running, dict[str, Any]]) -> None:
    run, ids = county
    dossier = run.api.get(f"/reporting/cadres/{ids['C1']}/dossier").json()

    open_view(page, "dossier")
    page.fill("#cadre-search", "李明")
    page.click("text=查找 find")
    page.wait_for_selector(f"[data-table=cadres] td:text-is('{ids['C1']}')")
    page.click(f"[data-table=cadres] td:text-is('{ids['C1']}')")
    page.wait_for_selector("[data-metric='dossier.name']")

    assert metric(page, "dossier.name").startswith("李明")
    assert page.get_attribute("ol.events", "data-total") == str(dossier["total"])
    assert page.locator("ol.events li").count() == dossier["total"]


def test_the_dashboard_answers_as_of_a_chosen_moment(page: Any, county: tuple[Running, dict[str, Any]]) -> None:
    page.fill("#as-of", county[1]["between"])
    page.click("#as-of-form button[type=submit]")
    ready(page, "gates")

    assert metric(page, "responsibility.overdue_check_ins") == "0"
    assert metric(page, "safeguards.promoted") == "0"
    page.click("#as-of-now")
    ready(page, "gates")
    assert metric(page, "responsibility.overdue_check_ins") == "1"


def test_a_link_with_as_of_opens_the_dashboard_at_that_moment(browser: Any, county: tuple[Running, dict[str, Any]]) -> None:
    context = browser.new_context(timezone_id="Asia/Shanghai", viewport={"width": 1300, "height": 900})
    page = context.new_page()
    problems: list[str] = []
    page.on("console", lambda m: problems.append(f"console.{m.type}: {m.text}") if m.type in ("error", "warning") else None)
    moment = county[1]["between"] + "Z"
    page.goto(county[0].api.base + f"/reporting/dashboard?token=dev-auditor&as_of={moment}")
    ready(page, "gates")

    assert metric(page, "responsibility.overdue_check_ins") == "0"  # as the record stood then
    assert metric(page, "safeguards.promoted") == "0"
    shown = datetime.fromisoformat(county[1]["between"]).replace(tzinfo=UTC).astimezone(ZoneInfo("Asia/Shanghai"))
    assert page.input_value("#as-of") == shown.strftime("%Y-%m-%dT%H:%M:%S")  # in the reader's own time zone
    assert "token=" not in page.url and "as_of=" in page.url

    page.click("#as-of-now")
    ready(page, "gates")
    assert metric(page, "responsibility.overdue_check_ins") == "1"
    assert "as_of=" not in page.url  # the address always names what is shown
    context.close()
    assert problems == [], problems
