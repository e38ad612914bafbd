"""Shared infrastructure for every Four Gates service: event store, relay, consumer, providers.

This package imports no service. Importing it makes psycopg cooperative under eventlet first.
"""
from services.backbone import cooperative as _cooperative

_cooperative.make_psycopg_cooperative()
