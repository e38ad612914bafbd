"""An HTTP client for tests, so test bodies read as what a user does."""
from __future__ import annotations

import socket
import uuid
from typing import Any

import requests

from tests.support.contract import check_answer

TOKENS = {
    "od": "dev-od-zhang", "od2": "dev-od-wang", "pc": "dev-pc-chen", "hr": "dev-hr-sync", "auditor": "dev-auditor",
    "finance": "dev-send-finance", "education": "dev-send-education", "qingshui": "dev-host-qingshui",
    "baima": "dev-host-baima", "agency": "dev-agency", "operator": "dev-operator",
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
        response = requests.post(self.base + path, json=body, headers=hdrs, timeout=30)
        check_answer(self.base, "POST", path, response)
        return response

    def get(self, path: str, as_: str = "auditor", **params: Any) -> requests.Response:
        response = requests.get(self.base + path, params=params, headers={"Authorization": f"Bearer {TOKENS[as_]}"},
                                timeout=30)
        check_answer(self.base, "GET", path, response)
        return response


def uid(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def scrape(api: Api, service: str) -> Samples:
    """One replica's /metrics as {(sample name, sorted labels): value}."""
    from prometheus_client.parser import text_string_to_metric_families

    text = requests.get(f"{api.base}/{service}/metrics", timeout=10).text
    return {(sample.name, tuple(sorted(sample.labels.items()))): sample.value
            for family in text_string_to_metric_families(text) for sample in family.samples}


def metric(samples: Samples, name: str, **labels: str) -> float:
    """The sum of the samples named `name` whose labels include `labels` (0 when there is none)."""
    return sum(v for (n, have), v in samples.items() if n == name and set(labels.items()) <= set(have))
