"""The demo scenario of ../shared/domain/domain.md ("Scenario data") as plain data: one county over two
years (2025–2026), 27 seconded cadres — 19 gap-filling 补短型 (townships and the petition office), 5
strength 扬长型 (townships, key projects), 3 docking 对接型 (higher-level departments) — and one
leadership-team comprehensive assessment of five units with a third-party survey. Names are invented.

Every id and every Idempotency-Key the demo sends is derived from this data, so that playing the
scenario twice changes nothing the second time.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

YEAR = 2025  # the year the placements start and are assessed; they end (and are completed) in 2026
PREFIX = "demo"

# Who acts (tokens of deploy/tokens.dev.yaml).
HR = "dev-hr-sync"  # the county's HR system registering cadres (role integration)
OD = "dev-od-zhang"  # organisation department: reserve pool, inspection, placements, agreements, outcomes
OD2 = "dev-od-wang"  # organisation department, second officer: the leadership-team campaign
PC = "dev-pc-chen"  # party committee: decisions
AGENCY = "dev-agency"  # the appointed third-party survey agency (unit polling-co)
AGENCY_UNIT = "polling-co"
READER = "dev-auditor"  # reads (an overseer role)

SENDING_TOKENS = {
    "county-finance": "dev-send-finance", "county-education": "dev-send-education",
    "county-development": "dev-send-development", "county-commerce": "dev-send-commerce",
    "county-agriculture": "dev-send-agriculture", "county-housing": "dev-send-housing",
    "county-justice": "dev-send-justice", "county-civil-affairs": "dev-send-civil-affairs",
    "county-transport": "dev-send-transport", "county-health": "dev-send-health",
    "county-culture-tourism": "dev-send-culture", "county-industry": "dev-send-industry",
    "county-natural-resources": "dev-send-resources",
}
HOST_TOKENS = {
    "qingshui-township": "dev-host-qingshui", "baima-township": "dev-host-baima",
    "shiqiao-township": "dev-host-shiqiao", "longtan-township": "dev-host-longtan",
    "county-petition-office": "dev-host-petition", "city-development-commission": "dev-host-city-dev",
    "city-commerce-bureau": "dev-host-city-commerce", "city-agriculture-bureau": "dev-host-city-agriculture",
}

UNIT_NAMES = {
    "county-finance": "县财政局", "county-education": "县教育局", "county-development": "县发展改革局",
    "county-commerce": "县商务局", "county-agriculture": "县农业农村局", "county-housing": "县住建局",
    "county-justice": "县司法局", "county-civil-affairs": "县民政局", "county-transport": "县交通运输局",
    "county-health": "县卫健局", "county-culture-tourism": "县文旅局", "county-industry": "县工信局",
    "county-natural-resources": "县自然资源局",
    "qingshui-township": "清水镇", "baima-township": "白马镇", "shiqiao-township": "石桥镇", "longtan-township": "龙潭乡",
    "county-petition-office": "县信访局", "city-development-commission": "市发展改革委",
    "city-commerce-bureau": "市商务局", "city-agriculture-bureau": "市农业农村局",
    "city-science-commission": "市科委", "city-education-commission": "市教委", "city-ip-office": "市知识产权局",
    "city-science-association": "市科协", "city-academy-of-sciences": "市科学院",
}

TYPE_LABELS = {"gap_filling": "补短型", "strength": "扬长型", "docking": "对接型"}
GRADE_LABELS = {"excellent": "优秀", "competent": "称职", "basically_competent": "基本称职", "incompetent": "不称职"}
OUTCOME_LABELS = {"returned": "回原单位", "retained": "留任", "promoted": "提拔任用"}
TEAM_GRADE_LABELS = {"excellent": "优秀", "good": "良好", "average": "一般", "poor": "较差"}
STATUS_LABELS = {"planned": "已计划", "agreement_signed": "协议已签订", "active": "挂职中", "extended": "已延期",
                 "completed": "期满结束", "recalled": "提前召回"}

PLAN = {"year": YEAR, "gap_filling": 19, "strength": 5, "docking": 3}
TERM_MONTHS = 12
# Recommendation dates (the sending units answer the year's plan in January), party-committee decisions and
# start dates per placement type.
RECOMMENDED = {"gap_filling": date(2025, 1, 6), "strength": date(2025, 1, 27), "docking": date(2025, 1, 27)}
DECISIONS = {"gap_filling": ("县委〔2025〕7号", date(2025, 1, 24)),
             "strength": ("县委〔2025〕9号", date(2025, 2, 20)),
             "docking": ("县委〔2025〕9号", date(2025, 2, 20))}
STARTS = {"gap_filling": date(2025, 2, 17), "strength": date(2025, 3, 3), "docking": date(2025, 3, 10)}
REWARD_DATE = date(2026, 1, 12)
EXTENSION_MONTHS = 6
EXTENSION_DATE = date(2026, 2, 2)  # decided while the terms ran (the strength cadres' end in March 2026)

POLICY = {"version": "county-2025", "effective_from": "2025-01-01",
          "age_caps": {"clerk": 35, "deputy_section": 40, "section_chief": 45}, "reserve_preferred": True,
          "reason": "县委组织部干部实践锻炼工作办法（2025年修订）"}
ASSESSMENT_POLICY = {"version": "county-assessment-2025", "effective_from": "2025-01-01", "min_group_count": 5,
                     "excellent_cap": 0.2, "reason": "下派干部年度考核办法：优秀等次比例不超过20%"}

RATER_GROUPS = ("leaders", "colleagues", "public")
DIMENSIONS = ("work_performance", "public_recognition", "quality_improvement")


@dataclass(frozen=True)
class Cadre:
    n: int
    name: str
    rank: str
    home_unit: str
    birth_date: date
    placement_type: str
    host_unit: str
    host_post: str
    post_level: str
    posting_mode: str
    grade: str  # the annual grade the host unit gives (2025)
    outcome: str  # returned / retained / promoted
    reserve: bool = True  # in the reserve-cadre pool (newly recruited graduates are not)
    profile: str | None = None  # the inputs' profile when it differs from the grade (the excellent cap)
    extension: bool = False  # a key project's second phase: extended by EXTENSION_MONTHS
    leave: bool = False  # reported leave
    discipline: bool = False  # a discipline incident and a penalty
    online_ballots: bool = False  # colleagues vote with one-time ballot tokens instead of a paper tally

    @property
    def cadre_id(self) -> str:
        return f"{PREFIX}-c{self.n:02d}"

    @property
    def nomination_id(self) -> str:
        return f"{PREFIX}-n{self.n:02d}"

    @property
    def placement_id(self) -> str:
        return f"{PREFIX}-p{self.n:02d}"

    @property
    def key(self) -> str:
        """The prefix of every Idempotency-Key about this cadre."""
        return f"{PREFIX}:c{self.n:02d}"

    @property
    def start(self) -> date:
        return STARTS[self.placement_type]

    @property
    def term_months(self) -> int:
        return TERM_MONTHS + (EXTENSION_MONTHS if self.extension else 0)

    @property
    def ends_on(self) -> date:
        return add_months(self.start, self.term_months)

    @property
    def inputs(self) -> str:
        return self.profile or self.grade


def add_months(start: date, months: int) -> date:
    index = start.month - 1 + months
    return date(start.year + index // 12, index % 12 + 1, start.day)


def _c(n: int, name: str, rank: str, home: str, born: str, kind: str, host: str, post: str, level: str, mode: str,
       grade: str = "competent", outcome: str = "returned", **extra: object) -> Cadre:
    return Cadre(n, name, rank, home, date.fromisoformat(born), kind, host, post, level, mode, grade, outcome,
                 **extra)  # type: ignore[arg-type]


G, S, D = "gap_filling", "strength", "docking"
CADRES: tuple[Cadre, ...] = (
    # 补短型: deputy-section cadres, young cadres and new graduates without grassroots experience
    _c(1, "王晓东", "deputy_section", "county-finance", "1990-04-12", G, "qingshui-township", "副镇长", "deputy_section",
       "same_level"),
    _c(2, "李佳怡", "clerk", "county-education", "1998-09-03", G, "qingshui-township", "镇长助理", "deputy_section",
       "assistant_one_up", reserve=False, leave=True),
    _c(3, "张浩然", "deputy_section", "county-development", "1991-11-20", G, "qingshui-township", "副镇长", "deputy_section",
       "same_level"),
    _c(4, "刘思雨", "clerk", "county-agriculture", "1997-06-28", G, "qingshui-township", "党政办科员", "clerk", "same_level",
       reserve=False),
    _c(5, "陈志强", "deputy_section", "county-housing", "1989-02-15", G, "baima-township", "副镇长", "deputy_section",
       "same_level", grade="excellent", outcome="promoted"),
    _c(6, "杨雪", "clerk", "county-justice", "1996-12-01", G, "baima-township", "镇长助理", "deputy_section",
       "assistant_one_up", grade="basically_competent", discipline=True),
    _c(7, "赵宇航", "deputy_section", "county-finance", "1992-07-19", G, "baima-township", "副镇长", "deputy_section",
       "same_level"),
    _c(8, "黄梦瑶", "clerk", "county-civil-affairs", "1998-03-25", G, "baima-township", "社会事务办科员", "clerk",
       "same_level", reserve=False),
    _c(9, "周俊杰", "deputy_section", "county-transport", "1990-10-08", G, "shiqiao-township", "副镇长", "deputy_section",
       "same_level"),
    _c(10, "吴佳琪", "clerk", "county-education", "1997-01-17", G, "shiqiao-township", "镇长助理", "deputy_section",
       "assistant_one_up", leave=True),
    _c(11, "徐文博", "deputy_section", "county-agriculture", "1988-05-30", G, "shiqiao-township", "副镇长",
       "deputy_section", "same_level", grade="excellent", outcome="promoted"),
    _c(12, "孙雅婷", "clerk", "county-health", "1996-08-14", G, "shiqiao-township", "社会事务办科员", "clerk", "same_level"),
    _c(13, "马骏", "deputy_section", "county-development", "1991-03-09", G, "longtan-township", "副乡长", "deputy_section",
       "same_level"),
    _c(14, "胡静", "clerk", "county-culture-tourism", "1998-11-02", G, "longtan-township", "乡长助理", "deputy_section",
       "assistant_one_up", grade="basically_competent", reserve=False),
    _c(15, "朱立伟", "deputy_section", "county-housing", "1989-09-21", G, "longtan-township", "副乡长", "deputy_section",
       "same_level"),
    _c(16, "郭晨", "deputy_section", "county-justice", "1990-01-27", G, "county-petition-office", "副局长",
       "deputy_section", "same_level", outcome="retained"),
    _c(17, "何欣然", "clerk", "county-civil-affairs", "1997-04-06", G, "county-petition-office", "信访接待科科员", "clerk",
       "same_level", reserve=False),
    # scores of an excellent cadre, but the petition office's cohort of four leaves no excellent place (20% cap)
    _c(18, "高鹏飞", "deputy_section", "county-finance", "1988-12-11", G, "county-petition-office", "副局长",
       "deputy_section", "same_level", profile="excellent"),
    _c(19, "林晓", "clerk", "county-health", "1996-05-23", G, "county-petition-office", "局长助理", "deputy_section",
       "assistant_one_up"),
    # 扬长型: cadres of general departments follow the county's key projects to townships to help enterprises
    _c(20, "罗建国", "section_chief", "county-commerce", "1986-08-08", S, "qingshui-township", "副镇长（分管招商引资）",
       "deputy_section", "lower_post", grade="excellent", outcome="promoted"),
    _c(21, "郑凯", "section_chief", "county-development", "1987-02-26", S, "baima-township", "副镇长（产业园区建设）",
       "deputy_section", "lower_post", outcome="retained", extension=True),
    _c(22, "梁晓峰", "deputy_section", "county-industry", "1989-06-17", S, "shiqiao-township", "党委委员（企业服务）",
       "deputy_section", "same_level"),
    _c(23, "谢婷婷", "deputy_section", "county-commerce", "1990-09-29", S, "longtan-township", "副乡长（文旅项目）",
       "deputy_section", "same_level", grade="excellent", outcome="promoted"),
    _c(24, "宋志远", "section_chief", "county-natural-resources", "1985-12-05", S, "longtan-township",
       "副乡长（土地整治项目）", "deputy_section", "lower_post", outcome="retained", extension=True),
    # 对接型: young cadres to the higher-level counterpart departments
    _c(25, "韩雨萱", "clerk", "county-development", "1996-07-07", D, "city-development-commission", "综合处科员", "clerk",
       "same_level", online_ballots=True),
    _c(26, "唐振宇", "deputy_section", "county-commerce", "1992-02-18", D, "city-commerce-bureau", "外贸处处长助理",
       "section_chief", "assistant_one_up", online_ballots=True),
    _c(27, "冯诗涵", "clerk", "county-agriculture", "1997-10-10", D, "city-agriculture-bureau", "乡村产业处科员", "clerk",
       "same_level", online_ballots=True),
)

RECOMMENDATION_REASONS = {
    G: "年轻干部缺少基层工作经历，按干部实践锻炼计划下派补短",
    S: "熟悉产业政策和企业服务，随县重点项目下沉乡镇帮助企业发展",
    D: "对口上级部门跟班学习，熟悉政策、加强对接",
}
INSPECTION_FINDINGS = "德才兼备，政治素质好，业务能力较强，有发展潜力，身体健康；无基层工作经历，符合下派条件"
AGREEMENT = {
    G: {"tasks": ["参与乡镇中心工作和信访矛盾化解", "联系两个村（社区），每月走访群众不少于十户"],
        "term_goals": ["熟悉基层工作方法，补齐基层经历短板", "牵头办结群众诉求不少于二十件"],
        "post_requirements": ["吃住在乡镇，每周在岗不少于四天", "服从接收单位管理和工作安排"],
        "reward_conditions": ["年度考核优秀的，同等条件下优先提拔使用"],
        "penalty_conditions": ["擅离岗位或考核不称职的，予以召回并按规定处理"]},
    S: {"tasks": ["服务县重点项目建设", "帮助企业解决融资、用地、用工等实际困难"],
        "term_goals": ["推动重点项目按期开工投产", "新引进或服务企业不少于五家"],
        "post_requirements": ["驻项目一线办公，每周在岗不少于四天"],
        "reward_conditions": ["项目推进成效明显、年度考核优秀的，优先提拔使用"],
        "penalty_conditions": ["履职不力、项目严重滞后的，予以召回"]},
    D: {"tasks": ["在上级对口部门跟班学习，参与政策研究和项目申报", "做好县市两级工作对接"],
        "term_goals": ["熟悉上级部门政策和工作流程", "协调争取项目或政策支持不少于两项"],
        "post_requirements": ["遵守接收单位工作纪律，按时参加处室工作"],
        "reward_conditions": ["年度考核优秀的，优先提拔使用"],
        "penalty_conditions": ["违反工作纪律或考核不称职的，予以召回"]},
}
MET_BY = {G: "乡镇党委书记", S: "乡镇党委书记", D: "处室负责人"}
CHECK_INS = (  # (months after the start, thinking 思想状况, work 工作情况)
    (1, "到岗后思想稳定，能够安心基层工作", "熟悉镇情村情，走访联系村群众"),
    (4, "工作热情高，主动向乡镇领导请教", "参与春耕生产和矛盾纠纷排查，办结群众诉求"),
    (7, "思想积极，能正确对待基层工作的艰苦", "牵头推进分管工作，协调解决群众急难愁盼问题"),
    (10, "思想稳定，锻炼收获明显", "完成年度目标任务，撰写调研报告一篇"),
)
TRAINING = {
    G: ("乡村振兴和基层治理专题培训班", "县委党校", 32),
    S: ("优化营商环境和项目服务专题培训", "市委党校", 24),
    D: ("对口部门业务跟岗培训", "市级对口部门", 40),
}
SELF_EVALUATION = {
    G: "挂职一年来扎根基层，熟悉了乡镇工作方法，参与信访化解和乡村振兴工作，基层经历短板得到弥补；不足是统筹能力仍需提高。",
    S: "挂职期间全程服务县重点项目，帮助企业解决用地、融资等难题，推动项目按期建设；今后要进一步提高政策运用能力。",
    D: "在上级对口部门跟班学习，熟悉了政策研究和项目申报流程，协调争取了项目支持；今后要把所学用于县里工作。",
}
EVIDENCE = {"work_performance": "年度工作台账和目标任务完成情况",
            "public_recognition": "走访群众和服务对象满意度",
            "quality_improvement": "培训考核、调研报告和述职情况"}
# Democratic-evaluation tallies and performance scores that lead to each proposed grade.
PROFILES = {
    "excellent": ({"leaders": {"excellent": 6, "competent": 1}, "colleagues": {"excellent": 11, "competent": 2},
                   "public": {"excellent": 9, "competent": 1}}, (95.0, 93.0, 92.0)),
    "competent": ({"leaders": {"excellent": 2, "competent": 5},
                   "colleagues": {"excellent": 3, "competent": 9, "basically_competent": 1},
                   "public": {"excellent": 2, "competent": 7, "basically_competent": 1}}, (85.0, 82.0, 84.0)),
    "basically_competent": ({"leaders": {"competent": 3, "basically_competent": 4},
                             "colleagues": {"competent": 5, "basically_competent": 6, "incompetent": 1},
                             "public": {"competent": 3, "basically_competent": 6, "incompetent": 1}},
                            (68.0, 64.0, 70.0)),
}
CAP_REASON = "该单位2025年度下派干部共4名，优秀等次比例不得超过20%，经考核委员会研究确定为称职"
FINAL_REASON = "经接收单位考核委员会研究审定"


def tallies(cadre: Cadre) -> dict[str, dict[str, int]]:
    """The rater groups' tallies for the cadre's profile, varied a little from cadre to cadre."""
    groups, _ = PROFILES[cadre.inputs]
    varied = {g: dict(t) for g, t in groups.items()}
    top = next(iter(varied["colleagues"]))
    varied["colleagues"][top] += cadre.n % 3  # more colleagues voted in some units
    return varied


def scores(cadre: Cadre) -> dict[str, float]:
    _, base = PROFILES[cadre.inputs]
    wobble = (cadre.n % 5 - 2) * 0.5
    return {d: round(s + wobble, 1) for d, s in zip(DIMENSIONS, base, strict=True)}


def ballots(counts: dict[str, int]) -> list[str]:
    """One grade per ballot, for a group that votes with one-time tokens."""
    return [grade for grade, n in counts.items() for _ in range(n)]


# The leadership-team comprehensive assessment (领导班子综合考核) of five units, with a third-party survey.
CAMPAIGN_ID = f"{PREFIX}-teams-2026"
CAMPAIGN_YEAR = 2026
CAMPAIGN_SETTINGS: dict[str, Any] = {"version": "city-teams-2026", "qualitative_weight": 0.3, "quantitative_weight": 0.7,
                     "source_weights": {"democratic": 0.4, "survey": 0.3, "performance": 0.3},
                     "focus_weights": {"strategic_direction": 0.25, "institutional_innovation": 0.25,
                                       "internal_capacity": 0.25, "service_function": 0.25},
                     "min_respondents": 5, "grade_thresholds": {"excellent": 90, "good": 80, "average": 65}}
FOCUSES = ("strategic_direction", "institutional_innovation", "internal_capacity", "service_function")


@dataclass(frozen=True)
class Team:
    unit: str
    focus_scores: tuple[float, float, float, float]
    respondents: int
    survey: float
    survey_summary: str
    performance: float
    qualitative: float
    interviews: tuple[tuple[str, str], ...]
    findings: tuple[tuple[str, str, float], ...]  # (source, summary, deduction)
    uses: tuple[tuple[str, str], ...]  # (use, note)


TEAMS: tuple[Team, ...] = (
    Team("city-science-commission", (93, 91, 90, 94), 62, 92, "服务科技企业满意度高，政策兑现及时", 93, 92,
         (("strategic_direction", "班子围绕科教兴市主战略谋划工作，思路清晰"),
          ("institutional_innovation", "科技计划项目管理改革成效明显")), (),
         (("civilised_unit_award", "推荐参评市级文明单位"), ("cadre_adjustment", "班子成员优先纳入干部调整考虑"))),
    Team("city-education-commission", (86, 84, 85, 83), 75, 81, "群众对教育资源均衡有较高期待", 85, 84,
         (("service_function", "班子重视回应群众关切，服务意识较强"),), (),
         (("pay", "按良好等次兑现年度绩效奖励"),)),
    Team("city-ip-office", (84, 82, 85, 83), 38, 81, "企业知晓度有待提高", 84, 83,
         (("internal_capacity", "专业人才队伍建设需加强"),),
         (("audit", "专项资金拨付不够及时", 1.5),),
         (("pay", "按良好等次兑现年度绩效奖励"), ("training", "组织班子成员参加知识产权业务专题培训"))),
    Team("city-science-association", (74, 70, 72, 76), 30, 70, "基层科普活动覆盖面不足", 72, 70,
         (("institutional_innovation", "工作方式较为传统，创新举措不多"),),
         (("state_assets", "所属企业国有资产登记不完整", 2.0),),
         (("training", "班子集中轮训，补齐改革创新能力短板"),)),
    Team("city-academy-of-sciences", (88, 90, 86, 85), 54, 86, "科研成果转化得到企业认可", 88, 87,
         (("strategic_direction", "聚焦重点产业布局科研方向"), ("internal_capacity", "青年科研骨干培养成效明显")), (),
         (("pay", "按良好等次兑现年度绩效奖励"),)),
)


def team_grade(team: Team) -> tuple[float, str]:
    """The composite and proposed team grade under CAMPAIGN_SETTINGS (as the assessment service computes it)."""
    s = CAMPAIGN_SETTINGS
    democratic = sum(w * f for w, f in zip(s["focus_weights"].values(), team.focus_scores, strict=True))
    by_source = {"democratic": democratic, "survey": team.survey, "performance": team.performance}
    quantitative = round(sum(w * by_source[k] for k, w in s["source_weights"].items()), 2)
    deductions = sum(f[2] for f in team.findings)
    composite = round(max(0.0, s["qualitative_weight"] * team.qualitative + s["quantitative_weight"] * quantitative
                          - deductions), 2)
    for grade, threshold in s["grade_thresholds"].items():
        if composite >= threshold:
            return composite, grade
    return composite, "poor"


def survey_csv() -> str:
    lines = ["unit,score,summary"] + [f"{t.unit},{t.survey:g},{t.survey_summary}" for t in TEAMS]
    return "\n".join(lines) + "\n"
