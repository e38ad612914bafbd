"""Every command either honours If-Match or refuses it: none takes the header and ignores it (a client that
sent it would believe its write guarded against a change it did not see)."""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SERVICES = ("selection", "posting", "assessment", "reporting", "backbone")  # backbone: every service's edge routes
MODULES = {service: f"services/{service}/service.py" for service in SERVICES} | {"backbone": "services/backbone/edge.py"}


def _keyword(call: ast.Call, name: str) -> ast.expr | None:
    return next((k.value for k in call.keywords if k.arg == name), None)


def _commands(service: str) -> list[tuple[str, ast.FunctionDef, bool]]:
    """(path, handler, takes If-Match) of each route with a body in the service's module."""
    tree = ast.parse((ROOT / MODULES[service]).read_text(encoding="utf-8"))
    found = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.FunctionDef):
            continue
        for decorator in node.decorator_list:
            if isinstance(decorator, ast.Call) and getattr(decorator.func, "id", None) == "endpoint":
                body = _keyword(decorator, "body")
                if body is None or (isinstance(body, ast.Constant) and body.value is None):
                    continue
                flag = _keyword(decorator, "if_match")
                takes = not (isinstance(flag, ast.Constant) and flag.value is False)
                found.append((ast.unparse(decorator.args[2]), node, takes))
    return found


def _helpers(service: str) -> dict[str, ast.FunctionDef]:
    tree = ast.parse((ROOT / MODULES[service]).read_text(encoding="utf-8"))
    return {n.name: n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef)}


def _passes_if_match(fn: ast.FunctionDef, helpers: dict[str, ast.FunctionDef], depth: int = 0) -> bool:
    """Does the handler hand `call.if_match` to the command, itself or through a helper of the class?"""
    for node in ast.walk(fn):
        if isinstance(node, ast.Attribute) and node.attr == "if_match":
            return True
        if (depth < 2 and isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                and isinstance(node.func.value, ast.Name) and node.func.value.id == "self"
                and node.func.attr in helpers and _passes_if_match(helpers[node.func.attr], helpers, depth + 1)):
            return True
    return False


@pytest.mark.parametrize("service", SERVICES)
def test_a_command_that_takes_if_match_hands_it_to_the_command(service: str) -> None:
    helpers = _helpers(service)
    ignoring = [path for path, fn, takes in _commands(service) if takes and not _passes_if_match(fn, helpers)]
    assert not ignoring, (f"{service}: {ignoring} take If-Match (the OpenAPI document says so) but never pass"
                          " call.if_match on: pass it, or declare the route if_match=False")


def test_the_routes_that_refuse_if_match_are_those_that_create_or_change_many() -> None:
    refusing = {(service, path) for service in SERVICES for path, _, takes in _commands(service) if not takes}
    assert refusing == {("selection", "'/cadres/bulk'"), ("selection", "'/cadres/import'"),
                        ("selection", "'/nominations'"), ("posting", "'/placements'"),
                        ("assessment", "'/assessments'"), ("assessment", "'/campaigns'"), ("assessment", "'/ballots'"),
                        ("backbone", "'/parked/{parked_id}/replay'"), ("backbone", "'/parked/{parked_id}/dismiss'")}
