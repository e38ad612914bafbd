"""The four gates at a glance (四关): per gate, what is missing or late, as counts a dashboard can show.
Each count has a list behind it (the compliance views), so every number can be opened and checked."""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from services.reporting.queries import Reader, filtered
from services.reporting.summaries import gap_filling_check, plan_vs_actual
from services.reporting.views import CLOSED, MISSING_ASSESSMENTS, RUNNING

SELECTION = """
    SELECT count(*) FILTER (WHERE n.status IN ('recommended', 'inspected'))::int AS open,
           count(*) FILTER (WHERE n.status IN ('recommended', 'inspected')
                 AND n.status_since <= %(at)s::timestamptz - make_interval(days => %(stuck_days)s))::int AS stuck,
           count(*) FILTER (WHERE n.status = 'recommended' AND NOT coalesce(n.eligible, true) AND NOT n.overridden)::int
               AS blocked,
           count(*) FILTER (WHERE n.overridden)::int AS overridden,
           count(*) FILTER (WHERE n.status = 'approved')::int AS approved,
           count(*) FILTER (WHERE n.status IN ('inspection_failed', 'rejected', 'withdrawn'))::int AS ended
    FROM {s}.nominations n WHERE {cur_n}"""

PLACEMENTS = f"""
    SELECT count(*) FILTER (WHERE p.status IN {RUNNING})::int AS running,
           count(*) FILTER (WHERE NOT p.fully_signed AND p.status NOT IN {CLOSED})::int AS unsigned_agreements,
           count(*) FILTER (WHERE p.overdue_open AND p.status IN {RUNNING})::int AS overdue_check_ins,
           coalesce(sum(p.discipline_incidents) FILTER (WHERE p.status IN {RUNNING}), 0)::int AS discipline_incidents,
           count(*) FILTER (WHERE p.status IN {RUNNING} AND p.trainings = 0)::int AS running_without_training,
           coalesce(sum(p.trainings), 0)::int AS trainings, coalesce(sum(p.training_hours), 0)::int AS training_hours,
           coalesce(sum(p.rewards), 0)::int AS rewards, coalesce(sum(p.penalties), 0)::int AS penalties,
           count(*) FILTER (WHERE p.outcome = 'returned')::int AS returned,
           count(*) FILTER (WHERE p.outcome = 'retained')::int AS retained,
           count(*) FILTER (WHERE p.outcome = 'promoted')::int AS promoted,
           count(*) FILTER (WHERE p.status = 'recalled')::int AS recalled
    FROM {{s}}.placements p WHERE {{cur_p}}"""

WARNINGS = """
    SELECT count(*) FILTER (WHERE a.warnings > 0)::int AS with_warnings,
           count(*) FILTER (WHERE a.status = 'finalised')::int AS finalised
    FROM {s}.assessments a WHERE {cur_a} AND a.year = %(year)s"""


def four_gates(reader: Reader, values: Mapping[str, Any]) -> dict[str, Any]:
    """Counts per gate for `year` (plan, assessments) as of `as_of` (or now)."""
    selection = reader.rows(SELECTION, values)[0]
    placements = reader.rows(PLACEMENTS, values)[0]
    missing = reader.rows(f"SELECT count(*) FILTER (WHERE v.assessment_status = 'none')::int AS not_opened,"
                          f" count(*) FILTER (WHERE v.assessment_status = 'open')::int AS not_finalised"
                          f" FROM ({filtered(MISSING_ASSESSMENTS, {})}) AS v", values)[0]
    warnings = reader.rows(WARNINGS, values)[0]
    plan = plan_vs_actual(reader, values)
    check = next(iter(gap_filling_check(plan)), None)
    return {
        "year": values["year"],
        "selection": {**selection, "stuck_days": values["stuck_days"]},
        "method": {"by_type": [{k: r[k] for k in ("placement_type", "planned", "actual", "difference")} for r in plan],
                   "gap_filling": check},
        "responsibility": {"running": placements["running"], "unsigned_agreements": placements["unsigned_agreements"],
                           "overdue_check_ins": placements["overdue_check_ins"],
                           "assessments_not_opened": missing["not_opened"],
                           "assessments_not_finalised": missing["not_finalised"],
                           "assessments_with_warnings": warnings["with_warnings"],
                           "assessments_finalised": warnings["finalised"],
                           "discipline_incidents": placements["discipline_incidents"]},
        "safeguards": {k: placements[k] for k in ("running_without_training", "trainings", "training_hours", "rewards",
                                                  "penalties", "returned", "retained", "promoted", "recalled")},
    }
