"""The reporting service: read models projected from the events of selection, posting and assessment,
queried over HTTP under /reporting (as of any moment, paged, filtered, CSV), and a dashboard.

It reads other services only through their events (every type, routing key `#`) and feeds.
"""
from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import psycopg
from nameko.timer import timer
from werkzeug.wrappers import Request, Response

from services.backbone.consumer import BatchHandler
from services.backbone.domain import NotFoundError
from services.backbone.edge import edge_endpoints
from services.backbone.envelope import RecordedEvent
from services.backbone.http import Call, RouteTable, endpoint, http
from services.backbone.parking import erase_parked
from services.backbone.providers import ConsumerProvider, EventStoreProvider
from services.backbone.store import EventStore
from services.backbone.subscribe import subscribe
from services.backbone.vault import ERASURE_EVENT
from services.reporting import gates, labels, summaries, views
from services.reporting import responses as out
from services.reporting import schemas as s
from services.reporting.dashboard import asset
from services.reporting.feeds import from_recorded
from services.reporting.model import SOURCES
from services.reporting.output import page_limit, respond, shown
from services.reporting.projections import PERSONAL, PERSONAL_EARLIER, UNDERSTOOD
from services.reporting.queries import Reader, View
from services.reporting.readmodel import ReadModels
from services.reporting.status import consumer_status

log = logging.getLogger(__name__)
ROUTES = RouteTable("reporting")
READERS = ("organisation_department", "party_committee", "auditor", "integration", "operator")
_READ_MODELS: dict[str, ReadModels] = {}
_LAST_DELIVERY = dict.fromkeys(SOURCES, 0.0)
CATCH_UP_SECONDS = 10


def apply_events_from(source: str) -> BatchHandler:
    """The consumer's handler for one source: project a batch of its events in the consumer's transaction.

    Returns the events that could not be projected (left out, unchanged); the consumer parks them.
    """
    def apply(conn: psycopg.Connection, events: Sequence[RecordedEvent],
              store: EventStore) -> list[tuple[RecordedEvent, Exception]]:
        models = _READ_MODELS.get(store.schema) or _READ_MODELS.setdefault(store.schema, ReadModels(store.schema))
        by_id = {str(event.event_id): event for event in events}
        failed = models.apply(conn, [from_recorded(source, event) for event in events])
        failed_ids = {projected.event_id for projected, _ in failed}
        if erased := [e.data["cadre_id"] for e in events if e.type == ERASURE_EVENT and str(e.event_id) not in failed_ids]:
            erase_parked(conn, store.schema, erased, models.streams_of(conn, erased), PERSONAL, PERSONAL_EARLIER)
        return [(by_id[projected.event_id], exc) for projected, exc in failed]
    return apply


class ReportingService(edge_endpoints(ROUTES)):  # type: ignore[misc]
    name = "reporting"
    store: EventStore = EventStoreProvider()  # nameko gives each worker the provider's EventStore
    consumer = ConsumerProvider({}, batch_handlers={source: apply_events_from(source) for source in SOURCES},
                                versions={s: {t: v for t, v in UNDERSTOOD.items() if t.startswith(f"{s}.")} for s in SOURCES})

    @property
    def reader(self) -> Reader:
        return Reader(self.store.pool, self.store.schema)

    def _table(self, call: Call, view: View, status: dict[str, str] | None = None,
               tables: dict[str, dict[str, str]] = labels.COLUMN_LABELS, **fixed: Any) -> Response:
        query = {**call.payload, **fixed}
        limit = page_limit(query)
        rows, total = self.reader.page(view, query, limit, query.get("offset", 0))
        return respond(query, view.name, shown(rows, status, self._labels(query, tables)), total=total, limit=limit,
                       offset=query.get("offset", 0))

    def _labels(self, query: dict[str, Any],
                tables: dict[str, dict[str, str]] = labels.COLUMN_LABELS) -> dict[str, dict[str, str]]:
        """The label tables of one request: the codes', and every unit's name as of the moment asked (one query)."""
        names = self.reader.rows(views.UNIT_NAMES, {"as_of": query.get("as_of")})
        return labels.with_unit_names(tables, {row["unit_id"]: row["name"] for row in names})

    @endpoint(ROUTES, "GET", "/cadres", summary="List the cadres (干部) known from selection", query=s.CadreQuery,
              roles=READERS, response=out.CadrePageOut)
    def list_cadres(self, call: Call) -> Response:
        return self._table(call, views.CADRES)

    @endpoint(ROUTES, "GET", "/units", summary="List the units (单位) and their names, as registered in selection",
              query=s.UnitQuery, roles=READERS, response=out.UnitPageOut)
    def list_units(self, call: Call) -> Response:
        return self._table(call, views.UNITS)

    @endpoint(ROUTES, "GET", "/cadres/{cadre_id}/dossier", summary="Read a cadre's dossier: everything that happened, in order",
              query=s.DossierQuery, roles=READERS, response=out.DossierOut)
    def dossier(self, call: Call, cadre_id: str) -> Response:
        q = {**call.payload, "cadre_id": cadre_id, "offset": 0}
        cadre = self.reader.page(views.CADRES, q, 1, 0)[0]
        timeline = self.reader.page(views.TIMELINE, q, 100_000, 0, order="v.recorded_at, v.event_id")[0]
        if not cadre and not timeline:
            raise NotFoundError("cadre_not_found", f"nothing is known of cadre {cadre_id!r} as of {q['as_of'] or 'now'}")
        tables = self._labels(q)
        events = shown(timeline, tables=tables)
        return respond(q, f"dossier-{cadre_id}", events, cadre=(shown(cadre, tables=tables)[0] if cadre else None),
                       nominations=shown(self.reader.page(views.NOMINATIONS, q, 1000, 0)[0], labels.NOMINATION_STATUS,
                                         tables),
                       placements=shown(self.reader.page(views.PLACEMENTS, q, 1000, 0)[0], labels.PLACEMENT_STATUS,
                                        tables),
                       assessments=shown(self.reader.page(views.ASSESSMENTS, q, 1000, 0)[0], labels.ASSESSMENT_STATUS,
                                         tables),
                       total=len(events))

    @endpoint(ROUTES, "GET", "/nominations", summary="List nominations and the step each waits at", query=s.NominationQuery,
              roles=READERS, response=out.NominationPageOut)
    def list_nominations(self, call: Call) -> Response:
        return self._table(call, views.NOMINATIONS, labels.NOMINATION_STATUS)

    @endpoint(ROUTES, "GET", "/placements", summary="Read the placement register (挂职登记)", query=s.PlacementQuery,
              roles=READERS, response=out.PlacementPageOut)
    def list_placements(self, call: Call) -> Response:
        return self._table(call, views.PLACEMENTS, labels.PLACEMENT_STATUS)

    @endpoint(ROUTES, "GET", "/placements/summary", summary="Count placements by type, unit, status or year",
              query=s.PlacementSummaryQuery, roles=READERS, response=out.PlacementSummaryOut)
    def placement_summary(self, call: Call) -> Response:
        by = call.payload["by"].split(",")
        rows = summaries.placement_counts(self.reader, call.payload, by)
        return respond(call.payload, "placements-summary", shown(rows, labels.PLACEMENT_STATUS, self._labels(call.payload)),
                       by=by)

    @endpoint(ROUTES, "GET", "/placements/plan", summary="Compare the plan with actual placements, per year and type",
              query=s.YearQuery, roles=READERS, response=out.PlanOut)
    def plan(self, call: Call) -> Response:
        return respond(call.payload, "plan-vs-actual", shown(summaries.plan_vs_actual(self.reader, call.payload)))

    @endpoint(ROUTES, "GET", "/compliance", summary="See the four gates at a glance", query=s.GatesQuery,
              roles=READERS, response=out.GatesOut)
    def four_gates(self, call: Call) -> Any:
        q = call.payload
        at = q["as_of"] or datetime.now(UTC)
        result = gates.four_gates(self.reader, {**q, "year": q["year"] or at.year})
        return {**result, "as_of": q["as_of"].isoformat() if q["as_of"] else None, "at": at.isoformat()}

    @endpoint(ROUTES, "GET", "/compliance/stuck-nominations", summary="List nominations waiting at a step too long",
              query=s.StuckQuery, roles=READERS, response=out.NominationPageOut)
    def stuck_nominations(self, call: Call) -> Response:
        return self._table(call, views.STUCK_NOMINATIONS, labels.NOMINATION_STATUS)

    @endpoint(ROUTES, "GET", "/compliance/unsigned-agreements", summary="List placements without a fully signed agreement",
              query=s.PlacementQuery, roles=READERS, response=out.PlacementPageOut)
    def unsigned_agreements(self, call: Call) -> Response:
        return self._table(call, views.UNSIGNED_AGREEMENTS, labels.PLACEMENT_STATUS)

    @endpoint(ROUTES, "GET", "/compliance/overdue-check-ins", summary="List running placements with an open overdue alert",
              query=s.PlacementQuery, roles=READERS, response=out.PlacementPageOut)
    def overdue_check_ins(self, call: Call) -> Response:
        return self._table(call, views.OVERDUE_CHECK_INS, labels.PLACEMENT_STATUS)

    @endpoint(ROUTES, "GET", "/compliance/missing-assessments", summary="List running placements without this year's assessment",
              query=s.MissingQuery, roles=READERS, response=out.MissingAssessmentPageOut)
    def missing_assessments(self, call: Call) -> Response:
        year = call.payload["year"] or (call.payload["as_of"] or datetime.now(UTC)).year
        return self._table(call, views.MISSING_ASSESSMENTS, labels.PLACEMENT_STATUS, year=year)

    @endpoint(ROUTES, "GET", "/compliance/gap-filling", summary="Check that gap-filling (补短型) is the main type, as planned",
              query=s.YearQuery, roles=READERS, response=out.GapFillingOut)
    def gap_filling(self, call: Call) -> Response:
        rows = summaries.gap_filling_check(summaries.plan_vs_actual(self.reader, call.payload))
        return respond(call.payload, "gap-filling", shown(rows))

    @endpoint(ROUTES, "GET", "/assessments", summary="List the assessment results of seconded cadres", query=s.AssessmentQuery,
              roles=READERS, response=out.AssessmentPageOut)
    def list_assessments(self, call: Call) -> Response:
        return self._table(call, views.ASSESSMENTS, labels.ASSESSMENT_STATUS)

    @endpoint(ROUTES, "GET", "/assessments/grades",
              summary="Count grades by unit and year (rater groups below the minimum count withheld)",
              query=s.GradeQuery, roles=READERS, response=out.GradesOut)
    def grades(self, call: Call) -> Response:
        rows = summaries.grade_distribution(self.reader, call.payload, call.payload["by"])
        return respond(call.payload, "grade-distribution", shown(rows, tables=self._labels(call.payload)),
                       by=call.payload["by"])

    @endpoint(ROUTES, "GET", "/teams", summary="List leadership-team assessment results", query=s.TeamQuery,
              roles=READERS, response=out.TeamPageOut)
    def list_teams(self, call: Call) -> Response:
        return self._table(call, views.TEAMS, tables=labels.TEAM_COLUMN_LABELS)

    @endpoint(ROUTES, "GET", "/teams/grades", summary="Count team grades per year", query=s.YearQuery,
              roles=READERS, response=out.TeamGradesOut)
    def team_grades(self, call: Call) -> Response:
        return respond(call.payload, "team-grades", shown(summaries.team_grades(self.reader, call.payload)))

    @endpoint(ROUTES, "GET", "/timeline", summary="Read the audit timeline: every event of every service", query=s.TimelineQuery,
              roles=READERS, response=out.TimelinePageOut)
    def timeline(self, call: Call) -> Response:
        q = call.payload
        # a type as written, but for its '*': LIKE's own wildcards and escape character are matched as themselves
        pattern = (q["type"].replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_").replace("*", "%")
                   if q.get("type") else None)
        order = "v.recorded_at, v.event_id" if q["order"] == "asc" else None
        limit = page_limit(q)
        rows, total = self.reader.page(views.TIMELINE, {**q, "type": pattern}, limit, q["offset"], order=order)
        return respond(q, "timeline", shown(rows, tables=self._labels(q)), total=total, limit=limit, offset=q["offset"])

    @endpoint(ROUTES, "GET", "/status", summary="See how far each source's events are applied, and what is parked",
              roles=READERS, response=out.StatusOut)
    def status(self, call: Call) -> Any:
        return consumer_status(self.store.pool, self.store.schema, self.name)

    @http("GET", "/reporting/dashboard")
    def dashboard(self, request: Request) -> Response:
        """The dashboard page (no data in it: its script asks the API, with the token the user gives)."""
        return asset("index.html")

    @http("GET", "/reporting/dashboard/<name>")
    def dashboard_asset(self, request: Request, name: str) -> Response:
        return asset(name)

    @subscribe("selection")
    def on_selection_event(self, body: dict[str, Any]) -> None:
        """Every selection event, applied exactly once in feed order (idempotent consumer)."""
        self._receive("selection", body)

    @subscribe("posting")
    def on_posting_event(self, body: dict[str, Any]) -> None:
        """Every posting event, applied exactly once in feed order (idempotent consumer)."""
        self._receive("posting", body)

    @subscribe("assessment")
    def on_assessment_event(self, body: dict[str, Any]) -> None:
        """Every assessment event, applied exactly once in feed order (idempotent consumer)."""
        self._receive("assessment", body)

    def _receive(self, source: str, body: dict[str, Any]) -> None:
        _LAST_DELIVERY[source] = time.monotonic()
        self.consumer.receive(source, body)

    @timer(interval=CATCH_UP_SECONDS)
    def catch_up(self) -> None:
        """Reads the feed of each source that delivered nothing lately, for anything the broker lost.

        While a source's messages flow, a lost one shows as a gap before the next and is caught up then.
        """
        for source in SOURCES:
            if time.monotonic() - _LAST_DELIVERY[source] < CATCH_UP_SECONDS:
                continue
            try:
                self.consumer.catch_up(source)
            except Exception as exc:  # noqa: BLE001  (a source may be down; the next tick retries)
                log.warning("catch-up from %s failed: %s", source, exc)
