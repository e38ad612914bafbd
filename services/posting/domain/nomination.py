"""The posting service's own record of nominations the party committee approved in `selection`.

Fed from `selection.NominationApproved` by the consumer; only a recorded nomination can be placed,
and only once.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, fields, replace
from datetime import date
from functools import reduce
from typing import Any

from services.backbone.domain import Context, Decision, Event

SOURCE_EVENT_TYPE = "selection.NominationApproved"


@dataclass(frozen=True)
class NominationRecorded(Event):
    """v2 adds `decided_on`, the party committee's decision date (None in v1 events: not known then)."""

    TYPE = "posting.NominationRecorded"
    nomination_id: str
    cadre_id: str
    cadre_rank: str
    home_unit: str
    placement_type: str
    host_unit: str
    host_post: str
    post_level: str
    posting_mode: str
    decided_on: date | None = None


def upcast_nomination_recorded_v1(data: dict[str, Any]) -> dict[str, Any]:
    """v1 -> v2: the decision date was not recorded."""
    return {**data, "decided_on": None}


@dataclass(frozen=True)
class NominationPlaced(Event):
    """Marks the nomination used; lives in the nomination's stream, beside PlacementPlanned."""

    TYPE = "posting.NominationPlaced"
    nomination_id: str
    placement_id: str


@dataclass(frozen=True)
class ApprovedNomination:
    nomination_id: str
    cadre_id: str
    cadre_rank: str
    home_unit: str
    placement_type: str
    host_unit: str
    host_post: str
    post_level: str
    posting_mode: str
    placement_id: str | None = None
    decided_on: date | None = None  # the party committee's decision, when the approval said (v2)


@dataclass(frozen=True)
class RecordNomination:
    nomination_id: str
    cadre_id: str
    cadre_rank: str
    home_unit: str
    placement_type: str
    host_unit: str
    host_post: str
    post_level: str
    posting_mode: str
    decided_on: date | None = None

    @classmethod
    def from_selection_payload(cls, payload: Mapping[str, Any]) -> RecordNomination:
        """Pick this record's fields out of a selection.NominationApproved payload."""
        decided = payload.get("decision_date")
        return cls(**{f.name: str(payload[f.name]) for f in fields(cls) if f.name != "decided_on"},
                   decided_on=date.fromisoformat(str(decided)) if decided else None)


def decide_record_nomination(
    state: ApprovedNomination | None, command: RecordNomination, ctx: Context
) -> Decision:
    """Record an approved nomination; a redelivered approval changes nothing."""
    if state is not None:
        return Decision()
    return Decision([NominationRecorded(**asdict(command))])


def evolve(state: ApprovedNomination | None, event: Event) -> ApprovedNomination | None:
    """Apply one event; events of other aggregates leave the state as it is."""
    if isinstance(event, NominationRecorded):
        return ApprovedNomination(**asdict(event))
    if isinstance(event, NominationPlaced) and state is not None:
        return replace(state, placement_id=event.placement_id)
    return state


def fold(events: Iterable[Event]) -> ApprovedNomination | None:
    """Replay a nomination's stream, oldest first."""
    return reduce(evolve, events, None)
