"""Prometheus metrics every service exports at /<service>/metrics.

Counters and histograms are kept in the process as things happen. What the database knows -- the relay's
backlog, the audit chain's head, the parked messages -- is read when Prometheus scrapes (`ServiceState`):
every replica of a service reports the same figures for it, so aggregate those with `max`, never `sum`.
"""
from __future__ import annotations

import gc
import time
from typing import Any

from prometheus_client import REGISTRY, CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from psycopg import sql

from services.backbone.envelope import FEED_START, FeedCursor

EVENTS_APPENDED = Counter("fourgates_events_appended_total", "Events appended to the log", ["schema"])
EVENTS_PUBLISHED = Counter("fourgates_relay_published_total", "Events the relay published (confirmed)", ["service"])
CONSUMED = Counter("fourgates_consumer_messages_total", "Messages a consumer handled, by outcome",
                   ["consumer", "source", "outcome"])
REWINDS = Counter("fourgates_consumer_rewinds_total", "Times a consumer found its cursor moved past events it never"
                  " applied (a message the source never sent) and read the source's feed again", ["consumer", "source"])
RPC_SECONDS = Histogram("fourgates_rpc_seconds", "RPC calls this process served, by method and outcome (ok or error)",
                        ["service", "method", "outcome"])
CONSUMER_LAG = Histogram("fourgates_consumer_lag_seconds", "From an event's commit at its source to its application"
                         " here (events caught up through the feed count from their commit too; of a topic's"
                         " subscriber, the topic's events only)", ["consumer", "source"],
                         buckets=(.01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 300, float("inf")))
HEAD_EXPORT_FAILURES = Counter("fourgates_chain_head_export_failures_total", "Times the sequencer could not write"
                               " the audit chain's head outside the database (it seals on and tries again at its next"
                               " export)", ["service"])
HTTP_REQUESTS = Histogram("fourgates_http_request_seconds", "HTTP requests by route and status",
                          ["service", "method", "route", "status"])

_gc_spent = [0.0, 0.0, 0.0]  # seconds in the collector by generation, read at each scrape (GcTime)
_gc_began = [0.0]


def _time_gc(phase: str, info: dict[str, int], _clock: Any = time.perf_counter) -> None:
    # Runs twice per collection -- thousands of times a second in a busy process: plain floats here, the
    # Prometheus counter is made at scrape time (a Counter's lock and label lookup here cost more than the
    # collections they timed: 8 µs per event in a rebuild's loader).
    if phase == "start":
        _gc_began[0] = _clock()
    else:
        _gc_spent[info["generation"]] += _clock() - _gc_began[0]


class GcTime:
    """`fourgates_gc_seconds_total{generation}`: time this process spent in Python's cyclic garbage collector."""

    def collect(self) -> list[CounterMetricFamily]:
        family = CounterMetricFamily("fourgates_gc_seconds", "Time this process spent in Python's cyclic garbage"
                                     " collector, by generation collected", labels=["generation"])
        for generation, seconds in enumerate(_gc_spent):
            family.add_metric([str(generation)], seconds)
        return [family]


gc.callbacks.append(_time_gc)
REGISTRY.register(GcTime())


# The figures ServiceState reads at each scrape, by name (deploy/prometheus/alerts.yaml alerts on them).
STATE_METRICS = ("fourgates_state_readable", "fourgates_relay_lag_events", "fourgates_relay_lag_seconds",
                 "fourgates_audit_chain_head", "fourgates_audit_unsealed_events", "fourgates_parked_messages")


class ServiceState:
    """Scrape-time figures read from one service's schema, in one short transaction."""

    def __init__(self, store: Any, service: str) -> None:
        self.store, self.service = store, service
        s = sql.Identifier(store.schema)
        self._q_relay = sql.SQL("SELECT era, tx_id, position FROM {s}.relay_checkpoint WHERE relay = 'main'").format(
            s=s).as_string(None)
        self._q_chain = sql.SQL("SELECT audit_no, era, tx_id, position FROM {s}.audit_chain ORDER BY audit_no DESC LIMIT 1"
                                ).format(s=s).as_string(None)
        self._q_parked = sql.SQL("SELECT consumer, coalesce(source, ''), count(DISTINCT coalesce(event_id, id::text))"
                                 " FROM {s}.parked_messages"
                                 " WHERE resolved_at IS NULL GROUP BY 1, 2 ORDER BY 1, 2").format(s=s).as_string(None)

    def collect(self) -> list[GaugeMetricFamily]:
        readable = GaugeMetricFamily("fourgates_state_readable", "1 when the figures below could be read from the"
                                     " service's database at this scrape, 0 when it did not answer", labels=["service"])
        try:
            figures = self._read()
        except Exception:  # noqa: BLE001  (the database is away: say so, and keep the process's own metrics)
            readable.add_metric([self.service], 0.0)
            return [readable]
        readable.add_metric([self.service], 1.0)
        return [readable, *figures]

    def _read(self) -> list[GaugeMetricFamily]:
        with self.store.transaction() as conn:
            relayed = conn.execute(self._q_relay).fetchone()
            relay = self.store.backlog_after(FeedCursor(*relayed) if relayed else FEED_START, conn)  # none yet: all waits
            chain = conn.execute(self._q_chain).fetchone()
            head, sealed = (chain[0], FeedCursor(*chain[1:])) if chain else (0, FEED_START)
            unsealed, _ = self.store.backlog_after(sealed, conn)
            parked = conn.execute(self._q_parked).fetchall()
        families = []
        for name, help_, value in (
            ("fourgates_relay_lag_events", "Events committed to this service's log and not yet published", relay[0]),
            ("fourgates_relay_lag_seconds", "Age of the oldest event not yet published (0: none waits)", relay[1]),
            ("fourgates_audit_chain_head", "Audit number of the newest event sealed into the chain", head),
            ("fourgates_audit_unsealed_events", "Events of the log not yet sealed into the audit chain", unsealed),
        ):
            family = GaugeMetricFamily(name, help_, labels=["service"])
            family.add_metric([self.service], float(value))
            families.append(family)
        waiting = GaugeMetricFamily("fourgates_parked_messages", "Events parked and not yet resolved (replayed or"
                                    " dismissed), by consumer and source", labels=["consumer", "source"])
        for consumer, source, count in parked:
            waiting.add_metric([consumer, source], float(count))
        families.append(waiting)
        return families


def exposition(state: ServiceState) -> bytes:
    """This process's metrics, then the service's state as the database has it now."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(state)
    return generate_latest() + generate_latest(registry)
