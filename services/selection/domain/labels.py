"""Stable codes of the selection domain and the Chinese labels users see for them."""

from __future__ import annotations

RANK_LABELS: dict[str, str] = {
    "clerk": "科员",
    "deputy_section": "副科",
    "section_chief": "正科",
    "deputy_division": "副处",
    "division_chief": "正处",
    "deputy_bureau": "副厅",
    "bureau_chief": "正厅",
}

PLACEMENT_TYPE_LABELS: dict[str, str] = {
    "gap_filling": "补短型",
    "strength": "扬长型",
    "docking": "对接型",
}

POSTING_MODE_LABELS: dict[str, str] = {
    "lower_post": "高职低挂",
    "same_level": "平职挂",
    "assistant_one_up": "挂任高一级职位的助理",
}

GRADE_LABELS: dict[str, str] = {
    "excellent": "优秀",
    "competent": "称职",
    "basically_competent": "基本称职",
    "incompetent": "不称职",
}

ASSESSMENT_KIND_LABELS: dict[str, str] = {
    "annual": "下派年度考核",
    "end_of_term": "期满考核",
}

CRITERION_LABELS: dict[str, str] = {
    "no_grassroots_experience": "无基层工作经历",
    "age_under_cap": "年龄符合要求",
    "fit_for_duty": "身体健康",
    "reserve_cadre": "后备干部",
    "no_open_disciplinary_matter": "无未了结违纪问题",
}

NOMINATION_STATUS_LABELS: dict[str, str] = {
    "recommended": "单位已推荐",
    "inspected": "组织已考察",
    "inspection_failed": "考察未通过",
    "approved": "党委已审定",
    "rejected": "党委未通过",
    "withdrawn": "已撤回",
}

STEP_LABELS: dict[str, str] = {
    "recommend": "单位推荐",
    "inspect": "组织考察",
    "decide": "党委审定",
}
