"""The ceilings the end-to-end benchmark measures against: a nameko service whose `@http` endpoint does no
work (`/bare`), and a minimal command that only inserts one event (`POST /bare/events`: one INSERT in
autocommit through a psycopg pool, as cooperative as the services' own; no validation, no stream, no
relay). Same nameko, eventlet and werkzeug as the real services.

    WEB_SERVER_ADDRESS=127.0.0.1:8099 BARE_DB=postgresql://... .venv/bin/python -m nameko run bench.bare_service --config <yaml>
"""
from __future__ import annotations

import json
import os
import uuid
from typing import Any

from nameko.web.handlers import http

import services.backbone.cooperative  # noqa: F401  (psycopg yields to eventlet, as in the services: first)

TABLE = "public.bare_events"  # created by bench/e2e.py (BARE_TABLE)
_pool: Any = None


def pool() -> Any:
    global _pool
    if _pool is None:
        from psycopg_pool import ConnectionPool  # after services.backbone.cooperative has set psycopg's wait

        _pool = ConnectionPool(os.environ["BARE_DB"], min_size=10, max_size=10, kwargs={"autocommit": True})
    return _pool


class BareService:
    name = "bare"

    @http("GET", "/bare")
    def bare(self, request: object) -> str:
        return "ok"

    @http("POST", "/bare")
    def bare_post(self, request: object) -> tuple[int, str]:
        return 200, "{}"

    @http("POST", "/bare/events")
    def insert_one_event(self, request: object) -> tuple[int, str]:
        event_id = str(uuid.uuid4())
        with pool().connection() as conn:
            conn.execute(f"INSERT INTO {TABLE} (event_id, type, data) VALUES (%s, 'bare.Happened', %s::jsonb)",
                         (event_id, request.get_data(as_text=True)))  # type: ignore[attr-defined]
        return 201, json.dumps({"event_id": event_id})
