"""The table views reporting serves, as SQL over its versioned read models (see queries.py for `{cur_x}`).

Cross-source joins (a placement's cadre name, a placement's assessment) happen here, at query time:
each table holds one source's facts only.
"""
from __future__ import annotations

from services.reporting.queries import View

RUNNING = "('active', 'extended')"
CLOSED = "('completed', 'recalled')"
PARTIES = "ARRAY['organisation_department', 'sending_unit', 'host_unit']"

CADRES = View("cadres", """
    SELECT c.cadre_id, c.name, c.rank, c.home_unit, c.reserve_cadre, c.grassroots_experience, c.fit_for_duty,
           c.open_disciplinary_matter, c.registered_at, c.valid_from AS changed_at,
           (SELECT count(*) FROM {s}.placements p WHERE p.cadre_id = c.cadre_id AND {cur_p}) AS placements
    FROM {s}.cadres c WHERE {cur_c}""",
    {"cadre_id": "v.cadre_id = %(cadre_id)s", "home_unit": "v.home_unit = %(home_unit)s", "rank": "v.rank = %(rank)s",
     "reserve_cadre": "v.reserve_cadre = %(reserve_cadre)s",
     "q": "(v.name ILIKE '%%' || %(q)s || '%%' OR v.cadre_id ILIKE '%%' || %(q)s || '%%')"},
    "v.cadre_id")

NOMINATIONS = View("nominations", """
    SELECT n.nomination_id, n.cadre_id, c.name AS cadre_name, n.sending_unit, n.cadre_rank, n.placement_type,
           n.host_unit, n.host_post, n.post_level, n.posting_mode, n.status, n.pending_step, n.status_since,
           floor(extract(epoch FROM (%(at)s::timestamptz - n.status_since)) / 86400)::int AS days_at_step,
           n.recommended_on, n.eligible, n.overridden, n.failed_criteria, n.policy_version, n.decision_ref,
           n.decision_date, n.reason
    FROM {s}.nominations n LEFT JOIN {s}.cadres c ON c.cadre_id = n.cadre_id AND {cur_c}
    WHERE {cur_n}""",
    {"status": "v.status = %(status)s", "sending_unit": "v.sending_unit = %(sending_unit)s",
     "host_unit": "v.host_unit = %(host_unit)s", "placement_type": "v.placement_type = %(placement_type)s",
     "cadre_id": "v.cadre_id = %(cadre_id)s", "pending_step": "v.pending_step = %(pending_step)s"},
    "v.status_since, v.nomination_id")

STUCK_NOMINATIONS = View("stuck-nominations", NOMINATIONS.query + """
    AND n.status IN ('recommended', 'inspected')
    AND n.status_since <= %(at)s::timestamptz - make_interval(days => %(stuck_days)s)""",
    NOMINATIONS.filters, "v.status_since, v.nomination_id")

PLACEMENTS = View("placements", f"""
    SELECT p.placement_id, p.nomination_id, p.cadre_id, c.name AS cadre_name, p.cadre_rank, p.placement_type,
           p.home_unit AS sending_unit, p.host_unit, p.host_post, p.post_level, p.posting_mode, p.term_months,
           p.start_date, p.year, p.status, p.agreement_version, p.signatures, p.fully_signed,
           ARRAY(SELECT x FROM unnest({PARTIES}) x WHERE NOT x = ANY(coalesce(p.signatures, ARRAY[]::text[])))
               AS missing_signatures,
           p.started_on, p.ends_on, p.last_check_in_on, p.check_ins, p.overdue_open, p.overdue_raised_on,
           p.days_without_check_in, p.discipline_incidents, p.trainings, p.training_hours, p.rewards, p.penalties,
           p.outcome, p.ended_on, p.recall_reason, p.valid_from AS changed_at
    FROM {{s}}.placements p LEFT JOIN {{s}}.cadres c ON c.cadre_id = p.cadre_id AND {{cur_c}}
    WHERE {{cur_p}}""",
    {"placement_type": "v.placement_type = %(placement_type)s", "host_unit": "v.host_unit = %(host_unit)s",
     "sending_unit": "v.sending_unit = %(sending_unit)s", "status": "v.status = %(status)s",
     "year": "v.year = %(year)s", "cadre_id": "v.cadre_id = %(cadre_id)s"},
    "v.year, v.placement_type, v.placement_id")

UNSIGNED_AGREEMENTS = View("unsigned-agreements", PLACEMENTS.query + f" AND NOT p.fully_signed AND p.status NOT IN {CLOSED}",
                           PLACEMENTS.filters, "v.start_date, v.placement_id")
OVERDUE_CHECK_INS = View("overdue-check-ins", PLACEMENTS.query + f" AND p.overdue_open AND p.status IN {RUNNING}",
                         PLACEMENTS.filters, "v.overdue_raised_on, v.placement_id")

MISSING_ASSESSMENTS = View("missing-assessments", f"""
    SELECT * FROM (
      SELECT p.placement_id, p.cadre_id, c.name AS cadre_name, p.placement_type, p.home_unit AS sending_unit,
             p.host_unit, p.status, p.started_on, p.ends_on, %(year)s::int AS assessment_year,
             coalesce((SELECT a.status FROM {{s}}.assessments a WHERE a.placement_id = p.placement_id
                         AND a.kind = 'annual' AND a.year = %(year)s AND {{cur_a}} LIMIT 1), 'none') AS assessment_status
      FROM {{s}}.placements p LEFT JOIN {{s}}.cadres c ON c.cadre_id = p.cadre_id AND {{cur_c}}
      WHERE {{cur_p}} AND p.status IN {RUNNING} AND p.started_on <= %(at)s::date) AS m
    WHERE m.assessment_status <> 'finalised'""",
    {"placement_type": "v.placement_type = %(placement_type)s", "host_unit": "v.host_unit = %(host_unit)s",
     "sending_unit": "v.sending_unit = %(sending_unit)s"},
    "v.host_unit, v.placement_id")

ASSESSMENTS = View("assessments", """
    SELECT a.assessment_id, a.kind, a.year, a.placement_id, a.cadre_id, c.name AS cadre_name, a.host_unit,
           a.home_unit AS sending_unit, a.placement_type, a.status, a.final_grade, a.proposed_grade, a.composite,
           a.policy_version, a.min_group_count, a.warnings, a.reopened, a.valid_from AS changed_at
    FROM {s}.assessments a LEFT JOIN {s}.cadres c ON c.cadre_id = a.cadre_id AND {cur_c}
    WHERE {cur_a}""",
    {"host_unit": "v.host_unit = %(host_unit)s", "sending_unit": "v.sending_unit = %(sending_unit)s",
     "year": "v.year = %(year)s", "kind": "v.kind = %(kind)s", "status": "v.status = %(status)s",
     "final_grade": "v.final_grade = %(final_grade)s", "cadre_id": "v.cadre_id = %(cadre_id)s"},
    "v.year, v.host_unit, v.assessment_id")

TEAMS = View("teams", """
    SELECT tr.campaign_id, tr.unit, coalesce(tr.year, k.year) AS year, tr.team_grade, tr.proposed_grade,
           tr.composite, tr.qualitative, tr.quantitative, tr.settings_version, tr.reason, k.agency,
           tr.valid_from AS finalised_at
    FROM {s}.team_results tr LEFT JOIN {s}.campaigns k ON k.campaign_id = tr.campaign_id AND {cur_k}
    WHERE {cur_tr}""",
    {"year": "v.year = %(year)s", "unit": "v.unit = %(unit)s", "campaign_id": "v.campaign_id = %(campaign_id)s",
     "team_grade": "v.team_grade = %(team_grade)s"},
    "v.year, v.campaign_id, v.unit")

TIMELINE = View("timeline", """
    SELECT t.recorded_at, t.source, t.type, t.cadre_id, t.units, t.actor_principal, t.actor_role, t.actor_unit,
           t.reason, t.policy_version, t.correlation_id, t.causation_id, t.command_id, t.stream, t.stream_version,
           t.occurred_at, t.event_id, t.data
    FROM {s}.timeline t WHERE (%(as_of)s::timestamptz IS NULL OR t.recorded_at <= %(as_of)s::timestamptz)""",
    {"cadre_id": "v.cadre_id = %(cadre_id)s", "unit": "v.units @> ARRAY[%(unit)s::text]",
     "actor": "v.actor_principal = %(actor)s", "role": "v.actor_role = %(role)s", "type": "v.type LIKE %(type)s",
     "source": "v.source = %(source)s", "correlation_id": "v.correlation_id = %(correlation_id)s",
     "since": "v.recorded_at >= %(since)s", "until": "v.recorded_at <= %(until)s"},
    "v.recorded_at DESC, v.event_id")

UNITS = View("units", "SELECT u.unit_id, u.name FROM {s}.units u WHERE {cur_u}",
             {"unit_id": "v.unit_id = %(unit_id)s",
              "q": "(v.name ILIKE '%%' || %(q)s || '%%' OR v.unit_id ILIKE '%%' || %(q)s || '%%')"},
             "v.unit_id")
UNIT_NAMES = "SELECT u.unit_id, u.name FROM {s}.units u WHERE {cur_u} AND u.name IS NOT NULL"

TABLE_VIEWS = {view.name: view for view in (CADRES, UNITS, NOMINATIONS, PLACEMENTS, ASSESSMENTS, TEAMS, TIMELINE,
                                            STUCK_NOMINATIONS, UNSIGNED_AGREEMENTS, OVERDUE_CHECK_INS,
                                            MISSING_ASSESSMENTS)}
