"""Shared infrastructure for every Four Gates service: event store, relay, consumer, providers.

This package imports no service. `domain` is pure; the modules that touch PostgreSQL import
`cooperative` first so psycopg yields to eventlet before any connection is made.
"""
