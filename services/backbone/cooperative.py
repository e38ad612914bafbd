"""Make psycopg yield to eventlet instead of freezing every green thread (architecture §3).

psycopg picks its C wait function at import; eventlet cannot patch it, so one slow query would
block the whole process and starve AMQP heartbeats. `wait_select` goes through `select`, which
eventlet does patch.
"""
from __future__ import annotations

import os
import time

os.environ.setdefault("PSYCOPG_WAIT_FUNC", "wait_select")

import psycopg  # noqa: E402  (must come after the environment is set)
import psycopg.waiting  # noqa: E402


class HubBlockedError(RuntimeError):
    """A query froze the eventlet hub: psycopg is not cooperative in this process."""


def make_psycopg_cooperative() -> None:
    """Route psycopg's waits through select() so eventlet can switch green threads."""
    psycopg.waiting.wait = psycopg.waiting.wait_select  # type: ignore[assignment]


def assert_cooperative(conninfo: str, query_seconds: float = 0.3) -> None:
    """Run a short sleep query beside a ticking green thread; raise if the ticker was frozen.

    Called by the database provider on start when eventlet is active: a service whose queries
    would block the hub refuses to start rather than drop heartbeats in production.
    """
    import eventlet
    from eventlet import patcher

    if not patcher.is_monkey_patched("socket"):
        return
    ticks: list[float] = []

    def ticker() -> None:
        deadline = time.monotonic() + query_seconds
        while time.monotonic() < deadline:
            ticks.append(time.monotonic())
            eventlet.sleep(0.02)

    thread = eventlet.spawn(ticker)
    eventlet.sleep(0)
    with psycopg.connect(conninfo, autocommit=True) as conn:
        conn.execute("SELECT pg_sleep(%s)", (query_seconds,))
    thread.wait()
    if len(ticks) < 3:
        raise HubBlockedError(
            "a database query blocked the eventlet hub; set PSYCOPG_WAIT_FUNC=wait_select "
            "and import services.backbone before psycopg connects"
        )


make_psycopg_cooperative()
