"""Transactions in psycopg's pipeline mode: BEGIN, the statements and COMMIT in as few round trips as possible.

The consumer applies a small batch of events this way, and the read models write their rows as statements of
the same pipeline (`in_pipeline` tells them COPY is not available there).
"""
from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager, suppress

import psycopg
from psycopg import pq


@contextmanager
def pipelined_transaction(conn: psycopg.Connection) -> Iterator[psycopg.Connection]:
    """One transaction in pipeline mode whose BEGIN travels with the first statement and COMMIT with the last.

    psycopg's own `transaction()` spends a round trip on BEGIN and another on COMMIT (one more each in
    pipeline mode, where it syncs around them). Here they are statements of the pipeline: a statement's
    result is read when the caller asks for it (one round trip for everything queued before), and what is
    left is sent with COMMIT when the block ends. An error (in the block, or raised by the database at a
    read or at COMMIT) rolls everything back. COPY cannot run in pipeline mode: `in_pipeline` tells callers.
    """
    if conn.pgconn.transaction_status != pq.TransactionStatus.IDLE:
        raise psycopg.ProgrammingError("pipelined_transaction needs a connection with no transaction open")
    conn.autocommit = True  # psycopg must not open a transaction of its own (with a sync) before ours
    try:
        try:
            with conn.pipeline():
                conn.execute("BEGIN")
                yield conn
                conn.execute("COMMIT")
        except BaseException:
            with suppress(psycopg.Error):
                conn.rollback()
            raise
    finally:
        if conn.pgconn.transaction_status == pq.TransactionStatus.IDLE:
            conn.autocommit = False
        else:
            conn.close()  # broken or stuck: the pool discards a closed connection rather than reuse it


def in_pipeline(conn: psycopg.Connection) -> bool:
    return bool(conn.pgconn.pipeline_status != pq.PipelineStatus.OFF)
