"""The Chinese labels users see beside each code, as reporting shows them (its own copy: it imports no
other service). Unknown codes are shown as they are."""
from __future__ import annotations

from typing import Any

PLACEMENT_TYPE = {"gap_filling": "补短型", "strength": "扬长型", "docking": "对接型"}
PLACEMENT_STATUS = {"planned": "已计划", "agreement_signed": "协议已签订", "active": "挂职中", "extended": "已延期",
                    "completed": "期满结束", "recalled": "提前召回"}
NOMINATION_STATUS = {"recommended": "单位已推荐", "inspected": "组织已考察", "inspection_failed": "考察未通过",
                     "approved": "党委已审定", "rejected": "党委未通过", "withdrawn": "已撤回"}
STEP = {"inspect": "组织考察", "decide": "党委审定"}
RANK = {"clerk": "科员", "deputy_section": "副科", "section_chief": "正科", "deputy_division": "副处",
        "division_chief": "正处", "deputy_bureau": "副厅", "bureau_chief": "正厅"}
POSTING_MODE = {"lower_post": "高职低挂", "same_level": "平职挂", "assistant_one_up": "挂任高一级职位的助理"}
OUTCOME = {"returned": "回原单位", "retained": "留任", "promoted": "提拔任用"}
GRADE = {"excellent": "优秀", "competent": "称职", "basically_competent": "基本称职", "incompetent": "不称职"}
TEAM_GRADE = {"excellent": "优秀", "good": "良好", "average": "一般", "poor": "较差"}
KIND = {"annual": "下派年度考核", "end_of_term": "期满考核"}
ASSESSMENT_STATUS = {"open": "进行中", "finalised": "已定等次"}
PARTY = {"organisation_department": "组织部门", "sending_unit": "派出单位", "host_unit": "接收单位"}
RATER_GROUP = {"leaders": "领导班子成员", "colleagues": "干部职工", "public": "服务对象"}
ROLE = {"sending_unit": "派出单位", "organisation_department": "组织部门", "party_committee": "党委",
        "host_unit": "接收单位", "third_party_agency": "第三方调查机构", "auditor": "审计人员", "integration": "系统对接",
        "operator": "运维人员", "anonymous": "匿名测评"}
ASSESSMENT_PROGRESS = {"none": "未启动", **ASSESSMENT_STATUS}  # of a placement's annual assessment
SOURCE = {"selection": "选拔关", "posting": "方式关·责任关·保障关", "assessment": "考核"}
GATE = {"selection": "选拔关", "method": "方式关", "responsibility": "责任关", "safeguards": "保障关"}

EVENT_TYPE = {
    "selection.CadreRegistered": "干部登记", "selection.CadreUpdated": "干部信息变更",
    "selection.CadreAddedToReservePool": "纳入后备干部", "selection.CadreRemovedFromReservePool": "移出后备干部",
    "selection.PolicyAdopted": "选拔政策发布", "selection.NominationRecommended": "单位推荐",
    "selection.EligibilityOverridden": "资格条件特批", "selection.NominationInspected": "组织考察",
    "selection.NominationApproved": "党委审定通过", "selection.NominationRejected": "党委审定未通过",
    "selection.NominationWithdrawn": "推荐撤回", "selection.AssessmentResultRecorded": "考核结果记入档案",
    "selection.PersonalDataErased": "个人信息删除", "selection.RetentionRequired": "档案依法保留",
    "selection.UnitRegistered": "单位登记", "selection.UnitRenamed": "单位更名",
    "posting.NominationRecorded": "审定名单接收", "posting.NominationPlaced": "名单已安排",
    "posting.PlacementPlanned": "挂职安排", "posting.AgreementDrafted": "责任书起草",
    "posting.AgreementAmended": "责任书修订", "posting.AgreementSigned": "责任书签订",
    "posting.PlacementStarted": "到岗挂职", "posting.PlacementExtended": "延期", "posting.PlacementCompleted": "期满结束",
    "posting.PlacementRecalled": "提前召回", "posting.CheckInRecorded": "跟踪督查谈话",
    "posting.CheckInOverdue": "督查逾期预警", "posting.CheckInOverdueCleared": "督查逾期解除",
    "posting.AttendanceReported": "考勤报告", "posting.DisciplineIncidentRecorded": "违纪记录",
    "posting.TrainingRecorded": "培训记录", "posting.RewardDecided": "奖励决定", "posting.PenaltyDecided": "惩戒决定",
    "posting.PlacementPlanRecorded": "年度挂职计划", "posting.PolicyAdopted": "挂职期限政策发布",
    "assessment.PolicyAdopted": "考核办法发布", "assessment.AssessmentOpened": "考核启动",
    "assessment.SelfEvaluationEntered": "个人自评", "assessment.SelfEvaluationCorrected": "个人自评更正",
    "assessment.BallotTokensIssued": "测评票发放", "assessment.BallotCast": "民主测评投票",
    "assessment.TallyEntered": "民主测评汇总录入", "assessment.DemocraticEntryCorrected": "民主测评更正",
    "assessment.PerformanceScoreEntered": "实绩评分", "assessment.PerformanceScoreCorrected": "实绩评分更正",
    "assessment.PerformanceScoreAdjusted": "实绩评分调整", "assessment.WarningRaised": "考核预警",
    "assessment.AssessmentFinalised": "确定考核等次", "assessment.AssessmentReopened": "考核复议",
    "assessment.PlacementEventNoted": "挂职信息同步", "assessment.CampaignOpened": "班子考核启动",
    "assessment.TeamDemocraticScoresEntered": "班子民主测评", "assessment.TeamScoreRecorded": "班子评分",
    "assessment.InterviewNoteRecorded": "个别谈话记录", "assessment.SurveyReportUploaded": "第三方民意调查报告",
    "assessment.FindingRecorded": "审计/国资监管结果", "assessment.TeamAssessmentFinalised": "确定班子考核等次",
    "assessment.ResultUseRecorded": "考核结果运用",
}

# Which label table applies to which column of a view.
COLUMN_LABELS: dict[str, dict[str, str]] = {
    "placement_type": PLACEMENT_TYPE, "rank": RANK, "cadre_rank": RANK, "post_level": RANK,
    "posting_mode": POSTING_MODE, "outcome": OUTCOME, "final_grade": GRADE, "proposed_grade": GRADE,
    "team_grade": TEAM_GRADE, "kind": KIND, "type": EVENT_TYPE, "pending_step": STEP, "source": SOURCE,
    "actor_role": ROLE, "assessment_status": ASSESSMENT_PROGRESS, "signatures": PARTY, "missing_signatures": PARTY,
}


# The columns that hold a unit's id; labelled with the unit's name as of the moment a view describes, which
# is known only at request time (`with_unit_names`).
UNIT_COLUMNS = ("home_unit", "sending_unit", "host_unit", "unit", "actor_unit", "units")

# In the team views a proposed grade is a team grade (良好, 一般…), not a cadre's.
TEAM_COLUMN_LABELS = {**COLUMN_LABELS, "proposed_grade": TEAM_GRADE}


def with_unit_names(tables: dict[str, dict[str, str]], names: dict[str, str]) -> dict[str, dict[str, str]]:
    """The label tables plus every unit column labelled with `names` ({unit_id: name}); an unnamed unit shows its id."""
    return {**tables, **dict.fromkeys(UNIT_COLUMNS, names)}


def label(table: dict[str, str], code: Any) -> Any:
    """A code's label (the code itself when unknown); a list of codes, each labelled."""
    if isinstance(code, list):
        return [label(table, item) for item in code]
    return table.get(code, code) if isinstance(code, str) else code


def labelled(row: dict[str, Any], status: dict[str, str] | None = None,
             tables: dict[str, dict[str, str]] = COLUMN_LABELS) -> dict[str, Any]:
    """The row with a `<column>_label` beside every coded column it has."""
    out = dict(row)
    for column, table in tables.items():
        if column in row and row[column] is not None:
            out[f"{column}_label"] = label(table, row[column])
    if status is not None and row.get("status") is not None:
        out["status_label"] = label(status, row["status"])
    return out


def labelled_columns(columns: list[str], status: dict[str, str] | None = None,
                     tables: dict[str, dict[str, str]] = COLUMN_LABELS) -> list[str]:
    """The columns of rows with these columns once `labelled`: the row's own, then each code's `_label`."""
    labels = [f"{column}_label" for column in tables if column in columns]
    return [*columns, *labels, *(["status_label"] if status is not None and "status" in columns else [])]
