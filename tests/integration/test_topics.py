"""Published topics through real RabbitMQ and real service processes: a consumer subscribed to one of a
source's topics receives that topic's events alone, applies each once, and finds a lost one by the chain."""
from __future__ import annotations

from typing import Any
from urllib.parse import quote

import psycopg
import requests
from kombu import Connection, Producer, Queue
from psycopg_pool import ConnectionPool

from services.backbone.envelope import FEED_START, FeedCursor, to_cloudevent
from services.backbone.migrations import migrate
from services.backbone.relay import Relay, events_exchange
from services.backbone.store import EventStore
from services.backbone.topics import parse_previous
from tests.conftest import new_event
from tests.integration.conftest import start
from tests.integration.test_relay_and_consumer import wait_until
from tests.support.processes import RABBIT_API

SIEVE_QUEUE = "evt-ledger-#--sieve.on_ledger_event"


def vhost(env: dict[str, str]) -> str:
    return env["AMQP_URI"].rsplit("/", 1)[1]


def bindings(env: dict[str, str]) -> set[str]:
    url = f"{RABBIT_API}/queues/{quote(vhost(env), safe='')}/{quote(SIEVE_QUEUE, safe='')}/bindings"
    reply = requests.get(url, timeout=10)
    reply.raise_for_status()
    return {b["routing_key"] for b in reply.json() if b["source"] == "ledger.events"}


def applied(db_url: str) -> list[tuple[Any, ...]]:
    with psycopg.connect(db_url) as conn:
        return conn.execute("SELECT event_id, count(*) FROM sieve.applied GROUP BY event_id").fetchall()


def inbox_types(db_url: str) -> list[str]:
    with psycopg.connect(db_url) as conn:
        return [r[0] for r in conn.execute(
            "SELECT e.type FROM sieve.consumer_inbox i JOIN ledger.events e USING (event_id)"
            " WHERE i.consumer = 'sieve' ORDER BY e.era, e.tx_id, e.position").fetchall()]


def append_mixed(store: EventStore, rounds: int) -> None:
    """`rounds` times: one event of the topic `counted` between two of another."""
    for i in range(rounds):
        for type_ in ("ledger.Noted", "ledger.Happened", "ledger.Noted"):
            store.append(f"s-{i % 3}", [new_event(type_, data={"i": i})])


def test_a_topic_subscriber_receives_only_the_topics_events_and_applies_each_once(
        env: dict[str, str], db_url: str) -> None:
    sieve = start(env, "sieve")  # its queue exists before the first event is published
    ledger = start(env, "ledger")
    try:
        assert bindings(env) == {"ledger.Happened", "ledger.Poison"}
        with ConnectionPool(db_url, min_size=1, max_size=2) as pool:
            append_mixed(EventStore(pool, "ledger"), 40)
            wait_until(lambda: len(applied(db_url)) == 40)
    finally:
        ledger.stop()
        sieve.stop()

    assert all(count == 1 for _, count in applied(db_url))
    # Nothing outside the topic reached the consumer: its inbox, which records every event it was given
    # (acted on or not), holds the topic's 40 events and no other (no gap made it read the feed).
    assert inbox_types(db_url) == ["ledger.Happened"] * 40


def test_an_event_of_the_topic_lost_on_the_way_is_found_by_the_chain_and_read_from_the_feed(
        env: dict[str, str], db_url: str) -> None:
    sieve = start(env, "sieve")
    sieve.stop()  # its queue stays, bound to the topic
    ledger = start(env, "ledger")
    try:
        with ConnectionPool(db_url, min_size=1, max_size=2) as pool:
            store = EventStore(pool, "ledger")
            append_mixed(store, 10)
            queue = f"{RABBIT_API}/queues/{quote(vhost(env), safe='')}/{quote(SIEVE_QUEUE, safe='')}"
            wait_until(lambda: requests.get(queue, timeout=10).json().get("messages") == 10)
            requests.delete(f"{queue}/contents", timeout=10).raise_for_status()  # the ten are lost
            sieve = start(env, "sieve")
            store.append("s-last", [new_event("ledger.Noted"), new_event("ledger.Happened")])
            # The one delivery names the topic's previous event, which the consumer never applied: it reads
            # the feed from its cursor (its catch-up timer does not fire in this test) and applies all eleven.
            wait_until(lambda: len(applied(db_url)) == 11, timeout=30)
    finally:
        ledger.stop()
        sieve.stop()

    assert all(count == 1 for _, count in applied(db_url))


def test_a_queue_bound_to_every_event_before_is_rebound_to_the_topic_alone(env: dict[str, str], db_url: str) -> None:
    """An installation upgraded from a subscription to everything keeps its queue (and what waits in it); the
    catch-all binding goes once the topic's are in place."""
    with Connection(env["AMQP_URI"]) as amqp:
        Queue(SIEVE_QUEUE, exchange=events_exchange("ledger"), routing_key="#", durable=True)(amqp.channel()).declare()
    assert bindings(env) == {"#"}
    sieve = start(env, "sieve")
    try:
        assert bindings(env) == {"ledger.Happened", "ledger.Poison"}
    finally:
        sieve.stop()


def test_each_event_of_a_topic_names_the_topics_previous_event_across_relays(db_url: str, env: dict[str, str]) -> None:
    """The chain goes on where the last leader left it: from the position saved with the checkpoint, or,
    when none was saved (an installation upgraded, a topic added), from the log."""
    from tests.integration.backbone_app import COUNTED, NOTED

    watch = Queue("watch-everything", exchange=events_exchange("ledger"), routing_key="#", durable=False)
    with (ConnectionPool(db_url, min_size=1, max_size=2) as pool,
          Connection(env["AMQP_URI"], transport_options={"confirm_publish": True}) as amqp):
        migrate(db_url, "ledger")
        store = EventStore(pool, "ledger")
        channel = amqp.channel()
        watch(channel).declare()
        producer = Producer(channel, exchange=events_exchange("ledger"), serializer="cloudevents")

        def relay_once(forget_saved: bool = False) -> None:
            if forget_saved:
                with psycopg.connect(db_url, autocommit=True) as conn:
                    conn.execute("UPDATE ledger.relay_checkpoint SET topics = NULL")
            relay = Relay(store, db_url, env["AMQP_URI"], "ledger", topics=(COUNTED, NOTED))
            while relay.publish_batch(producer):
                pass

        append_mixed(store, 2)
        wait_until(lambda: len(store.read_feed()) == 6)
        relay_once()
        append_mixed(store, 2)
        wait_until(lambda: len(store.read_feed()) == 12)
        relay_once()
        append_mixed(store, 1)
        wait_until(lambda: len(store.read_feed()) == 15)
        relay_once(forget_saved=True)
        bodies = []
        with amqp.SimpleQueue(watch) as reader:
            while len(bodies) < 15:
                message = reader.get(timeout=10)
                bodies.append(message.payload)
                message.ack()

    last: dict[str, FeedCursor] = {"counted": FEED_START, "noted": FEED_START}
    for body in bodies:
        topic = "counted" if body["type"] == "ledger.Happened" else "noted"
        other = "noted" if topic == "counted" else "counted"
        assert parse_previous(body["topicprevious"], topic) == last[topic], body
        assert parse_previous(body["topicprevious"], other) is None  # an event names only its own topics
        last[topic] = FeedCursor.parse(body["sequence"])
    assert [b["type"] for b in bodies].count("ledger.Happened") == 5


def test_a_catch_up_overtaken_by_a_delivery_of_the_topic_passes_what_lies_behind_without_rewinding(
        db_url: str, schema: str) -> None:
    """The catch-up reads a page of the feed without the source's lock; a delivery of the topic may move the
    cursor past the page's other events meanwhile. Those were never delivered nor recorded, yet nothing was
    lost: the consumer passes them. (It used to take them for the trace of a forged message and rewind to
    the start of the feed, reading everything again: the first benchmark with topics logged it 14 times.)"""
    from services.backbone.consumer import IdempotentConsumer
    from services.backbone.metrics import REWINDS
    from services.backbone.topics import Topic, format_previous

    counted = Topic("ledger", "counted", ("ledger.Happened",))
    acted: list[str] = []
    with ConnectionPool(db_url, min_size=1, max_size=4) as pool:
        store = EventStore(pool, schema)
        store.append("s", [new_event("ledger.Noted")])
        store.append("s", [new_event("ledger.Happened")])
        wait_until(lambda: len(store.read_feed()) == 2)
        noted, happened = store.read_feed()
        live = to_cloudevent(happened, noted.cursor, format_previous({"counted": FEED_START}))

        def fetch(_: str, after: FeedCursor, limit: int) -> list[dict[str, Any]]:
            page = [to_cloudevent(e, None) for e in store.read_feed(after, limit)]
            if not acted:
                assert consumer.receive("ledger", live) == "applied"  # overtakes the page being read
            return page

        consumer = IdempotentConsumer(pool, schema, "sieve", {"ledger": lambda conn, event, _: acted.append(event.type)},
                                      fetch, versions={"ledger": {"ledger.Happened": 1}}, topics={"ledger": counted})
        rewinds = REWINDS.labels("sieve", "ledger")._value.get()
        consumer.catch_up("ledger")
        assert REWINDS.labels("sieve", "ledger")._value.get() == rewinds
        assert consumer.cursor("ledger") == happened.cursor
        assert acted == ["ledger.Happened"]
        assert consumer.catch_up("ledger") == 0  # and nothing is read again


def test_a_topic_subscriber_keeps_in_its_inbox_only_the_topics_events(db_url: str, schema: str) -> None:
    """The catch-up brings the source's other events too; they move the cursor and are kept nowhere (before
    topics, each consumer's inbox grew by every event of every source it read)."""
    from prometheus_client import REGISTRY

    from services.backbone.consumer import IdempotentConsumer
    from services.backbone.topics import Topic

    counted = Topic("ledger", "counted", ("ledger.Happened",))
    with ConnectionPool(db_url, min_size=1, max_size=4) as pool:
        store = EventStore(pool, schema)
        for type_ in ("ledger.Noted", "ledger.Happened", "ledger.Noted", "ledger.Noted"):
            store.append("s", [new_event(type_)])
        wait_until(lambda: len(store.read_feed()) == 4)
        consumer = IdempotentConsumer(
            pool, schema, "sieve", {"ledger": lambda conn, event, _: None},
            lambda _, after, limit: [to_cloudevent(e, None) for e in store.read_feed(after, limit)],
            versions={"ledger": {"ledger.Happened": 1}}, topics={"ledger": counted})
        lag = {"consumer": "sieve", "source": "ledger"}
        timed = REGISTRY.get_sample_value("fourgates_consumer_lag_seconds_count", lag) or 0
        assert consumer.catch_up("ledger") == 4
        assert consumer.cursor("ledger") == store.read_feed()[-1].cursor
        # only the topic's event counts in the consumer's lag: the others, passed by a catch-up every few
        # seconds, would hold its p99 at seconds and keep FourGatesConsumerLagging firing
        assert REGISTRY.get_sample_value("fourgates_consumer_lag_seconds_count", lag) == timed + 1
        with psycopg.connect(db_url) as conn:
            kept = conn.execute(f'SELECT e.type FROM "{schema}".consumer_inbox i JOIN "{schema}".events e'  # noqa: S608
                                " USING (event_id) WHERE i.consumer = 'sieve'").fetchall()
        assert kept == [("ledger.Happened",)]
        assert consumer.catch_up("ledger") == 0


def test_a_relay_that_does_not_chain_the_topic_yet_costs_catch_ups_not_events(db_url: str, schema: str) -> None:
    """During an upgrade the source's relay may not write `topicprevious` yet (or not for this topic): the
    subscriber falls back to `previoussequence`, which names an event its queue never got, and reads the feed
    for it: slower, never wrong."""
    from services.backbone.consumer import IdempotentConsumer
    from services.backbone.topics import Topic

    counted = Topic("ledger", "counted", ("ledger.Happened",))
    acted: list[str] = []
    with ConnectionPool(db_url, min_size=1, max_size=4) as pool:
        store = EventStore(pool, schema)
        for type_ in ("ledger.Happened", "ledger.Noted", "ledger.Happened"):
            store.append("s", [new_event(type_)])
        wait_until(lambda: len(store.read_feed()) == 3)
        first, noted, second = store.read_feed()
        reads: list[FeedCursor] = []

        def fetch(_: str, after: FeedCursor, limit: int) -> list[dict[str, Any]]:
            reads.append(after)
            return [to_cloudevent(e, None) for e in store.read_feed(after, limit)]

        consumer = IdempotentConsumer(pool, schema, "sieve", {"ledger": lambda conn, event, _: acted.append(event.type)},
                                      fetch, versions={"ledger": {"ledger.Happened": 1}}, topics={"ledger": counted})
        assert consumer.receive("ledger", to_cloudevent(first, None)) == "applied"
        assert consumer.receive("ledger", to_cloudevent(second, noted.cursor, "other=0.0.0")) == "caught_up"
        assert reads == [first.cursor]
        assert acted == ["ledger.Happened", "ledger.Happened"]
        assert consumer.cursor("ledger") == second.cursor
