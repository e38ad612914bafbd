"""Who is calling: bearer tokens issued by operators, each naming a principal, a role and a unit."""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import yaml

from services.backbone.domain import ROLES, Actor

DEFAULT_TOKENS = Path(__file__).resolve().parents[2] / "deploy" / "tokens.dev.yaml"


class AuthenticationError(Exception):
    """No usable credentials: the request says who it is not, or with a token nobody issued."""


def load_tokens(path: str | Path | None = None) -> dict[str, Actor]:
    """Token → principal, from FOURGATES_TOKENS_FILE (or the development file)."""
    source = Path(path or os.environ.get("FOURGATES_TOKENS_FILE") or DEFAULT_TOKENS)
    raw: dict[str, Any] = yaml.safe_load(source.read_text()) or {}
    tokens = {}
    for token, who in raw.items():
        if who["role"] not in ROLES:
            raise ValueError(f"token for {who['principal']} has unknown role {who['role']!r}; roles are {ROLES}")
        tokens[str(token)] = Actor(str(who["principal"]), str(who["role"]), who.get("unit"))
    return tokens


def authenticate(header: str | None, tokens: dict[str, Actor]) -> Actor:
    """The principal of an `Authorization: Bearer <token>` header, or AuthenticationError saying what is missing."""
    if not header:
        raise AuthenticationError("authentication required: send the header 'Authorization: Bearer <token>'")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise AuthenticationError("the Authorization header must be 'Bearer <token>'")
    actor = tokens.get(token.strip())
    if actor is None:
        raise AuthenticationError("the bearer token is not one this installation issued")
    return actor
