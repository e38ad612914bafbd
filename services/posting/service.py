"""The posting service (方式关, 责任关, 保障关): placements of approved nominations, the tripartite
responsibility agreement, tracking supervision, safeguards, outcomes and the annual plan.

HTTP under /posting, RPC for queries, events on `posting.events` through the relay. Approved
nominations arrive from `selection.events` through the idempotent consumer, never by a direct call.
"""
from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from typing import Any, cast

import psycopg
from nameko.dependency_providers import Config
from nameko.rpc import rpc

from services.backbone.commands import Aggregates, CommandMeta, utcnow
from services.backbone.config import amqp_uri, setting
from services.backbone.domain import Actor, Context, NotFoundError
from services.backbone.edge import edge_endpoints
from services.backbone.envelope import RecordedEvent
from services.backbone.http import Call, RouteTable, endpoint
from services.backbone.parking import erase_parked
from services.backbone.providers import ConsumerProvider, EventStoreProvider, RelayProvider, SequencerProvider
from services.backbone.rpcclient import ReusedRpc
from services.backbone.schemas import YEAR, page_body
from services.backbone.scope import may_read, require_read, unit_of
from services.backbone.store import EventStore
from services.backbone.subscribe import subscribe
from services.backbone.timers import every
from services.backbone.vault import ERASURE_EVENT, erase_person_everywhere
from services.posting import handlers as h
from services.posting import queries as q
from services.posting import schemas as s
from services.posting.domain import DEFAULT_POLICY, SOURCE_EVENT_TYPE, TermPolicy, default_policy
from services.topics import SELECTION_APPROVALS, published_by, subscribed_by

log = logging.getLogger(__name__)
ROUTES = RouteTable("posting")
OD = ("organisation_department",)
OD_OR_HOST = ("organisation_department", "host_unit")
CONSUMER_ACTOR = Actor("service:posting", "integration", None)
SCANNER_ACTOR = Actor("service:posting", "operator", None)


# What selection seals of the events posting may park (its approvals topic): erased there on the cadre's erasure.
PARKED_PERSONAL: dict[str, tuple[str, ...]] = {"selection.NominationApproved": ()}


def apply_selection_event(conn: psycopg.Connection, event: RecordedEvent, store: EventStore) -> None:
    """Approved nominations become placeable; an erased cadre's placement keys are destroyed; the rest is not ours."""
    if event.type == ERASURE_EVENT:
        erase_person_everywhere(store, conn, event.data["cadre_id"], "placement-", "posting.PlacementPlanned",
                                "placement_id")
        erase_parked(conn, store.schema, [event.data["cadre_id"]], [], PARKED_PERSONAL)
        return
    if event.type != SOURCE_EVENT_TYPE:
        return
    meta = CommandMeta(Context(CONSUMER_ACTOR, event.recorded_at, "党委审定通过 approved by the party committee"),
                       command_id=f"consume:{event.event_id}", correlation_id=event.metadata.correlation_id,
                       source="posting", causation_id=str(event.event_id))
    approval = {**event.data, "cadre_rank": event.data.get("cadre_rank") or _rank_from_selection(event.data["cadre_id"])}
    h.record_approved_nomination(Aggregates(store, h.REGISTRY), conn, meta, approval)


def _rank_from_selection(cadre_id: str) -> str:
    """Approvals recorded before selection carried the rank: ask selection (a query, so RPC is allowed)."""
    rank = _selection_rpc().call(lambda cluster: cluster.selection.get_cadre_rank(cadre_id))
    if not rank:
        raise LookupError(f"selection knows no rank for cadre {cadre_id!r}")  # the consumer parks the event
    return str(rank)


@functools.cache
def _selection_rpc() -> ReusedRpc:
    """One RPC connection to selection for the process (its reply queue is kept, not one left per lookup)."""
    return ReusedRpc({"AMQP_URI": amqp_uri()}, timeout=30)


def _placement_step(step: str, path: str, summary: str, body: type[s.CommandIn],
                    roles: tuple[str, ...]) -> Callable[..., Any]:
    """An HTTP entrypoint running one step on one placement (all share the same shape)."""

    @endpoint(ROUTES, "POST", f"/placements/{{placement_id}}{path}", summary=summary, body=body,
              response=s.CommandOut, roles=roles)
    def run(self: PostingService, call: Call, placement_id: str) -> Any:
        return h.placement_step(self.aggregates, call.meta, placement_id, step, call.payload, call.if_match,
                                self.default_policy).to_json()

    return cast(Callable[..., Any], run)


class PostingService(edge_endpoints(ROUTES)):  # type: ignore[misc]
    name = "posting"
    store = EventStoreProvider()
    relay = RelayProvider(topics=published_by("posting"))
    sequencer = SequencerProvider()
    consumer = ConsumerProvider(
        {"selection": apply_selection_event},
        versions={"selection": {SOURCE_EVENT_TYPE: 1, ERASURE_EVENT: 1}},
        topics=subscribed_by("posting"),
    )
    config = Config()

    @property
    def aggregates(self) -> Aggregates:
        return Aggregates(self.store, h.REGISTRY)

    @property
    def default_policy(self) -> TermPolicy:
        """The built-in term rules, with this deployment's check-in interval (FOURGATES_CHECKIN_MAX_DAYS) if set."""
        return default_policy(int(setting(self.config, "CHECKIN_MAX_DAYS", DEFAULT_POLICY.check_in_days)))

    @endpoint(ROUTES, "POST", "/policies", summary="Adopt a version of the term rules (期限政策)", body=s.PolicyIn,
              response=s.CommandOut, roles=OD, status=201)
    def adopt_policy(self, call: Call) -> Any:
        return h.adopt_policy(self.aggregates, call.meta, call.payload, call.if_match, self.default_policy).to_json()

    @endpoint(ROUTES, "GET", "/policies", summary="Every term-policy version, the built-in default first",
              query=s.ListQuery, response=s.PolicyPageOut)
    def list_policies(self, call: Call) -> Any:
        views = q.policy_views(self.aggregates, self.default_policy, call.payload["as_of"])
        return _page([s.PolicyOut().dump(v) for v in views], call.payload)

    @endpoint(ROUTES, "POST", "/placements", summary="Plan the placement of an approved nomination",
              body=s.PlacementIn, response=s.CommandOut, roles=OD, status=201, if_match=False)
    def plan_placement(self, call: Call) -> Any:
        return h.plan_placement(self.aggregates, call.meta, call.payload, self.default_policy).to_json()

    @endpoint(ROUTES, "GET", "/placements", summary="List placements", query=s.PlacementQuery, response=s.PageOut)
    def list_placements(self, call: Call) -> Any:
        filters = {k: call.payload[k] for k in ("cadre_id", "status", "host_unit", "home_unit")}
        views, total = q.placement_page(self.aggregates, call.payload["offset"], call.payload["limit"],
                                        lambda state: _readable(call, state),
                                        call.payload["as_of"], **filters)
        return page_body([s.PlacementOut().dump(v) for v in views], total, call.payload)

    @endpoint(ROUTES, "GET", "/placements/{placement_id}", summary="One placement", query=s.AsOfQuery,
              response=s.PlacementOut)
    def get_placement(self, call: Call, placement_id: str) -> Any:
        view = q.placement(self.aggregates, placement_id, call.payload["as_of"])
        require_read(call.actor, f"placement {placement_id}", unit_of(view, "home_unit"), unit_of(view, "host_unit"))
        return s.PlacementOut().dump(view)

    draft_agreement = _placement_step("draft", "/agreement", "Draft the responsibility agreement",
                                      s.AgreementIn, OD)
    amend_agreement = _placement_step("amend", "/agreement/amendment",
                                      "Amend the responsibility agreement (all three sign again)", s.AmendmentIn, OD)
    sign_agreement = _placement_step("sign", "/agreement/signatures", "Sign the responsibility agreement for one party",
                                     s.SignatureIn, ("organisation_department", "sending_unit", "host_unit"))
    start_placement = _placement_step("start", "/start", "Start a placement whose agreement all three signed",
                                      s.StartIn, OD_OR_HOST)
    extend_placement = _placement_step("extend", "/extension", "Extend a running placement (within the term policy's maximum)",
                                       s.ExtensionIn, OD)
    complete_placement = _placement_step("complete", "/completion", "Complete a served placement with its outcome",
                                         s.CompletionIn, OD)
    recall_placement = _placement_step("recall", "/recall", "Recall a running placement early, with a reason",
                                       s.RecallIn, OD)
    record_check_in = _placement_step("check_in", "/check-ins", "Record a check-in on the cadre (host unit)",
                                      s.CheckInIn, ("host_unit",))
    report_attendance = _placement_step("attendance", "/attendance", "Report attendance or leave (host unit)",
                                        s.AttendanceIn, ("host_unit",))
    record_discipline = _placement_step("discipline", "/discipline-incidents", "Record a discipline incident",
                                        s.DisciplineIn, OD_OR_HOST)
    record_training = _placement_step("training", "/trainings", "Record training received", s.TrainingIn, OD_OR_HOST)
    decide_reward = _placement_step("reward", "/rewards", "Record a reward decided", s.RewardOrPenaltyIn, OD)
    decide_penalty = _placement_step("penalty", "/penalties", "Record a penalty decided", s.RewardOrPenaltyIn, OD)

    @endpoint(ROUTES, "GET", "/nominations", summary="List approved nominations known to posting",
              query=s.ListQuery, response=s.PageOut)
    def list_nominations(self, call: Call) -> Any:
        views = q.nominations(self.aggregates, call.payload["as_of"])
        return _page([s.NominationOut().dump(v) for v in views if _readable(call, v)], call.payload)

    @endpoint(ROUTES, "GET", "/nominations/{nomination_id}", summary="One approved nomination", query=s.AsOfQuery,
              response=s.NominationOut)
    def get_nomination(self, call: Call, nomination_id: str) -> Any:
        view = q.nomination(self.aggregates, nomination_id, call.payload["as_of"])
        require_read(call.actor, f"nomination {nomination_id}", unit_of(view, "home_unit"), unit_of(view, "host_unit"))
        return s.NominationOut().dump(view)

    @endpoint(ROUTES, "POST", "/plans", summary="Record or revise a year's placement plan", body=s.PlanIn,
              response=s.CommandOut, roles=OD)
    def record_plan(self, call: Call) -> Any:
        return h.record_plan(self.aggregates, call.meta, call.payload, call.if_match).to_json()

    @endpoint(ROUTES, "GET", "/plans/{year}", summary="A year's plan against the placements actually planned",
              response=s.PlanOut)
    def get_plan(self, call: Call, year: str) -> Any:
        return s.PlanOut().dump(q.plan_against_actual(self.aggregates, _year(year)))

    @rpc
    def placements_of_cadre(self, cadre_id: str) -> list[dict[str, Any]]:
        """Every placement of one cadre, as plain JSON views (empty if none)."""
        return [s.PlacementOut().dump(v) for v in q.placements(self.aggregates, cadre_id=cadre_id)]

    @rpc
    def get_placement_view(self, placement_id: str) -> dict[str, Any] | None:
        """One placement as a plain JSON view, or None if there is no such placement."""
        try:
            return dict(s.PlacementOut().dump(q.placement(self.aggregates, placement_id)))
        except NotFoundError:
            return None

    @rpc
    def plan_against_actual(self, year: int) -> dict[str, Any]:
        """A year's plan per placement type beside the placements planned to start that year."""
        return dict(s.PlanOut().dump(q.plan_against_actual(self.aggregates, int(year))))

    @subscribe("selection", topic=SELECTION_APPROVALS)
    def on_selection_event(self, body: dict[str, Any]) -> None:
        """Records approved nominations and erasures exactly once, in selection's feed order (idempotent consumer)."""
        self.consumer.receive("selection", body)

    @every("CATCH_UP_SECONDS", 10.0)
    def catch_up(self) -> None:
        """Reads selection's feed for anything the broker did not deliver."""
        try:
            self.consumer.catch_up("selection")
        except Exception as exc:  # noqa: BLE001  (selection may not be running yet; the next tick retries)
            log.warning("catch-up from selection failed: %s", exc)

    @every("CHECKIN_SCAN_SECONDS", 60.0)
    def flag_overdue_check_ins(self) -> None:
        """Raises posting.CheckInOverdue once per placement silent for longer than the term policy in force allows;
        every replica may scan, one alert results."""
        flagged = h.flag_overdue_check_ins(self.aggregates, SCANNER_ACTOR, utcnow(), self.default_policy)
        if flagged:  # a replica racing on the same alert may log it too; the log holds it once
            log.info("overdue check-in alert on %d placement(s)", flagged)


def _readable(call: Call, view: Any) -> bool:
    return may_read(call.actor, unit_of(view, "home_unit"), unit_of(view, "host_unit"))


def _year(raw: str) -> int:
    if not raw.isdigit() or not YEAR.min <= int(raw) <= YEAR.max:
        raise NotFoundError("plan_year_invalid", f"plans are kept per year {YEAR.min}–{YEAR.max}; {raw!r} is not one")
    return int(raw)


def _page(items: list[dict[str, Any]], query: dict[str, Any]) -> dict[str, Any]:
    start, limit = query["offset"], query["limit"]
    return page_body(items[start:start + limit], len(items), query)
