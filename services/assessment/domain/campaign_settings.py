"""A leadership-team campaign's weights and thresholds, frozen into it when it opens, and its arithmetic."""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from .scoring import to_hundredths
from .vocabulary import FOCUSES, TEAM_GRADES


def _source_weights() -> dict[str, float]:
    return {"democratic": 0.4, "survey": 0.3, "performance": 0.3}


def _focus_weights() -> dict[str, float]:
    return dict.fromkeys(FOCUSES, 0.25)


def _team_thresholds() -> dict[str, float]:
    return {"excellent": 90, "good": 80, "average": 65}


@dataclass(frozen=True)
class CampaignSettings:
    """Qualitative vs quantitative weights, source and focus weights, grade thresholds. Not checked when built
    (settings read back from the log are taken as they were frozen): `check_campaign_settings` runs at opening."""

    version: str
    qualitative_weight: float = 0.3
    quantitative_weight: float = 0.7
    source_weights: Mapping[str, float] = field(default_factory=_source_weights)
    focus_weights: Mapping[str, float] = field(default_factory=_focus_weights)
    min_respondents: int = 5
    grade_thresholds: Mapping[str, float] = field(default_factory=_team_thresholds)

    def as_dict(self) -> dict[str, Any]:
        return {k: dict(v) if isinstance(v, Mapping) else v for k, v in asdict(self).items()}

    @classmethod
    def from_dict(cls, values: Mapping[str, Any]) -> CampaignSettings:
        return cls(**values)

    def democratic_score(self, focus_scores: Mapping[str, float]) -> float:
        return sum(w * focus_scores[f] for f, w in self.focus_weights.items())

    def quantitative_score(self, by_source: Mapping[str, float]) -> float:
        return sum(w * by_source[s] for s, w in self.source_weights.items())

    def composite(self, qualitative: float, quantitative: float, deductions: float) -> float:
        """Both parts weighted, less finding deductions, never below 0; two decimals."""
        weighted = self.qualitative_weight * qualitative + self.quantitative_weight * quantitative
        return to_hundredths(max(0.0, weighted - deductions))

    def team_grade(self, composite: float) -> str:
        for grade in TEAM_GRADES[:-1]:
            if composite >= self.grade_thresholds[grade]:
                return grade
        return TEAM_GRADES[-1]
