"""The posting domain, given events / when a command / then events or a refusal naming the rule."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta, timezone
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
from services.posting import domain as d

ORG = Actor("od-li", "organisation_department", "county-od")
HOME = Actor("fin-wang", "sending_unit", "county-finance")
HOST = Actor("town-zhao", "host_unit", "qingshui-town")
OTHER_HOST = Actor("town-sun", "host_unit", "baishi-town")
OTHER_HOME = Actor("edu-chen", "sending_unit", "county-education")
COMMITTEE = Actor("pc-zhou", "party_committee", "county-pc")
NOW = datetime(2024, 6, 1, 9, 0, tzinfo=UTC)
ENDED = datetime(2026, 4, 1, 9, 0, tzinfo=UTC)  # a month after ACTIVE's term ended on 2026-03-01

NOMINATION = d.NominationRecorded(
    nomination_id="nom-1",
    cadre_id="cadre-1",
    cadre_rank="deputy_section",
    home_unit="county-finance",
    placement_type="gap_filling",
    host_unit="qingshui-town",
    host_post="副镇长",
    post_level="deputy_section",
    posting_mode="same_level",
)
PLANNED = d.PlacementPlanned(
    placement_id="pl-1",
    nomination_id="nom-1",
    cadre_id="cadre-1",
    cadre_rank="deputy_section",
    placement_type="gap_filling",
    home_unit="county-finance",
    host_unit="qingshui-town",
    host_post="副镇长",
    post_level="deputy_section",
    posting_mode="same_level",
    term_months=24,
    start_date=date(2024, 3, 1),
)
TERMS: dict[str, tuple[str, ...]] = {
    "tasks": ("联系两个村的信访接待",),
    "term_goals": ("化解积案三件",),
    "post_requirements": ("每周在岗不少于四天",),
    "reward_conditions": ("年度考核优秀者优先使用",),
    "penalty_conditions": ("擅离岗位者召回",),
}
DRAFTED = d.AgreementDrafted("pl-1", 1, **{k: list(v) for k, v in TERMS.items()})
SIGNED = [
    d.AgreementSigned("pl-1", 1, "organisation_department", "od-li"),
    d.AgreementSigned("pl-1", 1, "sending_unit", "fin-wang"),
    d.AgreementSigned("pl-1", 1, "host_unit", "town-zhao"),
]
STARTED = d.PlacementStarted("pl-1", date(2024, 3, 1), date(2026, 3, 1))
READY = [PLANNED, DRAFTED, *SIGNED]
ACTIVE = [*READY, STARTED]
CHECK_IN = d.RecordCheckIn(
    "pl-1", date(2024, 4, 2), "思想稳定", "走访五户", "镇党委书记"
)


def ctx(actor: Actor, now: datetime = NOW) -> Context:
    return Context(actor=actor, now=now)


def given(*events: Event) -> d.Placement | None:
    return d.fold_placement(events)


def refused(
    error: type[DomainError],
    rule: str,
    decide: Callable[..., Decision],
    *args: Any,
    **kw: Any,
) -> DomainError:
    with pytest.raises(DomainError) as caught:
        decide(*args, **kw)
    assert type(caught.value) is error
    assert caught.value.rule == rule
    return caught.value


# --- approved nominations -------------------------------------------------------------------


def test_an_approved_nomination_from_selection_is_recorded_once() -> None:
    payload = {
        **NOMINATION.payload(),
        "approved_by": "pc-zhou",
        "policy_version": "2024-1",
    }
    command = d.RecordNomination.from_selection_payload(payload)

    first = d.decide_record_nomination(None, command, ctx(COMMITTEE))
    again = d.decide_record_nomination(
        d.fold_nomination(first.events), command, ctx(COMMITTEE)
    )

    assert first.events == [NOMINATION]
    assert again.events == []


def test_a_placed_nomination_remembers_its_placement() -> None:
    record = d.fold_nomination([NOMINATION, d.NominationPlaced("nom-1", "pl-1")])
    assert record is not None and record.placement_id == "pl-1"


# --- planning a placement -------------------------------------------------------------------


def plan(**changes: Any) -> d.PlanPlacement:
    return replace(d.PlanPlacement("pl-1", "nom-1", 24, date(2024, 3, 1)), **changes)


def nomination(**changes: Any) -> d.ApprovedNomination:
    record = d.fold_nomination([NOMINATION])
    assert record is not None
    return replace(record, **changes)


def test_the_organisation_department_places_an_approved_nomination() -> None:
    decision = d.decide_plan_placement(None, plan(), ctx(ORG), nomination())
    assert decision.events == [PLANNED, d.NominationPlaced("nom-1", "pl-1")]
    state = given(*decision.events)
    assert (
        state is not None
        and state.status == "planned"
        and state.status_label == "已计划"
    )


def test_a_placement_goes_to_the_host_unit_the_committee_approved_and_no_other() -> None:
    approved = nomination()
    with pytest.raises(DomainError, match=f"approved for host unit {approved.host_unit}, not county-petition") as no:
        d.decide_plan_placement(None, plan(host_unit="county-petition"), ctx(ORG), approved)
    assert no.value.rule == "host_unit_not_approved" and no.value.details["approved_host_unit"] == approved.host_unit
    # naming the approved unit again is no change
    named = d.decide_plan_placement(None, plan(host_unit=approved.host_unit), ctx(ORG), approved)
    assert named.events == [PLANNED, d.NominationPlaced("nom-1", "pl-1")]


def test_a_placement_cannot_start_before_the_committee_approved_it() -> None:
    approved = nomination(decided_on=date(2024, 3, 5))
    with pytest.raises(DomainError, match="before the party committee approved it on 2024-03-05") as refused:
        d.decide_plan_placement(None, plan(start_date=date(2024, 3, 1)), ctx(ORG), approved)
    assert refused.value.rule == "start_before_decision"
    assert d.decide_plan_placement(None, plan(start_date=date(2024, 3, 5)), ctx(ORG), approved).events
    assert d.decide_plan_placement(None, plan(), ctx(ORG), nomination()).events  # recorded before v2: not known


def test_the_approval_brings_its_decision_date_and_a_v1_record_reads_without_one() -> None:
    from services.backbone.envelope import FeedCursor, Metadata, RecordedEvent
    from services.posting.handlers import REGISTRY

    payload = {**NOMINATION.payload(), "decision_date": "2024-02-20", "approved_by": "pc-zhou"}
    command = d.RecordNomination.from_selection_payload(payload)
    [recorded] = d.decide_record_nomination(None, command, ctx(COMMITTEE)).events
    assert isinstance(recorded, d.NominationRecorded) and recorded.decided_on == date(2024, 2, 20)
    assert REGISTRY.dump(recorded)[:2] == ("posting.NominationRecorded", 2)

    v1 = {k: v for k, v in REGISTRY.dump(NOMINATION)[2].items() if k != "decided_on"}
    meta = Metadata(COMMITTEE, "cmd", "cor", "posting", NOW)
    old = RecordedEvent(uuid.uuid4(), "approved-nomination-nom-1", 1, "posting.NominationRecorded", 1, v1,
                        meta, FeedCursor(1, 1, 1))
    assert REGISTRY.load(old) == NOMINATION


def test_the_plan_may_set_a_different_host_post_and_mode() -> None:
    command = plan(
        host_post="信访办副主任", post_level="clerk", posting_mode="lower_post"
    )
    planned = d.decide_plan_placement(None, command, ctx(ORG), nomination()).events[0]
    assert isinstance(planned, d.PlacementPlanned)
    assert (planned.host_post, planned.post_level, planned.posting_mode) == (
        "信访办副主任",
        "clerk",
        "lower_post",
    )


def test_placing_a_cadre_without_an_approved_nomination_is_refused() -> None:
    refused(
        NotFoundError,
        "nomination_not_approved",
        d.decide_plan_placement,
        None,
        plan(),
        ctx(ORG),
        None,
    )


def test_placing_the_same_nomination_twice_is_refused() -> None:
    placed = nomination(placement_id="pl-0")
    refused(
        StepOrderError,
        "nomination_already_placed",
        d.decide_plan_placement,
        None,
        plan(),
        ctx(ORG),
        placed,
    )


def test_a_cadre_whose_placement_has_not_ended_is_not_placed_again() -> None:
    second = nomination(nomination_id="nom-2")
    for running in (PLANNED, *READY[1:], STARTED):
        earlier = given(*ACTIVE[: ACTIVE.index(running) + 1])
        assert earlier is not None
        error = refused(
            StepOrderError,
            "cadre_already_placed",
            d.decide_plan_placement,
            None,
            plan(placement_id="pl-2", nomination_id="nom-2"),
            ctx(ORG),
            second,
            cadre_placements=[earlier],
        )
        assert "pl-1" in error.message and "cadre-1" in error.message
    for ended in (
        d.PlacementCompleted("pl-1", "returned", date(2026, 3, 1)),
        d.PlacementRecalled("pl-1", "身体原因", date(2024, 5, 1)),
    ):
        closed = given(*ACTIVE, ended)
        assert closed is not None
        assert d.decide_plan_placement(
            None, plan(placement_id="pl-2", nomination_id="nom-2"), ctx(ORG), second, cadre_placements=[closed]
        ).events


def test_planning_over_an_existing_placement_is_refused() -> None:
    refused(
        StepOrderError,
        "placement_already_exists",
        d.decide_plan_placement,
        given(PLANNED),
        plan(),
        ctx(ORG),
        nomination(),
    )


@pytest.mark.parametrize("actor", [HOME, HOST, COMMITTEE])
def test_only_the_organisation_department_plans_placements(actor: Actor) -> None:
    refused(
        ForbiddenError,
        "organisation_department_only",
        d.decide_plan_placement,
        None,
        plan(),
        ctx(actor),
        nomination(),
    )


@pytest.mark.parametrize(
    ("rank", "level", "mode"),
    [
        ("section_chief", "deputy_section", "lower_post"),
        ("section_chief", "clerk", "lower_post"),
        ("deputy_section", "deputy_section", "same_level"),
        ("deputy_section", "section_chief", "assistant_one_up"),
    ],
)
def test_a_post_that_fits_the_mode_is_placed(rank: str, level: str, mode: str) -> None:
    command = plan(post_level=level, posting_mode=mode)
    decision = d.decide_plan_placement(
        None, command, ctx(ORG), nomination(cadre_rank=rank)
    )
    assert len(decision.events) == 2


@pytest.mark.parametrize(
    ("rank", "level", "mode", "rule"),
    [
        ("section_chief", "section_chief", "lower_post", "posting_level_not_allowed"),
        ("deputy_section", "clerk", "same_level", "posting_level_not_allowed"),
        ("deputy_section", "section_chief", "same_level", "posting_level_not_allowed"),
        (
            "deputy_section",
            "deputy_division",
            "assistant_one_up",
            "posting_level_not_allowed",
        ),
        (
            "deputy_section",
            "deputy_section",
            "assistant_one_up",
            "posting_level_not_allowed",
        ),
        ("deputy_section", "deputy_section", "promotion", "unknown_posting_mode"),
        ("deputy_section", "vice_mayor", "same_level", "unknown_rank"),
    ],
)
def test_a_post_that_does_not_fit_the_mode_is_refused(
    rank: str, level: str, mode: str, rule: str
) -> None:
    command = plan(post_level=level, posting_mode=mode)
    error = refused(
        DomainError,
        rule,
        d.decide_plan_placement,
        None,
        command,
        ctx(ORG),
        nomination(cadre_rank=rank),
    )
    assert mode in error.message or level in error.message


def test_the_posting_level_refusal_names_rule_and_levels() -> None:
    with pytest.raises(DomainError) as caught:
        d.check_posting_level("deputy_section", "deputy_division", "assistant_one_up")
    assert "posting-level rule" in caught.value.message
    assert "level 1" in caught.value.message and "level 3" in caught.value.message


@pytest.mark.parametrize("months", [12, 24])
def test_a_term_of_one_or_two_years_is_allowed(months: int) -> None:
    decision = d.decide_plan_placement(
        None, plan(term_months=months), ctx(ORG), nomination()
    )
    assert given(*decision.events).term_months == months  # type: ignore[union-attr]


@pytest.mark.parametrize("months", [6, 18, 36])
def test_any_other_planned_term_is_refused(months: int) -> None:
    error = refused(
        DomainError,
        "term_not_allowed",
        d.decide_plan_placement,
        None,
        plan(term_months=months),
        ctx(ORG),
        nomination(),
    )
    assert str(months) in error.message


def test_the_allowed_terms_are_a_setting() -> None:
    eighteen = d.TermPolicy("county-18", date(2024, 1, 1), (18,), 36)
    decision = d.decide_plan_placement(
        None, plan(term_months=18), ctx(ORG), nomination(), policies=(d.DEFAULT_POLICY, eighteen)
    )
    assert len(decision.events) == 2 and decision.policy_version == "county-18"


def test_an_unknown_placement_type_is_refused() -> None:
    refused(
        DomainError,
        "unknown_placement_type",
        d.decide_plan_placement,
        None,
        plan(placement_type="rotation"),
        ctx(ORG),
        nomination(),
    )


# --- the responsibility agreement -----------------------------------------------------------

DRAFT = d.DraftAgreement("pl-1", **TERMS)
AMEND = d.AmendAgreement(
    "pl-1", **{**TERMS, "tasks": ("联系三个村",)}, reason="任务调整"
)


def test_the_organisation_department_drafts_version_one() -> None:
    decision = d.decide_draft_agreement(given(PLANNED), DRAFT, ctx(ORG))
    assert decision.events == [DRAFTED]


def test_drafting_a_second_agreement_is_refused() -> None:
    refused(
        StepOrderError,
        "agreement_already_drafted",
        d.decide_draft_agreement,
        given(PLANNED, DRAFTED),
        DRAFT,
        ctx(ORG),
    )


def test_an_agreement_without_every_part_is_refused() -> None:
    incomplete = replace(DRAFT, penalty_conditions=(), term_goals=("  ",))
    error = refused(
        DomainError,
        "agreement_incomplete",
        d.decide_draft_agreement,
        given(PLANNED),
        incomplete,
        ctx(ORG),
    )
    assert "term_goals" in error.message and "penalty_conditions" in error.message


def test_only_the_organisation_department_drafts_the_agreement() -> None:
    refused(
        ForbiddenError,
        "organisation_department_only",
        d.decide_draft_agreement,
        given(PLANNED),
        DRAFT,
        ctx(HOST),
    )


def test_drafting_for_an_unknown_placement_is_refused() -> None:
    refused(
        NotFoundError,
        "placement_not_found",
        d.decide_draft_agreement,
        None,
        DRAFT,
        ctx(ORG),
    )


@pytest.mark.parametrize(
    ("actor", "party"),
    [(ORG, "organisation_department"), (HOME, "sending_unit"), (HOST, "host_unit")],
)
def test_each_party_signs_for_itself(actor: Actor, party: str) -> None:
    decision = d.decide_sign_agreement(
        given(PLANNED, DRAFTED), d.SignAgreement("pl-1", 1), ctx(actor)
    )
    assert decision.events == [d.AgreementSigned("pl-1", 1, party, actor.principal)]


def test_the_third_signature_makes_the_agreement_signed() -> None:
    two_signed = given(PLANNED, DRAFTED, *SIGNED[:2])
    assert two_signed is not None and two_signed.status == "planned"
    assert two_signed.missing_signatures == ("host_unit",)
    state = given(*READY)
    assert state is not None and state.status == "agreement_signed"
    assert state.agreement_fully_signed


@pytest.mark.parametrize(
    ("actor", "error", "rule"),
    [
        (OTHER_HOST, ForbiddenError, "not_own_placement"),
        (OTHER_HOME, ForbiddenError, "not_own_placement"),
        (COMMITTEE, ForbiddenError, "agreement_party_only"),
    ],
)
def test_only_the_three_parties_of_this_placement_sign(
    actor: Actor, error: type[DomainError], rule: str
) -> None:
    state = given(PLANNED, DRAFTED)
    refused(
        error,
        rule,
        d.decide_sign_agreement,
        state,
        d.SignAgreement("pl-1", 1),
        ctx(actor),
    )


def test_a_party_signs_a_version_only_once() -> None:
    refused(
        StepOrderError,
        "agreement_already_signed",
        d.decide_sign_agreement,
        given(PLANNED, DRAFTED, SIGNED[2]),
        d.SignAgreement("pl-1", 1),
        ctx(HOST),
    )


def test_signing_an_outdated_version_is_refused() -> None:
    amended = d.decide_amend_agreement(given(*READY), AMEND, ctx(ORG)).events
    refused(
        StepOrderError,
        "agreement_version_stale",
        d.decide_sign_agreement,
        given(*READY, *amended),
        d.SignAgreement("pl-1", 1),
        ctx(HOST),
    )


def test_signing_before_an_agreement_exists_is_refused() -> None:
    refused(
        StepOrderError,
        "agreement_missing",
        d.decide_sign_agreement,
        given(PLANNED),
        d.SignAgreement("pl-1", 1),
        ctx(ORG),
    )


def test_amending_before_the_start_needs_three_signatures_again() -> None:
    amended = d.decide_amend_agreement(given(*READY), AMEND, ctx(ORG)).events
    assert amended == [
        d.AgreementAmended(
            "pl-1",
            2,
            **{k: list(v) for k, v in TERMS.items()} | {"tasks": ["联系三个村"]},
            reason="任务调整",
        )
    ]
    state = given(*READY, *amended)
    assert state is not None and state.status == "planned"
    assert state.missing_signatures == (
        "organisation_department",
        "sending_unit",
        "host_unit",
    )
    refused(
        StepOrderError,
        "agreement_not_fully_signed",
        d.decide_start_placement,
        state,
        d.StartPlacement("pl-1"),
        ctx(HOST),
    )
    resigned = [replace(s, version=2) for s in SIGNED]
    assert given(*READY, *amended, *resigned).status == "agreement_signed"  # type: ignore[union-attr]


def test_amending_a_running_placement_keeps_it_running_but_unsigned() -> None:
    amended = d.decide_amend_agreement(given(*ACTIVE), AMEND, ctx(ORG)).events
    state = given(*ACTIVE, *amended)
    assert state is not None and state.status == "active"
    assert not state.agreement_fully_signed
    assert state.agreement is not None and state.agreement.version == 2


def test_an_amendment_needs_a_reason() -> None:
    refused(
        DomainError,
        "amendment_reason_required",
        d.decide_amend_agreement,
        given(*READY),
        replace(AMEND, reason=" "),
        ctx(ORG),
    )


def test_amending_a_missing_agreement_is_refused() -> None:
    refused(
        StepOrderError,
        "agreement_missing",
        d.decide_amend_agreement,
        given(PLANNED),
        AMEND,
        ctx(ORG),
    )


def test_only_the_organisation_department_amends() -> None:
    refused(
        ForbiddenError,
        "organisation_department_only",
        d.decide_amend_agreement,
        given(*READY),
        AMEND,
        ctx(HOME),
    )


def test_the_agreement_of_a_closed_placement_is_final() -> None:
    closed = given(*ACTIVE, d.PlacementRecalled("pl-1", "健康原因", date(2024, 9, 1)))
    refused(
        StepOrderError,
        "placement_closed",
        d.decide_amend_agreement,
        closed,
        AMEND,
        ctx(ORG),
    )
    refused(
        StepOrderError,
        "placement_closed",
        d.decide_sign_agreement,
        closed,
        d.SignAgreement("pl-1", 1),
        ctx(HOST),
    )


# --- starting -------------------------------------------------------------------------------


@pytest.mark.parametrize("actor", [HOST, ORG])
def test_a_fully_signed_placement_starts_on_its_planned_date(actor: Actor) -> None:
    decision = d.decide_start_placement(
        given(*READY), d.StartPlacement("pl-1"), ctx(actor)
    )
    assert decision.events == [STARTED]
    assert given(*READY, *decision.events).status_label == "挂职中"  # type: ignore[union-attr]


def test_a_later_start_date_moves_the_end_of_term() -> None:
    command = d.StartPlacement("pl-1", date(2024, 3, 31))
    decision = d.decide_start_placement(given(*READY), command, ctx(HOST))
    assert decision.events == [
        d.PlacementStarted("pl-1", date(2024, 3, 31), date(2026, 3, 31))
    ]


@pytest.mark.parametrize("signatures", [0, 1, 2])
def test_starting_before_all_three_signed_is_refused(signatures: int) -> None:
    state = given(PLANNED, DRAFTED, *SIGNED[:signatures])
    error = refused(
        StepOrderError,
        "agreement_not_fully_signed",
        d.decide_start_placement,
        state,
        d.StartPlacement("pl-1"),
        ctx(ORG),
    )
    assert "host_unit" in error.message


def test_starting_without_an_agreement_is_refused() -> None:
    refused(
        StepOrderError,
        "agreement_not_fully_signed",
        d.decide_start_placement,
        given(PLANNED),
        d.StartPlacement("pl-1"),
        ctx(ORG),
    )


def test_a_start_dated_before_the_committee_approved_is_refused() -> None:
    early = d.StartPlacement("pl-1", date(2024, 2, 29))
    error = refused(
        DomainError, "start_before_decision", d.decide_start_placement, given(*READY), early, ctx(ORG),
        decided_on=date(2024, 3, 1),
    )
    assert "2024-03-01" in error.message and error.details["field"] == "started_on"
    on_the_day = d.decide_start_placement(given(*READY), d.StartPlacement("pl-1"), ctx(ORG), decided_on=date(2024, 3, 1))
    assert on_the_day.events == [STARTED]


def test_starting_twice_is_refused() -> None:
    refused(
        StepOrderError,
        "placement_already_started",
        d.decide_start_placement,
        given(*ACTIVE),
        d.StartPlacement("pl-1"),
        ctx(ORG),
    )


@pytest.mark.parametrize(
    ("actor", "rule"),
    [
        (OTHER_HOST, "not_own_placement"),
        (HOME, "organisation_department_or_host_unit_only"),
    ],
)
def test_only_the_department_or_own_host_unit_starts(actor: Actor, rule: str) -> None:
    refused(
        ForbiddenError,
        rule,
        d.decide_start_placement,
        given(*READY),
        d.StartPlacement("pl-1"),
        ctx(actor),
    )


# --- extension, completion, recall ----------------------------------------------------------


def test_an_extension_to_36_months_is_allowed() -> None:
    decision = d.decide_extend_placement(
        given(*ACTIVE), d.ExtendPlacement("pl-1", 12, "项目未完"), ctx(ORG)
    )
    assert decision.events == [
        d.PlacementExtended("pl-1", 12, 36, date(2027, 3, 1), "项目未完", NOW.date())
    ]
    state = given(*ACTIVE, *decision.events)
    assert state is not None and state.status == "extended" and state.term_months == 36


def test_an_extension_beyond_36_months_is_refused() -> None:
    error = refused(
        DomainError,
        "term_exceeds_maximum",
        d.decide_extend_placement,
        given(*ACTIVE),
        d.ExtendPlacement("pl-1", 13, "项目未完"),
        ctx(ORG),
    )
    assert "37" in error.message and "36" in error.message


def test_extensions_add_up_against_the_maximum() -> None:
    once = given(*ACTIVE, d.PlacementExtended("pl-1", 6, 30, date(2026, 9, 1), "x"))
    refused(
        DomainError,
        "term_exceeds_maximum",
        d.decide_extend_placement,
        once,
        d.ExtendPlacement("pl-1", 7, "y"),
        ctx(ORG),
    )
    again = d.decide_extend_placement(once, d.ExtendPlacement("pl-1", 6, "y"), ctx(ORG))
    assert again.events[0] == d.PlacementExtended("pl-1", 6, 36, date(2027, 3, 1), "y", NOW.date())


def test_an_extension_adds_months() -> None:
    refused(
        DomainError,
        "extension_months_invalid",
        d.decide_extend_placement,
        given(*ACTIVE),
        d.ExtendPlacement("pl-1", 0, "x"),
        ctx(ORG),
    )


def test_an_extension_after_the_term_ended_is_refused_saying_what_to_do_instead() -> None:
    command = d.ExtendPlacement("pl-1", 6, "项目未完")  # ACTIVE's term ended on 2026-03-01; ENDED is a month on
    error = refused(StepOrderError, "extension_after_term_end", d.decide_extend_placement, given(*ACTIVE), command,
                    ctx(ORG, ENDED))
    assert "2026-03-01" in error.message and "decided_on" in error.message and "complete" in error.message
    late = replace(command, decided_on=date(2026, 3, 2))
    refused(StepOrderError, "extension_after_term_end", d.decide_extend_placement, given(*ACTIVE), late, ctx(ORG, ENDED))


def test_an_extension_decided_while_the_term_ran_is_recorded_later_with_its_day() -> None:
    in_time = d.ExtendPlacement("pl-1", 6, "项目未完", decided_on=date(2026, 2, 20))
    decision = d.decide_extend_placement(given(*ACTIVE), in_time, ctx(ORG, ENDED))
    assert decision.events == [d.PlacementExtended("pl-1", 6, 30, date(2026, 9, 1), "项目未完", date(2026, 2, 20))]
    on_the_last_day = d.decide_extend_placement(given(*ACTIVE), d.ExtendPlacement("pl-1", 6, "项目未完"),
                                                ctx(ORG, datetime(2026, 3, 1, 20, 0, tzinfo=UTC)))
    assert on_the_last_day.events[0].decided_on == date(2026, 3, 1)


@pytest.mark.parametrize(("decided_on", "rule"), [(date(2024, 2, 29), "extension_before_start"),
                                                  (date(2024, 6, 3), "extension_in_future")])
def test_an_extension_is_dated_between_the_start_and_today(decided_on: date, rule: str) -> None:
    command = d.ExtendPlacement("pl-1", 6, "项目未完", decided_on=decided_on)
    refused(DomainError, rule, d.decide_extend_placement, given(*ACTIVE), command, ctx(ORG))


def test_only_a_running_placement_is_extended_by_the_department() -> None:
    command = d.ExtendPlacement("pl-1", 6, "x")
    refused(
        StepOrderError,
        "placement_not_active",
        d.decide_extend_placement,
        given(*READY),
        command,
        ctx(ORG),
    )
    refused(
        ForbiddenError,
        "organisation_department_only",
        d.decide_extend_placement,
        given(*ACTIVE),
        command,
        ctx(HOST),
    )


@pytest.mark.parametrize(
    ("outcome", "label"),
    [("returned", "回原单位"), ("retained", "留任"), ("promoted", "提拔任用")],
)
def test_a_served_term_completes_with_an_outcome(outcome: str, label: str) -> None:
    command = d.CompletePlacement("pl-1", outcome, date(2026, 3, 1))
    decision = d.decide_complete_placement(given(*ACTIVE), command, ctx(ORG, ENDED))
    assert decision.events == [d.PlacementCompleted("pl-1", outcome, date(2026, 3, 1))]
    state = given(*ACTIVE, *decision.events)
    assert (
        state is not None
        and state.status == "completed"
        and state.outcome_label == label
    )


def test_completing_before_the_term_is_served_is_refused() -> None:
    refused(
        StepOrderError,
        "term_not_served",
        d.decide_complete_placement,
        given(*ACTIVE),
        d.CompletePlacement("pl-1", "promoted", date(2024, 5, 1)),
        ctx(ORG),
    )


def test_an_unknown_outcome_is_refused() -> None:
    refused(
        DomainError,
        "unknown_outcome",
        d.decide_complete_placement,
        given(*ACTIVE),
        d.CompletePlacement("pl-1", "dismissed", date(2026, 3, 1)),
        ctx(ORG),
    )


def test_completion_is_decided_by_the_department_on_a_running_placement() -> None:
    command = d.CompletePlacement("pl-1", "returned", date(2026, 3, 1))
    refused(
        ForbiddenError,
        "organisation_department_only",
        d.decide_complete_placement,
        given(*ACTIVE),
        command,
        ctx(HOST),
    )
    done = given(*ACTIVE, d.PlacementCompleted("pl-1", "returned", date(2026, 3, 1)))
    refused(
        StepOrderError,
        "placement_not_active",
        d.decide_complete_placement,
        done,
        command,
        ctx(ORG),
    )


def test_the_department_recalls_a_running_placement_with_a_reason() -> None:
    command = d.RecallPlacement("pl-1", "违反工作纪律", date(2024, 5, 31))
    decision = d.decide_recall_placement(given(*ACTIVE), command, ctx(ORG))
    assert decision.events == [
        d.PlacementRecalled("pl-1", "违反工作纪律", date(2024, 5, 31))
    ]
    state = given(*ACTIVE, *decision.events)
    assert state is not None and state.status_label == "提前召回"
    assert state.recall_reason == "违反工作纪律"


@pytest.mark.parametrize(
    ("events", "actor", "reason", "error", "rule"),
    [
        (ACTIVE, HOST, "x", ForbiddenError, "organisation_department_only"),
        (ACTIVE, HOME, "x", ForbiddenError, "organisation_department_only"),
        (ACTIVE, ORG, "  ", DomainError, "recall_reason_required"),
        (READY, ORG, "x", StepOrderError, "placement_not_active"),
    ],
)
def test_recall_refusals(
    events: list[Event], actor: Actor, reason: str, error: type[DomainError], rule: str
) -> None:
    command = d.RecallPlacement("pl-1", reason, date(2024, 5, 31))
    refused(error, rule, d.decide_recall_placement, given(*events), command, ctx(actor))


# --- tracking supervision -------------------------------------------------------------------


def test_the_host_unit_records_a_check_in_on_its_placement() -> None:
    decision = d.decide_record_check_in(given(*ACTIVE), CHECK_IN, ctx(HOST))
    assert decision.events == [
        d.CheckInRecorded(
            "pl-1", date(2024, 4, 2), "思想稳定", "走访五户", "镇党委书记", ""
        )
    ]
    state = given(*ACTIVE, *decision.events)
    assert state is not None and state.check_ins == 1
    assert state.last_check_in_on == date(2024, 4, 2)


@pytest.mark.parametrize(
    ("actor", "rule"),
    [
        (OTHER_HOST, "not_own_placement"),
        (ORG, "host_unit_only"),
        (HOME, "host_unit_only"),
    ],
)
def test_a_check_in_by_anyone_but_the_own_host_unit_is_refused(
    actor: Actor, rule: str
) -> None:
    refused(
        ForbiddenError,
        rule,
        d.decide_record_check_in,
        given(*ACTIVE),
        CHECK_IN,
        ctx(actor),
    )


@pytest.mark.parametrize(
    "events",
    [READY, [*ACTIVE, d.PlacementCompleted("pl-1", "returned", date(2026, 3, 1))]],
)
def test_a_check_in_outside_the_running_term_is_refused(events: list[Event]) -> None:
    refused(
        StepOrderError,
        "placement_not_active",
        d.decide_record_check_in,
        given(*events),
        CHECK_IN,
        ctx(HOST),
    )


def test_a_check_in_before_the_start_is_refused() -> None:
    early = replace(CHECK_IN, checked_on=date(2024, 2, 1))
    refused(
        DomainError,
        "check_in_before_start",
        d.decide_record_check_in,
        given(*ACTIVE),
        early,
        ctx(HOST),
    )


def test_a_check_in_records_thinking_and_work() -> None:
    empty = replace(CHECK_IN, work="")
    refused(
        DomainError,
        "check_in_incomplete",
        d.decide_record_check_in,
        given(*ACTIVE),
        empty,
        ctx(HOST),
    )


def test_the_host_unit_reports_leave_with_its_length() -> None:
    command = d.ReportAttendance(
        "pl-1", "leave", date(2024, 5, 6), date(2024, 5, 8), "病假"
    )
    decision = d.decide_report_attendance(given(*ACTIVE), command, ctx(HOST))
    assert decision.events == [
        d.AttendanceReported(
            "pl-1", "leave", date(2024, 5, 6), date(2024, 5, 8), 3, "病假"
        )
    ]


@pytest.mark.parametrize(
    ("actor", "kind", "to_date", "error", "rule"),
    [
        (HOST, "holiday", date(2024, 5, 8), DomainError, "unknown_attendance_kind"),
        (HOST, "leave", date(2024, 5, 5), DomainError, "attendance_period_invalid"),
        (OTHER_HOST, "leave", date(2024, 5, 8), ForbiddenError, "not_own_placement"),
    ],
)
def test_attendance_refusals(
    actor: Actor, kind: str, to_date: date, error: type[DomainError], rule: str
) -> None:
    command = d.ReportAttendance("pl-1", kind, date(2024, 5, 6), to_date)
    refused(
        error, rule, d.decide_report_attendance, given(*ACTIVE), command, ctx(actor)
    )


@pytest.mark.parametrize("actor", [HOST, ORG])
def test_a_discipline_incident_is_recorded(actor: Actor) -> None:
    command = d.RecordDisciplineIncident("pl-1", date(2024, 5, 2), "无故缺勤两天")
    decision = d.decide_record_discipline_incident(given(*ACTIVE), command, ctx(actor))
    assert decision.events == [
        d.DisciplineIncidentRecorded("pl-1", date(2024, 5, 2), "无故缺勤两天")
    ]
    assert given(*ACTIVE, *decision.events).discipline_incidents == 1  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("events", "actor", "error", "rule"),
    [
        (ACTIVE, HOME, ForbiddenError, "organisation_department_or_host_unit_only"),
        (ACTIVE, OTHER_HOST, ForbiddenError, "not_own_placement"),
        (READY, HOST, StepOrderError, "placement_not_active"),
    ],
)
def test_discipline_refusals(
    events: list[Event], actor: Actor, error: type[DomainError], rule: str
) -> None:
    command = d.RecordDisciplineIncident("pl-1", date(2024, 5, 2), "x")
    refused(
        error,
        rule,
        d.decide_record_discipline_incident,
        given(*events),
        command,
        ctx(actor),
    )


# --- safeguards -----------------------------------------------------------------------------


def test_training_received_is_recorded_and_summed() -> None:
    command = d.RecordTraining(
        "pl-1", "乡村振兴专题", "县委党校", 16, date(2024, 4, 20)
    )
    decision = d.decide_record_training(given(*ACTIVE), command, ctx(ORG))
    assert decision.events == [
        d.TrainingRecorded("pl-1", "乡村振兴专题", "县委党校", 16, date(2024, 4, 20))
    ]
    state = given(*ACTIVE, *decision.events, *decision.events)
    assert state is not None and (state.trainings, state.training_hours) == (2, 32)


@pytest.mark.parametrize(
    ("events", "actor", "hours", "error", "rule"),
    [
        (ACTIVE, HOST, 0, DomainError, "training_hours_invalid"),
        (ACTIVE, HOME, 8, ForbiddenError, "organisation_department_or_host_unit_only"),
        (READY, ORG, 8, StepOrderError, "placement_not_active"),
    ],
)
def test_training_refusals(
    events: list[Event], actor: Actor, hours: int, error: type[DomainError], rule: str
) -> None:
    command = d.RecordTraining("pl-1", "x", "y", hours, date(2024, 4, 20))
    refused(error, rule, d.decide_record_training, given(*events), command, ctx(actor))


def test_the_department_decides_rewards_and_penalties() -> None:
    reward = d.DecideReward("pl-1", "通报表扬", "化解信访积案", date(2024, 5, 20))
    penalty = d.DecidePenalty("pl-1", "诫勉谈话", "无故缺勤", date(2024, 5, 21))
    rewarded = d.decide_reward(given(*ACTIVE), reward, ctx(ORG)).events
    penalised = d.decide_penalty(given(*ACTIVE), penalty, ctx(ORG)).events
    assert rewarded == [
        d.RewardDecided("pl-1", "通报表扬", "化解信访积案", date(2024, 5, 20))
    ]
    assert penalised == [
        d.PenaltyDecided("pl-1", "诫勉谈话", "无故缺勤", date(2024, 5, 21))
    ]
    state = given(*ACTIVE, *rewarded, *penalised)
    assert state is not None and (state.rewards, state.penalties) == (1, 1)


@pytest.mark.parametrize("decide", [d.decide_reward, d.decide_penalty])
def test_rewards_and_penalties_refusals(decide: Callable[..., Decision]) -> None:
    command_type = d.DecideReward if decide is d.decide_reward else d.DecidePenalty
    command = command_type("pl-1", "x", "y", date(2024, 5, 20))
    refused(
        ForbiddenError,
        "organisation_department_only",
        decide,
        given(*ACTIVE),
        command,
        ctx(HOST),
    )
    refused(
        StepOrderError, "placement_not_active", decide, given(*READY), command, ctx(ORG)
    )


# --- the overdue check-in alert -------------------------------------------------------------


def at(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, 8, 0, tzinfo=UTC)


def test_silence_since_the_start_raises_the_alert_once() -> None:
    decision = d.check_overdue(given(*ACTIVE), at(date(2024, 4, 2)), max_days=30)
    alert = d.CheckInOverdue("pl-1", date(2024, 3, 1), 32, 30, date(2024, 4, 2))
    assert decision.events == [alert]
    assert d.check_overdue(given(*ACTIVE, alert), at(date(2024, 5, 2)), 30).events == []


def test_no_alert_within_the_interval() -> None:
    assert d.check_overdue(given(*ACTIVE), at(date(2024, 3, 31)), 30).events == []
    checked = d.decide_record_check_in(given(*ACTIVE), CHECK_IN, ctx(HOST)).events
    assert (
        d.check_overdue(given(*ACTIVE, *checked), at(date(2024, 5, 1)), 30).events == []
    )


def test_a_check_in_clears_the_alert_and_a_new_silence_raises_it_again() -> None:
    alert = d.check_overdue(given(*ACTIVE), at(date(2024, 4, 2)), 30).events
    checked = d.decide_record_check_in(
        given(*ACTIVE, *alert), CHECK_IN, ctx(HOST, at(date(2024, 4, 2)))  # recorded the day it took place
    ).events
    assert checked[1:] == [d.CheckInOverdueCleared("pl-1", date(2024, 4, 2))]
    state = given(*ACTIVE, *alert, *checked)
    assert state is not None and not state.overdue_alert_open
    again = d.check_overdue(state, at(date(2024, 5, 10)), 30).events
    assert again == [
        d.CheckInOverdue("pl-1", date(2024, 4, 2), 38, 30, date(2024, 5, 10))
    ]


def test_a_check_in_recorded_late_for_an_old_day_fills_that_gap_and_leaves_the_alert_open() -> None:
    alert = d.check_overdue(given(*ACTIVE), at(date(2024, 6, 1)), 30).events  # silent since the start on 3-01
    old_day = d.decide_record_check_in(given(*ACTIVE, *alert), replace(CHECK_IN, checked_on=date(2024, 3, 15)),
                                       ctx(HOST, at(date(2024, 6, 1)))).events
    assert [type(e) for e in old_day] == [d.CheckInRecorded]  # 3-15 to 6-01 is still 78 days without one
    state = given(*ACTIVE, *alert, *old_day)
    assert state is not None and state.overdue_alert_open and state.last_check_in_on == date(2024, 3, 15)
    assert d.check_overdue(state, at(date(2024, 6, 2)), 30).events == []  # one alert for the one silence

    recent = d.decide_record_check_in(state, replace(CHECK_IN, checked_on=date(2024, 5, 20)),
                                      ctx(HOST, at(date(2024, 6, 1)))).events
    assert recent[1:] == [d.CheckInOverdueCleared("pl-1", date(2024, 5, 20))]  # 12 days ago: within the 30


@pytest.mark.parametrize(
    "events",
    [[], READY, [*ACTIVE, d.PlacementRecalled("pl-1", "x", date(2024, 3, 5))]],
)
def test_no_alert_for_a_placement_that_is_not_running(events: list[Event]) -> None:
    assert d.check_overdue(given(*events), at(date(2025, 1, 1)), 30).events == []


# --- the annual placement plan --------------------------------------------------------------


def test_the_department_records_and_revises_the_annual_plan() -> None:
    first = d.decide_record_placement_plan(
        None, d.RecordPlacementPlan(2024, 19, 5, 3), ctx(ORG)
    )
    assert first.events == [d.PlacementPlanRecorded(2024, 19, 5, 3)]
    plan_state = d.fold_plan(first.events)
    assert plan_state is not None and plan_state.total == 27
    same = d.decide_record_placement_plan(
        plan_state, d.RecordPlacementPlan(2024, 19, 5, 3), ctx(ORG)
    )
    assert same.events == []
    revised = d.decide_record_placement_plan(
        plan_state, d.RecordPlacementPlan(2024, 20, 5, 3), ctx(ORG)
    )
    state = d.fold_plan([*first.events, *revised.events])
    assert state is not None and (state.revision, state.planned("gap_filling")) == (
        2,
        20,
    )


def test_plan_refusals() -> None:
    command = d.RecordPlacementPlan(2024, 19, -1, 3)
    error = refused(
        DomainError,
        "plan_count_negative",
        d.decide_record_placement_plan,
        None,
        command,
        ctx(ORG),
    )
    assert "strength" in error.message
    good = d.RecordPlacementPlan(2024, 19, 5, 3)
    refused(
        ForbiddenError,
        "organisation_department_only",
        d.decide_record_placement_plan,
        None,
        good,
        ctx(HOST),
    )


# --- dates: what happened is not in the future, and supervision stays within the term ----------
# No county time zone is known: "today" is the UTC date of the command's time, one day ahead allowed.

TOMORROW, TWO_DAYS_AHEAD = date(2024, 6, 2), date(2024, 6, 3)


def test_a_check_in_dated_today_or_tomorrow_utc_is_recorded() -> None:
    for day in (NOW.date(), TOMORROW):  # tomorrow in UTC may be today in the county (UTC+8)
        decision = d.decide_record_check_in(given(*ACTIVE), replace(CHECK_IN, checked_on=day), ctx(HOST))
        assert decision.events[0].checked_on == day  # type: ignore[attr-defined]


def test_a_check_in_in_the_future_is_refused_naming_the_dates() -> None:
    error = refused(
        DomainError,
        "check_in_in_future",
        d.decide_record_check_in,
        given(*ACTIVE),
        replace(CHECK_IN, checked_on=TWO_DAYS_AHEAD),
        ctx(HOST),
    )
    assert "2024-06-03" in error.message and "2024-06-02" in error.message


def test_the_utc_date_of_now_decides_whatever_zone_now_is_given_in() -> None:
    county = timezone(timedelta(hours=8))
    late_evening_utc = datetime(2024, 6, 2, 7, 0, tzinfo=county)  # 2024-06-01 23:00 UTC
    refused(
        DomainError,
        "check_in_in_future",
        d.decide_record_check_in,
        given(*ACTIVE),
        replace(CHECK_IN, checked_on=TWO_DAYS_AHEAD),
        ctx(HOST, late_evening_utc),
    )


def test_a_check_in_after_the_term_ended_is_refused() -> None:
    for day in (date(2026, 3, 2), date(2099, 1, 1)):
        error = refused(
            DomainError,
            "check_in_after_term_end",
            d.decide_record_check_in,
            given(*ACTIVE),
            replace(CHECK_IN, checked_on=day),
            ctx(HOST, ENDED),
        )
        assert str(day) in error.message and "2026-03-01" in error.message
    last_day = replace(CHECK_IN, checked_on=date(2026, 3, 1))
    assert d.decide_record_check_in(given(*ACTIVE), last_day, ctx(HOST, ENDED)).events


def test_an_extension_moves_the_last_day_of_check_ins() -> None:
    extended = given(*ACTIVE, d.PlacementExtended("pl-1", 6, 30, date(2026, 9, 1), "项目未完"))
    later = replace(CHECK_IN, checked_on=date(2026, 3, 20))
    assert d.decide_record_check_in(extended, later, ctx(HOST, ENDED)).events


@pytest.mark.parametrize(
    ("from_date", "to_date", "rule"),
    [
        (date(2024, 2, 27), date(2024, 3, 2), "attendance_before_start"),
        (date(2026, 2, 27), date(2026, 3, 2), "attendance_after_term_end"),
        (date(2024, 5, 30), TWO_DAYS_AHEAD, "attendance_in_future"),
    ],
)
def test_attendance_is_reported_for_days_within_the_term_that_have_passed(
    from_date: date, to_date: date, rule: str
) -> None:
    command = d.ReportAttendance("pl-1", "leave", from_date, to_date)
    refused(DomainError, rule, d.decide_report_attendance, given(*ACTIVE), command, ctx(HOST))


@pytest.mark.parametrize(
    ("occurred_on", "rule"),
    [
        (date(2024, 2, 29), "incident_before_start"),
        (date(2026, 3, 2), "incident_after_term_end"),
        (TWO_DAYS_AHEAD, "incident_in_future"),
    ],
)
def test_a_discipline_incident_happened_within_the_term_and_not_in_the_future(
    occurred_on: date, rule: str
) -> None:
    command = d.RecordDisciplineIncident("pl-1", occurred_on, "无故缺勤两天")
    refused(DomainError, rule, d.decide_record_discipline_incident, given(*ACTIVE), command, ctx(ORG))


def test_training_completed_in_the_future_is_refused() -> None:
    command = d.RecordTraining("pl-1", "乡村振兴专题", "县委党校", 16, date(2099, 1, 1))
    error = refused(DomainError, "training_in_future", d.decide_record_training, given(*ACTIVE), command, ctx(ORG))
    assert "2099-01-01" in error.message


def test_training_before_the_start_is_recorded() -> None:
    """Pre-departure training (岗前培训) comes before the start; the domain sets it no earliest date."""
    command = d.RecordTraining("pl-1", "岗前培训", "县委党校", 16, date(2024, 2, 20))
    assert d.decide_record_training(given(*ACTIVE), command, ctx(ORG)).events


def test_training_after_the_term_ended_is_refused() -> None:
    """ACTIVE's term ended on 2026-03-01: the secondment's training ends with it (an extension moves the end)."""
    command = d.RecordTraining("pl-1", "乡村振兴专题", "县委党校", 16, date(2026, 3, 2))
    error = refused(DomainError, "training_after_term_end", d.decide_record_training, given(*ACTIVE), command,
                    ctx(ORG, ENDED))
    assert "2026-03-01" in error.message
    on_the_last_day = d.RecordTraining("pl-1", "乡村振兴专题", "县委党校", 16, date(2026, 3, 1))
    assert d.decide_record_training(given(*ACTIVE), on_the_last_day, ctx(ORG, ENDED)).events


@pytest.mark.parametrize(
    ("decide", "command", "rule"),
    [
        (d.decide_reward, d.DecideReward("pl-1", "通报表扬", "考核优秀", TWO_DAYS_AHEAD), "reward_in_future"),
        (d.decide_penalty, d.DecidePenalty("pl-1", "诫勉谈话", "擅离岗位", TWO_DAYS_AHEAD), "penalty_in_future"),
    ],
)
def test_a_reward_or_penalty_decided_in_the_future_is_refused(
    decide: Callable[..., Decision], command: Any, rule: str
) -> None:
    refused(DomainError, rule, decide, given(*ACTIVE), command, ctx(ORG))


@pytest.mark.parametrize(
    ("decide", "command", "rule"),
    [
        (d.decide_reward, d.DecideReward("pl-1", "通报表扬", "考核优秀", date(2024, 2, 29)), "reward_before_start"),
        (d.decide_penalty, d.DecidePenalty("pl-1", "诫勉谈话", "擅离岗位", date(2024, 2, 29)), "penalty_before_start"),
    ],
)
def test_a_reward_or_penalty_decided_before_the_placement_started_is_refused(
    decide: Callable[..., Decision], command: Any, rule: str
) -> None:
    error = refused(DomainError, rule, decide, given(*ACTIVE), command, ctx(ORG))  # ACTIVE started on 2024-03-01
    assert "2024-03-01" in error.message
    assert decide(given(*ACTIVE), replace(command, decided_on=date(2024, 3, 1)), ctx(ORG)).events


@pytest.mark.parametrize(
    ("decide", "command", "field"),
    [
        (d.decide_record_discipline_incident, d.RecordDisciplineIncident("pl-1", date(2024, 5, 2), "  "), "description"),
        (d.decide_reward, d.DecideReward("pl-1", " ", "考核优秀", date(2024, 5, 20)), "description"),
        (d.decide_reward, d.DecideReward("pl-1", "通报表扬", "\t", date(2024, 5, 20)), "basis"),
        (d.decide_penalty, d.DecidePenalty("pl-1", "诫勉谈话", "  ", date(2024, 5, 20)), "basis"),
        (d.decide_extend_placement, d.ExtendPlacement("pl-1", 12, "   "), "reason"),
        (d.decide_record_check_in, replace(CHECK_IN, met_by="  "), "met_by"),
        (d.decide_record_training, d.RecordTraining("pl-1", " ", "县委党校", 16, date(2024, 4, 20)), "course"),
        (d.decide_record_training, d.RecordTraining("pl-1", "乡村振兴专题", " ", 16, date(2024, 4, 20)), "provider"),
    ],
)
def test_a_blank_free_text_is_refused_naming_the_field(decide: Callable[..., Decision], command: Any, field: str) -> None:
    actor = HOST if decide is d.decide_record_check_in else ORG
    error = refused(DomainError, f"{field}_required", decide, given(*ACTIVE), command, ctx(actor))
    assert error.details["field"] == field


def test_a_placement_planned_to_start_in_the_future_starts_only_when_it_has() -> None:
    later = replace(PLANNED, start_date=date(2024, 9, 1))
    assert d.decide_plan_placement(None, plan(start_date=date(2099, 9, 1)), ctx(ORG), nomination()).events
    ready = given(later, DRAFTED, *SIGNED)
    error = refused(DomainError, "start_in_future", d.decide_start_placement, ready, d.StartPlacement("pl-1"), ctx(HOST))
    assert "2024-09-01" in error.message and "planned" in error.message
    refused(
        DomainError,
        "start_in_future",
        d.decide_start_placement,
        ready,
        d.StartPlacement("pl-1", TWO_DAYS_AHEAD),
        ctx(HOST),
    )
    started = d.decide_start_placement(ready, d.StartPlacement("pl-1", NOW.date()), ctx(HOST))
    assert started.events == [d.PlacementStarted("pl-1", NOW.date(), date(2026, 6, 1))]


def test_a_completion_in_the_future_is_refused_even_when_the_term_ends_then() -> None:
    error = refused(
        DomainError,
        "completion_in_future",
        d.decide_complete_placement,
        given(*ACTIVE),
        d.CompletePlacement("pl-1", "returned", date(2026, 3, 1)),
        ctx(ORG),
    )
    assert "2026-03-01" in error.message and "2024-06-02" in error.message


@pytest.mark.parametrize(
    ("recalled_on", "rule"),
    [(date(2024, 2, 29), "recall_before_start"), (TWO_DAYS_AHEAD, "recall_in_future")],
)
def test_a_recall_is_dated_between_the_start_and_today(recalled_on: date, rule: str) -> None:
    command = d.RecallPlacement("pl-1", "违反工作纪律", recalled_on)
    refused(DomainError, rule, d.decide_recall_placement, given(*ACTIVE), command, ctx(ORG))


def test_a_recall_dated_after_the_term_ended_is_refused_the_term_was_served() -> None:
    late = d.RecallPlacement("pl-1", "违反工作纪律", date(2026, 3, 20))  # ACTIVE's term ended on 2026-03-01
    error = refused(DomainError, "recall_after_term_end", d.decide_recall_placement, given(*ACTIVE), late, ctx(ORG, ENDED))
    assert "2026-03-01" in error.message
    last_day = d.RecallPlacement("pl-1", "违反工作纪律", date(2026, 3, 1))
    assert d.decide_recall_placement(given(*ACTIVE), last_day, ctx(ORG, ENDED)).events


def test_events_recorded_before_the_date_rules_still_fold() -> None:
    state = given(
        *ACTIVE,
        d.CheckInRecorded("pl-1", date(2099, 1, 1), "思想稳定", "走访", "书记", ""),
        d.TrainingRecorded("pl-1", "x", "y", 8, date(2099, 1, 1)),
        d.PlacementCompleted("pl-1", "returned", date(2099, 12, 31)),
    )
    assert state is not None and (state.check_ins, state.trainings, state.status) == (1, 1, "completed")
    assert state.last_check_in_on == date(2099, 1, 1)


def test_silence_after_the_term_ended_raises_no_alert() -> None:
    checked = given(*ACTIVE, d.CheckInRecorded("pl-1", date(2026, 2, 10), "稳定", "走访", "书记", ""))
    assert d.check_overdue(checked, ENDED, max_days=30).events == []
    silent = given(*ACTIVE, d.CheckInRecorded("pl-1", date(2026, 1, 1), "稳定", "走访", "书记", ""))
    alert = d.CheckInOverdue("pl-1", date(2026, 1, 1), 59, 30, ENDED.date())
    assert d.check_overdue(silent, ENDED, max_days=30).events == [alert]


# --- the whole lifecycle, labels and the event contract --------------------------------------


def run(
    events: list[Event],
    decide: Callable[..., Decision],
    command: Any,
    actor: Actor,
    *more: Any,
) -> list[Event]:
    return events + decide(given(*events), command, ctx(actor), *more).events


def test_a_placement_from_plan_to_completion() -> None:
    planned = d.decide_plan_placement(None, plan(), ctx(ORG), nomination()).events
    events = [e for e in planned if not isinstance(e, d.NominationPlaced)]
    events = run(events, d.decide_draft_agreement, DRAFT, ORG)
    for actor in (ORG, HOME, HOST):
        events = run(events, d.decide_sign_agreement, d.SignAgreement("pl-1", 1), actor)
    events = run(events, d.decide_start_placement, d.StartPlacement("pl-1"), HOST)
    events = run(events, d.decide_record_check_in, CHECK_IN, HOST)
    events = run(
        events, d.decide_extend_placement, d.ExtendPlacement("pl-1", 12, "续任"), ORG
    )
    completion = d.CompletePlacement("pl-1", "retained", date(2027, 3, 1))
    events += d.decide_complete_placement(
        given(*events), completion, ctx(ORG, datetime(2027, 3, 1, 9, 0, tzinfo=UTC))
    ).events

    state = given(*events)
    assert state is not None
    assert (state.status, state.outcome, state.term_months) == (
        "completed",
        "retained",
        36,
    )
    assert (
        state.status_label,
        state.placement_type_label,
        state.posting_mode_label,
    ) == (
        "期满结束",
        "补短型",
        "平职挂",
    )
    assert [e.TYPE for e in events][-3:] == [
        "posting.CheckInRecorded",
        "posting.PlacementExtended",
        "posting.PlacementCompleted",
    ]


def test_every_code_has_a_chinese_label() -> None:
    for codes, labels in [
        (d.RANKS, d.RANK_LABELS),
        (d.PLACEMENT_TYPES, d.PLACEMENT_TYPE_LABELS),
        (d.POSTING_MODES, d.POSTING_MODE_LABELS),
        (d.STATUSES, d.STATUS_LABELS),
        (d.OUTCOMES, d.OUTCOME_LABELS),
        (d.AGREEMENT_PARTIES, d.AGREEMENT_PARTY_LABELS),
        (d.ATTENDANCE_KINDS, d.ATTENDANCE_KIND_LABELS),
    ]:
        assert set(codes) == set(labels)
    assert d.PLACEMENT_TYPE_LABELS["strength"] == "扬长型"
    assert d.POSTING_MODE_LABELS["lower_post"] == "高职低挂"


def test_event_types_are_stable_posting_names_with_json_friendly_fields() -> None:
    assert all(
        name == cls.TYPE and name.startswith("posting.")
        for name, cls in d.EVENT_TYPES.items()
    )
    assert len(d.EVENT_TYPES) == 20
    samples: list[Event] = [
        NOMINATION,
        *ACTIVE,
        d.CheckInOverdue("pl-1", date(2024, 3, 1), 32, 30, date(2024, 4, 2)),
    ]
    for event in samples:
        json.dumps(event.payload(), default=date.isoformat, ensure_ascii=False)


def test_add_months_clamps_to_the_end_of_the_month() -> None:
    assert d.add_months(date(2024, 1, 31), 1) == date(2024, 2, 29)
    assert d.add_months(date(2024, 11, 30), 24) == date(2026, 11, 30)
