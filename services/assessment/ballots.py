"""Anonymous democratic evaluation with one-time ballot tokens.

The host unit asks for N tokens for a rater group and hands them out unmarked; only SHA-256 digests
are stored. A rater casts with a token and a grade, unauthenticated: the ballot event carries the
rater group and grade, an anonymous actor and a fresh random command id, and the token's row is
deleted in the same transaction. No event, row, log line or message keeps the token, the caller's
headers or address, or the time a given token was spent. A finalisation closes the ballot: a token not
spent by then is refused (409 ballot_token_void) even after an appeal reopens the assessment.
"""
from __future__ import annotations

import hashlib
import logging
import secrets
import uuid
from typing import Any

from nameko.extensions import DependencyProvider
from psycopg import sql

from services.assessment import domain as d
from services.assessment.handlers import execute_on_assessment
from services.backbone.commands import Aggregates, CommandMeta, CommandResult, utcnow
from services.backbone.domain import Actor, Context, DomainError
from services.backbone.errors import ConcurrencyConflictError

BALLOT_PATH = "/assessment/ballots"
ANONYMOUS_RATER = Actor("anonymous-rater", "anonymous", None)
CAST_ATTEMPTS = 5


class BallotTokenRejectedError(DomainError):
    """The ballot token is unknown or already spent (the message never repeats the token)."""

    status = 403
    title = "Ballot token not accepted"


def digest(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


def issue_tokens(agg: Aggregates, meta: CommandMeta, assessment_id: str,
                 payload: dict[str, Any], if_match: int | None = None) -> tuple[CommandResult, list[str]]:
    """Record how many tokens a group got and store their digests; the tokens are returned once, never again."""
    command = d.IssueBallotTokens(assessment_id, payload["rater_group"], payload["count"])
    tokens = [secrets.token_urlsafe(24) for _ in range(command.count)]
    table = sql.SQL("INSERT INTO {}.ballot_tokens (token_digest, assessment_id, rater_group, issued_entry_id)"
                    " VALUES (%s, %s, %s, %s)")
    with agg.store.transaction() as conn:
        result = execute_on_assessment(agg, assessment_id,
                                       lambda s: d.decide_issue_ballot_tokens(s, command, meta.context), meta, if_match, conn)
        if result.replayed:
            return result, []
        issue = result.events[0].data["entry_id"]  # a finalisation closes the tokens of every issue before it
        with conn.cursor() as cur:
            cur.executemany(table.format(sql.Identifier(agg.store.schema)),
                            [(digest(t), assessment_id, command.rater_group, issue) for t in tokens])
    return result, tokens


def anonymous_meta() -> CommandMeta:
    """Metadata that names no one: nothing the caller sent (Idempotency-Key, correlation id) is kept."""
    command_id = str(uuid.uuid4())
    return CommandMeta(Context(ANONYMOUS_RATER, utcnow(), None), command_id, command_id, "assessment")


def cast(agg: Aggregates, token: str, grade: str) -> CommandResult:
    """Spend a token on one ballot; retried when a host-unit entry lands on the same assessment meanwhile."""
    conflicts = 0
    while True:
        try:
            return _cast_once(agg, digest(token), grade)
        except ConcurrencyConflictError:
            conflicts += 1
            if conflicts == CAST_ATTEMPTS:
                raise


def _cast_once(agg: Aggregates, token_digest: bytes, grade: str) -> CommandResult:
    schema = sql.Identifier(agg.store.schema)
    with agg.store.transaction() as conn:
        # Advisory locks are not writes: the ballot's append stays the first write of the transaction.
        conn.execute("SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))", (token_digest.hex(),))
        row = conn.execute(sql.SQL("SELECT assessment_id, rater_group, issued_entry_id FROM {}.ballot_tokens"
                                   " WHERE token_digest = %s").format(schema), (token_digest,)).fetchone()
        if row is None:
            # Spent tokens leave no trace (not even that they were spent), so a retry cannot be told from a
            # stranger's guess: the answer says what a rater retrying after a lost answer needs to know.
            raise BallotTokenRejectedError("ballot_token_invalid", "this ballot token is unknown or has been used; a"
                                           " token carries one ballot, so if you are retrying after an answer was lost,"
                                           " your first ballot was counted")
        assessment_id, rater_group, issued_entry_id = row
        conn.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (f"assessment:ballots:{assessment_id}",))
        meta = anonymous_meta()
        command = d.CastTokenBallot(assessment_id, rater_group, grade, issued_entry_id)
        result = execute_on_assessment(agg, assessment_id,
                                       lambda s: d.decide_cast_token_ballot(s, command, meta.context), meta, None, conn)
        conn.execute(sql.SQL("DELETE FROM {}.ballot_tokens WHERE token_digest = %s").format(schema), (token_digest,))
        return result


class _DropBallotAccessLines(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return BALLOT_PATH not in record.getMessage()


class BallotLogGuard(DependencyProvider):
    """Keeps the web server's access log (client address and time) from recording who cast a ballot when."""

    def setup(self) -> None:
        # Set up after nameko configured logging, so the filter survives the logging configuration.
        logging.getLogger("nameko.web.server").addFilter(_DropBallotAccessLines())
