"""What the posting service answers when asked: placements, approved nominations, plan against actual.

Folded from the event log on every read (the log is the only store); `until` gives the state as
recorded at that moment.
"""
from __future__ import annotations

import dataclasses
from collections.abc import Callable
from datetime import datetime
from typing import Any

from services.backbone.commands import Aggregates
from services.backbone.domain import Event, NotFoundError
from services.posting import domain as d
from services.posting.handlers import (
    NOMINATION_PREFIX,
    PLACEMENT_PREFIX,
    histories,
    nomination_stream,
    placement_stream,
    plan_stream,
)


def placement(agg: Aggregates, placement_id: str, until: datetime | None = None) -> dict[str, Any]:
    events = agg.history(placement_stream(placement_id), until=until)
    state = d.fold_placement(events)
    if state is None:
        raise NotFoundError("placement_not_found", f"no placement {placement_id!r}")
    return placement_view(state, len(events))


def placements(agg: Aggregates, until: datetime | None = None, **filters: str | None) -> list[dict[str, Any]]:
    """Every placement's view, by id; `filters` (cadre_id, status, host_unit...) must all match."""
    views = [placement_view(s, n) for s, n in _fold_prefix(agg, PLACEMENT_PREFIX, d.fold_placement, until)]
    wanted = {k: v for k, v in filters.items() if v is not None}
    return [v for v in views if all(v[k] == value for k, value in wanted.items())]


def nomination(agg: Aggregates, nomination_id: str, until: datetime | None = None) -> dict[str, Any]:
    events = agg.history(nomination_stream(nomination_id), until=until)
    state = d.fold_nomination(events)
    if state is None:
        raise NotFoundError("nomination_not_approved",
                            f"no party-committee approval of nomination {nomination_id!r} has reached posting")
    return nomination_view(state, len(events))


def nominations(agg: Aggregates, until: datetime | None = None) -> list[dict[str, Any]]:
    return [nomination_view(s, n) for s, n in _fold_prefix(agg, NOMINATION_PREFIX, d.fold_nomination, until)]


def plan_against_actual(agg: Aggregates, year: int) -> dict[str, Any]:
    """The year's plan per placement type beside the placements planned to start that year."""
    plan = d.fold_plan(agg.history(plan_stream(year)))
    actual = dict.fromkeys(d.PLACEMENT_TYPES, 0)
    for view in placements(agg):
        if view["start_date"].year == year and view["placement_type"] in actual:
            actual[view["placement_type"]] += 1
    planned = {t: plan.planned(t) if plan else 0 for t in d.PLACEMENT_TYPES}
    return {"year": year, "revision": plan.revision if plan else 0, "planned": planned, "actual": actual,
            "planned_total": sum(planned.values()), "actual_total": sum(actual.values())}


def placement_view(p: d.Placement, version: int) -> dict[str, Any]:
    view = dataclasses.asdict(p)
    view.update(
        version=version, signatures=sorted(p.signatures), missing_signatures=list(p.missing_signatures),
        status_label=p.status_label, placement_type_label=p.placement_type_label,
        posting_mode_label=p.posting_mode_label, outcome_label=p.outcome_label,
        cadre_rank_label=d.RANK_LABELS.get(p.cadre_rank, p.cadre_rank),
        post_level_label=d.RANK_LABELS.get(p.post_level, p.post_level),
    )
    return view


def nomination_view(n: d.ApprovedNomination, version: int) -> dict[str, Any]:
    view = dataclasses.asdict(n)
    view.update(version=version, placed=n.placement_id is not None,
                placement_type_label=d.PLACEMENT_TYPE_LABELS.get(n.placement_type, n.placement_type),
                posting_mode_label=d.POSTING_MODE_LABELS.get(n.posting_mode, n.posting_mode))
    return view


def _fold_prefix(agg: Aggregates, prefix: str, fold: Callable[[list[Event]], Any],
                 until: datetime | None) -> list[tuple[Any, int]]:
    folded = [(fold(events), len(events)) for _, events in sorted(histories(agg, prefix, until).items())]
    return [(state, version) for state, version in folded if state is not None]
