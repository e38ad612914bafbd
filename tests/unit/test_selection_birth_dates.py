"""The youngest birth date a cadre may be registered with follows the calendar, not a fixed date."""
from __future__ import annotations

import json
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from services.selection.schemas import CadreIn, years_before
from tests.support.dates import born_years_ago, utc_today

OPENAPI = Path(__file__).resolve().parents[2] / "docs" / "openapi.json"


def cadre(birth_date: str) -> dict[str, Any]:
    return {"cadre_id": "c-1", "name": "李明", "rank": "clerk", "home_unit": "county-finance", "birth_date": birth_date,
            "grassroots_experience": False, "fit_for_duty": True}


def test_a_cadre_born_ten_years_ago_is_refused_and_one_born_twenty_years_ago_is_accepted() -> None:
    assert CadreIn().validate(cadre(born_years_ago(20))) == {}
    [message] = CadreIn().validate(cadre(born_years_ago(10)))["birth_date"]
    assert "at least 16 years old" in message and "年满16周岁" in message


def test_the_latest_birth_date_is_sixteen_years_before_today_to_the_day() -> None:
    latest = years_before(utc_today(), 16)
    assert CadreIn().validate(cadre(latest.isoformat())) == {}
    assert "birth_date" in CadreIn().validate(cadre((latest + timedelta(days=1)).isoformat()))


def test_the_29th_of_february_counts_back_to_the_28th_in_a_year_without_it() -> None:
    assert years_before(date(2116, 2, 29), 16) == date(2100, 2, 28)
    assert years_before(date(2028, 2, 29), 16) == date(2012, 2, 29)


def test_the_generated_api_document_states_the_rule_in_words_not_as_a_date_that_would_go_stale() -> None:
    spec = json.loads(OPENAPI.read_text(encoding="utf-8"))
    birth_date = spec["components"]["schemas"]["selection.CadreIn"]["properties"]["birth_date"]
    assert "x-maximum" not in birth_date and "maximum" not in birth_date
    assert "at least 16 years before today" in birth_date["description"]
