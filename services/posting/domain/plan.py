"""The annual placement plan: how many placements of each type a year calls for (plan vs. actual)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from functools import reduce

from services.backbone.domain import Context, Decision, DomainError, Event
from services.posting.domain.rules import require_organisation_department
from services.posting.domain.vocabulary import PLACEMENT_TYPES


@dataclass(frozen=True)
class PlacementPlanRecorded(Event):
    TYPE = "posting.PlacementPlanRecorded"
    year: int
    gap_filling: int
    strength: int
    docking: int


@dataclass(frozen=True)
class PlacementPlan:
    year: int
    gap_filling: int
    strength: int
    docking: int
    revision: int = 1

    @property
    def total(self) -> int:
        return self.gap_filling + self.strength + self.docking

    def planned(self, placement_type: str) -> int:
        return int(getattr(self, placement_type))


@dataclass(frozen=True)
class RecordPlacementPlan:
    year: int
    gap_filling: int
    strength: int
    docking: int


def decide_record_placement_plan(
    state: PlacementPlan | None, command: RecordPlacementPlan, ctx: Context
) -> Decision:
    """PlacementPlanRecorded (a later one revises the year); the same numbers again change nothing."""
    require_organisation_department(ctx, "record the annual placement plan")
    negative = [t for t in PLACEMENT_TYPES if getattr(command, t) < 0]
    if negative:
        raise DomainError(
            "plan_count_negative",
            f"plan for {command.year}: counts cannot be negative ({', '.join(negative)})",
        )
    counts = tuple(getattr(command, t) for t in PLACEMENT_TYPES)
    if state is not None and counts == tuple(state.planned(t) for t in PLACEMENT_TYPES):
        return Decision()
    return Decision([PlacementPlanRecorded(command.year, *counts)])


def evolve(state: PlacementPlan | None, event: Event) -> PlacementPlan | None:
    """Apply one event; events of other aggregates leave the state as it is."""
    if not isinstance(event, PlacementPlanRecorded):
        return state
    revision = state.revision + 1 if state is not None else 1
    return PlacementPlan(
        event.year, event.gap_filling, event.strength, event.docking, revision
    )


def fold(events: Iterable[Event]) -> PlacementPlan | None:
    """Replay one year's plan stream, oldest first."""
    return reduce(evolve, events, None)
