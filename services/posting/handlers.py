"""The posting service's use cases: each loads what a decision needs, decides, and appends.

Handed an `Aggregates` (store + registry) and, when they join a caller's transaction, a connection;
they know nothing of HTTP or nameko.
"""
from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable, Mapping
from datetime import date, datetime
from typing import Any

import psycopg

from services.backbone.commands import Aggregates, CommandMeta, CommandResult
from services.backbone.domain import Actor, Context, Decision, Event
from services.backbone.errors import ConcurrencyConflictError, IdempotencyMismatchError
from services.backbone.foldcache import FoldCache
from services.backbone.registry import EventRegistry
from services.posting import domain as d

log = logging.getLogger(__name__)
REGISTRY = EventRegistry(d.EVENT_TYPES.values())
REGISTRY.register(d.NominationRecorded, version=2)  # v2: the committee's decision date
REGISTRY.upcaster(d.NominationRecorded.TYPE, 1)(d.upcast_nomination_recorded_v1)
# Free text about the seconded cadre, stored encrypted under the placement's key (erased with the cadre).
REGISTRY.personal(d.CheckInRecorded, ("thinking", "work", "notes"), "placement_id")
REGISTRY.personal(d.AttendanceReported, ("notes",), "placement_id")
REGISTRY.personal(d.DisciplineIncidentRecorded, ("description",), "placement_id")
REGISTRY.personal(d.RewardDecided, ("description", "basis"), "placement_id")
REGISTRY.personal(d.PenaltyDecided, ("description", "basis"), "placement_id")
REGISTRY.personal(d.PlacementRecalled, ("reason",), "placement_id")
REGISTRY.personal(d.PlacementExtended, ("reason",), "placement_id")
REGISTRY.personal(d.AgreementAmended, ("reason",), "placement_id")
# The placement's other events carry no personal field, but the command's reason speaks of the cadre too.
for _about_placement in (d.PlacementPlanned, d.NominationPlaced, d.PlacementStarted, d.PlacementCompleted,
                         d.AgreementDrafted, d.AgreementSigned, d.TrainingRecorded):
    REGISTRY.personal(_about_placement, (), "placement_id")
# Left in clear: CheckInOverdue(Cleared) and NominationRecorded, made by the service itself with a fixed reason.
# The steps whose events carry personal fields (sealed under the placement's key, registered above).
PERSONAL_STEPS = frozenset({"check_in", "attendance", "discipline", "reward", "penalty", "recall"})
PLACEMENT_PREFIX = "placement-"
NOMINATION_PREFIX = "approved-nomination-"
POLICY_STREAM = "policy-book"

# One step on one placement: the command it builds and the rule that decides it.
STEPS: dict[str, tuple[type[Any], Callable[..., Decision]]] = {
    "draft": (d.DraftAgreement, d.decide_draft_agreement),
    "amend": (d.AmendAgreement, d.decide_amend_agreement),
    "sign": (d.SignAgreement, d.decide_sign_agreement),
    "start": (d.StartPlacement, d.decide_start_placement),
    "extend": (d.ExtendPlacement, d.decide_extend_placement),
    "complete": (d.CompletePlacement, d.decide_complete_placement),
    "recall": (d.RecallPlacement, d.decide_recall_placement),
    "check_in": (d.RecordCheckIn, d.decide_record_check_in),
    "attendance": (d.ReportAttendance, d.decide_report_attendance),
    "discipline": (d.RecordDisciplineIncident, d.decide_record_discipline_incident),
    "training": (d.RecordTraining, d.decide_record_training),
    "reward": (d.DecideReward, d.decide_reward),
    "penalty": (d.DecidePenalty, d.decide_penalty),
}


def placement_stream(placement_id: str) -> str:
    return f"{PLACEMENT_PREFIX}{placement_id}"


def nomination_stream(nomination_id: str) -> str:
    return f"{NOMINATION_PREFIX}{nomination_id}"


def plan_stream(year: int) -> str:
    return f"plan-{year}"


def record_approved_nomination(agg: Aggregates, conn: psycopg.Connection, meta: CommandMeta,
                               approval: Mapping[str, Any]) -> None:
    """Consumer use case: a selection.NominationApproved payload becomes a placeable nomination."""
    command = d.RecordNomination(
        nomination_id=approval["nomination_id"], cadre_id=approval["cadre_id"], cadre_rank=approval["cadre_rank"],
        home_unit=approval["sending_unit"], placement_type=approval["placement_type"],
        host_unit=approval["host_unit"], host_post=approval["host_post"], post_level=approval["post_level"],
        posting_mode=approval["posting_mode"],
        decided_on=date.fromisoformat(approval["decision_date"]) if approval.get("decision_date") else None,
    )
    agg.execute(nomination_stream(command.nomination_id), d.fold_nomination,
                lambda s: d.decide_record_nomination(s, command, meta.context), meta, conn=conn)


def adopt_policy(agg: Aggregates, meta: CommandMeta, payload: dict[str, Any], if_match: int | None = None,
                 default: d.TermPolicy = d.DEFAULT_POLICY) -> CommandResult:
    """posting.PolicyAdopted: a version of the term rules; an identical repeat appends nothing. `if_match`: the
    version of the policy book the caller saw; `default`: the built-in rules this deployment runs with."""
    policy = d.TermPolicy(payload["version"], payload["effective_from"], tuple(payload["allowed_term_months"]),
                          payload["max_term_months"], payload["check_in_days"])
    return agg.execute(POLICY_STREAM, lambda events: (default, *d.fold_policies(events)),
                       lambda adopted: d.decide_adopt_policy(adopted, d.AdoptPolicy(policy), meta.context), meta, if_match)


def policies(agg: Aggregates, default: d.TermPolicy = d.DEFAULT_POLICY, conn: psycopg.Connection | None = None,
             until: datetime | None = None) -> tuple[d.TermPolicy, ...]:
    """The built-in default followed by every adopted version (adopted by `until`, if given)."""
    return (default, *d.fold_policies(agg.history(POLICY_STREAM, until=until, conn=conn)))


def plan_placement(agg: Aggregates, meta: CommandMeta, payload: dict[str, Any],
                   default: d.TermPolicy = d.DEFAULT_POLICY) -> CommandResult:
    """PlacementPlanned and NominationPlaced, appended to both streams at once or not at all, under the term
    policy in force (`default`: the built-in rules this deployment runs with)."""
    command = _command(d.PlanPlacement, payload)
    p_stream, n_stream = placement_stream(command.placement_id), nomination_stream(command.nomination_id)
    if meta.context.reason and agg.store.vault is not None:
        agg.store.vault.ensure_key(command.placement_id)  # the reason is sealed: see Vault.ensure_key
    with agg.store.transaction() as conn:  # one connection and transaction for the whole command
        def attempt() -> CommandResult:
            placement, p_version = agg.load(p_stream, d.fold_placement, conn=conn)
            nomination, n_version = agg.load(n_stream, d.fold_nomination, conn=conn)
            others = cadre_placements(agg, nomination.cadre_id, conn) if nomination is not None else []
            decision = d.decide_plan_placement(placement, command, meta.context, nomination,
                                               policies=policies(agg, default, conn), cadre_placements=others)
            if nomination is not None and agg.store.vault is not None:
                agg.store.vault.hold_person(conn, nomination.cadre_id)  # an erased cadre is placed no more
            new = agg.new_events(decision.events, meta, decision.policy_version, conn=conn)
            batches = [
                (p_stream, [n for e, n in zip(decision.events, new, strict=True) if not _nomination_event(e)], p_version),
                (n_stream, [n for e, n in zip(decision.events, new, strict=True) if _nomination_event(e)], n_version),
            ]
            recorded = agg.store.append_streams(batches, conn=conn)
            return CommandResult.appended(p_stream, p_version + len(batches[0][1]), recorded, meta)

        result = agg.run_once(meta, None, attempt, conn=conn)
    mine = [e for e in result.events if e.stream == p_stream] or result.events  # the placement's stream first
    return dataclasses.replace(result, stream=mine[-1].stream, version=mine[-1].version)


def cadre_placements(agg: Aggregates, cadre_id: str, conn: psycopg.Connection) -> list[d.Placement]:
    """The cadre's placements, read under a per-cadre lock so that 'one placement at a time' holds when two
    nominations of one cadre are planned at once (an advisory lock is no write: the append stays the first)."""
    conn.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (f"posting:plan:{cadre_id}",))
    ids = agg.store.values_where(PLACEMENT_PREFIX, d.PlacementPlanned.TYPE, "placement_id", "cadre_id", cadre_id,
                                 conn=conn)
    folded = (agg.load(placement_stream(i), d.fold_placement, conn=conn)[0] for i in sorted(ids))
    return [p for p in folded if p is not None]


def _nomination_event(event: Event) -> bool:
    return isinstance(event, d.NOMINATION_EVENTS)


def placement_step(agg: Aggregates, meta: CommandMeta, placement_id: str, step: str,
                   payload: dict[str, Any], if_match: int | None,
                   default: d.TermPolicy = d.DEFAULT_POLICY) -> CommandResult:
    """One step of a placement's life, agreement, supervision or safeguards, on its own stream (`default`: the
    built-in term rules, for an extension)."""
    cls, decide = STEPS[step]
    command = _command(cls, {**payload, "placement_id": placement_id})
    if (step in PERSONAL_STEPS or meta.context.reason) and agg.store.vault is not None:
        agg.store.vault.ensure_key(placement_id)  # before the transaction (Vault.ensure_key); a reason is sealed too
    stream = placement_stream(placement_id)
    with agg.store.transaction() as conn:  # one connection and transaction for the whole command
        # Aggregates.execute, except that the state comes from the per-process fold cache: a placement's
        # stream grows with every check-in, and refolding it all on every command made each one dearer.
        return agg.decide_on(stream, lambda: placement_state(agg, stream, conn),
                             lambda state: decide(state, command, meta.context,
                                                  **_step_facts(agg, step, state, conn, default)),
                             meta, if_match, conn=conn)


def _step_facts(agg: Aggregates, step: str, state: d.Placement | None, conn: psycopg.Connection,
                default: d.TermPolicy) -> dict[str, Any]:
    """What a step needs beside the placement: an extension, the term policies; a start, the day the committee
    approved its nomination."""
    if step == "extend":
        return {"policies": policies(agg, default, conn)}
    if step != "start" or state is None:
        return {}
    nomination, _ = agg.load(nomination_stream(state.nomination_id), d.fold_nomination, conn=conn)
    return {"decided_on": nomination.decided_on if nomination is not None else None}


def record_plan(agg: Aggregates, meta: CommandMeta, payload: dict[str, Any], if_match: int | None = None) -> CommandResult:
    """Record (or revise) a year's placement plan; the same numbers again append nothing. `if_match`: the
    version of the year's plan the caller saw."""
    command = _command(d.RecordPlacementPlan, payload)
    return agg.execute(plan_stream(command.year), d.fold_plan,
                       lambda s: d.decide_record_placement_plan(s, command, meta.context), meta, if_match)


def flag_overdue_check_ins(agg: Aggregates, actor: Actor, now: datetime,
                           default: d.TermPolicy = d.DEFAULT_POLICY) -> int:
    """Raise posting.CheckInOverdue on every running placement silent for longer than the check-in interval of the
    term policy in force (`default`: the built-in rules), stamped with that policy's version.

    Safe on every replica at once: the command id is the stream and the version the decision was
    made on, so racing replicas produce the same event ids and the store keeps one of them.
    """
    raised = 0
    book = policies(agg, default)
    max_days = d.policy_in_force(book, now.date()).check_in_days
    for stream, (version, state) in placement_states(agg).items():
        decision = d.check_overdue_under(state, now, book)
        if not decision.events:
            continue
        command_id = f"check-in-overdue:{stream}:{version}"
        meta = CommandMeta(Context(actor, now, f"超过{max_days}天未跟踪督查 no check-in for more than {max_days} days"),
                           command_id, command_id, "posting")
        try:
            agg.append(stream, decision.events, version, meta, decision.policy_version)
        except ConcurrencyConflictError:
            continue  # a check-in (or another replica) moved the stream on; the next scan decides again
        except IdempotencyMismatchError:
            # the id is taken by another principal's command (a key of this form sent before keys were checked):
            # this placement waits for its next check-in or version; the scan goes on with the others
            log.warning("overdue scan: command id %s is taken by another command; %s skipped", command_id, stream)
            continue
        raised += 1
    return raised


# Placement streams grow with every check-in: commands and the overdue scan refold only what is new. The one
# personal text a placement's state holds (no rule reads it) is not kept in the cache.
PLACEMENTS = FoldCache(d.evolve_placement, REGISTRY.load, lambda state: dataclasses.replace(state, recall_reason=None))


def placement_state(agg: Aggregates, stream: str, conn: psycopg.Connection | None = None) -> tuple[int, d.Placement | None]:
    """(version, folded state) of one placement stream, from the cache plus the events recorded since."""
    return PLACEMENTS.state(agg.store, stream, conn)


def placement_states(agg: Aggregates) -> dict[str, tuple[int, d.Placement | None]]:
    """Every placement stream -> (its version, its folded state without personal text), reading only streams
    that changed (all of them in bulk after a start)."""
    return PLACEMENTS.states(agg.store, PLACEMENT_PREFIX)


def histories(agg: Aggregates, prefix: str, until: datetime | None = None) -> dict[str, list[Event]]:
    """Each stream starting with `prefix` -> its events (recorded at or before `until`), by stream name."""
    by_stream: dict[str, list[Event]] = {}
    for recorded in agg.store.read_streams_prefix(prefix):
        if until is None or recorded.recorded_at <= until:
            by_stream.setdefault(recorded.stream, []).append(REGISTRY.load(recorded))
    return by_stream


def _command(cls: type[Any], payload: Mapping[str, Any]) -> Any:
    """The command dataclass from the body's fields it declares (lists become tuples; `reason` may be extra)."""
    names = {f.name for f in dataclasses.fields(cls)}
    return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in payload.items() if k in names})
