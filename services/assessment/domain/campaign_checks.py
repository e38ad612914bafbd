"""The rules a campaign's settings must follow to open it, each refusal naming the field and the rule.

Checked when a campaign opens, never when the log is read back: a campaign opened under looser rules stays
readable, and its grades keep the meaning they had.
"""
from __future__ import annotations

from collections.abc import Collection, Mapping
from itertools import pairwise
from typing import TYPE_CHECKING

from services.backbone.domain import DomainError

from .guards import WEIGHT_TOLERANCE
from .vocabulary import FOCUSES, TEAM_GRADES, TEAM_SOURCES

if TYPE_CHECKING:
    from .campaign_settings import CampaignSettings


def check_campaign_settings(settings: CampaignSettings) -> None:
    """Refuse settings that could not be applied, with code `<field>_<rule>` and `field`."""
    pair = {"qualitative_weight": settings.qualitative_weight, "quantitative_weight": settings.quantitative_weight}
    for name, weight in pair.items():
        if weight < 0:
            _refuse(name, "negative", f"a weight is 0 or more; got {weight}")
    if abs(sum(pair.values()) - 1) > WEIGHT_TOLERANCE:
        _refuse("qualitative_weight", "sum_not_one", f"qualitative_weight + quantitative_weight must be 1; got {pair}")
    _check_weights("source_weights", settings.source_weights, TEAM_SOURCES)
    _check_weights("focus_weights", settings.focus_weights, FOCUSES)
    if settings.min_respondents < 1:
        _refuse("min_respondents", "below_one", f"at least 1 respondent; got {settings.min_respondents}")
    _check_thresholds(settings.grade_thresholds)


def _check_weights(name: str, weights: Mapping[str, float], needed: Collection[str]) -> None:
    if set(weights) != set(needed):
        _refuse(name, "incomplete", f"one weight for each of {', '.join(needed)}; got {sorted(weights)}")
    if any(w < 0 for w in weights.values()):
        _refuse(name, "negative", f"every weight is 0 or more; got {dict(weights)}")
    if abs(sum(weights.values()) - 1) > WEIGHT_TOLERANCE:
        _refuse(name, "sum_not_one", f"the weights must add up to 1; got {dict(weights)}")


def _check_thresholds(thresholds: Mapping[str, float]) -> None:
    graded = TEAM_GRADES[:-1]
    if set(thresholds) != set(graded):
        _refuse("grade_thresholds", "incomplete", f"a threshold for each of {', '.join(graded)}; "
                f"got {sorted(thresholds)}")
    if any(a <= b for a, b in pairwise(thresholds[g] for g in graded)):
        _refuse("grade_thresholds", "not_descending", f"each grade's threshold above the next's; got {dict(thresholds)}")


def _refuse(field: str, rule: str, message: str) -> None:
    raise DomainError(f"{field}_{rule}", f"campaign settings rule: {field}: {message}", field=field)
