"""Every role (and no token, a token nobody issued, a malformed header) against every write endpoint of
selection, posting and assessment: 401 or 403, with a problem saying what is missing, exactly where the
roles of domain.md say, and nothing written; everywhere else the request gets through.
"""
from __future__ import annotations

import json
from typing import Any

import psycopg
import pytest
import requests

from tests.security.catalogue import BY_ROUTE, CASES, HOME_UNIT, WriteCase
from tests.security.conftest import PRINCIPALS, ROLE_PRINCIPAL, System, new_key, ok, routes, write_routes
from tests.support.api import uid

ROLES = ("sending_unit", "organisation_department", "party_committee", "host_unit", "third_party_agency", "auditor",
         "integration", "operator")
OD = {"organisation_department"}
HOST = {"host_unit"}
PUBLIC = set(ROLES)  # anyone, without a token: anonymous raters cast ballots with one-time ballot tokens
ONE = "/assessment/placements/{placement_id}/assessments/{period}"
CAMPAIGN = "/assessment/campaigns/{campaign_id}"

# Who may write what, read from domain.md ("Roles that act in the system" and each gate):
EXPECTED: dict[str, set[str]] = {
    # Cadre register: the organisation department, and other HR systems through the integration contract.
    "POST /selection/cadres": {"integration", "organisation_department"},
    "POST /selection/cadres/bulk": {"integration", "organisation_department"},
    "POST /selection/cadres/import": {"integration", "organisation_department"},
    # the unit register names units (清水镇): kept by whoever keeps the cadre register
    "POST /selection/units": {"integration", "organisation_department"},
    # Reserve pool, retention, erasure and eligibility policy: the organisation department runs the process.
    "POST /selection/cadres/{cadre_id}/reserve-pool": OD,
    "POST /selection/cadres/{cadre_id}/reserve-pool/removal": OD,
    "POST /selection/cadres/{cadre_id}/retention": OD,
    "POST /selection/cadres/{cadre_id}/erasure": OD,
    "POST /selection/policies": OD,
    # Gate 1: unit recommendation -> organisation-department inspection -> party-committee approval;
    # withdrawal at any step by the recommending unit or the organisation department.
    "POST /selection/nominations": {"sending_unit"},
    "POST /selection/nominations/{nomination_id}/inspection": OD,
    "POST /selection/nominations/{nomination_id}/decision": {"party_committee"},
    "POST /selection/nominations/{nomination_id}/withdrawal": {"sending_unit", "organisation_department"},
    "POST /selection/nominations/{nomination_id}/eligibility-override": OD,
    # Gates 2-4: the organisation department places, agrees terms, extends, ends, rewards and penalises;
    # the tripartite agreement is signed by its three parties; the host unit supervises day to day.
    "POST /posting/placements": OD,
    "POST /posting/placements/{placement_id}/agreement": OD,
    "POST /posting/placements/{placement_id}/agreement/amendment": OD,
    "POST /posting/placements/{placement_id}/agreement/signatures": {"organisation_department", "sending_unit",
                                                                     "host_unit"},
    "POST /posting/placements/{placement_id}/start": {"organisation_department", "host_unit"},
    "POST /posting/placements/{placement_id}/extension": OD,
    "POST /posting/placements/{placement_id}/completion": OD,
    "POST /posting/placements/{placement_id}/recall": OD,
    "POST /posting/placements/{placement_id}/check-ins": HOST,
    "POST /posting/placements/{placement_id}/attendance": HOST,
    "POST /posting/placements/{placement_id}/discipline-incidents": {"organisation_department", "host_unit"},
    "POST /posting/placements/{placement_id}/trainings": {"organisation_department", "host_unit"},
    "POST /posting/placements/{placement_id}/rewards": OD,
    "POST /posting/placements/{placement_id}/penalties": OD,
    "POST /posting/plans": OD,
    # Term lengths and the check-in interval are the county's local settings, like selection's age caps.
    "POST /posting/policies": OD,
    # Annual assessment is run by the host unit; appeals come from the sending unit or the organisation department.
    "POST /assessment/policies": OD,
    "POST /assessment/assessments": HOST,
    f"POST {ONE}/self-evaluation": HOST,
    f"POST {ONE}/self-evaluation/corrections": HOST,
    f"POST {ONE}/ballot-tokens": HOST,
    "POST /assessment/ballots": PUBLIC,
    f"POST {ONE}/ballots": HOST,
    f"POST {ONE}/tallies": HOST,
    f"POST {ONE}/democratic-corrections": OD,  # the vote is corrected by the organisation department alone
    f"POST {ONE}/performance-scores": HOST,
    f"POST {ONE}/performance-scores/corrections": HOST,
    f"POST {ONE}/performance-adjustments": HOST,
    f"POST {ONE}/finalisation": HOST,
    f"POST {ONE}/appeals": {"sending_unit", "organisation_department"},
    # Leadership-team assessment: the organisation department, with the appointed agency's survey.
    "POST /assessment/campaigns": OD,
    f"POST {CAMPAIGN}/democratic-scores": OD,
    f"POST {CAMPAIGN}/team-scores": OD,
    f"POST {CAMPAIGN}/interview-notes": OD,
    f"POST {CAMPAIGN}/findings": OD,
    f"POST {CAMPAIGN}/survey-report": {"third_party_agency"},
    f"POST {CAMPAIGN}/units/{{unit}}/finalisation": OD,
    f"POST {CAMPAIGN}/units/{{unit}}/result-uses": OD,
}
# Not one write for these (domain.md: the auditor is read-only; operators scale services).
NEVER_WRITE = {"auditor", "operator"}
# Callers without a usable principal: (name, Authorization header or None).
ANONYMOUS = [("no token", None), ("unknown token", "Bearer sec-nobody-issued-this"),
             ("malformed header", "Token abc"), ("empty bearer", "Bearer ")]


def test_the_route_tables_grant_exactly_what_domain_md_says() -> None:
    granted = {f"{r.method} {r.path}": (PUBLIC if r.public else set(r.roles or ())) for r in write_routes()}
    assert granted == EXPECTED
    assert not any(NEVER_WRITE & roles for route, roles in EXPECTED.items() if roles is not PUBLIC)
    assert set(EXPECTED) == {c.route for c in CASES}


def test_only_the_operator_replays_or_dismisses_parked_messages() -> None:
    """The one write an operator has (docs/runbook.md): it closes a consumer's parked message, no domain step."""
    from tests.security.conftest import operation_routes

    granted = {f"{r.method} {r.path}": set(r.roles or ()) for r in operation_routes()}
    assert granted == {f"POST /{service}/parked/{{parked_id}}/{verb}": {"operator"}
                       for service in ("selection", "posting", "assessment") for verb in ("replay", "dismiss")}


def _post(system: System, path: str, body: Any, authorization: str | None, key: str) -> requests.Response:
    headers = {"Idempotency-Key": key, "X-Correlation-Id": key}
    if authorization is not None:
        headers["Authorization"] = authorization
    return requests.post(system.service_of(path).base + path, json=body, headers=headers, timeout=60)


def _bearer(system: System, principal: str) -> str:
    return f"Bearer {system.tokens[principal]}"


def _problem(response: requests.Response, status: int, rule: str, *mentions: str) -> list[str]:
    """What is wrong with a refusal (empty when it is the expected problem)."""
    wrong = []
    if response.status_code != status:
        return [f"status {response.status_code}, not {status}: {response.text[:300]}"]
    if not response.headers.get("Content-Type", "").startswith("application/problem+json"):
        wrong.append(f"content type {response.headers.get('Content-Type')}")
    body = response.json()
    if body.get("rule") != rule:
        wrong.append(f"rule {body.get('rule')!r}, not {rule!r}")
    detail = body.get("detail") or ""
    wrong += [f"detail {detail!r} does not mention {m!r}" for m in mentions if m not in detail]
    return wrong


@pytest.mark.parametrize("route", [c.route for c in CASES])
def test_every_role_against_every_write_endpoint(system: System, route: str) -> None:
    case: WriteCase = BY_ROUTE[route]
    allowed = EXPECTED[route]
    path, body = case.prepare(system)
    before = system.quiet(still=0.3)
    failures: list[str] = []
    refused: list[str] = []

    if allowed is not PUBLIC:
        for name, header in ANONYMOUS:
            key = new_key()
            refused.append(key)
            failures += [f"{name}: {w}" for w in _problem(_post(system, path, body, header, key), 401, "authentication",
                                                           "Authorization" if header is None else "token")]
        for role in sorted(set(ROLES) - allowed):
            key = new_key()
            refused.append(key)
            response = _post(system, path, body, _bearer(system, ROLE_PRINCIPAL[role]), key)
            failures += [f"{role}: {w}" for w in _problem(response, 403, "role_not_allowed", role, *sorted(allowed))]
    for principal, rule in case.foreign.items():
        key = new_key()
        refused.append(key)
        response = _post(system, path, body, _bearer(system, principal), key)
        unit = PRINCIPALS[principal][2] or ""
        failures += [f"{principal} (other unit): {w}" for w in _problem(response, 403, rule, unit)]

    after = system.quiet(still=0.3)
    assert not failures, "\n".join(failures)
    own = path.strip("/").split("/")[0]  # other services may still take in earlier events through their consumers
    assert after[own] == before[own], f"refused requests changed the event log: {before} -> {after}"
    assert system.events_of_commands(refused) == []

    # Every admitted role, on a fresh target, gets through (the refusals above are not blanket ones).
    callers = [None, "unknown token", *ROLES] if allowed is PUBLIC else sorted(allowed)
    for caller in callers:
        path, body = case.prepare(system)
        header = (None if caller is None else "Bearer nobody" if caller == "unknown token"
                  else _bearer(system, ROLE_PRINCIPAL[caller]))
        response = _post(system, path, body, header, new_key())
        if response.status_code not in (200, 201):
            failures.append(f"{caller} (admitted): {response.status_code} {response.text[:300]}")
    assert not failures, "\n".join(failures)


@pytest.fixture(scope="module")
def readable(system: System) -> dict[str, str]:
    """Path parameters naming real aggregates, for every read endpoint."""
    from tests.security.catalogue import _campaign_finalised, _finalised

    path = _finalised(system)
    placement_id, period = path.split("/")[3], path.split("/")[5]
    nomination_id = ok(system.posting.get(f"/posting/placements/{placement_id}"))["nomination_id"]
    cadre_id = ok(system.posting.get(f"/posting/placements/{placement_id}"))["cadre_id"]
    unit_id = uid("township")
    ok(system.selection.post("/selection/units", {"unit_id": unit_id, "name": "清水镇"}, "hr"))
    return {"cadre_id": cadre_id, "nomination_id": nomination_id, "placement_id": placement_id, "period": period,
            "year": "2025", "campaign_id": _campaign_finalised(system), "unit": HOME_UNIT, "unit_id": unit_id}


READS = [f"{r.method} {r.path}" for r in routes() if r.method == "GET"]


@pytest.mark.parametrize("route", READS)
def test_the_auditor_reads_everything_and_no_token_reads_nothing(system: System, readable: dict[str, str],
                                                                  route: str) -> None:
    path = route.split(" ", 1)[1].format(**readable)
    client = system.service_of(path)
    as_auditor = client.get(path, "auditor")
    assert as_auditor.status_code == 200, as_auditor.text
    anonymous = requests.get(client.base + path, timeout=30)
    assert _problem(anonymous, 401, "authentication", "Authorization") == []


def test_the_auditor_and_the_operator_write_nothing_anywhere(system: System) -> None:
    """A sweep of every write endpoint as both, on real targets, with the log counted around it."""
    targets = [(c, *c.prepare(system)) for c in CASES if EXPECTED[c.route] is not PUBLIC]
    before = system.quiet(still=2.0)
    keys = []
    for case, path, body in targets:
        for principal in ("auditor", "operator"):
            keys.append(key := new_key())
            response = _post(system, path, body, _bearer(system, principal), key)
            assert response.status_code == 403, f"{principal} {case.route}: {response.status_code} {response.text}"
    assert system.quiet(still=1.0) == before
    assert system.events_of_commands(keys) == []


def test_a_third_party_agency_uploads_only_its_own_survey(system: System) -> None:
    from tests.security.catalogue import SURVEY

    campaign_id = system.campaign()
    path = f"/assessment/campaigns/{campaign_id}/survey-report"
    before = system.quiet(still=0.3)
    rival = system.assessment.post(path, {"csv": SURVEY}, "agency_rival")
    assert _problem(rival, 403, "not_own_unit", "rival-polling-co") == []
    assert system.quiet(still=0.3)["assessment"] == before["assessment"]
    assert ok(system.assessment.post(path, {"csv": SURVEY}, "agency"))["events"]


# -- reads: a unit reads its own and nothing of another unit's --------------------------------------------


def test_an_assessed_unit_reads_only_its_own_teams_results_in_a_campaign_of_several_units(system: System) -> None:
    """A leadership-team campaign assesses several units: each unit reads its own team's sources, grade and how
    the result is used (domain.md, Gate 3 "a unit reaches only its own"), never a fellow unit's."""
    from tests.security.catalogue import FOCUS, _campaign_finalised

    campaign_id = _campaign_finalised(system)  # county-finance finalised with a recorded use; county-education too
    path = f"/assessment/campaigns/{campaign_id}"
    other = "county-education"
    ok(system.assessment.post(path + "/democratic-scores", {"unit": other, "focus_scores": FOCUS, "respondents": 30},
                              "od"))
    ok(system.assessment.post(path + "/team-scores", {"unit": other, "source": "performance", "score": 61, "note": "考核"},
                              "od"))
    ok(system.assessment.post(path + "/interview-notes", {"unit": other, "focus": "service_function", "note": "班子不团结"},
                              "od"))
    ok(system.assessment.post(path + "/team-scores", {"unit": other, "source": "qualitative", "score": 60, "note": "评议"},
                              "od"))
    ok(system.assessment.post(path + f"/units/{other}/finalisation", {"team_grade": "poor", "reason": "问题较多"},
                              "od"))
    ok(system.assessment.post(path + f"/units/{other}/result-uses", {"use": "cadre_adjustment", "note": "调整班子成员"},
                              "od"))
    assert set(ok(system.assessment.get(path, "od"))["units"]) == {HOME_UNIT, other}

    mine = ok(system.assessment.get(path, "finance"))
    assert set(mine["units"]) == {HOME_UNIT}, mine["units"]
    assert mine["units"][HOME_UNIT]["team_grade"] == "good"
    assert "调整班子成员" not in json.dumps(mine, ensure_ascii=False)
    theirs = ok(system.assessment.get(path, "education"))
    assert set(theirs["units"]) == {other} and theirs["units"][other]["team_grade"] == "poor"
    listed = [c for c in ok(system.assessment.get("/assessment/campaigns", "finance", limit=1000))["items"]
              if c["campaign_id"] == campaign_id]
    assert listed and listed[0]["finals"] == {HOME_UNIT: "good"} and listed[0]["units"] == [HOME_UNIT]
    # overseers still read every unit
    for reader in ("od", "pc", "auditor"):
        assert set(ok(system.assessment.get(path, reader))["units"]) == {HOME_UNIT, other}, reader


def test_a_corrected_scores_evidence_is_personal_and_gone_after_the_cadres_erasure(system: System) -> None:
    """The evidence of a performance score is about the cadre (sealed, erased with them); so is the evidence a
    correction of that score gives: after the erasure neither may still be read, in the view or the history."""
    from tests.security.catalogue import _scored
    from tests.security.conftest import eventually

    path = _scored(system)
    view = ok(system.assessment.get(path, "qingshui"))
    entry_id = view["performance"]["entries"][0]["entry_id"]
    evidence = f"走访台账{uid('ev')}"
    ok(system.assessment.post(path + "/performance-scores/corrections",
                              {"corrects_entry_id": entry_id, "score": 75, "evidence": evidence, "reason": "漏记"},
                              "qingshui"))
    assert evidence in json.dumps(ok(system.assessment.get(path, "qingshui")), ensure_ascii=False)

    cadre_id = view["cadre_id"]
    ok(system.selection.post(f"/selection/cadres/{cadre_id}/erasure", {"reason": "本人依法申请删除"}, "od"))
    first = view["performance"]["entries"][0]["evidence"]

    def shown() -> str:
        return json.dumps(ok(system.assessment.get(path, "auditor")), ensure_ascii=False)

    eventually(lambda: first not in shown() and evidence not in shown())  # the erasure has reached assessment

    for reader in ("qingshui", "finance", "auditor"):
        for route in (path, path + "/history"):
            assert evidence not in json.dumps(ok(system.assessment.get(route, reader)), ensure_ascii=False), (reader, route)
    with psycopg.connect(system.db) as conn:
        raw = conn.execute("SELECT string_agg(data::text, ' ') FROM assessment.events").fetchone()[0]
    assert evidence not in raw


# -- reads of the cadre register by a host unit ---------------------------------------------------------------


def _recorded_at(system: System, stream: str, type_: str) -> str:
    """When selection recorded the stream's event of `type_`: an `as_of` on either side of it is exact."""
    with psycopg.connect(system.db) as conn:
        row = conn.execute("SELECT recorded_at FROM selection.events WHERE stream = %s AND type = %s",
                           (stream, type_)).fetchone()
    assert row is not None, f"no {type_} in {stream}"
    return str(row[0].isoformat())


def _listed(system: System, reader: str, cadre_id: str, **params: str) -> bool:
    items = ok(system.selection.get("/selection/cadres", reader, limit=1000, **params))["items"]
    return cadre_id in [c["cadre_id"] for c in items]


def test_a_host_unit_reads_the_cadre_nominated_or_seconded_to_it_and_no_other_host_unit_does(system: System) -> None:
    """The refusal says a host unit reads the cadres seconded to it: qingshui, to which a cadre of county-finance is
    approved, reads that cadre, alone and in the list, as of the approval and after; baima, no host of theirs,
    does not; before the recommendation qingshui did not either."""
    cadre_id = system.cadre(name="周晓燕")
    nomination_id = system.nomination(cadre_id)  # to qingshui-township
    ok(system.selection.post(f"/selection/nominations/{nomination_id}/inspection", {"findings": "德才兼备", "passed": True},
                             "od"))
    ok(system.selection.post(f"/selection/nominations/{nomination_id}/decision",
                             {"approved": True, "decision_ref": "县委〔2025〕12号", "decision_date": "2025-03-01"}, "pc"))
    path = f"/selection/cadres/{cadre_id}"

    seen = ok(system.selection.get(path, "qingshui"))
    assert (seen["cadre_id"], seen["name"], seen["home_unit"]) == (cadre_id, "周晓燕", HOME_UNIT)
    assert _listed(system, "qingshui", cadre_id)
    assert _problem(system.selection.get(path, "baima"), 403, "not_own_record", cadre_id) == []
    assert not _listed(system, "baima", cadre_id)
    # as of a moment before it was recommended to qingshui, qingshui had no claim on the cadre
    registered = _recorded_at(system, f"cadre-{cadre_id}", "selection.CadreRegistered")
    assert _problem(system.selection.get(path, "qingshui", as_of=registered), 403, "not_own_record", cadre_id) == []
    assert not _listed(system, "qingshui", cadre_id, as_of=registered)
    approved = _recorded_at(system, f"nomination-{nomination_id}", "selection.NominationApproved")
    assert ok(system.selection.get(path, "qingshui", as_of=approved))["cadre_id"] == cadre_id
    assert _listed(system, "qingshui", cadre_id, as_of=approved)


def test_a_host_unit_no_longer_reads_a_cadre_whose_nomination_to_it_was_withdrawn(system: System) -> None:
    """While the nomination is on its way the host unit reads the cadre it is to receive; once withdrawn the
    cadre is not coming, and the host unit reads the cadre only as of the time the nomination stood."""
    cadre_id = system.cadre()
    nomination_id = system.nomination(cadre_id)
    path = f"/selection/cadres/{cadre_id}"
    assert ok(system.selection.get(path, "qingshui"))["cadre_id"] == cadre_id
    assert _listed(system, "qingshui", cadre_id)

    ok(system.selection.post(f"/selection/nominations/{nomination_id}/withdrawal", {"reason": "本人另有任用"}, "finance"))

    assert _problem(system.selection.get(path, "qingshui"), 403, "not_own_record", cadre_id) == []
    assert not _listed(system, "qingshui", cadre_id)
    recommended = _recorded_at(system, f"nomination-{nomination_id}", "selection.NominationRecommended")
    assert ok(system.selection.get(path, "qingshui", as_of=recommended))["cadre_id"] == cadre_id
    assert _listed(system, "qingshui", cadre_id, as_of=recommended)


def test_a_host_unit_reads_an_erased_cadre_seconded_to_it_without_the_erased_name(system: System) -> None:
    cadre_id = system.cadre(name="欧阳明远")
    system.nomination(cadre_id)
    ok(system.selection.post(f"/selection/cadres/{cadre_id}/erasure", {"reason": "本人依法申请删除"}, "od"))

    seen = ok(system.selection.get(f"/selection/cadres/{cadre_id}", "qingshui"))
    listed = [c for c in ok(system.selection.get("/selection/cadres", "qingshui", limit=1000))["items"]
              if c["cadre_id"] == cadre_id]
    assert seen["erased"] and listed and listed[0]["erased"]
    assert "欧阳明远" not in json.dumps([seen, listed], ensure_ascii=False)
