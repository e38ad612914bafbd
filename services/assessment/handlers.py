"""The assessment service's use cases for annual and end-of-term assessments, policies and the roster.

Each loads what a decision needs, decides through the pure domain, and appends; they are handed an
`Aggregates` (store + registry) and know nothing of HTTP or nameko.
"""
from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable
from datetime import datetime
from typing import Any

import psycopg
from psycopg import sql

from services.assessment import domain as d
from services.backbone.commands import Aggregates, CommandMeta, CommandResult, utcnow
from services.backbone.domain import Decision, NotFoundError
from services.backbone.envelope import RecordedEvent
from services.backbone.foldcache import FoldCache
from services.backbone.registry import EventRegistry

REGISTRY = EventRegistry(d.EVENT_TYPES.values())
# The cadre's own words and the evidence about them, encrypted under the assessment's key.
REGISTRY.personal(d.SelfEvaluationEntered, ("text",), "assessment_id")
REGISTRY.personal(d.PerformanceScoreEntered, ("evidence",), "assessment_id")
REGISTRY.personal(d.SelfEvaluationCorrected, ("text", "reason"), "assessment_id")
REGISTRY.personal(d.PerformanceScoreCorrected, ("evidence", "reason"), "assessment_id")
# Reasons given about the cadre's assessment (a correction, an adjustment, a departure from the proposed grade, an
# appeal), and the command's reason of every event of the assessment.
REGISTRY.personal(d.PerformanceScoreAdjusted, ("reason",), "assessment_id")
REGISTRY.personal(d.DemocraticEntryCorrected, ("reason",), "assessment_id")
REGISTRY.personal(d.AssessmentFinalised, ("reason",), "assessment_id")
REGISTRY.personal(d.AssessmentReopened, ("reason",), "assessment_id")
for _about_assessment in (d.AssessmentOpened, d.BallotTokensIssued, d.BallotCast, d.TallyEntered, d.WarningRaised):
    REGISTRY.personal(_about_assessment, (), "assessment_id")
POLICY_STREAM = "policy-book"
# The steps whose events carry personal fields (sealed under the assessment's key, registered above).
PERSONAL_STEPS = frozenset({"self_evaluation", "self_evaluation_correction", "score", "score_correction"})


def assessment_stream(assessment_id: str) -> str:
    return f"assessment-{assessment_id}"


def roster_stream(placement_id: str) -> str:
    return f"roster-{placement_id}"


def cadre_placement_ids(schema: str, conn: psycopg.Connection, cadre_id: str) -> list[str]:
    """The placements the roster noted for `cadre_id` (its noted PlacementPlanned events, as stored)."""
    rows = conn.execute(_sql(_CADRE_PLACEMENTS, schema), (cadre_id,)).fetchall()
    return [str(placement_id) for (placement_id,) in rows]


_CADRE_PLACEMENTS = ("SELECT DISTINCT data->>'placement_id' FROM {}.events WHERE stream LIKE 'roster-%%'"
                     " AND type = 'assessment.PlacementEventNoted' AND data->>'source_type' = 'posting.PlacementPlanned'"
                     " AND data->'data'->>'cadre_id' = %s")


def period_assessment_id(placement_id: str, period: str) -> str:
    """The id of the assessment at /placements/{placement_id}/assessments/{period} (a year or 'end-of-term')."""
    return f"{placement_id}/{period}"


def adopt_policy(agg: Aggregates, meta: CommandMeta, payload: dict[str, Any], if_match: int | None = None) -> CommandResult:
    """Adopt a version of the annual-assessment rules; an identical repeat appends nothing. `if_match`: the
    version of the rules' book the caller saw."""
    policy = d.AssessmentPolicy(**{k: v for k, v in payload.items() if k != "reason"})
    return agg.execute(POLICY_STREAM, lambda events: (d.DEFAULT_POLICY, *d.fold_policies(events)),  # built-in included
                       lambda adopted: d.decide_adopt_policy(adopted, d.AdoptPolicy(policy), meta.context), meta, if_match)


def policies(agg: Aggregates, conn: Any = None, until: datetime | None = None) -> tuple[d.AssessmentPolicy, ...]:
    """The built-in default followed by every adopted version (adopted by `until`, if given)."""
    return (d.DEFAULT_POLICY, *d.fold_policies(agg.history(POLICY_STREAM, until=until, conn=conn)))


def policy_views(agg: Aggregates, until: datetime | None = None) -> list[dict[str, Any]]:
    """The built-in default then every adopted version (as recorded at `until`), each with its rules in Chinese and
    whether it is the one in force (on `until`'s day; else today, UTC)."""
    found = policies(agg, until=until)
    current = d.policy_in_force(found, (until or utcnow()).date())
    return [{**p.as_dict(), "label": p.label, "in_force": p is current} for p in found]


def roster_for(agg: Aggregates, placement_id: str, conn: Any = None, until: datetime | None = None) -> d.PlacementRoster:
    """What this service knows of one placement, from the posting events it noted (by `until`, if given)."""
    return d.fold_roster(agg.history(roster_stream(placement_id), until=until, conn=conn))


def placement_status(agg: Aggregates, placement_id: str, until: datetime | None = None) -> dict[str, Any]:
    """The placement's status on the roster and its details as posting announced them (both None: not known)."""
    roster = roster_for(agg, placement_id, until=until)
    placement = roster.find(placement_id)
    return {"placement_id": placement_id, "status": roster.status_of(placement_id),
            "placement": dataclasses.asdict(placement) if placement else None}


def note_posting_event(agg: Aggregates, conn: psycopg.Connection, meta: CommandMeta, event: RecordedEvent) -> None:
    """Consumer use case: note a posting event the roster follows, in the consumer's transaction."""
    decision = d.decide_note_posting_event(event.type, str(event.event_id), event.data)
    if decision.events:
        placement_id = str(event.data["placement_id"])
        agg.execute(roster_stream(placement_id), d.fold_roster, lambda _: decision, meta, conn=conn)


def open_assessment(agg: Aggregates, meta: CommandMeta, payload: dict[str, Any]) -> CommandResult:
    """Open an annual assessment of an active placement, or the end-of-term appraisal of a completed one."""
    command = d.OpenAssessment(payload["placement_id"], payload["kind"], payload["year"])
    assessment_id = d.assessment_id_for(command.placement_id, command.kind, command.year)
    stream = assessment_stream(assessment_id)
    _ensure_key(agg, meta, assessment_id)
    with agg.store.transaction() as conn:  # one connection and transaction for the whole command
        roster = roster_for(agg, command.placement_id, conn)
        policy = d.policy_in_force(policies(agg, conn), meta.context.now.date())

        def decide(state: d.Assessment | None) -> Decision:
            decision = d.decide_open_assessment(state, command, meta.context, roster, policy)
            if (placement := roster.find(command.placement_id)) is not None and agg.store.vault is not None:
                agg.store.vault.hold_person(conn, placement.cadre_id)  # an erased cadre is assessed no more
            return decision

        result = agg.execute(stream, d.fold, decide, meta, conn=conn)
        index_cohorts(agg, conn, result)
        return result


# Step name -> (command from the assessment id and the request body, the domain decision).
_STEPS: dict[str, tuple[Callable[[str, dict[str, Any]], Any], Callable[..., Any]]] = {
    "self_evaluation": (lambda a, p: d.EnterSelfEvaluation(a, p["text"]), d.decide_enter_self_evaluation),
    "self_evaluation_correction": (lambda a, p: d.CorrectSelfEvaluation(a, p["corrects_entry_id"], p["text"]),
                                   d.decide_correct_self_evaluation),
    "paper_ballot": (lambda a, p: d.CastBallot(a, p["rater_group"], p["grade"]), d.decide_cast_ballot),
    "tally": (lambda a, p: d.EnterTally(a, p["rater_group"], p["counts"]), d.decide_enter_tally),
    "democratic_correction": (lambda a, p: d.CorrectDemocraticEntry(a, p["corrects_entry_id"], p["counts"]),
                              d.decide_correct_democratic_entry),
    "score": (lambda a, p: d.EnterPerformanceScore(a, p["dimension"], p["score"], p["evidence"]),
              d.decide_enter_performance_score),
    "score_correction": (lambda a, p: d.CorrectPerformanceScore(a, p["corrects_entry_id"], p["score"], p["evidence"]),
                         d.decide_correct_performance_score),
    "adjustment": (lambda a, p: d.AdjustPerformanceScore(a, p["dimension"], p["delta"]),
                   d.decide_adjust_performance_score),
    "appeal": (lambda a, p: d.ReopenAssessment(a), d.decide_reopen_assessment),
}


def assessment_step(agg: Aggregates, meta: CommandMeta, assessment_id: str, step: str,
                    payload: dict[str, Any], if_match: int | None) -> CommandResult:
    """One entry, correction, adjustment or appeal on one assessment: one event, with actor and reason."""
    build, decide = _STEPS[step]
    command = build(assessment_id, payload)
    _ensure_key(agg, meta, assessment_id, step in PERSONAL_STEPS)
    with agg.store.transaction() as conn:  # one connection and transaction for the whole command
        result = execute_on_assessment(agg, assessment_id, lambda s: decide(s, command, meta.context), meta,
                                       if_match, conn)
        index_cohorts(agg, conn, result)  # an appeal reopens: the assessment leaves its cohort's finals
        return result


def _ensure_key(agg: Aggregates, meta: CommandMeta, assessment_id: str, personal: bool = False) -> None:
    """The assessment's key, created before the command's transaction (see Vault.ensure_key) when its events
    will carry personal fields or a reason (sealed too)."""
    if (personal or meta.context.reason) and agg.store.vault is not None:
        agg.store.vault.ensure_key(assessment_id)


def _scrubbed(state: d.Assessment) -> d.Assessment:
    """The state without the personal texts it holds (no rule reads them, only whether they exist)."""
    return dataclasses.replace(
        state, self_evaluation=dict.fromkeys(state.self_evaluation, ""),
        scores={k: dataclasses.replace(v, evidence="") for k, v in state.scores.items()})


# An assessment's stream grows with every ballot, tally and score: commands refold only what is new.
ASSESSMENTS = FoldCache(d.evolve, REGISTRY.load, _scrubbed)


def execute_on_assessment(agg: Aggregates, assessment_id: str, decide: Callable[[d.Assessment | None], Decision],
                          meta: CommandMeta, if_match: int | None, conn: psycopg.Connection) -> CommandResult:
    """Aggregates.execute on one assessment, its state taken from the fold cache (see FoldCache)."""
    stream = assessment_stream(assessment_id)
    return agg.decide_on(stream, lambda: ASSESSMENTS.state(agg.store, stream, conn), decide, meta, if_match, conn=conn)


def finalise(agg: Aggregates, meta: CommandMeta, assessment_id: str, payload: dict[str, Any],
             if_match: int | None) -> CommandResult:
    """Finalise under the excellent cap of the cohort (host unit and year), one finalisation per cohort at a time."""
    command = d.FinaliseAssessment(assessment_id, payload["final_grade"])
    _ensure_key(agg, meta, assessment_id)
    with agg.store.transaction() as conn:
        cohort = conn.execute(_sql(_COHORT_OF, agg.store.schema), (assessment_id,)).fetchone()
        if cohort is None:
            raise NotFoundError("assessment_not_found", f"no assessment {assessment_id}")
        host_unit, year = cohort
        # An advisory lock is not a write, so the append below stays the first write of the transaction.
        conn.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (f"assessment:cohort:{host_unit}:{year}",))
        finals = cohort_finals(agg, host_unit, year, conn)
        result = execute_on_assessment(agg, assessment_id,
                                       lambda s: d.decide_finalise_assessment(s, command, meta.context, finals),
                                       meta, if_match, conn)
        index_cohorts(agg, conn, result)
        return result


_COHORT_OF = "SELECT host_unit, year FROM {}.cohort_assessments WHERE assessment_id = %s"
_COHORT = "SELECT assessment_id, final_grade FROM {}.cohort_assessments WHERE host_unit = %s AND year = %s"
_JOIN_COHORT = ("INSERT INTO {}.cohort_assessments (assessment_id, host_unit, year) VALUES (%s, %s, %s)"
                " ON CONFLICT DO NOTHING")
_SET_FINAL = "UPDATE {}.cohort_assessments SET final_grade = %s WHERE assessment_id = %s"


@functools.cache
def _sql(template: str, schema: str) -> str:
    """`template` with the schema's quoted name, composed once (psycopg would compose a sql.Composed per call)."""
    return sql.SQL(template).format(sql.Identifier(schema)).as_string(None)


def cohort_finals(agg: Aggregates, host_unit: str, year: int, conn: psycopg.Connection) -> dict[str, str | None]:
    """Every assessment of the host unit's year, with its final grade (None while open or reopened), from the
    cohort_assessments index (kept in step with the log in each appending transaction)."""
    rows = conn.execute(_sql(_COHORT, agg.store.schema), (host_unit, year)).fetchall()
    return {assessment_id: final_grade for assessment_id, final_grade in rows}


def index_cohorts(agg: Aggregates, conn: psycopg.Connection, result: CommandResult) -> None:
    """Keep cohort_assessments in step with the events a command just appended (same transaction, after the
    append). A replayed command appended nothing now, so there is nothing to apply."""
    if result.replayed:
        return
    for event in result.events:
        if event.type == d.AssessmentOpened.TYPE:
            conn.execute(_sql(_JOIN_COHORT, agg.store.schema),
                         (event.data["assessment_id"], event.data["host_unit"], int(event.data["year"])))
        elif event.type == d.AssessmentFinalised.TYPE:
            conn.execute(_sql(_SET_FINAL, agg.store.schema), (event.data["final_grade"], event.data["assessment_id"]))
        elif event.type == d.AssessmentReopened.TYPE:
            conn.execute(_sql(_SET_FINAL, agg.store.schema), (None, event.data["assessment_id"]))


def load(agg: Aggregates, assessment_id: str, until: datetime | None = None) -> tuple[d.Assessment, list[RecordedEvent]]:
    """The assessment and its recorded events, or NotFoundError."""
    recorded = agg.store.read_stream(assessment_stream(assessment_id), until=until)
    state = d.fold(REGISTRY.load(r) for r in recorded)
    if state is None:
        raise NotFoundError("assessment_not_found", f"no assessment {assessment_id}")
    return state, recorded


OPENED_FOR = ("year", "cadre_id", "host_unit", "home_unit")  # fixed when an assessment opens: a list pages by them
FOLD_CANDIDATES = 200  # a status filter over more candidates than this reads the kept folds


def assessment_page(agg: Aggregates, offset: int, limit: int | None, readable: Callable[[dict[str, Any]], bool],
                    until: datetime | None = None, **filters: Any) -> tuple[list[d.Assessment], int]:
    """One page (by id) of the assessments that match `filters` and that `readable` admits, and how many match,
    as recorded at `until` (if given).

    `readable` and every filter but `status` are judged on what the assessment was opened for (`OPENED_FOR`,
    read from the opening events alone), so only the page is folded; `status` changes, so when it is asked
    for, a few candidates are folded and many are judged by the folds the service keeps (`ASSESSMENTS`, which
    hold the present: as of a past moment, every candidate is folded up to it).
    """
    wanted = {k: v for k, v in filters.items() if v is not None}
    status = wanted.pop("status", None)
    opened = agg.store.opening_data("assessment-", d.AssessmentOpened.TYPE, OPENED_FOR, until)
    streams = [stream for stream, keys in opened.items()
               if readable(keys) and all(keys[k] == v for k, v in wanted.items())]
    end = None if limit is None else offset + limit
    if status is None:
        return _folded(agg, streams[offset:end], until), len(streams)
    if len(streams) > FOLD_CANDIDATES and until is None:  # many: their statuses from the kept folds, refreshed
        kept = ASSESSMENTS.states(agg.store, "assessment-")
        streams = [stream for stream in streams if getattr(kept.get(stream, (0, None))[1], "status", None) == status]
        return _folded(agg, streams[offset:end]), len(streams)
    matching = [a for a in _folded(agg, streams, until) if a.status == status]
    return matching[offset:end], len(matching)


def _folded(agg: Aggregates, streams: list[str], until: datetime | None = None) -> list[d.Assessment]:
    return [a for _, a in agg.fold_streams(streams, d.fold, until).values() if a is not None]
