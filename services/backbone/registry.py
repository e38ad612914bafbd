"""Event types: a stable name, a marshmallow schema and a version each; upcasters for old versions."""
from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import marshmallow
import marshmallow_dataclass

from services.backbone.domain import Event
from services.backbone.envelope import RecordedEvent

Upcaster = Callable[[dict[str, Any]], dict[str, Any]]


class UnknownEventTypeError(LookupError):
    """An event type no schema is registered for (e.g. a newer producer than this consumer)."""


@dataclass
class EventType:
    name: str
    cls: type[Event]
    version: int
    schema: marshmallow.Schema
    upcasters: dict[int, Upcaster] = field(default_factory=dict)
    personal: tuple[str, ...] = ()
    subject_field: str | None = None
    # The fields older versions sealed, where they differ from `personal` (stored events keep their version).
    personal_earlier: dict[int, tuple[str, ...]] = field(default_factory=dict)


class EventRegistry:
    """Maps stable type names to their domain class and schema; dumps and loads payloads."""

    def __init__(self, classes: Iterable[type[Event]] = (), version: int = 1) -> None:
        self._types: dict[str, EventType] = {}
        for cls in classes:
            self.register(cls, version)

    def register(self, cls: type[Event], version: int = 1, schema: marshmallow.Schema | None = None) -> None:
        if not cls.TYPE:
            raise ValueError(f"{cls.__name__} has no TYPE")
        schema = schema or marshmallow_dataclass.class_schema(cls)()
        self._types[cls.TYPE] = EventType(cls.TYPE, cls, version, schema)

    def personal(self, cls: type[Event], fields: tuple[str, ...], subject_field: str,
                 earlier: dict[int, tuple[str, ...]] | None = None) -> None:
        """Declare an event type about the person of `data[subject_field]`: its `fields` (may be none) and the
        command's reason (metadata) are stored encrypted under that subject's key, and read as erased after it.
        `earlier`: per older schema version, the fields its events were sealed with, if others."""
        entry = self.get(cls.TYPE)
        entry.personal, entry.subject_field, entry.personal_earlier = fields, subject_field, dict(earlier or {})

    def upcaster(self, type_name: str, from_version: int) -> Callable[[Upcaster], Upcaster]:
        """Decorator: turn data of `from_version` into `from_version + 1`."""

        def register(fn: Upcaster) -> Upcaster:
            self._types[type_name].upcasters[from_version] = fn
            return fn

        return register

    def __contains__(self, type_name: str) -> bool:
        return type_name in self._types

    def names(self) -> list[str]:
        return sorted(self._types)

    def get(self, type_name: str) -> EventType:
        try:
            return self._types[type_name]
        except KeyError:
            raise UnknownEventTypeError(f"no schema registered for event type {type_name!r}") from None

    def dump(self, event: Event) -> tuple[str, int, dict[str, Any]]:
        """(type, schema version, plain JSON data) of a domain event."""
        entry = self.get(event.TYPE)
        return entry.name, entry.version, entry.schema.dump(event)

    def upcast(self, recorded: RecordedEvent) -> RecordedEvent:
        """The recorded event with its data raised to the current schema version."""
        entry = self.get(recorded.type)
        data, version = recorded.data, recorded.schema_version
        while version < entry.version:
            data, version = entry.upcasters[version](data), version + 1
        return recorded.with_data(data, version) if version != recorded.schema_version else recorded

    def load(self, recorded: RecordedEvent) -> Event:
        """The domain event of a recorded one (upcast first); marshmallow.ValidationError if invalid."""
        upcasted = self.upcast(recorded)
        return self.get(recorded.type).schema.load(upcasted.data)  # type: ignore[no-any-return]
