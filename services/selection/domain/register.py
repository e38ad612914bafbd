"""Commands on the cadre register: upsert from HR systems, the reserve pool, assessment results."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from services.backbone.domain import Context, Decision, DomainError, NotFoundError, StepOrderError

from .cadres import (
    REGISTER_FIELDS,
    AssessmentResultRecorded,
    Cadre,
    CadreAddedToReservePool,
    CadreRegistered,
    CadreRemovedFromReservePool,
    CadreUpdated,
    split_changes,
)
from .labels import ASSESSMENT_KIND_LABELS, GRADE_LABELS
from .ranks import rank_level
from .rules import require_code, require_role, require_text


@dataclass(frozen=True)
class RegisterCadre:
    cadre_id: str
    name: str
    rank: str
    home_unit: str
    birth_date: date | None  # None: not sent; required to register, the stored value on an update
    grassroots_experience: bool
    fit_for_duty: bool
    reserve_cadre: bool | None = None  # None: not sent (see `incoming_fields`)
    open_disciplinary_matter: bool | None = None


# What a field left out of a registration means for a cadre not yet in the register.
REGISTRATION_DEFAULTS: dict[str, Any] = {"reserve_cadre": False, "open_disciplinary_matter": False}


@dataclass(frozen=True)
class AddToReservePool:
    cadre_id: str
    reason: str


@dataclass(frozen=True)
class RemoveFromReservePool:
    cadre_id: str
    reason: str


@dataclass(frozen=True)
class RecordAssessmentResult:
    cadre_id: str
    year: int
    kind: str
    grade: str
    source_event_id: str
    assessment_id: str | None = None  # the assessment finalised: a later finalisation of it (after an appeal) replaces this


def decide_register_cadre(state: Cadre | None, command: RegisterCadre, ctx: Context) -> Decision:
    """Register a new cadre, or list what changed; an identical upsert yields no events."""
    require_role(ctx, "register cadres", "integration", "organisation_department")
    for text in ("cadre_id", "name", "home_unit"):
        require_text(getattr(command, text), text)
    rank_level(command.rank)
    if state is None and command.birth_date is None:
        raise DomainError("birth_date_required", "birth_date rule: a cadre is registered with a birth date",
                          field="birth_date")
    incoming = incoming_fields(command, state)
    if state is None:
        return Decision([CadreRegistered(cadre_id=command.cadre_id, **incoming)])
    if state.erased:
        raise StepOrderError("personal_data_erased",
                             f"the personal data of {command.cadre_id} was erased; the cadre cannot be updated again")
    _require_same_reserve_pool(state, command)
    changes = _changes(state.register_fields(), incoming)
    return Decision([CadreUpdated(command.cadre_id, *split_changes(changes))] if changes else [])


def incoming_fields(command: RegisterCadre, state: Cadre | None) -> dict[str, Any]:
    """The register fields the command means: a field it leaves out keeps the stored value of a registered
    cadre (an HR system that does not hold it must not erase it), and takes its default on registration."""
    kept = state.register_fields() if state is not None else REGISTRATION_DEFAULTS
    return {name: kept[name] if getattr(command, name) is None else getattr(command, name) for name in REGISTER_FIELDS}


def _require_same_reserve_pool(cadre: Cadre, command: RegisterCadre) -> None:
    # Entering or leaving the reserve pool is the organisation department's decision, with a reason;
    # an update from the register may only repeat what is stored.
    if command.reserve_cadre is None or command.reserve_cadre == cadre.reserve_cadre:
        return
    route = "reserve-pool" if command.reserve_cadre else "reserve-pool/removal"
    raise DomainError(
        "reserve_pool_change",
        f"reserve pool rule: reserve_cadre of cadre {cadre.cadre_id} is {str(cadre.reserve_cadre).lower()}; "
        "an update of the register may not change it (leave the field out or send the stored value); the "
        f"organisation department {'adds the cadre to' if command.reserve_cadre else 'removes the cadre from'} "
        f"the reserve pool with a reason: POST /selection/cadres/{cadre.cadre_id}/{route}",
        field="reserve_cadre",
        stored=cadre.reserve_cadre,
    )


def _changes(old: dict[str, Any], new: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {k: {"old": _plain(old[k]), "new": _plain(new[k])} for k in REGISTER_FIELDS if old[k] != new[k]}


def _plain(value: Any) -> Any:
    # `changes` is a free-form dict, so a schema cannot type its dates: keep them as ISO strings.
    return value.isoformat() if isinstance(value, date) else value


def decide_add_to_reserve_pool(state: Cadre | None, command: AddToReservePool, ctx: Context) -> Decision:
    """Put a registered cadre into the reserve-cadre pool (后备干部), with a reason."""
    cadre = _existing(state, command.cadre_id, ctx, "manage the reserve pool")
    reason = require_text(command.reason, "reason")
    if cadre.reserve_cadre:
        raise StepOrderError(
            "already_in_reserve_pool",
            f"reserve pool rule: cadre {cadre.cadre_id} is already in the reserve-cadre pool",
        )
    return Decision([CadreAddedToReservePool(cadre.cadre_id, reason)])


def decide_remove_from_reserve_pool(state: Cadre | None, command: RemoveFromReservePool, ctx: Context) -> Decision:
    """Take a cadre out of the reserve-cadre pool, with a reason."""
    cadre = _existing(state, command.cadre_id, ctx, "manage the reserve pool")
    reason = require_text(command.reason, "reason")
    if not cadre.reserve_cadre:
        raise StepOrderError(
            "not_in_reserve_pool",
            f"reserve pool rule: cadre {cadre.cadre_id} is not in the reserve-cadre pool",
        )
    return Decision([CadreRemovedFromReservePool(cadre.cadre_id, reason)])


def _existing(state: Cadre | None, cadre_id: str, ctx: Context, action: str) -> Cadre:
    require_role(ctx, action, "organisation_department")
    return require_cadre(state, cadre_id)


def require_cadre(state: Cadre | None, cadre_id: str) -> Cadre:
    """Refuse with `cadre_not_found` when the cadre was never registered."""
    if state is None:
        raise NotFoundError("cadre_not_found", f"cadre {cadre_id} is not in the register")
    return state


def decide_record_assessment_result(state: Cadre | None, command: RecordAssessmentResult, ctx: Context) -> Decision:
    """Record an assessment grade on the cadre; the same source event recorded again yields no events."""
    require_role(ctx, "record assessment results", "integration", "organisation_department")
    cadre = require_cadre(state, command.cadre_id)
    require_text(command.source_event_id, "source_event_id")
    require_code(
        command.kind,
        ASSESSMENT_KIND_LABELS,
        "unknown_assessment_kind",
        "assessment kind",
    )
    require_code(command.grade, GRADE_LABELS, "unknown_grade", "grade")
    if cadre.has_assessment_from(command.source_event_id):
        return Decision([])
    return Decision(
        [
            AssessmentResultRecorded(
                command.cadre_id,
                command.year,
                command.kind,
                command.grade,
                command.source_event_id,
                command.assessment_id,
            )
        ]
    )
