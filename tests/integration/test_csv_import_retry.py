"""A CSV import retried under its key while the first request was still running (both passed the check for an
earlier run before either appended): the second answers the first's result, replayed, or is refused if its file
differs -- it never reports the first import's events as its own."""
from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from psycopg_pool import ConnectionPool

from services.backbone.commands import Aggregates, CommandMeta
from services.backbone.domain import Actor, Context
from services.backbone.errors import IdempotencyMismatchError
from services.backbone.store import EventStore
from services.selection import csvio
from services.selection import handlers as h

CSV = ("cadre_id,name,rank,home_unit,birth_date,grassroots_experience,fit_for_duty\n"
       "c-r1,王芳,clerk,county-finance,1995-01-01,false,true\n"
       "c-r2,李明,deputy_section,county-finance,1992-05-01,false,true\n")


@pytest.fixture
def agg(db_url: str, schema: str) -> Iterator[Aggregates]:
    with ConnectionPool(db_url, min_size=1, max_size=4) as pool:
        yield Aggregates(EventStore(pool, schema), h.REGISTRY)


def meta(request_hash: str) -> CommandMeta:
    actor = Actor("hr-sync", "integration", None)
    return CommandMeta(Context(actor, datetime.now(UTC), "CSV"), "import-1", "import-1", "selection",
                       request_hash=request_hash)


def raced(agg: Aggregates, monkeypatch: pytest.MonkeyPatch, text: str, request_hash: str) -> dict[str, Any]:
    """The import run as if the first request's events were not stored yet when it read (its check for an earlier
    run and the cadres' streams), and stored by the time it appended."""
    with monkeypatch.context() as patched:
        patched.setattr(agg.store, "read_events", lambda ids, conn=None: [])
        patched.setattr(agg, "history", lambda stream, until=None, conn=None: [])
        return csvio.import_cadres(agg, meta(request_hash), csvio.parse_cadres(text), None)


def test_the_same_import_sent_again_meanwhile_answers_the_first_result_replayed(agg: Aggregates,
                                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    first = csvio.import_cadres(agg, meta("h1"), csvio.parse_cadres(CSV), None)

    again = raced(agg, monkeypatch, CSV, "h1")

    assert first["registered"] == 2 and first["replayed"] is False
    assert again["replayed"] is True and again["events"] == first["events"]


def test_another_file_under_the_same_key_sent_meanwhile_is_refused(agg: Aggregates,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    csvio.import_cadres(agg, meta("h1"), csvio.parse_cadres(CSV), None)

    with pytest.raises(IdempotencyMismatchError):
        raced(agg, monkeypatch, CSV.replace("王芳", "王方"), "h2")
