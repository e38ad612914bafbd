"""The cadre register: one aggregate per cadre, its events and how they fold into state.

Fitness is held only as a yes/no flag; no health detail ever enters an event.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import date
from functools import reduce
from typing import Any, ClassVar

from services.backbone.domain import Event

from .privacy import RETAINED_FIELDS, PersonalDataErased, RetentionRequired

REGISTER_FIELDS: tuple[str, ...] = (
    "name",
    "rank",
    "home_unit",
    "birth_date",
    "grassroots_experience",
    "fit_for_duty",
    "reserve_cadre",
    "open_disciplinary_matter",
)


@dataclass(frozen=True)
class CadreRegistered(Event):
    """A cadre entered in the register; v2 seals the birth date with the name, and after an erasure it reads erased.

    A v1 sealed the name only: its birth date stays in clear in the log, after an erasure too. A v2's reads as the
    placeholder in the feed and as None when loaded (no age can be computed from then on)."""

    TYPE: ClassVar[str] = "selection.CadreRegistered"
    cadre_id: str
    name: str
    rank: str
    home_unit: str
    birth_date: date | None
    grassroots_experience: bool
    fit_for_duty: bool
    reserve_cadre: bool
    open_disciplinary_matter: bool


# The register fields that are personal data (sealed in an update): every field an erasure does not retain.
PERSONAL_REGISTER_FIELDS: tuple[str, ...] = tuple(name for name in REGISTER_FIELDS if name not in RETAINED_FIELDS)


@dataclass(frozen=True)
class CadreUpdated(Event):
    """Changed register fields, each {"old", "new"}: rank, unit, flags in `changes` (clear), name, birth date sealed apart.

    Dates are ISO strings. `changes` holds the fields an erasure retains (no personal data), so their history
    outlives it; `personal_changes` the others. Before v2 every change was in `changes`, sealed whole: the history
    of those updates reads `{}` once the cadre is erased."""

    TYPE: ClassVar[str] = "selection.CadreUpdated"
    cadre_id: str
    changes: dict[str, dict[str, Any]]
    personal_changes: dict[str, dict[str, Any]] = field(default_factory=dict)


def split_changes(changes: dict[str, dict[str, Any]]) -> tuple[dict[str, dict[str, Any]], dict[str, dict[str, Any]]]:
    """(the changes of fields an erasure retains, the changes of every other field: personal, so sealed)."""
    kept = {name: change for name, change in changes.items() if name in RETAINED_FIELDS}
    return kept, {name: change for name, change in changes.items() if name not in RETAINED_FIELDS}


def upcast_cadre_updated_v1(data: dict[str, Any]) -> dict[str, Any]:
    """v1 -> v2: the changes split by field. A v1 sealed them whole, so once its cadre is erased both read as {}:
    the history of updates made before v2 is lost with the erasure (the erasure's `retained` keeps the last values)."""
    kept, personal = split_changes(data.get("changes") or {})
    return {**data, "changes": kept, "personal_changes": personal}


def upcast_cadre_registered_v1(data: dict[str, Any]) -> dict[str, Any]:
    """v1 -> v2: the same fields; only what was sealed differs (the name alone), so a v1's birth date reads in clear."""
    return data


@dataclass(frozen=True)
class CadreAddedToReservePool(Event):
    TYPE: ClassVar[str] = "selection.CadreAddedToReservePool"
    cadre_id: str
    reason: str


@dataclass(frozen=True)
class CadreRemovedFromReservePool(Event):
    TYPE: ClassVar[str] = "selection.CadreRemovedFromReservePool"
    cadre_id: str
    reason: str


@dataclass(frozen=True)
class AssessmentResultRecorded(Event):
    TYPE: ClassVar[str] = "selection.AssessmentResultRecorded"
    cadre_id: str
    year: int
    kind: str
    grade: str
    source_event_id: str
    # The assessment it comes from (absent before this field was added): when that assessment is finalised again
    # after an appeal reopened it, the new grade replaces the one it gave before.
    assessment_id: str | None = None


CADRE_EVENTS = (
    CadreRegistered,
    CadreUpdated,
    CadreAddedToReservePool,
    CadreRemovedFromReservePool,
    AssessmentResultRecorded,
)


@dataclass(frozen=True)
class AssessmentResult:
    year: int
    kind: str
    grade: str
    source_event_id: str
    assessment_id: str | None = None


@dataclass(frozen=True)
class Cadre:
    cadre_id: str
    name: str
    rank: str
    home_unit: str
    birth_date: date | None  # None once the cadre is erased (a registration sealed it: v2)
    grassroots_experience: bool
    fit_for_duty: bool
    reserve_cadre: bool
    open_disciplinary_matter: bool
    assessments: tuple[AssessmentResult, ...] = field(default=())
    retention_reason: str | None = None
    erased: bool = False

    def register_fields(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in REGISTER_FIELDS}

    def has_assessment_from(self, source_event_id: str) -> bool:
        return any(a.source_event_id == source_event_id for a in self.assessments)


def evolve(state: Cadre | None, event: Event) -> Cadre | None:
    """Fold one event into the cadre; events of other types leave it unchanged (additive evolution)."""
    if isinstance(event, CadreRegistered):
        return Cadre(event.cadre_id, **{name: getattr(event, name) for name in REGISTER_FIELDS})
    if isinstance(event, RetentionRequired) and state is not None:
        return replace(state, retention_reason=event.reason)
    if isinstance(event, PersonalDataErased) and state is not None:
        retained = {name: value for name, value in event.retained.items() if name in RETAINED_FIELDS}
        return replace(state, erased=True, **retained)
    if not isinstance(event, CADRE_EVENTS):
        return state
    if state is None:
        raise ValueError(f"{event.TYPE} cannot come before selection.CadreRegistered")
    if isinstance(event, CadreUpdated):
        # After the erasure `personal_changes` (and a v1's `changes`, sealed whole) read as {}: a field they set
        # keeps its earlier value, and the erasure's `retained` restores the last value of those no personal data.
        changes = {**event.changes, **event.personal_changes}
        return replace(state, **{name: _typed(name, change["new"]) for name, change in changes.items()})
    if isinstance(event, CadreAddedToReservePool):
        return replace(state, reserve_cadre=True)
    if isinstance(event, CadreRemovedFromReservePool):
        return replace(state, reserve_cadre=False)
    if isinstance(event, AssessmentResultRecorded):
        result = AssessmentResult(event.year, event.kind, event.grade, event.source_event_id, event.assessment_id)
        kept = tuple(a for a in state.assessments if event.assessment_id is None or a.assessment_id != event.assessment_id)
        return replace(state, assessments=(*kept, result))
    return state


def _typed(name: str, value: Any) -> Any:
    return date.fromisoformat(value) if name == "birth_date" and isinstance(value, str) else value


def fold(events: Iterable[Event]) -> Cadre | None:
    """Replay a cadre's events in order; None when there are none."""
    return reduce(evolve, events, None)
