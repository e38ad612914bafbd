"""The selection service's use cases: each loads what a decision needs, decides, and appends.

Handed an `Aggregates` (store + registry) and a connection; they know nothing of HTTP or nameko.
"""
from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable
from datetime import datetime
from typing import Any

import marshmallow
import marshmallow_dataclass
import psycopg
from psycopg import sql

from services.backbone.commands import Aggregates, CommandMeta, CommandResult, check_retry, utcnow
from services.backbone.domain import DomainError
from services.backbone.envelope import AlreadyStored, deterministic_event_id
from services.backbone.foldcache import FoldCache
from services.backbone.registry import EventRegistry
from services.backbone.vault import ERASED
from services.selection import domain as d

REGISTRY = EventRegistry(d.EVENT_TYPES.values())


class _ErasedBirthDateReadsNone(marshmallow.Schema):
    """A sealed birth date whose key was destroyed is revealed as the text placeholder: no date, so None."""

    @marshmallow.pre_load
    def _erased(self, data: dict[str, Any], **_: Any) -> dict[str, Any]:
        return {**data, "birth_date": None} if data.get("birth_date") == ERASED else data


# v2: the birth date sealed with the name (personal data); v1 events keep theirs in clear
REGISTRY.register(d.CadreRegistered, version=2,
                  schema=marshmallow_dataclass.class_schema(d.CadreRegistered, base_schema=_ErasedBirthDateReadsNone)())
REGISTRY.upcaster(d.CadreRegistered.TYPE, 1)(d.upcast_cadre_registered_v1)
# v2: the changes of fields an erasure retains (rank, unit, flags) in clear, the personal ones apart
REGISTRY.register(d.CadreUpdated, version=2)
REGISTRY.upcaster(d.CadreUpdated.TYPE, 1)(d.upcast_cadre_updated_v1)
# Personal fields, stored encrypted under the cadre's own key (erasable without breaking the audit chain).
REGISTRY.personal(d.CadreRegistered, ("name", "birth_date"), "cadre_id", earlier={1: ("name",)})
REGISTRY.personal(d.CadreUpdated, ("personal_changes",), "cadre_id", earlier={1: ("changes",)})
REGISTRY.personal(d.NominationRecommended, ("reason",), "cadre_id")
REGISTRY.personal(d.NominationInspected, ("findings",), "cadre_id")
REGISTRY.personal(d.EligibilityOverridden, ("reason",), "cadre_id")
# Reasons given about the cadre (health, family, discipline), and the command's reason of every event about them.
REGISTRY.personal(d.CadreAddedToReservePool, ("reason",), "cadre_id")
REGISTRY.personal(d.CadreRemovedFromReservePool, ("reason",), "cadre_id")
REGISTRY.personal(d.NominationApproved, (), "cadre_id")
REGISTRY.personal(d.NominationRejected, ("reason",), "cadre_id")
REGISTRY.personal(d.NominationWithdrawn, ("reason",), "cadre_id")
# Left in clear: RetentionRequired (a legal hold: no erasure while it stands), PersonalDataErased (the record of
# the erasure itself, kept by law), AssessmentResultRecorded (the consumer's fixed reason, no personal field).
POLICY_STREAM = "policy-book"


def cadre_stream(cadre_id: str) -> str:
    return f"cadre-{cadre_id}"


def nomination_stream(nomination_id: str) -> str:
    return f"nomination-{nomination_id}"


def unit_stream(unit_id: str) -> str:
    return f"unit-{unit_id}"


def register_cadre(agg: Aggregates, meta: CommandMeta, payload: dict[str, Any], if_match: int | None = None) -> CommandResult:
    """Register or update one cadre; an identical repeat appends nothing."""
    command = d.RegisterCadre(**payload)
    _ensure_key(agg, command.cadre_id)  # the cadre's name and birth date are sealed under the cadre's own key
    with agg.store.transaction() as conn:
        return agg.execute(cadre_stream(command.cadre_id), d.fold_cadre,
                           lambda s: d.decide_register_cadre(s, command, meta.context), meta, if_match, conn=conn)


def register_cadres(agg: Aggregates, meta: CommandMeta, cadres: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Register or update many cadres, all or none: each is a command of its own (`<command id>:<index>`), decided
    on the cadre's stream, and their events are appended together once every one was accepted. A cadre refused
    (or a cadre_id sent twice) refuses the whole request, naming `cadres.<index>`; nothing is written."""
    first: dict[str, int] = {}
    for i, cadre in enumerate(cadres):
        if (j := first.setdefault(cadre["cadre_id"], i)) != i:
            raise DomainError("duplicate", f"duplicate rule: cadres.{i}.cadre_id: cadre {cadre['cadre_id']} is already "
                                           f"cadres.{j}; send each cadre once per request, nothing was applied",
                              item=i, field="cadre_id", first_item=j)
    # the request's hash goes with each item: a retry of the key with another body is refused, not replayed
    metas = [dataclasses.replace(meta, command_id=f"{meta.command_id}:{i}") for i in range(len(cadres))]
    earlier = agg.store.read_events([deterministic_event_id(m.command_id, 0) for m in metas])
    if earlier:  # a retry of the key: each cadre's first result again (a cadre left unchanged is decided again)
        check_retry(earlier[0], meta)
        return [{"cadre_id": cadre["cadre_id"], **register_cadre(agg, each, cadre).to_json()}
                for each, cadre in zip(metas, cadres, strict=True)]
    for cadre in cadres:
        _ensure_key(agg, cadre["cadre_id"])  # the names and birth dates are sealed under each cadre's own key
    batches, decided = [], []
    with agg.store.transaction() as conn:  # one connection for every read; append_streams checks the versions
        for i, (cadre, each) in enumerate(zip(cadres, metas, strict=True)):
            stream = cadre_stream(cadre["cadre_id"])
            history = agg.history(stream, conn=conn)
            try:
                decision = d.decide_register_cadre(d.fold_cadre(history), d.RegisterCadre(**cadre), each.context)
            except DomainError as exc:
                field = exc.details.get("field")
                raise type(exc)(exc.rule, f"cadres.{i}: {exc.message}; nothing was applied",
                                **{**exc.details, "item": i, **({"field": f"cadres.{i}.{field}"} if field else {})}
                                ) from exc
            new = agg.new_events(decision.events, each, decision.policy_version, conn=conn)
            if new:
                batches.append((stream, new, len(history)))
            decided.append((stream, len(history), new))
    appended = agg.store.append_streams(batches) if batches else []
    replayed = isinstance(appended, AlreadyStored)  # the same request, sent again while this one ran
    if replayed:
        check_retry(appended[0], meta)
    recorded = {e.event_id: e for e in appended}
    results = []
    for cadre, (stream, version, new) in zip(cadres, decided, strict=True):
        mine = [recorded[n.event_id] for n in new if n.event_id in recorded]
        results.append({"cadre_id": cadre["cadre_id"],
                        **CommandResult(stream, version + len(mine), mine, replayed=replayed and bool(mine)).to_json()})
    return results


def change_reserve_pool(agg: Aggregates, meta: CommandMeta, cadre_id: str, reason: str, add: bool,
                        if_match: int | None) -> CommandResult:
    if add:
        add_cmd = d.AddToReservePool(cadre_id, reason)
        decide = lambda s: d.decide_add_to_reserve_pool(s, add_cmd, meta.context)  # noqa: E731
    else:
        remove_cmd = d.RemoveFromReservePool(cadre_id, reason)
        decide = lambda s: d.decide_remove_from_reserve_pool(s, remove_cmd, meta.context)  # noqa: E731
    return agg.execute(cadre_stream(cadre_id), d.fold_cadre, decide, meta, if_match)


def require_retention(agg: Aggregates, meta: CommandMeta, cadre_id: str, reason: str,
                      if_match: int | None = None) -> CommandResult:
    command = d.RequireRetention(cadre_id, reason)
    return agg.execute(cadre_stream(cadre_id), d.fold_cadre,
                       lambda s: d.decide_require_retention(s, command, meta.context), meta, if_match)


def erase_personal_data(agg: Aggregates, meta: CommandMeta, cadre_id: str, reason: str,
                        if_match: int | None = None) -> CommandResult:
    """Record the erasure, then destroy the cadre's key in the same transaction (after the append)."""
    command = d.ErasePersonalData(cadre_id, reason)
    with agg.store.transaction() as conn:
        result = agg.execute(cadre_stream(cadre_id), d.fold_cadre,
                             lambda s: d.decide_erase_personal_data(s, command, meta.context), meta, if_match, conn=conn)
        agg.store.vault.erase(conn, cadre_id)
    return result


def adopt_policy(agg: Aggregates, meta: CommandMeta, payload: dict[str, Any], if_match: int | None = None) -> CommandResult:
    command = d.AdoptPolicy(payload["version"], payload["effective_from"], payload["age_caps"],
                            payload["reserve_preferred"])
    return agg.execute(POLICY_STREAM, d.fold_policy_book,
                       lambda s: d.decide_adopt_policy(s, command, meta.context), meta, if_match)


def policy_views(agg: Aggregates, until: datetime | None = None) -> list[dict[str, Any]]:
    """Every adopted eligibility policy version in adoption order (as recorded at `until`), each with its rules in
    Chinese and whether it is the one in force (on `until`'s day; else today, UTC). Selection has no built-in
    rules: until a version is adopted, nothing is in force and no cadre can be recommended."""
    book = d.fold_policy_book(agg.history(POLICY_STREAM, until=until)) or d.PolicyBook()
    current = book.in_force((until or utcnow()).date())
    return [{**dataclasses.asdict(p), "label": p.label, "in_force": p is current} for p in book.policies]


def recommend(agg: Aggregates, meta: CommandMeta, payload: dict[str, Any]) -> CommandResult:
    """Recommend a cadre; a per-cadre lock makes 'one open nomination per cadre' hold under concurrency."""
    command = d.RecommendNomination(**payload)
    with agg.store.transaction() as conn:
        # An advisory lock is not a write: the append below stays the first write of the transaction.
        conn.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (f"selection:recommend:{command.cadre_id}",))
        cadre = d.fold_cadre(agg.history(cadre_stream(command.cadre_id), conn=conn))
        policies = d.fold_policy_book(agg.history(POLICY_STREAM, conn=conn))
        others = cadre_nominations(agg, command.cadre_id, conn)
        result = agg.execute(
            nomination_stream(command.nomination_id), d.fold_nomination,
            lambda s: d.decide_recommend_nomination(s, command, meta.context, cadre=cadre, policies=policies,
                                                    cadre_nominations=others),
            meta, conn=conn,
        )
        # After the append (which must be the transaction's first write), in the same transaction.
        if result.events:
            conn.execute(_in_schema(_INDEX_NOMINATION, agg.store.schema), (command.nomination_id, command.cadre_id))
        return result


_CADRE_NOMINATIONS = "SELECT nomination_id FROM {}.cadre_nominations WHERE cadre_id = %s ORDER BY nomination_id"
_INDEX_NOMINATION = "INSERT INTO {}.cadre_nominations (nomination_id, cadre_id) VALUES (%s, %s) ON CONFLICT DO NOTHING"


@functools.cache
def _in_schema(template: str, schema: str) -> str:
    """`template` with the schema's quoted name, composed once (psycopg would compose a sql.Composed per call)."""
    return sql.SQL(template).format(sql.Identifier(schema)).as_string(None)


def _ensure_key(agg: Aggregates, subject: str) -> None:
    """The subject's key, created before the command's transaction opens (see Vault.ensure_key)."""
    if agg.store.vault is not None:
        agg.store.vault.ensure_key(subject)


def cadre_nominations(agg: Aggregates, cadre_id: str, conn: psycopg.Connection) -> list[d.Nomination]:
    """The cadre's nominations, each folded from its own stream (found through the cadre_nominations index)."""
    ids = [row[0] for row in conn.execute(_in_schema(_CADRE_NOMINATIONS, agg.store.schema), (cadre_id,))]
    folded = (d.fold_nomination(agg.history(nomination_stream(i), conn=conn)) for i in ids)
    return [n for n in folded if n is not None]


def nomination_step(agg: Aggregates, meta: CommandMeta, nomination_id: str, step: str,
                    payload: dict[str, Any], if_match: int | None) -> CommandResult:
    """Inspect, decide, withdraw or override: one step on one nomination."""
    body = {k: v for k, v in payload.items() if k != "reason"}
    reason = payload.get("reason")
    if step == "inspect":
        cmd: Any = d.InspectNomination(nomination_id, body["findings"], body["passed"])
        decide = lambda s: d.decide_inspect_nomination(s, cmd, meta.context)  # noqa: E731
    elif step == "decide":
        cmd = d.RecordCommitteeDecision(nomination_id, body["approved"], body["decision_ref"], body["decision_date"], reason)
        decide = lambda s: d.decide_record_committee_decision(s, cmd, meta.context)  # noqa: E731
    elif step == "withdraw":
        cmd = d.WithdrawNomination(nomination_id, reason or "")
        decide = lambda s: d.decide_withdraw_nomination(s, cmd, meta.context)  # noqa: E731
    else:
        cmd = d.OverrideEligibility(nomination_id, reason or "")
        decide = lambda s: d.decide_override_eligibility(s, cmd, meta.context)  # noqa: E731
    with agg.store.transaction() as conn:  # one connection and transaction for the whole command
        return agg.execute(nomination_stream(nomination_id), d.fold_nomination, decide, meta, if_match, conn=conn)


def all_nominations(agg: Aggregates, until: datetime | None = None, conn: Any = None) -> list[d.Nomination]:
    return [n for _, n in _fold_prefix(agg, "nomination-", d.fold_nomination, until, conn) if n is not None]


def versioned_nomination_page(agg: Aggregates, offset: int, limit: int | None,
                              readable: Callable[[dict[str, Any]], bool],
                              until: datetime | None = None) -> tuple[list[tuple[int, d.Nomination]], int]:
    """One page (by id) of the nominations `readable` admits, each with its stream's version (as of `until`), and
    how many it admits: judged on the units a nomination was recommended from and to (its opening event alone,
    one query), so only the page is folded."""
    opened = agg.store.opening_data("nomination-", d.NominationRecommended.TYPE, ("sending_unit", "host_unit"), until)
    streams = [stream for stream, units in opened.items() if readable(units)]
    page = agg.fold_streams(streams[offset:None if limit is None else offset + limit], d.fold_nomination, until)
    return [(v, n) for v, n in page.values() if n is not None], len(streams)


def cadre_hosts(agg: Aggregates, host_unit: str, until: datetime | None = None,
                cadre_id: str | None = None) -> dict[str, frozenset[str]]:
    """Each cadre (only `cadre_id`, if given) -> the host units its nominations to `host_unit` engage, as of
    `until` (d.cadre_hosts). A nomination's host unit is the one it was recommended to (no event changes it), so
    the opening events name the candidates in one query, and only those nominations are folded."""
    opened = agg.store.opening_data("nomination-", d.NominationRecommended.TYPE, ("cadre_id", "host_unit"), until)
    streams = [stream for stream, o in opened.items()
               if o["host_unit"] == host_unit and cadre_id in (None, o["cadre_id"])]
    folded = agg.fold_streams(streams, d.fold_nomination, until)
    return d.cadre_hosts(n for _, n in folded.values() if n is not None)


# Cadres as the service keeps them folded for its lists, without their names and birth dates (personal: a page is
# folded in full).
# Refolded on an erasure: what an update sealed (a v2's personal changes, such as a birth date; a v1's changes whole,
# the rank and unit too) reads as {} from then on, and the kept fold must be what a fresh fold gives.
CADRES = FoldCache(d.evolve_cadre, REGISTRY.load, lambda cadre: dataclasses.replace(cadre, name="", birth_date=None),
                   refold_on=frozenset({d.PersonalDataErased.TYPE}))


def versioned_cadre_page(agg: Aggregates, offset: int, limit: int | None, readable: Callable[[d.Cadre], bool],
                         until: datetime | None = None) -> tuple[list[tuple[int, d.Cadre]], int]:
    """One page (by id) of the cadres `readable` admits, each with its stream's version (as of `until`), and how
    many it admits. Now: chosen among the folds the service keeps (a cadre's unit can change, so its
    registration is not enough), only the page folded in full; as of a past moment, every cadre folded up to it."""
    end = None if limit is None else offset + limit
    if until is not None:
        folded = _fold_prefix(agg, "cadre-", d.fold_cadre, until, None)
        matching = sorted(((v, c) for v, c in folded if c is not None and readable(c)), key=lambda vc: vc[1].cadre_id)
        return matching[offset:end], len(matching)
    streams = [stream for stream, (_, cadre) in CADRES.states(agg.store, "cadre-").items()
               if cadre is not None and readable(cadre)]
    page = agg.fold_streams(streams[offset:end], d.fold_cadre)
    return [(v, c) for v, c in page.values() if c is not None], len(streams)


def all_cadres(agg: Aggregates, until: datetime | None = None) -> list[d.Cadre]:
    return [c for _, c in _fold_prefix(agg, "cadre-", d.fold_cadre, until, None) if c is not None]


def _fold_prefix(agg: Aggregates, prefix: str, fold: Any, until: datetime | None, conn: Any) -> list[tuple[int, Any]]:
    """Every stream under `prefix` as (its version, its folded state), as of `until` if given."""
    by_stream: dict[str, list[Any]] = {}
    for recorded in agg.store.read_streams_prefix(prefix, conn=conn):
        if until is None or recorded.recorded_at <= until:
            by_stream.setdefault(recorded.stream, []).append(REGISTRY.load(recorded))
    return [(len(events), fold(events)) for events in by_stream.values()]


def register_unit(agg: Aggregates, meta: CommandMeta, unit_id: str, name: str,
                  if_match: int | None = None) -> CommandResult:
    """Register a unit under its name, or rename it; the name it already has appends nothing."""
    command = d.RegisterUnit(unit_id, name)
    return agg.execute(unit_stream(unit_id), d.fold_unit,
                       lambda s: d.decide_register_unit(s, command, meta.context), meta, if_match)


# Units as the service keeps them folded for its list (a name is no personal data: nothing to scrub).
UNITS = FoldCache(d.evolve_unit, REGISTRY.load)


def versioned_unit_page(agg: Aggregates, offset: int, limit: int | None,
                        until: datetime | None = None) -> tuple[list[tuple[int, d.Unit]], int]:
    """One page of the unit register by unit_id, each unit with its stream's version (as of `until`), and how
    many units there are: every unit is folded (a register of a county's units is small)."""
    folded = list(UNITS.states(agg.store, "unit-").values()) if until is None else _fold_prefix(
        agg, "unit-", d.fold_unit, until, None)
    units = sorted(((v, u) for v, u in folded if u is not None), key=lambda vu: vu[1].unit_id)
    return units[offset:None if limit is None else offset + limit], len(units)


def record_assessment_result(agg: Aggregates, conn: psycopg.Connection, meta: CommandMeta,
                             source_event_id: str, data: dict[str, Any]) -> None:
    """Consumer use case: a finalised assessment becomes part of the cadre's record."""
    command = d.RecordAssessmentResult(data["cadre_id"], int(data["year"]), data["kind"], data["grade"], source_event_id,
                                       data.get("assessment_id"))
    agg.execute(cadre_stream(command.cadre_id), d.fold_cadre,
                lambda s: d.decide_record_assessment_result(s, command, meta.context), meta, conn=conn)


def cadre_view(cadre: d.Cadre, version: int) -> dict[str, Any]:
    view = dataclasses.asdict(cadre)
    view.update(rank_label=d.RANK_LABELS.get(cadre.rank, cadre.rank), version=version)
    view["assessments"] = [{**a, "grade_label": d.GRADE_LABELS.get(a["grade"], a["grade"])} for a in view["assessments"]]
    return view


def unit_view(unit: d.Unit, version: int) -> dict[str, Any]:
    return {**dataclasses.asdict(unit), "version": version}


def nomination_view(nomination: d.Nomination, version: int) -> dict[str, Any]:
    view = dataclasses.asdict(nomination)
    view.update(
        version=version,
        status_label=d.NOMINATION_STATUS_LABELS.get(nomination.status, nomination.status),
        placement_type_label=d.PLACEMENT_TYPE_LABELS.get(nomination.placement_type, nomination.placement_type),
        posting_mode_label=d.POSTING_MODE_LABELS.get(nomination.posting_mode, nomination.posting_mode),
        blocked=nomination.blocked,
    )
    view["criteria"] = [{**c, "label": d.CRITERION_LABELS.get(c["criterion"], c["criterion"])} for c in view["criteria"]]
    return view
