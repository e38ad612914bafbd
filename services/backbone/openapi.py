"""OpenAPI 3 documents generated from the services' route tables and marshmallow schemas (apispec).

Each service serves its own document at /<service>/openapi.json, and docs/openapi.json (deploy.catalogue)
is those documents merged: both come from `build_spec`, so they cannot say different things.
"""
from __future__ import annotations

import re
from typing import Any

from apispec import APISpec
from apispec.ext.marshmallow import MarshmallowPlugin

from services.backbone.http import Route, RouteTable
from services.backbone.refusals import RULE_LABELS
from services.backbone.schemas import ID, YEAR

# What each path parameter holds: an id as every body takes it (schemas.ID), a year, an assessment's period,
# a parked message's number. A path that does not fit names nothing: it is answered 404.
_AN_ID = {"type": "string", "pattern": ID.regex.pattern, "maxLength": 64}
PATH_PARAMETERS: dict[str, dict[str, Any]] = {
    **dict.fromkeys(("cadre_id", "campaign_id", "nomination_id", "placement_id", "unit", "unit_id"), _AN_ID),
    "year": {"type": "string", "pattern": "^[0-9]{4}$", "description": f"a year, {YEAR.min}–{YEAR.max}"},
    "period": {"type": "string", "pattern": "^([0-9]{4}|end-of-term)$",
               "description": "the year of an annual assessment, or `end-of-term` for the end-of-term appraisal"},
    "parked_id": {"type": "string", "pattern": "^[0-9]{1,18}$", "description": "a number GET …/parked lists"},
}

OPENAPI_VERSION = "3.0.3"
PROBLEM = {
    "type": "object",
    "description": "RFC 9457 problem details",
    "properties": {
        "type": {"type": "string"}, "title": {"type": "string"}, "status": {"type": "integer"},
        "detail": {"type": "string"}, "instance": {"type": "string"}, "rule": {"type": "string"},
        "errors": {
            "description": "what was wrong: with rule `validation`, an object from each field (nested as the body"
                           " is) to its messages; with rule `csv_invalid`, a list with one entry per refused cell",
            "oneOf": [
                {"type": "object"},
                {"type": "array", "items": {
                    "type": "object", "required": ["line", "field", "rule", "message"],
                    "properties": {"line": {"type": "integer", "description": "the file's line (the header is line 1)"},
                                   "field": {"type": "string", "description": "the column"},
                                   "rule": {"type": "string"}, "message": {"type": "string"}}}},
            ],
        },
        "rows": {"type": "integer", "description": "with rule `csv_invalid`: the data lines the file has"},
        "invalid_fields": {
            "type": "array",
            "description": "with rule `validation`: one entry per message in `errors`, so a client branches on `rule`"
                           " rather than on the English message. `field` is a dotted path into the body or query"
                           " (`rank`, `cadres.0.rank`; `_schema` is the object itself, `_body` the whole body). Rules:"
                           " required (missing, or null where not allowed), type (not of the field's type), one_of,"
                           " pattern, length, range (the check that refused the value), unknown_field, unstorable_text"
                           " (a NUL character or an unpaired surrogate), invalid (anything else, e.g. a rule across"
                           " fields). `rule_label` is the rule in Chinese.",
            "items": {
                "type": "object",
                "required": ["field", "rule", "rule_label", "message"],
                "properties": {"field": {"type": "string"}, "rule": {"type": "string", "enum": list(RULE_LABELS)},
                               "rule_label": {"type": "string"}, "message": {"type": "string"}},
            },
        },
    },
}


def build_spec(*tables: RouteTable, title: str = "Four Gates API") -> dict[str, Any]:
    """One OpenAPI 3.0 document for the given services' routes: each service's own document, merged."""
    document: dict[str, Any] = {"openapi": OPENAPI_VERSION, "info": {"title": title, "version": "1.0.0"},
                                "paths": {}, "components": {}}
    for table in tables:
        part = _service_spec(table)
        _merge_into(document["paths"], part["paths"], "path")
        for kind, entries in part["components"].items():
            _merge_into(document["components"].setdefault(kind, {}), entries, kind)
    return document


def _service_spec(table: RouteTable) -> dict[str, Any]:
    plugin = MarshmallowPlugin(schema_name_resolver=_schema_name)
    spec = APISpec(title=table.service, version="1.0.0", openapi_version=OPENAPI_VERSION, plugins=[plugin])
    spec.components.security_scheme("bearer", {"type": "http", "scheme": "bearer"})
    spec.components.schema("Problem", PROBLEM)
    for route in table.routes:
        spec.path(path=route.path, operations={route.method.lower(): _operation(route, table.service)})
    return _null_only(spec.to_dict())  # type: ignore[no-any-return]


def _null_only(node: Any) -> Any:
    """apispec writes a nullable nested schema as `anyOf: [{$ref}, {type: object, nullable: true}]`, whose second
    branch admits any object at all; here it admits null and nothing else, so the shape is really checked."""
    if isinstance(node, list):
        return [_null_only(item) for item in node]
    if not isinstance(node, dict):
        return node
    out = {key: _null_only(value) for key, value in node.items()}
    branches = out.get("anyOf")
    if isinstance(branches, list) and any("$ref" in b for b in branches):
        out["anyOf"] = [{"nullable": True, "enum": [None]} if b == {"nullable": True, "type": "object"} else b
                        for b in branches]
    return out


def _merge_into(merged: dict[str, Any], part: dict[str, Any], kind: str) -> None:
    """Add one service's entries; a name that two services both use must mean the same in both."""
    for name, value in part.items():
        if merged.setdefault(name, value) != value:
            raise ValueError(f"{kind} {name!r} is defined differently by two services")


def _schema_name(schema: Any) -> str:
    """Component names qualified by service (selection.NominationOut vs posting.NominationOut)."""
    cls = schema if isinstance(schema, type) else type(schema)
    parts = cls.__module__.split(".")
    owner = parts[1] if len(parts) > 2 and parts[0] == "services" else parts[-1]
    name = f"{owner}.{cls.__name__.removesuffix('Schema')}"
    return name if isinstance(schema, type) or not getattr(schema, "partial", False) else name + ".partial"


def _operation(route: Route, service: str) -> dict[str, Any]:
    problem = {"content": {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}}
    op: dict[str, Any] = {
        "summary": route.summary,
        "tags": [service],
        "operationId": f"{service}_{route.method.lower()}_{re.sub(r'[^a-z0-9]+', '_', route.path.lower()).strip('_')}",
        "responses": {str(route.status): _success(route),
                      "422": {"description": "Invalid request or rule violated", **problem}},
        "parameters": [{"name": n, "in": "path", "required": True, "schema": PATH_PARAMETERS.get(n, {"type": "string"})}
                       for n in re.findall(r"{(\w+)}", route.path)],
    }
    if not route.public:
        op["security"] = [{"bearer": []}]
        op["responses"]["401"] = {"description": "Authentication required", **problem}
        op["responses"]["403"] = {"description": "Not allowed for this role or unit", **problem}
        op["responses"]["503"] = {"description": "Database unavailable; retry", **problem}
    if route.roles:
        op["description"] = "Roles: " + ", ".join(route.roles)
    if route.body is not None:
        op["requestBody"] = {"required": True, "content": _request_content(route)}
        op["responses"]["409"] = {"description": "Step out of order or concurrent change", **problem}
    if route.body is not None and route.public:
        # An anonymous write (a ballot) is never tied to anything the client sends beside its body: no key,
        # no version. What it spends (a one-time token) makes a retry harmless; a spent one is refused.
        op["responses"]["403"] = {"description": "Refused: e.g. a one-time token unknown or spent already (a retry"
                                                 " after a lost answer: the first request counted)", **problem}
    elif route.body is not None:
        op["parameters"] += [
            {"name": "Idempotency-Key", "in": "header", "schema": {"type": "string", "maxLength": 200},
             "description": "a retried request with the same key and principal returns the first result and"
                            " appends nothing; another body or principal with the same key: 422"},
        ]
        if route.if_match:
            op["parameters"].append({"name": "If-Match", "in": "header", "schema": {"type": "string"},
                                     "description": "the aggregate version the client saw; 412 when stale"})
        else:
            op["responses"].setdefault("400", {"description": "Refused: e.g. an If-Match, which this request does"
                                                              " not take (no one aggregate version to name)",
                                               **problem})
    if route.query is not None:
        op["parameters"].append({"in": "query", "schema": route.query})
    return op


def _request_content(route: Route) -> dict[str, Any]:
    content: dict[str, Any] = {"application/json": {"schema": route.body}}
    if route.text_body is not None:  # e.g. a CSV file, sent as it is instead of wrapped in JSON
        media, field = route.text_body
        content[media] = {"schema": {"type": "string", "description": f"the `{field}` of the JSON body, sent as it is"}}
    return content


def _success(route: Route) -> dict[str, Any]:
    if route.path.endswith(".csv"):  # a spreadsheet download: UTF-8 with a BOM
        return {"description": "CSV, UTF-8 with a byte-order mark; a label column beside each code",
                "content": {"text/csv": {"schema": {"type": "string"}}}}
    if route.response is None:
        return {"description": "OK"}
    return {"description": "OK", "content": {"application/json": {"schema": route.response}}}
