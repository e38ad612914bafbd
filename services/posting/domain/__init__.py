"""Pure domain of the posting service (Gates 2-4): approved nominations, placements, the
tripartite responsibility agreement, tracking supervision, safeguards, the annual plan and the term rules.

Four aggregates, one stream each: a nomination record, a placement, a year's plan, and the book of term policies.
Every decide_* takes (state, command, ctx) and returns a Decision or raises a DomainError.
"""

from __future__ import annotations

from services.backbone.domain import Event
from services.posting.domain.agreement import (
    AmendAgreement,
    DraftAgreement,
    SignAgreement,
    decide_amend_agreement,
    decide_draft_agreement,
    decide_sign_agreement,
)
from services.posting.domain.compliance import check_overdue, check_overdue_under
from services.posting.domain.events import (
    AgreementAmended,
    AgreementDrafted,
    AgreementSigned,
    PlacementCompleted,
    PlacementExtended,
    PlacementPlanned,
    PlacementRecalled,
    PlacementStarted,
)
from services.posting.domain.lifecycle import (
    CompletePlacement,
    ExtendPlacement,
    RecallPlacement,
    StartPlacement,
    decide_complete_placement,
    decide_extend_placement,
    decide_recall_placement,
    decide_start_placement,
)
from services.posting.domain.nomination import (
    SOURCE_EVENT_TYPE,
    ApprovedNomination,
    NominationPlaced,
    NominationRecorded,
    RecordNomination,
    decide_record_nomination,
    upcast_nomination_recorded_v1,
)
from services.posting.domain.nomination import evolve as evolve_nomination
from services.posting.domain.nomination import fold as fold_nomination
from services.posting.domain.placement import Agreement, Placement
from services.posting.domain.placement import evolve as evolve_placement
from services.posting.domain.placement import fold as fold_placement
from services.posting.domain.plan import (
    PlacementPlan,
    PlacementPlanRecorded,
    RecordPlacementPlan,
    decide_record_placement_plan,
)
from services.posting.domain.plan import evolve as evolve_plan
from services.posting.domain.plan import fold as fold_plan
from services.posting.domain.planning import PlanPlacement, decide_plan_placement
from services.posting.domain.rules import check_posting_level
from services.posting.domain.safeguards import (
    DecidePenalty,
    DecideReward,
    RecordTraining,
    decide_penalty,
    decide_record_training,
    decide_reward,
)
from services.posting.domain.supervision import (
    RecordCheckIn,
    RecordDisciplineIncident,
    ReportAttendance,
    decide_record_check_in,
    decide_record_discipline_incident,
    decide_report_attendance,
)
from services.posting.domain.supervision_events import (
    AttendanceReported,
    CheckInOverdue,
    CheckInOverdueCleared,
    CheckInRecorded,
    DisciplineIncidentRecorded,
    PenaltyDecided,
    RewardDecided,
    TrainingRecorded,
)
from services.posting.domain.terms import (
    DEFAULT_POLICY,
    AdoptPolicy,
    PolicyAdopted,
    TermPolicy,
    check_policy,
    decide_adopt_policy,
    default_policy,
    fold_policies,
    policy_in_force,
)
from services.posting.domain.vocabulary import (
    AGREEMENT_PARTIES,
    AGREEMENT_PARTY_LABELS,
    ATTENDANCE_KIND_LABELS,
    ATTENDANCE_KINDS,
    OUTCOME_LABELS,
    OUTCOMES,
    PLACEMENT_TYPE_LABELS,
    PLACEMENT_TYPES,
    POSTING_MODE_LABELS,
    POSTING_MODES,
    RANK_LABELS,
    RANKS,
    STATUS_LABELS,
    STATUSES,
    add_months,
)

NOMINATION_EVENTS: tuple[type[Event], ...] = (NominationRecorded, NominationPlaced)
PLACEMENT_EVENTS: tuple[type[Event], ...] = (
    PlacementPlanned,
    AgreementDrafted,
    AgreementAmended,
    AgreementSigned,
    PlacementStarted,
    PlacementExtended,
    PlacementCompleted,
    PlacementRecalled,
    CheckInRecorded,
    CheckInOverdue,
    CheckInOverdueCleared,
    AttendanceReported,
    DisciplineIncidentRecorded,
    TrainingRecorded,
    RewardDecided,
    PenaltyDecided,
)
PLAN_EVENTS: tuple[type[Event], ...] = (PlacementPlanRecorded,)
POLICY_EVENTS: tuple[type[Event], ...] = (PolicyAdopted,)
# Stable type name -> class, for whoever turns stored payloads back into events.
EVENT_TYPES: dict[str, type[Event]] = {
    cls.TYPE: cls for cls in NOMINATION_EVENTS + PLACEMENT_EVENTS + PLAN_EVENTS + POLICY_EVENTS
}

__all__ = [
    "AGREEMENT_PARTIES",
    "AGREEMENT_PARTY_LABELS",
    "ATTENDANCE_KINDS",
    "ATTENDANCE_KIND_LABELS",
    "DEFAULT_POLICY",
    "EVENT_TYPES",
    "NOMINATION_EVENTS",
    "OUTCOMES",
    "OUTCOME_LABELS",
    "PLACEMENT_EVENTS",
    "PLACEMENT_TYPES",
    "PLACEMENT_TYPE_LABELS",
    "PLAN_EVENTS",
    "POLICY_EVENTS",
    "POSTING_MODES",
    "POSTING_MODE_LABELS",
    "RANKS",
    "RANK_LABELS",
    "SOURCE_EVENT_TYPE",
    "STATUSES",
    "STATUS_LABELS",
    "Agreement",
    "AgreementAmended",
    "AgreementDrafted",
    "AgreementSigned",
    "AdoptPolicy",
    "AmendAgreement",
    "ApprovedNomination",
    "AttendanceReported",
    "CheckInOverdue",
    "CheckInOverdueCleared",
    "CheckInRecorded",
    "CompletePlacement",
    "DecidePenalty",
    "DecideReward",
    "DisciplineIncidentRecorded",
    "DraftAgreement",
    "ExtendPlacement",
    "NominationPlaced",
    "NominationRecorded",
    "PenaltyDecided",
    "Placement",
    "PlacementCompleted",
    "PlacementExtended",
    "PlacementPlan",
    "PlacementPlanRecorded",
    "PlacementPlanned",
    "PlacementRecalled",
    "PlacementStarted",
    "PlanPlacement",
    "PolicyAdopted",
    "RecallPlacement",
    "RecordCheckIn",
    "RecordDisciplineIncident",
    "RecordNomination",
    "RecordPlacementPlan",
    "RecordTraining",
    "ReportAttendance",
    "RewardDecided",
    "SignAgreement",
    "StartPlacement",
    "TermPolicy",
    "TrainingRecorded",
    "add_months",
    "check_overdue",
    "check_overdue_under",
    "check_policy",
    "check_posting_level",
    "decide_adopt_policy",
    "decide_amend_agreement",
    "decide_complete_placement",
    "decide_draft_agreement",
    "decide_extend_placement",
    "decide_penalty",
    "decide_plan_placement",
    "decide_recall_placement",
    "decide_record_check_in",
    "decide_record_discipline_incident",
    "decide_record_nomination",
    "upcast_nomination_recorded_v1",
    "decide_record_placement_plan",
    "decide_record_training",
    "decide_report_attendance",
    "decide_reward",
    "decide_sign_agreement",
    "decide_start_placement",
    "default_policy",
    "evolve_nomination",
    "evolve_placement",
    "evolve_plan",
    "fold_nomination",
    "fold_placement",
    "fold_plan",
    "fold_policies",
    "policy_in_force",
]
