"""Is gap-filling (补短型) the main type, as the plan requires? Judged per year from plan and actual rows."""
from __future__ import annotations

from typing import Any

from services.reporting.summaries import gap_filling_check


def year(planned: tuple[int, int, int] | None, actual: tuple[int, int, int]) -> list[dict[str, Any]]:
    types = ("gap_filling", "strength", "docking")
    return [{"year": 2025, "placement_type": t, "planned": planned[i] if planned else None, "actual": actual[i]}
            for i, t in enumerate(types)]


def verdict(planned: tuple[int, int, int] | None, actual: tuple[int, int, int]) -> Any:
    return list(gap_filling_check(year(planned, actual)))[0]["compliant"]


def test_a_plan_wanting_gap_filling_first_is_met_when_it_leads_and_breached_when_it_does_not() -> None:
    assert verdict((19, 5, 3), (19, 5, 3)) is True
    assert verdict((19, 5, 3), (2, 5, 3)) is False


def test_nothing_placed_yet_is_not_judged_rather_than_a_breach() -> None:
    assert verdict((19, 5, 3), (0, 0, 0)) is None


def test_without_a_plan_that_asks_for_it_there_is_nothing_to_breach() -> None:
    assert verdict(None, (0, 0, 0)) is True
    assert verdict((1, 5, 3), (0, 4, 0)) is True
