"""Running one command against one aggregate: load, fold, decide, append — once, whatever the retries.

The command id (the HTTP Idempotency-Key, or a fresh id) fixes the ids of the events it causes, so
a retried command finds its own events and returns them instead of deciding again.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from services.backbone.cooperative import pause
from services.backbone.domain import Context, Decision, DomainError, Event
from services.backbone.envelope import AlreadyStored, Metadata, NewEvent, RecordedEvent, deterministic_event_id
from services.backbone.errors import ConcurrencyConflictError, IdempotencyMismatchError
from services.backbone.registry import EventRegistry

MAX_EVENTS_PER_COMMAND = 64
CONFLICT_RETRIES = 2  # decided again after another writer's change, when the caller sent no If-Match


class PreconditionFailedError(Exception):
    """The client's If-Match version is not the aggregate's current version."""

    def __init__(self, stream: str, expected: int, actual: int) -> None:
        super().__init__(f"{stream} is at version {actual}, not {expected} as If-Match says: reload and retry")
        self.stream, self.expected, self.actual = stream, expected, actual


# The forms of the command ids the services give their own commands (a consumed event's, the overdue scan's):
# an Idempotency-Key may not take them (http.py), or a client could claim those commands' event ids in advance.
RESERVED_KEY_PREFIXES = ("consume:", "check-in-overdue:")


@dataclass(frozen=True)
class CommandMeta:
    """Everything about a command that is not its payload: who, why, which request."""

    context: Context
    command_id: str
    correlation_id: str
    source: str
    causation_id: str | None = None
    request_hash: str | None = None

    def metadata(self, policy_version: str | None) -> Metadata:
        return Metadata(
            actor=self.context.actor, command_id=self.command_id, correlation_id=self.correlation_id,
            causation_id=self.causation_id, source=self.source, reason=self.context.reason,
            occurred_at=self.context.now, policy_version=policy_version, request_hash=self.request_hash,
        )


@dataclass(frozen=True)
class CommandResult:
    stream: str
    version: int
    events: list[RecordedEvent]
    replayed: bool = False

    @classmethod
    def appended(cls, stream: str, version: int, recorded: list[RecordedEvent], meta: CommandMeta) -> CommandResult:
        """The result of an append that leaves `stream` at `version`. When its events were already stored — a
        retry that ran alongside the first request — it is that request's result, `replayed`, and only if
        the retry is the same request from the same principal (else IdempotencyMismatchError)."""
        if isinstance(recorded, AlreadyStored):
            check_retry(recorded[0], meta)
            return cls(recorded[-1].stream, recorded[-1].version, list(recorded), replayed=True)
        return cls(stream, version, recorded)

    def to_json(self) -> dict[str, Any]:
        return {
            "stream": self.stream,
            "version": self.version,
            "replayed": self.replayed,
            "events": [{"id": str(e.event_id), "type": e.type, "stream": e.stream, "version": e.version} for e in self.events],
        }


class Aggregates:
    """Loads aggregates from a store through a registry and runs commands on them."""

    def __init__(self, store: Any, registry: EventRegistry) -> None:
        self.store, self.registry = store, registry

    def history(self, stream: str, until: datetime | None = None, conn: Any = None) -> list[Event]:
        return [self.registry.load(e) for e in self.store.read_stream(stream, until=until, conn=conn)]

    def load(self, stream: str, fold: Callable[[list[Event]], Any], conn: Any = None) -> tuple[Any, int]:
        events = self.history(stream, conn=conn)
        return fold(events), len(events)

    def fold_streams(self, streams: Sequence[str], fold: Callable[[list[Event]], Any], until: datetime | None = None,
                     chunk: int = 200) -> dict[str, tuple[int, Any]]:
        """Each named stream -> (its version, its folded state), in the order named (as of `until`, if given):
        a page of a list. `chunk` streams per query; other green threads run between chunks."""
        folded: dict[str, tuple[int, Any]] = {}
        for start in range(0, len(streams), chunk):
            by_stream: dict[str, list[Event]] = {stream: [] for stream in streams[start:start + chunk]}
            for recorded in self.store.read_streams(list(by_stream), until=until):
                by_stream[recorded.stream].append(self.registry.load(recorded))
            folded.update((stream, (len(events), fold(events))) for stream, events in by_stream.items())
            pause()
        return folded

    def previous_result(self, meta: CommandMeta, conn: Any = None) -> CommandResult | None:
        """The result of an earlier run of this command id; IdempotencyMismatchError if that was another request
        or another principal's (a key is no pass: whoever did not send the first request gets no result)."""
        # A command's events are appended in one transaction with ids 0, 1, ... (new_events): its first id
        # is stored if and only if it ran. So one index probe answers every first run (the common case) --
        # probing all MAX_EVENTS_PER_COMMAND ids cost PostgreSQL ~0.4 ms per command -- and only a retry reads the rest.
        first = self.store.read_events([deterministic_event_id(meta.command_id, 0)], conn=conn)
        if not first:
            return None
        check_retry(first[0], meta)
        found = self.store.read_events(
            [deterministic_event_id(meta.command_id, i) for i in range(MAX_EVENTS_PER_COMMAND)], conn=conn)
        last = found[-1]
        return CommandResult(last.stream, last.version, found, replayed=True)

    def execute(
        self, stream: str, fold: Callable[[list[Event]], Any], decide: Callable[[Any], Decision],
        meta: CommandMeta, if_match: int | None = None, conn: Any = None,
    ) -> CommandResult:
        """Decide on the current state and append the decision's events at the version read."""
        def current() -> tuple[int, Any]:
            state, version = self.load(stream, fold, conn=conn)
            return version, state

        return self.decide_on(stream, current, decide, meta, if_match, conn=conn)

    def decide_on(self, stream: str, current: Callable[[], tuple[int, Any]], decide: Callable[[Any], Decision],
                  meta: CommandMeta, if_match: int | None = None, conn: Any = None) -> CommandResult:
        """`execute` with the stream's (version, state) from `current` (a service's fold cache, say)."""
        def attempt() -> CommandResult:
            version, state = current()
            if if_match is not None and if_match != version:
                raise PreconditionFailedError(stream, if_match, version)
            decision = decide(state)
            recorded = self.append(stream, decision.events, version, meta, decision.policy_version, conn=conn)
            return CommandResult.appended(stream, version + len(recorded), recorded, meta)

        return self.run_once(meta, if_match, attempt, conn=conn)

    def run_once(self, meta: CommandMeta, if_match: int | None, attempt: Callable[[], CommandResult],
                 conn: Any = None) -> CommandResult:
        """Run `attempt` (load, decide, append) unless this command ran before, whose result is then answered.

        A retry sent while the first request was still running may be refused (a step already taken, a
        stream changed under it) because the first was recorded meanwhile: it answers the first's result,
        `replayed`, instead. Without If-Match, another writer's change between the load and the append (the
        overdue scan, another check-in) is not the caller's concern: the command is decided again on the
        new state, at most CONFLICT_RETRIES times, so nothing is decided on a stale state; with If-Match the
        caller named the version it decided on, and a conflict is theirs to see.
        """
        previous = self.previous_result(meta, conn=conn)
        if previous is not None:
            return previous
        for tries_left in range(CONFLICT_RETRIES, -1, -1):
            try:
                return attempt()
            except ConcurrencyConflictError:
                if (previous := self.previous_result(meta, conn=conn)) is not None:
                    return previous
                if if_match is not None or not tries_left:
                    raise
            except (DomainError, PreconditionFailedError):
                if (previous := self.previous_result(meta, conn=conn)) is not None:
                    return previous
                raise
        raise AssertionError("unreachable: the last try returns or raises")

    def append(
        self, stream: str, events: Sequence[Event], expected: int | None, meta: CommandMeta,
        policy_version: str | None = None, conn: Any = None,
    ) -> list[RecordedEvent]:
        new = self.new_events(events, meta, policy_version, conn=conn)
        return self.store.append(stream, new, expected_version=expected, conn=conn)  # type: ignore[no-any-return]

    def new_events(
        self, events: Sequence[Event], meta: CommandMeta, policy_version: str | None = None, conn: Any = None
    ) -> list[NewEvent]:
        """The command's events with their ids: 0, 1, ... in order (previous_result relies on the first). `conn`:
        the command's transaction, on which the keys of personal fields are read."""
        metadata = meta.metadata(policy_version)
        new = []
        vault = self.store.vault
        for i, event in enumerate(events):
            type_, version, data = self.registry.dump(event)
            entry = self.registry.get(type_)
            event_meta = metadata
            if entry.subject_field and vault is not None:
                subject = str(data[entry.subject_field])
                data = vault.seal(subject, data, entry.personal, conn)
                # The command's reason speaks of the person too (health, family, discipline): sealed with the same
                # key, also for a type with no personal field of its own.
                event_meta = replace(metadata, reason=vault.seal_text(subject, metadata.reason, conn))
            new.append(NewEvent(deterministic_event_id(meta.command_id, i), type_, version, data, event_meta))
        return new


def check_retry(first: RecordedEvent, meta: CommandMeta) -> None:
    """`first`, an event of an earlier run of this command's key, was caused by this very request, sent by this
    principal; else IdempotencyMismatchError (a key is no pass: whoever did not send the first request gets no
    result)."""
    recorded = first.metadata.request_hash
    if (meta.request_hash and recorded and recorded != meta.request_hash) or (
            first.metadata.actor.principal != meta.context.actor.principal):
        raise IdempotencyMismatchError(
            f"Idempotency-Key {meta.command_id!r} was already used for a different request; use a new key")


def utcnow() -> datetime:
    return datetime.now(UTC)
