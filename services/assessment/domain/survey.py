"""The third-party agency's survey upload: only the appointed agency, refused whole when a line is wrong.

A revision gives new results for the units it names and leaves every other unit's result as the earlier
report gave it (its score keeps that report's entry id): a team already finalised cannot be revised, so a
revision after the first finalisation could not be whole, and an omitted unit is never dropped silently.
"""
from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from services.backbone.domain import (
    Context,
    Decision,
    DomainError,
    NotFoundError,
    StepOrderError,
)

from . import campaign_events as ev
from .campaign_state import Campaign, campaign_unit
from .guards import require_own_unit, require_reason, require_role

SURVEY_FIELDS = ("unit", "score", "summary")


@dataclass(frozen=True)
class UploadSurveyReport:
    campaign_id: str
    rows: Sequence[Mapping[str, Any]]
    revises_entry_id: str | None = None


def _malformed(line: int | None, field: str | None, problem: str) -> DomainError:
    where = f"line {line}, field {field}: " if line is not None else ""
    return DomainError("survey_upload_malformed", f"{where}{problem}", line=line, field=field)


def _score(raw: Any, line: int) -> float:
    try:
        score = float(raw)
    except (TypeError, ValueError):
        raise _malformed(line, "score", f"{raw!r} is not a number") from None
    if not 0 <= score <= 100:
        raise _malformed(line, "score", f"{score} is outside 0–100")
    return score


def _row(row: Mapping[str, Any], line: int, units: Collection[str]) -> dict[str, Any]:
    for name in SURVEY_FIELDS:
        if not str(row.get(name) or "").strip():
            raise _malformed(line, name, "is missing or empty")
    unit = str(row["unit"]).strip()
    if unit not in units:
        raise _malformed(line, "unit", f"{unit} is not assessed in this campaign")
    return {"unit": unit, "score": _score(row["score"], line), "summary": str(row["summary"]).strip()}


def parse_survey_rows(
    rows: Sequence[Mapping[str, Any]], units: Collection[str], first_line: int = 2,
) -> list[dict[str, Any]]:
    """Validated results, one per unit; `first_line` numbers the first row (2 below a CSV header)."""
    if not rows:
        raise _malformed(None, None, "the upload holds no results")
    results: list[dict[str, Any]] = []
    for offset, row in enumerate(rows):
        line = first_line + offset
        result = _row(row, line, units)
        if any(r["unit"] == result["unit"] for r in results):
            raise _malformed(line, "unit", f"{result['unit']} appears more than once")
        results.append(result)
    return results


def decide_upload_survey_report(state: Campaign | None, command: UploadSurveyReport, ctx: Context) -> Decision:
    """Only the campaign's appointed agency uploads; a revision names the live report and revises the units it
    lists (none of them finalised), the others keeping their earlier results."""
    if state is None:
        raise NotFoundError("campaign_not_found", f"no campaign {command.campaign_id}")
    require_role(ctx, "third_party_agency")
    require_own_unit(ctx, state.agency)
    results = parse_survey_rows(command.rows, state.units)
    for result in results:
        campaign_unit(state, result["unit"])
    if command.revises_entry_id != state.survey_entry_id:
        live = state.survey_entry_id or "none"
        raise StepOrderError("survey_revision_mismatch", f"the live survey report is {live}; name it to revise it")
    reason = require_reason(ctx, "revise a survey report") if state.survey_entry_id else None
    event = ev.SurveyReportUploaded(
        state.campaign_id, state.next_entry_id(), state.agency, results, command.revises_entry_id, reason,
    )
    return Decision([event])
