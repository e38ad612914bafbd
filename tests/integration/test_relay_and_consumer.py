"""The relay and the idempotent consumer through real RabbitMQ, in real service processes."""
from __future__ import annotations

import time
from collections.abc import Callable

import psycopg
import pytest
from nameko.standalone.rpc import ClusterRpcProxy
from psycopg_pool import ConnectionPool

from services.backbone.store import EventStore
from tests.conftest import new_event
from tests.integration.conftest import start
from tests.support.processes import rpc_config


def wait_until(condition: Callable[[], bool], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError("condition not met in time")
        time.sleep(0.2)


def applied(db_url: str) -> list[tuple]:
    with psycopg.connect(db_url) as conn:
        return conn.execute("SELECT event_id, count(*) FROM tally.applied GROUP BY event_id").fetchall()


def test_20_concurrent_rpcs_each_running_a_slow_query_are_not_serialised(env: dict[str, str]) -> None:
    ledger = start(env, "ledger")
    try:
        with ClusterRpcProxy(rpc_config(env["AMQP_URI"]), timeout=30) as rpc:
            rpc.ledger.slow_query(0.01)  # warm the pool's first connection
            began = time.monotonic()
            replies = [rpc.ledger.slow_query.call_async(0.2) for _ in range(20)]
            results = [reply.result() for reply in replies]
            elapsed = time.monotonic() - began
    finally:
        ledger.stop()

    assert results == [0.2] * 20
    # Serialised, 20 × 0.2 s would take 4 s; the pool has 10 connections, so two rounds ≈ 0.4 s.
    assert elapsed < 2.0, f"20 concurrent 0.2 s queries took {elapsed:.2f} s: the database serialises workers"


def test_killing_the_relay_mid_stream_loses_nothing_and_applies_nothing_twice(env: dict[str, str], db_url: str) -> None:
    tally = start(env, "tally")  # its queue exists before the first event is published
    ledger = start(env, "ledger")
    with ConnectionPool(db_url, min_size=1, max_size=2) as pool:
        store = EventStore(pool, "ledger")
        for i in range(300):
            store.append(f"stream-{i % 7}", [new_event("ledger.Happened", data={"i": i})])
            if i == 150:
                ledger.kill()
        ledger = start(env, "ledger")
        try:
            wait_until(lambda: len(applied(db_url)) == 300)
        finally:
            ledger.stop()
            tally.stop()

    rows = applied(db_url)
    assert len(rows) == 300
    assert all(count == 1 for _, count in rows)


def test_a_poison_event_is_parked_and_the_next_events_are_applied(env: dict[str, str], db_url: str) -> None:
    tally = start(env, "tally")
    ledger = start(env, "ledger")
    try:
        with ClusterRpcProxy(rpc_config(env["AMQP_URI"]), timeout=30) as rpc:
            rpc.ledger.append("s", "ledger.Happened")
            rpc.ledger.append("s", "ledger.Poison")
            rpc.ledger.append("s", "ledger.Happened")
        wait_until(lambda: len(applied(db_url)) == 2)
        with psycopg.connect(db_url) as conn:
            parked = conn.execute("SELECT type, error FROM tally.parked_messages").fetchall()
    finally:
        ledger.stop()
        tally.stop()

    assert [p[0] for p in parked] == ["ledger.Poison"]
    assert "this event cannot be applied" in parked[0][1]


def test_malformed_unknown_newer_and_oversized_messages_are_parked_and_the_consumer_goes_on(
        env: dict[str, str], db_url: str) -> None:
    from kombu import Connection, Producer

    from services.backbone.relay import events_exchange

    tally = start(env, "tally")
    ledger = start(env, "ledger")
    try:
        good = {"specversion": "1.0", "id": "8d3c6f0e-0000-4000-8000-000000000001", "source": "/fourgates/ledger",
                "subject": "s", "time": "2026-01-01T00:00:00+00:00", "streamversion": 1,
                "sequence": "1.99999999.1", "previoussequence": "", "data": {},
                "fourgatesmetadata": {"actor": {"principal": "x", "role": "integration", "unit": None}, "command_id": "c",
                                      "correlation_id": "c", "source": "ledger", "occurred_at": "2026-01-01T00:00:00+00:00"}}
        with Connection(env["AMQP_URI"]) as amqp:
            producer = Producer(amqp.channel(), exchange=events_exchange("ledger"))
            producer.publish(b"\xff\xfe not even text", routing_key="ledger.Happened", content_type="application/json",
                             content_encoding="binary")
            producer.publish("{not json", routing_key="ledger.Happened", content_type="application/cloudevents+json",
                             content_encoding="utf-8")
            producer.publish({"hello": "a JSON object that is no event"}, routing_key="ledger.Happened", serializer="json")
            producer.publish({**good, "type": "payroll.SalaryPaid", "dataschema": "urn:x:v1"},
                             routing_key="payroll.SalaryPaid", serializer="json")
            producer.publish({**good, "type": "ledger.Happened", "dataschema": "urn:x:v1", "data": {"blob": "x" * 1_100_000}},
                             routing_key="ledger.Happened", serializer="json")
        with ConnectionPool(db_url, min_size=1, max_size=2) as pool:
            store = EventStore(pool, "ledger")
            store.append("s", [new_event("ledger.Happened", schema_version=2)])
            store.append("s", [new_event("ledger.Happened")])
            wait_until(lambda: len(applied(db_url)) == 1)
            wait_until(lambda: len(parked(db_url)) == 6)
    finally:
        ledger.stop()
        tally.stop()

    reasons = " | ".join(error for _, error in parked(db_url))
    for expected in ("undecodable", "malformed", "unknown event type 'payroll.SalaryPaid'", "oversized",
                     "v2 is newer than this consumer understands"):
        assert expected in reasons


def parked(db_url: str) -> list[tuple]:
    with psycopg.connect(db_url) as conn:
        return conn.execute("SELECT type, error FROM tally.parked_messages ORDER BY id").fetchall()


def test_a_relay_that_dies_after_publishing_but_before_its_checkpoint_causes_only_harmless_duplicates(
        env: dict[str, str], db_url: str) -> None:
    from kombu import Connection, Producer

    from services.backbone.relay import Relay, events_exchange

    tally = start(env, "tally")
    # The ledger serves the feed the consumer catches up from when deliveries overtake each other; this
    # test's own relays do the publishing.
    ledger = start({**env, "FOURGATES_RELAY_ENABLED": "false"}, "ledger")
    try:
        with ConnectionPool(db_url, min_size=1, max_size=2) as pool:
            store = EventStore(pool, "ledger")
            for i in range(20):
                store.append(f"s-{i % 3}", [new_event("ledger.Happened", data={"i": i})])
            wait_until(lambda: len(store.read_feed()) == 20)  # past the cluster's xid horizon
            dying = Relay(store, db_url, env["AMQP_URI"], "ledger")

            def crash(*_: object) -> None:
                raise SystemExit("killed between publishing and saving the checkpoint")

            dying._save = crash  # type: ignore[method-assign]
            with Connection(env["AMQP_URI"], transport_options={"confirm_publish": True}) as amqp:
                producer = Producer(amqp.channel(), exchange=events_exchange("ledger"), serializer="cloudevents")
                with pytest.raises(SystemExit):
                    dying.publish_batch(producer)
                assert dying.checkpoint().position == 0  # all 20 were published, none checkpointed
                Relay(store, db_url, env["AMQP_URI"], "ledger").publish_batch(producer)  # publishes all 20 again
            wait_until(lambda: len(applied(db_url)) == 20)
            time.sleep(2)
    finally:
        ledger.stop()
        tally.stop()

    rows = applied(db_url)
    assert len(rows) == 20 and all(count == 1 for _, count in rows)
    with psycopg.connect(db_url) as conn:
        assert conn.execute("SELECT count(*) FROM tally.parked_messages").fetchone()[0] == 0


def test_the_relays_idle_check_reads_the_index_not_the_whole_log(db_url: str, schema: str) -> None:
    """After each batch the relay asks whether anything follows its checkpoint. As a prepared statement
    (generic plan) an EXISTS over the row comparison scanned the whole log when nothing followed -- about
    100 ms per idle cycle on a log of 120,000 events, which delayed every event that came next."""
    from services.backbone.relay import Relay

    with ConnectionPool(db_url, min_size=1, max_size=1) as pool, psycopg.connect(db_url, autocommit=True) as conn:
        relay = Relay(EventStore(pool, schema), db_url, "amqp://unused", "ledger")
        conn.execute("SET plan_cache_mode = force_generic_plan")
        conn.execute(f"PREPARE idle_check(int, text, bigint) AS {relay._after % ('$1', '$2', '$3')}")
        plan = "\n".join(r[0] for r in conn.execute("EXPLAIN EXECUTE idle_check(1, '1', 0)").fetchall())
    assert "events_feed_order" in plan and "Seq Scan" not in plan, plan


def test_an_undecodable_message_that_cannot_be_parked_yet_stays_queued_and_the_service_goes_on(
        env: dict[str, str], db_url: str) -> None:
    """Parking runs in the thread that reads the service's queues: when it fails (here its table is away, as
    when the database is), the message goes back to its queue and is parked once it can be; the service
    neither stops nor drops it, and goes on applying the events that follow."""
    from kombu import Connection, Producer

    from services.backbone.relay import events_exchange

    tally = start(env, "tally")
    ledger = start(env, "ledger")
    try:
        with psycopg.connect(db_url, autocommit=True) as conn:
            conn.execute("ALTER TABLE tally.parked_messages RENAME TO parked_away")
        with Connection(env["AMQP_URI"]) as amqp:
            Producer(amqp.channel(), exchange=events_exchange("ledger")).publish(
                b"\xff\xfe not even text", routing_key="ledger.Happened", content_type="application/json",
                content_encoding="binary")
        time.sleep(3)  # a few attempts to park it
        with ConnectionPool(db_url, min_size=1, max_size=2) as pool:
            EventStore(pool, "ledger").append("s", [new_event("ledger.Happened")])
        wait_until(lambda: len(applied(db_url)) == 1, timeout=30)
        assert tally.proc is not None and tally.proc.poll() is None, "the service stopped"
        with psycopg.connect(db_url, autocommit=True) as conn:
            conn.execute("ALTER TABLE tally.parked_away RENAME TO parked_messages")
        wait_until(lambda: len(parked(db_url)) == 1, timeout=30)
    finally:
        ledger.stop()
        tally.stop()

    assert "undecodable" in parked(db_url)[0][1]
