"""Keep a nameko 2.14 container alive through a broker outage.

nameko kills the whole container when an ack or an RPC reply fails because the broker went away:
it only catches `amqp.ConnectionError`, not the socket errors (`ConnectionResetError`) or kombu's
`OperationalError` (ECONNREFUSED) that a restart actually raises. A killed container stops serving
HTTP too, though HTTP commands need only the database. Nothing is lost by carrying on instead: an
unacknowledged message is redelivered after the reconnection (and our consumers are idempotent),
and an RPC caller whose reply was lost times out and asks again (catch-up runs on a timer).
"""
from __future__ import annotations

import logging
from typing import Any

from kombu.exceptions import OperationalError
from nameko.messaging import QueueConsumer
from nameko.rpc import Responder

log = logging.getLogger(__name__)
BROKER_GONE = (OSError, OperationalError)
_applied = False


def harden_nameko() -> None:
    """Patch nameko once per process (idempotent)."""
    global _applied
    if _applied:
        return
    _applied = True
    _guard(QueueConsumer, "ack_message", "acknowledge a message; the broker will redeliver it")
    _guard(QueueConsumer, "requeue_message", "requeue a message; the broker will redeliver it")
    _guard_reply()


def _guard(cls: type, name: str, what: str) -> None:
    original = getattr(cls, name)

    def guarded(self: Any, message: Any) -> None:
        try:
            original(self, message)
        except BROKER_GONE as exc:
            log.warning("broker unavailable: could not %s (%s)", what, exc)

    setattr(cls, name, guarded)


def _guard_reply() -> None:
    original = Responder.send_response

    def send_response(self: Any, result: Any, exc_info: Any) -> Any:
        try:
            return original(self, result, exc_info)
        except BROKER_GONE as exc:
            log.warning("broker unavailable: an RPC reply was lost; the caller will time out and retry (%s)", exc)
            return result, exc_info

    Responder.send_response = send_response
