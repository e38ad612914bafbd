"""The backbone's tests through real service processes: `env` (a database and a throw-away vhost for the two
tiny services of backbone_app.py) and `start` (one of them as a `nameko run` process)."""
from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from tests.support.processes import ServiceProcess, throwaway_vhost

APP = "tests.integration.backbone_app"


@pytest.fixture
def env(db_url: str, tmp_path: Path) -> Iterator[dict[str, str]]:
    with psycopg.connect(db_url, autocommit=True) as conn:
        conn.execute("DROP SCHEMA IF EXISTS ledger CASCADE; DROP SCHEMA IF EXISTS tally CASCADE;"
                     " DROP SCHEMA IF EXISTS sieve CASCADE")
        for consumer in ("tally", "sieve"):
            conn.execute(f"CREATE SCHEMA {consumer}; CREATE TABLE {consumer}.applied (event_id uuid, stream text, version int)")
    with throwaway_vhost() as amqp_uri:
        yield {"AMQP_URI": amqp_uri, "FOURGATES_DB": db_url, "LOG_DIR": str(tmp_path)}


def start(env: dict[str, str], service: str) -> ServiceProcess:
    return ServiceProcess(f"{APP}:{service.capitalize()}", service, env, Path(env["LOG_DIR"])).start()


