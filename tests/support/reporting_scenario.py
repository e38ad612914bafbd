"""A small county, through all four gates, appended to the source logs as the real services would write it.

Holds no tests itself. Two phases: `first` (most of the year) and `later` (an alert, a completion), so
tests can ask what was known between them.
"""
from __future__ import annotations

from typing import Any

from services.backbone.domain import Actor
from tests.support.reporting_system import FINANCE, HR, OD, PC, QINGSHUI, SYSTEM, Sources

TERMS: dict[str, list[str]] = {k: ["按期完成"] for k in ("tasks", "term_goals", "post_requirements", "reward_conditions",
                                                        "penalty_conditions")}
CADRES = {"C1": ("李明", "qingshui-township", "gap_filling"), "C2": ("王芳", "baima-township", "gap_filling"),
          "C3": ("张伟", "qingshui-township", "strength"), "C4": ("刘洋", "city-development-commission", "docking"),
          "C5": ("陈静", "county-petition-office", "gap_filling"), "C6": ("赵磊", "baima-township", "gap_filling")}
RATER = Actor("anonymous-rater", "anonymous", None)
POLICY = {"version": "assess-2025", "effective_from": "2025-01-01", "min_group_count": 5}


def selection(src: Sources, ids: dict[str, str]) -> None:
    src.append("selection", "policy-book", "PolicyAdopted", version="county-2025", effective_from="2025-01-01",
               age_caps={"deputy_section": 40}, reserve_preferred=True)
    for cadre, (name, host, kind) in CADRES.items():
        c = ids[cadre]
        src.append("selection", f"cadre-{c}", "CadreRegistered", HR, cadre_id=c, name=name, rank="deputy_section",
                   home_unit="county-finance", birth_date="1991-04-02", grassroots_experience=False, fit_for_duty=True,
                   reserve_cadre=cadre != "C6", open_disciplinary_matter=False)
        nomination, eligible = ids[f"N{cadre[1]}"], cadre != "C5"
        criteria = [{"criterion": "no_grassroots_experience", "passed": True, "hard": True, "detail": ""},
                    {"criterion": "age_under_cap", "passed": eligible, "hard": True, "detail": "age 34 ≤ 40"}]
        src.append("selection", f"nomination-{nomination}", "NominationRecommended", FINANCE, why="年轻干部缺少基层经历",
                   correlation_id=f"corr-{nomination}", nomination_id=nomination, cadre_id=c, sending_unit="county-finance",
                   cadre_rank="deputy_section", placement_type=kind, host_unit=host, host_post="副镇长",
                   post_level="deputy_section", posting_mode="same_level", reason="年轻干部缺少基层经历",
                   recommended_on="2025-01-10", nominated_by="finance.liu", policy_version="county-2025",
                   criteria=criteria, eligible=eligible)
        if cadre == "C5":
            continue
        src.append("selection", f"nomination-{nomination}", "NominationInspected", OD, correlation_id=f"corr-{nomination}",
                   nomination_id=nomination, cadre_id=c, findings="德才兼备", passed=True, inspected_by="od.zhang")
        if cadre == "C6":
            continue
        src.append("selection", f"nomination-{nomination}", "NominationApproved", PC, correlation_id=f"corr-{nomination}",
                   nomination_id=nomination, cadre_id=c, sending_unit="county-finance", placement_type=kind,
                   host_unit=host, host_post="副镇长", post_level="deputy_section", posting_mode="same_level",
                   decision_ref="县委〔2025〕12号", decision_date="2025-02-01", decided_by="pc.chen",
                   cadre_rank="deputy_section")


def posting(src: Sources, ids: dict[str, str]) -> None:
    src.append("posting", "plan-2025", "PlacementPlanRecorded", year=2025, gap_filling=2, strength=1, docking=1)
    for n in ("1", "2", "3", "4"):
        c, p, nomination = ids[f"C{n}"], ids[f"P{n}"], ids[f"N{n}"]
        name, host, kind = CADRES[f"C{n}"]
        src.append("posting", f"placement-{p}", "PlacementPlanned", correlation_id=f"corr-{nomination}", placement_id=p,
                   nomination_id=nomination, cadre_id=c, cadre_rank="deputy_section", placement_type=kind,
                   home_unit="county-finance", host_unit=host, host_post="副镇长", post_level="deputy_section",
                   posting_mode="same_level", term_months=12, start_date="2025-03-01")
        src.append("posting", f"nomination-{nomination}", "NominationPlaced", nomination_id=nomination, placement_id=p)
        src.append("posting", f"placement-{p}", "AgreementDrafted", placement_id=p, version=1, **TERMS)
        parties = ("organisation_department", "sending_unit") if n == "3" else (
            "organisation_department", "sending_unit", "host_unit")
        for party in parties:
            src.append("posting", f"placement-{p}", "AgreementSigned", placement_id=p, version=1, party=party,
                       signed_by=party)
        if n != "3":
            src.append("posting", f"placement-{p}", "PlacementStarted", placement_id=p, started_on="2025-03-01",
                       ends_on="2026-03-01")
    p1 = ids["P1"]
    src.append("posting", f"placement-{p1}", "CheckInRecorded", QINGSHUI, placement_id=p1, checked_on="2025-04-01",
               thinking="稳定", work="扎实", met_by="od.zhang", notes="")
    src.append("posting", f"placement-{p1}", "TrainingRecorded", placement_id=p1, course="乡村振兴", provider="县委党校",
               hours=16, completed_on="2025-05-01")
    src.append("posting", f"placement-{p1}", "RewardDecided", placement_id=p1, description="通报表扬", basis="考核优秀",
               decided_on="2025-12-20")


def assessment(src: Sources, ids: dict[str, str]) -> None:
    p1, p2, a1, a2 = ids["P1"], ids["P2"], ids["A1"], ids["A2"]
    src.append("assessment", f"roster-{p1}", "PlacementEventNoted", SYSTEM, placement_id=p1,
               source_type="posting.PlacementPlanned", source_event_id="x",
               data={"placement_id": p1, "cadre_id": ids["C1"], "host_unit": "qingshui-township",
                     "home_unit": "county-finance", "placement_type": "gap_filling"})
    for a, p, c, host in ((a1, p1, ids["C1"], "qingshui-township"), (a2, p2, ids["C2"], "baima-township")):
        src.append("assessment", f"assessment-{a}", "AssessmentOpened", QINGSHUI, assessment_id=a, kind="annual",
                   year=2025, placement_id=p, cadre_id=c, host_unit=host, home_unit="county-finance",
                   placement_type="gap_filling", policy_version="assess-2025", policy=POLICY)
    ballots = [("leaders", "excellent")] * 2 + [("leaders", "competent")] + [("colleagues", "excellent")] * 4 + [
        ("colleagues", "competent")] * 2
    for i, (group, grade) in enumerate(ballots):
        src.append("assessment", f"assessment-{a1}", "BallotCast", RATER, assessment_id=a1, entry_id=f"B{i}",
                   rater_group=group, grade=grade)
    src.append("assessment", f"assessment-{a1}", "TallyEntered", QINGSHUI, assessment_id=a1, entry_id="T1",
               rater_group="public", counts={"competent": 4, "basically_competent": 1})
    src.append("assessment", f"assessment-{a1}", "DemocraticEntryCorrected", QINGSHUI, why="录入错误", reason="录入错误",
               assessment_id=a1, entry_id="K1", corrects_entry_id="B3", rater_group="colleagues", counts={"competent": 1})
    src.append("assessment", f"assessment-{a1}", "AssessmentFinalised", QINGSHUI, assessment_id=a1, cadre_id=ids["C1"],
               placement_id=p1, host_unit="qingshui-township", year=2025, kind="annual", final_grade="excellent",
               proposed_grade="excellent", composite=91.5, policy_version="assess-2025", reason=None)
    k = ids["K"]
    src.append("assessment", f"campaign-{k}", "CampaignOpened", campaign_id=k, year=2025,
               units=["county-finance", "county-education"], agency="polling-co", settings_version="team-2025", settings={})
    for unit, grade in (("county-finance", "good"), ("county-education", "excellent")):
        src.append("assessment", f"campaign-{k}", "TeamAssessmentFinalised", campaign_id=k, unit=unit, team_grade=grade,
                   proposed_grade=grade, composite=85.0, qualitative=80.0, quantitative=88.0,
                   settings_version="team-2025", reason=None)


def first(src: Sources, ids: dict[str, str]) -> None:
    selection(src, ids)
    posting(src, ids)
    assessment(src, ids)


def later(src: Sources, ids: dict[str, str]) -> None:
    """An overdue alert on P2, P4 alerted, cleared and completed, and C3's personal data erased."""
    p2, p3, p4 = ids["P2"], ids["P3"], ids["P4"]
    src.append("posting", f"placement-{p2}", "CheckInOverdue", SYSTEM, placement_id=p2, last_seen_on="2025-03-01",
               days_without_check_in=75, max_days=60, raised_on="2025-05-15")
    src.append("posting", f"placement-{p4}", "CheckInOverdue", SYSTEM, placement_id=p4, last_seen_on="2025-03-01",
               days_without_check_in=75, max_days=60, raised_on="2025-05-15")
    src.append("posting", f"placement-{p4}", "CheckInOverdueCleared", SYSTEM, placement_id=p4, cleared_on="2025-05-20")
    src.append("posting", f"placement-{p4}", "PlacementCompleted", OD, placement_id=p4, outcome="promoted",
               completed_on="2026-03-01")
    src.append("selection", f"cadre-{ids['C3']}", "PersonalDataErased", OD, why="本人申请", cadre_id=ids["C3"],
               reason="本人申请", erased_by="od.zhang")
    # a posting event about C3 that arrives after the erasure, with its fields still in plain text
    src.append("posting", f"placement-{p3}", "RewardDecided", OD, placement_id=p3, description="表扬张伟", basis="张伟的事迹",
               decided_on="2025-12-01")


def ids_for(run: str) -> dict[str, Any]:
    names = [f"{p}{n}" for p in "CNP" for n in "123456"] + ["A1", "A2", "K"]
    return {name: f"{name.lower()}-{run}" for name in names}
