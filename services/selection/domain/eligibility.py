"""The eligibility criteria of Gate 1, checked against a cadre under one policy version.

Every criterion is recorded, passed or not; only hard criteria block a nomination.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from .cadres import Cadre
from .policy import EligibilityPolicy


@dataclass(frozen=True)
class CriterionResult:
    criterion: str
    passed: bool
    hard: bool
    detail: str

    def as_dict(self) -> dict[str, Any]:
        return {
            "criterion": self.criterion,
            "passed": self.passed,
            "hard": self.hard,
            "detail": self.detail,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> CriterionResult:
        return cls(data["criterion"], data["passed"], data.get("hard", True), data["detail"])


def age_on(birth_date: date, on: date) -> int:
    """Completed years of age on a given day."""
    before_birthday = (on.month, on.day) < (birth_date.month, birth_date.day)
    return on.year - birth_date.year - before_birthday


def check_eligibility(cadre: Cadre, policy: EligibilityPolicy, on: date) -> list[CriterionResult]:
    """All criteria for `cadre` on day `on` under `policy`, in a fixed order."""
    return [
        _no_grassroots_experience(cadre),
        _age_under_cap(cadre, policy, on),
        _fit_for_duty(cadre),
        _reserve_cadre(cadre, policy),
        _no_open_disciplinary_matter(cadre),
    ]


def _flag(criterion: str, passed: bool, when_passed: str, when_failed: str) -> CriterionResult:
    return CriterionResult(criterion, passed, True, when_passed if passed else when_failed)


def _no_grassroots_experience(cadre: Cadre) -> CriterionResult:
    return _flag(
        "no_grassroots_experience",
        not cadre.grassroots_experience,
        "cadre has no grassroots experience",
        "cadre already has grassroots experience",
    )


def _age_under_cap(cadre: Cadre, policy: EligibilityPolicy, on: date) -> CriterionResult:
    cap = policy.age_caps.get(cadre.rank)
    where = f"for rank {cadre.rank} under policy {policy.version}"
    if cadre.birth_date is None:  # erased with the cadre's personal data: no age can be shown under a cap
        return _flag("age_under_cap", cap is None, f"age unknown (birth date erased); no age cap {where}",
                     f"age unknown (birth date erased); the cap of {cap} {where} cannot be checked")
    age = age_on(cadre.birth_date, on)
    if cap is None:
        return _flag("age_under_cap", True, f"age {age} on {on}; no age cap {where}", "")
    return _flag(
        "age_under_cap",
        age <= cap,
        f"age {age} on {on} is within the cap of {cap} {where}",
        f"age {age} on {on} is above the cap of {cap} {where}",
    )


def _fit_for_duty(cadre: Cadre) -> CriterionResult:
    return _flag(
        "fit_for_duty",
        cadre.fit_for_duty,
        "cadre is fit for duty",
        "cadre is not fit for duty",
    )


def _reserve_cadre(cadre: Cadre, policy: EligibilityPolicy) -> CriterionResult:
    status = "is" if cadre.reserve_cadre else "is not"
    if not policy.reserve_preferred:
        detail = f"cadre {status} a reserve cadre; policy {policy.version} sets no preference"
        return CriterionResult("reserve_cadre", True, False, detail)
    detail = f"cadre {status} a reserve cadre; preferred by policy {policy.version}, not required"
    return CriterionResult("reserve_cadre", cadre.reserve_cadre, False, detail)


def _no_open_disciplinary_matter(cadre: Cadre) -> CriterionResult:
    return _flag(
        "no_open_disciplinary_matter",
        not cadre.open_disciplinary_matter,
        "cadre has no open disciplinary matter",
        "cadre has an open disciplinary matter",
    )
