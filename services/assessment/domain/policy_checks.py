"""The rules an assessment policy must follow to be adopted, each refusal naming the field and the rule.

Checked when a version is adopted, never when the log is read back: a version adopted under looser rules
stays readable, and the assessments that froze it keep their meaning.
"""
from __future__ import annotations

from itertools import pairwise
from typing import TYPE_CHECKING

from .guards import SettingsRules
from .vocabulary import DIMENSIONS, GRADES

if TYPE_CHECKING:
    from .policy import AssessmentPolicy

RULES = SettingsRules("assessment policy rule")
SHARES = ("excellent_cap", "min_approval_share", "max_incompetent_share")


def check_policy(policy: AssessmentPolicy) -> None:
    """Refuse rules that could not be applied, with code `<field>_<rule>` and `field`."""
    if policy.min_group_count < 1:
        RULES.refuse("min_group_count", "below_one", f"at least 1 rater per group; got {policy.min_group_count}")
    for name in SHARES:
        if not 0 < getattr(policy, name) <= 1:
            RULES.refuse(name, "out_of_range", f"a share above 0 and at most 1; got {getattr(policy, name)}")
    RULES.weight_pair({"democratic_weight": policy.democratic_weight, "performance_weight": policy.performance_weight})
    if not policy.group_weights:
        RULES.refuse("group_weights", "empty", "at least one rater group is needed")
    RULES.weights("group_weights", policy.group_weights)
    if set(policy.dimension_weights) != set(DIMENSIONS):
        RULES.refuse("dimension_weights", "incomplete", f"one weight for each of {', '.join(DIMENSIONS)}; "
                f"got {sorted(policy.dimension_weights)}")
    RULES.weights("dimension_weights", policy.dimension_weights)
    _check_grades(policy)


def _check_grades(policy: AssessmentPolicy) -> None:
    if set(policy.grade_points) != set(GRADES):
        RULES.refuse("grade_points", "incomplete", f"points for each of {', '.join(GRADES)}; got {sorted(policy.grade_points)}")
    if set(policy.grade_thresholds) != set(GRADES[:-1]):
        RULES.refuse("grade_thresholds", "incomplete", f"a threshold for each of {', '.join(GRADES[:-1])}; "
                f"got {sorted(policy.grade_thresholds)}")
    thresholds = [policy.grade_thresholds[g] for g in GRADES[:-1]]
    if any(a <= b for a, b in pairwise(thresholds)):
        RULES.refuse("grade_thresholds", "not_descending", f"each grade's threshold above the next's; "
                f"got {dict(policy.grade_thresholds)}")
    for name, values in (("grade_points", policy.grade_points), ("grade_thresholds", policy.grade_thresholds)):
        if any(not 0 <= v <= 100 for v in values.values()):
            RULES.refuse(name, "off_scale", f"on the 0–100 scale of the scores; got {dict(values)}")
