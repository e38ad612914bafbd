"""Published topics: the wire form of `topicprevious`, what a topic may hold, and the contract in
services/topics.py kept by every service (what its relay chains, what its queues are bound to, what its
consumer checks)."""
from __future__ import annotations

import importlib

import pytest
from hypothesis import given
from hypothesis import strategies as st
from nameko.events import EventHandler

from services.backbone.envelope import FEED_START, FeedCursor
from services.backbone.providers import ConsumerProvider, RelayProvider
from services.backbone.subscribe import SourceSubscription
from services.backbone.topics import Topic, format_previous, parse_previous
from services.topics import PUBLISHED, SUBSCRIPTIONS, published_by

SERVICES = {"selection": "SelectionService", "posting": "PostingService", "assessment": "AssessmentService",
            "reporting": "ReportingService"}
cursors = st.builds(FeedCursor, st.integers(0, 2**31), st.integers(0, 2**62), st.integers(0, 2**31))
names = st.from_regex(r"[a-z_][a-z0-9_]{0,15}", fullmatch=True)


@given(st.dictionaries(names, cursors, min_size=1, max_size=4))
def test_each_topic_reads_back_the_cursor_written_for_it(previous: dict[str, FeedCursor]) -> None:
    text = format_previous(previous)
    for name, cursor in previous.items():
        assert parse_previous(text, name) == cursor
    assert parse_previous(text, "not_one_of_them_0000000000") is None


def test_an_event_of_no_topic_names_none_and_a_topics_first_event_names_the_start() -> None:
    assert format_previous({}) == ""
    assert parse_previous("", "approvals") is None and parse_previous(None, "approvals") is None
    assert parse_previous("approvals=0.0.0", "approvals") == FEED_START


@pytest.mark.parametrize("text", ["approvals=1.2", "approvals=a.b.c", "approvals=1.2.3.4"])
def test_a_malformed_cursor_for_the_consumers_topic_is_refused(text: str) -> None:
    with pytest.raises(ValueError, match="era.tx_id.position"):
        parse_previous(text, "approvals")


def test_a_topic_holds_only_its_sources_types_and_has_a_plain_name() -> None:
    with pytest.raises(ValueError, match="own event types"):
        Topic("selection", "mixed", ("selection.NominationApproved", "posting.PlacementPlanned"))
    with pytest.raises(ValueError, match="own event types"):
        Topic("selection", "empty", ())
    with pytest.raises(ValueError, match="letters, digits"):
        Topic("selection", "a=b", ("selection.NominationApproved",))


def test_published_topics_have_one_name_each_per_source_and_name_registered_types() -> None:
    from deploy.catalogue import registries

    known = {name for registry in registries().values() for name in registry.names()}
    assert len({(t.source, t.name) for t in PUBLISHED}) == len(PUBLISHED)
    for topic in PUBLISHED:
        assert topic.types <= known, f"{topic.name}: {sorted(topic.types - known)} are no event types"


@pytest.mark.parametrize("service", SERVICES)
def test_each_service_chains_its_own_topics_binds_and_checks_what_the_contract_says(service: str) -> None:
    cls = getattr(importlib.import_module(f"services.{service}.service"), SERVICES[service])
    relay = next((p for p in vars(cls).values() if isinstance(p, RelayProvider)), None)
    if relay is not None:
        assert relay.topics == published_by(service)
    consumer = next(p for p in vars(cls).values() if isinstance(p, ConsumerProvider))
    bound = {handler.source_service: getattr(handler, "topic", None)
             for attr in vars(cls).values() for handler in getattr(attr, "nameko_entrypoints", ())
             if isinstance(handler, EventHandler)}
    assert bound == SUBSCRIPTIONS[service]
    handlers = [h for attr in vars(cls).values() for h in getattr(attr, "nameko_entrypoints", ()) if isinstance(h, EventHandler)]
    assert all(isinstance(h, SourceSubscription) for h in handlers), "a plain event handler drops undecodable messages"
    assert {s: t for s, t in bound.items() if t is not None} == (consumer.topics or {})
    for source, topic in (consumer.topics or {}).items():
        acted_on = set((consumer.versions or {}).get(source, {}))
        assert acted_on and acted_on <= topic.types, f"{service} acts on {sorted(acted_on - topic.types)} of {source}"
