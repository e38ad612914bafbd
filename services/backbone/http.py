"""The HTTP edge every service shares: authentication, body parsing through marshmallow, RFC 9457
problem details for every refusal, Idempotency-Key and If-Match, and the route table for OpenAPI.
"""
from __future__ import annotations

import functools
import hashlib
import json
import logging
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import marshmallow
from werkzeug.wrappers import Request, Response

from services.backbone.auth import authenticate, load_tokens
from services.backbone.commands import RESERVED_KEY_PREFIXES, CommandMeta, utcnow
from services.backbone.domain import Actor, Context
from services.backbone.logs import correlation_id
from services.backbone.metrics import HTTP_REQUESTS
from services.backbone.problems import Problem, problem_for, validation_problem
from services.backbone.refusals import UNKNOWN_FIELD, UNSTORABLE_TEXT, dotted, invalid_fields, refused, unstorable_text_at
from services.backbone.web import http

__all__ = ["Call", "Problem", "Route", "RouteTable", "endpoint", "http", "json_response", "problem_for", "reload_tokens"]

log = logging.getLogger(__name__)
MAX_BODY_BYTES = 1_000_000


@dataclass
class Route:
    method: str
    path: str
    summary: str
    body: type[marshmallow.Schema] | None
    response: type[marshmallow.Schema] | None
    roles: tuple[str, ...] | None
    status: int
    query: type[marshmallow.Schema] | None
    public: bool
    text_body: tuple[str, str] | None = None  # (media type, body field): e.g. ("text/csv", "csv")
    # Does the command take If-Match? Not when it has no one aggregate version to name (creates one, changes many).
    if_match: bool = True


@dataclass
class Call:
    """What a handler gets: the caller, the parsed body or query, and the command's metadata."""

    actor: Actor
    payload: dict[str, Any]
    meta: CommandMeta
    if_match: int | None
    request: Request


@dataclass
class RouteTable:
    service: str
    routes: list[Route] = field(default_factory=list)


def json_response(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(json.dumps(body, ensure_ascii=False, default=str), status=status,
                    mimetype="application/json", headers=headers)


_TOKENS: dict[str, Actor] | None = None


def _tokens() -> dict[str, Actor]:
    return _TOKENS if _TOKENS is not None else reload_tokens()


def reload_tokens() -> dict[str, Actor]:
    """Read the operators' token file now (a service calls this on start, so a bad file stops it early)."""
    global _TOKENS
    _TOKENS = load_tokens()
    return _TOKENS


def endpoint(
    table: RouteTable, method: str, path: str, *, summary: str,
    body: type[marshmallow.Schema] | None = None, response: type[marshmallow.Schema] | None = None,
    query: type[marshmallow.Schema] | None = None, roles: tuple[str, ...] | None = None,
    status: int = 200, public: bool = False, text_body: tuple[str, str] | None = None, if_match: bool = True,
) -> Callable[[Callable[..., Any]], Any]:
    """Declare an HTTP entrypoint: nameko `@http` plus auth, parsing, problem details and OpenAPI.

    `text_body=("text/csv", "csv")` also accepts a body of that media type, handed to the body schema
    as `{"csv": <the text>}` (JSON stays accepted as well). `if_match=False`: a command with no one aggregate
    version to name (it creates one, changes many, or resolves a parked message), which refuses an If-Match
    (400) rather than ignore it; the others must
    pass `call.if_match` on to the command (tests/unit/test_if_match_routes.py holds them to it).
    """
    route = Route(method, f"/{table.service}{path}", summary, body, response, roles, status, query, public, text_body,
                  if_match and body is not None)
    table.routes.append(route)

    def decorate(fn: Callable[..., Any]) -> Any:
        @functools.wraps(fn)
        def handler(self: Any, request: Request, **params: Any) -> Response:
            began = time.perf_counter()
            try:
                call = _prepare(route, request, table.service)
                _refuse_odd_path(params)
                result = fn(self, call, **params)
                response = result if isinstance(result, Response) else json_response(result, route.status)
            except Exception as exc:  # noqa: BLE001  (every failure becomes a problem, never a stack trace)
                response = problem_for(exc).response(request.path)
            elapsed = time.perf_counter() - began
            HTTP_REQUESTS.labels(table.service, method, route.path, str(response.status_code)).observe(elapsed)
            if not route.public:
                log.info("%s %s -> %s", method, route.path, response.status_code,
                         extra={"service": table.service, "status": response.status_code, "ms": round(elapsed * 1000, 1)})
            correlation_id.set(None)
            return response

        return http(method, route.path.replace("{", "<").replace("}", ">"))(handler)

    return decorate


def _prepare(route: Route, request: Request, service: str) -> Call:
    actor = Actor("anonymous", "anonymous") if route.public else authenticate(request.headers.get("Authorization"), _tokens())
    if route.roles is not None and actor.role not in route.roles:
        raise Problem(403, "Not allowed for this role",
                      f"role {actor.role!r} may not use {route.method} {route.path} ({route.summary[0].lower()}"
                      f"{route.summary[1:]}); allowed: {', '.join(route.roles)}", rule="role_not_allowed")
    if not route.if_match and route.body is not None and "If-Match" in request.headers:
        raise Problem(400, "If-Match does not apply",
                      f"{route.method} {route.path} ({route.summary[0].lower()}{route.summary[1:]}) has no one aggregate"
                      " version for If-Match to name (it creates one, changes many, or resolves a parked message)."
                      " Send it without If-Match; an Idempotency-Key makes a retry safe", rule="if_match_not_applicable")
    payload, sent = _parse_body(route, request) if route.body else (_parse_query(route, request), None)
    command_id = request.headers.get("Idempotency-Key") or str(uuid.uuid4())
    if len(command_id) > 200:
        raise Problem(400, "Invalid Idempotency-Key", "the Idempotency-Key header is longer than 200 characters",
                      rule="idempotency_key")
    if command_id.startswith(RESERVED_KEY_PREFIXES):
        # the services' own commands (a consumed event, the overdue scan) have ids of these forms: a client's key
        # of the same form would take their event ids and make them fail
        raise Problem(400, "Invalid Idempotency-Key", f"an Idempotency-Key may not begin with"
                      f" {' or '.join(repr(p) for p in RESERVED_KEY_PREFIXES)}: the services' own commands use those",
                      rule="idempotency_key")
    correlation = request.headers.get("X-Correlation-Id") or command_id
    # Public (anonymous) routes, such as casting a ballot, are never tied to a client-chosen id in the logs.
    correlation_id.set(None if route.public else correlation)
    reason = payload.get("reason") if isinstance(payload.get("reason"), str) else None
    # The request as sent, not as read: a later version's defaults for fields left out must not make a
    # retry of the same request look like another one.
    request_hash = hashlib.sha256(
        f"{request.method} {request.path} {json.dumps(sent, sort_keys=True)}".encode()).hexdigest()
    meta = CommandMeta(Context(actor, utcnow(), reason), command_id, correlation, service, request_hash=request_hash)
    return Call(actor, payload, meta, _if_match(request), request)


def _parse_body(route: Route, request: Request) -> tuple[dict[str, Any], dict[str, Any]]:
    """The body as read through the route's schema, and as sent (JSON, or the text of a text body)."""
    if request.content_length and request.content_length > MAX_BODY_BYTES:
        raise Problem(413, "Body too large", f"the body is larger than {MAX_BODY_BYTES} bytes", rule="body_too_large")
    as_text = route.text_body is not None and request.mimetype == route.text_body[0]
    if request.mimetype != "application/json" and not as_text:
        also = f" or {route.text_body[0]}" if route.text_body else ""
        raise Problem(415, "Unsupported media type", f"send the body as application/json{also}", rule="content_type")
    if "chunked" in request.headers.get("Transfer-Encoding", "").lower():
        # eventlet decodes chunked bodies but does not say the stream ends; werkzeug then reads nothing.
        request.environ["wsgi.input_terminated"] = True
    raw = request.stream.read(MAX_BODY_BYTES + 1) if request.content_length is None else request.get_data(cache=False)
    if len(raw) > MAX_BODY_BYTES:
        raise Problem(413, "Body too large", f"the body is larger than {MAX_BODY_BYTES} bytes", rule="body_too_large")
    if as_text:
        assert route.body is not None and route.text_body is not None
        text = _text(raw, request.mimetype_params.get("charset", "utf-8"))
        _refuse_unstorable_text(text, route.text_body[1])
        sent = {route.text_body[1]: text}
        return _load(route.body, sent), sent
    if not raw.strip():
        raise Problem(400, "Malformed JSON", "the body is empty: send a JSON object", rule="malformed_json")
    try:
        data = json.loads(raw)
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:
        detail = "it is nested too deeply" if isinstance(exc, RecursionError) else str(exc)
        raise Problem(400, "Malformed JSON", f"the body is not valid JSON: {detail}", rule="malformed_json") from None
    if not isinstance(data, dict):
        kind = "null" if data is None else "true or false" if isinstance(data, bool) else "an array" if isinstance(
            data, list) else "a string" if isinstance(data, str) else "a number"
        message = f"must be a JSON object ({{...}}), not {kind}"
        raise validation_problem({"_body": [message]}, [refused("_body", "type", message)])
    _refuse_unstorable_text(data)
    assert route.body is not None
    return _load(route.body, data), data


def _load(cls: type[marshmallow.Schema], data: dict[str, Any]) -> dict[str, Any]:
    """`data` read through the schema; a 422 problem naming each refused field's rule if it does not fit."""
    schema = _schema(cls)
    try:
        return schema.load(data)  # type: ignore[no-any-return]
    except marshmallow.ValidationError as exc:
        raise validation_problem(exc.messages, invalid_fields(schema, data, exc.messages)) from None


@functools.cache
def _schema(cls: type[marshmallow.Schema]) -> marshmallow.Schema:
    """One instance per schema class: building one deep-copies every declared field (about a millisecond),
    and a marshmallow schema keeps no state between loads, so requests can share it."""
    return cls()


def _refuse_unstorable_text(value: Any, *within: str) -> None:
    """Refuse text PostgreSQL cannot store (NUL) or UTF-8 cannot encode (lone surrogates), naming the field."""
    path = unstorable_text_at(value, within)
    if path is not None:
        # `errors` names an item of a list as it always has (`tasks[0]`); `invalid_fields` dots it like the rest.
        written = "".join(f"[{key}]" if isinstance(key, int) else f".{key}" for key in path).removeprefix(".")
        raise validation_problem({written or "_body": [UNSTORABLE_TEXT]},
                                 [refused(dotted(path) if path else "_body", "unstorable_text", UNSTORABLE_TEXT)])


def _text(raw: bytes, charset: str) -> str:
    try:
        return raw.decode(charset)
    except (LookupError, UnicodeDecodeError) as exc:
        raise Problem(400, "Malformed text", f"the body is not valid {charset} text: {exc}", rule="malformed_text") from None


def _parse_query(route: Route, request: Request) -> dict[str, Any]:
    if route.query is None:  # a route that takes no parameter refuses one, as the others refuse an unknown one
        if request.args:
            raise marshmallow.ValidationError({name: [UNKNOWN_FIELD] for name in request.args})
        return {}
    args = request.args.to_dict()
    _refuse_unstorable_text(args)
    return _load(route.query, args)


def _refuse_odd_path(params: dict[str, Any]) -> None:
    """No identifier holds a control character (NUL cannot even be looked up): such a path names nothing."""
    for name, value in params.items():
        if isinstance(value, str) and any(ch < " " or ch == "\x7f" or "\ud800" <= ch <= "\udfff" for ch in value):
            raise Problem(404, "Not found", f"no such {name}: {name} contains a control character", rule="not_found")


def _if_match(request: Request) -> int | None:
    raw = request.headers.get("If-Match")
    if raw is None:
        return None
    try:
        return int(raw.strip().strip('"').removeprefix("W/").strip('"'))
    except ValueError:
        raise Problem(400, "Invalid If-Match", "If-Match must be the version number the client saw, e.g. \"3\"",
                      rule="if_match") from None
