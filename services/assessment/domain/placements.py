"""Who is placed where, as this service learns it from the posting service's events."""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

# Stable names of the posting events the roster follows; any other posting event leaves it as is.
PLACEMENT_STARTED = "posting.PlacementStarted"
PLACEMENT_COMPLETED = "posting.PlacementCompleted"
PLACEMENT_RECALLED = "posting.PlacementRecalled"


@dataclass(frozen=True)
class ActivePlacement:
    placement_id: str
    cadre_id: str
    host_unit: str
    home_unit: str
    placement_type: str


@dataclass(frozen=True)
class PlacementRoster:
    """Placements now active, and those completed at the end of their term."""

    active: Mapping[str, ActivePlacement] = field(default_factory=dict)
    completed: Mapping[str, ActivePlacement] = field(default_factory=dict)


def placement_started(roster: PlacementRoster, placement: ActivePlacement) -> PlacementRoster:
    return replace(roster, active={**roster.active, placement.placement_id: placement})


def placement_completed(roster: PlacementRoster, placement_id: str) -> PlacementRoster:
    """Move a placement from active to completed; an unknown id changes nothing."""
    placement = roster.active.get(placement_id)
    if placement is None:
        return roster
    active = {k: v for k, v in roster.active.items() if k != placement_id}
    return PlacementRoster(active=active, completed={**roster.completed, placement_id: placement})


def placement_recalled(roster: PlacementRoster, placement_id: str) -> PlacementRoster:
    """A recalled placement is no longer active and, not having completed, gets no end-of-term appraisal."""
    return replace(roster, active={k: v for k, v in roster.active.items() if k != placement_id})


def apply_posting_event(roster: PlacementRoster, event_type: str, data: Mapping[str, Any]) -> PlacementRoster:
    """Fold one posting event (its stable type and JSON data) into the roster."""
    if event_type == PLACEMENT_STARTED:
        fields = ActivePlacement.__dataclass_fields__
        return placement_started(roster, ActivePlacement(**{k: str(data[k]) for k in fields}))
    if event_type == PLACEMENT_COMPLETED:
        return placement_completed(roster, str(data["placement_id"]))
    if event_type == PLACEMENT_RECALLED:
        return placement_recalled(roster, str(data["placement_id"]))
    return roster
