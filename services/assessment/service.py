"""The assessment service (责任关 / 领导班子综合考核): annual and end-of-term assessments of seconded
cadres with anonymous democratic evaluation, and leadership-team comprehensive assessment campaigns.

HTTP under /assessment, RPC for queries, events on `assessment.events` through the relay; it learns
who is placed where from `posting.events`.
"""
from __future__ import annotations

import logging
from typing import Any

import psycopg
from nameko.rpc import rpc

from services.assessment import ballots as b
from services.assessment import campaigns as c
from services.assessment import handlers as h
from services.assessment import responses as r
from services.assessment import schemas as s
from services.assessment import views as v
from services.assessment.domain import ROSTER_EVENT_TYPES
from services.backbone.commands import Aggregates, CommandMeta
from services.backbone.domain import Actor, Context, ForbiddenError, NotFoundError
from services.backbone.edge import edge_endpoints
from services.backbone.envelope import RecordedEvent
from services.backbone.http import Call, RouteTable, endpoint
from services.backbone.parking import erase_parked
from services.backbone.providers import ConsumerProvider, EventStoreProvider, RelayProvider, SequencerProvider
from services.backbone.schemas import page_body
from services.backbone.scope import require_read
from services.backbone.store import EventStore
from services.backbone.subscribe import subscribe
from services.backbone.timers import every
from services.backbone.vault import ERASURE_EVENT, erase_person_everywhere
from services.topics import POSTING_ROSTER, SELECTION_ERASURES, published_by, subscribed_by

log = logging.getLogger(__name__)
ROUTES = RouteTable("assessment")
OD = ("organisation_department",)
HOST = ("host_unit",)
ONE = "/placements/{placement_id}/assessments/{period}"
CAMPAIGN = "/campaigns/{campaign_id}"
CONSUMER_ACTOR = Actor("service:assessment", "integration", None)
# The raw feed holds every ballot and tally, however small the group: only these roles read it over HTTP.
FEED_READERS = ("auditor", "integration", "operator")


def apply_posting_event(conn: psycopg.Connection, event: RecordedEvent, store: EventStore) -> None:
    """Placement events update the roster; every other posting event is not ours."""
    meta = CommandMeta(Context(CONSUMER_ACTOR, event.recorded_at, "挂职信息同步 noted from posting"),
                       command_id=f"consume:{event.event_id}", correlation_id=event.metadata.correlation_id,
                       source="assessment", causation_id=str(event.event_id))
    h.note_posting_event(Aggregates(store, h.REGISTRY), conn, meta, event)


# What posting seals of the events assessment may park (its roster topic): erased there on the cadre's erasure.
PARKED_PERSONAL: dict[str, tuple[str, ...]] = {
    "posting.PlacementRecalled": ("reason",), "posting.PlacementExtended": ("reason",),
    **dict.fromkeys(("posting.PlacementPlanned", "posting.PlacementStarted", "posting.PlacementCompleted"), ())}


def apply_selection_event(conn: psycopg.Connection, event: RecordedEvent, store: EventStore) -> None:
    """An erased cadre's assessment keys are destroyed; selection's other events are not ours."""
    if event.type == ERASURE_EVENT:
        erase_person_everywhere(store, conn, event.data["cadre_id"], "assessment-", "assessment.AssessmentOpened",
                                "assessment_id")
        placements = h.cadre_placement_ids(store.schema, conn, event.data["cadre_id"])
        erase_parked(conn, store.schema, [event.data["cadre_id"]], [f"placement-{p}" for p in placements],
                     PARKED_PERSONAL)


class AssessmentService(edge_endpoints(ROUTES, feed_roles=FEED_READERS)):  # type: ignore[misc]
    name = "assessment"
    store = EventStoreProvider()
    relay = RelayProvider(topics=published_by("assessment"))
    sequencer = SequencerProvider()
    consumer = ConsumerProvider(
        {"posting": apply_posting_event, "selection": apply_selection_event},
        # the types each handler acts on and the version it reads; the topics it subscribes to (its queues
        # get those types alone; the others, met only in a catch-up of the feed, move its cursor and nothing else)
        versions={"posting": dict.fromkeys(ROSTER_EVENT_TYPES, 1),
                  "selection": {"selection.PersonalDataErased": 1}},
        topics=subscribed_by("assessment"),
    )
    ballot_log_guard = b.BallotLogGuard()

    @property
    def aggregates(self) -> Aggregates:
        return Aggregates(self.store, h.REGISTRY)

    def _step(self, call: Call, placement_id: str, period: str, step: str) -> Any:
        assessment_id = h.period_assessment_id(placement_id, period)
        return h.assessment_step(self.aggregates, call.meta, assessment_id, step, call.payload, call.if_match).to_json()

    def _campaign(self, call: Call, campaign_id: str, step: str, unit: str | None = None) -> Any:
        return c.campaign_step(self.aggregates, call.meta, campaign_id, step, call.payload, call.if_match, unit).to_json()

    @endpoint(ROUTES, "POST", "/policies", summary="Adopt a version of the annual-assessment rules", body=s.PolicyIn,
              response=s.CommandOut, roles=OD, status=201)
    def adopt_policy(self, call: Call) -> Any:
        return h.adopt_policy(self.aggregates, call.meta, call.payload, call.if_match).to_json()

    @endpoint(ROUTES, "GET", "/policies", summary="Every policy version (考核政策), the default first", query=s.ListQuery,
              response=r.PolicyPageOut)
    def list_policies(self, call: Call) -> Any:
        q = call.payload
        views = h.policy_views(self.aggregates, q["as_of"])
        return page_body(views[q["offset"]:q["offset"] + q["limit"]], len(views), q)

    @endpoint(ROUTES, "GET", "/placements/{placement_id}", summary="What this service knows of a placement",
              query=s.AsOfQuery, response=r.PlacementStatusOut)
    def show_placement(self, call: Call, placement_id: str) -> Any:
        status = h.placement_status(self.aggregates, placement_id, call.payload["as_of"])
        if (placement := status["placement"]) is None:
            raise NotFoundError("placement_not_found", f"no placement {placement_id} has reached assessment from posting"
                                " (a placement planned a moment ago may not have yet)")
        require_read(call.actor, f"placement {placement_id}", placement["home_unit"], placement["host_unit"])
        return status

    @endpoint(ROUTES, "POST", "/assessments", summary="Open an annual assessment or end-of-term appraisal",
              body=s.OpenAssessmentIn, response=s.CommandOut, roles=HOST, status=201, if_match=False)
    def open_assessment(self, call: Call) -> Any:
        return h.open_assessment(self.aggregates, call.meta, call.payload).to_json()

    @endpoint(ROUTES, "GET", "/assessments", summary="List assessments the caller may read", query=s.AssessmentListQuery,
              response=r.AssessmentPageOut)
    def browse_assessments(self, call: Call) -> Any:
        q = call.payload
        page, total = h.assessment_page(self.aggregates, q["offset"], q["limit"],
                                        lambda opened: v.may_read_units(call.actor, opened["host_unit"], opened["home_unit"]),
                                        q["as_of"], **{k: q[k] for k in ("host_unit", "year", "cadre_id", "status")})
        return page_body([v.summary_view(a) for a in page], total, q)

    @endpoint(ROUTES, "GET", ONE, summary="One assessment; rater groups below the minimum count withheld", query=s.AsOfQuery,
              response=r.AssessmentOut)
    def show_assessment(self, call: Call, placement_id: str, period: str) -> Any:
        a, _ = h.load(self.aggregates, h.period_assessment_id(placement_id, period), call.payload["as_of"])
        v.require_reader(call.actor, a)
        return v.assessment_view(a)

    @endpoint(ROUTES, "GET", ONE + "/history", summary="Every entry, correction and adjustment, with who and why",
              query=s.AsOfQuery, response=r.HistoryOut)
    def get_history(self, call: Call, placement_id: str, period: str) -> Any:
        a, recorded = h.load(self.aggregates, h.period_assessment_id(placement_id, period), call.payload["as_of"])
        v.require_reader(call.actor, a)
        return {"events": v.history_view(a, recorded)}

    @endpoint(ROUTES, "POST", ONE + "/self-evaluation", summary="Enter the cadre's self-evaluation",
              body=s.SelfEvaluationIn, response=s.CommandOut, roles=HOST)
    def enter_self_evaluation(self, call: Call, placement_id: str, period: str) -> Any:
        return self._step(call, placement_id, period, "self_evaluation")

    @endpoint(ROUTES, "POST", ONE + "/self-evaluation/corrections", summary="Correct the self-evaluation, with a reason",
              body=s.SelfEvaluationCorrectionIn, response=s.CommandOut, roles=HOST)
    def correct_self_evaluation(self, call: Call, placement_id: str, period: str) -> Any:
        return self._step(call, placement_id, period, "self_evaluation_correction")

    @endpoint(ROUTES, "POST", ONE + "/ballot-tokens", summary="Issue one-time ballot tokens to a rater group",
              body=s.BallotTokensIn, response=r.BallotTokensOut, roles=HOST, status=201)
    def issue_ballot_tokens(self, call: Call, placement_id: str, period: str) -> Any:
        assessment_id = h.period_assessment_id(placement_id, period)
        result, tokens = b.issue_tokens(self.aggregates, call.meta, assessment_id, call.payload, call.if_match)
        return {**result.to_json(), "rater_group": call.payload["rater_group"], "tokens": tokens}

    @endpoint(ROUTES, "POST", "/ballots", summary="Cast an anonymous ballot with a one-time token",
              body=s.TokenBallotIn, response=r.BallotAcceptedOut, public=True, status=201, if_match=False)
    def cast_ballot(self, call: Call) -> Any:
        b.cast(self.aggregates, call.payload["ballot_token"], call.payload["grade"])
        return {"accepted": True}

    @endpoint(ROUTES, "POST", ONE + "/ballots", summary="Enter one paper ballot (rater group and grade only)",
              body=s.PaperBallotIn, response=s.CommandOut, roles=HOST)
    def enter_paper_ballot(self, call: Call, placement_id: str, period: str) -> Any:
        return self._step(call, placement_id, period, "paper_ballot")

    @endpoint(ROUTES, "POST", ONE + "/tallies", summary="Enter a rater group's tally of paper ballots",
              body=s.TallyIn, response=s.CommandOut, roles=HOST)
    def enter_tally(self, call: Call, placement_id: str, period: str) -> Any:
        return self._step(call, placement_id, period, "tally")

    @endpoint(ROUTES, "POST", ONE + "/democratic-corrections",
              summary="Correct or void a ballot or tally, with a reason (organisation department)",
              body=s.DemocraticCorrectionIn, response=s.CommandOut, roles=OD)
    def correct_democratic_entry(self, call: Call, placement_id: str, period: str) -> Any:
        return self._step(call, placement_id, period, "democratic_correction")

    @endpoint(ROUTES, "POST", ONE + "/performance-scores", summary="Enter a performance-analysis score with evidence",
              body=s.ScoreIn, response=s.CommandOut, roles=HOST)
    def enter_score(self, call: Call, placement_id: str, period: str) -> Any:
        return self._step(call, placement_id, period, "score")

    @endpoint(ROUTES, "POST", ONE + "/performance-scores/corrections", summary="Correct a score, with a reason",
              body=s.ScoreCorrectionIn, response=s.CommandOut, roles=HOST)
    def correct_score(self, call: Call, placement_id: str, period: str) -> Any:
        return self._step(call, placement_id, period, "score_correction")

    @endpoint(ROUTES, "POST", ONE + "/performance-adjustments", summary="Adjust a dimension's score, with a reason",
              body=s.AdjustmentIn, response=s.CommandOut, roles=HOST)
    def adjust_score(self, call: Call, placement_id: str, period: str) -> Any:
        return self._step(call, placement_id, period, "adjustment")

    @endpoint(ROUTES, "POST", ONE + "/finalisation", summary="Finalise with a grade, within the excellent cap",
              body=s.FinaliseIn, response=s.CommandOut, roles=HOST)
    def finalise(self, call: Call, placement_id: str, period: str) -> Any:
        assessment_id = h.period_assessment_id(placement_id, period)
        return h.finalise(self.aggregates, call.meta, assessment_id, call.payload, call.if_match).to_json()

    @endpoint(ROUTES, "POST", ONE + "/appeals", summary="Reopen a finalised assessment on appeal", body=s.AppealIn,
              response=s.CommandOut, roles=("sending_unit", "organisation_department"))
    def appeal(self, call: Call, placement_id: str, period: str) -> Any:
        return self._step(call, placement_id, period, "appeal")

    @endpoint(ROUTES, "POST", "/campaigns", summary="Open a leadership-team assessment campaign", body=s.CampaignIn,
              response=s.CommandOut, roles=OD, status=201, if_match=False)
    def open_campaign(self, call: Call) -> Any:
        return c.open_campaign(self.aggregates, call.meta, call.payload).to_json()

    @endpoint(ROUTES, "GET", "/campaigns", summary="List campaigns the caller may read", query=s.ListQuery,
              response=r.CampaignPageOut)
    def list_campaigns(self, call: Call) -> Any:
        q = call.payload
        page, total = c.campaign_page(self.aggregates, q["offset"], q["limit"],
                                      lambda units, agency: c.may_read_opened(call.actor, units, agency), q["as_of"])
        return page_body([c.campaign_summary(x, call.actor) for x in page], total, q)

    @endpoint(ROUTES, "GET", CAMPAIGN, summary="One campaign: every unit's sources, grade and recorded uses",
              query=s.AsOfQuery, response=r.CampaignOut)
    def show_campaign(self, call: Call, campaign_id: str) -> Any:
        campaign, recorded = c.load(self.aggregates, campaign_id, call.payload["as_of"])
        if not c.may_read(call.actor, campaign):
            raise ForbiddenError("not_campaign_reader", f"{call.actor.role} {call.actor.unit} may not read {campaign_id}")
        return c.campaign_view(campaign, recorded, call.actor)

    @endpoint(ROUTES, "POST", CAMPAIGN + "/democratic-scores", summary="Enter a team's democratic scores per focus",
              body=s.TeamDemocraticIn, response=s.CommandOut, roles=OD)
    def enter_team_democratic(self, call: Call, campaign_id: str) -> Any:
        return self._campaign(call, campaign_id, "democratic")

    @endpoint(ROUTES, "POST", CAMPAIGN + "/team-scores", summary="Record a performance or qualitative team score",
              body=s.TeamScoreIn, response=s.CommandOut, roles=OD)
    def record_team_score(self, call: Call, campaign_id: str) -> Any:
        return self._campaign(call, campaign_id, "score")

    @endpoint(ROUTES, "POST", CAMPAIGN + "/interview-notes", summary="Record an individual interview's note",
              body=s.InterviewNoteIn, response=s.CommandOut, roles=OD)
    def record_interview(self, call: Call, campaign_id: str) -> Any:
        return self._campaign(call, campaign_id, "interview")

    @endpoint(ROUTES, "POST", CAMPAIGN + "/findings", summary="Record an audit or state-assets finding",
              body=s.FindingIn, response=s.CommandOut, roles=OD)
    def record_finding(self, call: Call, campaign_id: str) -> Any:
        return self._campaign(call, campaign_id, "finding")

    @endpoint(ROUTES, "POST", CAMPAIGN + "/survey-report", summary="Upload the public-opinion survey (appointed agency)",
              body=s.SurveyReportIn, response=s.CommandOut, roles=("third_party_agency",))
    def upload_survey(self, call: Call, campaign_id: str) -> Any:
        return self._campaign(call, campaign_id, "survey")

    @endpoint(ROUTES, "POST", CAMPAIGN + "/units/{unit}/finalisation", summary="Set a unit's team grade",
              body=s.TeamFinaliseIn, response=s.CommandOut, roles=OD)
    def finalise_team(self, call: Call, campaign_id: str, unit: str) -> Any:
        return self._campaign(call, campaign_id, "finalise", unit)

    @endpoint(ROUTES, "POST", CAMPAIGN + "/units/{unit}/result-uses", summary="Record how a team's result is used",
              body=s.ResultUseIn, response=s.CommandOut, roles=OD)
    def record_result_use(self, call: Call, campaign_id: str, unit: str) -> Any:
        return self._campaign(call, campaign_id, "result_use", unit)

    @rpc
    def get_assessment(self, assessment_id: str) -> dict[str, Any]:
        """One assessment as GET shows it (groups below the minimum withheld); NotFoundError if unknown."""
        return v.assessment_view(h.load(self.aggregates, assessment_id)[0])

    @rpc
    def list_assessments(self, host_unit: str | None = None, year: int | None = None,
                         cadre_id: str | None = None, status: str | None = None) -> list[dict[str, Any]]:
        """Summaries of the assessments matching every filter given."""
        page, _ = h.assessment_page(self.aggregates, 0, None, lambda opened: True,
                                    host_unit=host_unit, year=year, cadre_id=cadre_id, status=status)
        return [v.summary_view(a) for a in page]

    @rpc
    def get_campaign(self, campaign_id: str) -> dict[str, Any]:
        """One campaign as GET shows it."""
        return c.campaign_view(*c.load(self.aggregates, campaign_id))

    @rpc
    def placement_status(self, placement_id: str) -> dict[str, Any]:
        """'planned', 'active', 'completed', 'recalled' or None, with the placement's details as posting announced them."""
        return h.placement_status(self.aggregates, placement_id)

    @subscribe("posting", topic=POSTING_ROSTER)
    def on_posting_event(self, body: dict[str, Any]) -> None:
        """Notes placement events on the roster exactly once, in posting's feed order (idempotent consumer)."""
        self.consumer.receive("posting", body)

    @subscribe("selection", topic=SELECTION_ERASURES)
    def on_selection_event(self, body: dict[str, Any]) -> None:
        """Applies erasures of personal data exactly once (idempotent consumer)."""
        self.consumer.receive("selection", body)

    @every("CATCH_UP_SECONDS", 10.0)
    def catch_up(self) -> None:
        """Reads posting's and selection's feeds for anything the broker did not deliver."""
        for source in ("posting", "selection"):
            try:
                self.consumer.catch_up(source)
            except Exception as exc:  # noqa: BLE001  (the source may not be running yet; the next tick retries)
                log.warning("catch-up from %s failed: %s", source, exc)
