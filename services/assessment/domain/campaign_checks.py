"""The rules a campaign's settings must follow to open it, each refusal naming the field and the rule.

Checked when a campaign opens, never when the log is read back: a campaign opened under looser rules stays
readable, and its grades keep the meaning they had.
"""
from __future__ import annotations

from collections.abc import Collection, Mapping
from itertools import pairwise
from typing import TYPE_CHECKING

from .guards import SettingsRules
from .vocabulary import FOCUSES, TEAM_GRADES, TEAM_SOURCES

if TYPE_CHECKING:
    from .campaign_settings import CampaignSettings

RULES = SettingsRules("campaign settings rule")


def check_campaign_settings(settings: CampaignSettings) -> None:
    """Refuse settings that could not be applied, with code `<field>_<rule>` and `field`."""
    RULES.weight_pair({"qualitative_weight": settings.qualitative_weight,
                       "quantitative_weight": settings.quantitative_weight})
    _check_weights("source_weights", settings.source_weights, TEAM_SOURCES)
    _check_weights("focus_weights", settings.focus_weights, FOCUSES)
    if settings.min_respondents < 1:
        RULES.refuse("min_respondents", "below_one", f"at least 1 respondent; got {settings.min_respondents}")
    _check_thresholds(settings.grade_thresholds)


def _check_weights(name: str, weights: Mapping[str, float], needed: Collection[str]) -> None:
    if set(weights) != set(needed):
        RULES.refuse(name, "incomplete", f"one weight for each of {', '.join(needed)}; got {sorted(weights)}")
    RULES.weights(name, weights)


def _check_thresholds(thresholds: Mapping[str, float]) -> None:
    graded = TEAM_GRADES[:-1]
    if set(thresholds) != set(graded):
        RULES.refuse("grade_thresholds", "incomplete", f"a threshold for each of {', '.join(graded)}; "
                f"got {sorted(thresholds)}")
    if any(a <= b for a, b in pairwise(thresholds[g] for g in graded)):
        RULES.refuse("grade_thresholds", "not_descending", f"each grade's threshold above the next's; got {dict(thresholds)}")
