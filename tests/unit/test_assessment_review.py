"""Edge cases of the assessment gate found in review: equal effective dates, end-of-term years, rounding at a
threshold, and ballots shown one by one."""
from __future__ import annotations

from dataclasses import replace
from datetime import date

from services.assessment.domain import (
    policy_in_force,
)
from tests.unit.test_assessment_domain import POLICY

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
