"""Commands that enter or correct democratic evaluation (民主测评): ballots and tallies per rater group."""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from services.backbone.domain import Context, Decision, DomainError, NotFoundError, StepOrderError

from . import annual_events as ev
from .annual_state import OPEN, Assessment, open_for, open_for_host, require_live_entry
from .guards import require_member, require_reason
from .vocabulary import GRADES


@dataclass(frozen=True)
class CastBallot:
    """One paper ballot, entered by the host unit: a rater group and a grade, nothing about the rater."""

    assessment_id: str
    rater_group: str
    grade: str


@dataclass(frozen=True)
class IssueBallotTokens:
    """The host unit asks for one-time tokens to hand out, unmarked, to a rater group."""

    assessment_id: str
    rater_group: str
    count: int


@dataclass(frozen=True)
class CastTokenBallot:
    """A ballot a rater casts with a one-time token the service has already checked and spent.

    The command carries what the token was issued for (and by which issue, None for a token issued before
    issues were told apart) and the grade; who held the token is unknown.
    """

    assessment_id: str
    rater_group: str
    grade: str
    issued_entry_id: str | None = None


@dataclass(frozen=True)
class EnterTally:
    assessment_id: str
    rater_group: str
    counts: Mapping[str, int]


@dataclass(frozen=True)
class CorrectDemocraticEntry:
    """The organisation department replaces a ballot or tally (all zeros void it), with a reason."""

    assessment_id: str
    corrects_entry_id: str
    counts: Mapping[str, int]


def _counts(counts: Mapping[str, int], allow_empty: bool = False) -> dict[str, int]:
    """Counts for every grade, refusing unknown grades and counts that are not whole and non-negative."""
    for grade, count in counts.items():
        require_member(grade, GRADES, "unknown_grade", "grade")
        if isinstance(count, bool) or not isinstance(count, int) or count < 0:
            raise DomainError("invalid_count", f"count for {grade} must be a whole number >= 0, got {count}")
    if not allow_empty and sum(counts.values()) == 0:
        raise DomainError("empty_tally", "a tally must hold at least one ballot")
    return {g: counts.get(g, 0) for g in GRADES}


def decide_cast_ballot(state: Assessment | None, command: CastBallot, ctx: Context) -> Decision:
    s = open_for_host(state, ctx)
    require_member(command.rater_group, s.policy.rater_groups, "unknown_rater_group", "rater group")
    require_member(command.grade, GRADES, "unknown_grade", "grade")
    event = ev.BallotCast(s.assessment_id, s.next_entry_id(), command.rater_group, command.grade)
    return Decision([event], policy_version=s.policy.version)


def decide_enter_tally(state: Assessment | None, command: EnterTally, ctx: Context) -> Decision:
    s = open_for_host(state, ctx)
    require_member(command.rater_group, s.policy.rater_groups, "unknown_rater_group", "rater group")
    event = ev.TallyEntered(s.assessment_id, s.next_entry_id(), command.rater_group, _counts(command.counts))
    return Decision([event], policy_version=s.policy.version)


def decide_correct_democratic_entry(state: Assessment | None, command: CorrectDemocraticEntry, ctx: Context) -> Decision:
    """Only the organisation department corrects the vote, and says why: the host unit runs the assessment and
    enters paper ballots and tallies, but must not alter the anonymous vote on its own cadre once recorded."""
    s = open_for(state, ctx, "organisation_department")
    require_live_entry(s.democratic, command.corrects_entry_id)
    counts = _counts(command.counts, allow_empty=True)
    reason = require_reason(ctx, "correct a democratic evaluation entry")
    group = s.democratic[command.corrects_entry_id].rater_group
    event = ev.DemocraticEntryCorrected(
        s.assessment_id, s.next_entry_id(), command.corrects_entry_id, group, counts, reason,
    )
    return Decision([event], policy_version=s.policy.version)


MAX_TOKENS_PER_ISSUE = 500


def decide_issue_ballot_tokens(state: Assessment | None, command: IssueBallotTokens, ctx: Context) -> Decision:
    s = open_for_host(state, ctx)
    require_member(command.rater_group, s.policy.rater_groups, "unknown_rater_group", "rater group")
    if not 1 <= command.count <= MAX_TOKENS_PER_ISSUE:
        raise DomainError("invalid_token_count", f"issue between 1 and {MAX_TOKENS_PER_ISSUE} tokens, not {command.count}")
    event = ev.BallotTokensIssued(s.assessment_id, s.next_entry_id(), command.rater_group, command.count)
    return Decision([event], policy_version=s.policy.version)


def decide_cast_token_ballot(state: Assessment | None, command: CastTokenBallot, ctx: Context) -> Decision:
    """Record a token ballot; no role is checked because the spent token is the only credential."""
    if state is None:
        raise NotFoundError("assessment_not_found", f"no assessment {command.assessment_id}")
    if state.status != OPEN:
        raise StepOrderError("assessment_finalised", f"assessment {state.assessment_id} is finalised; no more ballots")
    if not state.token_issue_open(command.issued_entry_id):
        # A reopen corrects a result; it does not hand the tokens nobody spent a second chance to vote.
        raise StepOrderError("ballot_token_void", "this ballot token was issued before the assessment was finalised,"
                             " which closed its ballot; an appeal that reopens the assessment does not reopen the"
                             " ballot. Ask the host unit for a new token if the evaluation is run again")
    require_member(command.rater_group, state.policy.rater_groups, "unknown_rater_group", "rater group")
    require_member(command.grade, GRADES, "unknown_grade", "grade")
    event = ev.BallotCast(state.assessment_id, state.next_entry_id(), command.rater_group, command.grade)
    return Decision([event], policy_version=state.policy.version)
