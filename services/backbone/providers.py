"""Nameko dependency providers: the service's event store, its relay, its idempotent consumer, RPC timing.

Each builds what it needs in setup/start from the nameko config (environment variables win),
hands workers a small facade, and closes on stop.
"""
from __future__ import annotations

import logging
import time
import weakref
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from nameko.extensions import DependencyProvider
from nameko.rpc import Rpc, rpc
from psycopg_pool import ConnectionPool

import services.backbone.cooperative  # noqa: F401  (psycopg must yield to eventlet before connecting)
from services.backbone.audit import Sequencer
from services.backbone.bulkfeed import MAX_PAGE, cloudevents_after, feed_page, pack_page
from services.backbone.config import amqp_uri, database_url, setting
from services.backbone.consumer import BatchHandler, Handler, IdempotentConsumer
from services.backbone.cooperative import assert_cooperative
from services.backbone.envelope import FeedCursor
from services.backbone.metrics import RPC_SECONDS
from services.backbone.migrations import ensure_database, migrate
from services.backbone.relay import Relay
from services.backbone.resilience import harden_nameko
from services.backbone.rpcclient import ReusedRpc
from services.backbone.store import EventStore
from services.backbone.topics import Topic
from services.backbone.vault import Vault

log = logging.getLogger(__name__)
harden_nameko()
DEFAULT_HEAD_DIR = Path(__file__).resolve().parents[2] / "var" / "chain-heads"


class RecentlyGood:
    """The pool's connection check, skipped for a connection that came back in good order within the last
    second: one round trip less on nearly every checkout (a tenth of a live event's cost in reporting).

    After a database restart, a connection returned just before it fails once — that request answers
    503, or that delivery is read again from the feed — and the pool replaces it.
    """

    def __init__(self, fresh_seconds: float = 1.0) -> None:
        self.fresh_seconds = fresh_seconds
        self._returned: weakref.WeakKeyDictionary[Any, float] = weakref.WeakKeyDictionary()

    def reset(self, conn: Any) -> None:
        self._returned[conn] = time.monotonic()  # the pool calls this only for a connection left idle

    def check(self, conn: Any) -> None:
        if time.monotonic() - self._returned.get(conn, float("-inf")) >= self.fresh_seconds:
            ConnectionPool.check_connection(conn)


class EventStoreProvider(DependencyProvider):
    """Gives each worker the service's EventStore (its own schema); migrates and checks on start."""

    def __init__(self, schema: str | None = None) -> None:
        self.schema = schema
        self.store: EventStore | None = None
        self.pool: ConnectionPool | None = None

    def setup(self) -> None:
        config = self.container.config
        self.schema = self.schema or self.container.service_name
        self.conninfo = database_url(config)
        if setting(config, "MIGRATE_ON_START", True):
            ensure_database(self.conninfo)
            migrate(self.conninfo, self.schema)
        assert_cooperative(self.conninfo)
        size = int(setting(config, "DB_POOL_SIZE", 10))
        # check: a connection broken by a database restart is replaced before a worker gets it;
        # timeout: with the database away, a request answers 503 within seconds instead of hanging.
        checked = RecentlyGood()
        self.pool = ConnectionPool(self.conninfo, min_size=1, max_size=size, open=True, name=self.schema,
                                   check=checked.check, reset=checked.reset, timeout=5.0)
        self.store = EventStore(self.pool, self.schema, vault=Vault(self.pool, self.schema))

    def stop(self) -> None:
        if self.pool is not None:
            self.pool.close()

    def kill(self) -> None:
        self.stop()

    def get_dependency(self, worker_ctx: Any) -> EventStore:
        assert self.store is not None
        return self.store


class RelayProvider(DependencyProvider):
    """Runs the service's relay in a managed thread; replicas stand by on the advisory lock."""

    def __init__(self, store_provider_attr: str = "store", topics: Sequence[Topic] = ()) -> None:
        self.store_attr, self.topics = store_provider_attr, tuple(topics)
        self.relay: Relay | None = None

    def start(self) -> None:
        store_provider = _sibling(self.container, self.store_attr)
        assert store_provider.store is not None
        config = self.container.config
        if not setting(config, "RELAY_ENABLED", True):
            return  # a replica that serves but never relays (FOURGATES_RELAY_ENABLED=false)
        self.relay = Relay(
            store_provider.store, store_provider.conninfo, amqp_uri(config), self.container.service_name,
            poll_seconds=float(setting(config, "RELAY_POLL_SECONDS", 0.2)), topics=self.topics,
        )
        self.container.spawn_managed_thread(self.relay.run, identifier=f"{self.container.service_name}.relay")

    def stop(self) -> None:
        if self.relay is not None:
            self.relay.stop.set()

    def kill(self) -> None:
        self.stop()

    def get_dependency(self, worker_ctx: Any) -> Relay | None:
        return self.relay


class SequencerProvider(DependencyProvider):
    """Seals the service's events into its audit chain and exports the head; one active per service."""

    def __init__(self, store_provider_attr: str = "store") -> None:
        self.store_attr = store_provider_attr
        self.sequencer: Sequencer | None = None

    def start(self) -> None:
        store_provider = _sibling(self.container, self.store_attr)
        assert store_provider.store is not None
        config = self.container.config
        head_dir = Path(str(setting(config, "CHAIN_HEAD_DIR", str(DEFAULT_HEAD_DIR))))
        self.sequencer = Sequencer(store_provider.store, store_provider.conninfo, self.container.service_name,
                                   head_dir=head_dir, export_every=float(setting(config, "CHAIN_EXPORT_SECONDS", 60.0)))
        self.container.spawn_managed_thread(self.sequencer.run, identifier=f"{self.container.service_name}.sequencer")

    def stop(self) -> None:
        if self.sequencer is not None:
            self.sequencer.stop.set()

    def kill(self) -> None:
        self.stop()

    def get_dependency(self, worker_ctx: Any) -> Sequencer | None:
        return self.sequencer


class ConsumerProvider(DependencyProvider):
    """An IdempotentConsumer over the service's own schema; catch-up reads go through RPC."""

    def __init__(self, handlers: dict[str, Handler], store_provider_attr: str = "store",
                 versions: dict[str, dict[str, int]] | None = None,
                 batch_handlers: dict[str, BatchHandler] | None = None,
                 topics: dict[str, Topic] | None = None) -> None:
        self.handlers, self.versions, self.batch_handlers = handlers, versions, batch_handlers
        self.topics = topics
        self.store_attr = store_provider_attr
        self.consumer: IdempotentConsumer | None = None
        self.feeds: ReusedRpc | None = None

    def setup(self) -> None:
        self.feeds = ReusedRpc(self.container.config, timeout=5)

    def stop(self) -> None:
        if self.feeds is not None:
            self.feeds.close()

    def kill(self) -> None:
        self.stop()

    def _build(self) -> IdempotentConsumer:
        # Built on first use: nameko sets providers up concurrently, so the pool may not exist in setup().
        if self.consumer is None:
            store_provider = _sibling(self.container, self.store_attr)
            assert store_provider.pool is not None
            self.consumer = IdempotentConsumer(
                store_provider.pool, store_provider.schema, self.container.service_name,
                self.handlers, self._fetch_feed, store=store_provider.store, versions=self.versions,
                batch_handlers=self.batch_handlers, topics=self.topics,
            )
        return self.consumer

    def _fetch_feed(self, source: str, after: FeedCursor, limit: int) -> list[dict[str, Any]]:
        assert self.feeds is not None
        return self.feeds.call(lambda cluster: getattr(cluster, source).read_feed(after.token, limit))

    def get_dependency(self, worker_ctx: Any) -> IdempotentConsumer:
        return self._build()


class RpcMetrics(DependencyProvider):
    """Times every RPC call the service serves, by method and outcome (the metric fourgates_rpc_seconds)."""

    def __init__(self) -> None:
        self._began: weakref.WeakKeyDictionary[Any, float] = weakref.WeakKeyDictionary()

    def worker_setup(self, worker_ctx: Any) -> None:
        if isinstance(worker_ctx.entrypoint, Rpc):
            self._began[worker_ctx] = time.perf_counter()

    def worker_result(self, worker_ctx: Any, result: Any = None, exc_info: Any = None) -> None:
        began = self._began.pop(worker_ctx, None)
        if began is not None:
            RPC_SECONDS.labels(self.container.service_name, worker_ctx.entrypoint.method_name,
                               "ok" if exc_info is None else "error").observe(time.perf_counter() - began)


def _sibling(container: Any, attr: str) -> Any:
    for provider in container.dependencies:
        if provider.attr_name == attr:
            return provider
    raise LookupError(f"service {container.service_name} has no dependency named {attr!r}")


class FeedEndpoints:
    """Mixin for a service class: the RPC every service exposes so consumers can catch up."""

    store: EventStore

    @rpc
    def read_feed(self, after: str = "", limit: int = 200) -> list[dict[str, Any]]:
        """Up to `limit` committed events after the cursor token, as CloudEvents, in feed order."""
        return cloudevents_after(self.store, FeedCursor.parse(after), min(int(limit), 1000))

    @rpc
    def read_feed_page(self, after: str = "", limit: int = 2000, packed: bool = False) -> str:
        """The bulk form of read_feed, for rebuilds: up to `limit` (at most 5,000) events after the cursor
        token, one CloudEvent per line in feed order; '' at the end of the feed. `packed`: compressed, in
        base64 (`bulkfeed.unpack_page` gives the text back)."""
        text = feed_page(self.store, FeedCursor.parse(after), min(int(limit), MAX_PAGE))
        return pack_page(text) if packed else text

