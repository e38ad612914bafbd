"""OpenAPI 3 documents generated from a service's route table and marshmallow schemas (apispec)."""
from __future__ import annotations

import re
from typing import Any

from apispec import APISpec
from apispec.ext.marshmallow import MarshmallowPlugin

from services.backbone.http import RouteTable

PROBLEM = {
    "type": "object",
    "description": "RFC 9457 problem details",
    "properties": {
        "type": {"type": "string"}, "title": {"type": "string"}, "status": {"type": "integer"},
        "detail": {"type": "string"}, "instance": {"type": "string"}, "rule": {"type": "string"},
        "errors": {"type": "object"},
    },
}


def build_spec(*tables: RouteTable, title: str = "Four Gates API") -> dict[str, Any]:
    """One OpenAPI 3.0 document for the given services' routes."""
    plugin = MarshmallowPlugin(schema_name_resolver=_schema_name)
    spec = APISpec(title=title, version="1.0.0", openapi_version="3.0.3", plugins=[plugin])
    spec.components.security_scheme("bearer", {"type": "http", "scheme": "bearer"})
    spec.components.schema("Problem", PROBLEM)
    for table in tables:
        for route in table.routes:
            spec.path(path=route.path, operations={route.method.lower(): _operation(route, table.service)})
    return spec.to_dict()


def _schema_name(schema: Any) -> str:
    """Component names qualified by service (selection.NominationOut vs posting.NominationOut)."""
    cls = schema if isinstance(schema, type) else type(schema)
    parts = cls.__module__.split(".")
    owner = parts[1] if len(parts) > 2 and parts[0] == "services" else parts[-1]
    name = f"{owner}.{cls.__name__.removesuffix('Schema')}"
    return name if isinstance(schema, type) or not getattr(schema, "partial", False) else name + ".partial"


def _operation(route: Any, service: str) -> dict[str, Any]:
    problem = {"content": {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}}
    op: dict[str, Any] = {
        "summary": route.summary,
        "tags": [service],
        "operationId": f"{service}_{route.method.lower()}_{re.sub(r'[^a-z0-9]+', '_', route.path.lower()).strip('_')}",
        "responses": {str(route.status): _body(route.response) or {"description": "OK"},
                      "422": {"description": "Invalid request or rule violated", **problem}},
        "parameters": [{"name": n, "in": "path", "required": True, "schema": {"type": "string"}}
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
        op["requestBody"] = {"required": True, "content": {"application/json": {"schema": route.body}}}
        op["parameters"] += [
            {"name": "Idempotency-Key", "in": "header", "schema": {"type": "string", "maxLength": 200},
             "description": "a retried request with the same key returns the first result and appends nothing"},
            {"name": "If-Match", "in": "header", "schema": {"type": "string"},
             "description": "the aggregate version the client saw; 412 when stale"},
        ]
        op["responses"]["409"] = {"description": "Step out of order or concurrent change", **problem}
    if route.query is not None:
        op["parameters"].append({"in": "query", "schema": route.query})
    return op


def _body(schema: Any) -> dict[str, Any] | None:
    if schema is None:
        return None
    return {"description": "OK", "content": {"application/json": {"schema": schema}}}
