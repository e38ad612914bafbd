"""Who may read which records: overseers read everything; a sending unit its own cadres; a host unit the
cadres nominated or seconded to it; anyone else nothing (domain.md: "a host unit reaches only its own seconded
cadres")."""
from __future__ import annotations

from collections.abc import Collection
from typing import Any

from services.backbone.domain import Actor, ForbiddenError

OVERSEERS = ("organisation_department", "party_committee", "auditor", "integration", "operator")


def may_read(actor: Actor, home_unit: str | None = None, host_unit: str | None = None,
             host_units: Collection[str] = ()) -> bool:
    """True if `actor` may read a record of `home_unit` hosted by `host_unit` or any of `host_units` (a cadre
    may have been nominated to several units)."""
    if actor.role in OVERSEERS:
        return True
    if actor.role == "sending_unit":
        return home_unit is not None and home_unit == actor.unit
    if actor.role == "host_unit":
        return actor.unit is not None and (host_unit == actor.unit or actor.unit in host_units)
    return False


def require_read(actor: Actor, what: str, home_unit: str | None = None, host_unit: str | None = None,
                 host_units: Collection[str] = ()) -> None:
    """ForbiddenError unless `may_read`; the message says whose records the actor may see."""
    if not may_read(actor, home_unit, host_unit, host_units):
        raise ForbiddenError("not_own_record",
                             f"read rule: role {actor.role} of {actor.unit or 'no unit'} may not read {what}; a sending "
                             "unit reads its own cadres, a host unit the cadres nominated or seconded to it")


def unit_of(view: Any, name: str) -> str | None:
    value = view.get(name) if isinstance(view, dict) else getattr(view, name, None)
    return str(value) if value is not None else None
