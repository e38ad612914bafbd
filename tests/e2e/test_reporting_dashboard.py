"""The reporting dashboard in a real headless Chromium (Debian's /usr/bin/chromium, driven by Playwright):
it loads, shows the numbers the API returns, and logs no console errors."""
from __future__ import annotations

import re
import shutil
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs, quote, urlsplit
from zoneinfo import ZoneInfo

import pytest

from tests.support import reporting_scenario as scenario
from tests.support.reporting_system import HR, Running, running_system, wait_until_projected

CHROMIUM = "/usr/bin/chromium"
UNITS = {"qingshui-township": "清水镇", "county-finance": "县财政局"}
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run"]
sync_api = pytest.importorskip("playwright.sync_api", reason="pip install playwright (the browser is Debian's chromium)")
if not shutil.which(CHROMIUM):
    pytest.skip(f"{CHROMIUM} missing: apt-get install -y chromium", allow_module_level=True)


@pytest.fixture(scope="module")
def county(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Running, dict[str, Any]]]:
    with running_system(tmp_path_factory.mktemp("logs")) as run:
        ids = scenario.ids_for("e2e")
        for unit, name in UNITS.items():  # baima-township and the rest stay unregistered: shown by their ids
            run.sources.append("selection", f"unit-{unit}", "UnitRegistered", HR, unit_id=unit, name=name)
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
    assert host == {f"{named(r['host_unit'])}|{r['placement_type_label']} {r['placement_type']}": r["placements"]
                    for r in by_host}
    assert page.get_attribute("[data-table=placements]", "data-total") == "4"


def named(unit: str) -> str:
    """A unit as the dashboard shows it: its name, then its id (the id alone when it has no name)."""
    return f"{UNITS[unit]} {unit}" if unit in UNITS else unit


def test_units_are_shown_by_name_beside_their_ids(page: Any, county: tuple[Running, dict[str, Any]]) -> None:
    ids = county[1]
    open_view(page, "placements")
    page.wait_for_selector("[data-table=placements] tbody tr")
    register = page.inner_text("[data-table=placements] tbody")
    assert "清水镇 qingshui-township" in register and "县财政局 county-finance" in register
    assert bars(page, "placements-by-sender")["县财政局 county-finance|补短型 gap_filling"] == 2
    assert bars(page, "placements-by-host")["baima-township|补短型 gap_filling"] == 1  # no registered name: its id alone

    page.focus(f"[data-table=placements] tbody tr a:text-is('{ids['P1']}')")
    page.keyboard.press("Enter")
    ready(page, "dossier")
    assert "县财政局 county-finance" in metric(page, "dossier.details")
    check_in = page.inner_text("ol.events li:has-text('posting.CheckInRecorded')")
    assert "qingshui.wu (接收单位 host_unit, 清水镇 qingshui-township)" in check_in
    planned = page.inner_text("ol.events li:has-text('posting.PlacementPlanned')")
    assert "host_unit: 清水镇 qingshui-township" in planned


def test_grade_charts_count_only_groups_at_the_minimum(page: Any, county: tuple[Running, dict[str, Any]]) -> None:
    grades = county[0].api.get("/reporting/assessments/grades", year=2025).json()["items"]

    open_view(page, "assessments")

    ballots = {k.split("|")[0].split()[-1]: v for k, v in bars(page, "ballots").items()}
    assert ballots == {g: sum(r[f"ballots_{g}"] for r in grades) for g in ("excellent", "competent", "basically_competent",
                                                                           "incompetent")}
    assert ": 1" in metric(page, "grades.withheld")
    finals = bars(page, "final-grades")
    assert finals["清水镇 qingshui-township 2025 下派年度考核|优秀 excellent"] == 1


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
    page.wait_for_selector(f"[data-table=cadres] td a:text-is('{ids['C1']}')")  # the id is a link to the dossier
    page.click(f"[data-table=cadres] td a:text-is('{ids['C1']}')")
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



# ---- the QA pass's findings ------------------------------------------------------------------------

@contextmanager
def opened(browser: Any, county: tuple[Running, dict[str, Any]], query: str, tz: str = "UTC", width: int = 1300,
           view: str | None = "gates", tolerate: str | None = None) -> Iterator[Any]:
    """A page of its own (time zone, width) at /reporting/dashboard?<query>; no console errors or warnings
    except those containing `tolerate`."""
    context = browser.new_context(timezone_id=tz, viewport={"width": width, "height": 900})
    page = context.new_page()
    problems: list[str] = []
    page.on("console", lambda m: problems.append(f"console.{m.type}: {m.text}")
            if m.type in ("error", "warning") and not (tolerate and tolerate in m.text) else None)
    page.on("pageerror", lambda e: problems.append(f"page error: {e}"))
    page.goto(county[0].api.base + "/reporting/dashboard?" + query)
    if view:
        ready(page, view)
    else:
        page.wait_for_selector("main[data-ready=true]", timeout=15_000)
    yield page
    context.close()
    assert problems == [], problems


def first_event(run: Running, type_: str) -> dict[str, Any]:
    return dict(run.api.get("/reporting/timeline", type=type_, order="asc", limit=1).json()["items"][0])


def local(iso: str, tz: str) -> str:
    return datetime.fromisoformat(iso).astimezone(ZoneInfo(tz)).strftime("%Y-%m-%d %H:%M:%S")


def test_a_link_keeps_its_moment_to_the_microsecond(browser: Any, county: tuple[Running, dict[str, Any]]) -> None:
    run = county[0]
    raised = first_event(run, "posting.CheckInOverdue")["recorded_at"]  # P2's alert; P4's comes later
    assert run.api.get("/reporting/compliance", as_of=raised).json()["responsibility"]["overdue_check_ins"] == 1
    for written in (quote(raised.replace("+00:00", "Z")), raised):  # the second: "+" unencoded, read as a space
        with opened(browser, county, f"token=dev-auditor&as_of={written}", tz="Asia/Shanghai") as page:
            assert metric(page, "responsibility.overdue_check_ins") == "1", written  # not the millisecond before
            label = page.inner_text("#as-of-label")
            assert f"{local(raised, 'Asia/Shanghai')} (UTC+8)" in label
            page.click("#as-of-form button[type=submit]")  # the form unchanged keeps the exact moment
            ready(page, "gates")
            assert metric(page, "responsibility.overdue_check_ins") == "1"


def test_every_moment_is_shown_in_the_readers_zone(browser: Any, county: tuple[Running, dict[str, Any]]) -> None:
    run = county[0]
    newest = run.api.get("/reporting/timeline", limit=1).json()["items"][0]
    with opened(browser, county, "token=dev-auditor&view=timeline", tz="Asia/Shanghai", view="timeline") as page:
        page.wait_for_selector("[data-table=timeline]")
        assert "(UTC+8)" in page.inner_text("[data-table=timeline] th >> nth=0")
        first = page.inner_text("[data-table=timeline] tbody tr >> nth=0 >> td >> nth=0")
        assert first.startswith(f"{local(newest['recorded_at'], 'Asia/Shanghai')} (UTC+8)")
        assert "当前 now (UTC+8)" in page.inner_text("#as-of-label")
        # each row links to the record as of its own moment, exactly
        link = page.get_attribute("[data-table=timeline] tbody tr >> nth=0 >> a.as-of-link", "href")
        assert parse_qs(urlsplit(link).query)["as_of"] == [newest["recorded_at"]]


def test_a_moment_that_is_no_moment_is_an_error_and_a_future_one_is_said_to_be_now(
        browser: Any, county: tuple[Running, dict[str, Any]]) -> None:
    for bad in ("garbage", "2026-02-30T00:00:00Z", "2026-13-01T00:00:00Z"):
        with opened(browser, county, f"token=dev-auditor&as_of={quote(bad)}") as page:
            label = page.inner_text("#as-of-label")
            assert "无法识别的时刻" in label and "not a valid moment" in label and bad in label
            assert page.get_attribute("#as-of-label", "role") == "alert"
            assert metric(page, "responsibility.overdue_check_ins") == "1"  # now
            assert "as_of=" not in page.url
    with opened(browser, county, "token=dev-auditor&as_of=2099-01-01T00:00:00Z", tz="Asia/Shanghai") as page:
        label = page.inner_text("#as-of-label")
        assert "2099-01-01 08:00:00 (UTC+8)" in label and "尚未到来" in label and "in the future" in label
        assert metric(page, "responsibility.overdue_check_ins") == "1"


def test_the_year_list_holds_the_plan_years_and_scopes_are_named(browser: Any,
                                                                  county: tuple[Running, dict[str, Any]]) -> None:
    planned = first_event(county[0], "posting.PlacementPlanRecorded")["recorded_at"]  # before any placement
    with opened(browser, county, f"token=dev-auditor&as_of={quote(planned)}") as page:
        years = page.eval_on_selector_all("#year option", "os => os.map(o => o.value)")
        assert "2025" in years and str(datetime.now(UTC).year) in years
        assert page.input_value("#year") == "2025"
        plan = bars(page, "plan-vs-actual")
        assert plan["补短型 gap_filling|计划 planned"] == 2 and plan["补短型 gap_filling|实际 actual"] == 0
        cards = page.eval_on_selector_all(".gate h3", "hs => hs.map(h => h.innerText)")
        assert "全部年度" in cards[0] and "全部年度" in cards[3], cards


def year_figures(page: Any) -> tuple[str, str]:
    return metric(page, "method.total"), metric(page, "responsibility.assessments_not_opened")


def figures_by_year(county: tuple[Running, dict[str, Any]]) -> tuple[int, dict[int, tuple[str, str]]]:
    """This year, and what `year_figures` should read for 2025 and for this year (the API's answers)."""
    api, this_year = county[0].api, datetime.now(UTC).year
    expected = {}
    for year in (2025, this_year):
        gates = api.get("/reporting/compliance", year=year).json()
        expected[year] = (str((gates["method"]["gap_filling"] or {"total": 0})["total"]),  # no plan: 0
                          str(gates["responsibility"]["assessments_not_opened"]))
    assert expected[2025] != expected[this_year]  # else the page could not tell which year it shows
    return this_year, expected


def test_a_link_with_a_year_opens_that_year_and_choosing_one_puts_it_in_the_address(
        browser: Any, county: tuple[Running, dict[str, Any]]) -> None:
    this_year, expected = figures_by_year(county)

    with opened(browser, county, f"token=dev-auditor&year={this_year}") as page:
        assert page.input_value("#year") == str(this_year)
        assert year_figures(page) == expected[this_year]

        page.select_option("#year", "2025")
        page.wait_for_function("() => new URL(location.href).searchParams.get('year') === '2025'")
        ready(page, "gates")
        assert year_figures(page) == expected[2025]
        open_view(page, "placements")
        assert "year=2025" in page.url  # the year goes with the reader from view to view

        page.go_back()
        page.go_back()  # the year chosen before
        page.wait_for_function(f"() => document.querySelector('#year').value === '{this_year}'")
        ready(page, "gates")
        assert year_figures(page) == expected[this_year]

    with opened(browser, county, "token=dev-auditor&year=20x5") as page:  # no year: the default one, said so
        assert page.input_value("#year") == "2025" and "year=" not in page.url
        assert year_figures(page) == expected[2025]


def test_a_view_overtaken_by_another_never_shows(browser: Any, county: tuple[Running, dict[str, Any]]) -> None:
    """The reader chooses 2025, then this year, before 2025's answer comes: when it comes, late, the page keeps
    showing this year, once — not 2025's figures, nor both."""
    this_year, expected = figures_by_year(county)
    with opened(browser, county, f"token=dev-auditor&year={this_year}") as page:
        page.evaluate("""() => { const fetchNow = window.fetch;
          window.fetch = (url, ...rest) => (String(url).includes("year=2025")
            ? new Promise((resolve) => setTimeout(resolve, 1500)).then(() => fetchNow(url, ...rest))
              .then((answer) => { setTimeout(() => { window.lateAnswerDrawn = true; }, 200); return answer; })
            : fetchNow(url, ...rest)); }""")
        page.select_option("#year", "2025")
        page.select_option("#year", str(this_year))
        ready(page, "gates")
        assert year_figures(page) == expected[this_year]
        page.wait_for_function("() => window.lateAnswerDrawn === true")  # 2025's answer came, and was drawn unseen
        assert page.locator("main .view-title").count() == 1
        assert year_figures(page) == expected[this_year]
        assert page.get_attribute("main", "data-ready") == "true"


def test_a_page_of_a_list_answered_late_does_not_replace_the_page_asked_for_after_it(page: Any) -> None:
    """In the audit timeline, the reader asks for page 3, then (before it comes) back to page 1: page 1 stays."""
    open_view(page, "timeline")
    page.wait_for_selector("[data-table=timeline] tbody tr")
    page.evaluate("""() => { const fetchNow = window.fetch;
      window.fetch = (url, ...rest) => (String(url).includes("/timeline?") && String(url).includes("offset=40")
        ? new Promise((resolve) => setTimeout(resolve, 1500)).then(() => fetchNow(url, ...rest))
          .then((answer) => { setTimeout(() => { window.lateAnswerDrawn = true; }, 200); return answer; })
        : fetchNow(url, ...rest)); }""")
    page.click(".pager button:has-text('下一页')")
    page.wait_for_selector(".pager .pageinfo:has-text('第 21–40 条')")
    page.click(".pager button:has-text('下一页')")  # page 3: its answer is held back
    page.click(".pager button:has-text('上一页')")  # page 1 instead, at once
    page.wait_for_selector(".pager .pageinfo:has-text('第 1–20 条')")
    page.wait_for_function("() => window.lateAnswerDrawn === true")
    assert page.inner_text(".pager .pageinfo").startswith("第 1–20 条")


def test_gate_numbers_open_their_lists(page: Any) -> None:
    for key, list_ in (("responsibility.overdue_check_ins", "overdue"), ("selection.stuck", "stuck"),
                       ("responsibility.unsigned_agreements", "unsigned"),
                       ("responsibility.assessments_not_finalised", "missing")):
        open_view(page, "gates")
        page.click(f"a[data-metric='{key}']")
        ready(page, "alerts")
        assert page.url.endswith(f"#list-{list_}"), key
        assert page.evaluate(f"document.activeElement.closest('#list-{list_}') !== null"), key
    page.go_back()
    ready(page, "gates")


def test_chart_labels_fit_and_bars_read(page: Any) -> None:
    long = ["city-development-commission 2025 下派年度考核",
            "a-very-long-unit-name-that-cannot-possibly-fit-anywhere 2025 期满考核"]
    out = page.evaluate("""(long) => {
      const fig = Charts.barChart({ id: "probe", title: "probe", horizontal: true, stacked: true, xLabel: "x", yLabel: "y",
        categories: long, series: [{ name: "s", values: [1, 2] }] });
      const col = Charts.barChart({ id: "probe2", title: "probe2", xLabel: "x", yLabel: "y",
        categories: ["基本称职 basically_competent", "不称职 incompetent", "优秀 excellent", "称职 competent",
                     "基本称职 basically_competent", "不称职 incompetent"],
        series: [{ name: "s", values: [1, 2, 3, 4, 5, 6] }] });
      document.body.append(fig, col);
      const outside = [];
      for (const svg of [fig.querySelector("svg"), col.querySelector("svg")]) {
        const width = svg.viewBox.baseVal.width;
        svg.querySelectorAll("text:not([transform])").forEach((t) => { const b = t.getBBox();
          if (b.x < -0.5 || b.x + b.width > width + 0.5) outside.push(t.textContent); });
      }
      const titles = [...fig.querySelectorAll("text.category title")].map((t) => t.textContent);
      fig.remove(); col.remove();
      return { outside, titles };
    }""", long)
    assert out["outside"] == [] and long[1] in out["titles"], out
    for view in ("gates", "placements", "assessments"):
        open_view(page, view)
        outside = page.evaluate("""() => [...document.querySelectorAll("[data-chart] svg")].flatMap((svg) =>
          [...svg.querySelectorAll("text:not([transform])")].filter((t) => { const b = t.getBBox();
            return b.x < -0.5 || b.x + b.width > svg.viewBox.baseVal.width + 0.5; }).map((t) => t.textContent))""")
        assert outside == [], (view, outside)
        labels = page.eval_on_selector_all("[data-chart] svg", "ss => ss.map(s => s.getAttribute('aria-label'))")
        assert labels and all(re.search(r"。.+: .*\d", label or "") for label in labels), labels
    open_view(page, "gates")
    assert "补短型 gap_filling: 计划 planned 2, 实际 actual 2" in page.get_attribute("[data-chart=plan-vs-actual] svg",
                                                                                   "aria-label")
    open_view(page, "placements")
    inside = page.eval_on_selector_all("[data-chart] text.inside", "ts => ts.map(t => [t.getAttribute('fill'), t.dataset.on])")
    assert inside and all(contrast(fg, bg) >= 4.5 for fg, bg in inside), inside


def contrast(a: str, b: str) -> float:
    def lum(hex_: str) -> float:
        c = [int(hex_[i:i + 2], 16) / 255 for i in (1, 3, 5)]
        r, g, b_ = (x / 12.92 if x <= 0.03928 else ((x + 0.055) / 1.055) ** 2.4 for x in c)
        return 0.2126 * r + 0.7152 * g + 0.0722 * b_
    hi, lo = sorted((lum(a), lum(b)), reverse=True)
    return (hi + 0.05) / (lo + 0.05)


def test_a_phone_wide_page_does_not_scroll_sideways(browser: Any, county: tuple[Running, dict[str, Any]]) -> None:
    with opened(browser, county, "token=dev-auditor", width=390) as page:
        for view in ("gates", "placements", "assessments", "alerts"):
            open_view(page, view)
            assert page.evaluate("document.documentElement.scrollWidth") <= 390, view
        now = page.locator("#as-of-now").bounding_box()
        assert now["width"] > now["height"], now  # one line, not a character per line


def test_codes_have_their_chinese_labels(page: Any, county: tuple[Running, dict[str, Any]]) -> None:
    open_view(page, "alerts")
    page.wait_for_selector("[data-table=unsigned] tbody tr")
    assert "接收单位 host_unit" in page.inner_text("[data-table=unsigned] tbody")
    assert "进行中 open" in page.inner_text("[data-table=missing] tbody")
    open_view(page, "timeline")
    page.wait_for_selector("[data-table=timeline] tbody tr")
    roles = page.inner_text("[data-table=timeline] tbody")
    assert "组织部门 organisation_department" in roles and "系统对接 integration" in roles


def test_a_unit_token_is_told_in_chinese_it_may_not_read(browser: Any, county: tuple[Running, dict[str, Any]]) -> None:
    with opened(browser, county, "token=dev-host-qingshui", view=None, tolerate="status of 403") as page:
        page.wait_for_selector(".error")
        assert "本单位无权查看此项" in page.inner_text(".error")
        assert "dev-" not in (page.get_attribute("#token-input", "placeholder") or "")
        assert page.locator("label[for=token-input]").count() == 1


def test_the_page_works_from_the_keyboard(page: Any, county: tuple[Running, dict[str, Any]]) -> None:
    run, ids = county
    assert page.get_attribute("nav button[aria-current=page]", "data-view") == "gates"
    headings = page.eval_on_selector_all("main h2, main h3", "hs => hs.map(h => h.tagName)")
    assert headings[0] == "H2"

    open_view(page, "placements")
    assert page.get_attribute("nav button[aria-current=page]", "data-view") == "placements"
    page.wait_for_selector("[data-table=placements] tbody tr a")
    page.focus(f"[data-table=placements] tbody tr a:text-is('{ids['P1']}')")
    page.keyboard.press("Enter")
    ready(page, "dossier")
    assert metric(page, "dossier.name").startswith("李明")

    open_view(page, "timeline")
    expected = run.api.get("/reporting/timeline", cadre_id=ids["C1"]).json()["total"]
    assert page.locator("label:has(#filter-cadre_id)").count() == 1
    page.fill("#filter-cadre_id", ids["C1"])
    page.press("#filter-cadre_id", "Enter")
    page.wait_for_selector(f"[data-table=timeline][data-total='{expected}']")


def test_a_dossier_has_its_own_address_and_business_dates(browser: Any, county: tuple[Running, dict[str, Any]]) -> None:
    ids = county[1]
    with opened(browser, county, f"token=dev-auditor&cadre={ids['C1']}", view="dossier") as page:
        assert metric(page, "dossier.name").startswith("李明")
        check_in = page.inner_text("ol.events li:has-text('posting.CheckInRecorded')")
        assert "业务日期 2025-04-01" in check_in and "thinking: 稳定" in check_in
        training = page.inner_text("ol.events li:has-text('posting.TrainingRecorded')")
        assert "业务日期 2025-05-01" in training and "course: 乡村振兴" in training
        assert "业务日期 2025-02-01" in page.inner_text("ol.events li:has-text('selection.NominationApproved')")
        page.click("text=‹ 返回 back")
        ready(page, "dossier")
        assert "cadre=" not in page.url
        page.fill("#cadre-search", "王芳")
        page.press("#cadre-search", "Enter")
        page.click(f"[data-table=cadres] td >> text={ids['C2']}")
        page.wait_for_selector("[data-metric='dossier.name']")
        assert f"cadre={ids['C2']}" in page.url
        page.go_back()
        ready(page, "dossier")
        assert page.locator("#cadre-search").count() == 1
