"""Endpoints every service exposes the same way: health, OpenAPI, and the HTTP feed of its events."""
from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

from kombu import Connection
from marshmallow import RAISE, Schema, fields, validate
from nameko.dependency_providers import Config
from nameko.extensions import DependencyProvider
from prometheus_client import CONTENT_TYPE_LATEST
from werkzeug.wrappers import Request, Response

from services.backbone.bulkfeed import cloudevents_after
from services.backbone.config import amqp_uri
from services.backbone.consumer import IdempotentConsumer
from services.backbone.domain import NotFoundError
from services.backbone.envelope import FeedCursor
from services.backbone.http import Call, Problem, RouteTable, endpoint, http, json_response, reload_tokens
from services.backbone.metrics import ServiceState, exposition
from services.backbone.openapi import PATH_PARAMETERS, build_spec
from services.backbone.providers import FeedEndpoints, RpcMetrics
from services.backbone.schemas import Strict

# The generated contract documents (`python -m deploy.catalogue`): the whole API and every event.
DOCS_DIR = Path(os.environ.get("FOURGATES_DOCS_DIR") or Path(__file__).resolve().parents[2] / "docs")


class FeedQuery(Schema):
    class Meta:
        unknown = RAISE

    after = fields.String(load_default="", validate=validate.Regexp(r"^([0-9]{1,18}\.[0-9]{1,18}\.[0-9]{1,18})?$",
                          error="a cursor token era.tx_id.position, as given in `next` or an event's `sequence`"),
                          metadata={"description": "cursor token (era.tx_id.position) of the last event seen"})
    limit = fields.Integer(load_default=200, validate=validate.Range(1, 1000))


class FeedOut(Schema):
    events = fields.List(fields.Dict(), metadata={
        "description": "CloudEvents 1.0 structured events in feed order (docs/asyncapi.json, CloudEvent); each"
                       " names the one before it in `previoussequence`"})
    next = fields.String(metadata={"description": "the cursor to ask `after` next time (unchanged when no event came)"})


class ParkedQuery(Strict):
    include_resolved = fields.Boolean(load_default=False, metadata={"description": "also the replayed and dismissed"})
    limit = fields.Integer(load_default=100, validate=validate.Range(1, 1000))
    offset = fields.Integer(load_default=0, validate=validate.Range(0, 1_000_000_000))


class ParkedItemOut(Schema):
    id = fields.Integer(metadata={"description": "the handle to replay or dismiss it by"})
    source = fields.String(allow_none=True)
    event_id = fields.String(allow_none=True)
    type = fields.String(allow_none=True)
    error = fields.String(metadata={"description": "why it was parked (a traceback when a handler failed)"})
    error_summary = fields.String(metadata={"description": "the error's last line"})
    parked_at = fields.String()
    resolved_at = fields.String(allow_none=True)
    resolution = fields.String(allow_none=True, metadata={"description": "replayed or dismissed; null while open"})
    resolved_by = fields.String(allow_none=True)
    resolution_note = fields.String(allow_none=True)


class ParkedOut(Schema):
    items = fields.List(fields.Nested(ParkedItemOut))
    total = fields.Integer()


class ResolutionOut(Schema):
    id = fields.Integer()
    resolution = fields.String(metadata={"description": "replayed or dismissed"})
    event_id = fields.String(metadata={"description": "replayed only"})
    type = fields.String(metadata={"description": "replayed only"})


class ReplayBody(Strict):
    reason = fields.String(load_default=None, validate=validate.Length(min=1, max=1000),
                           metadata={"description": "why it may apply now (the fix or upgrade), kept with the message"})


class DismissBody(Strict):
    reason = fields.String(required=True, validate=validate.Length(min=1, max=1000),
                           metadata={"description": "why it is closed without being applied"})


class TokensLoader(DependencyProvider):
    """Loads the bearer-token file when the service starts: a missing or invalid file stops the service."""

    def setup(self) -> None:
        reload_tokens()


# The raw feed carries personal fields in clear and every individual entry: only these roles read it.
FEED_ROLES = ("auditor", "integration", "operator", "organisation_department")


def edge_endpoints(table: RouteTable, feed_roles: tuple[str, ...] = FEED_ROLES) -> type:
    """A mixin with /<service>/health, /<service>/live, /<service>/openapi.json and /<service>/feed for one service."""
    service = table.service

    class Edge(FeedEndpoints):
        config = Config()
        tokens = TokensLoader()
        rpc_metrics = RpcMetrics()

        @http("GET", f"/{service}/health")
        def health(self, request: Request) -> Response:
            """200 when the database and the broker answer, 503 otherwise (the startup and readiness probes)."""
            checks = {"database": _check_database(self.store), "broker": _check_broker(amqp_uri(self.config))}
            relay = getattr(self, "relay", None)
            body = {"status": "ok" if all(v == "ok" for v in checks.values()) else "unavailable", "service": service,
                    **checks, "relay_leader": bool(relay and relay.is_leader)}
            return json_response(body, 200 if body["status"] == "ok" else 503)

        @http("GET", f"/{service}/live")
        def live(self, request: Request) -> Response:
            """200 while this process serves HTTP, whatever its dependencies do (the liveness probe: a restart
            brings back neither a database nor a broker, and restarting every replica slows recovery)."""
            return json_response({"status": "alive", "service": service})

        @http("GET", f"/{service}/metrics")
        def metrics(self, request: Request) -> Response:
            """Prometheus metrics of this process, and of the service as its database has them (docs/runbook.md)."""
            return Response(exposition(ServiceState(self.store, service)), mimetype=CONTENT_TYPE_LATEST.split(";")[0])

        @http("GET", f"/{service}/openapi.json")
        def openapi(self, request: Request) -> Response:
            return json_response(build_spec(table, title=f"Four Gates — {service}"))

        @http("GET", "/openapi.json")
        def openapi_combined(self, request: Request) -> Response:
            """The one OpenAPI document of every service (docs/openapi.json, read at each request)."""
            return _document(request, "openapi.json")

        @http("GET", "/asyncapi.json")
        def asyncapi_combined(self, request: Request) -> Response:
            """The AsyncAPI document of every service's events (docs/asyncapi.json)."""
            return _document(request, "asyncapi.json")

        @endpoint(table, "GET", "/feed", summary="Read this service's events after a cursor, as CloudEvents",
                  query=FeedQuery, response=FeedOut, roles=feed_roles)
        def http_feed(self, call: Call) -> dict[str, Any]:
            bodies = cloudevents_after(self.store, FeedCursor.parse(call.payload["after"]), call.payload["limit"])
            return {"events": bodies, "next": bodies[-1]["sequence"] if bodies else call.payload["after"]}

        @endpoint(table, "GET", "/parked", summary="Events and messages this service's consumer parked (could not"
                  " apply), oldest first", query=ParkedQuery, response=ParkedOut, roles=PARKED_READERS)
        def parked(self, call: Call) -> dict[str, Any]:
            items, total = _consumer(self).parked(call.payload["include_resolved"], call.payload["limit"],
                                                  call.payload["offset"])
            return {"items": [_parked_view(item) for item in items], "total": total}

        @endpoint(table, "POST", "/parked/{parked_id}/replay", summary="Apply a parked event again, once its cause"
                  " is fixed; it stays parked (409) if it fails again", body=ReplayBody, response=ResolutionOut,
                  roles=("operator",), if_match=False)
        def replay_parked(self, call: Call, parked_id: str) -> dict[str, Any]:
            return _consumer(self).replay_parked(_parked_id(parked_id), call.actor.principal, call.payload["reason"])

        @endpoint(table, "POST", "/parked/{parked_id}/dismiss", summary="Close a parked message without applying it",
                  body=DismissBody, response=ResolutionOut, roles=("operator",), if_match=False)
        def dismiss_parked(self, call: Call, parked_id: str) -> dict[str, Any]:
            return _consumer(self).dismiss_parked(_parked_id(parked_id), call.actor.principal, call.payload["reason"])

    return Edge


PARKED_READERS = ("operator", "auditor")


def _consumer(service: Any) -> IdempotentConsumer:
    consumer = getattr(service, "consumer", None)
    if not isinstance(consumer, IdempotentConsumer):
        raise NotFoundError("parked.no_consumer", "this service consumes no other service's events")
    return consumer


_PARKED_ID = re.compile(PATH_PARAMETERS["parked_id"]["pattern"])  # the rule the OpenAPI document states


def _parked_id(text: str) -> int:
    if not _PARKED_ID.fullmatch(text):
        raise NotFoundError("parked.unknown", f"no parked message {text!r}: ids are the numbers GET …/parked lists")
    return int(text)


def _parked_view(item: dict[str, Any]) -> dict[str, Any]:
    """A parked message as operators read it: the error's last line up front, times as ISO 8601."""
    error = str(item["error"] or "").strip()
    return {**item, "error": error, "error_summary": error.splitlines()[-1] if error else "",
            "parked_at": item["parked_at"].isoformat(),
            "resolved_at": item["resolved_at"].isoformat() if item["resolved_at"] else None}


def _check_database(store: Any) -> str:
    try:
        with store.transaction() as conn:
            conn.execute("SELECT 1")
        return "ok"
    except Exception as exc:  # noqa: BLE001  (any failure means not ready)
        return f"unavailable: {type(exc).__name__}"


def _check_broker(uri: str) -> str:
    try:
        with Connection(uri, connect_timeout=2) as conn:
            conn.ensure_connection(max_retries=1)
        return "ok"
    except Exception as exc:  # noqa: BLE001
        return f"unavailable: {type(exc).__name__}"


def _document(request: Request, name: str) -> Response:
    path = DOCS_DIR / name
    try:
        text = path.read_text(encoding="utf-8")
    except OSError:
        return Problem(503, "Document not installed", f"{name} is not installed beside this service ({path}); "
                       "ship the generated docs/ directory with the code", rule="document_missing").response(request.path)
    return Response(text, status=200, mimetype="application/json")
