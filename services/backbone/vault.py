"""Personal data at rest: each person's fields encrypted (AES-GCM) with a key of their own.

The event log stores only ciphertext, and the audit hash covers it; erasing a person deletes their
key (crypto-shredding), so the log and its chain stay whole while the plaintext is gone for good.
Per-person keys are wrapped with the installation's master key (FOURGATES_MASTER_KEY, base64 of 32
bytes), which lives in configuration, never in the database or the code.
"""
from __future__ import annotations

import base64
import json
import os
import time
from typing import Any

import psycopg
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from psycopg import sql
from psycopg_pool import ConnectionPool

import services.backbone.cooperative  # noqa: F401  (psycopg must yield to eventlet before connecting)

MARKER = "__enc__"
KEY_CACHE_SECONDS = 2.0
TEXT_PREFIX = "enc:"
ERASED = "[已删除 erased]"
_DEV_MASTER = base64.b64encode(b"four-gates-development-only-key!").decode()


class MasterKeyMissingError(RuntimeError):
    """No master key configured in production mode."""


def master_key() -> bytes:
    """FOURGATES_MASTER_KEY (base64, 32 bytes); a fixed development key only when FOURGATES_DEV=1 or unset in tests."""
    raw = os.environ.get("FOURGATES_MASTER_KEY")
    if raw is None:
        if os.environ.get("FOURGATES_ENV", "development") != "development":
            raise MasterKeyMissingError("set FOURGATES_MASTER_KEY (base64 of 32 random bytes) to store personal data")
        raw = _DEV_MASTER
    key = base64.b64decode(raw)
    if len(key) != 32:
        raise MasterKeyMissingError("FOURGATES_MASTER_KEY must be base64 of exactly 32 bytes")
    return key


_PLACEHOLDERS: dict[str, Any] = {"str": ERASED, "dict": {}, "list": [], "int": None, "float": None}


def placeholder(value: Any) -> Any:
    """What an erased value of `value`'s kind reads as (a sealed field whose key was destroyed)."""
    return _PLACEHOLDERS.get(type(value).__name__, ERASED)


class Vault:
    """Encrypts and reveals personal fields of one service's events, with keys in its own schema."""

    def __init__(self, pool: ConnectionPool, schema: str) -> None:
        self.pool, self.schema = pool, schema
        self._s = sql.Identifier(schema)
        self._master = AESGCM(master_key())
        # Unwrapped keys (as ready ciphers), briefly: another replica's erasure takes effect here within
        # KEY_CACHE_SECONDS.
        self._cache: dict[str, tuple[AESGCM, float]] = {}
        # Subjects whose erasure began in this process: their keys are never cached again. Until the erasing
        # transaction commits, a concurrent reader (the relay publishing the person's earlier events, say)
        # still finds the key in the table; had it cached it, this process would reveal the erased fields
        # for another KEY_CACHE_SECONDS after the erasure answered.
        self._uncached: set[str] = set()
        s = self._s
        # Composed once: psycopg would otherwise compose (and escape) the identifiers at every execute.
        self._q_key = sql.SQL("SELECT wrapped_key FROM {}.person_keys WHERE subject = %s").format(s).as_string(None)
        self._q_keys = sql.SQL("SELECT subject, wrapped_key FROM {}.person_keys WHERE subject = ANY(%s)"
                               ).format(s).as_string(None)
        self._q_erased = sql.SQL("SELECT 1 FROM {}.erased_subjects WHERE subject = %s").format(s).as_string(None)
        self._q_insert = sql.SQL("INSERT INTO {}.person_keys (subject, wrapped_key) VALUES (%s, %s)"
                                 " ON CONFLICT DO NOTHING").format(s).as_string(None)

    def seal(self, subject: str, data: dict[str, Any], fields: tuple[str, ...],
             conn: psycopg.Connection | None = None) -> dict[str, Any]:
        """`data` with each named field replaced by its ciphertext under the subject's key.

        With `conn` (the command's own), a key not in the cache is read on it -- not on a second pooled
        connection, which a command holding one may have to wait for (every worker doing the same could
        exhaust the pool). A new subject's key is created in a transaction of its own, so the event append
        that follows stays the first write of its transaction.
        """
        present = [f for f in fields if f in data and data[f] not in (None, "")]
        if not present:
            return data
        key = self._key(subject, create=True, conn=conn)
        if key is None:
            raise PersonErasedError(f"the personal data of {subject} was erased: nothing personal may be stored again")
        sealed = dict(data)
        for name in present:
            nonce = os.urandom(12)
            plaintext = json.dumps(data[name], ensure_ascii=False).encode()
            token = base64.b64encode(nonce + key.encrypt(nonce, plaintext, subject.encode())).decode()
            sealed[name] = {MARKER: "aesgcm-v1", "subject": subject, "kind": type(data[name]).__name__, "ct": token}
        return sealed

    def ensure_key(self, subject: str) -> None:
        """Create (or load into the cache) the subject's key now, in a transaction of its own.

        A command calls this before it opens its own transaction when its events may carry the
        subject's first personal data: `seal` then finds the key cached instead of taking a second
        pooled connection while the command holds one (which, with every worker doing the same,
        could exhaust the pool). An erased subject is left alone: `seal` refuses it as before.
        """
        self._key(subject, create=True)

    def seal_text(self, subject: str, text: str | None, conn: psycopg.Connection | None = None) -> str | None:
        """A free-text value (e.g. a command's reason) sealed into a string: `enc:<base64 json box>`."""
        if not text:
            return text
        box = self.seal(subject, {"text": text}, ("text",), conn)["text"]
        return TEXT_PREFIX + base64.b64encode(json.dumps(box).encode()).decode()

    def reveal_text(self, value: str | None, conn: psycopg.Connection | None = None) -> str | None:
        if not value or not value.startswith(TEXT_PREFIX):
            return value
        box = json.loads(base64.b64decode(value[len(TEXT_PREFIX):]))
        return str(self.reveal({"text": box}, conn)["text"])

    def reveal(self, data: dict[str, Any], conn: psycopg.Connection | None = None) -> dict[str, Any]:
        """`data` with every sealed field decrypted, or replaced by a placeholder if its person was erased.

        With `conn`, a key not in the cache is read on that connection (the caller's transaction)
        instead of a second pooled one.
        """
        sealed = {k: v for k, v in data.items() if isinstance(v, dict) and MARKER in v}
        if not sealed:
            return data
        revealed = dict(data)
        for name, box in sealed.items():
            key = self._key(box["subject"], create=False, conn=conn)
            if key is None:
                revealed[name] = _PLACEHOLDERS.get(box.get("kind", "str"), ERASED)
                continue
            raw = base64.b64decode(box["ct"])
            revealed[name] = json.loads(key.decrypt(raw[:12], raw[12:], box["subject"].encode()))
        return revealed

    def prefetch(self, conn: psycopg.Connection, values: list[Any]) -> None:
        """Load, in one query on `conn`, the keys of every subject sealed in `values` (event data dicts or
        sealed reason strings) that the cache lacks: reading a stream then costs one lookup, not one per event."""
        now = time.monotonic()
        wanted = set()
        for value in values:
            for subject in _sealed_subjects(value):
                cached = self._cache.get(subject)
                if cached is None or cached[1] <= now:
                    wanted.add(subject)
        if not wanted:
            return
        rows = conn.execute(self._q_keys, (sorted(wanted),)).fetchall()
        expires = time.monotonic() + KEY_CACHE_SECONDS
        for subject, wrapped in rows:
            self._remember(subject, self._unwrap(subject, bytes(wrapped)), expires)

    def hold_person(self, conn: psycopg.Connection, cadre_id: str) -> None:
        """In a command's transaction, before it writes anything about `cadre_id` (a placement, an assessment):
        PersonErasedError if the cadre's erasure has been applied here; else the cadre is held (a shared lock
        until the transaction ends) so that an erasure applied meanwhile waits for it, then finds what it wrote
        and destroys that key too (`erase_person_everywhere`). Without it, a placement or an assessment begun
        after the erasure -- or committed while it ran -- got a fresh key that no erasure would ever destroy."""
        conn.execute(_Q_HOLD_PERSON, (_person_lock(self.schema, cadre_id),))
        if conn.execute(self._q_erased, (PERSON_SUBJECT + cadre_id,)).fetchone():
            raise PersonErasedError(f"the personal data of cadre {cadre_id} was erased: nothing about them may be"
                                    " recorded again")

    def erase(self, conn: psycopg.Connection, subject: str) -> bool:
        """Destroy the subject's key; True if there was one. Later seals for the subject are refused."""
        self._uncached.add(subject)
        self._cache.pop(subject, None)
        deleted = conn.execute(sql.SQL("DELETE FROM {}.person_keys WHERE subject = %s RETURNING 1").format(self._s),
                               (subject,)).fetchall()
        conn.execute(sql.SQL("INSERT INTO {}.erased_subjects (subject) VALUES (%s) ON CONFLICT DO NOTHING")
                     .format(self._s), (subject,))
        return bool(deleted)

    def _key(self, subject: str, create: bool, conn: psycopg.Connection | None = None) -> AESGCM | None:
        cached = self._cache.get(subject)
        if cached is not None and cached[1] > time.monotonic():
            return cached[0]
        key = None
        if conn is not None:
            row = conn.execute(self._q_key, (subject,)).fetchone()
            key = self._unwrap(subject, bytes(row[0])) if row else None
        if key is None and (conn is None or create):
            key = self._load_key(subject, create)  # a new key is written in a transaction of its own
        if key is not None:
            self._remember(subject, key, time.monotonic() + KEY_CACHE_SECONDS)
        return key

    def _remember(self, subject: str, key: AESGCM, expires: float) -> None:
        if subject not in self._uncached:
            self._cache[subject] = (key, expires)

    def _load_key(self, subject: str, create: bool) -> AESGCM | None:
        with self.pool.connection() as conn, conn.transaction():
            row = conn.execute(self._q_key, (subject,)).fetchone()
            if row is None and create:
                if conn.execute(self._q_erased, (subject,)).fetchone():
                    return None
                key, nonce = AESGCM.generate_key(bit_length=256), os.urandom(12)
                conn.execute(self._q_insert, (subject, nonce + self._master.encrypt(nonce, key, subject.encode())))
                row = conn.execute(self._q_key, (subject,)).fetchone()
        if row is None:
            return None
        return self._unwrap(subject, bytes(row[0]))

    def _unwrap(self, subject: str, wrapped: bytes) -> AESGCM:
        return AESGCM(self._master.decrypt(wrapped[:12], wrapped[12:], subject.encode()))


def _sealed_subjects(value: Any) -> list[str]:
    """The subjects whose keys a stored value needs: boxes in an event's data, or a sealed text."""
    if isinstance(value, str):
        if not value.startswith(TEXT_PREFIX):
            return []
        return _sealed_subjects({"text": json.loads(base64.b64decode(value[len(TEXT_PREFIX):]))})
    if isinstance(value, dict):
        return [v["subject"] for v in value.values() if isinstance(v, dict) and MARKER in v and "subject" in v]
    return []


class PersonErasedError(Exception):
    """A command tried to store personal data of a person whose data was erased."""


ERASURE_EVENT = "selection.PersonalDataErased"


PERSON_SUBJECT = "cadre:"  # in erased_subjects: the cadre's erasure was applied in this service (`hold_person`)
_Q_HOLD_PERSON = "SELECT pg_advisory_xact_lock_shared(hashtext(%s))"
_Q_LOCK_PERSON = "SELECT pg_advisory_xact_lock(hashtext(%s))"


def _person_lock(schema: str, cadre_id: str) -> str:
    return f"person:{schema}:{cadre_id}"


def erase_person_everywhere(store: Any, conn: psycopg.Connection, cadre_id: str, prefix: str,
                            opening_type: str, subject_field: str) -> int:
    """On `selection.PersonalDataErased`: mark the cadre erased here (commands about them are refused from now
    on: `Vault.hold_person`), then destroy the keys of every aggregate this service keeps about the cadre (found
    by the event that opened it, e.g. a placement's `PlacementPlanned`, filtered by PostgreSQL: neither reading
    nor revealing the service's other events). The cadre's lock, taken first, waits for the commands that hold
    the cadre, so the search below sees what they wrote."""
    conn.execute(_Q_LOCK_PERSON, (_person_lock(store.schema, cadre_id),))
    store.vault.erase(conn, PERSON_SUBJECT + cadre_id)
    subjects = store.values_where(prefix, opening_type, subject_field, "cadre_id", cadre_id, conn=conn)
    for subject in subjects:
        store.vault.erase(conn, subject)
    return len(subjects)
