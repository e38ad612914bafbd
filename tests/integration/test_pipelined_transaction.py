"""The consumer's pipelined transaction: all or nothing, whichever statement fails and wherever the error
surfaces (a read in the block, an exception of the caller's, COMMIT itself); the connection comes back as
the pool lent it."""
from __future__ import annotations

from collections.abc import Iterator

import psycopg
import pytest
from psycopg import pq

from services.backbone.pipelining import in_pipeline, pipelined_transaction


@pytest.fixture
def conn(db_url: str) -> Iterator[psycopg.Connection]:
    with psycopg.connect(db_url) as conn:
        conn.execute("CREATE TEMP TABLE t (k int PRIMARY KEY,"
                     " parent int REFERENCES t (k) DEFERRABLE INITIALLY DEFERRED)")
        conn.commit()
        yield conn


def keys(conn: psycopg.Connection) -> list[int]:
    rows = [k for (k,) in conn.execute("SELECT k FROM t ORDER BY k").fetchall()]
    conn.commit()
    return rows


def lent_as_before(conn: psycopg.Connection) -> bool:
    return (not conn.autocommit and not in_pipeline(conn) and not conn.closed
            and conn.pgconn.transaction_status == pq.TransactionStatus.IDLE)


def test_everything_in_the_block_commits_together(conn: psycopg.Connection) -> None:
    with pipelined_transaction(conn):
        conn.execute("INSERT INTO t (k) VALUES (1)")
        assert in_pipeline(conn)
        assert conn.execute("SELECT count(*) FROM t").fetchone() == (1,)  # a read sees the queued writes
        conn.execute("INSERT INTO t (k) VALUES (2)")
    assert lent_as_before(conn)
    assert keys(conn) == [1, 2]


def test_an_exception_in_the_block_writes_nothing(conn: psycopg.Connection) -> None:
    with pytest.raises(ZeroDivisionError), pipelined_transaction(conn):
        conn.execute("INSERT INTO t (k) VALUES (1)")
        1 / 0  # noqa: B018
    assert lent_as_before(conn)
    assert keys(conn) == []


def test_a_failed_statement_undoes_the_ones_before_it(conn: psycopg.Connection) -> None:
    with pytest.raises(psycopg.errors.UniqueViolation), pipelined_transaction(conn):
        conn.execute("INSERT INTO t (k) VALUES (1)")
        conn.execute("INSERT INTO t (k) VALUES (1)")
        conn.execute("SELECT 1").fetchone()
    assert lent_as_before(conn)
    assert keys(conn) == []


def test_a_failure_at_commit_writes_nothing(conn: psycopg.Connection) -> None:
    with pytest.raises(psycopg.errors.ForeignKeyViolation), pipelined_transaction(conn):
        conn.execute("INSERT INTO t (k) VALUES (1)")
        conn.execute("INSERT INTO t (k, parent) VALUES (2, 99)")  # checked only at COMMIT
    assert lent_as_before(conn)
    assert keys(conn) == []


def test_a_savepoint_inside_undoes_only_its_own_part(conn: psycopg.Connection) -> None:
    with pipelined_transaction(conn):
        conn.execute("INSERT INTO t (k) VALUES (1)")
        with pytest.raises(psycopg.errors.UniqueViolation), conn.transaction():
            conn.execute("INSERT INTO t (k) VALUES (1)")
        conn.execute("INSERT INTO t (k) VALUES (3)")
    assert lent_as_before(conn)
    assert keys(conn) == [1, 3]


def test_it_refuses_a_connection_with_a_transaction_open(conn: psycopg.Connection) -> None:
    conn.execute("INSERT INTO t (k) VALUES (7)")
    with pytest.raises(psycopg.ProgrammingError, match="no transaction open"), pipelined_transaction(conn):
        pass
    conn.rollback()
    assert keys(conn) == []
