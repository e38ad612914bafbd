"""Errors of the event backbone, named for what went wrong."""
from __future__ import annotations


class ConcurrencyConflictError(Exception):
    """Another writer changed the stream since the caller read it; nothing was written."""

    def __init__(self, stream: str, expected: int, actual: int) -> None:
        super().__init__(
            f"stream {stream!r} is at version {actual}, not the expected {expected}: "
            "someone else changed it first; reload and try again"
        )
        self.stream = stream
        self.expected = expected
        self.actual = actual


class IdempotencyMismatchError(Exception):
    """A retried append matches the original only in part."""


class AppendNotFirstWriteError(Exception):
    """The append came after another write in its transaction (it could reorder the feed)."""
