"""The bad input users actually send, explicitly, against every write endpoint of selection, posting and
assessment: wrong content types, malformed JSON, invalid UTF-8, unknown fields, empty and huge strings,
31 February, full-width digits, far-future and far-past dates, oversized bodies, reused Idempotency-Keys;
and 50 concurrent approvals of one nomination.

Each refusal is a problem (application/problem+json with status, title, detail), never a 5xx or a stack
trace, and writes nothing: every request carries its own Idempotency-Key and X-Correlation-Id, and no
event anywhere may carry either; the log is also counted around each batch.
"""
from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from typing import Any

import marshmallow
import psycopg
import pytest
import requests

from tests.security.catalogue import (
    BY_ROUTE,
    CASES,
    WriteCase,
    date_fields,
    may_be_empty,
    string_fields,
    typed_fields,
    with_value,
)
from tests.security.conftest import System, new_key, ok
from tests.support.api import uid

TRACE = re.compile(r"Traceback \(most recent call last\)|File \"[^\"]+\", line \d+|\bpsycopg\b|SQLSTATE", re.I)
MB = 1_000_000


def send(system: System, path: str, principal: str | None, *, json_body: Any = None, data: bytes | None = None,
         content_type: str | None = "application/json", key: str | None = None,
         headers: dict[str, str] | None = None) -> tuple[requests.Response, str]:
    key = key or new_key()
    hdrs = {"Idempotency-Key": key, "X-Correlation-Id": key, **(headers or {})}
    if principal:
        hdrs["Authorization"] = f"Bearer {system.tokens[principal]}"
    if content_type:
        hdrs["Content-Type"] = content_type
    if json_body is not None:
        import json

        data = json.dumps(json_body, ensure_ascii=False).encode()
    url = system.service_of(path).base + path
    return requests.post(url, data=data, headers=hdrs, timeout=60), key


def problem(response: requests.Response, status: int | tuple[int, ...], field: str | None = None,
            rule: str | None = None) -> list[str]:
    """What is wrong with a refusal that should have one of `status` (empty when nothing is); a validation
    refusal must also name each refused field with a rule code, `field`'s being `rule` when given."""
    wanted = (status,) if isinstance(status, int) else status
    if response.status_code not in wanted:
        return [f"status {response.status_code}, not {wanted}: {response.text[:300]}"]
    wrong = []
    if TRACE.search(response.text):
        wrong.append(f"internals in the response: {response.text[:300]}")
    if not response.headers.get("Content-Type", "").startswith("application/problem+json"):
        return wrong + [f"content type {response.headers.get('Content-Type')!r}"]
    body = response.json()
    if not (body.get("status") == response.status_code and body.get("title") and body.get("detail")):
        wrong.append(f"incomplete problem {body}")
    if field and field.split(".")[0] not in (body.get("errors") or {}):
        wrong.append(f"errors do not name {field!r}: {body}")
    if body.get("rule") == "validation":
        wrong += rule_codes_missing(body, field, rule)
    return wrong


def rule_codes_missing(body: dict[str, Any], field: str | None, rule: str | None) -> list[str]:
    """What is wrong with a validation problem's `invalid_fields`: one entry per message of `errors`."""
    entries = body.get("invalid_fields")
    if not isinstance(entries, list) or len(entries) != messages_in(body.get("errors")):
        return [f"invalid_fields are not one per message of errors: {body}"]
    named = [e for e in entries if f"{e.get('field')}.".startswith(f"{field}.")]  # the field, or an item of it
    if field and rule and rule not in {e.get("rule") for e in named}:
        return [f"invalid_fields do not name {field!r} with rule {rule!r}: {entries}"]
    return []


def messages_in(errors: Any) -> int:
    if isinstance(errors, dict):
        return sum(messages_in(value) for value in errors.values())
    if isinstance(errors, list):
        return sum(1 if isinstance(m, str) else messages_in(m) for m in errors)
    return 1


def no_server_error(response: requests.Response) -> list[str]:
    if response.status_code >= 500:
        return [f"{response.status_code}: {response.text[:300]}"]
    if TRACE.search(response.text):
        return [f"internals in the response: {response.text[:300]}"]
    csv_export = response.request.path_url.split("?")[0].endswith(".csv") and response.status_code == 200
    allowed = ("application/json", "application/problem+json") + (("text/csv",) if csv_export else ())
    if not response.headers.get("Content-Type", "").startswith(allowed):
        return [f"content type {response.headers.get('Content-Type')!r}"]
    return []


class Batch:
    """Refused requests against one live target: failures collected, keys kept to prove nothing was written."""

    def __init__(self, system: System, case: WriteCase) -> None:
        self.system, self.case = system, case
        self.path, self.body = case.prepare(system)
        self.keys: list[str] = []
        self.failures: list[str] = []
        self.before = system.quiet(still=0.3)

    def expect(self, what: str, status: int | tuple[int, ...], field: str | None = None, rule: str | None = None,
               **kwargs: Any) -> None:
        response, key = send(self.system, kwargs.pop("path", self.path), self.case.owner, **kwargs)
        self.keys.append(key)
        self.failures += [f"{what}: {w}" for w in problem(response, status, field, rule)]

    def finish(self) -> None:
        after = self.system.quiet(still=0.3)
        written = self.system.events_of_commands(self.keys)
        assert not self.failures, f"{self.case.route}\n" + "\n".join(self.failures)
        assert written == [], f"refused requests wrote {written}"
        # The route's own log, counted (the others may still take in earlier events through their consumers).
        own = self.path.strip("/").split("/")[0]
        assert after[own] == self.before[own]
        # The target was live all along: the valid body still goes through.
        response, _ = send(self.system, self.path, self.case.owner, json_body=self.body)
        assert response.status_code in (200, 201), response.text


CONTENT_TYPES = ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x",
                 "application/xml", "application/json-patch+json", None]
MALFORMED = [b"{", b"{'reason': 'x'}", b'{"reason":', b"[1, 2", b"\xff\xfe\x00", b'{"reason": "x"} trailing',
             b'{"reason": NaN', b"\x00"]
NOT_AN_OBJECT = [b"", b"null", b"[]", b'"text"', b"42", b"true"]
INVALID_UTF8 = [b'{"reason": "\xff\xfe\xfd"}', b'{"reason": "\xc3\x28"}', b'{"reason": "\xc0\xaf"}']


@pytest.mark.parametrize("route", [c.route for c in CASES])
def test_bad_bodies_are_refused_with_a_problem_and_write_nothing(system: System, route: str) -> None:
    case = BY_ROUTE[route]
    batch = Batch(system, case)
    body, schema = batch.body, case.body_schema
    text_body = route.endswith("/cadres/import")
    for ctype in CONTENT_TYPES:
        batch.expect(f"Content-Type {ctype}", 415, json_body=body, content_type=ctype)
    for raw in MALFORMED:
        batch.expect(f"malformed JSON {raw!r}", 400, data=raw)
    for raw in NOT_AN_OBJECT:
        batch.expect(f"JSON that is not an object {raw!r}", (400, 422), data=raw)
    for raw in INVALID_UTF8:
        batch.expect(f"invalid UTF-8 {raw!r}", (400, 422), data=raw)
    batch.expect("unknown field", 422, "blood_type", "unknown_field", json_body={**body, "blood_type": "A"})
    for name in string_fields(schema):
        if not may_be_empty(schema, name):  # e.g. notes may be left empty
            batch.expect(f"empty {name}", 422, name, json_body=with_value(body, name, "", schema))
    for name in date_fields(schema):
        for value in ("2025-02-31", "2025-13-01", "２０２５-０３-０１", "2025/03/01", "yesterday",
                      "20250301", "2025-W09-6", "2025-3-1"):  # ISO 8601's other forms: the API writes YYYY-MM-DD
            batch.expect(f"{name}={value}", 422, name, "type", json_body={**body, name: value})
    # A number or a yes/no in the wrong JSON type is a typing error: refused, never rounded or guessed.
    for name in typed_fields(schema, marshmallow.fields.Integer):
        for value in (12.5, "12", True, 10**30, 1e300):
            batch.expect(f"{name}={value!r}", 422, name, "range" if value == 10**30 else "type", json_body={**body, name: value})
    for name in typed_fields(schema, marshmallow.fields.Boolean):
        for value in (1, 0, "true", "yes", "no", None):
            batch.expect(f"{name}={value!r}", 422, name, "type" if value is not None else "required",
                         json_body={**body, name: value})
    for name, kind in string_fields(schema).items():
        if kind == "text" and "." not in name:  # longer than any field allows, yet under the body limit
            named = None if name == "csv" else name  # a CSV's errors name its lines, not the body field
            batch.expect(f"a 600 000-character {name}", 422, named, "length",
                         json_body=with_value(body, name, "x" * 600_000, schema))
            break
    huge = {**body, "reason": "x" * (MB + 10)}
    batch.expect("a 1 MB+ string", 413, json_body=huge)
    batch.expect("a 2 MB body", 413, data=b'{"reason": "' + b"y" * 2 * MB + b'"}')
    # Refused either way; 422 today because a chunked body is not read at all (see the chunked test below).
    batch.expect("a 2 MB body sent chunked", (413, 422), data=iter([b'{"reason": "', b"z" * 2 * MB, b'"}']))
    batch.expect("a long Idempotency-Key", 400, json_body=body, key="k" * 201)
    batch.expect("a malformed If-Match", 400, json_body=body, headers={"If-Match": "version three"})
    if text_body:
        batch.expect("CSV with invalid UTF-8", (400, 422), data=b"cadre_id,name\n\xff\xfe,x\n", content_type="text/csv")
    batch.finish()


@pytest.mark.parametrize("route", ["POST /selection/cadres", "POST /posting/placements", "POST /assessment/assessments"])
def test_deeply_nested_json_is_refused_as_malformed(system: System, route: str) -> None:
    batch = Batch(system, BY_ROUTE[route])
    batch.expect("100 000 nested arrays", 400, data=b"[" * 100_000 + b"]" * 100_000)
    batch.expect("100 000 nested objects", 400, data=b'{"a":' * 100_000 + b"1" + b"}" * 100_000)
    batch.finish()


@pytest.mark.parametrize("csv_text", [
    "unit,score,summary\rcounty-finance,80,ok\r\rbare carriage returns",
    "unit,score,summary\ncounty-finance,80," + "x" * 140_000 + "\n",
], ids=["bare-carriage-return", "field-over-the-csv-limit"])
def test_a_malformed_survey_file_is_refused_with_the_line(system: System, csv_text: str) -> None:
    batch = Batch(system, BY_ROUTE["POST /assessment/campaigns/{campaign_id}/survey-report"])
    batch.expect("malformed survey CSV", 422, json_body={"csv": csv_text})
    batch.finish()


def test_a_valid_body_sent_chunked_is_read(system: System) -> None:
    case = BY_ROUTE["POST /selection/cadres"]
    path, body = case.prepare(system)
    import json

    raw = json.dumps(body, ensure_ascii=False).encode()
    response, _ = send(system, path, case.owner, data=iter([raw[:10], raw[10:]]))
    assert response.status_code == 200, response.text


def test_lone_surrogates_in_text_fields_are_refused_not_a_server_error(system: System) -> None:
    import json

    failures = []
    for case in CASES:
        texts = [n for n, kind in string_fields(case.body_schema).items() if kind == "text" and n != "ballot_token"]
        if not texts:
            continue
        path, body = case.prepare(system)
        for name in texts:
            body = with_value(body, name, "x\ud800y", case.body_schema)
        response, key = send(system, path, case.owner, data=json.dumps(body).encode())  # ASCII: "\ud800" escaped
        failures += [f"{case.route}: {w}{system.logged_error(response.text)}" for w in no_server_error(response)]
        if response.status_code >= 400:
            assert system.events_of_commands([key]) == []
    assert not failures, "\n".join(failures)


DATE_BUGS: dict[tuple[str, str, str], Any] = {}


def _date_cases() -> Iterator[Any]:
    for case in CASES:
        for name in date_fields(case.body_schema):
            for value in ("9999-12-31", "0001-01-01"):
                marks = [DATE_BUGS[(case.route, name, value)]] if (case.route, name, value) in DATE_BUGS else []
                yield pytest.param(case.route, name, value, marks=marks, id=f"{case.route} {name}={value}")


@pytest.mark.parametrize("route, name, value", list(_date_cases()))
def test_far_future_and_far_past_dates_are_answered_cleanly(system: System, route: str, name: str, value: str) -> None:
    """Accepted or refused with a reason, never a 5xx; if refused, nothing is written."""
    case = BY_ROUTE[route]
    path, body = case.prepare(system)
    system.quiet(still=0.3)
    response, key = send(system, path, case.owner, json_body={**body, name: value})
    assert no_server_error(response) == [], system.logged_error(response.text)
    if response.status_code >= 400:
        assert problem(response, response.status_code) == []
        assert system.events_of_commands([key]) == []


AS_OF = ["9999-12-31T23:59:59-12:00", "0001-01-01T00:00:00+14:00", "2025-02-31T00:00:00+08:00",
         "2025-03-01T00:00:00", "２０２５-０３-０１T00:00:00+08:00", "now"]


@pytest.mark.parametrize("value", AS_OF)
def test_as_of_at_the_ends_of_time_or_malformed_is_answered_cleanly(system: System, value: str) -> None:
    from tests.security.conftest import routes

    failures = []
    for route in routes():
        if route.method != "GET" or route.query is None or "as_of" not in route.query().fields:
            continue
        path = route.path.format(cadre_id="c-x", nomination_id="n-x", placement_id="p-x", period="2025",
                                 campaign_id="k-x", unit_id="u-x")
        response = system.service_of(path).get(path, "auditor", as_of=value)
        failures += [f"{route.path}: {w}" for w in no_server_error(response)]
    assert not failures, "\n".join(failures)


def test_full_width_digits_and_mixed_chinese_and_latin_text(system: System) -> None:
    name = "李Ming明 O'Brien-王（挂职）"
    cadre_id = system.cadre(name=name)
    assert system.selection.get(f"/selection/cadres/{cadre_id}").json()["name"] == name
    full_width = system.selection.post("/selection/cadres", {
        "cadre_id": uid("c"), "name": "张三", "rank": "clerk", "home_unit": "county-finance",
        "birth_date": "１９９２-０５-０１", "grassroots_experience": False, "fit_for_duty": True}, "hr")
    assert problem(full_width, 422, "birth_date") == []
    nomination_id = system.nomination(cadre_id, host_post="副镇长 Deputy Mayor №2", reason="缺少基层经历 lacks grassroots")
    assert system.selection.get(f"/selection/nominations/{nomination_id}").json()["host_post"] == "副镇长 Deputy Mayor №2"
    ok(system.selection.post(f"/selection/nominations/{nomination_id}/inspection", {"findings": "OK 德才兼备", "passed": True},
                             "od"))
    decided = system.selection.post(f"/selection/nominations/{nomination_id}/decision",
                                    {"approved": True, "decision_ref": "县委〔2025〕12号 No.12",
                                     "decision_date": "２０２５-０３-０１"}, "pc")
    assert problem(decided, 422, "decision_date") == []
    # A plan's counts as full-width digits in a string: either read as the number or refused, never a 5xx.
    plan = system.posting.post("/posting/plans", {"year": "２０３１", "gap_filling": "１９", "strength": 5, "docking": 3}, "od")
    assert no_server_error(plan) == []
    if plan.status_code == 200:
        assert system.posting.get("/posting/plans/2031").json()["planned"]["gap_filling"] == 19


def test_a_reused_idempotency_key_with_the_same_body_replays_and_appends_nothing(system: System) -> None:
    case = BY_ROUTE["POST /selection/nominations/{nomination_id}/inspection"]
    path, body = case.prepare(system)
    key = new_key()
    first, _ = send(system, path, "od", json_body=body, key=key)
    assert first.status_code == 200, first.text
    before = system.quiet(still=0.3)
    again, _ = send(system, path, "od", json_body=body, key=key)
    assert again.status_code == 200 and again.json()["replayed"] is True
    assert again.json()["events"] == first.json()["events"]
    assert system.quiet(still=0.3) == before


def test_a_reused_idempotency_key_with_a_different_body_is_refused_and_appends_nothing(system: System) -> None:
    path, body = BY_ROUTE["POST /selection/nominations/{nomination_id}/inspection"].prepare(system)
    key = new_key()
    assert send(system, path, "od", json_body=body, key=key)[0].status_code == 200
    before = system.quiet(still=0.3)
    failures = []
    different, _ = send(system, path, "od", json_body={**body, "passed": False, "findings": "不合格"}, key=key)
    failures += [f"different body: {w}" for w in problem(different, 422)]
    other_path, other_body = BY_ROUTE["POST /selection/cadres"].prepare(system)
    elsewhere, _ = send(system, other_path, "hr", json_body=other_body, key=key)
    failures += [f"another endpoint: {w}" for w in problem(elsewhere, 422)]
    assert system.quiet(still=0.3) == before, "a reused key appended"
    assert not failures, "\n".join(failures)


def _all_at_once(n: int, request: Any) -> list[requests.Response]:
    barrier, results, lock = threading.Barrier(n), [], threading.Lock()

    def run(i: int) -> None:
        barrier.wait()
        response = request(i)
        with lock:
            results.append(response)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    return results


@pytest.mark.parametrize("route", ["POST /selection/nominations/{nomination_id}/inspection",
                                   "POST /posting/placements/{placement_id}/check-ins", "POST /posting/placements",
                                   "POST /assessment/placements/{placement_id}/assessments/{period}/performance-scores"])
def test_ten_concurrent_sends_of_one_request_record_it_once_and_nine_say_replayed(system: System, route: str) -> None:
    case = BY_ROUTE[route]
    path, body = case.prepare(system)
    key = new_key()
    results = _all_at_once(10, lambda _: send(system, path, case.owner, json_body=body, key=key)[0])
    answers = [r.json() for r in results]
    assert all(r.status_code < 300 for r in results), [r.text for r in results]
    assert sorted(a["replayed"] for a in answers) == [False] + [True] * 9  # the retries are told so
    assert all(a["events"] == answers[0]["events"] for a in answers)
    caused = [e for e in system.events_of_commands([key]) if e[2].split(":")[0] == key]  # not its consumers' events
    assert len(caused) == len(answers[0]["events"])


def test_eight_check_ins_sent_at_once_are_all_recorded_and_with_one_if_match_only_one_is(system: System) -> None:
    """Without If-Match a command is decided again on what another writer just recorded (nothing is decided on a
    stale state, nothing refused for a race the user cannot see); with If-Match the version named must hold."""
    path, body = BY_ROUTE["POST /posting/placements/{placement_id}/check-ins"].prepare(system)
    free = _all_at_once(8, lambda i: send(system, path, "qingshui", json_body={**body, "work": f"走访{i}户"})[0])
    assert sorted(r.status_code for r in free) == [200] * 8, [r.text for r in free if r.status_code != 200]
    assert sorted(r.json()["version"] for r in free) == sorted({r.json()["version"] for r in free})  # one each

    version = max(r.json()["version"] for r in free)
    pinned = _all_at_once(8, lambda i: send(system, path, "qingshui", json_body={**body, "work": f"座谈{i}次"},
                                            headers={"If-Match": str(version)})[0])
    statuses = sorted(r.status_code for r in pinned)
    assert statuses.count(200) == 1 and set(statuses) <= {200, 409, 412}, statuses


def test_fifty_concurrent_approvals_of_one_nomination_one_succeeds_the_rest_conflict(system: System) -> None:
    nomination_id = system.inspected()
    path = f"/selection/nominations/{nomination_id}/decision"
    body = {"approved": True, "decision_ref": "县委〔2025〕12号", "decision_date": "2025-03-01"}
    barrier, results = threading.Barrier(50), []
    lock = threading.Lock()

    def approve() -> None:
        barrier.wait()
        response, _ = send(system, path, "pc", json_body=body)
        with lock:
            results.append(response)

    threads = [threading.Thread(target=approve) for _ in range(50)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)

    statuses = sorted(r.status_code for r in results)
    assert len(results) == 50 and statuses.count(200) == 1, statuses
    refused = [r for r in results if r.status_code != 200]
    assert all(r.status_code == 409 for r in refused), statuses
    assert {r.json()["rule"] for r in refused} <= {"concurrent_change", "step_order"}
    assert all("nomination" in r.json()["detail"] or "stream" in r.json()["detail"] for r in refused)
    assert all(problem(r, 409) == [] for r in refused)
    with psycopg.connect(system.db) as conn:
        types = [row[0] for row in conn.execute("SELECT type FROM selection.events WHERE stream = %s",
                                                (f"nomination-{nomination_id}",))]
    assert types.count("selection.NominationApproved") == 1
    assert len(types) == 3  # recommended, inspected, approved: nothing else


def _every_get_route() -> list[Any]:
    from tests.security.conftest import routes

    return [r for r in routes() if r.method == "GET"]


def test_a_control_character_in_a_path_or_a_query_is_refused_never_a_server_error(system: System) -> None:
    """NUL cannot even be looked up in PostgreSQL: a path holding one names nothing (404), a query value holding
    one is refused naming its parameter (422) — on every GET route (reporting's: test_reporting_requests)."""
    failures = []
    for route in _every_get_route():
        names = re.findall(r"{(\w+)}", route.path)
        if names:
            path = route.path.format(**{n: "x%00y" for n in names})
            response = system.service_of(path).get(path, "auditor")
            failures += [f"{route.path} with NUL: {w}" for w in problem(response, 404)]
        path = route.path.format(**{n: "x" for n in names})
        for name, f in (route.query().fields.items() if route.query else ()):
            if isinstance(f, marshmallow.fields.String):
                response = system.service_of(path).get(path, "auditor", **{name: "a\x00b"})
                failures += [f"{route.path}?{name}=NUL: {w}" for w in problem(response, 422, name)]
    assert not failures, "\n".join(failures)


def test_every_get_route_refuses_a_parameter_it_does_not_know_naming_it(system: System) -> None:
    """A misspelt filter (`?hots_unit=`) must not answer as if it were not there — also where a route takes none."""
    failures = []
    for route in _every_get_route():
        path = route.path.format(**{n: "x" for n in re.findall(r"{(\w+)}", route.path)})
        response = system.service_of(path).get(path, "auditor", hots_unit="county-finance")
        failures += [f"{route.path}?hots_unit=: {w}" for w in problem(response, 422, "hots_unit")]
    assert not failures, "\n".join(failures)


def test_unknown_paths_and_methods_are_answered_as_problems(system: System) -> None:
    for service in ("selection", "posting", "assessment"):
        client = system.client(service)
        unknown = requests.get(f"{client.base}/{service}/no-such-thing", timeout=30)
        assert problem(unknown, 404) == [] and unknown.json()["rule"] == "not_found"
        wrong = requests.delete(f"{client.base}/{service}/health", timeout=30)
        assert problem(wrong, 405) == [] and "GET" in wrong.headers["Allow"] and "allowed: GET" in wrong.json()["detail"]
    headers = system.selection.headers("hr", {"Content-Type": "application/json"})
    empty = requests.post(f"{system.selection.base}/selection/cadres", data=b"", timeout=30, headers=headers)
    assert problem(empty, 400) == [] and "empty" in empty.json()["detail"]
    listed = requests.post(f"{system.selection.base}/selection/cadres", data=b"[]", timeout=30, headers=headers)
    assert problem(listed, 422, "_body") == [] and "not an array" in listed.json()["detail"]
