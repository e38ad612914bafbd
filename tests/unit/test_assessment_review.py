"""Edge cases of the assessment gate found in review: equal effective dates, end-of-term years, rounding at a
threshold, and ballots shown one by one."""
from __future__ import annotations

from dataclasses import replace
from datetime import date
from typing import Any

import pytest

from services.assessment import views
from services.assessment.domain import (
    PLACEMENT_COMPLETED,
    AdoptPolicy,
    CampaignSettings,
    CastBallot,
    OpenAssessment,
    PolicyAdopted,
    apply_posting_event,
    composite_score,
    decide_adopt_policy,
    decide_cast_ballot,
    decide_open_assessment,
    fold_policies,
    policy_in_force,
    proposed_grade,
)
from tests.unit.test_assessment_domain import ORG, POLICY, ROSTER, ctx, opened, refused

# Exactly 59.995 in decimal: democratic 66.25 (.3*60 + .4*62.5 + .3*77.5), performance 55.825.
AT_HALF_A_HUNDREDTH = {
    "leaders": {"basically_competent": 10},
    "colleagues": {"excellent": 3, "competent": 1, "basically_competent": 2, "incompetent": 2},
    "public": {"excellent": 1, "competent": 5, "basically_competent": 2},
}
SCORES_AT_HALF = {"work_performance": 59.5, "public_recognition": 20.25, "quality_improvement": 100.0}


def test_a_policy_adopted_later_with_the_same_effective_date_is_the_one_in_force() -> None:
    revised = replace(POLICY, version="county-2024-revised", min_group_count=3)
    assert policy_in_force([POLICY, revised], date(2024, 6, 1)) is revised


def test_an_end_of_term_appraisal_is_not_dated_in_a_year_that_has_not_begun_or_before_the_placement() -> None:
    completed = apply_posting_event(ROSTER, PLACEMENT_COMPLETED, {"placement_id": "P1"})
    with refused("assessment_year_in_future"):
        decide_open_assessment(None, OpenAssessment("P1", "end_of_term", 2999), ctx(), completed, POLICY)
    with refused("assessment_year_before_placement"):
        decide_open_assessment(None, OpenAssessment("P1", "end_of_term", 2023), ctx(), completed, POLICY)


def test_a_composite_of_exactly_half_a_hundredth_rounds_up_to_the_threshold() -> None:
    composite = composite_score(AT_HALF_A_HUNDREDTH, SCORES_AT_HALF, POLICY)
    assert composite == 60.0 and proposed_grade(composite, POLICY) == "basically_competent"


def test_a_team_composite_of_exactly_half_a_hundredth_rounds_up_to_the_threshold() -> None:
    settings = CampaignSettings(version="city-2024")
    composite = settings.composite(60.5, 88.35, 0.0)  # .3 * 60.5 + .7 * 88.35 = 79.995
    assert composite == 80.0 and settings.team_grade(composite) == "good"



def test_the_assessment_view_never_shows_one_ballots_grade() -> None:
    stream = opened()
    a = stream.state.assessment_id
    for grade in ("excellent", "competent", "incompetent", "competent", "competent"):
        stream.when(decide_cast_ballot, CastBallot(a, "colleagues", grade), ctx())
    democratic = views.democratic_view(stream.state)
    assert democratic["groups"]["colleagues"]["counts"]["competent"] == 3  # the group's count is shown
    ballots = [e for e in democratic["entries"] if e["rater_group"] == "colleagues"]
    assert len(ballots) == 5 and all("counts" not in e for e in ballots), ballots


@pytest.mark.parametrize("change", [
    {"grade_points": {"excellent": 1e308, "competent": 80, "basically_competent": 60, "incompetent": 0}},
    {"grade_points": {"excellent": 100, "competent": 80, "basically_competent": 60, "incompetent": -50}},
    {"grade_thresholds": {"excellent": 190, "competent": 75, "basically_competent": 60}},
])
def test_grade_points_and_thresholds_off_the_0_to_100_scale_are_refused_when_the_policy_is_adopted(
        change: dict[str, Any]) -> None:
    """Points of 1e308 were adopted and then made every read and finalisation of an assessment answer 500. Refused
    when adopted; a version already in the log stays readable (the log is folded without this rule)."""
    off_scale = replace(POLICY, version="off-scale", **change)
    field = next(iter(change))
    with refused(f"{field}_off_scale") as info:
        decide_adopt_policy([POLICY], AdoptPolicy(off_scale), ctx(ORG))
    assert info.value.details["field"] == field
    assert fold_policies([PolicyAdopted(off_scale.version, off_scale.as_dict())]) == (off_scale,)
