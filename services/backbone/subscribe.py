"""Subscribing to another service's events without losing any: a nameko event handler bound to all of
the source's events (so the consumer sees its feed in order) whose queue consumer parks messages that
cannot even be decoded, instead of kombu's default of logging and dropping them.
"""
from __future__ import annotations

import logging
from typing import Any

from nameko.events import EventHandler
from nameko.messaging import QueueConsumer

log = logging.getLogger(__name__)


class ParkingQueueConsumer(QueueConsumer):
    """nameko's queue consumer, but an undecodable body is parked by the subscription it was meant for."""

    def on_decode_error(self, message: Any, exc: Exception) -> None:
        exchange = message.delivery_info.get("exchange")
        for provider in list(self._providers):
            if isinstance(provider, SourceSubscription) and provider.queue.exchange.name == exchange:
                provider.park_undecodable(message, exc)
                break
        else:
            log.error("undecodable message on %s could not be parked: %r", exchange, exc)
        message.ack()


class SourceSubscription(EventHandler):
    """`@subscribe("posting")`: every event of the posting service, delivered to the decorated method."""

    queue_consumer = ParkingQueueConsumer()

    def __init__(self, source_service: str, **kwargs: Any) -> None:
        super().__init__(source_service, "#", **kwargs)

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
