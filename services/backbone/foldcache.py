"""Aggregates' states kept folded between commands, so that a command reads only the events recorded since.

Used by the services whose streams grow long (a cadre, a placement, an assessment with its ballots).
"""
from __future__ import annotations

import weakref
from collections import OrderedDict
from collections.abc import Callable, Sequence
from functools import reduce
from typing import Any

import psycopg

from services.backbone.cooperative import pause
from services.backbone.envelope import RecordedEvent
from services.backbone.store import EventStore


class FoldCache:
    """Streams folded up to a version, per event store, refreshed with only the events recorded since.

    A stream's events never change, so a command need not refold its whole stream: it reads the events
    after the cached version (in its own transaction, before it appends anything, so an append that is
    rolled back never reaches the cache). `scrub` drops personal text from a state before it is kept,
    so that erasing a person leaves no plaintext behind in the process.
    """

    def __init__(self, evolve: Callable[[Any, Any], Any], load: Callable[[RecordedEvent], Any],
                 scrub: Callable[[Any], Any] = lambda state: state, size: int = 20_000,
                 refold_on: frozenset[str] = frozenset()) -> None:
        self.evolve, self.load, self.scrub, self.size = evolve, load, scrub, size
        # Event types after which the stream is folded again from its start: an erasure changes what the earlier
        # events read as (sealed fields become placeholders), and the kept state must be what a fresh fold gives.
        self.refold_on = refold_on
        self._folds: weakref.WeakKeyDictionary[EventStore, OrderedDict[str, tuple[int, Any]]] = weakref.WeakKeyDictionary()

    def state(self, store: EventStore, stream: str, conn: psycopg.Connection | None = None) -> tuple[int, Any]:
        """(version, state) of the stream now; the state was scrubbed."""
        folds = self._folds.setdefault(store, OrderedDict())
        version, state = folds.get(stream, (0, None))
        new = store.read_stream_after(stream, version, conn=conn)
        if version and any(recorded.type in self.refold_on for recorded in new):
            version, state, new = 0, None, store.read_stream_after(stream, 0, conn=conn)
        for recorded in new:
            state = self.evolve(state, self.load(recorded))
        if new:
            state = self.scrub(state) if state is not None else None
        folds[stream] = (version + len(new), state)
        folds.move_to_end(stream)
        while len(folds) > self.size:
            folds.popitem(last=False)
        return folds[stream]

    def states(self, store: EventStore, prefix: str, cold_streams: int = 50) -> dict[str, tuple[int, Any]]:
        """Every stream whose name starts with `prefix` -> (its version, its scrubbed state) now, in stream
        order: the streams that changed since they were cached are read again (only their new events, or in
        bulk when more than `cold_streams` are stale: a cold cache after a start). More streams than the
        cache holds are all read again each time: correct, and as slow as folding them all."""
        current = store.stream_versions(prefix)
        stale = [stream for stream, version in current.items() if self.cached(store, stream, version) is None]
        if len(stale) > cold_streams:
            self.fill(store, stale)
        states: dict[str, tuple[int, Any]] = {}
        for i, (stream, version) in enumerate(sorted(current.items())):
            states[stream] = self.cached(store, stream, version) or self.state(store, stream)
            if i % 200 == 199:
                pause()  # let requests and heartbeats through meanwhile
        return states

    def fill(self, store: EventStore, streams: Sequence[str], chunk: int = 100) -> None:
        """Fold the named streams from their start, `chunk` streams per query (a cold cache's many streams:
        far fewer round trips than a `state` each), letting other green threads run between chunks."""
        folds = self._folds.setdefault(store, OrderedDict())
        for start in range(0, len(streams), chunk):
            by_stream: dict[str, list[RecordedEvent]] = {stream: [] for stream in streams[start:start + chunk]}
            for recorded in store.read_streams(list(by_stream)):
                by_stream[recorded.stream].append(recorded)
            for stream, recorded_events in by_stream.items():
                state = reduce(self.evolve, map(self.load, recorded_events), None)
                folds[stream] = (len(recorded_events), self.scrub(state) if state is not None else None)
                folds.move_to_end(stream)
            while len(folds) > self.size:
                folds.popitem(last=False)
            pause()

    def cached(self, store: EventStore, stream: str, version: int) -> tuple[int, Any] | None:
        """The cached (version, state) if the cache is at exactly `version`, else None (no database read)."""
        folds = self._folds.get(store)
        found = folds.get(stream) if folds is not None else None
        return found if found is not None and found[0] == version else None
