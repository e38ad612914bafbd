"""Exported chain heads: where each service's heads are written outside the database, and the identity of
the database that sealed them (see services.backbone.audit)."""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import psycopg


@dataclass(frozen=True)
class ChainHead:
    service: str
    audit_no: int
    hash: str
    exported_at: str
    database: str | None = None  # the sealing database's identity; None: exported before identities were recorded

    def to_json(self) -> str:
        return json.dumps(self.__dict__)


def database_identity(conn: psycopg.Connection) -> str:
    """Which database this is beyond its name: `<cluster's system identifier>-<database oid>`. Dropped and created
    again, or restored into another cluster, it is another; a physical replica (or a promoted one) is the same."""
    row = conn.execute("SELECT (SELECT system_identifier FROM pg_control_system()), oid FROM pg_database"
                       " WHERE datname = current_database()").fetchone()
    assert row is not None
    return f"{row[0]}-{row[1]}"


def heads_path(head_dir: Path, conninfo: str, service: str, identity: str | None = None) -> Path:
    """Where a service's heads are exported: one folder per database name, so installations never mix, and in
    it one folder per database identity (without `identity`: the file of heads exported before identities were
    recorded, beside those folders)."""
    database = psycopg.conninfo.conninfo_to_dict(conninfo).get("dbname") or "postgres"
    folder = head_dir / str(database)
    return (folder / identity if identity else folder) / f"{service}.heads.jsonl"


def read_heads(path: Path) -> list[ChainHead]:
    """A service's exported heads under one database name, oldest first: the file at `path` (as `heads_path`
    gives it without an identity) and that of every database identity beside it; none if there are none."""
    files = [path, *sorted(path.parent.glob(f"*/{path.name}"))]
    heads = [ChainHead(**json.loads(line)) for file in files if file.is_file()
             for line in file.read_text().splitlines() if line.strip()]
    return sorted(heads, key=lambda head: head.exported_at)
