"""Gate 1 (选拔关) rules, as given events -> when a command -> then events or a refusal."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime
from typing import Any

import pytest

from services.backbone.domain import (
    Actor,
    Context,
    Decision,
    DomainError,
    Event,
    ForbiddenError,
    NotFoundError,
    StepOrderError,
)
from services.selection.domain import (
    EVENT_TYPES,
    GRADE_LABELS,
    PLACEMENT_TYPE_LABELS,
    POSTING_MODE_LABELS,
    RANK_LABELS,
    RANKS,
    AddToReservePool,
    AdoptPolicy,
    AssessmentResult,
    AssessmentResultRecorded,
    CadreAddedToReservePool,
    CadreRegistered,
    CadreRemovedFromReservePool,
    CadreUpdated,
    EligibilityOverridden,
    InspectNomination,
    NominationApproved,
    NominationInspected,
    NominationRecommended,
    NominationRejected,
    NominationWithdrawn,
    OverrideEligibility,
    PolicyAdopted,
    PolicyBook,
    RecommendNomination,
    RecordAssessmentResult,
    RecordCommitteeDecision,
    RegisterCadre,
    RegisterUnit,
    RemoveFromReservePool,
    UnitRegistered,
    UnitRenamed,
    WithdrawNomination,
    check_posting_level,
    decide_add_to_reserve_pool,
    decide_adopt_policy,
    decide_inspect_nomination,
    decide_override_eligibility,
    decide_recommend_nomination,
    decide_record_assessment_result,
    decide_record_committee_decision,
    decide_register_cadre,
    decide_register_unit,
    decide_remove_from_reserve_pool,
    decide_withdraw_nomination,
    fold_cadre,
    fold_nomination,
    fold_policy_book,
    fold_unit,
)

# --- who acts, and when -------------------------------------------------------------------------

NOW = datetime(2024, 3, 1, 9, 0, tzinfo=UTC)
DECIDED_ON = NOW.date()  # the committee met today: a decision cannot be dated ahead of now
HOME_UNIT = "county-finance-bureau"


def as_(role: str, principal: str, unit: str | None = None) -> Context:
    return Context(Actor(principal, role, unit), NOW)


SENDER = as_("sending_unit", "wang.sender", HOME_UNIT)
OTHER_SENDER = as_("sending_unit", "zhao.sender", "county-water-bureau")
ORG = as_("organisation_department", "li.org")
ORG_COLLEAGUE = as_("organisation_department", "chen.org")
COMMITTEE = as_("party_committee", "sun.committee")
HR_SYSTEM = as_("integration", "hr-system")
HOST = as_("host_unit", "liu.host", "qingshan-township")

# --- given / when / then ------------------------------------------------------------------------


class Refusal:
    """Then: the block must raise exactly `error` with this `rule`; keeps the message for checks."""

    def __init__(self, error: type[DomainError], rule: str) -> None:
        self.error, self.rule, self.message = error, rule, ""

    def __enter__(self) -> Refusal:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, _: Any) -> bool:
        assert type(exc) is self.error, f"expected {self.error.__name__}, got {exc!r}"
        assert isinstance(exc, DomainError) and exc.rule == self.rule, exc
        self.message = exc.message
        return True


def refused(error: type[DomainError], rule: str) -> Refusal:
    """`with refused(ForbiddenError, "role_not_allowed"): decide_...(...)` reads as the then-clause."""
    return Refusal(error, rule)


# --- the register -------------------------------------------------------------------------------


def register(**changes: Any) -> RegisterCadre:
    command = RegisterCadre(
        cadre_id="c-001",
        name="Zhang Wei",
        rank="section_chief",
        home_unit=HOME_UNIT,
        birth_date=date(1990, 5, 20),
        grassroots_experience=False,
        fit_for_duty=True,
        reserve_cadre=True,
        open_disciplinary_matter=False,
    )
    return replace(command, **changes)


def registered(**changes: Any) -> CadreRegistered:
    [event] = decide_register_cadre(None, register(**changes), HR_SYSTEM).events
    assert isinstance(event, CadreRegistered)
    return event


def test_registering_a_new_cadre_records_every_register_field() -> None:
    decision = decide_register_cadre(None, register(), HR_SYSTEM)
    assert decision.events == [
        CadreRegistered(
            "c-001",
            "Zhang Wei",
            "section_chief",
            HOME_UNIT,
            date(1990, 5, 20),
            False,
            True,
            True,
            False,
        )
    ]
    assert fold_cadre(decision.events) is not None


def test_registering_an_identical_cadre_again_yields_no_events() -> None:
    assert decide_register_cadre(fold_cadre([registered()]), register(), HR_SYSTEM).events == []


def test_a_changed_cadre_yields_one_update_listing_each_change() -> None:
    cadre = fold_cadre([registered()])
    decision = decide_register_cadre(cadre, register(rank="deputy_division", fit_for_duty=False), ORG)
    assert decision.events == [
        CadreUpdated(
            "c-001",
            {
                "rank": {"old": "section_chief", "new": "deputy_division"},
                "fit_for_duty": {"old": True, "new": False},
            },
        )
    ]
    updated = fold_cadre([registered(), *decision.events])
    assert updated is not None and updated.rank == "deputy_division" and not updated.fit_for_duty


def test_a_corrected_birth_date_is_listed_as_iso_text_and_folds_back_to_a_date() -> None:
    decision = decide_register_cadre(fold_cadre([registered()]), register(birth_date=date(1991, 5, 20)), HR_SYSTEM)
    assert decision.events == [CadreUpdated("c-001", {}, {"birth_date": {"old": "1990-05-20", "new": "1991-05-20"}})]
    corrected = fold_cadre([registered(), *decision.events])
    assert corrected is not None and corrected.birth_date == date(1991, 5, 20)


def test_an_update_keeps_the_changes_an_erasure_retains_apart_from_the_personal_ones() -> None:
    """Rank, unit and flags are no personal data: their changes stay readable after an erasure (kept in clear),
    while a name or a birth date goes into `personal_changes` (sealed)."""
    decision = decide_register_cadre(fold_cadre([registered()]), register(
        name="王明", birth_date=date(1991, 5, 20), rank="deputy_division", home_unit="county-audit"), HR_SYSTEM)
    [event] = decision.events
    assert isinstance(event, CadreUpdated)
    assert set(event.changes) == {"rank", "home_unit"} and set(event.personal_changes) == {"name", "birth_date"}
    # erased, the personal changes read as {}: the rank and unit it gave stay in the cadre's history
    as_then = fold_cadre([registered(), replace(event, personal_changes={})])
    assert as_then is not None and (as_then.rank, as_then.home_unit, as_then.name) == (
        "deputy_division", "county-audit", registered().name)


def test_an_update_stored_as_v1_reads_split_and_reads_as_lost_once_erased() -> None:
    """v1 sealed every change in `changes`: revealed, they read as v2 would have them; erased, nothing is left."""
    from services.selection.domain import upcast_cadre_updated_v1

    v1 = {"cadre_id": "c-001", "changes": {"rank": {"old": "section_chief", "new": "deputy_division"},
                                           "name": {"old": "Zhang Wei", "new": "王明"}}}
    assert upcast_cadre_updated_v1(v1) == {"cadre_id": "c-001",
                                           "changes": {"rank": {"old": "section_chief", "new": "deputy_division"}},
                                           "personal_changes": {"name": {"old": "Zhang Wei", "new": "王明"}}}
    assert upcast_cadre_updated_v1({"cadre_id": "c-001", "changes": {}}) == {
        "cadre_id": "c-001", "changes": {}, "personal_changes": {}}


def test_only_integration_and_the_organisation_department_register_cadres() -> None:
    with refused(ForbiddenError, "role_not_allowed"):
        decide_register_cadre(None, register(), SENDER)


def test_registering_refuses_an_unknown_rank_and_a_blank_name() -> None:
    with refused(DomainError, "unknown_rank"):
        decide_register_cadre(None, register(rank="major"), HR_SYSTEM)
    with refused(DomainError, "name_required"):
        decide_register_cadre(None, register(name=" "), HR_SYSTEM)


def test_a_new_cadre_registered_without_the_optional_fields_takes_their_defaults() -> None:
    [event] = decide_register_cadre(None, register(reserve_cadre=None, open_disciplinary_matter=None), HR_SYSTEM).events
    assert isinstance(event, CadreRegistered)
    assert (event.reserve_cadre, event.open_disciplinary_matter) == (False, False)


def test_an_update_leaving_out_the_optional_fields_keeps_their_stored_values() -> None:
    given = [registered(reserve_cadre=False), CadreAddedToReservePool("c-001", "review"),
             CadreUpdated("c-001", {"open_disciplinary_matter": {"old": False, "new": True}})]
    partial = register(reserve_cadre=None, open_disciplinary_matter=None)
    assert decide_register_cadre(fold_cadre(given), partial, HR_SYSTEM).events == []
    decision = decide_register_cadre(fold_cadre(given), replace(partial, rank="deputy_division"), HR_SYSTEM)
    assert decision.events == [CadreUpdated("c-001", {"rank": {"old": "section_chief", "new": "deputy_division"}})]
    after = fold_cadre([*given, *decision.events])
    assert after is not None and after.reserve_cadre and after.open_disciplinary_matter


@pytest.mark.parametrize(("stored", "route"), [(False, "/reserve-pool"), (True, "/reserve-pool/removal")])
def test_an_update_may_not_move_a_cadre_into_or_out_of_the_reserve_pool(stored: bool, route: str) -> None:
    cadre = fold_cadre([registered(reserve_cadre=stored)])
    with refused(DomainError, "reserve_pool_change") as refusal:
        decide_register_cadre(cadre, register(reserve_cadre=not stored, rank="deputy_division"), HR_SYSTEM)
    assert "reserve_cadre" in refusal.message and f"POST /selection/cadres/c-001{route}" in refusal.message
    with refused(DomainError, "reserve_pool_change"):
        decide_register_cadre(cadre, register(reserve_cadre=not stored), ORG)  # the reason-bearing route is the way
    assert decide_register_cadre(cadre, register(reserve_cadre=stored), HR_SYSTEM).events == []


# --- the unit register ---------------------------------------------------------------------------

QINGSHUI = UnitRegistered("qingshui-township", "清水镇")


def test_a_unit_is_registered_under_its_name_without_its_blanks() -> None:
    decision = decide_register_unit(None, RegisterUnit("qingshui-township", "  清水镇 "), HR_SYSTEM)
    assert decision.events == [QINGSHUI]
    unit = fold_unit(decision.events)
    assert unit is not None and (unit.unit_id, unit.name) == ("qingshui-township", "清水镇")


def test_a_new_name_renames_the_unit_and_keeps_the_previous_name() -> None:
    decision = decide_register_unit(fold_unit([QINGSHUI]), RegisterUnit("qingshui-township", "清水镇人民政府"), ORG)
    assert decision.events == [UnitRenamed("qingshui-township", "清水镇人民政府", "清水镇")]
    renamed = fold_unit([QINGSHUI, *decision.events])
    assert renamed is not None and renamed.name == "清水镇人民政府"


def test_the_name_a_unit_already_has_yields_no_events() -> None:
    renamed = UnitRenamed("qingshui-township", "清水镇人民政府", "清水镇")
    assert decide_register_unit(fold_unit([QINGSHUI]), RegisterUnit("qingshui-township", " 清水镇"), HR_SYSTEM).events == []
    assert decide_register_unit(fold_unit([QINGSHUI, renamed]), RegisterUnit("qingshui-township", "清水镇人民政府"),
                                HR_SYSTEM).events == []


def test_registering_a_unit_needs_a_registrar_and_a_name_of_at_most_60_characters() -> None:
    with refused(ForbiddenError, "role_not_allowed"):
        decide_register_unit(None, RegisterUnit("qingshui-township", "清水镇"), SENDER)
    with refused(DomainError, "name_required"):
        decide_register_unit(fold_unit([QINGSHUI]), RegisterUnit("qingshui-township", "  "), ORG)
    with refused(DomainError, "name_too_long"):
        decide_register_unit(None, RegisterUnit("qingshui-township", "镇" * 61), ORG)
    assert decide_register_unit(None, RegisterUnit("qingshui-township", "镇" * 60), ORG).events


def test_a_rename_cannot_fold_before_the_registration() -> None:
    with pytest.raises(ValueError, match="selection.UnitRegistered"):
        fold_unit([UnitRenamed("qingshui-township", "清水镇", "青水镇")])


# --- the reserve pool ---------------------------------------------------------------------------


def test_adding_a_cadre_to_the_reserve_pool() -> None:
    cadre = fold_cadre([registered(reserve_cadre=False)])
    decision = decide_add_to_reserve_pool(cadre, AddToReservePool("c-001", "annual review"), ORG)
    assert decision.events == [CadreAddedToReservePool("c-001", "annual review")]
    after = fold_cadre([registered(reserve_cadre=False), *decision.events])
    assert after is not None and after.reserve_cadre


def test_adding_a_cadre_already_in_the_reserve_pool_is_refused() -> None:
    cadre = fold_cadre([registered(reserve_cadre=False), CadreAddedToReservePool("c-001", "review")])
    with refused(StepOrderError, "already_in_reserve_pool") as refusal:
        decide_add_to_reserve_pool(cadre, AddToReservePool("c-001", "again"), ORG)
    assert "already in the reserve-cadre pool" in refusal.message


def test_removing_a_cadre_from_the_reserve_pool() -> None:
    given = [registered(), CadreRemovedFromReservePool("c-001", "transferred")]
    after = fold_cadre(given)
    assert after is not None and not after.reserve_cadre
    with refused(StepOrderError, "not_in_reserve_pool"):
        decide_remove_from_reserve_pool(after, RemoveFromReservePool("c-001", "again"), ORG)
    decision = decide_remove_from_reserve_pool(fold_cadre([registered()]), RemoveFromReservePool("c-001", "transferred"), ORG)
    assert decision.events == [CadreRemovedFromReservePool("c-001", "transferred")]


def test_reserve_pool_changes_need_the_organisation_department_a_reason_and_a_cadre() -> None:
    cadre = fold_cadre([registered(reserve_cadre=False)])
    add = AddToReservePool("c-001", "review")
    with refused(ForbiddenError, "role_not_allowed"):
        decide_add_to_reserve_pool(cadre, add, SENDER)
    with refused(ForbiddenError, "role_not_allowed"):
        decide_add_to_reserve_pool(cadre, add, HR_SYSTEM)
    with refused(DomainError, "reason_required"):
        decide_add_to_reserve_pool(cadre, AddToReservePool("c-001", ""), ORG)
    with refused(NotFoundError, "cadre_not_found"):
        decide_add_to_reserve_pool(None, add, ORG)


# --- assessment results flowing back -------------------------------------------------------------


def record(source: str = "evt-1", **changes: Any) -> RecordAssessmentResult:
    return replace(RecordAssessmentResult("c-001", 2023, "annual", "excellent", source), **changes)


def test_an_assessment_result_is_recorded_on_the_cadre() -> None:
    decision = decide_record_assessment_result(fold_cadre([registered()]), record(), HR_SYSTEM)
    assert decision.events == [AssessmentResultRecorded("c-001", 2023, "annual", "excellent", "evt-1")]
    after = fold_cadre([registered(), *decision.events])
    assert after is not None
    assert after.assessments == (AssessmentResult(2023, "annual", "excellent", "evt-1"),)


def test_recording_the_same_source_event_again_yields_no_events() -> None:
    given = [
        registered(),
        AssessmentResultRecorded("c-001", 2023, "annual", "excellent", "evt-1"),
    ]
    assert decide_record_assessment_result(fold_cadre(given), record(), HR_SYSTEM).events == []
    other = decide_record_assessment_result(fold_cadre(given), record("evt-2", kind="end_of_term"), ORG)
    assert len(other.events) == 1


def test_assessment_results_refuse_unknown_codes_roles_and_cadres() -> None:
    cadre = fold_cadre([registered()])
    decide = decide_record_assessment_result
    with refused(DomainError, "unknown_grade"):
        decide(cadre, record(grade="good"), HR_SYSTEM)
    with refused(DomainError, "unknown_assessment_kind"):
        decide(cadre, record(kind="monthly"), HR_SYSTEM)
    with refused(ForbiddenError, "role_not_allowed"):
        decide(cadre, record(), HOST)
    with refused(NotFoundError, "cadre_not_found"):
        decide(None, record(), HR_SYSTEM)


# --- eligibility policy as versioned data -------------------------------------------------------

CAPS = {"clerk": 35, "deputy_section": 40, "section_chief": 40, "deputy_division": 45}


def adopted(version: str = "2024-01", effective: date = date(2024, 1, 1), **changes: Any) -> PolicyAdopted:
    return replace(PolicyAdopted(version, effective, CAPS, True), **changes)


def test_the_organisation_department_adopts_a_policy_version() -> None:
    decision = decide_adopt_policy(None, AdoptPolicy("2024-01", date(2024, 1, 1), CAPS), ORG)
    assert decision.events == [adopted()]


def test_adopting_a_policy_is_refused_for_other_roles_reused_versions_and_bad_caps() -> None:
    book = fold_policy_book([adopted()])
    command = AdoptPolicy("2024-02", date(2024, 6, 1), CAPS)
    with refused(ForbiddenError, "role_not_allowed"):
        decide_adopt_policy(book, command, COMMITTEE)
    with refused(DomainError, "policy_version_exists"):
        decide_adopt_policy(book, replace(command, version="2024-01"), ORG)
    with refused(DomainError, "unknown_rank"):
        decide_adopt_policy(book, replace(command, age_caps={"captain": 40}), ORG)
    with refused(DomainError, "invalid_age_cap") as refusal:
        decide_adopt_policy(book, replace(command, age_caps={"clerk": 5}), ORG)
    assert "cap 5 for rank clerk" in refusal.message


def test_the_policy_in_force_is_the_latest_effective_on_or_before_the_date() -> None:
    book = fold_policy_book(
        [
            adopted("2024-01", date(2024, 1, 1)),
            adopted("2023-01", date(2023, 1, 1)),
            adopted("2024-07", date(2024, 7, 1)),
            adopted("2024-07b", date(2024, 7, 1)),
        ]
    )
    assert book is not None

    def version_on(day: date) -> str | None:
        policy = book.in_force(day)
        return policy.version if policy else None

    assert version_on(date(2022, 12, 31)) is None
    assert version_on(date(2023, 6, 1)) == "2023-01"
    assert version_on(date(2024, 6, 30)) == "2024-01"
    assert version_on(date(2024, 7, 1)) == "2024-07b", "a tie goes to the later adoption"


# --- posting-level rule -------------------------------------------------------------------------


def test_ranks_are_ordered_with_chinese_labels() -> None:
    assert RANKS == (
        "clerk",
        "deputy_section",
        "section_chief",
        "deputy_division",
        "division_chief",
        "deputy_bureau",
        "bureau_chief",
    )
    assert [RANK_LABELS[r] for r in RANKS] == [
        "科员",
        "副科",
        "正科",
        "副处",
        "正处",
        "副厅",
        "正厅",
    ]
    assert PLACEMENT_TYPE_LABELS["gap_filling"] == "补短型"
    assert POSTING_MODE_LABELS["lower_post"] == "高职低挂"
    assert GRADE_LABELS["basically_competent"] == "基本称职"


@pytest.mark.parametrize(
    ("rank", "post", "mode"),
    [
        ("section_chief", "deputy_section", "lower_post"),
        ("section_chief", "clerk", "lower_post"),
        ("section_chief", "section_chief", "same_level"),
        ("section_chief", "deputy_division", "assistant_one_up"),
    ],
)
def test_allowed_posting_levels(rank: str, post: str, mode: str) -> None:
    check_posting_level(rank, post, mode)


@pytest.mark.parametrize(
    ("rank", "post", "mode", "why"),
    [
        (
            "section_chief",
            "deputy_division",
            "same_level",
            "post level deputy_division is above rank section_chief; only assistant_one_up allows exactly one level up",
        ),
        (
            "section_chief",
            "deputy_division",
            "lower_post",
            "only assistant_one_up allows exactly one level up",
        ),
        (
            "section_chief",
            "division_chief",
            "assistant_one_up",
            "is 2 levels above rank section_chief",
        ),
        (
            "section_chief",
            "section_chief",
            "lower_post",
            "equals rank section_chief; lower_post does not fit",
        ),
        (
            "section_chief",
            "deputy_section",
            "same_level",
            "is below rank section_chief; same_level does not fit",
        ),
        ("section_chief", "clerk", "assistant_one_up", "is below rank section_chief"),
    ],
)
def test_mismatched_posting_levels_are_refused_with_the_reason(rank: str, post: str, mode: str, why: str) -> None:
    with refused(DomainError, "posting_level") as refusal:
        check_posting_level(rank, post, mode)
    assert why in refusal.message


def test_unknown_post_levels_and_modes_are_refused() -> None:
    with refused(DomainError, "unknown_rank"):
        check_posting_level("clerk", "general", "lower_post")
    with refused(DomainError, "unknown_posting_mode"):
        check_posting_level("clerk", "clerk", "sideways")


# --- nomination step 1: unit recommendation -----------------------------------------------------

POLICIES = fold_policy_book([adopted()])


def recommend(**changes: Any) -> RecommendNomination:
    command = RecommendNomination(
        nomination_id="n-001",
        cadre_id="c-001",
        placement_type="gap_filling",
        host_unit="qingshan-township",
        host_post="deputy township head",
        post_level="section_chief",
        posting_mode="same_level",
        reason="strengthen grassroots work",
    )
    return replace(command, **changes)


def when_recommending(
    *cadre_events: Event,
    ctx: Context = SENDER,
    earlier: tuple[Event, ...] = (),
    policies: PolicyBook | None = POLICIES,
    **changes: Any,
) -> Decision:
    """Recommend cadre c-001, given its events and the events of one earlier nomination."""
    earlier_nomination = fold_nomination(earlier)
    return decide_recommend_nomination(
        None,
        recommend(**changes),
        ctx,
        cadre=fold_cadre(cadre_events or [registered()]),
        policies=policies,
        cadre_nominations=[earlier_nomination] if earlier_nomination else [],
    )


def recommended(*cadre_events: Event, **changes: Any) -> NominationRecommended:
    [event] = when_recommending(*cadre_events, **changes).events
    assert isinstance(event, NominationRecommended)
    return event


def criterion(event: NominationRecommended, name: str) -> dict[str, Any]:
    [found] = [c for c in event.criteria if c["criterion"] == name]
    return found


def test_recommending_an_eligible_cadre_records_every_criterion_under_the_policy() -> None:
    decision = when_recommending()
    [event] = decision.events
    assert isinstance(event, NominationRecommended)
    assert decision.policy_version == event.policy_version == "2024-01"
    assert [c["criterion"] for c in event.criteria] == [
        "no_grassroots_experience",
        "age_under_cap",
        "fit_for_duty",
        "reserve_cadre",
        "no_open_disciplinary_matter",
    ]
    assert all(c["passed"] for c in event.criteria) and event.eligible
    assert criterion(event, "age_under_cap")["detail"] == (
        "age 33 on 2024-03-01 is within the cap of 40 for rank section_chief under policy 2024-01"
    )
    assert (event.sending_unit, event.nominated_by, event.recommended_on) == (
        HOME_UNIT,
        "wang.sender",
        date(2024, 3, 1),
    )


@pytest.mark.parametrize(
    ("birth_date", "age", "passed"),
    [
        (date(1984, 3, 1), 40, True),  # turns 40 on the day: at the cap still qualifies
        (date(1983, 3, 2), 40, True),  # turns 41 the day after
        (date(1983, 3, 1), 41, False),  # turns 41 on the day
    ],
)
def test_age_on_the_recommendation_date_is_compared_with_the_cap_for_the_rank(birth_date: date, age: int, passed: bool) -> None:
    event = recommended(registered(birth_date=birth_date))
    result = criterion(event, "age_under_cap")
    assert result["passed"] is passed and event.eligible is passed
    relation = "within" if passed else "above"
    assert result["detail"] == (
        f"age {age} on 2024-03-01 is {relation} the cap of 40 for rank section_chief under policy 2024-01"
    )


def test_a_cadre_whose_birth_date_was_erased_fails_an_age_cap_it_cannot_be_checked_against() -> None:
    """Once erased, a registration sealed at v2 reads its birth date as None: no age, so no cap can be passed."""
    event = recommended(replace(registered(), birth_date=None))
    result = criterion(event, "age_under_cap")
    assert (result["passed"], event.eligible) == (False, False)
    assert result["detail"] == ("age unknown (birth date erased); the cap of 40 for rank section_chief under "
                                "policy 2024-01 cannot be checked")


def test_a_cadre_is_registered_with_a_birth_date_and_an_update_may_leave_it_out() -> None:
    with refused(DomainError, "birth_date_required"):
        decide_register_cadre(None, register(birth_date=None), HR_SYSTEM)
    cadre = fold_cadre([registered()])
    assert decide_register_cadre(cadre, register(birth_date=None), HR_SYSTEM).events == []


def test_the_policy_in_force_on_the_recommendation_date_decides() -> None:
    later = adopted("2024-09", date(2024, 9, 1), age_caps={"section_chief": 30})
    book = fold_policy_book([adopted(), later])
    decision = decide_recommend_nomination(None, recommend(), SENDER, cadre=fold_cadre([registered()]), policies=book)
    assert decision.policy_version == "2024-01"


def test_a_recommendation_dated_earlier_is_judged_on_its_own_date() -> None:
    """41 on the day the command is recorded, 40 on the day the unit recommended: within the cap then."""
    book = fold_policy_book([adopted("2023-01", date(2023, 1, 1)), adopted()])
    old_enough = registered(birth_date=date(1983, 2, 15))
    assert not recommended(old_enough, policies=book).eligible
    event = recommended(old_enough, policies=book, recommended_on=date(2024, 2, 1))
    assert event.eligible and event.recommended_on == date(2024, 2, 1)
    assert criterion(event, "age_under_cap")["detail"].startswith("age 40 on 2024-02-01 is within the cap")
    assert recommended(policies=book, recommended_on=date(2023, 12, 1)).policy_version == "2023-01"
    folded = fold_nomination([event])
    assert folded is not None and folded.recommended_on == date(2024, 2, 1)


def test_a_recommendation_dated_in_the_future_is_refused() -> None:
    assert recommended(recommended_on=date(2024, 3, 2)).recommended_on == date(2024, 3, 2)  # the county's today
    with refused(DomainError, "recommended_on_in_future") as refusal:
        when_recommending(recommended_on=date(2024, 3, 3))
    assert "2024-03-03" in refusal.message


def test_recommending_without_a_policy_in_force_is_refused() -> None:
    future = fold_policy_book([adopted(effective=date(2025, 1, 1))])
    with refused(DomainError, "no_policy_in_force"):
        decide_recommend_nomination(None, recommend(), SENDER, cadre=fold_cadre([registered()]), policies=future)


def test_failing_hard_criteria_are_recorded_not_refused() -> None:
    event = recommended(
        registered(
            grassroots_experience=True,
            fit_for_duty=False,
            open_disciplinary_matter=True,
        )
    )
    failed = [c["criterion"] for c in event.criteria if not c["passed"]]
    assert failed == [
        "no_grassroots_experience",
        "fit_for_duty",
        "no_open_disciplinary_matter",
    ]
    assert not event.eligible
    assert criterion(event, "fit_for_duty")["detail"] == "cadre is not fit for duty"


def test_the_reserve_cadre_preference_is_recorded_but_does_not_block() -> None:
    event = recommended(registered(reserve_cadre=False))
    assert criterion(event, "reserve_cadre")["passed"] is False
    assert criterion(event, "reserve_cadre")["hard"] is False
    assert event.eligible
    no_preference = fold_policy_book([adopted(reserve_preferred=False)])
    event = recommended(registered(reserve_cadre=False), policies=no_preference)
    assert criterion(event, "reserve_cadre")["passed"]


def test_only_the_cadres_home_unit_recommends() -> None:
    with refused(ForbiddenError, "role_not_allowed"):
        when_recommending(ctx=ORG)
    with refused(ForbiddenError, "not_home_unit") as refusal:
        when_recommending(ctx=OTHER_SENDER)
    assert "only the cadre's home unit county-finance-bureau" in refusal.message


def test_recommending_an_unknown_cadre_or_reusing_a_nomination_id_is_refused() -> None:
    with refused(NotFoundError, "cadre_not_found"):
        decide_recommend_nomination(None, recommend(), SENDER, cadre=None, policies=POLICIES)
    existing = fold_nomination([recommended()])
    with refused(StepOrderError, "nomination_exists"):
        decide_recommend_nomination(existing, recommend(), SENDER, cadre=fold_cadre([registered()]), policies=POLICIES)


def test_recommending_checks_the_placement() -> None:
    with refused(DomainError, "unknown_placement_type"):
        when_recommending(placement_type="holiday")
    with refused(DomainError, "host_post_required"):
        when_recommending(host_post="")
    with refused(DomainError, "reason_required"):
        when_recommending(reason="  ")
    with refused(DomainError, "posting_level") as refusal:
        when_recommending(post_level="deputy_division", posting_mode="same_level")
    assert refusal.message == (
        "posting level rule: post level deputy_division is above rank section_chief; "
        "only assistant_one_up allows exactly one level up"
    )


def test_recommending_one_level_up_as_an_assistant_is_allowed() -> None:
    event = recommended(
        post_level="deputy_division",
        posting_mode="assistant_one_up",
        placement_type="docking",
    )
    assert (event.post_level, event.posting_mode) == (
        "deputy_division",
        "assistant_one_up",
    )


def test_a_cadre_with_an_open_nomination_cannot_be_recommended_again() -> None:
    first = recommended(nomination_id="n-000")
    with refused(StepOrderError, "open_nomination_exists") as refusal:
        when_recommending(earlier=(first,))
    assert "already has nomination n-000 in status recommended" in refusal.message
    inspected = (first, NominationInspected("n-000", "c-001", "sound", True, "li.org"))
    with refused(StepOrderError, "open_nomination_exists"):
        when_recommending(earlier=inspected)


def test_an_ended_or_approved_nomination_does_not_block_a_new_one() -> None:
    first = recommended(nomination_id="n-000")
    withdrawn = (
        first,
        NominationWithdrawn("n-000", "c-001", "family reasons", "wang.sender"),
    )
    assert when_recommending(earlier=withdrawn).events
    approved = tuple(walk_to_approval(first))
    assert when_recommending(earlier=approved).events


# --- steps 2 and 3: inspection, committee decision, withdrawal ----------------------------------


def inspect(passed: bool = True, findings: str = "sound record, well regarded") -> InspectNomination:
    return InspectNomination("n-001", findings, passed)


def committee(approved: bool = True, ref: str = "county-cttee-2024-07") -> RecordCommitteeDecision:
    return RecordCommitteeDecision("n-001", approved, ref, DECIDED_ON)


def inspected_by(principal: str = "li.org", passed: bool = True, nomination: str = "n-001") -> NominationInspected:
    return NominationInspected(nomination, "c-001", "sound record, well regarded", passed, principal)


def walk_to_approval(first: NominationRecommended) -> list[Event]:
    """The events of a nomination that went all the way: recommended, inspected, approved."""
    id_ = first.nomination_id
    inspected = inspected_by(nomination=id_)
    approved = decide_record_committee_decision(
        fold_nomination([first, inspected]),
        replace(committee(), nomination_id=id_),
        COMMITTEE,
    ).events
    return [first, inspected, *approved]


def test_the_organisation_department_inspects_a_recommended_nomination() -> None:
    decision = decide_inspect_nomination(fold_nomination([recommended()]), inspect(), ORG)
    assert decision.events == [NominationInspected("n-001", "c-001", "sound record, well regarded", True, "li.org")]
    nomination = fold_nomination([recommended(), *decision.events])
    assert nomination is not None and nomination.status == "inspected" and nomination.is_open


def test_inspection_is_refused_for_other_roles_missing_nominations_and_blank_findings() -> None:
    given = fold_nomination([recommended()])
    with refused(ForbiddenError, "role_not_allowed"):
        decide_inspect_nomination(given, inspect(), COMMITTEE)
    with refused(NotFoundError, "nomination_not_found"):
        decide_inspect_nomination(None, inspect(), ORG)
    with refused(DomainError, "findings_required"):
        decide_inspect_nomination(given, inspect(findings=""), ORG)


def test_inspecting_twice_is_out_of_order() -> None:
    given = fold_nomination([recommended(), inspected_by()])
    with refused(StepOrderError, "step_order") as refusal:
        decide_inspect_nomination(given, inspect(), ORG)
    assert "cannot inspect nomination n-001 while it is inspected" in refusal.message


def test_the_nominator_may_not_also_inspect() -> None:
    same_person = as_("organisation_department", "wang.sender")
    with refused(ForbiddenError, "separation_of_duties") as refusal:
        decide_inspect_nomination(fold_nomination([recommended()]), inspect(), same_person)
    assert "wang.sender already took the recommend step" in refusal.message


def test_a_failed_hard_criterion_blocks_inspection_until_overridden() -> None:
    failing = recommended(registered(grassroots_experience=True))
    with refused(DomainError, "eligibility_not_met") as refusal:
        decide_inspect_nomination(fold_nomination([failing]), inspect(), ORG)
    assert "failed hard criteria no_grassroots_experience under policy 2024-01" in refusal.message

    override = decide_override_eligibility(
        fold_nomination([failing]),
        OverrideEligibility("n-001", "only candidate with the skills"),
        ORG,
    )
    assert override.policy_version == "2024-01"
    assert override.events == [
        EligibilityOverridden(
            "n-001",
            "c-001",
            "2024-01",
            ["no_grassroots_experience"],
            "only candidate with the skills",
            "li.org",
        )
    ]
    after = fold_nomination([failing, *override.events])
    assert decide_inspect_nomination(after, inspect(), ORG_COLLEAGUE).events


def test_an_override_needs_a_reason_a_failure_the_organisation_department_and_happens_once() -> None:
    failing = recommended(registered(fit_for_duty=False))
    given = fold_nomination([failing])
    override = OverrideEligibility("n-001", "urgent need")
    with refused(DomainError, "reason_required"):
        decide_override_eligibility(given, OverrideEligibility("n-001", " "), ORG)
    with refused(ForbiddenError, "role_not_allowed"):
        decide_override_eligibility(given, override, SENDER)
    with refused(DomainError, "nothing_to_override"):
        decide_override_eligibility(fold_nomination([recommended()]), override, ORG)
    once = decide_override_eligibility(given, override, ORG).events
    with refused(StepOrderError, "already_overridden"):
        decide_override_eligibility(fold_nomination([failing, *once]), override, ORG)


def test_a_failed_inspection_ends_the_nomination() -> None:
    decision = decide_inspect_nomination(fold_nomination([recommended()]), inspect(passed=False), ORG)
    ended = fold_nomination([recommended(), *decision.events])
    assert ended is not None and ended.status == "inspection_failed" and not ended.is_open
    with refused(StepOrderError, "step_order"):
        decide_record_committee_decision(ended, committee(), COMMITTEE)
    with refused(StepOrderError, "step_order"):
        decide_withdraw_nomination(ended, WithdrawNomination("n-001", "too late"), ORG)


def test_the_party_committee_approves_an_inspected_nomination() -> None:
    given = fold_nomination([recommended(), inspected_by()])
    decision = decide_record_committee_decision(given, committee(), COMMITTEE)
    assert decision.events == [
        NominationApproved(
            "n-001",
            "c-001",
            HOME_UNIT,
            "gap_filling",
            "qingshan-township",
            "deputy township head",
            "section_chief",
            "same_level",
            "county-cttee-2024-07",
            DECIDED_ON,
            "sun.committee",
            cadre_rank="section_chief",
        )
    ]
    approved = fold_nomination([recommended(), inspected_by(), *decision.events])
    assert approved is not None and approved.status == "approved" and not approved.is_open


def test_the_party_committee_rejects_and_the_nomination_ends() -> None:
    given = [recommended(), inspected_by()]
    decision = decide_record_committee_decision(fold_nomination(given), committee(approved=False), COMMITTEE)
    assert decision.events == [
        NominationRejected(
            "n-001",
            "c-001",
            "county-cttee-2024-07",
            DECIDED_ON,
            "sun.committee",
            None,
        )
    ]
    ended = fold_nomination([*given, *decision.events])
    assert ended is not None and ended.status == "rejected"
    with refused(StepOrderError, "step_order"):
        decide_record_committee_decision(ended, committee(), COMMITTEE)


def test_deciding_before_inspection_is_out_of_order() -> None:
    with refused(StepOrderError, "step_order") as refusal:
        decide_record_committee_decision(fold_nomination([recommended()]), committee(), COMMITTEE)
    assert "while it is recommended; this step needs inspected" in refusal.message


def test_the_committee_decision_needs_the_committee_a_reference_and_a_new_person() -> None:
    given = fold_nomination([recommended(), inspected_by()])
    decide = decide_record_committee_decision
    with refused(ForbiddenError, "role_not_allowed"):
        decide(given, committee(), ORG)
    with refused(DomainError, "decision_ref_required"):
        decide(given, committee(ref=""), COMMITTEE)
    with refused(ForbiddenError, "separation_of_duties"):
        decide(given, committee(), as_("party_committee", "li.org"))
    with refused(ForbiddenError, "separation_of_duties"):
        decide(given, committee(), as_("party_committee", "wang.sender"))


@pytest.mark.parametrize("approved", [True, False])
def test_a_committee_decision_dated_in_the_future_is_refused_naming_the_dates(approved: bool) -> None:
    given = fold_nomination([recommended(), inspected_by()])
    future = replace(committee(approved), decision_date=date(2099, 12, 31))
    with refused(DomainError, "decision_date_in_future") as refusal:
        decide_record_committee_decision(given, future, COMMITTEE)
    assert "2099-12-31" in refusal.message and "2024-03-02" in refusal.message


def test_a_decision_dated_tomorrow_utc_is_today_in_the_county_and_recorded() -> None:
    """No county time zone is known: the UTC date of now, one day ahead allowed (UTC+8 runs ahead)."""
    given = fold_nomination([recommended(), inspected_by()])
    tomorrow = replace(committee(), decision_date=date(2024, 3, 2))
    assert decide_record_committee_decision(given, tomorrow, COMMITTEE).events
    with refused(DomainError, "decision_date_in_future"):
        decide_record_committee_decision(given, replace(tomorrow, decision_date=date(2024, 3, 3)), COMMITTEE)


@pytest.mark.parametrize("approved", [True, False])
def test_a_committee_decision_dated_before_the_recommendation_is_refused(approved: bool) -> None:
    given = fold_nomination([recommended(recommended_on=date(2024, 2, 1)), inspected_by()])
    early = replace(committee(approved), decision_date=date(2024, 1, 31))
    with refused(DomainError, "decision_before_recommendation") as refusal:
        decide_record_committee_decision(given, early, COMMITTEE)
    assert "decision_date" in refusal.message and "2024-01-31" in refusal.message and "2024-02-01" in refusal.message
    on_the_day = replace(early, decision_date=date(2024, 2, 1))
    assert decide_record_committee_decision(given, on_the_day, COMMITTEE).events


def test_an_inspection_cannot_be_recorded_before_the_recommendation_date() -> None:
    """Its date is the day it is recorded: a recommendation dated the county's today is not yet inspectable
    the day before (a clock behind the one that recorded the recommendation)."""
    given = fold_nomination([recommended(recommended_on=date(2024, 3, 2))])
    yesterday = Context(ORG.actor, datetime(2024, 2, 29, 9, 0, tzinfo=UTC))
    with refused(DomainError, "inspection_before_recommendation") as refusal:
        decide_inspect_nomination(given, inspect(), yesterday)
    assert "2024-03-02" in refusal.message
    assert decide_inspect_nomination(given, inspect(), ORG).events


def test_an_approval_is_recorded_under_the_policy_the_nomination_was_recommended_under() -> None:
    given = fold_nomination([recommended(), inspected_by()])
    assert decide_record_committee_decision(given, committee(), COMMITTEE).policy_version == "2024-01"


def test_a_decision_recorded_before_the_date_rule_still_folds() -> None:
    old = NominationApproved(
        "n-001", "c-001", HOME_UNIT, "gap_filling", "qingshan-township", "deputy township head",
        "section_chief", "same_level", "county-cttee-2099", date(2099, 12, 31), "sun.committee",
    )
    folded = fold_nomination([recommended(), inspected_by(), old])
    assert folded is not None and folded.status == "approved"


def test_the_sending_unit_or_the_organisation_department_withdraws_before_approval() -> None:
    withdraw = WithdrawNomination("n-001", "family reasons")
    decision = decide_withdraw_nomination(fold_nomination([recommended()]), withdraw, SENDER)
    assert decision.events == [NominationWithdrawn("n-001", "c-001", "family reasons", "wang.sender")]
    inspected = fold_nomination([recommended(), inspected_by()])
    assert decide_withdraw_nomination(inspected, withdraw, ORG).events
    ended = fold_nomination([recommended(), *decision.events])
    assert ended is not None and ended.status == "withdrawn"
    with refused(StepOrderError, "step_order"):
        decide_withdraw_nomination(ended, withdraw, ORG)
    with refused(StepOrderError, "step_order"):
        decide_inspect_nomination(ended, inspect(), ORG)


def test_withdrawal_is_refused_after_approval_for_other_units_and_without_a_reason() -> None:
    withdraw = WithdrawNomination("n-001", "changed our mind")
    approved = fold_nomination(walk_to_approval(recommended()))
    with refused(StepOrderError, "step_order"):
        decide_withdraw_nomination(approved, withdraw, SENDER)
    given = fold_nomination([recommended()])
    with refused(ForbiddenError, "not_home_unit"):
        decide_withdraw_nomination(given, withdraw, OTHER_SENDER)
    with refused(ForbiddenError, "role_not_allowed"):
        decide_withdraw_nomination(given, withdraw, COMMITTEE)
    with refused(DomainError, "reason_required"):
        decide_withdraw_nomination(given, WithdrawNomination("n-001", ""), SENDER)


# --- the event catalogue ------------------------------------------------------------------------

JSON_SCALARS = (str, int, bool, date, datetime, type(None))


def json_friendly(value: Any) -> bool:
    if isinstance(value, list):
        return all(json_friendly(v) for v in value)
    if isinstance(value, dict):
        return all(isinstance(k, str) and json_friendly(v) for k, v in value.items())
    return isinstance(value, JSON_SCALARS)


def test_every_event_type_is_a_stable_selection_name() -> None:
    assert all(name.startswith("selection.") and cls.TYPE == name for name, cls in EVENT_TYPES.items())
    assert len(EVENT_TYPES) == 16


def test_event_data_is_json_friendly_and_fitness_is_only_a_flag() -> None:
    failing = recommended(registered(fit_for_duty=False))
    events: list[Event] = [
        registered(),
        *decide_register_cadre(fold_cadre([registered()]), register(fit_for_duty=False), ORG).events,
        adopted(),
        failing,
        *decide_override_eligibility(fold_nomination([failing]), OverrideEligibility("n-001", "need"), ORG).events,
        *walk_to_approval(recommended()),
    ]
    for event in events:
        assert json_friendly(event.payload()), event
    assert isinstance(registered().fit_for_duty, bool)


def test_erasure_is_refused_while_the_law_requires_the_records_to_be_kept() -> None:
    from services.selection.domain import (
        ErasePersonalData,
        PersonalDataErased,
        RequireRetention,
        decide_erase_personal_data,
        decide_require_retention,
    )

    cadre = fold_cadre([registered()])
    hold = decide_require_retention(cadre, RequireRetention("c-001", "纪律审查期间须保存"), ORG)
    held = fold_cadre([registered(), *hold.events])
    with refused(DomainError, "retention_required") as r:
        decide_erase_personal_data(held, ErasePersonalData("c-001", "本人申请"), ORG)
    assert "纪律审查期间须保存" in r.message

    erased = decide_erase_personal_data(cadre, ErasePersonalData("c-001", "本人申请"), ORG)
    [event] = erased.events
    assert isinstance(event, PersonalDataErased)
    assert (event.cadre_id, event.reason, event.erased_by) == ("c-001", "本人申请", ORG.actor.principal)
    assert "name" not in event.retained and "birth_date" not in event.retained
    after = fold_cadre([registered(), *erased.events])
    assert after is not None and after.erased
    with refused(StepOrderError, "personal_data_erased"):
        decide_register_cadre(after, register(), HR_SYSTEM)


def test_an_assessment_finalised_again_after_an_appeal_replaces_the_grade_it_gave() -> None:
    given = [registered(), AssessmentResultRecorded("c-001", 2023, "annual", "competent", "evt-1", "as-1")]
    again = decide_record_assessment_result(fold_cadre(given), record("evt-2", grade="basically_competent",
                                                                      assessment_id="as-1"), HR_SYSTEM)
    other = AssessmentResultRecorded("c-001", 2023, "annual", "excellent", "evt-3", "as-2")  # another assessment
    after = fold_cadre([*given, *again.events, other])
    assert after is not None
    assert [(a.grade, a.assessment_id) for a in after.assessments] == [("basically_competent", "as-1"), ("excellent", "as-2")]
    # results recorded before the assessment was named on them are all kept, as they were
    legacy = fold_cadre([registered(), AssessmentResultRecorded("c-001", 2023, "annual", "competent", "evt-1"),
                         AssessmentResultRecorded("c-001", 2023, "annual", "excellent", "evt-2")])
    assert legacy is not None and len(legacy.assessments) == 2


def test_an_erased_cadre_keeps_the_rank_and_unit_an_update_gave_though_the_update_reads_as_erased() -> None:
    from services.selection.domain import CadreUpdated, ErasePersonalData, decide_erase_personal_data

    moved = decide_register_cadre(fold_cadre([registered()]), register(rank="deputy_section", home_unit="county-audit"),
                                  HR_SYSTEM).events
    assert [type(e) for e in moved] == [CadreUpdated]
    before = fold_cadre([registered(), *moved])
    assert before is not None
    erased = decide_erase_personal_data(before, ErasePersonalData("c-001", "本人申请"), ORG).events
    # from now on the update's sealed changes read as {} (their key is destroyed)
    after = fold_cadre([registered(), CadreUpdated("c-001", {}), *erased])
    assert after is not None and after.erased
    assert (after.rank, after.home_unit) == ("deputy_section", "county-audit")
