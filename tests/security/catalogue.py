"""One valid request for every write endpoint of selection, posting and assessment.

Each case builds, through the API, a fresh aggregate in the state the endpoint needs and returns the
path and a body that its owner (a principal whose role and unit the domain accepts) gets a 2xx for.
The role matrix, the injection and the bad-date tests all start from these and change one thing.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import marshmallow

from tests.security.conftest import HOME_UNIT, TERMS, System, ok, routes
from tests.support.api import uid

Prepared = tuple[str, dict[str, Any]]
DIMENSIONS = ("work_performance", "public_recognition", "quality_improvement")
GROUPS = ("leaders", "colleagues", "public")
FOCUS = {"strategic_direction": 90, "institutional_innovation": 85, "internal_capacity": 88, "service_function": 92}
SURVEY = "unit,score,summary\ncounty-finance,88,群众满意度较高\ncounty-education,76,服务意识有待加强\n"


@dataclass(frozen=True)
class WriteCase:
    route: str                                # "POST /selection/nominations/{nomination_id}/decision"
    prepare: Callable[[System], Prepared]     # a fresh target: (path, body)
    owner: str | None                         # a principal the domain accepts (None: public route)
    # Principals whose role the route admits but whom the domain refuses by unit or ownership: principal -> rule.
    foreign: dict[str, str] = field(default_factory=dict)

    @property
    def method(self) -> str:
        return self.route.split(" ", 1)[0]

    @property
    def template(self) -> str:
        return self.route.split(" ", 1)[1]

    @property
    def body_schema(self) -> type[marshmallow.Schema]:
        [route] = [r for r in routes() if (r.method, r.path) == (self.method, self.template)]
        assert route.body is not None
        return route.body


# -- targets ---------------------------------------------------------------------------------------

def _cadre_body(**overrides: Any) -> dict[str, Any]:
    return {"cadre_id": uid("c"), "name": "李明", "rank": "deputy_section", "home_unit": HOME_UNIT,
            "birth_date": "1992-05-01", "grassroots_experience": False, "fit_for_duty": True, "reserve_cadre": True,
            **overrides}


def _cadre_csv() -> str:
    row = _cadre_body()
    columns = ("cadre_id", "name", "rank", "home_unit", "birth_date", "grassroots_experience", "fit_for_duty")
    return ",".join(columns) + "\n" + ",".join(str(row[c]).lower() if isinstance(row[c], bool) else str(row[c])
                                               for c in columns) + "\n"


def _placement(s: System, state: str) -> str:
    return {"planned": s.planned, "drafted": s.drafted, "signed": s.signed, "active": s.active}[state]()


def _assessment_with_inputs(s: System) -> str:
    path = s.open_assessment()
    ok(s.assessment.post(path + "/self-evaluation", {"text": "扎根乡镇，完成了信访化解任务。"}, "qingshui"))
    for group in GROUPS:
        ok(s.assessment.post(path + "/tallies", {"rater_group": group, "counts": {"competent": 5}}, "qingshui"))
    for dimension in DIMENSIONS:
        ok(s.assessment.post(path + "/performance-scores",
                             {"dimension": dimension, "score": 80, "evidence": "年度工作台账"}, "qingshui"))
    return path


def _finalised(s: System) -> str:
    path = _assessment_with_inputs(s)
    ok(s.assessment.post(path + "/finalisation", {"final_grade": "competent", "reason": "按综合得分"}, "qingshui"))
    return path


def _entry(s: System, path: str, part: str) -> str:
    view = ok(s.assessment.get(path, "qingshui"))
    if part == "self_evaluation":
        return str(view["self_evaluation"]["entry_id"])
    return str(view[part]["entries"][0]["entry_id"])


def _campaign_ready(s: System) -> str:
    """A campaign whose unit county-finance has every source entered, ready for its team grade."""
    campaign_id = s.campaign()
    path = f"/assessment/campaigns/{campaign_id}"
    ok(s.assessment.post(path + "/survey-report", {"csv": SURVEY}, "agency"))
    unit = HOME_UNIT
    ok(s.assessment.post(path + "/democratic-scores", {"unit": unit, "focus_scores": FOCUS, "respondents": 30}, "od"))
    ok(s.assessment.post(path + "/team-scores", {"unit": unit, "source": "performance", "score": 86, "note": "目标考核"}, "od"))
    ok(s.assessment.post(path + "/interview-notes", {"unit": unit, "focus": "service_function", "note": "班子团结"}, "od"))
    ok(s.assessment.post(path + "/team-scores", {"unit": unit, "source": "qualitative", "score": 90, "note": "综合评议"}, "od"))
    ok(s.assessment.post(path + "/findings", {"unit": unit, "source": "audit", "summary": "专项资金管理不规范",
                                              "deduction": 1}, "od"))
    return campaign_id


def _campaign_finalised(s: System) -> str:
    campaign_id = _campaign_ready(s)
    ok(s.assessment.post(f"/assessment/campaigns/{campaign_id}/units/{HOME_UNIT}/finalisation", {"team_grade": "good"}, "od"))
    return campaign_id


def _ends_on(s: System, placement_id: str) -> str:
    return str(ok(s.posting.get(f"/posting/placements/{placement_id}"))["ends_on"])


def _on_cadre(suffix: str, body: dict[str, Any], **cadre: Any) -> Callable[[System], Prepared]:
    return lambda s: (f"/selection/cadres/{s.cadre(**cadre)}{suffix}", dict(body))


def _on_nomination(state: str, suffix: str, body: dict[str, Any], **cadre: Any) -> Callable[[System], Prepared]:
    def prepare(s: System) -> Prepared:
        nomination_id = {"recommended": lambda: s.nomination(s.cadre(**cadre)), "inspected": s.inspected}[state]()
        return f"/selection/nominations/{nomination_id}{suffix}", dict(body)
    return prepare


def _on_placement(state: str, suffix: str, body: dict[str, Any] | Callable[[System, str], dict[str, Any]]
                  ) -> Callable[[System], Prepared]:
    def prepare(s: System) -> Prepared:
        placement_id = _placement(s, state)
        return f"/posting/placements/{placement_id}{suffix}", body(s, placement_id) if callable(body) else dict(body)
    return prepare


def _on_served_placement(suffix: str, body: Callable[[System, str], dict[str, Any]]) -> Callable[[System], Prepared]:
    """An active placement whose 12-month term (from 2025-04-01) has been served: a completion cannot be in the future."""
    def prepare(s: System) -> Prepared:
        placement_id = s.active(term=12)
        return f"/posting/placements/{placement_id}{suffix}", body(s, placement_id)
    return prepare


def _on_assessment(suffix: str, body: dict[str, Any], build: Callable[[System], str] | None = None,
                   entry: str | None = None, entry_field: str = "corrects_entry_id") -> Callable[[System], Prepared]:
    def prepare(s: System) -> Prepared:
        path = (build or (lambda x: x.open_assessment()))(s)
        extra = {entry_field: _entry(s, path, entry)} if entry else {}
        return path + suffix, {**body, **extra}
    return prepare


def _scored(s: System) -> str:
    path = s.open_assessment()
    ok(s.assessment.post(path + "/performance-scores", {"dimension": "work_performance", "score": 70, "evidence": "台账"},
                         "qingshui"))
    return path


def _self_evaluated(s: System) -> str:
    path = s.open_assessment()
    ok(s.assessment.post(path + "/self-evaluation", {"text": "完成了任务。"}, "qingshui"))
    return path


def _tallied(s: System) -> str:
    path = s.open_assessment()
    ok(s.assessment.post(path + "/tallies", {"rater_group": "leaders", "counts": {"competent": 5}}, "qingshui"))
    return path


def _on_campaign(suffix: str, body: dict[str, Any], build: Callable[[System], str] | None = None
                 ) -> Callable[[System], Prepared]:
    def prepare(s: System) -> Prepared:
        campaign_id = (build or (lambda x: x.campaign()))(s)
        return f"/assessment/campaigns/{campaign_id}{suffix}", dict(body)
    return prepare


def _ballot(s: System) -> Prepared:
    path = s.open_assessment()
    issued = ok(s.assessment.post(path + "/ballot-tokens", {"rater_group": "colleagues", "count": 1}, "qingshui"))
    return "/assessment/ballots", {"ballot_token": issued["tokens"][0], "grade": "competent"}


HOST_FOREIGN = {"baima": "not_own_placement"}
ASSESS_FOREIGN = {"baima": "not_own_unit"}
REASON = {"reason": "组织安排"}
ONE = "/assessment/placements/{placement_id}/assessments/{period}"
CAMPAIGN = "/assessment/campaigns/{campaign_id}"

CASES: list[WriteCase] = [
    # selection
    WriteCase("POST /selection/cadres", lambda s: ("/selection/cadres", _cadre_body()), "hr"),
    WriteCase("POST /selection/units",
              lambda s: ("/selection/units", {"unit_id": uid("township"), "name": "清水镇"}), "hr"),
    WriteCase("POST /selection/cadres/bulk", lambda s: ("/selection/cadres/bulk", {"cadres": [_cadre_body()]}), "hr"),
    WriteCase("POST /selection/cadres/import",
              lambda s: ("/selection/cadres/import", {"csv": _cadre_csv(), "reason": "人事系统同步"}), "hr"),
    WriteCase("POST /selection/cadres/{cadre_id}/reserve-pool",
              _on_cadre("/reserve-pool", {"reason": "表现突出"}, reserve_cadre=False), "od"),
    WriteCase("POST /selection/cadres/{cadre_id}/reserve-pool/removal",
              _on_cadre("/reserve-pool/removal", {"reason": "年龄超出"}), "od"),
    WriteCase("POST /selection/cadres/{cadre_id}/retention", _on_cadre("/retention", {"reason": "纪律审查期间依法保存"}), "od"),
    WriteCase("POST /selection/cadres/{cadre_id}/erasure", _on_cadre("/erasure", {"reason": "本人依法申请删除"}), "od"),
    WriteCase("POST /selection/policies", lambda s: ("/selection/policies", {
        "version": uid("pol"), "effective_from": "2020-01-01", "reason": "旧版办法补录",
        "age_caps": {"clerk": 35, "deputy_section": 40, "section_chief": 40}, "reserve_preferred": True}), "od"),
    WriteCase("POST /selection/nominations", lambda s: ("/selection/nominations", {
        "nomination_id": uid("n"), "cadre_id": s.cadre(), "placement_type": "gap_filling", "host_unit": "qingshui-township",
        "host_post": "副镇长", "post_level": "deputy_section", "posting_mode": "same_level", "reason": "年轻干部缺少基层经历"}),
        "finance", {"education": "not_home_unit"}),
    WriteCase("POST /selection/nominations/{nomination_id}/inspection",
              _on_nomination("recommended", "/inspection", {"findings": "德才兼备", "passed": True}), "od"),
    WriteCase("POST /selection/nominations/{nomination_id}/decision",
              _on_nomination("inspected", "/decision",
                             {"approved": True, "decision_ref": "县委〔2025〕12号", "decision_date": "2025-03-01"}), "pc"),
    WriteCase("POST /selection/nominations/{nomination_id}/withdrawal",
              _on_nomination("recommended", "/withdrawal", {"reason": "本人因家庭原因申请撤回"}), "finance",
              {"education": "not_home_unit"}),
    WriteCase("POST /selection/nominations/{nomination_id}/eligibility-override",
              _on_nomination("recommended", "/eligibility-override", {"reason": "信访岗位急需熟悉基层的干部"},
                             grassroots_experience=True), "od2"),
    # posting
    WriteCase("POST /posting/placements", lambda s: ("/posting/placements", {
        "placement_id": uid("p"), "nomination_id": s.approved(), "term_months": 24, "start_date": "2025-04-01"}), "od"),
    WriteCase("POST /posting/placements/{placement_id}/agreement", _on_placement("planned", "/agreement", TERMS), "od"),
    WriteCase("POST /posting/placements/{placement_id}/agreement/amendment",
              _on_placement("drafted", "/agreement/amendment", {**TERMS, "reason": "增加信访任务"}), "od"),
    WriteCase("POST /posting/placements/{placement_id}/agreement/signatures",
              _on_placement("drafted", "/agreement/signatures", {"version": 1}), "qingshui",
              {"baima": "not_own_placement", "education": "not_own_placement"}),
    WriteCase("POST /posting/placements/{placement_id}/start", _on_placement("signed", "/start", {}), "qingshui",
              HOST_FOREIGN),
    WriteCase("POST /posting/placements/{placement_id}/extension",
              _on_placement("active", "/extension", {"extra_months": 12, "reason": "重点项目未完成",
                                                      "decided_on": "2025-06-01"}), "od"),
    WriteCase("POST /posting/placements/{placement_id}/completion",
              _on_served_placement("/completion", lambda s, p: {"outcome": "returned", "completed_on": _ends_on(s, p)}),
              "od"),
    WriteCase("POST /posting/placements/{placement_id}/recall",
              _on_placement("active", "/recall", {"reason": "违反纪律", "recalled_on": "2025-06-01"}), "od"),
    WriteCase("POST /posting/placements/{placement_id}/check-ins",
              _on_placement("active", "/check-ins", {"checked_on": "2025-05-01", "thinking": "思想稳定", "work": "走访五户",
                                                     "met_by": "镇党委书记"}), "qingshui", HOST_FOREIGN),
    WriteCase("POST /posting/placements/{placement_id}/attendance",
              _on_placement("active", "/attendance", {"kind": "leave", "from_date": "2025-05-01", "to_date": "2025-05-03",
                                                      "notes": "病假"}), "qingshui", HOST_FOREIGN),
    WriteCase("POST /posting/placements/{placement_id}/discipline-incidents",
              _on_placement("active", "/discipline-incidents", {"occurred_on": "2025-05-02", "description": "迟到两次"}),
              "qingshui", HOST_FOREIGN),
    WriteCase("POST /posting/placements/{placement_id}/trainings",
              _on_placement("active", "/trainings", {"course": "乡村振兴专题", "provider": "县委党校", "hours": 16,
                                                     "completed_on": "2025-05-10"}), "qingshui", HOST_FOREIGN),
    WriteCase("POST /posting/placements/{placement_id}/rewards",
              _on_placement("active", "/rewards", {"description": "通报表扬", "basis": "信访化解成效",
                                                   "decided_on": "2025-06-01"}), "od"),
    WriteCase("POST /posting/placements/{placement_id}/penalties",
              _on_placement("active", "/penalties", {"description": "诫勉谈话", "basis": "擅离岗位", "decided_on": "2025-06-01"}),
              "od"),
    WriteCase("POST /posting/plans", lambda s: ("/posting/plans", {"year": 2030, "gap_filling": 19, "strength": 5,
                                                                   "docking": 3, "reason": "年度计划"}), "od"),
    # the built-in rules under a version of their own: the other cases keep planning 24 months in this system
    WriteCase("POST /posting/policies", lambda s: ("/posting/policies", {
        "version": uid("tpol"), "effective_from": "2020-01-01", "allowed_term_months": [12, 24], "max_term_months": 36,
        "check_in_days": 90, "reason": "县委组织部挂职期限规定"}), "od"),
    # assessment
    WriteCase("POST /assessment/policies", lambda s: ("/assessment/policies", {
        "version": uid("apol"), "effective_from": "2020-01-01", "reason": "旧版考核办法补录"}), "od"),
    WriteCase("POST /assessment/assessments", lambda s: ("/assessment/assessments", {
        "placement_id": s.active(), "kind": "annual", "year": 2025}), "qingshui", ASSESS_FOREIGN),
    WriteCase(f"POST {ONE}/self-evaluation", _on_assessment("/self-evaluation", {"text": "扎根乡镇，完成了任务。"}),
              "qingshui", ASSESS_FOREIGN),
    WriteCase(f"POST {ONE}/self-evaluation/corrections",
              _on_assessment("/self-evaluation/corrections", {"text": "补充说明", "reason": "漏写重点项目"}, _self_evaluated,
                             "self_evaluation"), "qingshui", ASSESS_FOREIGN),
    WriteCase(f"POST {ONE}/ballot-tokens", _on_assessment("/ballot-tokens", {"rater_group": "colleagues", "count": 3}),
              "qingshui", ASSESS_FOREIGN),
    WriteCase("POST /assessment/ballots", _ballot, None),
    WriteCase(f"POST {ONE}/ballots", _on_assessment("/ballots", {"rater_group": "public", "grade": "competent"}),
              "qingshui", ASSESS_FOREIGN),
    WriteCase(f"POST {ONE}/tallies", _on_assessment("/tallies", {"rater_group": "leaders", "counts": {"competent": 5}}),
              "qingshui", ASSESS_FOREIGN),
    WriteCase(f"POST {ONE}/democratic-corrections",
              _on_assessment("/democratic-corrections", {"counts": {"competent": 4, "excellent": 1}, "reason": "计票有误"},
                             _tallied, "democratic"), "od"),
    WriteCase(f"POST {ONE}/performance-scores",
              _on_assessment("/performance-scores", {"dimension": "work_performance", "score": 80, "evidence": "年度台账"}),
              "qingshui", ASSESS_FOREIGN),
    WriteCase(f"POST {ONE}/performance-scores/corrections",
              _on_assessment("/performance-scores/corrections", {"score": 82, "evidence": "补充台账", "reason": "漏记"},
                             _scored, "performance"), "qingshui", ASSESS_FOREIGN),
    WriteCase(f"POST {ONE}/performance-adjustments",
              _on_assessment("/performance-adjustments", {"dimension": "work_performance", "delta": -2, "reason": "考勤"},
                             _scored), "qingshui", ASSESS_FOREIGN),
    WriteCase(f"POST {ONE}/finalisation",
              _on_assessment("/finalisation", {"final_grade": "competent", "reason": "按综合得分"}, _assessment_with_inputs),
              "qingshui", ASSESS_FOREIGN),
    WriteCase(f"POST {ONE}/appeals", _on_assessment("/appeals", {"reason": "本人对考核结果有异议"}, _finalised), "finance",
              {"education": "not_own_unit"}),
    WriteCase("POST /assessment/campaigns", lambda s: ("/assessment/campaigns", {
        "campaign_id": uid("camp"), "year": 2026, "units": [HOME_UNIT, "county-education"], "agency": "polling-co",
        "settings": {"version": "city-2026"}, "reason": "年度综合考核"}), "od"),
    WriteCase(f"POST {CAMPAIGN}/democratic-scores",
              _on_campaign("/democratic-scores", {"unit": HOME_UNIT, "focus_scores": FOCUS, "respondents": 30}), "od"),
    WriteCase(f"POST {CAMPAIGN}/team-scores",
              _on_campaign("/team-scores", {"unit": HOME_UNIT, "source": "performance", "score": 86, "note": "目标考核"}), "od"),
    WriteCase(f"POST {CAMPAIGN}/interview-notes",
              _on_campaign("/interview-notes", {"unit": HOME_UNIT, "focus": "service_function", "note": "班子团结"}), "od"),
    WriteCase(f"POST {CAMPAIGN}/findings",
              _on_campaign("/findings", {"unit": HOME_UNIT, "source": "audit", "summary": "专项资金管理不规范",
                                         "deduction": 1}), "od"),
    WriteCase(f"POST {CAMPAIGN}/survey-report", _on_campaign("/survey-report", {"csv": SURVEY}), "agency",
              {"agency_rival": "not_own_unit"}),
    WriteCase(f"POST {CAMPAIGN}/units/{{unit}}/finalisation",
              _on_campaign(f"/units/{HOME_UNIT}/finalisation", {"team_grade": "good"}, _campaign_ready), "od"),
    WriteCase(f"POST {CAMPAIGN}/units/{{unit}}/result-uses",
              _on_campaign(f"/units/{HOME_UNIT}/result-uses", {"use": "civilised_unit_award", "note": "推荐参评"},
                           _campaign_finalised), "od"),
]
BY_ROUTE = {c.route: c for c in CASES}


def string_fields(schema: type[marshmallow.Schema] | marshmallow.Schema) -> dict[str, str]:
    """name -> 'text' (any text within a length) or 'code' (an id, enum or entry pattern) for each string field,
    including strings inside lists; nested schemas as 'outer.inner'."""
    found: dict[str, str] = {}
    instance = schema() if isinstance(schema, type) else schema
    for name, f in instance.fields.items():
        inner = f.inner if isinstance(f, marshmallow.fields.List) else f
        if isinstance(inner, marshmallow.fields.Nested):
            nested = inner.schema
            found.update({f"{name}.{k}": v for k, v in string_fields(nested).items()})
        elif isinstance(inner, marshmallow.fields.String):
            validators = inner.validators
            coded = any(isinstance(v, (marshmallow.validate.Regexp, marshmallow.validate.OneOf)) for v in validators)
            found[name] = "code" if coded else "text"
    return found


def may_be_empty(schema: type[marshmallow.Schema], dotted: str) -> bool:
    """Whether the (top-level or nested) string field accepts "" (no Length minimum, no pattern, no choice)."""
    name, _, rest = dotted.partition(".")
    f = schema().fields[name]
    inner = f.inner if isinstance(f, marshmallow.fields.List) else f
    if rest:
        return may_be_empty(type(inner.schema), rest)
    for v in inner.validators:
        if isinstance(v, (marshmallow.validate.Regexp, marshmallow.validate.OneOf)):
            return False
        if isinstance(v, marshmallow.validate.Length) and (v.min or v.equal):
            return False
    return True


def typed_fields(schema: type[marshmallow.Schema], kind: type[marshmallow.fields.Field]) -> list[str]:
    """The top-level fields of one kind (Integer, Boolean) in a request body."""
    return [n for n, f in schema().fields.items() if isinstance(f, kind)]


def date_fields(schema: type[marshmallow.Schema]) -> list[str]:
    return [n for n, f in schema().fields.items() if isinstance(f, marshmallow.fields.Date)]


def with_value(body: dict[str, Any], dotted: str, value: Any, schema: type[marshmallow.Schema]) -> dict[str, Any]:
    """`body` with the field `dotted` (maybe `outer.inner`, maybe a list of strings) set to `value`."""
    out = dict(body)
    name, _, rest = dotted.partition(".")
    field_ = schema().fields[name]
    if rest:
        nested = field_.inner.schema if isinstance(field_, marshmallow.fields.List) else field_.schema
        current = out.get(name)
        if isinstance(current, list):
            out[name] = [with_value(current[0] if current else {}, rest, value, type(nested))]
        else:
            out[name] = with_value(current or {}, rest, value, type(nested))
    elif isinstance(field_, marshmallow.fields.List):
        out[name] = [value]
    else:
        out[name] = value
    return out
