"""RFC 9457 problem details: the one shape of every refusal and error the HTTP edge answers with."""
from __future__ import annotations

import json
import logging
import uuid
from itertools import groupby
from typing import Any

import marshmallow
import psycopg
import psycopg_pool
from werkzeug.wrappers import Response

from services.backbone.auth import AuthenticationError
from services.backbone.commands import PreconditionFailedError
from services.backbone.domain import DomainError
from services.backbone.errors import ConcurrencyConflictError, IdempotencyMismatchError
from services.backbone.refusals import dotted, invalid_fields, leaves
from services.backbone.vault import PersonErasedError

log = logging.getLogger("services.backbone.http")


class Problem(Exception):
    """An RFC 9457 problem: status, title, detail naming the rule, optional per-field errors."""

    def __init__(self, status: int, title: str, detail: str, **extra: Any) -> None:
        super().__init__(detail)
        self.status, self.title, self.detail, self.extra = status, title, detail, extra

    def response(self, instance: str = "", headers: dict[str, str] | None = None) -> Response:
        body = {"type": f"about:blank#{self.extra.get('rule', self.status)}", "title": self.title,
                "status": self.status, "detail": self.detail, "instance": instance, **self.extra}
        return Response(json.dumps(body, ensure_ascii=False, default=str), status=self.status,
                        mimetype="application/problem+json", headers=headers)


def problem_for(exc: Exception) -> Problem:
    """The problem-details answer for any exception a handler raised."""
    if isinstance(exc, Problem):
        return exc
    if isinstance(exc, AuthenticationError):
        return Problem(401, "Authentication required", str(exc), rule="authentication")
    if isinstance(exc, marshmallow.ValidationError):
        return validation_problem(exc.messages)
    if isinstance(exc, DomainError):
        return Problem(exc.status, exc.title, exc.message, rule=exc.rule, **_plain(exc.details))
    if isinstance(exc, ConcurrencyConflictError):
        return Problem(409, "Conflicting change", str(exc), rule="concurrent_change")
    if isinstance(exc, PreconditionFailedError):
        return Problem(412, "Version mismatch", str(exc), rule="if_match")
    if isinstance(exc, IdempotencyMismatchError):
        return Problem(422, "Idempotency-Key reused", str(exc), rule="idempotency_key")
    if isinstance(exc, PersonErasedError):
        return Problem(409, "Personal data erased", str(exc), rule="personal_data_erased")
    if isinstance(exc, (psycopg.OperationalError, psycopg_pool.PoolTimeout)):
        return Problem(503, "Service unavailable", "the database is not reachable just now; retry shortly",
                       rule="unavailable")
    reference = uuid.uuid4().hex[:12]
    log.exception("unhandled error, reference %s", reference)
    return Problem(500, "Internal error", f"an unexpected error occurred; quote reference {reference}", rule="internal")


def validation_problem(messages: Any, invalid: list[dict[str, str]] | None = None) -> Problem:
    """422 `validation`: marshmallow's messages as `errors` and in `detail`, and `invalid_fields`, each refused field
    with its rule code: `invalid` as the edge gave it (it knew the schema and the data), else read off the messages."""
    messages = messages if isinstance(messages, dict) else {"_schema": messages}
    by_field = groupby(leaves(messages), key=lambda leaf: dotted(leaf[0]))
    parts = [f"{name}: {'; '.join(message for _, message in group)}" for name, group in by_field]
    return Problem(422, "Invalid request", "; ".join(parts), rule="validation", errors=messages,
                   invalid_fields=invalid if invalid is not None else invalid_fields(None, None, messages))


def _plain(details: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in details.items() if k not in {"type", "title", "status", "detail", "instance"}}
