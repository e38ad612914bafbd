"""What the posting service answers when asked: placements, approved nominations, plan against actual.

Folded from the event log on every read (the log is the only store); `until` gives the state as
recorded at that moment.
"""
from __future__ import annotations

import dataclasses
from collections.abc import Callable
from datetime import datetime
from typing import Any

from services.backbone.commands import Aggregates, utcnow
from services.backbone.domain import Event, NotFoundError
from services.posting import domain as d
from services.posting.handlers import (
    NOMINATION_PREFIX,
    PLACEMENT_PREFIX,
    histories,
    nomination_stream,
    placement_states,
    placement_stream,
    plan_stream,
    policies,
)


def policy_views(agg: Aggregates, default: d.TermPolicy, until: datetime | None = None) -> list[dict[str, Any]]:
    """The built-in term rules then every adopted version, in adoption order, each saying whether it is the one in
    force (as recorded at `until`, on its day; else today, UTC) and the rules in Chinese."""
    found = policies(agg, default, until=until)
    current = d.policy_in_force(found, (until or utcnow()).date())
    return [{**dataclasses.asdict(p), "label": p.label, "in_force": p is current} for p in found]


def placement(agg: Aggregates, placement_id: str, until: datetime | None = None) -> dict[str, Any]:
    events = agg.history(placement_stream(placement_id), until=until)
    state = d.fold_placement(events)
    if state is None:
        raise NotFoundError("placement_not_found", f"no placement {placement_id!r}")
    return placement_view(state, len(events))


def placements(agg: Aggregates, until: datetime | None = None, **filters: str | None) -> list[dict[str, Any]]:
    """Every placement's view, by id; `filters` (cadre_id, status, host_unit...) must all match."""
    views, _ = placement_page(agg, 0, None, lambda _: True, until, **filters)
    return views


PLANNED_FOR = ("cadre_id", "home_unit", "host_unit")  # fixed when a placement is planned: a list pages by them


def placement_page(agg: Aggregates, offset: int, limit: int | None, readable: Callable[[Any], bool],
                   until: datetime | None = None, **filters: str | None) -> tuple[list[dict[str, Any]], int]:
    """The views of one page of the placements (by id) that match `filters` and that `readable` admits (given
    a placement, or what it was planned for: `PLANNED_FOR`), and how many match in all.

    Only the page's placements are folded in full. Now: from the folds the service keeps (refreshed with what
    each stream recorded since), a cadre's placements found by their planning event (one filtered query).
    As of a past moment: chosen by what they were planned for (the planning events up to it, one query),
    every candidate folded only when the status is asked for.
    """
    wanted = {k: v for k, v in filters.items() if v is not None}
    end = None if limit is None else offset + limit
    if until is not None:
        status = wanted.pop("status", None)
        planned = agg.store.opening_data(PLACEMENT_PREFIX, d.PlacementPlanned.TYPE, PLANNED_FOR, until)
        streams = [stream for stream, keys in planned.items()
                   if readable(keys) and all(keys[k] == v for k, v in wanted.items())]
        if status is not None:
            folded = agg.fold_streams(streams, d.fold_placement, until)
            streams = [s for s, (_, state) in folded.items() if state and state.status == status]
        page = streams[offset:end]
        views = [placement_view(state, n) for n, state in agg.fold_streams(page, d.fold_placement, until).values() if state]
        return views, len(streams)
    if (cadre_id := wanted.get("cadre_id")) is not None:
        ids = agg.store.values_where(PLACEMENT_PREFIX, d.PlacementPlanned.TYPE, "placement_id", "cadre_id", cadre_id)
        candidates = agg.fold_streams(sorted(placement_stream(i) for i in ids), d.fold_placement)
    else:
        candidates = placement_states(agg)
    matching = [stream for stream, (_, state) in sorted(candidates.items())
                if state is not None and readable(state) and all(getattr(state, k) == v for k, v in wanted.items())]
    page = matching[offset:end]
    folded = agg.fold_streams(page, d.fold_placement)  # in full: a kept fold leaves out the personal text
    return [placement_view(state, n) for n, state in (folded[s] for s in page) if state is not None], len(matching)


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
    for _, state in placement_states(agg).values():
        if state is not None and state.start_date.year == year and state.placement_type in actual:
            actual[state.placement_type] += 1
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
