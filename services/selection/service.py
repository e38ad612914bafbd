"""The selection service (选拔关): cadre register, reserve pool, eligibility policy, nominations, unit register.

HTTP under /selection, RPC for other services, events on `selection.events` through the relay.
"""
from __future__ import annotations

import logging
from typing import Any

import psycopg
from nameko.rpc import rpc

from services.backbone.commands import Aggregates, CommandMeta
from services.backbone.domain import Actor, Context, NotFoundError
from services.backbone.edge import edge_endpoints
from services.backbone.envelope import RecordedEvent
from services.backbone.http import Call, RouteTable, endpoint
from services.backbone.providers import ConsumerProvider, EventStoreProvider, RelayProvider, SequencerProvider
from services.backbone.schemas import page_body
from services.backbone.scope import may_read, require_read
from services.backbone.store import EventStore
from services.backbone.subscribe import subscribe
from services.backbone.timers import every
from services.selection import csvio
from services.selection import domain as d
from services.selection import handlers as h
from services.selection import schemas as s
from services.topics import ASSESSMENT_FINALISED, published_by, subscribed_by

log = logging.getLogger(__name__)
ROUTES = RouteTable("selection")
REGISTRARS = ("integration", "organisation_department")
OD = ("organisation_department",)
EXPORTERS = ("organisation_department", "party_committee", "auditor", "integration")
CONSUMER_ACTOR = Actor("service:selection", "integration", None)


def apply_assessment_event(conn: psycopg.Connection, event: RecordedEvent, store: EventStore) -> None:
    """Finalised assessments become part of the cadre's record; other assessment events are not ours."""
    if event.type != "assessment.AssessmentFinalised":
        return
    meta = CommandMeta(Context(CONSUMER_ACTOR, event.recorded_at, "考核结果记入档案 assessment finalised"),
                       command_id=f"consume:{event.event_id}", correlation_id=event.metadata.correlation_id,
                       source="selection", causation_id=str(event.event_id))
    data = {**event.data, "grade": event.data["final_grade"]}
    h.record_assessment_result(Aggregates(store, h.REGISTRY), conn, meta, str(event.event_id), data)


class SelectionService(edge_endpoints(ROUTES)):  # type: ignore[misc]
    name = "selection"
    store = EventStoreProvider()
    relay = RelayProvider(topics=published_by("selection"))
    sequencer = SequencerProvider()
    consumer = ConsumerProvider({"assessment": apply_assessment_event},
                                versions={"assessment": {"assessment.AssessmentFinalised": 1}},
                                topics=subscribed_by("selection"))

    @property
    def aggregates(self) -> Aggregates:
        return Aggregates(self.store, h.REGISTRY)

    def _hosts(self, call: Call, cadre_id: str | None = None) -> dict[str, frozenset[str]]:
        """The cadres the calling host unit receives or is to receive (as of the call's `as_of`); only a host
        unit's reads depend on them."""
        if call.actor.role != "host_unit" or call.actor.unit is None:
            return {}
        return h.cadre_hosts(self.aggregates, call.actor.unit, call.payload["as_of"], cadre_id)

    @endpoint(ROUTES, "POST", "/cadres", summary="Register or update a cadre", body=s.CadreIn,
              response=s.CommandOut, roles=REGISTRARS)
    def register_cadre(self, call: Call) -> Any:
        return h.register_cadre(self.aggregates, call.meta, call.payload, call.if_match).to_json()

    @endpoint(ROUTES, "POST", "/cadres/bulk", summary="Register or update many cadres", body=s.CadreBulkIn,
              response=s.CadreBulkOut, roles=REGISTRARS, if_match=False)
    def register_cadres(self, call: Call) -> Any:
        results = h.register_cadres(self.aggregates, call.meta, call.payload["cadres"])
        return {"results": results, "changed": sum(1 for r in results if r["events"] and not r["replayed"])}

    @endpoint(ROUTES, "GET", "/cadres", summary="List cadres", query=s.ListQuery, response=s.CadrePageOut)
    def list_cadres(self, call: Call) -> Any:
        hosts = self._hosts(call)
        page, total = h.versioned_cadre_page(
            self.aggregates, call.payload["offset"], call.payload["limit"],
            lambda c: may_read(call.actor, home_unit=c.home_unit, host_units=hosts.get(c.cadre_id, ())),
            call.payload["as_of"])
        return page_body([h.cadre_view(c, version) for version, c in page], total, call.payload)

    @endpoint(ROUTES, "POST", "/cadres/import", summary="Import cadres from a CSV file, all rows or none",
              body=s.CadreCsvIn, response=s.CsvImportOut, roles=REGISTRARS, text_body=("text/csv", "csv"), if_match=False)
    def import_cadres(self, call: Call) -> Any:
        rows = csvio.parse_cadres(call.payload["csv"])
        return csvio.import_cadres(self.aggregates, call.meta, rows, call.payload.get("reason"))

    @endpoint(ROUTES, "GET", "/cadres/export.csv", summary="Export the cadre register as CSV", query=s.AsOfQuery,
              roles=EXPORTERS)
    def export_cadres(self, call: Call) -> Any:
        return csvio.csv_response("cadres", csvio.cadres_csv(h.all_cadres(self.aggregates, call.payload["as_of"])))

    @endpoint(ROUTES, "GET", "/cadres/{cadre_id}", summary="One cadre", query=s.AsOfQuery, response=s.CadreOut)
    def get_cadre(self, call: Call, cadre_id: str) -> Any:
        events = self.aggregates.history(h.cadre_stream(cadre_id), until=call.payload["as_of"])
        cadre = d.fold_cadre(events)
        if cadre is None:
            raise NotFoundError("cadre_not_found", f"no cadre {cadre_id!r} is registered")
        require_read(call.actor, f"cadre {cadre_id}", home_unit=cadre.home_unit,
                     host_units=self._hosts(call, cadre_id).get(cadre_id, ()))
        return h.cadre_view(cadre, len(events))

    @endpoint(ROUTES, "POST", "/cadres/{cadre_id}/reserve-pool", summary="Add a cadre to the reserve pool",
              body=s.ReasonIn, response=s.CommandOut, roles=OD)
    def add_to_reserve_pool(self, call: Call, cadre_id: str) -> Any:
        return h.change_reserve_pool(self.aggregates, call.meta, cadre_id, call.payload["reason"], True, call.if_match).to_json()

    @endpoint(ROUTES, "POST", "/cadres/{cadre_id}/reserve-pool/removal", summary="Remove a cadre from the reserve pool",
              body=s.ReasonIn, response=s.CommandOut, roles=OD)
    def remove_from_reserve_pool(self, call: Call, cadre_id: str) -> Any:
        return h.change_reserve_pool(self.aggregates, call.meta, cadre_id, call.payload["reason"], False, call.if_match).to_json()

    @endpoint(ROUTES, "POST", "/cadres/{cadre_id}/retention", summary="Require a cadre's records to be kept by law",
              body=s.ReasonIn, response=s.CommandOut, roles=OD)
    def require_retention(self, call: Call, cadre_id: str) -> Any:
        return h.require_retention(self.aggregates, call.meta, cadre_id, call.payload["reason"], call.if_match).to_json()

    @endpoint(ROUTES, "POST", "/cadres/{cadre_id}/erasure", summary="Erase a cadre's personal data",
              body=s.ReasonIn, response=s.CommandOut, roles=OD)
    def erase_personal_data(self, call: Call, cadre_id: str) -> Any:
        return h.erase_personal_data(self.aggregates, call.meta, cadre_id, call.payload["reason"],
                                     call.if_match).to_json()

    @endpoint(ROUTES, "POST", "/policies", summary="Adopt an eligibility policy version", body=s.PolicyIn,
              response=s.CommandOut, roles=OD, status=201)
    def adopt_policy(self, call: Call) -> Any:
        return h.adopt_policy(self.aggregates, call.meta, call.payload, call.if_match).to_json()

    @endpoint(ROUTES, "GET", "/policies", summary="Every eligibility policy version (资格政策), in adoption order",
              query=s.ListQuery, response=s.PolicyPageOut)
    def list_policies(self, call: Call) -> Any:
        q = call.payload
        views = h.policy_views(self.aggregates, q["as_of"])
        return page_body([s.PolicyOut().dump(v) for v in views[q["offset"]:q["offset"] + q["limit"]]], len(views), q)

    @endpoint(ROUTES, "POST", "/nominations", summary="Recommend a cadre for a placement", body=s.NominationIn,
              response=s.CommandOut, roles=("sending_unit",), status=201, if_match=False)
    def recommend(self, call: Call) -> Any:
        return h.recommend(self.aggregates, call.meta, call.payload).to_json()

    @endpoint(ROUTES, "GET", "/nominations", summary="List nominations", query=s.ListQuery,
              response=s.NominationPageOut)
    def list_nominations(self, call: Call) -> Any:
        page, total = h.versioned_nomination_page(
            self.aggregates, call.payload["offset"], call.payload["limit"],
            lambda units: may_read(call.actor, home_unit=units["sending_unit"], host_unit=units["host_unit"]),
            call.payload["as_of"])
        return page_body([h.nomination_view(n, version) for version, n in page], total, call.payload)

    @endpoint(ROUTES, "GET", "/nominations/export.csv", summary="Export the nominations as CSV", query=s.AsOfQuery,
              roles=EXPORTERS)
    def export_nominations(self, call: Call) -> Any:
        nominations = h.all_nominations(self.aggregates, call.payload["as_of"])
        return csvio.csv_response("nominations", csvio.nominations_csv(nominations))

    @endpoint(ROUTES, "GET", "/nominations/{nomination_id}", summary="One nomination", query=s.AsOfQuery,
              response=s.NominationOut)
    def get_nomination(self, call: Call, nomination_id: str) -> Any:
        events = self.aggregates.history(h.nomination_stream(nomination_id), until=call.payload["as_of"])
        nomination = d.fold_nomination(events)
        if nomination is None:
            raise NotFoundError("nomination_not_found", f"no nomination {nomination_id!r}")
        require_read(call.actor, f"nomination {nomination_id}", home_unit=nomination.sending_unit,
                     host_unit=nomination.host_unit)
        return h.nomination_view(nomination, len(events))

    @endpoint(ROUTES, "POST", "/nominations/{nomination_id}/inspection", summary="Record the inspection",
              body=s.InspectionIn, response=s.CommandOut, roles=OD)
    def inspect(self, call: Call, nomination_id: str) -> Any:
        return h.nomination_step(self.aggregates, call.meta, nomination_id, "inspect", call.payload, call.if_match).to_json()

    @endpoint(ROUTES, "POST", "/nominations/{nomination_id}/decision", summary="Record the party committee's decision",
              body=s.DecisionIn, response=s.CommandOut, roles=("party_committee",))
    def decide(self, call: Call, nomination_id: str) -> Any:
        return h.nomination_step(self.aggregates, call.meta, nomination_id, "decide", call.payload, call.if_match).to_json()

    @endpoint(ROUTES, "POST", "/nominations/{nomination_id}/withdrawal", summary="Withdraw a nomination",
              body=s.ReasonIn, response=s.CommandOut, roles=("sending_unit", "organisation_department"))
    def withdraw(self, call: Call, nomination_id: str) -> Any:
        return h.nomination_step(self.aggregates, call.meta, nomination_id, "withdraw", call.payload, call.if_match).to_json()

    @endpoint(ROUTES, "POST", "/nominations/{nomination_id}/eligibility-override",
              summary="Override a failed eligibility criterion, with reasons", body=s.ReasonIn, response=s.CommandOut,
              roles=OD)
    def override(self, call: Call, nomination_id: str) -> Any:
        return h.nomination_step(self.aggregates, call.meta, nomination_id, "override", call.payload, call.if_match).to_json()

    @endpoint(ROUTES, "POST", "/units", summary="Register or rename a unit", body=s.UnitIn,
              response=s.CommandOut, roles=REGISTRARS)
    def register_unit(self, call: Call) -> Any:
        return h.register_unit(self.aggregates, call.meta, call.payload["unit_id"], call.payload["name"],
                               call.if_match).to_json()

    @endpoint(ROUTES, "GET", "/units", summary="List units with their names", query=s.ListQuery, response=s.UnitPageOut)
    def list_units(self, call: Call) -> Any:
        page, total = h.versioned_unit_page(self.aggregates, call.payload["offset"], call.payload["limit"],
                                            call.payload["as_of"])
        return page_body([h.unit_view(u, version) for version, u in page], total, call.payload)

    @endpoint(ROUTES, "GET", "/units/{unit_id}", summary="One unit's name", query=s.AsOfQuery, response=s.UnitOut)
    def get_unit(self, call: Call, unit_id: str) -> Any:
        events = self.aggregates.history(h.unit_stream(unit_id), until=call.payload["as_of"])
        unit = d.fold_unit(events)
        if unit is None:
            raise NotFoundError("unit_not_found", f"no unit {unit_id!r} is registered")
        return h.unit_view(unit, len(events))

    @rpc
    def get_cadre_rank(self, cadre_id: str) -> str | None:
        """The cadre's current rank code, or None if unknown."""
        cadre = d.fold_cadre(self.aggregates.history(h.cadre_stream(cadre_id)))
        return cadre.rank if cadre else None

    @subscribe("assessment", topic=ASSESSMENT_FINALISED)
    def on_assessment_event(self, body: dict[str, Any]) -> None:
        """Records finalised assessments on the cadre, exactly once, in assessment's feed order (idempotent consumer)."""
        self.consumer.receive("assessment", body)

    @every("CATCH_UP_SECONDS", 10.0)
    def catch_up(self) -> None:
        """Reads assessment's feed for anything the broker did not deliver."""
        try:
            self.consumer.catch_up("assessment")
        except Exception as exc:  # noqa: BLE001  (assessment may not be running yet; the next tick retries)
            log.warning("catch-up from assessment failed: %s", exc)

