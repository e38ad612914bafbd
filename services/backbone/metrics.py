"""Prometheus metrics every service exports at /<service>/metrics."""
from __future__ import annotations

from prometheus_client import Counter, Histogram

EVENTS_APPENDED = Counter("fourgates_events_appended_total", "Events appended to the log", ["schema"])
EVENTS_PUBLISHED = Counter("fourgates_relay_published_total", "Events the relay published (confirmed)", ["service"])
CONSUMED = Counter("fourgates_consumer_messages_total", "Messages a consumer handled, by outcome",
                   ["consumer", "source", "outcome"])
HTTP_REQUESTS = Histogram("fourgates_http_request_seconds", "HTTP requests by route and status",
                          ["service", "method", "route", "status"])
