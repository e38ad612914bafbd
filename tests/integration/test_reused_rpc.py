"""Catch-up reads keep one RPC connection and one reply queue, and survive the broker closing it."""
from __future__ import annotations

import time
from urllib.parse import quote

import requests

from services.backbone.rpcclient import ReusedRpc
from tests.integration.conftest import start
from tests.support.processes import RABBIT_API, rpc_config

REPLY_QUEUE = "rpc.reply-standalone_rpc_proxy"


def vhost_of(amqp_uri: str) -> str:
    return amqp_uri.rsplit("/", 1)[1]


def reply_queues(amqp_uri: str) -> set[str]:
    queues = requests.get(f"{RABBIT_API}/queues/{quote(vhost_of(amqp_uri), safe='')}", timeout=10).json()
    return {queue["name"] for queue in queues if queue["name"].startswith(REPLY_QUEUE)}


def close_every_connection(amqp_uri: str) -> int:
    """Closes, as a broker restart or an operator would, every AMQP connection of the vhost."""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        names = [c["name"] for c in requests.get(f"{RABBIT_API}/connections", timeout=10).json()
                 if c.get("vhost") == vhost_of(amqp_uri)]
        if names:
            for name in names:
                requests.delete(f"{RABBIT_API}/connections/{quote(name, safe='')}", timeout=10)
            return len(names)
        time.sleep(0.2)  # the management API lists a new connection with a short delay
    raise AssertionError("no connection of the vhost was listed")


def test_a_consumer_catching_up_every_two_seconds_keeps_one_reply_queue(env: dict[str, str]) -> None:
    ledger, tally = start(env, "ledger"), start(env, "tally")
    try:
        time.sleep(3)  # tally's first catch-up has run
        before = reply_queues(env["AMQP_URI"])
        time.sleep(8)  # four more catch-ups
        after = reply_queues(env["AMQP_URI"])
    finally:
        tally.stop()
        ledger.stop()

    # A proxy per catch-up left one more queue every two seconds (each lives five minutes after use).
    assert after - before == set(), f"catch-ups opened new reply queues: {sorted(after - before)}"


def test_a_reused_proxy_answers_after_the_broker_closed_its_connection(env: dict[str, str]) -> None:
    ledger = start(env, "ledger")
    feeds = ReusedRpc(rpc_config(env["AMQP_URI"]), timeout=20)
    try:
        ledger_append = ReusedRpc(rpc_config(env["AMQP_URI"]), timeout=20)
        ledger_append.call(lambda cluster: cluster.ledger.append("s-1"))
        ledger_append.close()
        first = [feeds.call(lambda cluster: cluster.ledger.read_feed("", 10)) for _ in range(5)]
        assert feeds.opened == 1

        assert close_every_connection(env["AMQP_URI"]) >= 1
        again = feeds.call(lambda cluster: cluster.ledger.read_feed("", 10))
    finally:
        feeds.close()
        ledger.stop()

    assert len(first[0]) == 1 and all(page == first[0] for page in first)
    assert again == first[0], "the feed read after the connection was closed differs"
