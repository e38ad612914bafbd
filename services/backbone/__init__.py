"""Shared infrastructure for every Four Gates service: event store, relay, consumer, providers.

This package imports no service. `domain` is pure; the modules that touch PostgreSQL import
`cooperative` first so psycopg yields to eventlet before any connection is made.
"""
import os

# Read by psycopg when it is first imported, whichever module imports it first (architecture §3).
os.environ.setdefault("PSYCOPG_WAIT_FUNC", "wait_select")
