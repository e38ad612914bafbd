"""How selection's events (选拔关) change the cadre, unit and nomination read models. Pure."""
from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from services.reporting.model import Attribution, Rule, Slot, SourceEvent, Working

CADRE_FIELDS = ("name", "rank", "home_unit", "grassroots_experience", "fit_for_duty", "reserve_cadre",
                "open_disciplinary_matter")
NOMINATION_FIELDS = ("cadre_id", "sending_unit", "cadre_rank", "placement_type", "host_unit", "host_post",
                     "post_level", "posting_mode", "policy_version", "reason", "eligible", "recommended_on")


def on(table: str, *fields: str) -> Callable[[SourceEvent], Iterable[Slot]]:
    """`needs` for a rule that reads the row keyed by these data fields."""
    return lambda e: [(table, tuple(e.data[f] for f in fields))]


def _cadre(e: SourceEvent, w: Working, values: dict[str, Any]) -> Attribution:
    key = (e.data["cadre_id"],)
    previous = w.get("cadres", key)
    if previous is None and "name" not in values:
        return Attribution(e.data["cadre_id"])  # a change to a cadre never registered: nothing to change
    row = w.put("cadres", key, values, e)
    return Attribution(e.data["cadre_id"], (row["home_unit"],) if row.get("home_unit") else ())


def registered(e: SourceEvent, w: Working) -> Attribution:
    previous = w.get("cadres", (e.data["cadre_id"],))
    values = {f: e.data.get(f) for f in CADRE_FIELDS}
    values["registered_at"] = previous["registered_at"] if previous else e.recorded_at
    return _cadre(e, w, values)


def updated(e: SourceEvent, w: Working) -> Attribution:
    """v2 keeps the changes of rank, unit and flags in `changes`, in clear through an erasure, and the personal
    ones in `personal_changes`; v1 had them all in `changes`, sealed whole (read as {} once the cadre is erased)."""
    both = {**e.data["changes"], **(e.data.get("personal_changes") or {})}
    return _cadre(e, w, {f: change.get("new") for f, change in both.items() if f in CADRE_FIELDS})


def reserve(flag: bool) -> Callable[[SourceEvent, Working], Attribution]:
    return lambda e, w: _cadre(e, w, {"reserve_cadre": flag})


def recommended(e: SourceEvent, w: Working) -> Attribution:
    values = {f: e.data.get(f) for f in NOMINATION_FIELDS}
    failed = [c["criterion"] for c in e.data.get("criteria", []) if c.get("hard") and not c.get("passed")]
    values.update(status="recommended", pending_step="inspect", status_since=e.recorded_at, failed_criteria=failed,
                  overridden=False)
    row = w.put("nominations", (e.data["nomination_id"],), values, e)
    return _nomination_attribution(row)


def _step(status_of: Callable[[SourceEvent], str], pending: Callable[[SourceEvent], str | None],
          **fields: str) -> Callable[[SourceEvent, Working], Attribution]:
    """A rule that moves a nomination to a new status (and copies some data fields)."""
    def apply(e: SourceEvent, w: Working) -> Attribution:
        key = (e.data["nomination_id"],)
        if w.get("nominations", key) is None:
            return Attribution(e.data.get("cadre_id"))
        values = {column: e.data.get(name) for column, name in fields.items()}
        values.update(status=status_of(e), pending_step=pending(e), status_since=e.recorded_at)
        return _nomination_attribution(w.put("nominations", key, values, e))
    return apply


def overridden(e: SourceEvent, w: Working) -> Attribution:
    key = (e.data["nomination_id"],)
    if w.get("nominations", key) is None:
        return Attribution(e.data.get("cadre_id"))
    return _nomination_attribution(w.put("nominations", key, {"overridden": True}, e))


def _nomination_attribution(row: dict[str, Any]) -> Attribution:
    return Attribution(row.get("cadre_id"), tuple(u for u in (row.get("sending_unit"), row.get("host_unit")) if u))


def unit_named(e: SourceEvent, w: Working) -> Attribution:
    """A unit registered or renamed: a new version of its name (the id stays what every other row holds)."""
    w.put("units", (e.data["unit_id"],), {"name": e.data["name"]}, e)
    return Attribution(None, (e.data["unit_id"],))


def erased(e: SourceEvent, w: Working) -> Attribution:
    """The cadre's personal data is erased in every service: reporting forgets its copies too. The register
    fields the erasure retained (no personal data) are the cadre's from then on: read again from the feed (a
    rebuild), the v1 updates that set them read as erased."""
    w.erased.append((e.data["cadre_id"], e.recorded_at, e.event_id))
    previous = w.get("cadres", (e.data["cadre_id"],))
    retained = {f: v for f, v in (e.data.get("retained") or {}).items() if f in CADRE_FIELDS and f != "name"}
    if previous is not None and any(previous.get(f) != v for f, v in retained.items()):
        return _cadre(e, w, retained)
    return Attribution(e.data["cadre_id"])


def cadre_only(e: SourceEvent, w: Working) -> Attribution:
    return Attribution(e.data.get("cadre_id"))


NOMINATION = on("nominations", "nomination_id")
CADRE = on("cadres", "cadre_id")
UNIT = on("units", "unit_id")
RULES: dict[str, Rule] = {
    "selection.CadreRegistered": Rule(CADRE, registered),
    "selection.CadreUpdated": Rule(CADRE, updated),
    "selection.CadreAddedToReservePool": Rule(CADRE, reserve(True)),
    "selection.CadreRemovedFromReservePool": Rule(CADRE, reserve(False)),
    "selection.AssessmentResultRecorded": Rule(lambda e: [], cadre_only),
    "selection.PersonalDataErased": Rule(CADRE, erased),
    "selection.RetentionRequired": Rule(lambda e: [], cadre_only),
    "selection.UnitRegistered": Rule(UNIT, unit_named),
    "selection.UnitRenamed": Rule(UNIT, unit_named),
    "selection.NominationRecommended": Rule(NOMINATION, recommended),
    "selection.EligibilityOverridden": Rule(NOMINATION, overridden),
    "selection.NominationInspected": Rule(NOMINATION, _step(
        lambda e: "inspected" if e.data["passed"] else "inspection_failed",
        lambda e: "decide" if e.data["passed"] else None)),
    "selection.NominationApproved": Rule(NOMINATION, _step(
        lambda e: "approved", lambda e: None, decision_ref="decision_ref", decision_date="decision_date")),
    "selection.NominationRejected": Rule(NOMINATION, _step(
        lambda e: "rejected", lambda e: None, decision_ref="decision_ref", decision_date="decision_date")),
    "selection.NominationWithdrawn": Rule(NOMINATION, _step(lambda e: "withdrawn", lambda e: None)),
}
