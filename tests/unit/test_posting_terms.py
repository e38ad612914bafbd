"""Posting's term rules as adopted, versioned policy: adopting a version, picking the one in force, and the plan,
the extension and the overdue check-in alert following it (and saying which version judged them)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime
from typing import Any

import pytest

from services.backbone.domain import Actor, Context, DomainError, ForbiddenError, NotFoundError, StepOrderError
from services.posting import domain as d

ORG = Actor("od-li", "organisation_department", "county-od")
HOST = Actor("town-zhao", "host_unit", "qingshui-town")
NOW = datetime(2024, 6, 1, 9, 0, tzinfo=UTC)
NOMINATION = d.NominationRecorded("nom-1", "cadre-1", "deputy_section", "county-finance", "gap_filling",
                                  "qingshui-town", "副镇长", "deputy_section", "same_level")
PLANNED = d.PlacementPlanned("pl-1", "nom-1", "cadre-1", "deputy_section", "gap_filling", "county-finance",
                             "qingshui-town", "副镇长", "deputy_section", "same_level", 24, date(2024, 3, 1))
ACTIVE = [
    PLANNED,
    d.AgreementDrafted("pl-1", 1, ["信访接待"], ["化解积案"], ["每周在岗四天"], ["优先使用"], ["擅离岗位者召回"]),
    *(d.AgreementSigned("pl-1", 1, party, "someone") for party in d.AGREEMENT_PARTIES),
    d.PlacementStarted("pl-1", date(2024, 3, 1), date(2026, 3, 1)),
]
SIX = d.TermPolicy("county-2024", date(2024, 1, 1), (6, 12, 24), 48, 60)


def ctx(actor: Actor = ORG, now: datetime = NOW) -> Context:
    return Context(actor, now, "县委组织部文件")


def adopt(policy: d.TermPolicy, adopted: tuple[d.TermPolicy, ...] = (d.DEFAULT_POLICY,), actor: Actor = ORG) -> Any:
    return d.decide_adopt_policy(adopted, d.AdoptPolicy(policy), ctx(actor))


def plan(months: int, policies: tuple[d.TermPolicy, ...] = (d.DEFAULT_POLICY,)) -> Any:
    nomination = d.fold_nomination([NOMINATION])
    command = d.PlanPlacement("pl-1", "nom-1", months, date(2024, 7, 1))
    return d.decide_plan_placement(None, command, ctx(), nomination, policies=policies)


def test_the_built_in_rules_are_the_typical_ones_of_domain_md() -> None:
    assert (d.DEFAULT_POLICY.allowed_term_months, d.DEFAULT_POLICY.max_term_months,
            d.DEFAULT_POLICY.check_in_days) == ((12, 24), 36, 90)
    assert d.default_policy() is d.DEFAULT_POLICY
    assert d.DEFAULT_POLICY.label == "挂职期限12或24个月，延期后合计不超过36个月；跟踪督查间隔不超过90天"


def test_a_deployments_own_check_in_interval_makes_the_default_a_version_of_its_own() -> None:
    sixty = d.default_policy(60)
    assert (sixty.check_in_days, sixty.allowed_term_months, sixty.max_term_months) == (60, (12, 24), 36)
    assert sixty.version == "default-1-checkin-60d" != d.DEFAULT_POLICY.version
    with pytest.raises(ValueError, match="FOURGATES_CHECKIN_MAX_DAYS"):
        d.default_policy(0)


def test_the_organisation_department_adopts_a_version_stamped_with_itself() -> None:
    decision = adopt(SIX)
    assert decision.events == [d.PolicyAdopted("county-2024", date(2024, 1, 1), [6, 12, 24], 48, 60)]
    assert decision.policy_version == "county-2024"
    assert d.fold_policies(decision.events) == (SIX,)


def test_only_the_organisation_department_adopts_term_rules() -> None:
    with pytest.raises(ForbiddenError) as caught:
        adopt(SIX, actor=HOST)
    assert caught.value.rule == "organisation_department_only"


def test_the_same_version_again_appends_nothing_and_other_rules_under_it_are_refused() -> None:
    assert adopt(SIX, (d.DEFAULT_POLICY, SIX)).events == []
    assert adopt(d.DEFAULT_POLICY).events == []  # the built-in version, sent as it is
    with pytest.raises(StepOrderError) as caught:
        adopt(replace(SIX, check_in_days=30), (d.DEFAULT_POLICY, SIX))
    assert caught.value.rule == "policy_version_exists" and caught.value.details["field"] == "version"


@pytest.mark.parametrize(("changes", "field", "rule"), [
    ({"allowed_term_months": ()}, "allowed_term_months", "allowed_term_months_empty"),
    ({"allowed_term_months": (0, 12)}, "allowed_term_months", "allowed_term_months_not_positive"),
    ({"allowed_term_months": (24, 12)}, "allowed_term_months", "allowed_term_months_not_ascending"),
    ({"allowed_term_months": (12, 12)}, "allowed_term_months", "allowed_term_months_not_ascending"),
    ({"allowed_term_months": (12, 48), "max_term_months": 36}, "allowed_term_months",
     "allowed_term_months_above_maximum"),
    ({"max_term_months": 0}, "max_term_months", "max_term_months_not_positive"),
    ({"check_in_days": 0}, "check_in_days", "check_in_days_not_positive"),
])
def test_rules_that_could_never_be_followed_are_refused_naming_the_field_and_the_rule(
        changes: dict[str, Any], field: str, rule: str) -> None:
    with pytest.raises(DomainError) as caught:
        adopt(replace(SIX, **changes))
    assert (type(caught.value), caught.value.rule, caught.value.details["field"]) == (DomainError, rule, field)
    assert field in caught.value.message


def test_the_policy_in_force_is_the_latest_effective_one_and_of_one_day_the_later_adopted() -> None:
    later = d.TermPolicy("county-2025", date(2025, 1, 1), (12,), 24, 60)
    same_day = replace(later, version="county-2025b", check_in_days=45)
    book = (d.DEFAULT_POLICY, SIX, later, same_day)
    assert d.policy_in_force(book, date(2023, 12, 31)) is d.DEFAULT_POLICY
    assert d.policy_in_force(book, date(2024, 1, 1)) is SIX
    assert d.policy_in_force(book, date(2025, 6, 1)) is same_day
    with pytest.raises(NotFoundError) as caught:
        d.policy_in_force((SIX,), date(2023, 1, 1))
    assert caught.value.rule == "no_term_policy_in_force"


def test_a_six_month_term_is_refused_under_the_default_and_planned_once_a_policy_allows_it() -> None:
    with pytest.raises(DomainError) as caught:
        plan(6)
    assert caught.value.rule == "term_not_allowed" and caught.value.details["field"] == "term_months"
    assert "default-1" in caught.value.message and "12 or 24" in caught.value.message
    decision = plan(6, (d.DEFAULT_POLICY, SIX))
    assert decision.events[0].term_months == 6 and decision.policy_version == "county-2024"
    assert plan(24).policy_version == "default-1"


def test_a_policy_not_yet_in_force_on_the_day_planned_does_not_apply() -> None:
    next_year = replace(SIX, version="county-2025", effective_from=date(2025, 1, 1))
    with pytest.raises(DomainError, match="default-1"):
        plan(6, (d.DEFAULT_POLICY, next_year))


def extend(extra: int, policies: tuple[d.TermPolicy, ...], decided_on: date = date(2024, 6, 1)) -> Any:
    command = d.ExtendPlacement("pl-1", extra, "重点项目未完成", decided_on)
    return d.decide_extend_placement(d.fold_placement(ACTIVE), command, ctx(), policies=policies)


def test_an_extension_follows_the_maximum_of_the_policy_in_force_on_the_day_decided() -> None:
    with pytest.raises(DomainError) as caught:
        extend(24, (d.DEFAULT_POLICY,))
    assert caught.value.rule == "term_exceeds_maximum" and caught.value.details["max_term_months"] == 36
    decision = extend(24, (d.DEFAULT_POLICY, SIX))
    assert decision.events[0].term_months == 48 and decision.policy_version == "county-2024"
    not_yet = replace(SIX, effective_from=date(2024, 7, 1))
    with pytest.raises(DomainError, match="default-1"):
        extend(24, (d.DEFAULT_POLICY, not_yet))


def test_the_overdue_alert_follows_the_adopted_check_in_interval_and_names_its_version() -> None:
    silent_61_days = datetime(2024, 5, 1, 8, 0, tzinfo=UTC)  # started 2024-03-01, no check-in since
    state = d.fold_placement(ACTIVE)
    assert d.check_overdue_under(state, silent_61_days, (d.DEFAULT_POLICY,)) .events == []
    decision = d.check_overdue_under(state, silent_61_days, (d.DEFAULT_POLICY, SIX))
    assert decision.events == [d.CheckInOverdue("pl-1", date(2024, 3, 1), 61, 60, date(2024, 5, 1))]
    assert decision.policy_version == "county-2024"
