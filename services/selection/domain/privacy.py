"""Personal data of a cadre: a legal hold, and erasure (the key is destroyed; the events stay)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

from services.backbone.domain import Context, Decision, DomainError, Event, NotFoundError, StepOrderError

from .rules import require_role, require_text

if TYPE_CHECKING:
    from .cadres import Cadre  # cadres folds this module's events


@dataclass(frozen=True)
class RetentionRequired(Event):
    """The cadre's records must be kept by law: erasure is refused with this reason."""

    TYPE: ClassVar[str] = "selection.RetentionRequired"
    cadre_id: str
    reason: str
    required_by: str


@dataclass(frozen=True)
class PersonalDataErased(Event):
    """The cadre's personal fields are erased everywhere; every service destroys its key for them."""

    TYPE: ClassVar[str] = "selection.PersonalDataErased"
    cadre_id: str
    reason: str
    erased_by: str
    # The register fields that are no personal data, as they stood: an update's changes are sealed whole and
    # read as erased from now on, so without these a fold would fall back to the values first registered.
    retained: dict[str, Any] = field(default_factory=dict)


# What an erasure keeps of the register (not the name, nor the birth date an update may have sealed).
RETAINED_FIELDS = ("rank", "home_unit", "grassroots_experience", "fit_for_duty", "reserve_cadre",
                   "open_disciplinary_matter")


@dataclass(frozen=True)
class RequireRetention:
    cadre_id: str
    reason: str


@dataclass(frozen=True)
class ErasePersonalData:
    cadre_id: str
    reason: str


def decide_require_retention(state: Cadre | None, command: RequireRetention, ctx: Context) -> Decision:
    """Place a legal hold on a cadre's records (organisation department)."""
    require_role(ctx, "require retention", "organisation_department")
    cadre = _existing(state, command.cadre_id)
    reason = require_text(command.reason, "reason")
    if cadre.erased:
        raise StepOrderError("personal_data_erased", f"the personal data of {command.cadre_id} is already erased")
    return Decision([RetentionRequired(command.cadre_id, reason, ctx.actor.principal)])


def decide_erase_personal_data(state: Cadre | None, command: ErasePersonalData, ctx: Context) -> Decision:
    """Erase a cadre's personal data, unless the law requires the records to be kept."""
    require_role(ctx, "erase personal data", "organisation_department")
    cadre = _existing(state, command.cadre_id)
    reason = require_text(command.reason, "reason")
    if cadre.retention_reason is not None:
        raise DomainError("retention_required",
                          f"retention rule: the records of {command.cadre_id} must be kept by law"
                          f" ({cadre.retention_reason}); erasure is refused", retention_reason=cadre.retention_reason)
    if cadre.erased:
        raise StepOrderError("personal_data_erased", f"the personal data of {command.cadre_id} is already erased")
    retained = {name: getattr(cadre, name) for name in RETAINED_FIELDS}
    return Decision([PersonalDataErased(command.cadre_id, reason, ctx.actor.principal, retained)])


def _existing(state: Cadre | None, cadre_id: str) -> Cadre:
    if state is None:
        raise NotFoundError("cadre_not_found", f"no cadre {cadre_id!r} is registered")
    return state
