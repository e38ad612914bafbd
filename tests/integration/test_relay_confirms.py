"""The relay publishes a batch whole and waits once for the broker's confirms of all of it; a message the broker
refuses fails the batch, and the checkpoint stays where it was -- through a real RabbitMQ and PostgreSQL."""
from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
from kombu import Connection, Producer, Queue
from psycopg_pool import ConnectionPool

from services.backbone.envelope import FEED_START
from services.backbone.relay import BatchConfirms, Relay, events_exchange
from services.backbone.store import EventStore
from tests.conftest import new_event


@pytest.fixture
def store(db_url: str, schema: str) -> Iterator[EventStore]:
    with ConnectionPool(db_url, min_size=1, max_size=3) as pool:
        yield EventStore(pool, schema)


def appended(store: EventStore, count: int) -> None:
    for i in range(count):
        store.append(f"s-{i % 4}", [new_event("ledger.Happened", data={"i": i})])
    deadline = time.monotonic() + 10
    while len(store.read_feed(FEED_START, 1000)) < count and time.monotonic() < deadline:
        time.sleep(0.05)  # past the cluster's xid horizon


def relay_channel(amqp: Connection, relay: Relay, **queue_arguments: Any) -> tuple[Producer, BatchConfirms, Queue]:
    """The relay's producer and confirms on a channel of their own, and a queue bound to every event."""
    channel = amqp.channel()
    producer = Producer(channel, exchange=events_exchange(relay.service), serializer="cloudevents")
    producer.declare()
    queue = Queue(f"{relay.service}-watch", exchange=events_exchange(relay.service), routing_key="#",
                  durable=False, auto_delete=False, queue_arguments=queue_arguments or None)
    queue(amqp.channel()).declare()
    return producer, BatchConfirms(channel), queue


def test_a_batch_is_published_whole_then_confirmed_and_checkpointed(env: dict[str, str], db_url: str,
                                                                    store: EventStore) -> None:
    appended(store, 30)
    relay = Relay(store, db_url, env["AMQP_URI"], store.schema)
    with Connection(env["AMQP_URI"]) as amqp:
        producer, confirms, queue = relay_channel(amqp, relay)
        try:
            assert relay.publish_batch(producer, confirms=confirms) == 30
            assert confirms.sent == 30 and not confirms.unconfirmed
            assert relay.checkpoint() == store.read_feed(FEED_START, 1000)[-1].cursor
            bound = queue(amqp.channel())
            received = [bound.get(no_ack=True) for _ in range(30)]
            assert [m.payload["data"]["i"] for m in received] == list(range(30))  # feed order
            assert bound.get(no_ack=True) is None
            assert relay.publish_batch(producer, confirms=confirms) == 0  # nothing after the checkpoint
        finally:
            queue(amqp.channel()).delete()


def test_a_message_the_broker_refuses_fails_the_batch_and_the_checkpoint_stays(env: dict[str, str], db_url: str,
                                                                              store: EventStore) -> None:
    appended(store, 3)
    relay = Relay(store, db_url, env["AMQP_URI"], store.schema)
    with Connection(env["AMQP_URI"]) as amqp:
        # a queue that takes one message and refuses the others (the broker nacks them to the publisher)
        producer, confirms, queue = relay_channel(amqp, relay, **{"x-max-length": 1, "x-overflow": "reject-publish"})
        try:
            with pytest.raises(RuntimeError, match="refused 2 message"):
                relay.publish_batch(producer, confirms=confirms)
            assert relay.checkpoint() == FEED_START  # published again on the next try: consumers skip duplicates
        finally:
            queue(amqp.channel()).delete()


def test_one_nack_for_several_messages_counts_each_message(env: dict[str, str]) -> None:
    """The broker may refuse several messages with one basic.nack (multiple=True); CI once saw "refused 1" for two.
    The frames are handed to the channel's own handlers, as amqp does on receiving them."""
    with Connection(env["AMQP_URI"]) as amqp:
        confirms = BatchConfirms(amqp.channel())
        for _ in range(3):
            confirms.published()
        for handler in confirms.channel.events["basic_ack"]:
            handler(1, False)
        for handler in confirms.channel.events["basic_nack"]:
            handler(3, True)  # messages 2 and 3 refused in one frame
        with pytest.raises(RuntimeError, match="refused 2 message"):
            confirms.wait()
        assert not confirms.unconfirmed and confirms.refused == 0
