"""An HTTP client for tests, so test bodies read as what a user does."""
from __future__ import annotations

import socket
import uuid
from typing import Any

import requests

TOKENS = {
    "od": "dev-od-zhang", "od2": "dev-od-wang", "pc": "dev-pc-chen", "hr": "dev-hr-sync", "auditor": "dev-auditor",
    "finance": "dev-send-finance", "education": "dev-send-education", "qingshui": "dev-host-qingshui",
    "baima": "dev-host-baima", "agency": "dev-agency",
}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Api:
    def __init__(self, base: str) -> None:
        self.base = base.rstrip("/")

    def post(self, path: str, body: Any, as_: str, **headers: str) -> requests.Response:
        hdrs = {"Authorization": f"Bearer {TOKENS[as_]}", **headers}
        return requests.post(self.base + path, json=body, headers=hdrs, timeout=30)

    def get(self, path: str, as_: str = "auditor", **params: Any) -> requests.Response:
        return requests.get(self.base + path, params=params, headers={"Authorization": f"Bearer {TOKENS[as_]}"}, timeout=30)


def uid(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"
