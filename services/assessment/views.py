"""What readers see of an assessment: rater groups below the minimum count are withheld in every view.

A group's counts, its entries' counts and any score computed from them appear only once the group
holds at least the policy's minimum number of ballots; individual ballots are never shown.
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from services.assessment import domain as d
from services.backbone.domain import Actor, ForbiddenError
from services.backbone.envelope import RecordedEvent

OVERSEERS = ("organisation_department", "party_committee", "auditor", "integration", "operator")
_DEMOCRATIC = {"assessment.BallotCast", "assessment.TallyEntered", "assessment.DemocraticEntryCorrected"}


def may_read(actor: Actor | None, a: d.Assessment) -> bool:
    """Overseers read all; a host unit its own seconded cadres; a sending unit its own cadres."""
    return may_read_units(actor, a.host_unit, a.home_unit)


def may_read_units(actor: Actor | None, host_unit: str, home_unit: str) -> bool:
    """`may_read` for an assessment opened for these units."""
    if actor is None or actor.role in OVERSEERS:
        return True
    return (actor.role, actor.unit) in {("host_unit", host_unit), ("sending_unit", home_unit)}


def require_reader(actor: Actor, a: d.Assessment) -> None:
    if not may_read(actor, a):
        raise ForbiddenError("not_own_assessment", f"{actor.role} {actor.unit} may not read assessment {a.assessment_id}")


def _labelled(grade: str | None) -> dict[str, Any]:
    return {"grade": grade, "label": d.GRADE_LABELS.get(grade or "")}


def democratic_view(a: d.Assessment) -> dict[str, Any]:
    results = d.group_results(a.tallies_by_group(), a.policy.min_group_count)
    groups = {g: {"label": d.RATER_GROUP_LABELS.get(g, g), "ballots": sum(t.values()), "counts": dict(t)}
              for g, t in results.visible.items()}
    entries = [{"entry_id": k, "rater_group": e.rater_group, **_entry_counts(e, results)}
               for k, e in a.democratic.items()]
    return {"min_group_count": a.policy.min_group_count, "groups": groups, "suppressed": list(results.suppressed),
            "entries": entries, "tokens_issued": dict(a.tokens_issued)}


def _entry_counts(e: d.DemocraticEntry, results: d.GroupResults) -> dict[str, Any]:
    """A tally's counts once its group is shown; a single ballot's grade never (it would show how one rater voted)."""
    if e.rater_group not in results.visible:
        return {"suppressed": True}
    return {} if e.ballot else {"counts": dict(e.counts)}


def preview(a: d.Assessment) -> dict[str, Any] | None:
    """Composite and proposed grade, only once every group meets the minimum and every dimension is scored."""
    by_group = a.tallies_by_group()
    if d.quorum_shortfalls(by_group, a.policy) or set(a.effective_scores()) != set(d.DIMENSIONS):
        return None
    composite = d.composite_score(by_group, a.effective_scores(), a.policy)
    proposed = d.proposed_grade(composite, a.policy)
    return {"composite": composite, "proposed_grade": proposed, "proposed_grade_label": d.GRADE_LABELS[proposed]}


def assessment_view(a: d.Assessment) -> dict[str, Any]:
    self_evaluation = next(iter(a.self_evaluation.items()), None)
    return {
        "assessment_id": a.assessment_id, "kind": a.kind, "kind_label": d.KIND_LABELS.get(a.kind, a.kind),
        "year": a.year, "placement_id": a.placement_id, "cadre_id": a.cadre_id, "host_unit": a.host_unit,
        "home_unit": a.home_unit, "status": a.status, "policy_version": a.policy.version, "version": a.version,
        "self_evaluation": {"entry_id": self_evaluation[0], "text": self_evaluation[1]} if self_evaluation else None,
        "democratic": democratic_view(a),
        "performance": {
            "entries": [{"entry_id": k, "dimension": s.dimension, "label": d.DIMENSION_LABELS[s.dimension],
                         "score": s.score, "evidence": s.evidence} for k, s in a.scores.items()],
            "adjustments": dict(a.adjustments), "effective": a.effective_scores(),
        },
        "preview": preview(a),
        "final": _labelled(a.final_grade) if a.status == d.FINALISED else None,
    }


def summary_view(a: d.Assessment) -> dict[str, Any]:
    return {"assessment_id": a.assessment_id, "kind": a.kind, "year": a.year, "cadre_id": a.cadre_id,
            "placement_id": a.placement_id, "host_unit": a.host_unit, "status": a.status,
            "final_grade": a.final_grade if a.status == d.FINALISED else None,
            "path": f"/assessment/placements/{a.placement_id}/assessments/{a.assessment_id.split('/', 1)[1]}"}


def history_view(a: d.Assessment, recorded: list[RecordedEvent]) -> list[dict[str, Any]]:
    """Every event of the assessment with who and why; democratic data only for groups shown."""
    visible = d.group_results(a.tallies_by_group(), a.policy.min_group_count).visible
    return [{"version": r.version, "type": r.type, "recorded_at": r.recorded_at.isoformat(),
             "actor": {"principal": r.metadata.actor.principal, "role": r.metadata.actor.role},
             "reason": r.metadata.reason, "policy_version": r.metadata.policy_version,
             "data": _history_data(r, visible)} for r in recorded]


def _history_data(r: RecordedEvent, visible: Mapping[str, Any]) -> dict[str, Any]:
    if r.type not in _DEMOCRATIC:
        return {k: v for k, v in r.data.items() if k != "policy"}
    kept: dict[str, Any] = {k: r.data[k] for k in ("entry_id", "corrects_entry_id", "rater_group", "reason") if k in r.data}
    if r.type != "assessment.BallotCast" and r.data["rater_group"] in visible:
        kept["counts"] = r.data["counts"]
    return kept
