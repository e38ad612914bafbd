"""SQL built only with parameters: classic injection strings through every text field of every write
endpoint, every path and query parameter and the command headers of selection, posting and assessment
answer without a 5xx, fast (no pg_sleep ran), and leave every table in place; and a static check of the
code that no SQL text is made by formatting values into it.
"""
from __future__ import annotations

import ast
import csv
import io
import re
import time
from pathlib import Path
from typing import Any

import psycopg
import pytest
import requests

from tests.security.catalogue import BY_ROUTE, CASES, string_fields, with_value
from tests.security.conftest import ROOT, SERVICES, System, new_key, routes

PAYLOADS = [
    "'; DROP TABLE events; --",
    "' OR '1'='1",
    "$$; SELECT pg_sleep(5); $$",
    "'); SELECT pg_sleep(5); --",
    "1; DELETE FROM selection.events WHERE true; --",
    "\\'; DROP SCHEMA posting CASCADE; --",
    "\\\\' OR 1=1 --\\",
    "%' OR stream LIKE '%",
    "E'\\x27' || chr(39) || '\\N'",
    "李明'); DROP TABLE assessment.events; --",
]
# Every payload at once: any place that formats text into SQL breaks on it.
COMBINED = " ".join(PAYLOADS)
TEXT_VARIANTS = {"combined": COMBINED, "dollar-quoted sleep": "$$; SELECT pg_sleep(5); $$",
                 "backslashes": "\\'; \\\\'; \\x27; E'\\\\'; --\\"}
SLOW = 3.0  # seconds; a pg_sleep(5) that ran would show


def tables(system: System) -> dict[str, set[str]]:
    with psycopg.connect(system.db) as conn:
        rows = conn.execute("SELECT table_schema, table_name FROM information_schema.tables"
                            " WHERE table_schema = ANY(%s)", (list(SERVICES),)).fetchall()
    found: dict[str, set[str]] = {}
    for schema, table in rows:
        found.setdefault(schema, set()).add(table)
    return found


@pytest.fixture(scope="module")
def intact(system: System) -> Any:
    """Every table of the three schemas, and the event counts, checked after each test."""
    before_tables = tables(system)
    assert all("events" in before_tables[s] for s in SERVICES)

    def check() -> None:
        assert tables(system) == before_tables
        counts = system.event_counts()
        check.counts = {s: max(counts[s], check.counts.get(s, 0)) for s in SERVICES}  # type: ignore[attr-defined]
        assert counts == check.counts, "events disappeared"

    check.counts = system.event_counts()  # type: ignore[attr-defined]
    return check


def timed_post(system: System, path: str, body: Any, principal: str | None, **headers: str
               ) -> tuple[requests.Response, float, str]:
    key = headers.pop("key", None) or new_key()
    hdrs = {"Idempotency-Key": key, "X-Correlation-Id": key, **headers}
    if principal:
        hdrs["Authorization"] = f"Bearer {system.tokens[principal]}"
    began = time.monotonic()
    response = requests.post(system.service_of(path).base + path, json=body, headers=hdrs, timeout=60)
    return response, time.monotonic() - began, key


def timed_get(system: System, path: str, params: dict[str, str] | None = None) -> tuple[requests.Response, float]:
    began = time.monotonic()
    response = requests.get(system.service_of(path).base + path, params=params,
                            headers={"Authorization": f"Bearer {system.tokens['auditor']}"}, timeout=60)
    return response, time.monotonic() - began


def verdict(what: str, response: requests.Response, elapsed: float) -> list[str]:
    wrong = []
    if response.status_code >= 500:
        wrong.append(f"{what}: {response.status_code} {response.text[:300]}")
    if elapsed > SLOW:
        wrong.append(f"{what}: took {elapsed:.1f}s")
    if re.search(r"syntax error|psycopg|SQLSTATE|Traceback", response.text, re.I):
        wrong.append(f"{what}: database internals in the answer {response.text[:300]}")
    return wrong


def injected(body: dict[str, Any], schema: Any, text: str) -> dict[str, Any]:
    """`body` with `text` in every free-text field (and CSV files carrying it in a text column)."""
    for name, kind in string_fields(schema).items():
        if kind != "text":
            continue
        if name == "csv":
            body = {**body, "csv": _csv_with(body["csv"], text)}
        else:
            body = with_value(body, name, text, schema)
    return body


def _csv_with(original: str, text: str) -> str:
    rows = list(csv.reader(io.StringIO(original)))
    column = rows[0].index("summary") if "summary" in rows[0] else rows[0].index("name")
    for row in rows[1:]:
        row[column] = text
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows(rows)
    return out.getvalue()


@pytest.mark.parametrize("route", [c.route for c in CASES])
def test_injection_strings_through_every_text_field(system: System, intact: Any, route: str) -> None:
    case = BY_ROUTE[route]
    schema = case.body_schema
    failures: list[str] = []
    accepted = 0
    for variant, text in TEXT_VARIANTS.items():
        path, body = case.prepare(system)
        response, elapsed, key = timed_post(system, path, injected(body, schema, text), case.owner)
        failures += verdict(f"text fields = {variant}", response, elapsed)
        if response.status_code in (200, 201):
            accepted += 1
        elif response.status_code < 500:
            assert system.events_of_commands([key]) == []
    for name, kind in string_fields(schema).items():
        if kind != "code":
            continue
        for payload in PAYLOADS:
            response, elapsed, key = timed_post(system, path, with_value(body, name, payload, schema), case.owner)
            failures += verdict(f"{name} = {payload!r}", response, elapsed)
            if response.status_code != 422:
                failures.append(f"{name} = {payload!r}: {response.status_code}, not 422 (ids and codes have a pattern)")
    assert not failures, "\n".join(failures)
    intact()
    has_text = any(kind == "text" for name, kind in string_fields(schema).items() if name != "ballot_token")
    assert accepted or not has_text, f"{route}: no injection string was accepted as text, so none reached the store"


def _path_routes() -> list[Any]:
    return [r for r in routes() if "{" in r.path]


@pytest.mark.parametrize("route", [f"{r.method} {r.path}" for r in _path_routes()])
def test_injection_strings_in_path_parameters(system: System, intact: Any, route: str) -> None:
    method, template = route.split(" ", 1)
    case = BY_ROUTE.get(route)
    principal = case.owner if case else "auditor"
    names = re.findall(r"{(\w+)}", template)
    body = case.prepare(system)[1] if case else None  # a valid body, so the request gets past validation
    failures = []
    for payload in PAYLOADS:
        path = template
        for name in names:
            path = path.replace("{" + name + "}", requests.utils.quote(payload, safe=""))
        if method == "GET":
            response, elapsed = timed_get(system, path)
        else:
            response, elapsed, _ = timed_post(system, path, body, principal)
        failures += verdict(f"{method} {path}", response, elapsed)
    assert not failures, "\n".join(failures)
    intact()


def _query_parameters() -> list[Any]:
    found = {}
    for r in routes():
        if r.method == "GET" and r.query is not None:
            for name in r.query().fields:
                found[(r.path, name)] = pytest.param(r.path, name, id=f"{r.path}?{name}")
    return list(found.values())


@pytest.mark.parametrize("route, name", _query_parameters())
def test_injection_strings_in_query_parameters(system: System, intact: Any, route: str, name: str) -> None:
    path = route.format(cadre_id="c-x", nomination_id="n-x", placement_id="p-x", period="2025", year="2025", campaign_id="k-x",
                        unit_id="u-x")
    failures = []
    for payload in PAYLOADS:
        response, elapsed = timed_get(system, path, {name: payload})
        failures += verdict(f"{route}?{name}={payload!r}", response, elapsed)
    # ... and a parameter the query does not know, named like an injection
    response, elapsed = timed_get(system, path, {f"{name}; DROP TABLE events": "1"})
    failures += verdict(f"{route} with an injected parameter name", response, elapsed)
    assert not failures, "\n".join(failures)
    intact()


def test_injection_strings_in_the_command_headers_are_kept_as_data(system: System, intact: Any) -> None:
    failures = []
    for payload in [p for p in PAYLOADS if p.isascii()]:  # HTTP headers are Latin-1 at most
        path, body = BY_ROUTE["POST /selection/cadres"].prepare(system)
        key = f"{payload} {new_key()}"
        response, elapsed, _ = timed_post(system, path, body, "hr", key=key, **{"X-Correlation-Id": f"{payload} corr"})
        failures += verdict(f"Idempotency-Key {payload!r}", response, elapsed)
        if response.status_code == 200:
            with psycopg.connect(system.db) as conn:
                stored = conn.execute("SELECT metadata->>'command_id' FROM selection.events"
                                      " WHERE metadata->>'command_id' = %s", (key,)).fetchall()
            if len(stored) != 1:
                failures.append(f"Idempotency-Key {payload!r} was not stored as it was sent: {stored}")
        elif response.status_code != 400:
            failures.append(f"Idempotency-Key {payload!r}: {response.status_code} {response.text[:200]}")
    assert not failures, "\n".join(failures)
    intact()


def test_nul_characters_in_text_fields_are_refused_not_a_server_error(system: System, intact: Any) -> None:
    failures = []
    for case in CASES:
        if not any(kind == "text" for kind in string_fields(case.body_schema).values()):
            continue
        path, body = case.prepare(system)
        response, elapsed, key = timed_post(system, path, injected(body, case.body_schema, "a\x00b"), case.owner)
        failures += verdict(f"{case.route} with NUL in every text field", response, elapsed)
        if response.status_code >= 400:
            assert system.events_of_commands([key]) == []
    intact()
    assert not failures, "\n".join(failures)


# -- the code itself -------------------------------------------------------------------------------

SQL_WORDS = re.compile(r"\b(SELECT|INSERT|UPDATE|DELETE|FROM|WHERE|CREATE|DROP|ALTER|TRUNCATE|COPY|VALUES|"
                       r"ORDER BY|GROUP BY|LIMIT|JOIN|SET)\b")
EXECUTING = {"execute", "executemany", "copy", "SQL"}
# The reporting read models compose their SQL from fragments written in code (view queries with %(name)s
# placeholders, filter conditions, columns picked from fixed lists), never from request values: there only
# formatting inside an execute()/copy()/sql.SQL() call is checked, and each reviewed case is listed by
# file and expression, so a new one has to be looked at before it passes.
COMPOSED_FROM_CODE = {"reporting"}
REVIEWED = {("services/reporting/queries.py", "inner"), ("services/reporting/queries.py", "order or view.order")}


def _formatted(node: ast.AST) -> list[tuple[int, str, str]]:
    """(line, kind, expression) of each value formatted into SQL-looking text at `node` itself."""
    if isinstance(node, ast.JoinedStr):
        text = "".join(v.value for v in node.values if isinstance(v, ast.Constant) and isinstance(v.value, str))
        if SQL_WORDS.search(text):
            return [(node.lineno, "f-string", ast.unparse(v.value)) for v in node.values if isinstance(v, ast.FormattedValue)]
    elif isinstance(node, ast.BinOp) and isinstance(node.left, ast.Constant) and isinstance(node.left.value, str) \
            and isinstance(node.op, (ast.Mod, ast.Add)) and SQL_WORDS.search(node.left.value):
        return [(node.lineno, "% or +", ast.unparse(node.right))]
    elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "format" \
            and isinstance(node.func.value, ast.Constant) and isinstance(node.func.value.value, str) \
            and SQL_WORDS.search(node.func.value.value):
        return [(node.lineno, "str.format", ", ".join(ast.unparse(a) for a in (*node.args, *node.keywords)))]
    return []


def _formatted_sql(path: Path, inside_calls_only: bool = False) -> list[tuple[int, str, str]]:
    """Values formatted into SQL text anywhere in a module (or only within execute()/copy()/sql.SQL() calls)."""
    tree = ast.parse(path.read_text())
    if not inside_calls_only:
        return [found for node in ast.walk(tree) for found in _formatted(node)]
    calls = [n for n in ast.walk(tree) if isinstance(n, ast.Call)
             and getattr(n.func, "attr", getattr(n.func, "id", None)) in EXECUTING]
    return sorted({found for call in calls for arg in (*call.args, *(k.value for k in call.keywords))
                   for node in ast.walk(arg) for found in _formatted(node)})


def test_no_value_is_formatted_into_sql_text_anywhere_in_services() -> None:
    """Values go to execute() as parameters; identifiers through psycopg.sql (sql.SQL(...).format is fine)."""
    offending = []
    for path in sorted((ROOT / "services").rglob("*.py")):
        relative = str(path.relative_to(ROOT))
        composed = path.relative_to(ROOT / "services").parts[0] in COMPOSED_FROM_CODE
        for line, kind, expression in _formatted_sql(path, inside_calls_only=composed):
            if (relative, expression) not in REVIEWED:
                offending.append(f"{relative}:{line}: {kind} formats {expression!r} into SQL text")
    assert not offending, "\n".join(offending)


def test_the_static_check_finds_what_it_looks_for(tmp_path: Path) -> None:
    sample = tmp_path / "bad.py"
    sample.write_text("def f(conn, name, n):\n"
                      "    conn.execute(f\"SELECT * FROM events WHERE stream = '{name}'\")\n"
                      "    conn.execute(\"DELETE FROM events WHERE version = %s\" % n)\n"
                      "    conn.execute(\"SELECT * FROM t WHERE a = '{}'\".format(name))\n"
                      "    conn.execute(\"SELECT * FROM t WHERE a = \" + name)\n"
                      "    conn.execute(\"SELECT * FROM t WHERE a = %s\", (name,))\n")
    assert [kind for _, kind, _ in _formatted_sql(sample)] == ["f-string", "% or +", "str.format", "% or +"]
    assert len(_formatted_sql(sample, inside_calls_only=True)) == 4
