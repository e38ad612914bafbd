"""Source events as reporting receives them — from the consumer (RecordedEvent) or straight from a source's
feed (CloudEvents bodies of the `read_feed` RPC) — and readers that page through the sources' feeds ahead
of a projector, holding at most a few pages in memory.
"""
from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from datetime import datetime
from typing import Any

from nameko.exceptions import IncorrectSignature
from nameko.standalone.rpc import ClusterRpcProxy

from services.backbone.bulkfeed import parse_page, unpack_page
from services.backbone.envelope import FeedCursor, RecordedEvent
from services.reporting.model import SourceEvent

PAGE = 1000  # the most a source's read_feed RPC returns at once
BULK_PAGE = 2000  # events per read_feed_page call (one text of ~2 MB)
FetchPage = Callable[[str, FeedCursor, int], list[dict[str, Any]]]
Connect = Callable[[], AbstractContextManager[FetchPage]]
Page = tuple[str, list[dict[str, Any]] | Exception | None]


def from_recorded(source: str, event: RecordedEvent) -> SourceEvent:
    return SourceEvent(source, str(event.event_id), event.type, event.schema_version, event.stream, event.version,
                       (event.cursor.era, event.cursor.tx_id, event.cursor.position), event.recorded_at, event.data,
                       event.metadata.to_json())


def from_cloudevent(source: str, body: dict[str, Any]) -> SourceEvent:
    """The SourceEvent of one feed body, without building the backbone's RecordedEvent (cheaper in bulk)."""
    era, tx_id, position = body["sequence"].split(".")
    return SourceEvent(source, body["id"], body["type"], int(body["dataschema"].rsplit(":v", 1)[1]), body["subject"],
                       int(body["streamversion"]), (int(era), int(tx_id), int(position)),
                       datetime.fromisoformat(body["time"]), body["data"], body["fourgatesmetadata"])


class FeedReader:
    """Reads one source's feed after a cursor, in a thread of its own, into a queue shared with other readers.

    Puts `(source, bodies)` per page, then `(source, None)` at the end of the feed (as it was when reached),
    or `(source, error)`. The queue is bounded, so a reader waits while the projector is behind.
    """

    def __init__(self, source: str, connect: Connect, after: FeedCursor, out: queue.Queue[Page], page: int = PAGE) -> None:
        self.source, self.connect, self.after, self.out, self.page = source, connect, after, out, page
        self.thread = threading.Thread(target=self._run, name=f"feed-{source}", daemon=True)

    def start(self) -> FeedReader:
        self.thread.start()
        return self

    def _run(self) -> None:
        after = self.after
        try:
            with self.connect() as fetch:
                while True:
                    bodies = fetch(self.source, after, self.page)
                    if bodies:
                        self.out.put((self.source, bodies))
                        after = FeedCursor.parse(bodies[-1]["sequence"])
                    if len(bodies) < self.page:
                        break
        except Exception as exc:  # noqa: BLE001  (handed to the projector, which raises it)
            self.out.put((self.source, exc))
            return
        self.out.put((self.source, None))


@contextmanager
def rpc_feeds(config: dict[str, Any]) -> Iterator[FetchPage]:
    """A `read_feed` caller over one RPC connection of its own (standalone proxies are not thread-safe)."""
    with ClusterRpcProxy(config, timeout=60) as cluster:
        yield lambda source, after, limit: getattr(cluster, source).read_feed(after.token, limit)


@contextmanager
def rpc_bulk_feeds(config: dict[str, Any]) -> Iterator[FetchPage]:
    """Like `rpc_feeds`, through the bulk `read_feed_page` RPC: one text per page, packed for the trip, parsed here.

    A source of a version before packed pages (during a rolling upgrade) refuses the `packed` argument; its
    pages are then read as plain text.
    """
    plain: set[str] = set()

    def fetch(cluster: Any, source: str, after: FeedCursor, limit: int) -> list[dict[str, Any]]:
        service = getattr(cluster, source)
        if source not in plain:
            try:
                return parse_page(unpack_page(service.read_feed_page(after.token, limit, packed=True)))
            except IncorrectSignature:
                plain.add(source)
        return parse_page(service.read_feed_page(after.token, limit))

    with ClusterRpcProxy(config, timeout=120) as cluster:
        yield lambda source, after, limit: fetch(cluster, source, after, limit)
