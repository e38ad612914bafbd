"""One standalone RPC proxy kept open and reused, for the queries a service makes outside a worker.

A `ClusterRpcProxy` opened per call costs an AMQP connection and leaves a reply queue behind for five
minutes (nameko's reply queues expire, they are not deleted): a service catching up every ten seconds
left some 200 `rpc.reply-standalone_rpc_proxy-*` queues on an idle broker. This keeps one proxy per
caller instead, serialised by a lock (a standalone proxy is not safe for concurrent green threads).
"""
from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any, TypeVar

from nameko.exceptions import RemoteError, RpcTimeout
from nameko.standalone.rpc import ClusterRpcProxy

log = logging.getLogger(__name__)
T = TypeVar("T")


class ReusedRpc:
    """Runs `call(cluster)` over a proxy opened on first use and kept; a broken one is replaced.

    Only for queries (reading a feed, asking a rank): after a lost connection the call is made once
    more over a new one, which must be safe to repeat. A service's own error (`RemoteError`) or a
    timeout is the caller's answer and leaves the connection as it is, except that a timed-out proxy
    is replaced too (a late reply must not be taken for the next call's).
    """

    def __init__(self, config: dict[str, Any], timeout: float) -> None:
        self.config, self.timeout = config, timeout
        self._lock = threading.Lock()  # green under eventlet's monkey patching
        self._proxy: ClusterRpcProxy | None = None
        self._cluster: Any = None
        self.opened = 0

    def call(self, query: Callable[[Any], T]) -> T:
        with self._lock:
            try:
                return query(self._open())
            except RemoteError:
                raise
            except RpcTimeout:
                self._discard()
                raise
            except Exception as exc:  # noqa: BLE001  (a lost connection: one more try over a new one)
                log.info("RPC connection lost (%s); reconnecting", exc)
                self._discard()
                return query(self._open())

    def close(self) -> None:
        with self._lock:
            self._discard()

    def _open(self) -> Any:
        if self._cluster is None:
            self._proxy = ClusterRpcProxy(self.config, timeout=self.timeout)
            self._cluster = self._proxy.start()
            self.opened += 1
        return self._cluster

    def _discard(self) -> None:
        proxy, self._proxy, self._cluster = self._proxy, None, None
        if proxy is not None:
            try:
                proxy.stop()
            except Exception as exc:  # noqa: BLE001  (already broken: nothing left to close)
                log.debug("closing a broken RPC proxy: %s", exc)
