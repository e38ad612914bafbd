"""Bulk CSV import and export of the cadre register and nominations, through a real selection process.

Runs on a database of its own (the test database's name + `_csv`: `fourgates_test_csv` by default, and apart
for a run given another FOURGATES_TEST_DB), so it can run beside the other service tests.
"""
from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
import requests
from openapi_schema_validator import OAS30Validator

from tests.support.api import TOKENS, Api, uid
from tests.support.dates import born_years_ago
from tests.support.selection import running_selection

HEADER = "cadre_id,name,rank,home_unit,birth_date,grassroots_experience,fit_for_duty,reserve_cadre,open_disciplinary_matter"


def integration_db() -> str:
    from tests.conftest import sibling_db

    return sibling_db("csv")


@pytest.fixture(scope="module")
def running(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    with running_selection(integration_db(), tmp_path_factory.mktemp("logs")) as running:
        yield running


@pytest.fixture
def api(running: dict[str, Any]) -> Api:
    return running["api"]


def post_csv(api: Api, text: str, as_: str = "hr", content_type: str = "text/csv; charset=utf-8",
             **headers: str) -> requests.Response:
    return requests.post(api.base + "/selection/cadres/import", data=text.encode("utf-8"), timeout=60,
                         headers={"Authorization": f"Bearer {TOKENS[as_]}", "Content-Type": content_type, **headers})


def event_count(running: dict[str, Any]) -> int:
    with psycopg.connect(running["db"]) as conn:
        return int(conn.execute("SELECT count(*) FROM selection.events").fetchone()[0])


def rows(*cadres: tuple[Any, ...]) -> str:
    return "\r\n".join([HEADER, *(",".join(map(str, c)) for c in cadres)]) + "\r\n"


def read_csv(response: requests.Response) -> list[dict[str, str]]:
    assert response.status_code == 200, response.text
    assert response.headers["Content-Type"].startswith("text/csv")
    assert response.content.startswith("\ufeff".encode())  # the BOM, for Excel
    return list(csv.DictReader(io.StringIO(response.content.decode("utf-8-sig"))))


def test_an_import_registers_every_row_and_a_reimport_of_the_same_file_changes_nothing(running: dict[str, Any]) -> None:
    api, a, b, c = running["api"], uid("c"), uid("c"), uid("c")
    text = "\ufeff" + rows(
        (a, "李明", "deputy_section", "county-finance", "1992-05-01", "false", "true", "true", "false"),
        (b, "王芳", "section_chief", "county-education", "1988/11/20", "是", "TRUE", "否", "false"),
        (c, '"赵, 小红"', "clerk", "county-finance", "1996年3月9日", "true", "true", "", ""),
    )
    before = event_count(running)

    first = post_csv(api, text)

    assert first.status_code == 200, first.text
    body = first.json()
    assert (body["rows"], body["registered"], body["updated"], body["unchanged"]) == (3, 3, 0, 0)
    assert [r["line"] for r in body["results"]] == [2, 3, 4]
    assert [e["type"] for e in body["events"]] == ["selection.CadreRegistered"] * 3
    assert event_count(running) == before + 3
    wang = api.get(f"/selection/cadres/{b}").json()
    assert (wang["birth_date"], wang["grassroots_experience"], wang["reserve_cadre"]) == ("1988-11-20", True, False)
    assert api.get(f"/selection/cadres/{c}").json()["name"] == "赵, 小红"

    again = post_csv(api, text)

    assert again.status_code == 200, again.text
    assert (again.json()["unchanged"], again.json()["events"]) == (3, [])
    assert event_count(running) == before + 3


def test_the_json_wrapper_is_accepted_and_a_changed_row_is_one_update(running: dict[str, Any]) -> None:
    api, cadre_id = running["api"], uid("c")
    line = [cadre_id, "周强", "clerk", "county-finance", "1995-01-01", "false", "true", "false", "false"]
    assert post_csv(api, rows(tuple(line))).status_code == 200
    line[2] = "deputy_section"
    before = event_count(running)

    changed = api.post("/selection/cadres/import", {"csv": rows(tuple(line)), "reason": "人事系统月度同步"}, "hr",
                       **{"X-Correlation-Id": "sync-2025-03"})

    assert changed.status_code == 200, changed.text
    assert (changed.json()["updated"], [e["type"] for e in changed.json()["events"]]) == (1, ["selection.CadreUpdated"])
    assert event_count(running) == before + 1
    with psycopg.connect(running["db"]) as conn:
        meta = conn.execute("SELECT metadata FROM selection.events WHERE event_id = %s",
                            (changed.json()["events"][0]["id"],)).fetchone()[0]
    assert meta["correlation_id"] == "sync-2025-03" and meta["actor"]["principal"] == "hr.sync"


def test_a_file_with_bad_rows_applies_nothing_and_names_each_line_field_and_rule(running: dict[str, Any]) -> None:
    api, good, dup = running["api"], uid("c"), uid("c")
    text = rows(
        (good, "李明", "deputy_section", "county-finance", "1992-05-01", "false", "true", "true", "false"),   # line 2
        (uid("c"), "王芳", "emperor", "county-education", "1988-11-20", "true", "true", "false", "false"),     # line 3
        (uid("c"), "赵六", "clerk", "county-finance", "2001-02-31", "maybe", "true", "false", "false"),        # line 4
        (dup, "", "clerk", "county-finance", "1996-03-09", "true", "true", "false", "false"),                # line 5
        (dup, "孙七", "clerk", "county finance!", "1996-03-09", "true", "true", "false", "false"),            # line 6
        ("bad id", "钱八", "clerk", "county-finance", "1930-01-01", "true", "true", "false", "false"),        # line 7
    )
    before = event_count(running)

    refused = post_csv(api, text)

    assert refused.status_code == 422, refused.text
    assert refused.headers["Content-Type"].startswith("application/problem+json")
    problem = refused.json()
    assert problem["rule"] == "csv_invalid" and "nothing was applied" in problem["detail"]
    served = requests.get(api.base + "/selection/openapi.json", timeout=10).json()["components"]["schemas"]["Problem"]
    OAS30Validator({**served, "additionalProperties": False}).validate(problem)  # the refusal is what the document says
    assert {(e["line"], e["field"], e["rule"]) for e in problem["errors"]} == {
        (3, "rank", "one_of"),
        (4, "birth_date", "type"),
        (4, "grassroots_experience", "type"),
        (5, "name", "required"),
        (6, "cadre_id", "duplicate"),
        (6, "home_unit", "pattern"),
        (7, "cadre_id", "pattern"),
        (7, "birth_date", "range"),
    }
    assert all(e["message"] for e in problem["errors"])
    assert event_count(running) == before
    assert api.get(f"/selection/cadres/{good}").status_code == 404


def test_a_bad_header_is_refused_on_line_one(api: Api) -> None:
    refused = post_csv(api, "cadre_id,name,blood_type\r\nc-1,李明,A\r\n")

    assert refused.status_code == 422
    errors = {(e["line"], e["field"], e["rule"]) for e in refused.json()["errors"]}
    assert (1, "blood_type", "unknown_column") in errors
    assert {(1, name, "missing_column") for name in ("rank", "home_unit", "birth_date")} <= errors


def test_a_row_the_register_refuses_rejects_the_whole_file(running: dict[str, Any]) -> None:
    api, erased, fresh = running["api"], uid("c"), uid("c")
    assert post_csv(api, rows((erased, "张三", "clerk", "county-finance", "1995-01-01", "false", "true", "false", "false"))
                    ).status_code == 200
    assert api.post(f"/selection/cadres/{erased}/erasure", {"reason": "本人依法申请删除"}, "od").status_code == 200
    before = event_count(running)

    refused = post_csv(api, rows(
        (fresh, "新人", "clerk", "county-finance", "1995-01-01", "false", "true", "false", "false"),
        (erased, "张三", "clerk", "county-finance", "1995-01-01", "false", "true", "false", "false"),
    ))

    assert refused.status_code == 422, refused.text
    assert [(e["line"], e["field"], e["rule"]) for e in refused.json()["errors"]] == [(3, "cadre_id", "personal_data_erased")]
    assert event_count(running) == before
    assert api.get(f"/selection/cadres/{fresh}").status_code == 404


def test_an_empty_cell_keeps_the_stored_value_and_a_changed_reserve_flag_is_refused(running: dict[str, Any]) -> None:
    api, cadre_id = running["api"], uid("c")
    assert post_csv(api, rows((cadre_id, "张三", "clerk", "county-finance", "1995-01-01", "false", "true", "false",
                               "true"))).status_code == 200
    assert api.post(f"/selection/cadres/{cadre_id}/reserve-pool", {"reason": "列入后备干部"}, "od").status_code == 200

    kept = post_csv(api, rows((cadre_id, "张三", "clerk", "county-finance", "1995-01-01", "false", "true", "", "")))

    assert kept.status_code == 200 and kept.json()["results"][0]["outcome"] == "unchanged", kept.text
    view = api.get(f"/selection/cadres/{cadre_id}").json()
    assert (view["reserve_cadre"], view["open_disciplinary_matter"]) == (True, True)
    before = event_count(running)
    refused = post_csv(api, rows((cadre_id, "张三", "clerk", "county-finance", "1995-01-01", "false", "true", "false", "")))
    assert refused.status_code == 422, refused.text
    assert [(e["line"], e["field"], e["rule"]) for e in refused.json()["errors"]] == [(2, "reserve_cadre", "reserve_pool_change")]
    assert event_count(running) == before


def test_only_registrars_may_import_and_only_csv_or_json_is_accepted(api: Api) -> None:
    text = rows((uid("c"), "李明", "clerk", "county-finance", "1995-01-01", "false", "true", "false", "false"))
    assert post_csv(api, text, as_="finance").status_code == 403
    assert post_csv(api, text, as_="od").status_code == 200
    assert requests.post(api.base + "/selection/cadres/import", data=text, timeout=30,
                         headers={"Content-Type": "text/csv"}).status_code == 401
    wrong = post_csv(api, text, content_type="text/plain")
    assert wrong.status_code == 415 and "text/csv" in wrong.json()["detail"]
    assert post_csv(api, HEADER + "\r\n").json()["errors"][0]["rule"] == "no_rows"


def test_a_file_excel_saved_in_gb18030_is_read_when_the_charset_is_named(api: Api) -> None:
    cadre_id = uid("c")
    text = rows((cadre_id, "欧阳娜", "clerk", "county-finance", "1995-01-01", "否", "是", "否", "否"))
    response = requests.post(api.base + "/selection/cadres/import", data=text.encode("gb18030"), timeout=30,
                             headers={"Authorization": f"Bearer {TOKENS['hr']}", "Content-Type": "text/csv; charset=gb18030"})
    assert response.status_code == 200, response.text
    assert api.get(f"/selection/cadres/{cadre_id}").json()["name"] == "欧阳娜"
    undecodable = requests.post(api.base + "/selection/cadres/import", data=text.encode("gb18030"), timeout=30,
                                headers={"Authorization": f"Bearer {TOKENS['hr']}", "Content-Type": "text/csv"})
    assert undecodable.status_code == 400 and undecodable.json()["rule"] == "malformed_text"


def test_a_retried_import_with_the_same_idempotency_key_returns_the_first_result(running: dict[str, Any]) -> None:
    api, key = running["api"], uid("import")
    text = rows((uid("c"), "李明", "clerk", "county-finance", "1995-01-01", "false", "true", "false", "false"),
                (uid("c"), "王芳", "clerk", "county-finance", "1995-01-01", "false", "true", "false", "false"))
    first = post_csv(api, text, **{"Idempotency-Key": key})
    before = event_count(running)

    retry = post_csv(api, text, **{"Idempotency-Key": key})

    assert retry.status_code == 200 and retry.json()["replayed"] is True
    assert retry.json()["events"] == first.json()["events"] and retry.json()["registered"] == 2
    assert event_count(running) == before
    another = post_csv(api, rows((uid("c"), "赵六", "clerk", "county-finance", "1995-01-01", "false", "true", "false",
                                  "false")), **{"Idempotency-Key": key})
    assert another.status_code == 422 and another.json()["rule"] == "idempotency_key", another.text
    assert event_count(running) == before


def test_the_cadre_export_has_labels_beside_codes_and_imports_again_unchanged(running: dict[str, Any]) -> None:
    api, plain, formula, erased = running["api"], uid("c"), uid("c"), uid("c")
    assert post_csv(api, rows(
        (plain, "李明", "section_chief", "county-finance", "1992-05-01", "false", "true", "true", "false"),
        (formula, "=HYPERLINK(1)", "clerk", "county-finance", "1995-01-01", "false", "true", "false", "false"),
        (erased, "张三", "clerk", "county-finance", "1995-01-01", "false", "true", "false", "false"),
    )).status_code == 200
    assert api.post(f"/selection/cadres/{erased}/erasure", {"reason": "本人依法申请删除"}, "od").status_code == 200

    exported = requests.get(api.base + "/selection/cadres/export.csv", timeout=30,
                            headers={"Authorization": f"Bearer {TOKENS['hr']}"})

    by_id = {row["cadre_id"]: row for row in read_csv(exported)}
    assert 'filename="cadres.csv"' in exported.headers["Content-Disposition"]
    assert list(by_id[plain]) == ["cadre_id", "name", "rank", "rank_label", "home_unit", "birth_date",
                                  "grassroots_experience", "fit_for_duty", "reserve_cadre", "open_disciplinary_matter",
                                  "erased"]
    assert (by_id[plain]["name"], by_id[plain]["rank"], by_id[plain]["rank_label"]) == ("李明", "section_chief", "正科")
    assert (by_id[plain]["birth_date"], by_id[plain]["reserve_cadre"]) == ("1992-05-01", "true")
    assert by_id[formula]["name"] == "'=HYPERLINK(1)"  # shown as text by a spreadsheet, never run
    assert (by_id[erased]["erased"], by_id[erased]["name"]) == ("true", "[已删除 erased]")
    before = event_count(running)

    again = post_csv(api, exported.content.decode("utf-8"))

    assert again.status_code == 200, again.text
    assert again.json()["events"] == [] and again.json()["unchanged"] == again.json()["rows"] >= 3
    assert event_count(running) == before
    assert api.get(f"/selection/cadres/{formula}").json()["name"] == "=HYPERLINK(1)"


def test_the_nomination_export_shows_each_nomination_with_its_labels(running: dict[str, Any]) -> None:
    api, cadre_id, nomination_id = running["api"], uid("c"), uid("n")
    # Recommended today, so born a fixed number of years before today: a fixed birth date outgrows the age cap
    # (1992-05-01 turned 41, over deputy_section's 40, on 2033-05-01, and the row read blocked=true).
    assert post_csv(api, rows((cadre_id, "李明", "deputy_section", "county-finance", born_years_ago(30), "false", "true",
                               "true", "false"))).status_code == 200
    recommended = api.post("/selection/nominations", {
        "nomination_id": nomination_id, "cadre_id": cadre_id, "placement_type": "gap_filling",
        "host_unit": "qingshui-township", "host_post": "副镇长", "post_level": "deputy_section",
        "posting_mode": "same_level", "reason": "年轻干部缺少基层经历"}, "finance")
    assert recommended.status_code == 201, recommended.text

    exported = requests.get(api.base + "/selection/nominations/export.csv", timeout=30,
                            headers={"Authorization": f"Bearer {TOKENS['od']}"})

    row = {r["nomination_id"]: r for r in read_csv(exported)}[nomination_id]
    assert (row["cadre_id"], row["status"], row["status_label"]) == (cadre_id, "recommended", "单位已推荐")
    assert (row["placement_type_label"], row["posting_mode_label"], row["post_level_label"]) == ("补短型", "平职挂", "副科")
    assert (row["host_post"], row["blocked"], row["policy_version"]) == ("副镇长", "false", "county-2025")
    assert requests.get(api.base + "/selection/nominations/export.csv", timeout=30,
                        headers={"Authorization": f"Bearer {TOKENS['finance']}"}).status_code == 403
