"""Codes and the Chinese labels users see: grades, rater groups, dimensions, focuses, sources."""
from __future__ import annotations

EXCELLENT = "excellent"
COMPETENT = "competent"
BASICALLY_COMPETENT = "basically_competent"
INCOMPETENT = "incompetent"

GRADES = (EXCELLENT, COMPETENT, BASICALLY_COMPETENT, INCOMPETENT)
GRADE_LABELS = {
    EXCELLENT: "优秀",
    COMPETENT: "称职",
    BASICALLY_COMPETENT: "基本称职",
    INCOMPETENT: "不称职",
}

RATER_GROUP_LABELS = {
    "leaders": "领导班子成员",
    "colleagues": "干部职工",
    "public": "服务对象",
}

WORK_PERFORMANCE = "work_performance"
PUBLIC_RECOGNITION = "public_recognition"
QUALITY_IMPROVEMENT = "quality_improvement"

DIMENSIONS = (WORK_PERFORMANCE, PUBLIC_RECOGNITION, QUALITY_IMPROVEMENT)
DIMENSION_LABELS = {
    WORK_PERFORMANCE: "工作绩效",
    PUBLIC_RECOGNITION: "群众公认程度",
    QUALITY_IMPROVEMENT: "综合素质提高程度",
}

ANNUAL = "annual"
END_OF_TERM = "end_of_term"
KINDS = (ANNUAL, END_OF_TERM)
KIND_LABELS = {ANNUAL: "下派年度考核", END_OF_TERM: "期满考核"}

TEAM_GRADES = ("excellent", "good", "average", "poor")
TEAM_GRADE_LABELS = {"excellent": "优秀", "good": "良好", "average": "一般", "poor": "较差"}

FOCUSES = ("strategic_direction", "institutional_innovation", "internal_capacity", "service_function")
FOCUS_LABELS = {
    "strategic_direction": "战略方向",
    "institutional_innovation": "体制创新",
    "internal_capacity": "内部能力建设",
    "service_function": "服务职能",
}

# The sources of a team assessment that carry a number; interviews and findings inform them.
TEAM_SOURCES = ("democratic", "survey", "performance")
TEAM_SOURCE_LABELS = {
    "democratic": "民主测评",
    "survey": "第三方民意调查",
    "performance": "实绩分析",
    "interview": "个别谈话",
    "qualitative": "定性评价",
}

FINDING_SOURCES = ("audit", "state_assets")
FINDING_SOURCE_LABELS = {"audit": "审计", "state_assets": "国有资产监管"}

RESULT_USES = ("cadre_adjustment", "pay", "civilised_unit_award", "training")
RESULT_USE_LABELS = {
    "cadre_adjustment": "干部调整",
    "pay": "薪酬",
    "civilised_unit_award": "文明单位评选",
    "training": "教育培训",
}
