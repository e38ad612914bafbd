"""The pure core of reporting's projections: the raw event as reporting sees it, and the working set of
read-model rows a batch of events reads and writes. No I/O: a store loads rows into a Working and
saves what changed; an as-of replay or a test can use a Working on its own.

Every read-model row is versioned. `put` never edits a row in place: it adds a version valid from the
event's recorded_at (never earlier than the version before it), so each table can answer "as of".
"""
from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, NamedTuple

Key = tuple[Any, ...]
Row = dict[str, Any]
Slot = tuple[str, Key]

# Each entity table, its key columns, and the one source whose events feed it. One source per table
# keeps a table's contents independent of how the three feeds interleave.
TABLE_KEYS: dict[str, tuple[str, ...]] = {
    "cadres": ("cadre_id",),
    "units": ("unit_id",),
    "nominations": ("nomination_id",),
    "placements": ("placement_id",),
    "plans": ("year",),
    "assessments": ("assessment_id",),
    "assessment_entries": ("assessment_id", "entry_id"),
    "roster": ("placement_id",),
    "campaigns": ("campaign_id",),
    "team_results": ("campaign_id", "unit"),
}
TABLE_SOURCE: dict[str, str] = {
    "cadres": "selection", "units": "selection", "nominations": "selection",
    "placements": "posting", "plans": "posting",
    "assessments": "assessment", "assessment_entries": "assessment", "roster": "assessment",
    "campaigns": "assessment", "team_results": "assessment",
}
VERSION_COLUMNS = ("version", "valid_from", "valid_to", "event_id")
SOURCES = ("selection", "posting", "assessment")


class SourceEvent(NamedTuple):
    """One event of a source's feed: type, payload and metadata as plain JSON values, and where it sits.

    A named tuple, not a frozen dataclass: a rebuild makes a million of these, and a frozen dataclass's
    constructor (one `object.__setattr__` per field) cost 4 % of its loader's time."""

    source: str
    event_id: str
    type: str
    schema_version: int
    stream: str
    stream_version: int
    cursor: tuple[int, int, int]
    recorded_at: datetime
    data: Mapping[str, Any]
    meta: Mapping[str, Any]


@dataclass(frozen=True)
class Attribution:
    """Whom an event concerns: a cadre (if any) and the units involved."""

    cadre_id: str | None = None
    units: tuple[str, ...] = ()


@dataclass(frozen=True)
class Rule:
    """How one event type changes the read models: the rows it reads, and the change itself."""

    needs: Callable[[SourceEvent], Iterable[Slot]]
    apply: Callable[[SourceEvent, Working], Attribution | None]


class RowNotLoadedError(LookupError):
    """A rule read a row its `needs` did not name: a bug in the rule, never a data problem."""


@dataclass
class Working:
    """Rows loaded for a batch (`None` = known absent), the new versions it made, and its timeline rows."""

    current: dict[Slot, Row | None] = field(default_factory=dict)
    loaded_open: set[Slot] = field(default_factory=set)
    versions: dict[Slot, list[Row]] = field(default_factory=dict)
    timeline: list[Row] = field(default_factory=list)
    erased: list[tuple[str, datetime, str]] = field(default_factory=list)  # (cadre, when, event): erase everywhere
    _journal: dict[Slot, tuple[Row | None, int]] = field(default_factory=dict)
    _timeline_mark: int = 0
    _erased_mark: int = 0

    def load(self, rows: Mapping[Slot, Row | None]) -> None:
        """Add rows read from the store (current versions), without overriding rows already in play."""
        for slot, row in rows.items():
            if slot not in self.current:
                self.current[slot] = row
                if row is not None:
                    self.loaded_open.add(slot)

    def get(self, table: str, key: Key) -> Row | None:
        try:
            return self.current[(table, key)]
        except KeyError:
            raise RowNotLoadedError(f"{table}{key} was not loaded: add it to the rule's needs") from None

    def put(self, table: str, key: Key, values: Row, event: SourceEvent) -> Row:
        """A new version of a row (a second put by the same event replaces that event's version)."""
        slot = (table, key)
        previous = self.get(table, key)
        pending = self.versions.setdefault(slot, [])
        self._journal.setdefault(slot, (previous, len(pending)))
        if previous is not None and pending and pending[-1] is previous and previous["event_id"] == event.event_id:
            row = {**previous, **values}
            pending[-1] = row
        else:
            start = event.recorded_at if previous is None else max(event.recorded_at, previous["valid_from"])
            number = 1 if previous is None else previous["version"] + 1
            row = {**(previous or {}), **values, "version": number, "valid_from": start, "valid_to": None,
                   "event_id": event.event_id}
            pending.append(row)
        row.update(zip(TABLE_KEYS[table], key, strict=True))
        self.current[slot] = row
        return row

    def begin(self) -> None:
        """Start one event: what it changes can be undone as a whole if it fails."""
        self._journal = {}
        self._timeline_mark = len(self.timeline)
        self._erased_mark = len(self.erased)

    def undo(self) -> None:
        """Forget every change of the event begun last (it failed and will be parked)."""
        for slot, (previous, length) in self._journal.items():
            del self.versions[slot][length:]
            self.current[slot] = previous
        del self.timeline[self._timeline_mark:]
        del self.erased[self._erased_mark:]
        self._journal = {}

    def changes(self) -> Iterable[tuple[str, Key, int | None, list[Row]]]:
        """Per changed row: table, key, the stored version to close (if any) and the new versions, chained."""
        for (table, key), rows in self.versions.items():
            if not rows:
                continue
            for before, after in zip(rows, rows[1:], strict=False):
                before["valid_to"] = after["valid_from"]
            first = rows[0]["version"]
            closes = first - 1 if (table, key) in self.loaded_open else None
            yield table, key, closes, rows
