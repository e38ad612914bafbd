"""The annual-assessment rules as versioned data; a copy is frozen into each assessment when it opens."""
from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import date
from typing import Any

from services.backbone.domain import Context, Decision, Event, NotFoundError, StepOrderError, in_force

from .guards import require_role
from .policy_checks import check_policy
from .vocabulary import (
    BASICALLY_COMPETENT,
    COMPETENT,
    DIMENSION_LABELS,
    EXCELLENT,
    GRADE_LABELS,
    INCOMPETENT,
    PUBLIC_RECOGNITION,
    QUALITY_IMPROVEMENT,
    RATER_GROUP_LABELS,
    WORK_PERFORMANCE,
)


def _group_weights() -> dict[str, float]:
    return {"leaders": 0.3, "colleagues": 0.4, "public": 0.3}


def _dimension_weights() -> dict[str, float]:
    return {WORK_PERFORMANCE: 0.5, PUBLIC_RECOGNITION: 0.3, QUALITY_IMPROVEMENT: 0.2}


def _grade_points() -> dict[str, float]:
    return {EXCELLENT: 100, COMPETENT: 80, BASICALLY_COMPETENT: 60, INCOMPETENT: 0}


def _grade_thresholds() -> dict[str, float]:
    return {EXCELLENT: 90, COMPETENT: 75, BASICALLY_COMPETENT: 60}


@dataclass(frozen=True)
class AssessmentPolicy:
    """Local settings of the annual assessment; `version` is stamped on every decision it judges. Not checked when
    built (a version read back from the log is taken as it was adopted): `check_policy` runs at adoption."""

    version: str
    effective_from: date
    min_group_count: int = 5
    excellent_cap: float = 0.20
    min_approval_share: float = 2 / 3
    max_incompetent_share: float = 1 / 3
    democratic_weight: float = 0.4
    performance_weight: float = 0.6
    group_weights: Mapping[str, float] = field(default_factory=_group_weights)
    dimension_weights: Mapping[str, float] = field(default_factory=_dimension_weights)
    grade_points: Mapping[str, float] = field(default_factory=_grade_points)
    grade_thresholds: Mapping[str, float] = field(default_factory=_grade_thresholds)

    @property
    def rater_groups(self) -> tuple[str, ...]:
        return tuple(self.group_weights)

    @property
    def label(self) -> str:
        """The rules in the users' words."""
        groups = "、".join(f"{RATER_GROUP_LABELS.get(g, g)}{_pct(w)}" for g, w in self.group_weights.items())
        dimensions = "、".join(f"{DIMENSION_LABELS.get(k, k)}{_pct(w)}" for k, w in self.dimension_weights.items())
        thresholds = "、".join(f"{GRADE_LABELS.get(g, g)}{t:g}分" for g, t in self.grade_thresholds.items())
        return (f"每类测评人不少于{self.min_group_count}人；民主测评占{_pct(self.democratic_weight)}（{groups}），"
                f"实绩占{_pct(self.performance_weight)}（{dimensions}）；等次线：{thresholds}；"
                f"优秀比例不超过{_pct(self.excellent_cap)}；称职以上票低于{_pct(self.min_approval_share)}"
                f"或不称职票超过{_pct(self.max_incompetent_share)}时预警")

    def as_dict(self) -> dict[str, Any]:
        """The policy as JSON-friendly values, as frozen into an AssessmentOpened event."""
        values = asdict(self)
        values["effective_from"] = self.effective_from.isoformat()
        return {k: dict(v) if isinstance(v, Mapping) else v for k, v in values.items()}

    @classmethod
    def from_dict(cls, values: Mapping[str, Any]) -> AssessmentPolicy:
        return cls(**{**values, "effective_from": date.fromisoformat(values["effective_from"])})


def _pct(share: float) -> str:
    return f"{share * 100:.4g}%"


DEFAULT_POLICY = AssessmentPolicy(version="default-1", effective_from=date(2000, 1, 1))


def policy_in_force(policies: Iterable[AssessmentPolicy], on: date) -> AssessmentPolicy:
    """The policy with the latest `effective_from` not after `on`; of two from the same day, the later adopted."""
    policy = in_force(policies, on)
    if policy is None:
        raise NotFoundError("no_policy_in_force", f"no assessment policy is in force on {on.isoformat()}")
    return policy


@dataclass(frozen=True)
class PolicyAdopted(Event):
    """A new version of the annual-assessment rules; assessments opened from its date on freeze it."""

    TYPE = "assessment.PolicyAdopted"
    version: str
    policy: dict[str, Any]


@dataclass(frozen=True)
class AdoptPolicy:
    policy: AssessmentPolicy


def decide_adopt_policy(adopted: Sequence[AssessmentPolicy], command: AdoptPolicy, ctx: Context) -> Decision:
    """The organisation department adopts a policy version; a version is never redefined, and rules that could
    not be applied are refused naming the field and the rule (`check_policy`)."""
    require_role(ctx, "organisation_department")
    same = [p for p in adopted if p.version == command.policy.version]
    if same and same[0] == command.policy:
        return Decision([])
    if same:
        raise StepOrderError("policy_version_exists", f"policy {command.policy.version} exists; adopt a new version")
    check_policy(command.policy)
    event = PolicyAdopted(command.policy.version, command.policy.as_dict())
    return Decision([event], policy_version=command.policy.version)


def fold_policies(events: Iterable[Event]) -> tuple[AssessmentPolicy, ...]:
    """Every adopted policy, in adoption order."""
    return tuple(AssessmentPolicy.from_dict(e.policy) for e in events if isinstance(e, PolicyAdopted))
