"""Aggregate views: placements counted by any dimension, plan against actual, grade distributions (rater
groups below their assessment's minimum count left out, as the assessment service does), team grades,
and the four gates at a glance."""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from services.reporting.queries import Reader, Rows, filtered
from services.reporting.views import PLACEMENTS, RUNNING

PLACEMENT_DIMENSIONS = ("placement_type", "host_unit", "sending_unit", "status", "year")
TYPES = ("gap_filling", "strength", "docking")
GRADES = ("excellent", "competent", "basically_competent", "incompetent")
TEAM_GRADES = ("excellent", "good", "average", "poor")
GAP_FILLING_COLUMNS = ("year", "gap_filling", "total", "gap_filling_share", "gap_filling_main",
                       "plan_requires_gap_filling_main", "planned_gap_filling", "planned_total", "compliant")


def placement_counts(reader: Reader, values: Mapping[str, Any], by: list[str]) -> Rows:
    """How many placements per combination of the `by` dimensions (each one of PLACEMENT_DIMENSIONS)."""
    dims = ", ".join(f"v.{d}" for d in by if d in PLACEMENT_DIMENSIONS)
    return reader.rows(f"SELECT {dims}, count(*) AS placements FROM ({filtered(PLACEMENTS, values)}) AS v"
                       f" GROUP BY {dims} ORDER BY {dims}", values)


PLAN_VS_ACTUAL = f"""
    WITH plan AS (SELECT pl.year, pl.gap_filling, pl.strength, pl.docking, pl.revision FROM {{s}}.plans pl WHERE {{cur_pl}}),
    actual AS (SELECT p.year, p.placement_type, count(*) AS n, count(*) FILTER (WHERE p.status IN {RUNNING}) AS running
               FROM {{s}}.placements p WHERE {{cur_p}} GROUP BY 1, 2),
    years AS (SELECT year FROM plan UNION SELECT year FROM actual)
    SELECT y.year, t.placement_type,
           CASE t.placement_type WHEN 'gap_filling' THEN plan.gap_filling WHEN 'strength' THEN plan.strength
                ELSE plan.docking END AS planned,
           coalesce(actual.n, 0)::int AS actual, coalesce(actual.running, 0)::int AS running, plan.revision AS plan_revision
    FROM years y CROSS JOIN (VALUES ('gap_filling', 1), ('strength', 2), ('docking', 3)) AS t(placement_type, ord)
    LEFT JOIN plan ON plan.year = y.year
    LEFT JOIN actual ON actual.year = y.year AND actual.placement_type = t.placement_type
    WHERE %(year)s::int IS NULL OR y.year = %(year)s
    ORDER BY y.year, t.ord"""


def plan_vs_actual(reader: Reader, values: Mapping[str, Any]) -> Rows:
    """Per year and placement type: planned, actual (placements starting that year), and the difference."""
    rows = reader.rows(PLAN_VS_ACTUAL, {"year": None, **values})
    rows.columns.append("difference")
    for row in rows:
        row["difference"] = None if row["planned"] is None else row["actual"] - row["planned"]
    return rows


def gap_filling_check(rows: list[dict[str, Any]]) -> Rows:
    """Per year: is gap-filling (补短型) the main type, as the plan requires?"""
    years: dict[int, dict[str, dict[str, Any]]] = {}
    for row in rows:
        years.setdefault(row["year"], {})[row["placement_type"]] = row
    return Rows((_gap_filling_year(year, by_type) for year, by_type in sorted(years.items())), GAP_FILLING_COLUMNS)


def _gap_filling_year(year: int, by_type: dict[str, dict[str, Any]]) -> dict[str, Any]:
    actual = {t: by_type.get(t, {}).get("actual") or 0 for t in TYPES}
    planned = {t: by_type.get(t, {}).get("planned") for t in TYPES}
    total = sum(actual.values())
    has_plan = all(v is not None for v in planned.values())
    plan_main = has_plan and all(planned["gap_filling"] > planned[t] for t in TYPES[1:])  # type: ignore[operator]
    actual_main = total > 0 and all(actual["gap_filling"] > actual[t] for t in TYPES[1:])
    return {"year": year, "gap_filling": actual["gap_filling"], "total": total,
            "gap_filling_share": round(actual["gap_filling"] / total, 4) if total else None,
            "gap_filling_main": actual_main, "plan_requires_gap_filling_main": plan_main,
            "planned_gap_filling": planned["gap_filling"], "planned_total": sum(planned.values()) if has_plan else None,
            # Nothing placed yet in a year whose plan wants gap-filling first: not judged yet (null), not a breach.
            "compliant": None if plan_main and not total else actual_main or not plan_main}


def _grade_sums(prefix: str, source: str, condition: str = "") -> str:
    return ", ".join(f"sum({source}.{g}) {condition} AS {prefix}{g}" for g in GRADES)


GRADE_DISTRIBUTION = """
    WITH a AS (SELECT a.*, a.{unit_column} AS unit FROM {{s}}.assessments a WHERE {{cur_a}}
                 AND (%(year)s::int IS NULL OR a.year = %(year)s) AND (%(kind)s::text IS NULL OR a.kind = %(kind)s)
                 AND (%(unit)s::text IS NULL OR a.{unit_column} = %(unit)s)),
    finals AS (SELECT unit, year, kind, count(*)::int AS assessments,
                      count(*) FILTER (WHERE status = 'finalised')::int AS finalised, {finals}
               FROM a GROUP BY 1, 2, 3),
    groups AS (SELECT e.assessment_id, e.rater_group, {entry_sums},
                      sum(e.excellent + e.competent + e.basically_competent + e.incompetent) AS ballots
               FROM {{s}}.assessment_entries e WHERE {{cur_e}} AND e.live AND e.assessment_id IN (SELECT assessment_id FROM a)
               GROUP BY 1, 2),
    shown AS (SELECT a.unit, a.year, a.kind, {shown_sums},
                     count(*) FILTER (WHERE g.ballots >= a.min_group_count)::int AS groups_shown,
                     count(*) FILTER (WHERE g.ballots > 0 AND g.ballots < a.min_group_count)::int AS groups_withheld
              FROM groups g JOIN a USING (assessment_id) GROUP BY 1, 2, 3)
    SELECT f.*, {ballot_columns}, coalesce(s.groups_shown, 0) AS groups_shown, coalesce(s.groups_withheld, 0) AS groups_withheld
    FROM finals f LEFT JOIN shown s USING (unit, year, kind)
    ORDER BY f.year, f.unit, f.kind"""


def grade_distribution(reader: Reader, values: Mapping[str, Any], by: str = "host_unit") -> Rows:
    """Final grades and democratic-evaluation ballots per unit, year and kind; a rater group's ballots count
    only when the group reached its assessment's minimum (groups below it are counted as withheld)."""
    unit_column = "home_unit" if by == "sending_unit" else "host_unit"
    query = GRADE_DISTRIBUTION.format(
        unit_column=unit_column,
        finals=", ".join(f"count(*) FILTER (WHERE final_grade = '{g}')::int AS {g}" for g in GRADES),
        entry_sums=_grade_sums("", "e"),
        shown_sums=_grade_sums("ballots_", "g", "FILTER (WHERE g.ballots >= a.min_group_count)"),
        ballot_columns=", ".join(f"coalesce(s.ballots_{g}, 0)::int AS ballots_{g}" for g in GRADES))
    rows = reader.rows(query, {"year": None, "kind": None, "unit": None, **values})
    rows.columns.append("excellent_share")
    for row in rows:
        row["excellent_share"] = round(row["excellent"] / row["finalised"], 4) if row["finalised"] else None
    return rows


def team_grades(reader: Reader, values: Mapping[str, Any]) -> Rows:
    return reader.rows("""
        SELECT coalesce(tr.year, k.year) AS year, tr.team_grade, count(*)::int AS teams
        FROM {s}.team_results tr LEFT JOIN {s}.campaigns k ON k.campaign_id = tr.campaign_id AND {cur_k}
        WHERE {cur_tr} AND (%(year)s::int IS NULL OR coalesce(tr.year, k.year) = %(year)s)
        GROUP BY 1, 2 ORDER BY 1, array_position(ARRAY['excellent', 'good', 'average', 'poor'], tr.team_grade)""",
        {"year": None, **values})
