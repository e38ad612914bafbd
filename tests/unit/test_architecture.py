"""The layering rules of style.md, checked by reading every import."""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SERVICES = ("selection", "posting", "assessment", "reporting")
IO_LIBRARIES = ("nameko", "psycopg", "psycopg_pool", "marshmallow", "kombu", "eventlet", "werkzeug")


def imports_of(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def python_files(folder: Path) -> list[Path]:
    return sorted(folder.rglob("*.py")) if folder.exists() else []


def pure_modules() -> list[Path]:
    files = [ROOT / "services" / "backbone" / "domain.py"]
    for service in SERVICES:
        files += python_files(ROOT / "services" / service / "domain")
        files += [p for p in [ROOT / "services" / service / "projections.py"] if p.exists()]
    return files


@pytest.mark.parametrize("path", pure_modules(), ids=lambda p: str(p.relative_to(ROOT)))
def test_domain_modules_import_no_io_library(path: Path) -> None:
    bad = {name for name in imports_of(path) if name.split(".")[0] in IO_LIBRARIES}
    bad |= {name for name in imports_of(path) if name.startswith("services.") and not name.startswith(
        ("services.backbone.domain", f"services.{path.relative_to(ROOT / 'services').parts[0]}"))}
    assert not bad, f"{path.name} imports {sorted(bad)}"


def test_the_backbone_imports_no_service() -> None:
    for path in python_files(ROOT / "services" / "backbone"):
        bad = {n for n in imports_of(path) if n.startswith("services.") and not n.startswith("services.backbone")}
        assert not bad, f"{path.name} imports {sorted(bad)}"


@pytest.mark.parametrize("service", SERVICES)
def test_no_service_imports_another(service: str) -> None:
    others = tuple(f"services.{other}" for other in SERVICES if other != service)
    for path in python_files(ROOT / "services" / service):
        bad = {n for n in imports_of(path) if n.startswith(others)}
        assert not bad, f"{path.relative_to(ROOT)} imports {sorted(bad)}"


def test_only_service_modules_declare_entrypoints() -> None:
    for service in SERVICES:
        for path in python_files(ROOT / "services" / service):
            if path.name != "service.py":
                assert "nameko.events" not in imports_of(path) and "nameko.rpc" not in imports_of(path), path


def test_every_http_route_comes_from_the_backbones_http() -> None:
    """nameko runs one web server per entrypoint class: a route declared with nameko's own `@http` would
    start a second server on the service's port (and answer unknown paths with HTML again)."""
    for path in python_files(ROOT / "services"):
        if path != ROOT / "services" / "backbone" / "web.py":
            assert "nameko.web.handlers" not in imports_of(path), f"{path.relative_to(ROOT)}: use services.backbone.http.http"


def test_the_ids_the_services_give_their_own_commands_are_of_a_form_no_client_key_may_take() -> None:
    """An f-string command id made by a service (a consumed event's, a scan's) begins with a reserved prefix, which
    the HTTP edge refuses as an Idempotency-Key: else a client could take those commands' event ids in advance."""
    from services.backbone.commands import RESERVED_KEY_PREFIXES

    made = []
    for path in python_files(ROOT / "services"):
        for node in ast.walk(ast.parse(path.read_text())):
            targets = ([k.value for k in node.keywords if k.arg == "command_id"] if isinstance(node, ast.Call) else
                       [node.value] if isinstance(node, ast.Assign) and any(
                           isinstance(t, ast.Name) and t.id == "command_id" for t in node.targets) else [])
            for value in targets:
                if isinstance(value, ast.JoinedStr) and value.values and isinstance(value.values[0], ast.Constant):
                    made.append((path.relative_to(ROOT), str(value.values[0].value)))
    assert len(made) >= 4, made  # the three consumers and the overdue scan at least
    assert [(p, head) for p, head in made if not head.startswith(RESERVED_KEY_PREFIXES)] == []
