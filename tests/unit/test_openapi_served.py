"""What a service serves at /<service>/openapi.json is its part of docs/openapi.json, word for word:
the same operations (CSV bodies and downloads included) and the same component schemas. The handler is
called as nameko would call it, without starting a process."""
from __future__ import annotations

import importlib
import json
from typing import Any

import pytest
from werkzeug.wrappers import Request

from deploy.catalogue import ROOT, route_tables

SERVICES = [table.service for table in route_tables()]


@pytest.fixture(scope="module")
def documented() -> dict[str, Any]:
    return json.loads((ROOT / "docs" / "openapi.json").read_text())


def served(service: str) -> dict[str, Any]:
    """The body of GET /<service>/openapi.json, from the service class's own handler."""
    module = importlib.import_module(f"services.{service}.service")
    cls = next(v for v in vars(module).values() if isinstance(v, type) and getattr(v, "name", None) == service)
    response = cls.openapi(None, Request.from_values(f"/{service}/openapi.json"))
    assert response.status_code == 200 and response.mimetype == "application/json"
    return json.loads(response.get_data())  # type: ignore[no-any-return]


@pytest.mark.parametrize("service", SERVICES)
def test_a_service_serves_its_part_of_the_combined_document(service: str, documented: dict[str, Any]) -> None:
    document = served(service)
    assert document["openapi"] == documented["openapi"]
    assert document["paths"] == {path: item for path, item in documented["paths"].items()
                                 if path.startswith(f"/{service}/")}
    for kind, entries in document["components"].items():
        assert entries == {name: documented["components"][kind].get(name) for name in entries}


def test_the_combined_document_is_the_served_documents_merged_with_nothing_besides(documented: dict[str, Any]) -> None:
    documents = [served(service) for service in SERVICES]
    assert set(documented["paths"]) == {path for document in documents for path in document["paths"]}
    for kind, entries in documented["components"].items():
        assert set(entries) == {name for document in documents for name in document["components"].get(kind, {})}


def test_the_served_selection_document_offers_the_csv_import_and_exports() -> None:
    paths = served("selection")["paths"]
    assert set(paths["/selection/cadres/import"]["post"]["requestBody"]["content"]) == {"application/json", "text/csv"}
    for path in ("/selection/cadres/export.csv", "/selection/nominations/export.csv"):
        assert set(paths[path]["get"]["responses"]["200"]["content"]) == {"text/csv"}
