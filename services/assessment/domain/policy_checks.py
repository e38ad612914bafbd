"""The rules an assessment policy must follow to be adopted, each refusal naming the field and the rule.

Checked when a version is adopted, never when the log is read back: a version adopted under looser rules
stays readable, and the assessments that froze it keep their meaning.
"""
from __future__ import annotations

from collections.abc import Mapping
from itertools import pairwise
from typing import TYPE_CHECKING

from services.backbone.domain import DomainError

from .guards import WEIGHT_TOLERANCE
from .vocabulary import DIMENSIONS, GRADES

if TYPE_CHECKING:
    from .policy import AssessmentPolicy

SHARES = ("excellent_cap", "min_approval_share", "max_incompetent_share")


def check_policy(policy: AssessmentPolicy) -> None:
    """Refuse rules that could not be applied, with code `<field>_<rule>` and `field`."""
    if policy.min_group_count < 1:
        _refuse("min_group_count", "below_one", f"at least 1 rater per group; got {policy.min_group_count}")
    for name in SHARES:
        if not 0 < getattr(policy, name) <= 1:
            _refuse(name, "out_of_range", f"a share above 0 and at most 1; got {getattr(policy, name)}")
    pair = {"democratic_weight": policy.democratic_weight, "performance_weight": policy.performance_weight}
    for name, weight in pair.items():
        if weight < 0:
            _refuse(name, "negative", f"a weight is 0 or more; got {weight}")
    if abs(sum(pair.values()) - 1) > WEIGHT_TOLERANCE:
        _refuse("democratic_weight", "sum_not_one", f"democratic_weight + performance_weight must be 1; got {pair}")
    if not policy.group_weights:
        _refuse("group_weights", "empty", "at least one rater group is needed")
    _check_weights("group_weights", policy.group_weights)
    if set(policy.dimension_weights) != set(DIMENSIONS):
        _refuse("dimension_weights", "incomplete", f"one weight for each of {', '.join(DIMENSIONS)}; "
                f"got {sorted(policy.dimension_weights)}")
    _check_weights("dimension_weights", policy.dimension_weights)
    _check_grades(policy)


def _check_weights(name: str, weights: Mapping[str, float]) -> None:
    if any(w < 0 for w in weights.values()):
        _refuse(name, "negative", f"every weight is 0 or more; got {dict(weights)}")
    if abs(sum(weights.values()) - 1) > WEIGHT_TOLERANCE:
        _refuse(name, "sum_not_one", f"the weights must add up to 1; got {dict(weights)}")


def _check_grades(policy: AssessmentPolicy) -> None:
    if set(policy.grade_points) != set(GRADES):
        _refuse("grade_points", "incomplete", f"points for each of {', '.join(GRADES)}; got {sorted(policy.grade_points)}")
    if set(policy.grade_thresholds) != set(GRADES[:-1]):
        _refuse("grade_thresholds", "incomplete", f"a threshold for each of {', '.join(GRADES[:-1])}; "
                f"got {sorted(policy.grade_thresholds)}")
    thresholds = [policy.grade_thresholds[g] for g in GRADES[:-1]]
    if any(a <= b for a, b in pairwise(thresholds)):
        _refuse("grade_thresholds", "not_descending", f"each grade's threshold above the next's; "
                f"got {dict(policy.grade_thresholds)}")
    for name, values in (("grade_points", policy.grade_points), ("grade_thresholds", policy.grade_thresholds)):
        if any(not 0 <= v <= 100 for v in values.values()):
            _refuse(name, "off_scale", f"on the 0–100 scale of the scores; got {dict(values)}")


def _refuse(field: str, rule: str, message: str) -> None:
    raise DomainError(f"{field}_{rule}", f"assessment policy rule: {field}: {message}", field=field)
