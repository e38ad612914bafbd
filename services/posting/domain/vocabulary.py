"""Codes the posting domain speaks in, their Chinese labels, and the date arithmetic of a term."""

from __future__ import annotations

import calendar
from datetime import date

# Ordered lowest to highest; a post's level is compared with the cadre's rank by position here.
RANKS: tuple[str, ...] = (
    "clerk",
    "deputy_section",
    "section_chief",
    "deputy_division",
    "division_chief",
    "deputy_bureau",
    "bureau_chief",
)
RANK_LABELS: dict[str, str] = {
    "clerk": "科员",
    "deputy_section": "副科",
    "section_chief": "正科",
    "deputy_division": "副处",
    "division_chief": "正处",
    "deputy_bureau": "副厅",
    "bureau_chief": "正厅",
}

PLACEMENT_TYPES: tuple[str, ...] = ("gap_filling", "strength", "docking")
PLACEMENT_TYPE_LABELS: dict[str, str] = {
    "gap_filling": "补短型",
    "strength": "扬长型",
    "docking": "对接型",
}

POSTING_MODES: tuple[str, ...] = ("lower_post", "same_level", "assistant_one_up")
POSTING_MODE_LABELS: dict[str, str] = {
    "lower_post": "高职低挂",
    "same_level": "平职挂",
    "assistant_one_up": "挂任高一级职位的助理",
}

STATUSES: tuple[str, ...] = (
    "planned",
    "agreement_signed",
    "active",
    "extended",
    "completed",
    "recalled",
)
STATUS_LABELS: dict[str, str] = {
    "planned": "已计划",
    "agreement_signed": "协议已签订",
    "active": "挂职中",
    "extended": "已延期",
    "completed": "期满结束",
    "recalled": "提前召回",
}
RUNNING_STATUSES: frozenset[str] = frozenset({"active", "extended"})
CLOSED_STATUSES: frozenset[str] = frozenset({"completed", "recalled"})

OUTCOMES: tuple[str, ...] = ("returned", "retained", "promoted")
OUTCOME_LABELS: dict[str, str] = {
    "returned": "回原单位",
    "retained": "留任",
    "promoted": "提拔任用",
}

# The three parties of the responsibility agreement (责任书), in signing-table order.
AGREEMENT_PARTIES: tuple[str, ...] = (
    "organisation_department",
    "sending_unit",
    "host_unit",
)
AGREEMENT_PARTY_LABELS: dict[str, str] = {
    "organisation_department": "组织部门",
    "sending_unit": "派出单位",
    "host_unit": "接收单位",
}

ATTENDANCE_KINDS: tuple[str, ...] = ("attendance", "leave")
ATTENDANCE_KIND_LABELS: dict[str, str] = {"attendance": "考勤", "leave": "请假"}


def add_months(start: date, months: int) -> date:
    """The same day `months` later, clamped to the month's last day (31 Jan + 1 = 28/29 Feb)."""
    month_index = start.month - 1 + months
    year, month = start.year + month_index // 12, month_index % 12 + 1
    return date(year, month, min(start.day, calendar.monthrange(year, month)[1]))
