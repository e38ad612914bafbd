"""Settings read at run time from the nameko config, with environment variables taking precedence."""
from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

DEFAULT_DB = "host=127.0.0.1 hostaddr=127.0.0.1 port=5432 user=postgres dbname=fourgates"
DEFAULT_AMQP = "amqp://guest:guest@127.0.0.1:5672/"


def database_url(config: Mapping[str, Any] | None = None) -> str:
    """Connection string for PostgreSQL; FOURGATES_DB wins over the config's DATABASE_URL."""
    return os.environ.get("FOURGATES_DB") or (config or {}).get("DATABASE_URL") or DEFAULT_DB


def amqp_uri(config: Mapping[str, Any] | None = None) -> str:
    """Broker address; AMQP_URI in the environment wins over the config."""
    return os.environ.get("AMQP_URI") or (config or {}).get("AMQP_URI") or DEFAULT_AMQP


def setting(config: Mapping[str, Any] | None, name: str, default: Any) -> Any:
    """One named setting: FOURGATES_<NAME> in the environment, else config[NAME], else default."""
    raw = os.environ.get(f"FOURGATES_{name}")
    if raw is None:
        raw = (config or {}).get(name, default)
    if isinstance(default, bool) and isinstance(raw, str):
        return raw.strip().lower() in ("1", "true", "yes", "on")
    return type(default)(raw) if default is not None and raw is not None else raw
