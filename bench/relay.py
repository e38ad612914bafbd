"""Relay drain benchmark: how fast the relay publishes a backlog (after an outage of the broker, a bulk import),
with the batch confirmed as a whole (`BatchConfirms`, what the relay does) against each message confirmed in turn
(kombu's `confirm_publish`, what it did before), in the same run, alternately. `make bench-relay`; the last line is
`relay_batched_vs_per_message=<number>`. Results: docs/bench-relay.md.

It appends BACKLOG events to a schema of its own in `fourgates_bench` (dropped afterwards), and publishes them to a
RabbitMQ vhost of its own (deleted afterwards) bound to one durable queue, as a consumer's would be.
"""
from __future__ import annotations

import os
import time
import uuid
from datetime import UTC, datetime
from statistics import median

import psycopg
from kombu import Connection, Producer, Queue
from psycopg_pool import ConnectionPool

from bench.e2e import own_vhost
from services.backbone.domain import Actor
from services.backbone.envelope import Metadata, NewEvent
from services.backbone.migrations import ensure_database, migrate
from services.backbone.relay import BatchConfirms, Relay, events_exchange
from services.backbone.store import EventStore

DB = os.environ.get("FOURGATES_BENCH_DB", "host=127.0.0.1 hostaddr=127.0.0.1 port=5432 user=postgres dbname=fourgates_bench")
BACKLOG = 5_000
ROUNDS = 3  # of each mode, alternately


def event(i: int) -> NewEvent:
    meta = Metadata(Actor("bench", "organisation_department", "county-od"), f"cmd-{i}", f"cmd-{i}", "bench",
                    datetime.now(UTC), reason="基准测试")
    return NewEvent(uuid.uuid4(), "ledger.Happened", 1, {"i": i, "note": "走访群众二十户"}, meta)


def drain(relay: Relay, amqp_uri: str, batched: bool) -> tuple[float, float]:
    """Publish the whole log from the start; (events per second, microseconds of this process's CPU per event)."""
    with psycopg.connect(DB, autocommit=True) as conn:
        conn.execute(f'DELETE FROM "{relay.store.schema}".relay_checkpoint')
    options = {} if batched else {"transport_options": {"confirm_publish": True}}
    with Connection(amqp_uri, **options) as amqp:
        queue = Queue(f"{relay.service}-drain", exchange=events_exchange(relay.service), routing_key="#", durable=True)
        channel = amqp.channel()
        producer = Producer(channel, exchange=events_exchange(relay.service), serializer="cloudevents")
        producer.declare()
        queue(amqp.channel()).declare()
        confirms = BatchConfirms(channel) if batched else None
        began, cpu, total = time.monotonic(), time.process_time(), 0
        while published := relay.publish_batch(producer, confirms=confirms):
            total += published
        wall, cpu = time.monotonic() - began, time.process_time() - cpu
        queue(amqp.channel()).delete()
    assert total == BACKLOG, f"published {total} of {BACKLOG}"
    return total / wall, 1e6 * cpu / total


def main() -> None:
    ensure_database(DB)
    schema = f"bench_relay_{uuid.uuid4().hex[:8]}"
    migrate(DB, schema, service="none")
    try:
        with ConnectionPool(DB, min_size=1, max_size=3) as pool, own_vhost() as amqp_uri:
            store = EventStore(pool, schema)
            for start in range(0, BACKLOG, 100):
                store.append(f"s-{start}", [event(start + k) for k in range(100)])
            time.sleep(0.5)  # past the cluster's transaction horizon
            relay = Relay(store, DB, amqp_uri, schema)
            figures: dict[bool, list[tuple[float, float]]] = {True: [], False: []}
            for _ in range(ROUNDS):
                for batched in (True, False):
                    rate, cpu = drain(relay, amqp_uri, batched)
                    figures[batched].append((rate, cpu))
                    print(f"  {'batch confirmed whole ' if batched else 'each message confirmed'}: {BACKLOG} events,"
                          f" {rate:8,.0f} events/s, {cpu:4.0f} µs of the relay's CPU per event", flush=True)
    finally:
        with psycopg.connect(DB, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
    batched_rate, single_rate = (median(r for r, _ in figures[k]) for k in (True, False))
    batched_cpu, single_cpu = (median(c for _, c in figures[k]) for k in (True, False))
    print(f"relay_batched_events_per_s={batched_rate:.0f}  (median of {ROUNDS}; {batched_cpu:.0f} µs CPU per event)")
    print(f"relay_per_message_events_per_s={single_rate:.0f}  (median of {ROUNDS}; {single_cpu:.0f} µs CPU per event)")
    print(f"relay_batched_vs_per_message={batched_rate / single_rate:.2f}")


if __name__ == "__main__":
    main()
