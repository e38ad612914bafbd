"""The unit register: the name each sending or host unit (派出单位 / 接收单位) goes by, beside its slug.

One aggregate per unit (stream per unit_id). A unit's name is no personal data: it is stored in the clear.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from functools import reduce
from typing import ClassVar

from services.backbone.domain import Context, Decision, DomainError, Event

from .rules import require_role, require_text

MAX_NAME_LENGTH = 60


@dataclass(frozen=True)
class UnitRegistered(Event):
    """A unit recorded for the first time, under its name."""

    TYPE: ClassVar[str] = "selection.UnitRegistered"
    unit_id: str
    name: str


@dataclass(frozen=True)
class UnitRenamed(Event):
    """A registered unit's name changed; `previous_name` is the name it had until then."""

    TYPE: ClassVar[str] = "selection.UnitRenamed"
    unit_id: str
    name: str
    previous_name: str


UNIT_EVENTS = (UnitRegistered, UnitRenamed)


@dataclass(frozen=True)
class Unit:
    unit_id: str
    name: str


@dataclass(frozen=True)
class RegisterUnit:
    """Record a unit's name: registers the unit the first time, renames it when the name differs."""

    unit_id: str
    name: str


def evolve(state: Unit | None, event: Event) -> Unit | None:
    """Fold one event into the unit; events of other types leave it unchanged (additive evolution)."""
    if isinstance(event, UnitRegistered):
        return Unit(event.unit_id, event.name)
    if not isinstance(event, UNIT_EVENTS):
        return state
    if state is None:
        raise ValueError(f"{event.TYPE} cannot come before selection.UnitRegistered")
    return replace(state, name=event.name)


def fold(events: Iterable[Event]) -> Unit | None:
    """Replay a unit's events in order; None when there are none."""
    return reduce(evolve, events, None)


def decide_register_unit(state: Unit | None, command: RegisterUnit, ctx: Context) -> Decision:
    """Register a new unit or rename a registered one; the name it already has yields no events."""
    require_role(ctx, "register units", "integration", "organisation_department")
    unit_id = require_text(command.unit_id, "unit_id")
    name = _require_short_name(require_text(command.name, "name"))
    if state is None:
        return Decision([UnitRegistered(unit_id, name)])
    if name == state.name:
        return Decision([])
    return Decision([UnitRenamed(unit_id, name, state.name)])


def _require_short_name(name: str) -> str:
    if len(name) > MAX_NAME_LENGTH:
        raise DomainError(
            "name_too_long",
            f"name rule: a unit's name has at most {MAX_NAME_LENGTH} characters, not {len(name)}",
            field="name",
            length=len(name),
        )
    return name
