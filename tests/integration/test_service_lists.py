"""The services' lists, as the API pages them, against a real event log: whatever shortcut a list takes,
its page must be what folding every stream of the log would give.

Posting's placements are served from the folds the service keeps (filled in bulk the first time, refreshed
with only what each stream recorded since) and only the page's placements are folded in full (the kept
folds leave personal text out); a cadre's placements are found by their planning event. Assessment's are
chosen by what they were opened for (their opening events alone) and only the page is folded, unless the
status is asked for.
"""
from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import UTC, date, datetime
from typing import Any

import pytest
from psycopg_pool import ConnectionPool

from services.assessment import domain as ad
from services.assessment import handlers as ah
from services.assessment import views as av
from services.backbone.commands import Aggregates
from services.backbone.domain import Actor
from services.backbone.scope import unit_of
from services.backbone.store import EventStore
from services.backbone.vault import Vault
from services.posting import domain as pd
from services.posting import handlers as h
from services.posting import queries as q
from services.selection import handlers as sh
from tests.conftest import migrated_schema, new_event

UNITS = ("qingshui-township", "baima-township", "county-petition-office")
HOMES = ("county-finance", "county-education")


@pytest.fixture
def aggregates(db_url: str) -> Iterator[Aggregates]:
    with migrated_schema(db_url, "posting") as schema, ConnectionPool(db_url, min_size=1, max_size=4) as pool:
        yield Aggregates(EventStore(pool, schema, vault=Vault(pool, schema)), h.REGISTRY)


def plan(agg: Aggregates, i: int, cadre_id: str, rng: random.Random) -> None:
    pid = f"p{i:04d}"
    events = [new_event("posting.PlacementPlanned", {
        "placement_id": pid, "nomination_id": f"n{i:04d}", "cadre_id": cadre_id, "cadre_rank": "section_member",
        "placement_type": rng.choice(("gap_filling", "strength", "docking")), "home_unit": rng.choice(HOMES),
        "host_unit": rng.choice(UNITS), "host_post": "副镇长", "post_level": "deputy_section",
        "posting_mode": "full_time", "term_months": 12, "start_date": "2025-03-01"})]
    fate = rng.random()
    if fate > 0.3:
        events.append(new_event("posting.PlacementStarted", {"placement_id": pid, "started_on": "2025-03-01",
                                                              "ends_on": "2026-03-01"}))
    if fate > 0.8:
        events.append(new_event("posting.PlacementRecalled", {"placement_id": pid, "recalled_on": "2025-09-01",
                                                               "reason": f"召回原因 {i}"}))
    agg.store.append(h.placement_stream(pid), events)


def slow(agg: Aggregates, readable: Any, until: datetime | None = None, **filters: str | None) -> list[dict[str, Any]]:
    """The list the long way: every placement stream folded from the whole log, then filtered."""
    by_stream: dict[str, list[Any]] = {}
    for recorded in agg.store.read_streams_prefix("placement-"):
        if until is None or recorded.recorded_at <= until:
            by_stream.setdefault(recorded.stream, []).append(h.REGISTRY.load(recorded))
    views = []
    for stream in sorted(by_stream):
        state = pd.fold_placement(by_stream[stream])
        if state is not None and readable(state) and all(getattr(state, k) == v for k, v in filters.items()):
            views.append(q.placement_view(state, len(by_stream[stream])))
    return views


def everyone(placement: Any) -> bool:
    return True


def qingshui(placement: Any) -> bool:
    """A host unit's view (given a placement, or what it was planned for, as the service's check is)."""
    return unit_of(placement, "host_unit") == "qingshui-township"


FILTERS = ({}, {"status": "active"}, {"status": "recalled", "home_unit": "county-finance"}, {"cadre_id": "c007"},
           {"cadre_id": "c999"}, {"host_unit": "baima-township"})


def test_placement_pages_now_and_as_of_equal_folding_the_whole_log(aggregates: Aggregates) -> None:
    rng = random.Random(7)
    for i in range(130):  # more than COLD_STREAMS: the first list fills the folds in bulk
        plan(aggregates, i, f"c{i % 40:03d}", rng)
        if i == 89:
            earlier = datetime.now(UTC)

    for until in (None, earlier):
        for readable in (everyone, qingshui):
            for filters in FILTERS:
                expected = slow(aggregates, readable, until, **filters)
                for offset, limit in ((0, 10), (25, 50), (120, 100)):
                    views, total = q.placement_page(aggregates, offset, limit, readable, until, **filters)
                    assert total == len(expected), (until, filters)
                    assert views == expected[offset:offset + limit], (until, filters, offset, limit)

    recalled = slow(aggregates, everyone, status="recalled")
    assert recalled and all(v["recall_reason"].startswith("召回原因") for v in recalled)
    assert {v["placement_id"] for v in q.placements(aggregates, cadre_id="c007")} == {"p0007", "p0047", "p0087", "p0127"}
    assert len(slow(aggregates, everyone, earlier)) == 90

    # later events reach the list: only the streams that changed are read again
    aggregates.store.append(h.placement_stream("p0000"), [new_event(
        "posting.PlacementRecalled", {"placement_id": "p0000", "recalled_on": "2025-10-01", "reason": "后来召回"})])
    plan(aggregates, 500, "c007", rng)
    views, total = q.placement_page(aggregates, 0, 1000, everyone)
    assert views == slow(aggregates, everyone) and total == 131
    assert next(v for v in views if v["placement_id"] == "p0000")["status"] == "recalled"
    assert len(q.placements(aggregates, cadre_id="c007")) == 5


def test_the_plan_counts_placements_by_type_and_start_year(aggregates: Aggregates) -> None:
    rng = random.Random(3)
    for i in range(60):
        plan(aggregates, i, f"c{i:03d}", rng)
    placed = q.placements(aggregates)

    counts = q.plan_against_actual(aggregates, 2025)["actual"]

    assert sum(counts.values()) == 60
    assert counts == {t: sum(v["placement_type"] == t for v in placed) for t in counts}
    assert sum(q.plan_against_actual(aggregates, 2024)["actual"].values()) == 0
    assert date(2025, 3, 1) == placed[0]["start_date"]


@pytest.fixture
def assessments(db_url: str) -> Iterator[Aggregates]:
    with migrated_schema(db_url, "assessment") as schema, ConnectionPool(db_url, min_size=1, max_size=4) as pool:
        yield Aggregates(EventStore(pool, schema, vault=Vault(pool, schema)), ah.REGISTRY)


def open_assessment(agg: Aggregates, i: int, rng: random.Random) -> None:
    aid, host, home, year = f"p{i:04d}/{2024 + i % 3}", rng.choice(UNITS), rng.choice(HOMES), 2024 + i % 3
    opened = {"assessment_id": aid, "kind": "annual", "year": year, "placement_id": f"p{i:04d}",
              "cadre_id": f"c{i % 25:03d}", "host_unit": host, "home_unit": home, "placement_type": "gap_filling",
              "policy_version": "assess-2025",
              "policy": {"version": "assess-2025", "effective_from": "2025-01-01", "min_group_count": 5}}
    events = [new_event("assessment.AssessmentOpened", opened)]
    if rng.random() > 0.5:
        events.append(new_event("assessment.AssessmentFinalised", {
            "assessment_id": aid, "cadre_id": opened["cadre_id"], "placement_id": opened["placement_id"],
            "host_unit": host, "year": year, "kind": "annual", "final_grade": "competent",
            "proposed_grade": "competent", "composite": 80.0, "policy_version": "assess-2025", "reason": None}))
    agg.store.append(ah.assessment_stream(aid), events)


def every_assessment(agg: Aggregates) -> list[Any]:
    by_stream: dict[str, list[Any]] = {}
    for recorded in agg.store.read_streams_prefix("assessment-"):
        by_stream.setdefault(recorded.stream, []).append(ah.REGISTRY.load(recorded))
    return sorted((a for a in map(ad.fold, by_stream.values()) if a is not None), key=lambda a: a.assessment_id)


@pytest.mark.parametrize("fold_candidates", [200, 5], ids=["statuses-folded", "statuses-from-the-kept-folds"])
def test_assessment_pages_chosen_by_their_opening_equal_folding_the_whole_log(
        assessments: Aggregates, fold_candidates: int, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ah, "FOLD_CANDIDATES", fold_candidates)
    rng = random.Random(11)
    for i in range(90):
        open_assessment(assessments, i, rng)
    baima = Actor("baima.li", "host_unit", "baima-township")
    education = Actor("edu.sun", "sending_unit", "county-education")
    od = Actor("od.zhang", "organisation_department", "county-od")
    everything = every_assessment(assessments)
    assert len(everything) == 90

    for actor in (od, baima, education):
        def readable(opened: dict[str, Any], actor: Actor = actor) -> bool:
            return av.may_read_units(actor, opened["host_unit"], opened["home_unit"])

        for filters in ({}, {"status": "finalised"}, {"status": "open", "year": 2025}, {"cadre_id": "c007"},
                        {"host_unit": "qingshui-township", "year": 2026}, {"cadre_id": "c999"}):
            expected = [a for a in everything if av.may_read(actor, a)
                        and all(getattr(a, k) == v for k, v in filters.items())]
            for offset, limit in ((0, 10), (7, 30), (80, 100)):
                page, total = ah.assessment_page(assessments, offset, limit, readable, **filters)
                assert total == len(expected), (actor.unit, filters)
                assert page == expected[offset:offset + limit], (actor.unit, filters, offset, limit)

    # a status that changes later is seen by the next list
    still_open = next(a for a in everything if a.status == "open")
    assessments.store.append(ah.assessment_stream(still_open.assessment_id), [new_event(
        "assessment.AssessmentFinalised", {
            "assessment_id": still_open.assessment_id, "cadre_id": still_open.cadre_id, "placement_id": still_open.placement_id,
            "host_unit": still_open.host_unit, "year": still_open.year, "kind": "annual", "final_grade": "excellent",
            "proposed_grade": "excellent", "composite": 92.0, "policy_version": "assess-2025", "reason": None})])
    finalised = [a for a in every_assessment(assessments) if a.status == "finalised"]
    page, total = ah.assessment_page(assessments, 0, 1000, lambda opened: True, status="finalised")
    assert still_open.assessment_id in {a.assessment_id for a in page}
    assert (page, total) == (finalised, len(finalised))


@pytest.fixture
def selection(db_url: str) -> Iterator[Aggregates]:
    with migrated_schema(db_url, "selection") as schema, ConnectionPool(db_url, min_size=1, max_size=4) as pool:
        yield Aggregates(EventStore(pool, schema, vault=Vault(pool, schema)), sh.REGISTRY)


def unversioned(answer: tuple[list[tuple[int, Any]], int]) -> tuple[list[Any], int]:
    """A selection page without its items' stream versions (the HTTP lists show those)."""
    page, total = answer
    return [item for _, item in page], total


def test_nomination_pages_chosen_by_their_units_equal_folding_the_whole_log(selection: Aggregates) -> None:
    rng = random.Random(5)
    for i in range(70):
        nid = f"n{i:04d}"
        selection.store.append(f"nomination-{nid}", [new_event("selection.NominationRecommended", {
            "nomination_id": nid, "cadre_id": f"c{i:03d}", "sending_unit": rng.choice(HOMES), "cadre_rank": "section_member",
            "placement_type": "gap_filling", "host_unit": rng.choice(UNITS), "host_post": "副镇长",
            "post_level": "deputy_section", "posting_mode": "full_time", "reason": "推荐理由", "recommended_on": "2025-02-01",
            "nominated_by": "finance.liu", "policy_version": "county-2025", "criteria": [], "eligible": True})])
    halfway = datetime.now(UTC)
    for i in range(70, 80):
        nid = f"n{i:04d}"
        selection.store.append(f"nomination-{nid}", [new_event("selection.NominationRecommended", {
            "nomination_id": nid, "cadre_id": f"c{i:03d}", "sending_unit": "county-finance", "cadre_rank": "section_member",
            "placement_type": "strength", "host_unit": "baima-township", "host_post": "副镇长",
            "post_level": "deputy_section", "posting_mode": "full_time", "reason": "推荐理由", "recommended_on": "2025-02-01",
            "nominated_by": "finance.liu", "policy_version": "county-2025", "criteria": [], "eligible": True})])

    for unit_of_reader in (None, "county-education", "baima-township"):
        def readable(units: dict[str, Any], unit: str | None = unit_of_reader) -> bool:
            return unit is None or unit in (units["sending_unit"], units["host_unit"])

        for until in (None, halfway):
            expected = sorted((n for n in sh.all_nominations(selection, until)
                               if readable({"sending_unit": n.sending_unit, "host_unit": n.host_unit})),
                              key=lambda n: n.nomination_id)
            assert len(expected) > 5
            for offset, limit in ((0, 10), (5, 100), (60, 15)):
                page, total = unversioned(sh.versioned_nomination_page(selection, offset, limit, readable, until))
                assert total == len(expected), (unit_of_reader, until)
                assert page == expected[offset:offset + limit], (unit_of_reader, until, offset, limit)


def test_cadre_pages_from_the_kept_folds_follow_a_change_of_unit_and_show_names(selection: Aggregates) -> None:
    rng = random.Random(9)
    for i in range(80):  # more than the cold-cache threshold: the first list fills the folds in bulk
        selection.store.append(f"cadre-c{i:03d}", [new_event("selection.CadreRegistered", {
            "cadre_id": f"c{i:03d}", "name": f"干部{i}", "rank": "section_member", "home_unit": rng.choice(HOMES),
            "birth_date": "1990-01-01", "grassroots_experience": True, "fit_for_duty": True, "reserve_cadre": False,
            "open_disciplinary_matter": False})])
    earlier = datetime.now(UTC)

    def every_cadre(until: datetime | None = None) -> list[Any]:
        return sorted((c for c in sh.all_cadres(selection, until) if c is not None), key=lambda c: c.cadre_id)

    def of(unit: str | None) -> Any:
        return lambda cadre: unit is None or cadre.home_unit == unit

    for unit in (None, "county-finance"):
        expected = [c for c in every_cadre() if of(unit)(c)]
        for offset, limit in ((0, 10), (30, 100)):
            page = unversioned(sh.versioned_cadre_page(selection, offset, limit, of(unit)))
            assert page == (expected[offset:offset + limit], len(expected))
    first = unversioned(sh.versioned_cadre_page(selection, 0, 3, of(None)))[0][0]
    assert first.name == "干部0"  # the kept folds have no names; pages do

    moved = next(c for c in every_cadre() if c.home_unit == "county-education")
    selection.store.append(f"cadre-{moved.cadre_id}", [new_event("selection.CadreUpdated", {
        "cadre_id": moved.cadre_id, "changes": {"home_unit": {"old": "county-education", "new": "county-finance"}}})])

    finance = [c for c in every_cadre() if c.home_unit == "county-finance"]
    assert moved.cadre_id in {c.cadre_id for c in finance}
    assert unversioned(sh.versioned_cadre_page(selection, 0, 100, of("county-finance"))) == (finance, len(finance))
    before = [c for c in every_cadre(earlier) if c.home_unit == "county-finance"]
    assert moved.cadre_id not in {c.cadre_id for c in before}
    assert unversioned(sh.versioned_cadre_page(selection, 0, 100, of("county-finance"), earlier)) == (before, len(before))
