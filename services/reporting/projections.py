"""Reporting's projections: every source event becomes a row of the audit timeline and, through the rule
for its type, new versions of the read-model rows it changes. Pure: no database, no broker, no clock.

The same functions serve the live consumer (a batch of one event, in the consumer's transaction), the
rebuild (batches of thousands) and the tests (a Working on its own).
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from services.reporting.model import Attribution, Rule, Slot, SourceEvent, Working
from services.reporting.rules_assessment import RULES as ASSESSMENT_RULES
from services.reporting.rules_posting import RULES as POSTING_RULES
from services.reporting.rules_selection import RULES as SELECTION_RULES

RULES: dict[str, Rule] = {**SELECTION_RULES, **POSTING_RULES, **ASSESSMENT_RULES}
# The payload version each rule reads. A newer version of one of these types is refused (and so parked)
# until its rule is updated; types without a rule only reach the timeline and are taken in any version.
UNDERSTOOD: dict[str, int] = {**dict.fromkeys(RULES, 1),
                               "posting.NominationRecorded": 2,  # v2 adds decided_on, which no rule reads
                               "selection.CadreUpdated": 2,  # v2 keeps the changes of rank, unit, flags in clear
                               "selection.CadreRegistered": 2}  # v2 seals the birth date, which no rule reads


class NewerVersionError(ValueError):
    """An event of a type reporting interprets, in a payload version newer than its rule reads."""

# Fields the timeline never shows: single ballots and tallies (anonymous rater groups may be below the
# minimum count) and personal details reporting has no use for.
WITHHELD: dict[str, tuple[str, ...]] = {
    "assessment.BallotCast": ("grade",),
    "assessment.TallyEntered": ("counts",),
    "assessment.DemocraticEntryCorrected": ("counts",),
    "selection.CadreRegistered": ("birth_date",),
}
WITHHELD_CHANGES = ("birth_date",)
CHANGE_MAPS = ("changes", "personal_changes")  # selection.CadreUpdated's maps of field -> {"old", "new"}
# The event types each source declares about a person, with their personal payload fields (stored sealed,
# revealed in its feed): erased here when the cadre's personal data is erased, and so is the command's reason
# (metadata) of every one of these types, which the sources seal too. A copy of the sources' declarations (a
# service imports no other); tests/unit/test_registry.py keeps it in step with them.
PERSONAL: dict[str, tuple[str, ...]] = {
    "selection.CadreRegistered": ("name", "birth_date"), "selection.CadreUpdated": ("personal_changes",),
    "selection.CadreAddedToReservePool": ("reason",), "selection.CadreRemovedFromReservePool": ("reason",),
    "selection.NominationRecommended": ("reason",), "selection.NominationInspected": ("findings",),
    "selection.EligibilityOverridden": ("reason",), "selection.NominationApproved": (),
    "selection.NominationRejected": ("reason",), "selection.NominationWithdrawn": ("reason",),
    "posting.CheckInRecorded": ("thinking", "work", "notes"), "posting.AttendanceReported": ("notes",),
    "posting.DisciplineIncidentRecorded": ("description",), "posting.RewardDecided": ("description", "basis"),
    "posting.PenaltyDecided": ("description", "basis"), "posting.PlacementRecalled": ("reason",),
    "posting.PlacementExtended": ("reason",), "posting.AgreementAmended": ("reason",),
    **dict.fromkeys(("posting.PlacementPlanned", "posting.NominationPlaced", "posting.PlacementStarted",
                     "posting.PlacementCompleted", "posting.AgreementDrafted", "posting.AgreementSigned",
                     "posting.TrainingRecorded"), ()),
    "assessment.SelfEvaluationEntered": ("text",), "assessment.SelfEvaluationCorrected": ("text", "reason"),
    "assessment.PerformanceScoreEntered": ("evidence",), "assessment.PerformanceScoreCorrected": ("evidence", "reason"),
    "assessment.PerformanceScoreAdjusted": ("reason",), "assessment.DemocraticEntryCorrected": ("reason",),
    "assessment.AssessmentFinalised": ("reason",), "assessment.AssessmentReopened": ("reason",),
    **dict.fromkeys(("assessment.AssessmentOpened", "assessment.BallotTokensIssued", "assessment.BallotCast",
                     "assessment.TallyEntered", "assessment.WarningRaised"), ()),
}
# Where an older payload version was sealed otherwise (its events keep their version): per type, per version.
PERSONAL_EARLIER: dict[str, dict[int, tuple[str, ...]]] = {"selection.CadreUpdated": {1: ("changes",)},
                                                         "selection.CadreRegistered": {1: ("name",)}}
# Read-model columns that copy a personal field.
PERSONAL_COLUMNS: dict[str, tuple[str, ...]] = {"cadres": ("name",), "nominations": ("reason",),
                                                "placements": ("recall_reason",)}
UNIT_FIELDS = ("home_unit", "host_unit", "sending_unit", "unit")


def rule_for(event: SourceEvent) -> Rule | None:
    """The rule of the event's type, if its source is the one the type belongs to."""
    rule = RULES.get(event.type)
    return rule if rule is not None and event.type.startswith(event.source + ".") else None


def needs(event: SourceEvent) -> list[Slot]:
    """The read-model rows projecting `event` reads (to be loaded before `project`)."""
    rule = rule_for(event)
    return list(rule.needs(event)) if rule else []


def needs_of(events: Iterable[SourceEvent]) -> set[Slot]:
    found: set[Slot] = set()
    for event in events:
        found.update(needs(event))
    return found


def project(event: SourceEvent, working: Working) -> None:
    """Apply one event: new row versions through its rule, and its timeline row. Raises on a malformed event."""
    rule = rule_for(event)
    if rule is not None and event.schema_version > UNDERSTOOD[event.type]:
        raise NewerVersionError(f"{event.type} v{event.schema_version}: reporting reads v{UNDERSTOOD[event.type]}")
    attribution = rule.apply(event, working) if rule else None
    working.timeline.append(timeline_row(event, attribution or from_data(event.data)))


def project_all(events: Iterable[SourceEvent], working: Working) -> list[tuple[SourceEvent, Exception]]:
    """Apply events in order; one that fails is undone and returned with its error, the rest go on."""
    failed = []
    for event in events:
        working.begin()
        try:
            project(event, working)
        except Exception as exc:  # noqa: BLE001  (a malformed event is parked by the caller, never fatal)
            working.undo()
            failed.append((event, exc))
    return failed


def from_data(data: Mapping[str, Any]) -> Attribution:
    """Attribution read from the payload alone: for event types reporting has no rule for."""
    units = tuple(str(data[f]) for f in UNIT_FIELDS if isinstance(data.get(f), str) and data.get(f))
    cadre = data.get("cadre_id")
    return Attribution(cadre if isinstance(cadre, str) else None, units)


def shown_data(event: SourceEvent) -> dict[str, Any]:
    """The payload as the timeline shows it: withheld fields removed."""
    withheld = WITHHELD.get(event.type)
    if withheld is None and event.type != "selection.CadreUpdated":
        return dict(event.data)
    data = {k: v for k, v in event.data.items() if k not in (withheld or ())}
    if event.type == "selection.CadreUpdated":
        for name in CHANGE_MAPS:
            if isinstance(data.get(name), dict):
                data[name] = {k: v for k, v in data[name].items() if k not in WITHHELD_CHANGES}
    return data


def timeline_row(event: SourceEvent, attribution: Attribution) -> dict[str, Any]:
    meta = event.meta
    actor = meta.get("actor") or {}
    units = set(attribution.units)
    if actor.get("unit"):
        units.add(actor["unit"])
    return {
        "event_id": event.event_id, "source": event.source, "era": event.cursor[0], "tx_id": event.cursor[1],
        "position": event.cursor[2], "type": event.type, "schema_version": event.schema_version,
        "stream": event.stream, "stream_version": event.stream_version, "recorded_at": event.recorded_at,
        "occurred_at": meta.get("occurred_at"), "actor_principal": actor.get("principal"),
        "actor_role": actor.get("role"), "actor_unit": actor.get("unit"), "reason": meta.get("reason"),
        "policy_version": meta.get("policy_version"), "correlation_id": meta.get("correlation_id"),
        "causation_id": meta.get("causation_id"), "command_id": meta.get("command_id"),
        "cadre_id": attribution.cadre_id, "units": sorted(units), "data": shown_data(event),
    }
