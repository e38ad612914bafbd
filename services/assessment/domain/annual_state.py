"""The assessment aggregate: its state, and how each of its events changes it."""
from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from functools import reduce
from typing import Any, TypeVar

from services.backbone.domain import Context, Event, NotFoundError, StepOrderError

from . import annual_events as ev
from .guards import require_own_unit, require_role
from .policy import AssessmentPolicy
from .scoring import Tally, add_tallies

V = TypeVar("V")

OPEN = "open"
FINALISED = "finalised"


@dataclass(frozen=True)
class DemocraticEntry:
    rater_group: str
    counts: Tally
    ballot: bool = False  # one rater's ballot: counted in its group, its grade never shown on its own


@dataclass(frozen=True)
class ScoreEntry:
    dimension: str
    score: float
    evidence: str


@dataclass(frozen=True)
class Assessment:
    """One cadre's annual or end-of-term assessment; entries hold only the live (uncorrected) ones."""

    assessment_id: str
    kind: str
    year: int
    placement_id: str
    cadre_id: str
    host_unit: str
    home_unit: str
    policy: AssessmentPolicy
    status: str = OPEN
    version: int = 1
    self_evaluation: Mapping[str, str] = field(default_factory=dict)
    democratic: Mapping[str, DemocraticEntry] = field(default_factory=dict)
    scores: Mapping[str, ScoreEntry] = field(default_factory=dict)
    adjustments: Mapping[str, float] = field(default_factory=dict)
    final_grade: str | None = None
    tokens_issued: Mapping[str, int] = field(default_factory=dict)
    # Entry ids of the token issues whose unspent tokens may still vote: a finalisation closes them all.
    open_token_issues: frozenset[str] = frozenset()
    ever_finalised: bool = False

    def next_entry_id(self) -> str:
        """Entry ids number the stream's events: unique in the assessment, and no clock or random source needed."""
        return f"E{self.version + 1}"

    def token_issue_open(self, issued_entry_id: str | None) -> bool:
        """Whether a token of this issue may still vote (None: issued before issues were told apart, so only
        while the assessment has never been finalised)."""
        if issued_entry_id is None:
            return not self.ever_finalised
        return issued_entry_id in self.open_token_issues

    def tallies_by_group(self) -> dict[str, dict[str, int]]:
        groups = {e.rater_group for e in self.democratic.values()}
        return {g: add_tallies(e.counts for e in self.democratic.values() if e.rater_group == g) for g in groups}

    def score_entry_for(self, dimension: str) -> str | None:
        return next((k for k, s in self.scores.items() if s.dimension == dimension), None)

    def effective_scores(self) -> dict[str, float]:
        """Each entered dimension's score plus its adjustments."""
        return {s.dimension: s.score + self.adjustments.get(s.dimension, 0.0) for s in self.scores.values()}


def _superseding(entries: Mapping[str, V], corrects: str | None, entry_id: str, value: V) -> dict[str, V]:
    """`entries` with `value` added under `entry_id` and the entry it corrects, if any, dropped."""
    return {**{k: v for k, v in entries.items() if k != corrects}, entry_id: value}


def _opened(e: ev.AssessmentOpened) -> Assessment:
    return Assessment(
        assessment_id=e.assessment_id, kind=e.kind, year=e.year, placement_id=e.placement_id,
        cadre_id=e.cadre_id, host_unit=e.host_unit, home_unit=e.home_unit,
        policy=AssessmentPolicy.from_dict(e.policy),
    )


def _ballot(s: Assessment, e: ev.BallotCast) -> Assessment:
    entry = DemocraticEntry(e.rater_group, {e.grade: 1}, ballot=True)
    return replace(s, democratic=_superseding(s.democratic, None, e.entry_id, entry))


def _tally(s: Assessment, e: ev.TallyEntered | ev.DemocraticEntryCorrected) -> Assessment:
    corrects = e.corrects_entry_id if isinstance(e, ev.DemocraticEntryCorrected) else None
    entry = DemocraticEntry(e.rater_group, dict(e.counts))
    return replace(s, democratic=_superseding(s.democratic, corrects, e.entry_id, entry))


def _score(s: Assessment, e: ev.PerformanceScoreEntered | ev.PerformanceScoreCorrected) -> Assessment:
    corrects = e.corrects_entry_id if isinstance(e, ev.PerformanceScoreCorrected) else None
    entry = ScoreEntry(e.dimension, e.score, e.evidence)
    return replace(s, scores=_superseding(s.scores, corrects, e.entry_id, entry))


def _adjusted(s: Assessment, e: ev.PerformanceScoreAdjusted) -> Assessment:
    total = s.adjustments.get(e.dimension, 0.0) + e.delta
    return replace(s, adjustments={**s.adjustments, e.dimension: total})


_APPLY: dict[type[Event], Callable[[Assessment, Any], Assessment]] = {
    ev.SelfEvaluationEntered: lambda s, e: replace(s, self_evaluation={e.entry_id: e.text}),
    ev.SelfEvaluationCorrected: lambda s, e: replace(s, self_evaluation={e.entry_id: e.text}),
    ev.BallotCast: _ballot,
    ev.BallotTokensIssued: lambda s, e: replace(
        s, tokens_issued={**s.tokens_issued, e.rater_group: s.tokens_issued.get(e.rater_group, 0) + e.count},
        open_token_issues=s.open_token_issues | {e.entry_id}),
    ev.TallyEntered: _tally,
    ev.DemocraticEntryCorrected: _tally,
    ev.PerformanceScoreEntered: _score,
    ev.PerformanceScoreCorrected: _score,
    ev.PerformanceScoreAdjusted: _adjusted,
    # The finalisation closes the ballot: tokens not spent by then stay void after a reopen.
    ev.AssessmentFinalised: lambda s, e: replace(s, status=FINALISED, final_grade=e.final_grade,
                                                 open_token_issues=frozenset(), ever_finalised=True),
    ev.AssessmentReopened: lambda s, e: replace(s, status=OPEN),
}


def open_for_host(state: Assessment | None, ctx: Context) -> Assessment:
    """The assessment, if it exists, is open, and the actor is its host unit."""
    return open_for(state, ctx, "host_unit")


def open_for(state: Assessment | None, ctx: Context, role: str) -> Assessment:
    """The assessment, if it exists, is open, and the actor holds `role` (a host unit: the assessment's own)."""
    if state is None:
        raise NotFoundError("assessment_not_found", "no such assessment")
    require_role(ctx, role)
    if role == "host_unit":
        require_own_unit(ctx, state.host_unit)
    if state.status != OPEN:
        raise StepOrderError("assessment_finalised", f"assessment {state.assessment_id} is finalised; appeal to reopen it")
    return state


def require_live_entry(entries: Mapping[str, object], entry_id: str) -> None:
    """Refuse to correct an entry that does not exist or was already corrected."""
    if entry_id not in entries:
        raise NotFoundError("entry_not_found", f"no live entry {entry_id} to correct (unknown or already corrected)")


def evolve(state: Assessment | None, event: Event) -> Assessment:
    """The state after `event`; the first event of a stream must be AssessmentOpened."""
    if state is None:
        if not isinstance(event, ev.AssessmentOpened):
            raise ValueError(f"an assessment stream must start with AssessmentOpened, not {event.TYPE}")
        return _opened(event)
    apply = _APPLY.get(type(event))
    changed = apply(state, event) if apply else state
    return replace(changed, version=state.version + 1)


def fold(events: Iterable[Event]) -> Assessment | None:
    return reduce(evolve, events, None)
