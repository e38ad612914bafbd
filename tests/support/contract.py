"""Every JSON answer the tests receive, held to what the answering service documents in its OpenAPI.

The test client (`tests.support.api.Api`) passes each 2xx JSON answer here: it must match the schema
that `/<service>/openapi.json` declares for that route and status, and the response schemas forbid
undeclared fields — so a field a service answers but does not document (or documents and does not
answer) fails the test that happened to receive it, whichever test that is.
"""
from __future__ import annotations

import re
from functools import cache
from typing import Any

import requests
from openapi_schema_validator import OAS30Validator


@cache
def _spec(base: str, service: str) -> dict[str, Any]:
    return requests.get(f"{base}/{service}/openapi.json", timeout=10).json()  # type: ignore[no-any-return]


@cache
def _templates(base: str, service: str) -> list[tuple[re.Pattern[str], str]]:
    paths = _spec(base, service)["paths"]
    # Literal segments win over parameters: /cadres/bulk is not /cadres/{cadre_id}.
    ordered = sorted(paths, key=lambda p: (p.count("{"), -len(p)))
    return [(re.compile("^" + re.sub(r"\\{\w+\\}", "[^/]+", re.escape(p)) + "$"), p) for p in ordered]


def route_of(base: str, path: str) -> tuple[str, str] | None:
    """(service, OpenAPI path template) of a request path, or None when the service documents no such path."""
    service = path.strip("/").split("/", 1)[0]
    for pattern, template in _templates(base, service):
        if pattern.match(path.split("?", 1)[0]):
            return service, template
    return None


def check_answer(base: str, method: str, path: str, response: requests.Response) -> None:
    """AssertionError unless a 2xx JSON answer is exactly what its route documents for its status."""
    if response.status_code >= 300 or not response.headers.get("Content-Type", "").startswith("application/json"):
        return
    found = route_of(base, path)
    if found is None:
        return  # not a documented route (e.g. the dashboard's files): nothing to hold it to
    service, template = found
    spec = _spec(base, service)
    answers = spec["paths"][template][method.lower()]["responses"]
    answer = answers.get(str(response.status_code), {})
    content = answer.get("content", {}).get("application/json")
    assert content is not None, (
        f"{method} {template} answered {response.status_code} with JSON, but documents no schema for it")
    errors = sorted(OAS30Validator({**content["schema"], "components": spec.get("components", {})})
                    .iter_errors(response.json()), key=lambda e: list(e.absolute_path))
    assert not errors, f"{method} {path} ({template}) answers what its OpenAPI does not say:\n" + "\n".join(
        f"  at {'/'.join(map(str, e.absolute_path)) or '(top)'}: {e.message[:300]}" for e in errors[:10])
