"""The assessment domain, rule by rule: given some events, when a command is decided, then events or a refusal."""
from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from datetime import UTC, date, datetime
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from services.assessment.domain import (
    ANNUAL_EVENTS,
    DEFAULT_POLICY,
    DIMENSION_LABELS,
    DIMENSIONS,
    EVENT_TYPES,
    FOCUS_LABELS,
    FOCUSES,
    GRADE_LABELS,
    GRADES,
    PLACEMENT_COMPLETED,
    PLACEMENT_EXTENDED,
    PLACEMENT_PLANNED,
    PLACEMENT_RECALLED,
    PLACEMENT_STARTED,
    TEAM_GRADE_LABELS,
    TEAM_GRADES,
    ActivePlacement,
    AdjustPerformanceScore,
    AdoptPolicy,
    Assessment,
    AssessmentFinalised,
    AssessmentOpened,
    AssessmentPolicy,
    AssessmentReopened,
    BallotCast,
    BallotTokensIssued,
    Campaign,
    CampaignOpened,
    CampaignSettings,
    CastBallot,
    CastTokenBallot,
    CorrectDemocraticEntry,
    CorrectPerformanceScore,
    CorrectSelfEvaluation,
    EnterPerformanceScore,
    EnterSelfEvaluation,
    EnterTally,
    EnterTeamDemocraticScores,
    FinaliseAssessment,
    FinaliseTeamAssessment,
    IssueBallotTokens,
    OpenAssessment,
    OpenCampaign,
    PlacementEventNoted,
    PlacementRoster,
    PolicyAdopted,
    RecordFinding,
    RecordInterviewNote,
    RecordResultUse,
    RecordTeamScore,
    ReopenAssessment,
    TallyEntered,
    UploadSurveyReport,
    WarningRaised,
    apply_posting_event,
    assessment_id_for,
    check_excellent_cap,
    composite_score,
    decide_adjust_performance_score,
    decide_adopt_policy,
    decide_cast_ballot,
    decide_cast_token_ballot,
    decide_correct_democratic_entry,
    decide_correct_performance_score,
    decide_correct_self_evaluation,
    decide_enter_performance_score,
    decide_enter_self_evaluation,
    decide_enter_tally,
    decide_enter_team_democratic_scores,
    decide_finalise_assessment,
    decide_finalise_team_assessment,
    decide_issue_ballot_tokens,
    decide_note_posting_event,
    decide_open_assessment,
    decide_open_campaign,
    decide_record_finding,
    decide_record_interview_note,
    decide_record_result_use,
    decide_record_team_score,
    decide_reopen_assessment,
    decide_upload_survey_report,
    fold,
    fold_campaign,
    fold_policies,
    fold_roster,
    group_results,
    parse_survey_rows,
    policy_in_force,
    proposed_grade,
    warnings,
)
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

NOW = datetime(2024, 12, 1, tzinfo=UTC)
HOST = Actor("host-clerk", "host_unit", "township-a")
OTHER_HOST = Actor("other-clerk", "host_unit", "township-b")
HOME = Actor("home-clerk", "sending_unit", "county-bureau")
OTHER_HOME = Actor("stranger", "sending_unit", "other-bureau")
ORG = Actor("org-officer", "organisation_department", "org-dept")
AGENCY = Actor("pollster", "third_party_agency", "survey-co")
OTHER_AGENCY = Actor("rival", "third_party_agency", "rival-co")

POLICY = AssessmentPolicy(version="county-2024", effective_from=date(2024, 1, 1))
PLACEMENT = {
    "placement_id": "P1", "cadre_id": "C1", "host_unit": "township-a",
    "home_unit": "county-bureau", "placement_type": "gap_filling",
}
PLANNED = {**PLACEMENT, "nomination_id": "N1", "cadre_rank": "deputy_section", "host_post": "副镇长",
           "post_level": "deputy_section", "posting_mode": "same_level", "term_months": 24, "start_date": "2024-03-01"}
STARTED = {"placement_id": "P1", "started_on": "2024-03-01", "ends_on": "2026-02-28"}
ROSTER = apply_posting_event(apply_posting_event(PlacementRoster(), PLACEMENT_PLANNED, PLANNED), PLACEMENT_STARTED, STARTED)
GOOD_TALLIES = {
    "leaders": {"excellent": 5},
    "colleagues": {"excellent": 4, "competent": 4},
    "public": {"competent": 5, "basically_competent": 5},
}
GOOD_SCORES = {"work_performance": 90, "public_recognition": 85, "quality_improvement": 80}


def ctx(actor: Actor = HOST, reason: str | None = None) -> Context:
    return Context(actor=actor, now=NOW, reason=reason)


class Stream:
    """An event stream under test: `when` decides a command on the folded state and appends its events."""

    def __init__(self, folder: Callable[[list[Event]], Any], *events: Event) -> None:
        self.folder = folder
        self.events = list(events)

    @property
    def state(self) -> Any:
        return self.folder(self.events)

    def when(self, decide: Callable[..., Decision], command: Any, context: Context, *extra: Any) -> Decision:
        decision = decide(self.state, command, context, *extra)
        self.events += decision.events
        return decision


@contextmanager
def refused(rule: str, error: type[DomainError] = DomainError) -> Iterator[pytest.ExceptionInfo[DomainError]]:
    """The block is refused by `rule`, with an error of (a subclass of) `error`."""
    with pytest.raises(error) as info:
        yield info
    assert info.value.rule == rule, info.value.message


# ---------- annual assessment: helpers ----------

def opened(kind: str = "annual", policy: AssessmentPolicy = POLICY) -> Stream:
    stream = Stream(fold)
    stream.when(decide_open_assessment, OpenAssessment("P1", kind, 2024), ctx(), ROSTER, policy)
    return stream


def aid() -> str:
    return assessment_id_for("P1", "annual", 2024)


def with_inputs(stream: Stream, tallies: dict[str, dict[str, int]] = GOOD_TALLIES,
                scores: dict[str, float] = GOOD_SCORES) -> Stream:
    a = stream.state.assessment_id
    stream.when(decide_enter_self_evaluation, EnterSelfEvaluation(a, "I served the township."), ctx())
    for group, counts in tallies.items():
        stream.when(decide_enter_tally, EnterTally(a, group, counts), ctx())
    for dimension, score in scores.items():
        stream.when(decide_enter_performance_score, EnterPerformanceScore(a, dimension, score, "report"), ctx())
    return stream


def ready(**kwargs: Any) -> Stream:
    return with_inputs(opened(), **kwargs)


def finalise(stream: Stream, grade: str, context: Context | None = None,
             cohort: dict[str, str | None] | None = None) -> Decision:
    command = FinaliseAssessment(stream.state.assessment_id, grade)
    return stream.when(decide_finalise_assessment, command, context or ctx(), cohort or {})


ALL_EXCELLENT = {g: {"excellent": 5} for g in ("leaders", "colleagues", "public")}
TOP_SCORES = dict.fromkeys(DIMENSIONS, 95)


# ---------- placements ----------

def test_a_planned_placement_is_not_active_until_it_starts() -> None:
    planned = apply_posting_event(PlacementRoster(), PLACEMENT_PLANNED, PLANNED)
    assert planned.status_of("P1") == "planned" and not planned.active
    with refused("placement_not_active", NotFoundError):
        decide_open_assessment(None, OpenAssessment("P1", "annual", 2024), ctx(), planned, POLICY)


def test_a_start_without_known_details_changes_nothing() -> None:
    assert apply_posting_event(PlacementRoster(), PLACEMENT_STARTED, STARTED) == PlacementRoster()


def test_a_started_placement_is_active_and_a_completed_one_moves_to_completed() -> None:
    assert ROSTER.active["P1"] == ActivePlacement(**PLACEMENT, started_on="2024-03-01", ends_on="2026-02-28")
    roster = apply_posting_event(ROSTER, PLACEMENT_COMPLETED, {"placement_id": "P1"})
    assert "P1" not in roster.active and roster.completed["P1"].cadre_id == "C1"


def test_a_recalled_placement_is_neither_active_nor_completed_but_still_known() -> None:
    roster = apply_posting_event(ROSTER, PLACEMENT_RECALLED, {"placement_id": "P1"})
    assert not roster.active and not roster.completed and roster.status_of("P1") == "recalled"
    assert roster.find("P1") == ROSTER.active["P1"]  # what posting announced, for who may read it
    assert apply_posting_event(roster, PLACEMENT_PLANNED, PLANNED) == roster  # a late planning changes nothing
    assert apply_posting_event(PlacementRoster(), PLACEMENT_RECALLED, {"placement_id": "P1"}) == PlacementRoster()


def test_an_extension_moves_the_end_of_an_active_placement() -> None:
    roster = apply_posting_event(ROSTER, PLACEMENT_EXTENDED, {"placement_id": "P1", "ends_on": "2027-02-28"})
    assert roster.active["P1"].ends_on == "2027-02-28"


def test_noted_posting_events_keep_only_the_roster_fields_and_replay_to_the_same_roster() -> None:
    noted = [e for t, data in ((PLACEMENT_PLANNED, PLANNED), (PLACEMENT_STARTED, STARTED))
             for e in decide_note_posting_event(t, f"id-{t}", data).events]
    assert all(isinstance(e, PlacementEventNoted) for e in noted)
    assert "host_post" not in noted[0].data and noted[0].data["cadre_id"] == "C1"
    assert fold_roster(noted) == ROSTER
    assert decide_note_posting_event("posting.CheckInRecorded", "x", {"placement_id": "P1"}).events == []


def test_an_annual_assessment_is_not_opened_for_a_year_before_the_placement_started() -> None:
    with refused("assessment_year_before_placement"):
        decide_open_assessment(None, OpenAssessment("P1", "annual", 2023), ctx(), ROSTER, POLICY)


def test_other_posting_events_and_unknown_placements_leave_the_roster_alone() -> None:
    assert apply_posting_event(ROSTER, "posting.CheckInRecorded", {"placement_id": "P1"}) == ROSTER
    assert apply_posting_event(ROSTER, PLACEMENT_COMPLETED, {"placement_id": "P9"}) == ROSTER


# ---------- policy ----------

def test_the_organisation_department_adopts_a_policy_version_once() -> None:
    [adopted] = decide_adopt_policy((), AdoptPolicy(POLICY), ctx(ORG)).events
    assert isinstance(adopted, PolicyAdopted) and fold_policies([adopted]) == (POLICY,)
    assert decide_adopt_policy((POLICY,), AdoptPolicy(POLICY), ctx(ORG)).events == []
    with refused("policy_version_exists", StepOrderError):
        decide_adopt_policy((POLICY,), AdoptPolicy(replace(POLICY, excellent_cap=0.3)), ctx(ORG))
    with refused("role_not_allowed", ForbiddenError):
        decide_adopt_policy((), AdoptPolicy(POLICY), ctx(HOST))


def test_default_policy_holds_the_local_settings_of_the_domain() -> None:
    assert (DEFAULT_POLICY.min_group_count, DEFAULT_POLICY.excellent_cap) == (5, 0.20)
    assert DEFAULT_POLICY.min_approval_share == 2 / 3 and DEFAULT_POLICY.max_incompetent_share == 1 / 3
    assert set(DEFAULT_POLICY.dimension_weights) == set(DIMENSIONS)


@pytest.mark.parametrize("change, rule, field", [
    ({"democratic_weight": 0.5}, "democratic_weight_sum_not_one", "democratic_weight"),
    ({"performance_weight": -0.1, "democratic_weight": 1.1}, "performance_weight_negative", "performance_weight"),
    ({"group_weights": {"leaders": 0.5, "colleagues": 0.4}}, "group_weights_sum_not_one", "group_weights"),
    ({"group_weights": {}}, "group_weights_empty", "group_weights"),
    ({"dimension_weights": {"work_performance": 1.0}}, "dimension_weights_incomplete", "dimension_weights"),
    ({"grade_points": {"excellent": 100, "competent": 80}}, "grade_points_incomplete", "grade_points"),
    ({"grade_thresholds": {"excellent": 70, "competent": 75, "basically_competent": 60}},
     "grade_thresholds_not_descending", "grade_thresholds"),
    ({"min_group_count": 0}, "min_group_count_below_one", "min_group_count"),
    ({"excellent_cap": 0}, "excellent_cap_out_of_range", "excellent_cap"),
    ({"max_incompetent_share": 1.5}, "max_incompetent_share_out_of_range", "max_incompetent_share"),
])
def test_an_inconsistent_policy_is_refused_at_adoption_naming_the_field_and_the_rule(
        change: dict[str, Any], rule: str, field: str) -> None:
    """A client is told which field broke which rule (it used to read `invalid_policy` for all of them)."""
    with refused(rule) as info:
        decide_adopt_policy([DEFAULT_POLICY], AdoptPolicy(replace(POLICY, version="bad", **change)), ctx(ORG))
    assert info.value.details["field"] == field
    assert field in info.value.message


def test_a_version_adopted_under_looser_rules_still_reads_back_and_opens_assessments() -> None:
    """The log is read as it was written: a rule tightened later refuses new versions only, so an old version's
    events (its adoption, and the copy an assessment froze when it opened) stay readable."""
    loose = replace(POLICY, version="loose-2019", min_group_count=0, excellent_cap=0,
                    group_weights={"leaders": 0.5, "colleagues": 0.4})
    assert fold_policies([PolicyAdopted(loose.version, loose.as_dict())]) == (loose,)
    assert opened(policy=loose).state.policy == loose


def test_a_policy_survives_the_round_trip_through_its_event_values() -> None:
    values = POLICY.as_dict()
    assert json.loads(json.dumps(values)) == values
    assert AssessmentPolicy.from_dict(values) == POLICY


def test_the_policy_in_force_is_the_latest_one_already_effective() -> None:
    later = replace(POLICY, version="county-2025", effective_from=date(2025, 1, 1))
    assert policy_in_force([POLICY, later], date(2024, 6, 1)) is POLICY
    assert policy_in_force([POLICY, later], date(2025, 1, 1)) is later
    with refused("no_policy_in_force", NotFoundError):
        policy_in_force([later], date(2024, 6, 1))


# ---------- opening ----------

def test_the_host_unit_opens_an_annual_assessment_with_the_policy_frozen_into_it() -> None:
    stream = Stream(fold)
    decision = stream.when(decide_open_assessment, OpenAssessment("P1", "annual", 2024), ctx(), ROSTER, POLICY)
    [event] = decision.events
    assert isinstance(event, AssessmentOpened)
    assert (event.assessment_id, event.cadre_id, event.year, event.kind) == ("P1/2024", "C1", 2024, "annual")
    assert event.policy == POLICY.as_dict() and decision.policy_version == "county-2024"
    assert stream.state.policy == POLICY and stream.state.status == "open"


def test_the_policy_frozen_at_opening_keeps_deciding_after_the_settings_change() -> None:
    small_groups = replace(POLICY, version="small-groups", min_group_count=3)
    stream = with_inputs(opened(policy=small_groups), tallies={g: {"competent": 3} for g in POLICY.rater_groups})
    decision = finalise(stream, "competent")  # groups of 3 meet the frozen quorum, not today's default of 5
    assert decision.policy_version == "small-groups"


@pytest.mark.parametrize(("actor", "rule", "error"), [
    (OTHER_HOST, "not_own_unit", ForbiddenError),
    (HOME, "role_not_allowed", ForbiddenError),
    (ORG, "role_not_allowed", ForbiddenError),
])
def test_only_the_placements_host_unit_opens_its_assessment(actor: Actor, rule: str, error: type) -> None:
    with refused(rule, error):
        decide_open_assessment(None, OpenAssessment("P1", "annual", 2024), ctx(actor), ROSTER, POLICY)


def test_an_assessment_opens_only_for_an_active_placement() -> None:
    with refused("placement_not_active", NotFoundError):
        decide_open_assessment(None, OpenAssessment("P9", "annual", 2024), ctx(), ROSTER, POLICY)


def test_one_annual_assessment_per_placement_and_year() -> None:
    stream = opened()
    with refused("assessment_already_open", StepOrderError):
        decide_open_assessment(stream.state, OpenAssessment("P1", "annual", 2024), ctx(), ROSTER, POLICY)
    assert assessment_id_for("P1", "annual", 2023) != assessment_id_for("P1", "annual", 2024)


def test_a_year_that_has_not_begun_cannot_be_assessed() -> None:
    with refused("assessment_year_in_future"):
        decide_open_assessment(None, OpenAssessment("P1", "annual", 2025), ctx(), ROSTER, POLICY)


def test_the_countys_new_year_begins_before_utcs() -> None:
    """At 20:00 UTC on 31 December it is already 1 January in the county (UTC+8), as posting's date rules allow."""
    new_years_eve = Context(actor=HOST, now=datetime(2024, 12, 31, 20, 0, tzinfo=UTC))
    decision = decide_open_assessment(None, OpenAssessment("P1", "annual", 2025), new_years_eve, ROSTER, POLICY)
    assert decision.events
    with refused("assessment_year_in_future"):
        decide_open_assessment(None, OpenAssessment("P1", "annual", 2026), new_years_eve, ROSTER, POLICY)


def test_an_end_of_term_appraisal_opens_only_once_the_placement_completed() -> None:
    command = OpenAssessment("P1", "end_of_term", 2024)
    with refused("placement_not_completed", StepOrderError):
        decide_open_assessment(None, command, ctx(), ROSTER, POLICY)
    completed = apply_posting_event(ROSTER, PLACEMENT_COMPLETED, {"placement_id": "P1"})
    [event] = decide_open_assessment(None, command, ctx(), completed, POLICY).events
    assert isinstance(event, AssessmentOpened) and event.kind == "end_of_term"


def test_an_unknown_assessment_kind_is_refused() -> None:
    with refused("unknown_assessment_kind"):
        decide_open_assessment(None, OpenAssessment("P1", "monthly", 2024), ctx(), ROSTER, POLICY)


# ---------- self-evaluation ----------

def test_a_self_evaluation_is_entered_once_and_then_only_corrected_with_a_reason() -> None:
    stream = opened()
    [entered] = stream.when(decide_enter_self_evaluation, EnterSelfEvaluation(aid(), "first"), ctx()).events
    with refused("self_evaluation_already_entered", StepOrderError):
        decide_enter_self_evaluation(stream.state, EnterSelfEvaluation(aid(), "again"), ctx())
    correction = CorrectSelfEvaluation(aid(), entered.entry_id, "second")
    with refused("reason_required"):
        decide_correct_self_evaluation(stream.state, correction, ctx())
    stream.when(decide_correct_self_evaluation, correction, ctx(reason="typo"))
    assert list(stream.state.self_evaluation.values()) == ["second"]
    with refused("entry_not_found", NotFoundError):  # the first entry is superseded, not live
        decide_correct_self_evaluation(stream.state, correction, ctx(reason="again"))


def test_an_empty_self_evaluation_is_refused() -> None:
    with refused("text_required"):
        decide_enter_self_evaluation(opened().state, EnterSelfEvaluation(aid(), "  "), ctx())


# ---------- democratic evaluation ----------

def test_a_ballot_carries_its_rater_group_and_grade_and_nothing_about_the_rater() -> None:
    decision = decide_cast_ballot(opened().state, CastBallot(aid(), "public", "competent"), ctx())
    [ballot] = decision.events
    assert isinstance(ballot, BallotCast) and decision.policy_version == "county-2024"
    assert set(ballot.payload()) == {"assessment_id", "entry_id", "rater_group", "grade"}


def test_no_democratic_evaluation_event_names_anyone() -> None:
    stream = ready()
    first_tally = next(e for e in stream.events if isinstance(e, TallyEntered))
    stream.when(decide_cast_ballot, CastBallot(aid(), "leaders", "excellent"), ctx())
    stream.when(decide_correct_democratic_entry, CorrectDemocraticEntry(aid(), first_tally.entry_id, {"competent": 5}),
                ctx(ORG, reason="miscounted"))
    allowed = {"assessment_id", "entry_id", "corrects_entry_id", "rater_group", "grade", "counts", "reason"}
    for event in stream.events[1:]:
        if event.TYPE in {"assessment.BallotCast", "assessment.TallyEntered", "assessment.DemocraticEntryCorrected"}:
            assert set(event.payload()) <= allowed
            text = json.dumps(event.payload())
            assert all(who not in text for who in (HOST.principal, HOME.principal, "C1"))


def test_token_ballots_need_issued_tokens_for_a_known_group_and_no_role() -> None:
    stream = opened()
    [issued] = stream.when(decide_issue_ballot_tokens, IssueBallotTokens(aid(), "public", 7), ctx()).events
    assert isinstance(issued, BallotTokensIssued) and stream.state.tokens_issued == {"public": 7}
    assert set(issued.payload()) == {"assessment_id", "entry_id", "rater_group", "count"}
    with refused("invalid_token_count"):
        decide_issue_ballot_tokens(stream.state, IssueBallotTokens(aid(), "public", 0), ctx())
    with refused("not_own_unit", ForbiddenError):
        decide_issue_ballot_tokens(stream.state, IssueBallotTokens(aid(), "public", 3), ctx(OTHER_HOST))
    anonymous = Context(Actor("anonymous", "anonymous"), NOW)
    [ballot] = stream.when(decide_cast_token_ballot, CastTokenBallot(aid(), "public", "competent"), anonymous).events
    assert set(ballot.payload()) == {"assessment_id", "entry_id", "rater_group", "grade"}
    assert stream.state.tallies_by_group()["public"]["competent"] == 1


def test_a_token_ballot_for_a_finalised_or_unknown_assessment_is_refused() -> None:
    stream = ready()
    finalise(stream, "competent")
    anonymous = Context(Actor("anonymous", "anonymous"), NOW)
    with refused("assessment_finalised", StepOrderError):
        decide_cast_token_ballot(stream.state, CastTokenBallot(aid(), "public", "competent"), anonymous)
    with refused("assessment_not_found", NotFoundError):
        decide_cast_token_ballot(None, CastTokenBallot(aid(), "public", "competent"), anonymous)


def test_a_reopen_keeps_the_cast_ballots_but_not_the_tokens_nobody_spent() -> None:
    stream = opened()
    anonymous = Context(Actor("anonymous", "anonymous"), NOW)
    [before] = stream.when(decide_issue_ballot_tokens, IssueBallotTokens(aid(), "public", 7), ctx()).events
    stream.when(decide_cast_token_ballot, CastTokenBallot(aid(), "public", "incompetent", before.entry_id), anonymous)
    with_inputs(stream)
    finalise(stream, "competent")
    stream.when(decide_reopen_assessment, ReopenAssessment(aid()), ctx(HOME, "votes miscounted"))

    with refused("ballot_token_void", StepOrderError):
        decide_cast_token_ballot(stream.state, CastTokenBallot(aid(), "public", "excellent", before.entry_id), anonymous)
    with refused("ballot_token_void", StepOrderError):  # a token issued before issues were told apart
        decide_cast_token_ballot(stream.state, CastTokenBallot(aid(), "public", "excellent"), anonymous)
    assert stream.state.tallies_by_group()["public"]["incompetent"] == 1  # the ballot cast before stays counted

    [after] = stream.when(decide_issue_ballot_tokens, IssueBallotTokens(aid(), "public", 2), ctx()).events
    stream.when(decide_cast_token_ballot, CastTokenBallot(aid(), "public", "excellent", after.entry_id), anonymous)
    assert stream.state.tallies_by_group()["public"]["excellent"] == 1


def test_a_token_issued_before_issues_were_told_apart_votes_while_never_finalised() -> None:
    stream = opened()
    stream.when(decide_issue_ballot_tokens, IssueBallotTokens(aid(), "public", 1), ctx())
    anonymous = Context(Actor("anonymous", "anonymous"), NOW)
    stream.when(decide_cast_token_ballot, CastTokenBallot(aid(), "public", "competent", None), anonymous)
    assert stream.state.tallies_by_group()["public"]["competent"] == 1


def test_ballots_and_tallies_name_a_known_rater_group_and_grade() -> None:
    state = opened().state
    with refused("unknown_rater_group"):
        decide_cast_ballot(state, CastBallot(aid(), "neighbours", "competent"), ctx())
    with refused("unknown_grade"):
        decide_cast_ballot(state, CastBallot(aid(), "public", "brilliant"), ctx())
    with refused("unknown_grade"):
        decide_enter_tally(state, EnterTally(aid(), "public", {"brilliant": 5}), ctx())


@pytest.mark.parametrize(("counts", "rule"), [
    ({"competent": -1, "excellent": 6}, "invalid_count"),
    ({"competent": 2.5}, "invalid_count"),
    ({"competent": True}, "invalid_count"),
    ({"competent": 0}, "empty_tally"),
    ({}, "empty_tally"),
])
def test_a_tally_holds_whole_non_negative_counts_and_at_least_one_ballot(counts: dict[str, Any], rule: str) -> None:
    with refused(rule):
        decide_enter_tally(opened().state, EnterTally(aid(), "public", counts), ctx())


def test_a_tally_correction_needs_a_reason_and_supersedes_the_entry_without_erasing_it() -> None:
    stream = opened()
    [tally] = stream.when(decide_enter_tally, EnterTally(aid(), "public", {"competent": 6}), ctx()).events
    correction = CorrectDemocraticEntry(aid(), tally.entry_id, {"competent": 5, "incompetent": 1})
    with refused("reason_required"):
        decide_correct_democratic_entry(stream.state, correction, ctx(ORG))
    stream.when(decide_correct_democratic_entry, correction, ctx(ORG, reason="one ballot misread"))
    assert stream.state.tallies_by_group()["public"]["incompetent"] == 1
    assert sum(stream.state.tallies_by_group()["public"].values()) == 6
    assert tally in stream.events  # history keeps the original entry


def test_a_correction_to_zero_voids_a_ballot() -> None:
    stream = opened()
    [ballot] = stream.when(decide_cast_ballot, CastBallot(aid(), "public", "excellent"), ctx()).events
    stream.when(decide_correct_democratic_entry, CorrectDemocraticEntry(aid(), ballot.entry_id, {}), ctx(ORG, "spoilt"))
    assert sum(stream.state.tallies_by_group()["public"].values()) == 0


def test_the_host_unit_cannot_alter_a_cast_ballot_or_an_entered_tally() -> None:
    stream = opened()
    anonymous = Context(Actor("anonymous", "anonymous"), NOW)
    [ballot] = stream.when(decide_cast_token_ballot, CastTokenBallot(aid(), "public", "incompetent"), anonymous).events
    [tally] = stream.when(decide_enter_tally, EnterTally(aid(), "leaders", {"competent": 5}), ctx()).events
    for entry in (ballot, tally):
        for actor in (HOST, HOME):
            with refused("role_not_allowed", ForbiddenError):
                decide_correct_democratic_entry(stream.state, CorrectDemocraticEntry(aid(), entry.entry_id, {}),
                                                ctx(actor, "we counted it wrong"))
    assert stream.state.tallies_by_group()["public"]["incompetent"] == 1


def test_a_correction_of_the_vote_after_finalisation_needs_a_reopen_first() -> None:
    stream = ready()
    finalise(stream, "competent")
    tally = next(e for e in stream.events if isinstance(e, TallyEntered))
    with refused("assessment_finalised", StepOrderError):
        decide_correct_democratic_entry(stream.state, CorrectDemocraticEntry(aid(), tally.entry_id, {}), ctx(ORG, "x"))


def test_correcting_an_unknown_entry_is_refused() -> None:
    with refused("entry_not_found", NotFoundError):
        decide_correct_democratic_entry(opened().state, CorrectDemocraticEntry(aid(), "E99", {}), ctx(ORG, "x"))


# ---------- performance analysis ----------

def test_a_performance_score_needs_a_known_dimension_a_0_to_100_score_and_evidence() -> None:
    state = opened().state
    with refused("unknown_dimension"):
        decide_enter_performance_score(state, EnterPerformanceScore(aid(), "charisma", 80, "x"), ctx())
    with refused("score_out_of_range"):
        decide_enter_performance_score(state, EnterPerformanceScore(aid(), "work_performance", 101, "x"), ctx())
    with refused("text_required"):
        decide_enter_performance_score(state, EnterPerformanceScore(aid(), "work_performance", 80, ""), ctx())


def test_a_dimension_is_scored_once_and_then_corrected_with_a_reason() -> None:
    stream = opened()
    command = EnterPerformanceScore(aid(), "work_performance", 80, "annual report")
    [entry] = stream.when(decide_enter_performance_score, command, ctx()).events
    with refused("score_already_entered", StepOrderError):
        decide_enter_performance_score(stream.state, command, ctx())
    correction = CorrectPerformanceScore(aid(), entry.entry_id, 84, "audited report")
    with refused("reason_required"):
        decide_correct_performance_score(stream.state, correction, ctx())
    stream.when(decide_correct_performance_score, correction, ctx(reason="figures audited"))
    assert stream.state.effective_scores() == {"work_performance": 84}


def test_an_adjustment_moves_a_score_with_a_reason_and_stays_within_0_to_100() -> None:
    stream = opened()
    stream.when(decide_enter_performance_score, EnterPerformanceScore(aid(), "work_performance", 80, "r"), ctx())
    with refused("reason_required"):
        decide_adjust_performance_score(stream.state, AdjustPerformanceScore(aid(), "work_performance", -5), ctx())
    stream.when(decide_adjust_performance_score, AdjustPerformanceScore(aid(), "work_performance", -5),
                ctx(reason="discipline incident"))
    stream.when(decide_adjust_performance_score, AdjustPerformanceScore(aid(), "work_performance", 2),
                ctx(reason="commendation"))
    assert stream.state.effective_scores() == {"work_performance": 77}
    with refused("score_out_of_range"):
        decide_adjust_performance_score(stream.state, AdjustPerformanceScore(aid(), "work_performance", 30),
                                        ctx(reason="too much"))
    with refused("empty_adjustment"):
        decide_adjust_performance_score(stream.state, AdjustPerformanceScore(aid(), "work_performance", 0),
                                        ctx(reason="none"))
    with refused("score_missing", StepOrderError):
        decide_adjust_performance_score(stream.state, AdjustPerformanceScore(aid(), "quality_improvement", 1),
                                        ctx(reason="x"))


def test_a_correction_may_not_push_the_adjusted_score_out_of_range() -> None:
    stream = opened()
    [entry] = stream.when(decide_enter_performance_score,
                          EnterPerformanceScore(aid(), "work_performance", 90, "r"), ctx()).events
    stream.when(decide_adjust_performance_score, AdjustPerformanceScore(aid(), "work_performance", 5), ctx(reason="award"))
    with refused("score_out_of_range"):
        decide_correct_performance_score(stream.state, CorrectPerformanceScore(aid(), entry.entry_id, 98, "r"),
                                         ctx(reason="recount"))


# ---------- who may enter inputs ----------

@pytest.mark.parametrize(("actor", "rule"), [(OTHER_HOST, "not_own_unit"), (HOME, "role_not_allowed")])
def test_only_the_assessments_host_unit_enters_inputs(actor: Actor, rule: str) -> None:
    with refused(rule, ForbiddenError):
        decide_enter_tally(opened().state, EnterTally(aid(), "public", {"competent": 5}), ctx(actor))


def test_inputs_to_an_unknown_assessment_are_refused() -> None:
    with refused("assessment_not_found", NotFoundError):
        decide_cast_ballot(None, CastBallot("nope", "public", "competent"), ctx())


# ---------- scoring, suppression, warnings, cap ----------

def test_a_group_below_the_minimum_count_is_suppressed_and_one_at_it_is_shown() -> None:
    results = group_results({"leaders": {"excellent": 4}, "public": {"competent": 3, "excellent": 2}}, 5)
    assert results.suppressed == ("leaders",)
    assert results.visible == {"public": {"competent": 3, "excellent": 2}}


tallies_strategy = st.dictionaries(
    st.sampled_from(["leaders", "colleagues", "public", "experts"]),
    st.dictionaries(st.sampled_from(GRADES), st.integers(min_value=0, max_value=12)),
)


@given(tallies_strategy, st.integers(min_value=1, max_value=10))
def test_suppression_below_the_minimum_count_always_holds(tallies: dict[str, dict[str, int]], minimum: int) -> None:
    results = group_results(tallies, minimum)
    assert all(sum(t.values()) >= minimum for t in results.visible.values())
    assert all(sum(tallies[g].values()) < minimum for g in results.suppressed)
    assert set(results.visible) | set(results.suppressed) == set(tallies)
    assert not set(results.visible) & set(results.suppressed)


ballots_strategy = st.tuples(*[
    st.lists(st.sampled_from(GRADES), min_size=1, max_size=15) for _ in ("leaders", "colleagues", "public")
])


@settings(max_examples=60)
@given(ballots_strategy, st.randoms(use_true_random=False))
def test_the_composite_does_not_depend_on_the_order_ballots_were_cast(grades: tuple[list[str], ...], rnd: Any) -> None:
    cast = [(group, grade) for group, group_grades in zip(POLICY.rater_groups, grades, strict=True)
            for grade in group_grades]
    ballots = [BallotCast(aid(), f"B{i}", group, grade) for i, (group, grade) in enumerate(cast)]
    shuffled = list(ballots)
    rnd.shuffle(shuffled)
    head = opened().events
    in_order, reordered = fold([*head, *ballots]), fold([*head, *shuffled])
    assert in_order is not None and reordered is not None
    assert composite_score(in_order.tallies_by_group(), GOOD_SCORES, POLICY) == \
        composite_score(reordered.tallies_by_group(), GOOD_SCORES, POLICY)


def test_the_composite_weighs_rater_groups_dimensions_and_the_two_parts() -> None:
    # democratic: .3*100 + .4*90 + .3*70 = 87; performance: .5*90 + .3*85 + .2*80 = 86.5
    assert composite_score(GOOD_TALLIES, GOOD_SCORES, POLICY) == pytest.approx(0.4 * 87 + 0.6 * 86.5)


@pytest.mark.parametrize(("composite", "grade"), [
    (90, "excellent"), (89.99, "competent"), (75, "competent"), (74.99, "basically_competent"),
    (60, "basically_competent"), (59.99, "incompetent"),
])
def test_the_proposed_grade_follows_the_policy_thresholds(composite: float, grade: str) -> None:
    assert proposed_grade(composite, POLICY) == grade


@pytest.mark.parametrize(("tally", "rules"), [
    ({"excellent": 5, "competent": 5, "basically_competent": 5}, []),          # approval exactly 2/3
    ({"excellent": 5, "competent": 4, "basically_competent": 6}, ["low_approval"]),
    ({"excellent": 10, "incompetent": 5}, []),                                  # disapproval exactly 1/3
    ({"excellent": 9, "incompetent": 6}, ["low_approval", "high_disapproval"]),
])
def test_warning_rules_fire_strictly_beyond_their_thresholds(tally: dict[str, int], rules: list[str]) -> None:
    assert [w.rule for w in warnings({"public": tally}, POLICY)] == rules


def test_the_excellent_cap_allows_up_to_its_share_of_the_cohort_and_refuses_beyond_it() -> None:
    cohort: dict[str, str | None] = {f"A{i}": None for i in range(10)} | {"A0": "excellent"}
    check_excellent_cap(cohort, "A1", "excellent", 0.20)                 # 2 of 10 = 20%
    with refused("excellent_cap_exceeded") as refusal:
        check_excellent_cap(cohort | {"A1": "excellent"}, "A2", "excellent", 0.20)
    assert "3 of 10" in refusal.value.message and "30.0%" in refusal.value.message
    assert "20.0%" in refusal.value.message
    check_excellent_cap(cohort | {"A1": "excellent"}, "A2", "competent", 0.20)
    check_excellent_cap(cohort | {"A1": "excellent"}, "A1", "excellent", 0.20)  # refinalising counts once


# ---------- finalisation ----------

def test_finalising_records_the_grade_composite_and_policy_for_the_cadre() -> None:
    stream = ready()
    decision = finalise(stream, "competent")
    [final] = decision.events
    assert isinstance(final, AssessmentFinalised)
    assert (final.cadre_id, final.year, final.kind, final.final_grade) == ("C1", 2024, "annual", "competent")
    assert final.composite == 86.7 and final.proposed_grade == "competent"
    assert final.policy_version == decision.policy_version == "county-2024"
    assert stream.state.status == "finalised" and stream.state.final_grade == "competent"


def test_finalising_needs_the_self_evaluation_and_every_dimension() -> None:
    with refused("self_evaluation_missing", StepOrderError):
        finalise(opened(), "competent")
    stream = opened()
    stream.when(decide_enter_self_evaluation, EnterSelfEvaluation(aid(), "text"), ctx())
    with refused("performance_scores_missing", StepOrderError) as refusal:
        finalise(stream, "competent")
    assert "work_performance" in refusal.value.message


def test_finalising_needs_every_rater_group_at_the_minimum_count() -> None:
    stream = ready(tallies={"leaders": {"excellent": 5}, "colleagues": {"competent": 4}, "public": {"competent": 3}})
    with refused("quorum_not_met") as refusal:
        finalise(stream, "competent")
    assert refusal.value.message == "rater groups below the minimum of 5 ballots: colleagues 4, public 3"


def test_a_final_grade_other_than_the_proposed_one_needs_a_reason() -> None:
    with refused("reason_required"):
        finalise(ready(), "basically_competent")
    [final] = finalise(ready(), "basically_competent", ctx(reason="absences in spring")).events
    assert isinstance(final, AssessmentFinalised) and final.reason == "absences in spring"


def test_finalising_as_excellent_past_the_cohort_cap_is_refused_with_the_numbers() -> None:
    stream = ready(tallies=ALL_EXCELLENT, scores=TOP_SCORES)
    cohort: dict[str, str | None] = {"P2/2024": "excellent", "P3/2024": None, "P4/2024": None, "P5/2024": None}
    with refused("excellent_cap_exceeded") as refusal:
        finalise(stream, "excellent", cohort=cohort)
    assert refusal.value.details == {"excellent": 2, "cohort_size": 5, "cap": 0.2}
    [final] = finalise(stream, "excellent", cohort={**cohort, "P2/2024": "competent"}).events
    assert isinstance(final, AssessmentFinalised) and final.final_grade == "excellent"


def test_warnings_are_raised_as_recommendations_and_leave_the_chosen_grade_alone() -> None:
    poor = {g: {"basically_competent": 3, "incompetent": 3} for g in ("leaders", "colleagues", "public")}
    stream = ready(tallies=poor, scores=dict.fromkeys(DIMENSIONS, 70))
    events = finalise(stream, "basically_competent", ctx(reason="panel view")).events
    raised = [e for e in events if isinstance(e, WarningRaised)]
    assert {(w.rule, w.share, w.threshold) for w in raised} == {
        ("low_approval", 0.0, 0.6667), ("high_disapproval", 0.5, 0.3333)}
    assert stream.state.final_grade == "basically_competent" and stream.state.status == "finalised"


def test_only_the_host_unit_finalises_and_only_once() -> None:
    with refused("not_own_unit", ForbiddenError):
        finalise(ready(), "competent", ctx(OTHER_HOST))
    stream = ready()
    finalise(stream, "competent")
    with refused("assessment_finalised", StepOrderError):
        finalise(stream, "competent")
    with refused("assessment_finalised", StepOrderError):
        decide_cast_ballot(stream.state, CastBallot(aid(), "public", "excellent"), ctx())


def test_an_unknown_final_grade_is_refused() -> None:
    with refused("unknown_grade"):
        finalise(ready(), "heroic")


# ---------- appeal ----------

def test_an_appeal_by_the_sending_unit_reopens_and_a_new_finalisation_is_another_event() -> None:
    stream = ready()
    finalise(stream, "competent")
    [reopened] = stream.when(decide_reopen_assessment, ReopenAssessment(aid()), ctx(HOME, "votes miscounted")).events
    assert isinstance(reopened, AssessmentReopened)
    assert (reopened.previous_grade, reopened.appealed_by) == ("competent", "sending_unit")
    assert stream.state.status == "open"
    first_public = next(e for e in stream.events if isinstance(e, TallyEntered) and e.rater_group == "public")
    stream.when(decide_correct_democratic_entry, CorrectDemocraticEntry(aid(), first_public.entry_id, {"excellent": 10}),
                ctx(ORG, "recount after appeal"))
    finalise(stream, "competent", ctx(reason="panel kept the grade"))
    finals = [e for e in stream.events if isinstance(e, AssessmentFinalised)]
    assert len(finals) == 2 and finals[0].composite != finals[1].composite


def test_the_organisation_department_may_reopen_too() -> None:
    stream = ready()
    finalise(stream, "competent")
    stream.when(decide_reopen_assessment, ReopenAssessment(aid()), ctx(ORG, "review"))
    assert stream.state.status == "open"


@pytest.mark.parametrize(("actor", "rule"), [(OTHER_HOME, "not_own_unit"), (HOST, "role_not_allowed")])
def test_only_the_cadres_sending_unit_or_the_organisation_department_appeals(actor: Actor, rule: str) -> None:
    stream = ready()
    finalise(stream, "competent")
    with refused(rule, ForbiddenError):
        decide_reopen_assessment(stream.state, ReopenAssessment(aid()), ctx(actor, "why"))


def test_an_appeal_needs_a_finalised_assessment_and_a_reason() -> None:
    with refused("assessment_not_finalised", StepOrderError):
        decide_reopen_assessment(ready().state, ReopenAssessment(aid()), ctx(HOME, "early"))
    stream = ready()
    finalise(stream, "competent")
    with refused("reason_required"):
        decide_reopen_assessment(stream.state, ReopenAssessment(aid()), ctx(HOME))
    with refused("assessment_not_found", NotFoundError):
        decide_reopen_assessment(None, ReopenAssessment("nope"), ctx(HOME, "x"))


# ---------- events and labels ----------

def test_every_event_of_a_full_assessment_is_plain_json_and_replays_to_the_same_state() -> None:
    stream = ready()
    finalise(stream, "competent")
    for event in stream.events:
        assert json.loads(json.dumps(event.payload())) == event.payload()
    rebuilt = [EVENT_TYPES[e.TYPE](**json.loads(json.dumps(e.payload()))) for e in stream.events]
    assert fold(rebuilt) == stream.state
    assert all(e.TYPE.startswith("assessment.") for e in ANNUAL_EVENTS)


def test_a_stream_must_start_with_its_opening_event() -> None:
    with pytest.raises(ValueError):
        fold([BallotCast("x", "E1", "public", "competent")])


def test_grades_dimensions_focuses_and_team_grades_carry_their_chinese_labels() -> None:
    assert [GRADE_LABELS[g] for g in GRADES] == ["优秀", "称职", "基本称职", "不称职"]
    assert [DIMENSION_LABELS[d] for d in DIMENSIONS] == ["工作绩效", "群众公认程度", "综合素质提高程度"]
    assert [TEAM_GRADE_LABELS[g] for g in TEAM_GRADES] == ["优秀", "良好", "一般", "较差"]
    assert set(FOCUS_LABELS) == set(FOCUSES) and all(FOCUS_LABELS.values())


# ---------- leadership-team campaign ----------

SETTINGS = CampaignSettings(version="city-2024")
FOCUS_SCORES = dict(zip(FOCUSES, (80, 90, 70, 100), strict=True))  # mean 85
SURVEY_ROWS = [{"unit": "bureau-1", "score": "80", "summary": "satisfied"},
               {"unit": "bureau-2", "score": "70", "summary": "mixed"}]


def campaign() -> Stream:
    stream = Stream(fold_campaign)
    command = OpenCampaign("K1", 2024, ["bureau-1", "bureau-2"], "survey-co")
    stream.when(decide_open_campaign, command, ctx(ORG), SETTINGS)
    return stream


def fed_campaign(deduction: float = 0) -> Stream:
    stream = campaign()
    stream.when(decide_enter_team_democratic_scores, EnterTeamDemocraticScores("K1", "bureau-1", FOCUS_SCORES, 30), ctx(ORG))
    stream.when(decide_upload_survey_report, UploadSurveyReport("K1", SURVEY_ROWS), ctx(AGENCY))
    stream.when(decide_record_team_score, RecordTeamScore("K1", "bureau-1", "performance", 90, "targets met"), ctx(ORG))
    stream.when(decide_record_interview_note, RecordInterviewNote("K1", "bureau-1", "service_function", "prompt"),
                ctx(ORG))
    stream.when(decide_record_team_score, RecordTeamScore("K1", "bureau-1", "qualitative", 95, "strong"), ctx(ORG))
    if deduction:
        stream.when(decide_record_finding, RecordFinding("K1", "bureau-1", "audit", "late accounts", deduction), ctx(ORG))
    return stream


def test_the_organisation_department_opens_a_campaign_with_its_settings_frozen() -> None:
    stream = campaign()
    state = stream.state
    assert isinstance(state, Campaign) and state.settings == SETTINGS and state.units == ("bureau-1", "bureau-2")
    assert CampaignSettings.from_dict(json.loads(json.dumps(SETTINGS.as_dict()))) == SETTINGS
    with refused("campaign_already_open", StepOrderError):
        decide_open_campaign(state, OpenCampaign("K1", 2024, ["bureau-1"], "survey-co"), ctx(ORG), SETTINGS)


def test_only_the_organisation_department_opens_a_campaign_of_distinct_units() -> None:
    with refused("role_not_allowed", ForbiddenError):
        decide_open_campaign(None, OpenCampaign("K1", 2024, ["bureau-1"], "survey-co"), ctx(HOST), SETTINGS)
    with refused("campaign_units_invalid"):
        decide_open_campaign(None, OpenCampaign("K1", 2024, ["b", "b"], "survey-co"), ctx(ORG), SETTINGS)
    with refused("campaign_units_invalid"):
        decide_open_campaign(None, OpenCampaign("K1", 2024, [], "survey-co"), ctx(ORG), SETTINGS)


def test_the_survey_agency_is_not_one_of_the_units_the_campaign_assesses() -> None:
    command = OpenCampaign("K1", 2024, ["bureau-1", "survey-co"], "survey-co")
    with refused("agency_is_assessed_unit") as refusal:
        decide_open_campaign(None, command, ctx(ORG), SETTINGS)
    assert "survey-co is one of the units assessed" in refusal.value.message
    assert refusal.value.status == 422


@pytest.mark.parametrize(("change", "rule", "field"), [
    ({"qualitative_weight": 0.5}, "qualitative_weight_sum_not_one", "qualitative_weight"),
    ({"quantitative_weight": -0.3, "qualitative_weight": 1.3}, "quantitative_weight_negative", "quantitative_weight"),
    ({"source_weights": {"democratic": 0.5, "survey": 0.5}}, "source_weights_incomplete", "source_weights"),
    ({"source_weights": {"democratic": 0.5, "survey": 0.6, "performance": -0.1}}, "source_weights_negative",
     "source_weights"),
    ({"focus_weights": {"strategic_direction": 1.0}}, "focus_weights_incomplete", "focus_weights"),
    ({"focus_weights": dict.fromkeys(FOCUSES, 0.3)}, "focus_weights_sum_not_one", "focus_weights"),
    ({"grade_thresholds": {"excellent": 90, "good": 80}}, "grade_thresholds_incomplete", "grade_thresholds"),
    ({"grade_thresholds": {"excellent": 90, "good": 95, "average": 65}}, "grade_thresholds_not_descending",
     "grade_thresholds"),
    ({"min_respondents": 0}, "min_respondents_below_one", "min_respondents"),
])
def test_campaign_settings_that_could_not_be_applied_are_refused_at_opening_naming_field_and_rule(
        change: dict[str, Any], rule: str, field: str) -> None:
    with refused(rule) as refusal:
        decide_open_campaign(None, OpenCampaign("K1", 2024, ["bureau-1"], "survey-co"), ctx(ORG),
                             replace(SETTINGS, **change))
    assert refusal.value.status == 422 and refusal.value.details["field"] == field
    assert field in refusal.value.message


def test_a_campaign_opened_under_looser_settings_rules_still_folds_and_grades() -> None:
    """Settings are checked when a campaign opens, not when its log is read: a rule tightened later (here, one
    that refuses a respondent minimum of 0 and non-descending thresholds) leaves stored campaigns readable."""
    loose = replace(SETTINGS, version="city-2019", min_respondents=0,
                    grade_thresholds={"excellent": 80, "good": 80, "average": 65})
    opened_then = CampaignOpened("K1", 2019, ["bureau-1"], "survey-co", loose.version, loose.as_dict())
    state = fold_campaign([opened_then])
    assert isinstance(state, Campaign) and state.settings == loose
    assert state.settings.team_grade(85) == "excellent"


def test_democratic_scores_cover_all_four_focuses_from_enough_respondents() -> None:
    state = campaign().state
    with refused("focus_scores_incomplete"):
        decide_enter_team_democratic_scores(
            state, EnterTeamDemocraticScores("K1", "bureau-1", {"strategic_direction": 80}, 30), ctx(ORG))
    with refused("score_out_of_range"):
        decide_enter_team_democratic_scores(
            state, EnterTeamDemocraticScores("K1", "bureau-1", {**FOCUS_SCORES, "service_function": 120}, 30), ctx(ORG))
    with refused("too_few_respondents") as refusal:
        decide_enter_team_democratic_scores(state, EnterTeamDemocraticScores("K1", "bureau-1", FOCUS_SCORES, 4), ctx(ORG))
    assert "4 respondents is below the minimum of 5" in refusal.value.message
    with refused("unit_not_in_campaign", NotFoundError):
        decide_enter_team_democratic_scores(state, EnterTeamDemocraticScores("K1", "zoo", FOCUS_SCORES, 30), ctx(ORG))


def test_a_second_team_score_must_correct_the_live_one_with_a_reason() -> None:
    stream = fed_campaign()
    live = stream.state.score_of("performance", "bureau-1")[0]
    again = RecordTeamScore("K1", "bureau-1", "performance", 85, "revised")
    with refused("score_already_recorded", StepOrderError):
        decide_record_team_score(stream.state, again, ctx(ORG))
    with refused("entry_not_found", NotFoundError):
        decide_record_team_score(stream.state, replace(again, corrects_entry_id="E99"), ctx(ORG, "x"))
    with refused("reason_required"):
        decide_record_team_score(stream.state, replace(again, corrects_entry_id=live), ctx(ORG))
    stream.when(decide_record_team_score, replace(again, corrects_entry_id=live), ctx(ORG, "audited"))
    assert stream.state.score_of("performance", "bureau-1")[1] == 85


def test_a_qualitative_score_rests_on_interview_notes() -> None:
    with refused("interviews_missing", StepOrderError):
        decide_record_team_score(campaign().state, RecordTeamScore("K1", "bureau-1", "qualitative", 90, "x"), ctx(ORG))
    with refused("unknown_focus"):
        decide_record_interview_note(campaign().state, RecordInterviewNote("K1", "bureau-1", "vibes", "x"), ctx(ORG))
    with refused("unknown_score_source"):
        decide_record_team_score(campaign().state, RecordTeamScore("K1", "bureau-1", "gossip", 90, "x"), ctx(ORG))


@pytest.mark.parametrize(("actor", "rule"), [(OTHER_AGENCY, "not_own_unit"), (ORG, "role_not_allowed")])
def test_only_the_appointed_agency_uploads_the_survey(actor: Actor, rule: str) -> None:
    with refused(rule, ForbiddenError):
        decide_upload_survey_report(campaign().state, UploadSurveyReport("K1", SURVEY_ROWS), ctx(actor))


@pytest.mark.parametrize(("rows", "message"), [
    ([SURVEY_ROWS[0], {"unit": "bureau-2", "score": "high", "summary": "x"}], "line 3, field score: 'high' is not a number"),
    ([{"unit": "bureau-1", "score": "101", "summary": "x"}], "line 2, field score: 101.0 is outside 0–100"),
    ([{"unit": "bureau-1", "score": "80"}], "line 2, field summary: is missing or empty"),
    ([{"unit": "zoo", "score": "80", "summary": "x"}], "line 2, field unit: zoo is not assessed in this campaign"),
    ([SURVEY_ROWS[0], SURVEY_ROWS[0]], "line 3, field unit: bureau-1 appears more than once"),
    ([], "the upload holds no results"),
])
def test_a_malformed_survey_upload_is_refused_whole_naming_line_and_field(rows: list[dict[str, str]],
                                                                          message: str) -> None:
    stream = campaign()
    with refused("survey_upload_malformed") as refusal:
        stream.when(decide_upload_survey_report, UploadSurveyReport("K1", rows), ctx(AGENCY))
    assert refusal.value.message == message
    assert len(stream.events) == 1


def test_survey_rows_are_parsed_into_plain_results() -> None:
    assert parse_survey_rows(SURVEY_ROWS, {"bureau-1", "bureau-2"})[1] == {
        "unit": "bureau-2", "score": 70.0, "summary": "mixed"}


def test_a_survey_revision_names_the_live_report_and_gives_a_reason() -> None:
    stream = fed_campaign()
    live = stream.state.survey_entry_id
    revised = [{**SURVEY_ROWS[0], "score": "82"}]
    with refused("survey_revision_mismatch", StepOrderError):
        decide_upload_survey_report(stream.state, UploadSurveyReport("K1", revised), ctx(AGENCY, "x"))
    with refused("reason_required"):
        decide_upload_survey_report(stream.state, UploadSurveyReport("K1", revised, live), ctx(AGENCY))
    stream.when(decide_upload_survey_report, UploadSurveyReport("K1", revised, live), ctx(AGENCY, "late returns"))
    assert stream.state.score_of("survey", "bureau-1")[1] == 82


def test_a_survey_revision_revises_the_units_it_lists_and_keeps_the_others_from_the_earlier_report() -> None:
    stream = fed_campaign()
    first = stream.state.survey_entry_id
    [revision] = stream.when(decide_upload_survey_report,
                             UploadSurveyReport("K1", [{**SURVEY_ROWS[1], "score": "75"}], first),
                             ctx(AGENCY, "bureau-2 sample re-weighted")).events
    assert stream.state.survey_entry_id == revision.entry_id
    assert stream.state.score_of("survey", "bureau-2") == (revision.entry_id, 75)
    assert stream.state.score_of("survey", "bureau-1") == (first, 80)  # not listed: kept, with its report's id
    finalise_bureau_1 = FinaliseTeamAssessment("K1", "bureau-1", "excellent")
    stream.when(decide_finalise_team_assessment, finalise_bureau_1, ctx(ORG, "x"))
    with refused("unit_finalised", StepOrderError):  # a finalised team's survey result is not revised
        decide_upload_survey_report(stream.state, UploadSurveyReport("K1", SURVEY_ROWS, revision.entry_id),
                                    ctx(AGENCY, "late returns"))


def test_a_finding_needs_a_known_source_and_deduction_within_0_to_100() -> None:
    state = campaign().state
    with refused("unknown_finding_source"):
        decide_record_finding(state, RecordFinding("K1", "bureau-1", "rumour", "x", 1), ctx(ORG))
    with refused("score_out_of_range"):
        decide_record_finding(state, RecordFinding("K1", "bureau-1", "audit", "x", -1), ctx(ORG))


def test_a_team_grade_combines_qualitative_and_quantitative_parts_with_the_campaign_weights() -> None:
    stream = fed_campaign()
    decision = stream.when(decide_finalise_team_assessment, FinaliseTeamAssessment("K1", "bureau-1", "good"), ctx(ORG))
    [final] = decision.events
    # quantitative: .4*85 + .3*80 + .3*90 = 85; composite: .3*95 + .7*85 = 88
    assert (final.quantitative, final.qualitative, final.composite) == (85, 95, 88)
    assert final.proposed_grade == final.team_grade == "good" and decision.policy_version == "city-2024"


def test_audit_findings_deduct_from_the_team_composite() -> None:
    decision = decide_finalise_team_assessment(
        fed_campaign(deduction=10).state, FinaliseTeamAssessment("K1", "bureau-1", "average"), ctx(ORG))
    assert decision.events[0].composite == 78 and decision.events[0].proposed_grade == "average"


def test_finalising_a_team_needs_every_source_and_a_reason_to_depart_from_the_proposal() -> None:
    with refused("team_inputs_missing", StepOrderError) as refusal:
        decide_finalise_team_assessment(fed_campaign().state, FinaliseTeamAssessment("K1", "bureau-2", "good"), ctx(ORG))
    assert refusal.value.message == "bureau-2 lacks democratic, performance, qualitative scores"
    with refused("reason_required"):
        decide_finalise_team_assessment(fed_campaign().state, FinaliseTeamAssessment("K1", "bureau-1", "excellent"),
                                        ctx(ORG))
    with refused("unknown_team_grade"):
        decide_finalise_team_assessment(fed_campaign().state, FinaliseTeamAssessment("K1", "bureau-1", "stellar"),
                                        ctx(ORG))


def test_a_finalised_team_takes_no_more_inputs_and_its_uses_are_recorded() -> None:
    stream = fed_campaign()
    use = RecordResultUse("K1", "bureau-1", "civilised_unit_award", "nominated")
    with refused("unit_not_finalised", StepOrderError):
        decide_record_result_use(stream.state, use, ctx(ORG))
    stream.when(decide_finalise_team_assessment, FinaliseTeamAssessment("K1", "bureau-1", "good"), ctx(ORG))
    with refused("unit_finalised", StepOrderError):
        decide_finalise_team_assessment(stream.state, FinaliseTeamAssessment("K1", "bureau-1", "good"), ctx(ORG))
    with refused("unit_finalised", StepOrderError):
        decide_upload_survey_report(stream.state, UploadSurveyReport("K1", SURVEY_ROWS, stream.state.survey_entry_id),
                                    ctx(AGENCY, "late"))
    [recorded] = stream.when(decide_record_result_use, use, ctx(ORG)).events
    assert recorded.use == "civilised_unit_award"
    with refused("unknown_result_use"):
        decide_record_result_use(stream.state, replace(use, use="holiday"), ctx(ORG))


@pytest.mark.parametrize(("composite", "grade"), [(90, "excellent"), (80, "good"), (65, "average"), (64.99, "poor")])
def test_team_grades_follow_the_campaign_thresholds(composite: float, grade: str) -> None:
    assert SETTINGS.team_grade(composite) == grade


def test_every_campaign_event_is_plain_json_and_replays_to_the_same_state() -> None:
    stream = fed_campaign(deduction=5)
    stream.when(decide_finalise_team_assessment, FinaliseTeamAssessment("K1", "bureau-1", "good"), ctx(ORG))
    rebuilt = [EVENT_TYPES[e.TYPE](**json.loads(json.dumps(e.payload()))) for e in stream.events]
    assert fold_campaign(rebuilt) == stream.state


def test_the_assessment_state_type_is_exported() -> None:
    assert isinstance(ready().state, Assessment)
