"""Subscribing to another service's events without losing any: a nameko event handler bound to all of
the source's events, or to the types of one topic the source publishes (topics.py), so the consumer sees
its feed, or that topic, in order; its queue consumer parks messages that cannot even be decoded, instead
of kombu's default of logging and dropping them.
"""
from __future__ import annotations

import logging
from typing import Any

import eventlet
from kombu import Connection, Queue, binding
from nameko.events import EventHandler
from nameko.messaging import QueueConsumer

from services.backbone.config import amqp_uri
from services.backbone.topics import Topic

log = logging.getLogger(__name__)
PARK_RETRY_SECONDS = 1.0


class ParkingQueueConsumer(QueueConsumer):
    """nameko's queue consumer, but an undecodable body is parked by the subscription it was meant for."""

    def on_decode_error(self, message: Any, exc: Exception) -> None:
        """Park the message, then acknowledge it. Runs in the thread that reads every queue of the service:
        should the parking fail (the database away), the message goes back to its queue, to be tried again
        after a pause, instead of the error stopping the service or the message being dropped."""
        exchange = message.delivery_info.get("exchange")
        for provider in list(self._providers):
            if isinstance(provider, SourceSubscription) and provider.queue.exchange.name == exchange:
                try:
                    provider.park_undecodable(message, exc)
                except Exception as failure:  # noqa: BLE001  (whatever it is, the message must not be lost)
                    log.error("undecodable message on %s could not be parked (%r): back to its queue, tried again"
                              " in %s s", exchange, failure, PARK_RETRY_SECONDS)
                    eventlet.sleep(PARK_RETRY_SECONDS)
                    message.requeue()
                    return
                break
        else:
            log.error("undecodable message on %s could not be parked: %r", exchange, exc)
        message.ack()


class SourceSubscription(EventHandler):
    """`@subscribe("posting")`: every event of the posting service, delivered to the decorated method;
    `@subscribe("posting", topic=ROSTER)`: the events of posting's topic `roster` alone (the consumer
    must check them against that topic: ConsumerProvider(topics=...))."""

    queue_consumer = ParkingQueueConsumer()
    queue: Queue  # nameko's EventHandler builds it in setup()

    def __init__(self, source_service: str, topic: Topic | None = None, **kwargs: Any) -> None:
        if topic is not None and topic.source != source_service:
            raise ValueError(f"topic {topic.name!r} is {topic.source}'s, not {source_service}'s")
        super().__init__(source_service, "#", **kwargs)  # "#" stays in the queue's name either way
        self.topic = topic

    def setup(self) -> None:
        super().setup()
        if self.topic is not None:
            # The same queue (its name, and whatever waits in it, are kept), bound to the topic's types alone.
            queue = self.queue
            self._exchange = queue.exchange
            self.queue = Queue(queue.name, durable=queue.durable, auto_delete=queue.auto_delete,
                               exclusive=queue.exclusive,
                               bindings=[binding(queue.exchange, routing_key=t) for t in sorted(self.topic.types)])

    def start(self) -> None:
        if self.topic is not None:
            self._drop_catch_all()
        super().start()

    def _drop_catch_all(self) -> None:
        """A queue that was bound to every event (before this subscription named a topic) keeps that binding
        until it is removed: declare the topic's bindings first, then remove it, so nothing falls between."""
        with Connection(amqp_uri(self.container.config)) as conn:
            channel = conn.channel()
            bound = self.queue(channel)
            bound.declare()
            bound.unbind_from(self._exchange, routing_key="#")

    def park_undecodable(self, message: Any, exc: Exception) -> None:
        from services.backbone.providers import ConsumerProvider

        body = message.body if isinstance(message.body, str) else bytes(message.body).decode("utf-8", "replace")
        for provider in self.container.dependencies:
            if isinstance(provider, ConsumerProvider):
                provider.get_dependency(None).park(
                    self.source_service, body[:100_000],
                    f"undecodable message (content type {message.content_type!r}): {exc!r}")
                return


subscribe = SourceSubscription.decorator
