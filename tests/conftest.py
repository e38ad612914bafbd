"""Fixtures shared by every test tier: a test database, a fresh schema per test, event builders."""
from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

import psycopg
import pytest
from psycopg.conninfo import conninfo_to_dict, make_conninfo

import services.backbone.cooperative  # noqa: F401  (psycopg made cooperative before any connection)
from services.backbone.domain import Actor
from services.backbone.envelope import Metadata, NewEvent
from services.backbone.migrations import ensure_database, migrate

TEST_DB = os.environ.get(
    "FOURGATES_TEST_DB", "host=127.0.0.1 hostaddr=127.0.0.1 port=5432 user=postgres dbname=fourgates_test"
)


def sibling_db(suffix: str) -> str:
    """The database of one test module that runs services of its own: the test database's name + `_<suffix>`,
    so a second run on the machine with its own FOURGATES_TEST_DB keeps apart from this one in every module."""
    return make_conninfo(TEST_DB, dbname=f"{conninfo_to_dict(TEST_DB).get('dbname', 'fourgates_test')}_{suffix}")


@pytest.fixture(scope="session")
def db_url() -> str:
    ensure_database(TEST_DB)
    return TEST_DB


@contextmanager
def migrated_schema(db_url: str, service: str = "none") -> Iterator[str]:
    """A fresh schema with the backbone's (and `service`'s own) migrations applied, dropped afterwards."""
    name = f"t_{uuid.uuid4().hex[:12]}"
    migrate(db_url, name, service=service)
    try:
        yield name
    finally:
        with psycopg.connect(db_url, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA IF EXISTS "{name}" CASCADE')


@pytest.fixture
def schema(db_url: str) -> Iterator[str]:
    """A schema of its own for one test, migrated, dropped afterwards."""
    with migrated_schema(db_url) as name:
        yield name


@pytest.fixture
def reporting_schema(db_url: str) -> Iterator[str]:
    """A fresh schema with reporting's migrations (read models), dropped afterwards."""
    with migrated_schema(db_url, service="reporting") as name:
        yield name


def new_event(type_: str = "test.Happened", data: dict[str, Any] | None = None, **meta: Any) -> NewEvent:
    """An event ready to append, with full metadata (a random command)."""
    command_id = meta.pop("command_id", str(uuid.uuid4()))
    return NewEvent(
        event_id=meta.pop("event_id", uuid.uuid4()),
        type=type_,
        schema_version=meta.pop("schema_version", 1),
        data=data if data is not None else {"n": 1},
        metadata=Metadata(
            actor=Actor("alice", "organisation_department", "county-od"),
            command_id=command_id,
            correlation_id=meta.pop("correlation_id", command_id),
            source="test",
            occurred_at=datetime.now(UTC),
            reason=meta.pop("reason", "because the test says so"),
            policy_version=meta.pop("policy_version", None),
        ),
    )
