"""The contract documents for other systems are valid and say exactly what the code does.

- docs/asyncapi.json validates against the official AsyncAPI 3.0.0 JSON Schema (vendored from the npm
  package @asyncapi/specs 6.11.1 under tests/contract/), every `$ref` in it resolves, it lists exactly
  the event types of the services' registries, and real wire messages (`to_cloudevent` of an event of
  every type) validate against their message's schema;
- docs/openapi.json is a valid OpenAPI 3 document (openapi-spec-validator) listing exactly the routes
  of every service's route table.
"""
from __future__ import annotations

import copy
import json
import uuid
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from marshmallow import fields
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT7

from deploy.catalogue import ROOT, registries, route_tables
from services.backbone.domain import Actor, Context
from services.backbone.envelope import FeedCursor, Metadata, RecordedEvent, to_cloudevent
from services.backbone.vault import ERASED

ASYNCAPI_SCHEMA = Path(__file__).resolve().parents[1] / "contract" / "asyncapi-3.0.0.schema.json"
DOC_URI = "urn:fourgates:asyncapi-under-test"
METHODS = {"get", "put", "post", "delete", "patch", "head", "options"}


@pytest.fixture(scope="module")
def asyncapi() -> dict[str, Any]:
    return json.loads((ROOT / "docs" / "asyncapi.json").read_text())


@pytest.fixture(scope="module")
def openapi() -> dict[str, Any]:
    return json.loads((ROOT / "docs" / "openapi.json").read_text())


def event_types() -> dict[str, str]:
    """Every registered event type → its service."""
    return {name: service for service, registry in registries().items() for name in registry.names()}


# ---- AsyncAPI -------------------------------------------------------------------------------------

def test_the_asyncapi_document_is_valid_against_the_official_schema(asyncapi: dict[str, Any]) -> None:
    validator = jsonschema.Draft7Validator(json.loads(ASYNCAPI_SCHEMA.read_text()))
    errors = [f"{'/'.join(map(str, e.absolute_path))}: {e.message[:200]}" for e in validator.iter_errors(asyncapi)]
    assert asyncapi["asyncapi"] == "3.0.0"
    assert not errors, errors[:5]


def test_the_official_schema_does_refuse_a_broken_document(asyncapi: dict[str, Any]) -> None:
    """So that the test above cannot pass vacuously: a wrong action, binding or payload is caught."""
    validator = jsonschema.Draft7Validator(json.loads(ASYNCAPI_SCHEMA.read_text()))
    name = sorted(event_types())[0]
    for break_it in (
        lambda d: d["operations"][f"{name}.publish"].update(action="publish"),
        lambda d: d["channels"][name]["bindings"]["amqp"].update(**{"is": "exchange"}),
        lambda d: d["components"]["schemas"][name].update(type=5),
        lambda d: d["channels"][name].update(unknown_keyword=True),
    ):
        broken = copy.deepcopy(asyncapi)
        break_it(broken)
        assert list(validator.iter_errors(broken)), "a broken document passed"


def test_every_reference_in_the_asyncapi_document_resolves(asyncapi: dict[str, Any]) -> None:
    def refs(node: Any) -> Iterator[str]:
        if isinstance(node, dict):
            if isinstance(node.get("$ref"), str):
                yield node["$ref"]
            for value in node.values():
                yield from refs(value)
        elif isinstance(node, list):
            for value in node:
                yield from refs(value)

    found = list(refs(asyncapi))
    assert found
    for ref in found:
        assert ref.startswith("#/"), ref
        target: Any = asyncapi
        for part in ref[2:].split("/"):
            part = part.replace("~1", "/").replace("~0", "~")
            assert isinstance(target, dict) and part in target, f"{ref} does not resolve"
            target = target[part]


def test_the_asyncapi_document_lists_exactly_the_registered_event_types(asyncapi: dict[str, Any]) -> None:
    types = event_types()
    assert set(types) >= {"selection.CadreRegistered", "selection.NominationApproved"}
    assert set(asyncapi["channels"]) == set(types)
    assert set(asyncapi["components"]["messages"]) == set(types)
    assert {op["channel"]["$ref"].rsplit("/", 1)[1] for op in asyncapi["operations"].values()} == set(types)
    assert set(asyncapi["components"]["schemas"]) == set(types) | {"CloudEvent"}
    for name, service in types.items():
        channel = asyncapi["channels"][name]
        assert channel["address"] == name  # the routing key is the event type
        assert channel["bindings"]["amqp"]["exchange"] == {
            "name": f"{service}.events", "type": "topic", "durable": True, "autoDelete": False, "vhost": "/"}
        message = asyncapi["components"]["messages"][name]
        assert message["contentType"] == "application/cloudevents+json"


def test_each_payload_schema_follows_the_marshmallow_schema_and_marks_personal_fields(asyncapi: dict[str, Any]) -> None:
    for registry in registries().values():
        for name in registry.names():
            entry, schema = registry.get(name), asyncapi["components"]["schemas"][name]
            assert set(schema["properties"]) == set(entry.schema.fields), name
            assert set(schema.get("required", [])) == {n for n, f in entry.schema.fields.items() if f.required}, name
            assert schema["x-fourgates-schema-version"] == entry.version
            personal = {n for n, p in schema["properties"].items() if p.get("x-fourgates-personal")}
            assert personal == set(entry.personal), name
            assert asyncapi["components"]["messages"][name]["x-fourgates-personal-fields"] == list(entry.personal)


def test_the_envelope_schema_has_exactly_the_attributes_the_code_sends(asyncapi: dict[str, Any]) -> None:
    body = to_cloudevent(recorded("selection.PolicyAdopted", {}), None)
    in_topic = to_cloudevent(recorded("selection.PolicyAdopted", {}), None, "approvals=1.2.3")
    envelope = asyncapi["components"]["schemas"]["CloudEvent"]
    # topicprevious travels only on an event of a published topic: documented, not required
    assert set(envelope["properties"]) == set(in_topic) == set(body) | {"topicprevious"}
    assert set(envelope["required"]) == set(body)
    jsonschema.validate(in_topic["topicprevious"], envelope["properties"]["topicprevious"])
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate("approvals=1.2", envelope["properties"]["topicprevious"])
    metadata = envelope["properties"]["fourgatesmetadata"]
    # request_hash travels only on events of commands sent over HTTP (this one was not): documented, not required.
    assert set(metadata["properties"]) == set(body["fourgatesmetadata"]) | {"request_hash"}
    assert set(metadata["required"]) == set(body["fourgatesmetadata"])


def message_validator(asyncapi: dict[str, Any], name: str) -> jsonschema.Draft7Validator:
    """A validator for one message's payload, resolving its `#/components/...` references in the document."""
    registry: Registry = Registry().with_resource(DOC_URI, Resource.from_contents(asyncapi, default_specification=DRAFT7))
    schema = {"$ref": f"{DOC_URI}#/components/messages/{name}/payload"}
    return jsonschema.Draft7Validator(schema, registry=registry, format_checker=jsonschema.Draft7Validator.FORMAT_CHECKER)


def sample(field: fields.Field) -> Any:
    """A valid plain-JSON value for a marshmallow field (what a producer could put in an event)."""
    if isinstance(field, fields.Nested):
        return {n: sample(f) for n, f in field.schema.fields.items()}
    if isinstance(field, fields.List):
        return [sample(field.inner)]
    if isinstance(field, fields.Dict):
        return {"key": sample(field.value_field)} if field.value_field is not None else {"key": "value"}
    if isinstance(field, fields.Boolean):
        return True
    if isinstance(field, fields.Integer):
        return 3
    if isinstance(field, fields.Float | fields.Decimal | fields.Number):
        return 1.5
    if isinstance(field, fields.DateTime):
        return "2025-03-01T08:00:00+00:00"
    if isinstance(field, fields.Date):
        return "2025-03-01"
    if isinstance(field, fields.String):
        return "样例 sample"
    return "raw"


def recorded(type_: str, data: dict[str, Any], service: str | None = None) -> RecordedEvent:
    service = service or type_.split(".", 1)[0]
    meta = Metadata(actor=Actor("zhang", "organisation_department", "county-od"), command_id=str(uuid.uuid4()),
                    correlation_id="corr-1", source=service, occurred_at=datetime(2025, 3, 1, 8, tzinfo=UTC),
                    causation_id=None, reason="因工作需要", policy_version="county-2025")
    return RecordedEvent(uuid.uuid4(), "stream-1", 2, type_, 1, data, meta, FeedCursor(1, 4321, 7),
                         datetime(2025, 3, 1, 8, 0, 1, tzinfo=UTC))


@pytest.mark.parametrize("name", sorted(event_types()))
def test_a_real_wire_message_of_every_event_type_validates_against_its_message_schema(
        asyncapi: dict[str, Any], name: str) -> None:
    service = event_types()[name]
    entry = registries()[service].get(name)
    event = entry.schema.load({n: sample(f) for n, f in entry.schema.fields.items()})  # a domain event
    type_, version, data = registries()[service].dump(event)
    validator = message_validator(asyncapi, name)

    for previous in (None, FeedCursor(1, 4300, 2)):
        body = json.loads(json.dumps(to_cloudevent(recorded(type_, data), previous), default=str))
        errors = [e.message for e in validator.iter_errors(body)]
        assert not errors, errors

    erased = {**data, **{f: ({} if isinstance(data[f], dict) else [] if isinstance(data[f], list) else
                             None if isinstance(data[f], int | float) and not isinstance(data[f], bool) else ERASED)
                         for f in entry.personal}}
    assert not list(validator.iter_errors(json.loads(json.dumps(to_cloudevent(recorded(type_, erased), None), default=str))))

    wrong_type = json.loads(json.dumps(to_cloudevent(recorded(type_, data), None), default=str))
    wrong_type["type"] = "selection.SomethingElse"
    assert list(validator.iter_errors(wrong_type))
    missing = json.loads(json.dumps(to_cloudevent(recorded(type_, data), None), default=str))
    missing["data"].pop(next(n for n in sorted(entry.schema.fields) if entry.schema.fields[n].required))
    assert list(validator.iter_errors(missing)), "a payload without a required field passed"


def test_selection_events_made_by_the_domain_validate_on_the_wire(asyncapi: dict[str, Any]) -> None:
    """Not only fabricated samples: what the domain decides, dumped by the registry, as the relay sends it."""
    from services.selection import domain as d
    from services.selection.handlers import REGISTRY

    ctx = Context(Actor("hr-sync", "integration", None), datetime(2025, 3, 1, tzinfo=UTC))
    command = d.RegisterCadre("c-1", "李明", "deputy_section", "county-finance", date(1992, 5, 1), False, True, True)
    registered = d.decide_register_cadre(None, command, ctx).events
    state = d.fold_cadre(registered)
    updated = d.decide_register_cadre(state, d.RegisterCadre(**{**command.__dict__, "birth_date": date(1992, 6, 1)}), ctx).events
    assert [e.TYPE for e in registered + updated] == ["selection.CadreRegistered", "selection.CadreUpdated"]
    previous = None
    for i, event in enumerate(registered + updated, start=1):
        type_, _, data = REGISTRY.dump(event)
        body = json.loads(json.dumps(to_cloudevent(recorded(type_, data, "selection"), previous), default=str))
        previous = FeedCursor(1, 4321, i)
        assert not [e.message for e in message_validator(asyncapi, type_).iter_errors(body)]


# ---- OpenAPI --------------------------------------------------------------------------------------

def test_the_openapi_document_is_valid(openapi: dict[str, Any]) -> None:
    from openapi_spec_validator import validate

    validate(openapi)
    assert openapi["openapi"].startswith("3.")


def test_the_openapi_document_lists_exactly_the_routes_of_every_service(openapi: dict[str, Any]) -> None:
    documented = {(method.upper(), path) for path, item in openapi["paths"].items() for method in item if method in METHODS}
    routes = {(route.method, route.path) for table in route_tables() for route in table.routes}
    services = {table.service for table in route_tables()}
    assert {"selection", "posting", "assessment"} <= services
    assert documented == routes
    for service in services:  # every service's own feed is there too
        assert ("GET", f"/{service}/feed") in documented


def test_every_path_parameter_says_what_it_holds(openapi: dict[str, Any]) -> None:
    """A client can check a path before sending it: each parameter has a pattern, an id's is the one every
    body's id field uses (so an id the API handed out always fits), and a period is a year or end-of-term."""
    import re

    from services.backbone.schemas import ID

    parameters = [(path, p) for path, item in openapi["paths"].items() for method, op in item.items()
                  if method in METHODS for p in op.get("parameters", []) if p["in"] == "path"]
    assert parameters and all("pattern" in p["schema"] for _, p in parameters), [
        (path, p["name"]) for path, p in parameters if "pattern" not in p["schema"]]
    ids = {p["schema"]["pattern"] for _, p in parameters if p["name"].endswith("_id") and p["name"] != "parked_id"}
    assert ids == {ID.regex.pattern}
    period = next(re.compile(p["schema"]["pattern"]) for _, p in parameters if p["name"] == "period")
    assert period.match("2025") and period.match("end-of-term") and not period.match("2025/x")


def test_every_date_a_request_takes_is_read_as_written() -> None:
    """Each date field of a body or query is a `Day` (YYYY-MM-DD only, refused beside the body's other errors):
    a plain marshmallow Date would read "20250301" or "2025-W09-6" as a date."""
    from marshmallow import Schema, fields

    from services.backbone.schemas import Day

    def dates(schema: Schema, where: str) -> Iterator[tuple[str, fields.Field[Any]]]:
        for name, field in schema.load_fields.items():
            inner = field.inner if isinstance(field, fields.List) else field
            if isinstance(inner, fields.Nested):
                yield from dates(inner.schema, f"{where}.{name}")
            elif isinstance(inner, fields.Date):
                yield f"{where}.{name}", inner

    found = [(where, field) for table in route_tables() for route in table.routes
             for schema in (route.body, route.query) if schema is not None
             for where, field in dates(schema(), f"{route.method} {route.path}")]
    assert found and [where for where, field in found if not isinstance(field, Day)] == []


def test_the_csv_routes_document_their_media_types(openapi: dict[str, Any]) -> None:
    imported = openapi["paths"]["/selection/cadres/import"]["post"]["requestBody"]["content"]
    assert set(imported) == {"application/json", "text/csv"}
    for path in ("/selection/cadres/export.csv", "/selection/nominations/export.csv"):
        assert "text/csv" in openapi["paths"][path]["get"]["responses"]["200"]["content"]
