"""Reporting's pure projections, without database or broker: versions, undo, attribution, withheld fields."""
from __future__ import annotations

import ast
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from services.reporting.labels import EVENT_TYPE
from services.reporting.model import SourceEvent, Working
from services.reporting.projections import RULES, needs_of, project_all

ROOT = Path(__file__).resolve().parents[2]
PURE = ("model.py", "projections.py", "rules_selection.py", "rules_posting.py", "rules_assessment.py", "labels.py")
T0 = datetime(2025, 3, 1, tzinfo=UTC)
PLANNED = {"placement_id": "p1", "nomination_id": "n1", "cadre_id": "c1", "cadre_rank": "deputy_section",
           "placement_type": "gap_filling", "home_unit": "county-finance", "host_unit": "qingshui-township",
           "host_post": "副镇长", "post_level": "deputy_section", "posting_mode": "same_level", "term_months": 12,
           "start_date": "2025-03-01"}


class History:
    """Events of one test, a day apart unless told otherwise, projected through one Working."""

    def __init__(self) -> None:
        self.working, self.n = Working(), 0

    def event(self, type_: str, at: datetime | None = None, **data: Any) -> SourceEvent:
        self.n += 1
        meta = {"actor": {"principal": "od.zhang", "role": "organisation_department", "unit": "county-od"},
                "correlation_id": "corr", "command_id": "cmd", "occurred_at": T0.isoformat(), "reason": "因为"}
        return SourceEvent(type_.split(".")[0], str(uuid.uuid4()), type_, 1, "s", self.n, (1, self.n, self.n),
                           at or T0 + timedelta(days=self.n), data, meta)

    def apply(self, *events: SourceEvent) -> list[tuple[SourceEvent, Exception]]:
        self.working.load(dict.fromkeys(needs_of(events)))
        return project_all(events, self.working)

    def versions(self, table: str, key: tuple[Any, ...]) -> list[dict[str, Any]]:
        return next(rows for t, k, _, rows in self.working.changes() if (t, k) == (table, key))


def test_each_change_is_a_new_version_valid_until_the_next_one() -> None:
    h = History()
    planned = h.event("posting.PlacementPlanned", **PLANNED)
    started = h.event("posting.PlacementStarted", placement_id="p1", started_on="2025-03-02", ends_on="2026-03-02")

    assert h.apply(planned, started) == []

    first, second = h.versions("placements", ("p1",))
    assert (first["status"], first["version"], first["valid_to"]) == ("planned", 1, started.recorded_at)
    assert (second["status"], second["version"], second["valid_to"]) == ("active", 2, None)
    assert second["event_id"] == started.event_id and second["cadre_id"] == "c1"


def test_a_version_never_starts_before_the_one_it_replaces() -> None:
    h = History()
    planned = h.event("posting.PlacementPlanned", **PLANNED)
    earlier = h.event("posting.CheckInRecorded", at=T0 - timedelta(days=30), placement_id="p1", checked_on="2025-04-01")

    h.apply(planned, earlier)

    first, second = h.versions("placements", ("p1",))
    assert second["valid_from"] == first["valid_from"] == first["valid_to"]


def test_a_malformed_event_is_undone_whole_and_the_next_one_applies() -> None:
    h = History()
    bad = h.event("posting.PlacementPlanned", **{**PLANNED, "start_date": None})
    good = h.event("posting.PlacementPlanned", **{**PLANNED, "placement_id": "p2"})

    failed = h.apply(bad, good)

    assert [event for event, _ in failed] == [bad]
    assert h.working.get("placements", ("p1",)) is None and h.working.get("placements", ("p2",))["status"] == "planned"
    assert [row["event_id"] for row in h.working.timeline] == [good.event_id]


def test_an_amended_agreement_needs_every_signature_again() -> None:
    h = History()
    sign = [h.event("posting.AgreementSigned", placement_id="p1", version=1, party=p, signed_by="x")
            for p in ("organisation_department", "sending_unit", "host_unit")]
    h.apply(h.event("posting.PlacementPlanned", **PLANNED), h.event("posting.AgreementDrafted", placement_id="p1", version=1),
            *sign)
    assert h.working.get("placements", ("p1",))["status"] == "agreement_signed"

    h.apply(h.event("posting.AgreementAmended", placement_id="p1", version=2, reason="任务调整"))

    row = h.working.get("placements", ("p1",))
    assert (row["status"], row["signatures"], row["fully_signed"], row["agreement_version"]) == ("planned", [], False, 2)


def test_events_are_attributed_to_their_cadre_through_the_rows_of_their_own_source() -> None:
    h = History()
    h.apply(h.event("posting.PlacementPlanned", **PLANNED),
            h.event("posting.TrainingRecorded", placement_id="p1", course="党史", provider="党校", hours=8))

    training = h.working.timeline[-1]
    assert (training["cadre_id"], training["units"]) == ("c1", ["county-finance", "county-od", "qingshui-township"])
    assert (training["actor_principal"], training["reason"], training["correlation_id"]) == ("od.zhang", "因为", "corr")


def test_ballot_grades_and_tallies_never_reach_the_timeline_and_corrections_supersede() -> None:
    h = History()
    opened = h.event("assessment.AssessmentOpened", assessment_id="a1", kind="annual", year=2025, placement_id="p1",
                     cadre_id="c1", host_unit="qingshui-township", home_unit="county-finance",
                     placement_type="gap_filling", policy_version="v1", policy={"min_group_count": 5})
    ballot = h.event("assessment.BallotCast", assessment_id="a1", entry_id="B1", rater_group="leaders", grade="excellent")
    fix = h.event("assessment.DemocraticEntryCorrected", assessment_id="a1", entry_id="K1", corrects_entry_id="B1",
                  rater_group="leaders", counts={"competent": 1}, reason="录错")

    assert h.apply(opened, ballot, fix) == []

    assert all("grade" not in r["data"] and "counts" not in r["data"] for r in h.working.timeline)
    assert h.working.get("assessment_entries", ("a1", "B1"))["live"] is False
    assert h.working.get("assessment_entries", ("a1", "K1"))["competent"] == 1
    assert h.working.get("assessments", ("a1",))["min_group_count"] == 5


def test_unknown_types_and_types_of_another_source_reach_only_the_timeline() -> None:
    h = History()
    unknown = h.event("posting.SomethingNew", cadre_id="c9", host_unit="baima-township")
    impostor = SourceEvent("posting", "x", "selection.CadreRegistered", 1, "s", 1, (1, 1, 1), T0, {"cadre_id": "c1"}, {})

    assert h.apply(unknown, impostor) == []

    assert h.working.versions == {}
    assert [(r["cadre_id"], r["units"]) for r in h.working.timeline] == [("c9", ["baima-township", "county-od"]),
                                                                        ("c1", [])]


def test_a_newer_payload_version_of_an_interpreted_type_is_refused_whole() -> None:
    h = History()
    newer = h.event("posting.PlacementPlanned", **PLANNED)
    newer = newer._replace(schema_version=2)

    failed = h.apply(newer)

    assert [type(error).__name__ for _, error in failed] == ["NewerVersionError"]
    assert h.working.timeline == [] and h.working.get("placements", ("p1",)) is None


def test_a_registered_unit_has_its_name_and_a_rename_is_a_new_version() -> None:
    h = History()
    registered = h.event("selection.UnitRegistered", unit_id="qingshui-township", name="清水乡")
    renamed = h.event("selection.UnitRenamed", unit_id="qingshui-township", name="清水镇", previous_name="清水乡")

    assert h.apply(registered) == [] and h.apply(renamed) == []

    first, second = h.versions("units", ("qingshui-township",))
    assert (first["name"], first["version"], first["valid_to"]) == ("清水乡", 1, renamed.recorded_at)
    assert (second["name"], second["version"], second["valid_to"], second["unit_id"]) == ("清水镇", 2, None,
                                                                                          "qingshui-township")
    assert [(r["cadre_id"], r["units"]) for r in h.working.timeline] == [(None, ["county-od", "qingshui-township"])] * 2


def test_every_rule_has_a_chinese_label() -> None:
    assert set(RULES) <= set(EVENT_TYPE)


@pytest.mark.parametrize("name", PURE)
def test_projection_modules_import_no_io_library_and_no_other_service(name: str) -> None:
    tree = ast.parse((ROOT / "services" / "reporting" / name).read_text())
    imported = {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    imported |= {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module}
    allowed = ("services.reporting.model", "services.reporting.rules_", "services.reporting.labels", "__future__",
               "collections", "dataclasses", "datetime", "typing")
    assert all(module.startswith(allowed) for module in imported), sorted(imported)


def test_a_reopened_assessment_keeps_no_grade_composite_or_warning_of_the_finalisation_it_undid() -> None:
    h = History()
    opened = h.event("assessment.AssessmentOpened", assessment_id="a1", kind="annual", year=2025, placement_id="p1",
                     cadre_id="c1", host_unit="qingshui-township", home_unit="county-finance",
                     placement_type="gap_filling", policy_version="v1", policy={"min_group_count": 5})

    def finalised(grade: str) -> list[SourceEvent]:
        final = h.event("assessment.AssessmentFinalised", assessment_id="a1", cadre_id="c1", placement_id="p1",
                        host_unit="qingshui-township", year=2025, kind="annual", final_grade=grade,
                        proposed_grade=grade, composite=60.0, policy_version="v1", reason=None)
        # the assessment service raises the warnings of a finalisation with it, every time it finalises
        warning = h.event("assessment.WarningRaised", assessment_id="a1", cadre_id="c1", rule="incompetent_share",
                          share=0.4, threshold=0.3333, policy_version="v1")
        return [final, warning]

    reopened = h.event("assessment.AssessmentReopened", assessment_id="a1", cadre_id="c1", appealed_by="sending_unit",
                       previous_grade="incompetent", reason="申诉")
    assert h.apply(opened, *finalised("incompetent"), reopened) == []
    row = h.working.get("assessments", ("a1",))
    assert (row["warnings"], row["final_grade"], row["proposed_grade"], row["composite"]) == (0, None, None, None)

    assert h.apply(*finalised("basically_competent")) == []
    assert h.working.get("assessments", ("a1",))["warnings"] == 1


def test_a_rebuild_after_an_erasure_keeps_the_rank_and_unit_the_erasure_retained() -> None:
    """Read from the feed after the erasure, an update's sealed changes are {}: the cadre's rank and unit come
    from what the erasure retained, not from the registration; live, nothing changes (they are already so)."""
    cadre = {"cadre_id": "c1", "name": "王小明", "rank": "section_member", "home_unit": "county-finance",
             "grassroots_experience": True, "fit_for_duty": True, "reserve_cadre": False,
             "open_disciplinary_matter": False}
    retained = {"rank": "deputy_section", "home_unit": "county-audit", "grassroots_experience": True,
                "fit_for_duty": True, "reserve_cadre": False, "open_disciplinary_matter": False}
    for changes in ({}, {"rank": {"old": "section_member", "new": "deputy_section"},
                         "home_unit": {"old": "county-finance", "new": "county-audit"}}):
        h = History()
        assert h.apply(h.event("selection.CadreRegistered", **cadre),
                       h.event("selection.CadreUpdated", cadre_id="c1", changes=changes),
                       h.event("selection.PersonalDataErased", cadre_id="c1", reason="本人申请", erased_by="od.zhang",
                               retained=retained)) == []
        row = h.working.get("cadres", ("c1",))
        assert (row["rank"], row["home_unit"]) == ("deputy_section", "county-audit"), changes
        assert len(h.versions("cadres", ("c1",))) == (3 if not changes else 2)  # a version only where it changed
