"""The topics each service publishes (services/backbone/topics.py): the subsets of a source's events that
another service subscribes to alone. This module is the contract between them: the source's relay chains
each of its topics, the consumer binds its queue to the topic's types and checks the chain. A topic's
name stands for its types: changing them means a new name, published beside the old one while consumers
move over. Other HR systems subscribe to whole exchanges (every event carries `previoussequence`) or, if
they wish, to a topic.
"""
from services.backbone.topics import Topic

# selection -> posting: an approved nomination becomes a planned placement; an erasure reaches posting too
SELECTION_APPROVALS = Topic("selection", "approvals", ("selection.NominationApproved", "selection.PersonalDataErased"))
# selection -> assessment: erasures of personal data only
SELECTION_ERASURES = Topic("selection", "erasures", ("selection.PersonalDataErased",))
# posting -> assessment: the roster of placements (planned, started, extended, completed, recalled)
POSTING_ROSTER = Topic("posting", "roster", ("posting.PlacementPlanned", "posting.PlacementStarted",
                                             "posting.PlacementExtended", "posting.PlacementCompleted",
                                             "posting.PlacementRecalled"))
# assessment -> selection: a finalised annual assessment is noted on the cadre
ASSESSMENT_FINALISED = Topic("assessment", "finalised", ("assessment.AssessmentFinalised",))

PUBLISHED = (SELECTION_APPROVALS, SELECTION_ERASURES, POSTING_ROSTER, ASSESSMENT_FINALISED)

# Who reads what: per consumer, per source, the topic it subscribes to (None: every event of the source).
SUBSCRIPTIONS: dict[str, dict[str, Topic | None]] = {
    "selection": {"assessment": ASSESSMENT_FINALISED},
    "posting": {"selection": SELECTION_APPROVALS},
    "assessment": {"posting": POSTING_ROSTER, "selection": SELECTION_ERASURES},
    "reporting": {"selection": None, "posting": None, "assessment": None},
}


def published_by(source: str) -> tuple[Topic, ...]:
    """The topics `source`'s relay chains."""
    return tuple(topic for topic in PUBLISHED if topic.source == source)


def subscribed_by(consumer: str) -> dict[str, Topic]:
    """Per source, the topic `consumer` subscribes to (sources it reads whole are left out)."""
    return {source: topic for source, topic in SUBSCRIPTIONS[consumer].items() if topic is not None}
