"""Pure arithmetic of the annual assessment: suppression, composite, proposed grade, warnings, cap."""
from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from services.backbone.domain import DomainError

from .policy import AssessmentPolicy
from .vocabulary import COMPETENT, EXCELLENT, GRADES, INCOMPETENT

Tally = Mapping[str, int]


@dataclass(frozen=True)
class GroupResults:
    """Per-group tallies that may be shown, and the groups withheld for having too few ballots."""

    visible: Mapping[str, Tally]
    suppressed: tuple[str, ...]


@dataclass(frozen=True)
class TriggeredWarning:
    rule: str
    share: float
    threshold: float


def to_hundredths(value: float) -> float:
    """`value` rounded half up to two decimals, as the decimal arithmetic of its inputs gives it.

    Binary floats hold 59.995 a hair below it, so round() would give 59.99 and miss a threshold of 60.
    """
    exact = Decimal(repr(round(value, 9)))  # drops the float noise of the weighted sums first
    return float(exact.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP))


def add_tallies(tallies: Iterable[Tally]) -> dict[str, int]:
    """Sum tallies grade by grade; every grade is present in the result."""
    total = dict.fromkeys(GRADES, 0)
    for tally in tallies:
        for grade, count in tally.items():
            total[grade] += count
    return total


def group_results(by_group: Mapping[str, Tally], min_count: int) -> GroupResults:
    """Show a group's tally only when it holds at least `min_count` ballots."""
    visible = {g: dict(t) for g, t in by_group.items() if sum(t.values()) >= min_count}
    suppressed = tuple(sorted(g for g in by_group if g not in visible))
    return GroupResults(visible=visible, suppressed=suppressed)


def quorum_shortfalls(by_group: Mapping[str, Tally], policy: AssessmentPolicy) -> dict[str, int]:
    """The policy's rater groups holding fewer than the minimum count, with the count they hold."""
    counts = {g: sum(by_group.get(g, {}).values()) for g in policy.rater_groups}
    return {g: n for g, n in counts.items() if n < policy.min_group_count}


def democratic_score(by_group: Mapping[str, Tally], policy: AssessmentPolicy) -> float:
    """Weighted mean over rater groups of each group's mean grade points; every group must have ballots."""
    total = 0.0
    for group, weight in policy.group_weights.items():
        tally = by_group[group]
        points = sum(policy.grade_points[g] * n for g, n in tally.items())
        total += weight * points / sum(tally.values())
    return total


def performance_score(scores: Mapping[str, float], policy: AssessmentPolicy) -> float:
    return sum(w * scores[d] for d, w in policy.dimension_weights.items())


def composite_score(by_group: Mapping[str, Tally], scores: Mapping[str, float], policy: AssessmentPolicy) -> float:
    """Democratic and performance parts combined with the policy's weights, to two decimals."""
    democratic = democratic_score(by_group, policy)
    performance = performance_score(scores, policy)
    return to_hundredths(policy.democratic_weight * democratic + policy.performance_weight * performance)


def proposed_grade(composite: float, policy: AssessmentPolicy) -> str:
    """The best grade whose threshold the composite reaches; otherwise incompetent."""
    for grade in GRADES[:-1]:
        if composite >= policy.grade_thresholds[grade]:
            return grade
    return INCOMPETENT


def warnings(by_group: Mapping[str, Tally], policy: AssessmentPolicy) -> list[TriggeredWarning]:
    """Warning rules over all ballots: too little approval, or too much disapproval."""
    total = add_tallies(by_group.values())
    ballots = sum(total.values())
    if ballots == 0:
        return []
    approval = (total[EXCELLENT] + total[COMPETENT]) / ballots
    disapproval = total[INCOMPETENT] / ballots
    found = []
    if approval < policy.min_approval_share:
        found.append(TriggeredWarning("low_approval", round(approval, 4), round(policy.min_approval_share, 4)))
    if disapproval > policy.max_incompetent_share:
        found.append(TriggeredWarning("high_disapproval", round(disapproval, 4), round(policy.max_incompetent_share, 4)))
    return found


def excellent_share(cohort_finals: Mapping[str, str | None], assessment_id: str, grade: str) -> tuple[int, int]:
    """(excellent finals, cohort size) if `assessment_id` were finalised with `grade`.

    `cohort_finals` maps every assessment of the cohort (host unit and year) to its final grade,
    None while not finalised; the assessment itself counts whatever it held before.
    """
    finals = {**cohort_finals, assessment_id: grade}
    return sum(1 for g in finals.values() if g == EXCELLENT), len(finals)


def check_excellent_cap(
    cohort_finals: Mapping[str, str | None], assessment_id: str, grade: str, cap: float,
) -> None:
    """Refuse an excellent final grade that would lift the cohort's excellent share above `cap`."""
    if grade != EXCELLENT:
        return
    excellent, size = excellent_share(cohort_finals, assessment_id, grade)
    if excellent / size > cap:
        raise DomainError(
            "excellent_cap_exceeded",
            f"finalising as excellent would make {excellent} of {size} assessments in the cohort "
            f"excellent ({excellent / size:.1%}), above the cap of {cap:.1%}",
            excellent=excellent, cohort_size=size, cap=cap,
        )
