"""Opening a leadership-team campaign, finalising each unit's team grade, recording how results are used."""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from services.backbone.domain import (
    Context,
    Decision,
    DomainError,
    NotFoundError,
    StepOrderError,
)

from . import campaign_events as ev
from .campaign_checks import check_campaign_settings
from .campaign_settings import CampaignSettings
from .campaign_state import Campaign, campaign_unit
from .guards import require_member, require_reason, require_role, require_text
from .scoring import to_hundredths
from .vocabulary import RESULT_USES, TEAM_GRADES, TEAM_SOURCES


@dataclass(frozen=True)
class OpenCampaign:
    campaign_id: str
    year: int
    units: Sequence[str]
    agency: str


@dataclass(frozen=True)
class FinaliseTeamAssessment:
    campaign_id: str
    unit: str
    team_grade: str


@dataclass(frozen=True)
class RecordResultUse:
    campaign_id: str
    unit: str
    use: str
    note: str


def decide_open_campaign(
    state: Campaign | None, command: OpenCampaign, ctx: Context, settings: CampaignSettings,
) -> Decision:
    """Open a campaign with `settings` frozen into it; the organisation department runs it, and the agency it
    appoints for the survey is not one of the units it assesses; settings that could not be applied are refused
    naming the field and the rule (`check_campaign_settings`)."""
    require_role(ctx, "organisation_department")
    if state is not None:
        raise StepOrderError("campaign_already_open", f"campaign {command.campaign_id} already exists")
    units = list(command.units)
    if not units or len(set(units)) != len(units):
        raise DomainError("campaign_units_invalid", f"a campaign needs distinct units, got {units}")
    require_text(command.agency, "third-party agency")
    if command.agency in units:
        # The survey is the outside view of the teams: an assessed unit would be surveying itself.
        raise DomainError("agency_is_assessed_unit",
                          f"the third-party survey agency {command.agency} is one of the units assessed in this campaign;"
                          " appoint an agency that is not assessed", agency=command.agency)
    check_campaign_settings(settings)
    event = ev.CampaignOpened(
        command.campaign_id, command.year, units, command.agency, settings.version, settings.as_dict(),
    )
    return Decision([event], policy_version=settings.version)


def _inputs(c: Campaign, unit: str) -> dict[str, float]:
    """The unit's live score per source, refusing when any source has none yet."""
    found = {s: c.score_of(s, unit) for s in (*TEAM_SOURCES, "qualitative")}
    missing = [s for s, entry in found.items() if entry is None]
    if missing:
        raise StepOrderError("team_inputs_missing", f"{unit} lacks {', '.join(missing)} scores")
    return {s: entry[1] for s, entry in found.items() if entry is not None}


def decide_finalise_team_assessment(
    state: Campaign | None, command: FinaliseTeamAssessment, ctx: Context,
) -> Decision:
    """Set a unit's team grade; a grade other than the proposed one needs a reason."""
    require_role(ctx, "organisation_department")
    c = campaign_unit(state, command.unit)
    require_member(command.team_grade, TEAM_GRADES, "unknown_team_grade", "team grade")
    inputs = _inputs(c, command.unit)
    quantitative = to_hundredths(c.settings.quantitative_score(inputs))
    composite = c.settings.composite(inputs["qualitative"], quantitative, c.deductions.get(command.unit, 0.0))
    proposed = c.settings.team_grade(composite)
    reason = require_reason(ctx, "depart from the proposed team grade") if command.team_grade != proposed else ctx.reason
    event = ev.TeamAssessmentFinalised(
        c.campaign_id, command.unit, command.team_grade, proposed, composite,
        inputs["qualitative"], quantitative, c.settings.version, reason,
    )
    return Decision([event], policy_version=c.settings.version)


def decide_record_result_use(state: Campaign | None, command: RecordResultUse, ctx: Context) -> Decision:
    require_role(ctx, "organisation_department")
    if state is None:
        raise NotFoundError("campaign_not_found", f"no campaign {command.campaign_id}")
    if command.unit not in state.finals:
        raise StepOrderError("unit_not_finalised", f"the team of unit {command.unit} has no final grade yet")
    require_member(command.use, RESULT_USES, "unknown_result_use", "result use")
    require_text(command.note, "note")
    return Decision([ev.ResultUseRecorded(state.campaign_id, command.unit, command.use, command.note)])
