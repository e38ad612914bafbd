"""Published topics: named subsets of a service's event types, chained so that a consumer can subscribe to
the types it acts on alone and still see a gap.

A consumer bound to all of a source's events receives every one, and each costs it a delivery, an
acknowledgement and a transaction, even those it only records as seen. A source therefore publishes
*topics*: a topic is a name and a set of the source's event types. Each event of a topic carries, in
its CloudEvents extension `topicprevious`, the feed position of the topic's previous event
(`approvals=3.1201.0`; `0.0.0` for the topic's first). A consumer subscribed to the topic binds its
queue to the topic's types only and checks that position against its cursor, exactly as it checks
`previoussequence` when it receives everything: equal or behind, nothing of the topic is missing;
ahead, an event of the topic was lost and the feed is read from the cursor, which brings it.

The source owns its topics (they are part of what it publishes, like its event types). A consumer names
the topic it reads; a topic whose types change gets a new name, and the source publishes both while
consumers move over. Should a consumer's copy of a topic ever disagree with the source's, it still loses
nothing: an event without the consumer's topic in `topicprevious` falls back to `previoussequence`,
which shows a gap at each delivery, and the feed is read every time -- slow, and loud in
`fourgates_consumer_messages_total{outcome="caught_up"}`, never wrong.
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from services.backbone.envelope import FeedCursor

__all__ = ["Topic", "format_previous", "parse_previous"]


@dataclass(frozen=True)
class Topic:
    """`source`'s events of `types`, published under `name`."""

    source: str
    name: str
    types: frozenset[str]

    def __init__(self, source: str, name: str, types: Iterable[str]) -> None:
        types = frozenset(types)
        if not name.isidentifier():
            raise ValueError(f"topic name {name!r}: letters, digits and underscores only")
        if not types or any(not t.startswith(f"{source}.") for t in types):
            raise ValueError(f"topic {name!r}: one or more of {source}'s own event types")
        object.__setattr__(self, "source", source)
        object.__setattr__(self, "name", name)
        object.__setattr__(self, "types", types)

    def covers(self, types: Iterable[str]) -> bool:
        return set(types) <= self.types


def format_previous(previous: Mapping[str, FeedCursor]) -> str:
    """`topicprevious` of an event: each topic it belongs to, with the position of that topic's previous event."""
    return ",".join(f"{name}={cursor.token}" for name, cursor in sorted(previous.items()))


def parse_previous(text: str | None, topic: str) -> FeedCursor | None:
    """The position `text` gives for `topic`, or None when the event does not name it."""
    if not text:
        return None
    if not isinstance(text, str):
        raise ValueError(f"topicprevious {text!r} is not text")
    for part in text.split(","):
        name, _, token = part.partition("=")
        if name == topic:
            return FeedCursor.parse(token)
    return None
