"""Request and response pieces every service's HTTP API shares (marshmallow)."""
from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import date
from typing import Any

from marshmallow import RAISE, Schema, fields, validate

from services.backbone.refusals import NOT_ISO_DATE

ID = validate.Regexp(r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$", error="use 1–64 letters, digits, '_', '.', ':' or '-'")
TEXT = validate.Length(min=1, max=4000)
SHORT = validate.Length(min=1, max=200)
ISO_DAY = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$")
# Dates of the work itself (decisions, terms, check-ins): far-past and far-future dates are typing errors.
WORK_DATE = validate.Range(min=date(1980, 1, 1), max=date(2100, 12, 31),
                           error="must lie between {min} and {max}")
# The year of a plan, an assessment, a campaign (in bodies, queries and paths alike).
YEAR = validate.Range(2000, 2100)


class JsonBoolean(fields.Boolean):
    """JSON's true or false, nothing else: 1, "yes" or "true" in a request body is a typing error, not a decision."""

    def _deserialize(self, value: Any, attr: str | None, data: Mapping[str, Any] | None, **kwargs: Any) -> bool:
        if value is True or value is False:
            return value
        raise self.make_error("invalid", input=value)


def JsonInteger(**kwargs: Any) -> fields.Integer:  # noqa: N802  (a field, named like one)
    """A JSON integer in a request body: 12.5, "12" and true are refused, never rounded or converted."""
    return fields.Integer(strict=True, **kwargs)


class Day(fields.Date):
    """A date in a request, written YYYY-MM-DD: ISO 8601's other forms ("20261127", "2026-W48-5"), which Python
    would read, are refused rather than read, alongside whatever else the request gets wrong."""

    default_error_messages = {"as_written": NOT_ISO_DATE}

    def _deserialize(self, value: Any, attr: str | None, data: Mapping[str, Any] | None, **kwargs: Any) -> date:
        if isinstance(value, str) and not ISO_DAY.match(value):
            raise self.make_error("as_written")
        return super()._deserialize(value, attr, data, **kwargs)


class Strict(Schema):
    """A request body or query: unknown fields are refused, never silently dropped (its dates are `Day`s)."""

    class Meta:
        unknown = RAISE


class AsOfQuery(Strict):
    as_of = fields.AwareDateTime(load_default=None, metadata={"description": "state as recorded at this moment"})


class ListQuery(AsOfQuery):
    limit = fields.Integer(load_default=100, validate=validate.Range(1, 1000))
    offset = fields.Integer(load_default=0, validate=validate.Range(0, 1_000_000_000))


class EventRefOut(Schema):
    """An event a command appended (or, replayed, had appended)."""

    id = fields.UUID()
    type = fields.String()
    stream = fields.String()
    version = fields.Integer()


class CommandOut(Schema):
    stream = fields.String()
    version = fields.Integer()
    replayed = fields.Boolean(metadata={"description": "true when an Idempotency-Key retry returned the first result"})
    events = fields.List(fields.Nested(EventRefOut))


class PageOut(Schema):
    items = fields.List(fields.Dict())
    total = fields.Integer()
    limit = fields.Integer()
    offset = fields.Integer()


def page_body(items: list[Any], total: int, query: Mapping[str, Any]) -> dict[str, Any]:
    """A `PageOut` body: the page's items, how many match in all, and the limit and offset asked for."""
    return {"items": items, "total": total, "limit": query["limit"], "offset": query["offset"]}
