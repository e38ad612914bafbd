"""Who is placed where, as this service learns it from the posting service's events.

Posting announces a placement's details when it is planned (`posting.PlacementPlanned`), makes it
active when it starts, and ends it by completion or recall. The service notes each of those events
in its own log (`PlacementEventNoted`, one stream per placement) and folds them into a roster.
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from services.backbone.domain import Decision, Event

# Stable names of the posting events the roster follows; any other posting event leaves it as is.
PLACEMENT_PLANNED = "posting.PlacementPlanned"
PLACEMENT_STARTED = "posting.PlacementStarted"
PLACEMENT_EXTENDED = "posting.PlacementExtended"
PLACEMENT_COMPLETED = "posting.PlacementCompleted"
PLACEMENT_RECALLED = "posting.PlacementRecalled"
ROSTER_EVENT_TYPES = (PLACEMENT_PLANNED, PLACEMENT_STARTED, PLACEMENT_EXTENDED, PLACEMENT_COMPLETED, PLACEMENT_RECALLED)
PLACEMENT_STATUSES = ("active", "completed", "planned", "recalled")  # what the roster says of a placement it knows

# The posting fields the roster keeps; the rest (post, rank, mode…) is posting's business.
_NOTED_FIELDS = ("placement_id", "cadre_id", "host_unit", "home_unit", "placement_type",
                 "started_on", "ends_on", "completed_on", "recalled_on", "outcome")


@dataclass(frozen=True)
class ActivePlacement:
    placement_id: str
    cadre_id: str
    host_unit: str
    home_unit: str
    placement_type: str
    started_on: str | None = None
    ends_on: str | None = None


@dataclass(frozen=True)
class PlacementRoster:
    """Placements planned but not started, now active, completed at the end of their term, and recalled early."""

    active: Mapping[str, ActivePlacement] = field(default_factory=dict)
    completed: Mapping[str, ActivePlacement] = field(default_factory=dict)
    planned: Mapping[str, ActivePlacement] = field(default_factory=dict)
    recalled: Mapping[str, ActivePlacement] = field(default_factory=dict)

    def status_of(self, placement_id: str) -> str | None:
        for status in PLACEMENT_STATUSES:
            if placement_id in getattr(self, status):
                return status
        return None

    def find(self, placement_id: str) -> ActivePlacement | None:
        for placements in (self.active, self.completed, self.planned, self.recalled):
            if placement_id in placements:
                return placements[placement_id]
        return None


@dataclass(frozen=True)
class PlacementEventNoted(Event):
    """A posting event this service follows, noted in its own log so its roster replays without posting."""

    TYPE = "assessment.PlacementEventNoted"
    placement_id: str
    source_type: str
    source_event_id: str
    data: dict[str, Any]


def placement_planned(roster: PlacementRoster, placement: ActivePlacement) -> PlacementRoster:
    """Record a placement's details; a placement already started (or recalled) keeps its status."""
    if roster.status_of(placement.placement_id) in ("active", "completed", "recalled"):
        return roster
    return replace(roster, planned={**roster.planned, placement.placement_id: placement})


def placement_started(roster: PlacementRoster, placement_id: str, started_on: str | None = None,
                      ends_on: str | None = None) -> PlacementRoster:
    """Move a planned placement to active; an unknown id changes nothing."""
    placement = roster.planned.get(placement_id)
    if placement is None:
        return roster
    planned = {k: v for k, v in roster.planned.items() if k != placement_id}
    started = replace(placement, started_on=started_on, ends_on=ends_on)
    return replace(roster, planned=planned, active={**roster.active, placement_id: started})


def placement_extended(roster: PlacementRoster, placement_id: str, ends_on: str | None) -> PlacementRoster:
    placement = roster.active.get(placement_id)
    if placement is None:
        return roster
    return replace(roster, active={**roster.active, placement_id: replace(placement, ends_on=ends_on)})


def placement_completed(roster: PlacementRoster, placement_id: str) -> PlacementRoster:
    """Move a placement from active to completed; an unknown id changes nothing."""
    placement = roster.active.get(placement_id)
    if placement is None:
        return roster
    active = {k: v for k, v in roster.active.items() if k != placement_id}
    return replace(roster, active=active, completed={**roster.completed, placement_id: placement})


def placement_recalled(roster: PlacementRoster, placement_id: str) -> PlacementRoster:
    """A recalled placement is no longer active and, not having completed, gets no end-of-term appraisal; it is
    kept apart, so the service can still say what it knows of it (and who may read that)."""
    placement = roster.active.get(placement_id) or roster.planned.get(placement_id)
    if placement is None:
        return roster
    return replace(roster, active={k: v for k, v in roster.active.items() if k != placement_id},
                   planned={k: v for k, v in roster.planned.items() if k != placement_id},
                   recalled={**roster.recalled, placement_id: placement})


def _optional(data: Mapping[str, Any], key: str) -> str | None:
    return str(data[key]) if data.get(key) is not None else None


def apply_posting_event(roster: PlacementRoster, event_type: str, data: Mapping[str, Any]) -> PlacementRoster:
    """Fold one posting event (its stable type and JSON data) into the roster."""
    placement_id = str(data.get("placement_id", ""))
    if event_type == PLACEMENT_PLANNED:
        keys = ("placement_id", "cadre_id", "host_unit", "home_unit", "placement_type")
        return placement_planned(roster, ActivePlacement(**{k: str(data[k]) for k in keys}))
    if event_type == PLACEMENT_STARTED:
        return placement_started(roster, placement_id, _optional(data, "started_on"), _optional(data, "ends_on"))
    if event_type == PLACEMENT_EXTENDED:
        return placement_extended(roster, placement_id, _optional(data, "ends_on"))
    if event_type == PLACEMENT_COMPLETED:
        return placement_completed(roster, placement_id)
    if event_type == PLACEMENT_RECALLED:
        return placement_recalled(roster, placement_id)
    return roster


def decide_note_posting_event(event_type: str, event_id: str, data: Mapping[str, Any]) -> Decision:
    """Note a posting event the roster follows (only the fields it keeps); ignore every other one."""
    if event_type not in ROSTER_EVENT_TYPES:
        return Decision([])
    kept = {k: data[k] for k in _NOTED_FIELDS if k in data}
    return Decision([PlacementEventNoted(str(data["placement_id"]), event_type, event_id, kept)])


def fold_roster(events: Iterable[Event]) -> PlacementRoster:
    """The roster after the noted posting events, in the order they were noted."""
    roster = PlacementRoster()
    for event in events:
        if isinstance(event, PlacementEventNoted):
            roster = apply_posting_event(roster, event.source_type, event.data)
    return roster
