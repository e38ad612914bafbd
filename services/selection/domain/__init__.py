"""Pure domain of the `selection` service (Gate 1, 选拔关): cadre register, policy, nominations, units.

Four aggregates, each a frozen state folded from its own events:
- a cadre (`Cadre`, stream per cadre_id): register upserts, reserve pool, assessment results;
- the policy book (`PolicyBook`, one stream): eligibility policy versions;
- a nomination (`Nomination`, stream per nomination_id): recommend -> inspect -> decide;
- a unit (`Unit`, stream per unit_id): the name a sending or host unit goes by.
"""

from __future__ import annotations

from .cadres import (
    AssessmentResult,
    AssessmentResultRecorded,
    Cadre,
    CadreAddedToReservePool,
    CadreRegistered,
    CadreRemovedFromReservePool,
    CadreUpdated,
    upcast_cadre_registered_v1,
    upcast_cadre_updated_v1,
)
from .cadres import evolve as evolve_cadre
from .cadres import fold as fold_cadre
from .eligibility import CriterionResult, age_on, check_eligibility
from .labels import (
    ASSESSMENT_KIND_LABELS,
    CRITERION_LABELS,
    GRADE_LABELS,
    NOMINATION_STATUS_LABELS,
    PLACEMENT_TYPE_LABELS,
    POSTING_MODE_LABELS,
    RANK_LABELS,
    STEP_LABELS,
)
from .nomination_events import (
    EligibilityOverridden,
    NominationApproved,
    NominationInspected,
    NominationRecommended,
    NominationRejected,
    NominationWithdrawn,
)
from .nominations import HOSTING_STATUSES, OPEN_STATUSES, TERMINAL_STATUSES, Nomination, cadre_hosts
from .nominations import evolve as evolve_nomination
from .nominations import fold as fold_nomination
from .override import OverrideEligibility, decide_override_eligibility
from .policy import (
    AdoptPolicy,
    EligibilityPolicy,
    PolicyAdopted,
    PolicyBook,
    decide_adopt_policy,
)
from .policy import evolve as evolve_policy_book
from .policy import fold as fold_policy_book
from .privacy import (
    ErasePersonalData,
    PersonalDataErased,
    RequireRetention,
    RetentionRequired,
    decide_erase_personal_data,
    decide_require_retention,
)
from .ranks import POSTING_MODES, RANKS, check_posting_level, rank_level
from .recommendation import RecommendNomination, decide_recommend_nomination
from .register import (
    AddToReservePool,
    RecordAssessmentResult,
    RegisterCadre,
    RemoveFromReservePool,
    decide_add_to_reserve_pool,
    decide_record_assessment_result,
    decide_register_cadre,
    decide_remove_from_reserve_pool,
    incoming_fields,
)
from .steps import (
    InspectNomination,
    RecordCommitteeDecision,
    WithdrawNomination,
    decide_inspect_nomination,
    decide_record_committee_decision,
    decide_withdraw_nomination,
)
from .units import RegisterUnit, Unit, UnitRegistered, UnitRenamed, decide_register_unit
from .units import evolve as evolve_unit
from .units import fold as fold_unit

EVENT_TYPES = {
    cls.TYPE: cls
    for cls in (
        CadreRegistered,
        CadreUpdated,
        CadreAddedToReservePool,
        CadreRemovedFromReservePool,
        AssessmentResultRecorded,
        PolicyAdopted,
        NominationRecommended,
        EligibilityOverridden,
        NominationInspected,
        NominationApproved,
        NominationRejected,
        NominationWithdrawn,
        RetentionRequired,
        PersonalDataErased,
        UnitRegistered,
        UnitRenamed,
    )
}

__all__ = [
    "ErasePersonalData",
    "PersonalDataErased",
    "RequireRetention",
    "RetentionRequired",
    "decide_erase_personal_data",
    "decide_require_retention",
    "ASSESSMENT_KIND_LABELS",
    "CRITERION_LABELS",
    "EVENT_TYPES",
    "GRADE_LABELS",
    "HOSTING_STATUSES",
    "NOMINATION_STATUS_LABELS",
    "OPEN_STATUSES",
    "PLACEMENT_TYPE_LABELS",
    "POSTING_MODES",
    "POSTING_MODE_LABELS",
    "RANKS",
    "RANK_LABELS",
    "STEP_LABELS",
    "TERMINAL_STATUSES",
    "AddToReservePool",
    "AdoptPolicy",
    "AssessmentResult",
    "AssessmentResultRecorded",
    "Cadre",
    "CadreAddedToReservePool",
    "CadreRegistered",
    "CadreRemovedFromReservePool",
    "CadreUpdated",
    "CriterionResult",
    "EligibilityOverridden",
    "EligibilityPolicy",
    "InspectNomination",
    "Nomination",
    "NominationApproved",
    "NominationInspected",
    "NominationRecommended",
    "NominationRejected",
    "NominationWithdrawn",
    "OverrideEligibility",
    "PolicyAdopted",
    "PolicyBook",
    "RecommendNomination",
    "RecordAssessmentResult",
    "RecordCommitteeDecision",
    "RegisterCadre",
    "RegisterUnit",
    "RemoveFromReservePool",
    "Unit",
    "UnitRegistered",
    "UnitRenamed",
    "WithdrawNomination",
    "age_on",
    "cadre_hosts",
    "check_eligibility",
    "check_posting_level",
    "decide_add_to_reserve_pool",
    "decide_adopt_policy",
    "decide_inspect_nomination",
    "decide_override_eligibility",
    "decide_recommend_nomination",
    "decide_record_assessment_result",
    "decide_record_committee_decision",
    "decide_register_cadre",
    "decide_register_unit",
    "decide_remove_from_reserve_pool",
    "decide_withdraw_nomination",
    "evolve_cadre",
    "evolve_nomination",
    "evolve_policy_book",
    "evolve_unit",
    "fold_cadre",
    "fold_nomination",
    "fold_policy_book",
    "fold_unit",
    "incoming_fields",
    "rank_level",
    "upcast_cadre_registered_v1",
    "upcast_cadre_updated_v1",
]
