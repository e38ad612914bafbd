"""The ceiling the end-to-end benchmark measures against: a nameko service whose one `@http` endpoint
does no work. Same nameko, eventlet and werkzeug as the real services, no database, no broker.

    WEB_SERVER_ADDRESS=127.0.0.1:8099 .venv/bin/python -m nameko run bench.bare_service --config <yaml>
"""
from __future__ import annotations

from nameko.web.handlers import http


class BareService:
    name = "bare"

    @http("GET", "/bare")
    def bare(self, request: object) -> str:
        return "ok"

    @http("POST", "/bare")
    def bare_post(self, request: object) -> tuple[int, str]:
        return 200, "{}"
