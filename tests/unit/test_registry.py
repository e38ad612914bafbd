"""Event types: stable names, a schema each, and upcasters that raise old data to the current version."""
from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import ClassVar

import marshmallow
import pytest

from services.backbone.domain import Actor, Event
from services.backbone.envelope import FeedCursor, Metadata, RecordedEvent
from services.backbone.registry import EventRegistry, UnknownEventTypeError


@dataclass(frozen=True)
class TrainingRecorded(Event):
    TYPE: ClassVar[str] = "test.TrainingRecorded"
    course: str
    hours: int
    provider: str


def recorded(data: dict, schema_version: int, type_: str = "test.TrainingRecorded") -> RecordedEvent:
    meta = Metadata(Actor("a", "host_unit"), "cmd", "cor", "test", datetime.now(UTC))
    return RecordedEvent(uuid.uuid4(), "s", 1, type_, schema_version, data, meta, FeedCursor(1, 1, 1))


def registry_at_v2() -> EventRegistry:
    registry = EventRegistry()
    registry.register(TrainingRecorded, version=2)

    @registry.upcaster("test.TrainingRecorded", from_version=1)
    def add_provider(data: dict) -> dict:
        return {**data, "provider": "unknown (recorded before v2)"}

    return registry


def test_an_event_of_an_old_version_is_upcast_on_read() -> None:
    event = registry_at_v2().load(recorded({"course": "党性教育", "hours": 16}, schema_version=1))

    assert event == TrainingRecorded("党性教育", 16, "unknown (recorded before v2)")


def test_an_event_of_the_current_version_is_loaded_as_is() -> None:
    event = registry_at_v2().load(recorded({"course": "c", "hours": 2, "provider": "县委党校"}, schema_version=2))

    assert event.provider == "县委党校"


def test_dump_gives_the_stable_name_the_version_and_plain_json() -> None:
    assert registry_at_v2().dump(TrainingRecorded("c", 2, "p")) == (
        "test.TrainingRecorded", 2, {"course": "c", "hours": 2, "provider": "p"})


def test_an_unknown_type_or_invalid_data_is_refused_clearly() -> None:
    with pytest.raises(UnknownEventTypeError, match="test.Nope"):
        registry_at_v2().load(recorded({}, 1, type_="test.Nope"))
    with pytest.raises(marshmallow.ValidationError):
        registry_at_v2().load(recorded({"course": "c", "hours": "many", "provider": "p"}, 2))


def test_reporting_erases_exactly_what_the_sources_seal() -> None:
    """Reporting keeps a copy of the sources' personal-data declarations (it imports no other service): a type
    sealed at the source but missing here would leave its fields, or its reason, in clear in the timeline
    after the cadre's erasure."""
    from deploy.catalogue import registries
    from services.reporting.projections import PERSONAL, PERSONAL_EARLIER

    declared = {name: registry.get(name).personal for registry in registries().values() for name in registry.names()
                if registry.get(name).subject_field}
    assert PERSONAL == declared
    # and what older versions sealed: a CadreUpdated v1 holds all its changes sealed, a v2 only the personal ones
    earlier = {name: registry.get(name).personal_earlier for registry in registries().values()
               for name in registry.names() if registry.get(name).personal_earlier}
    assert PERSONAL_EARLIER == earlier == {"selection.CadreUpdated": {1: ("changes",)},
                                           "selection.CadreRegistered": {1: ("name",)}}


def test_every_event_about_a_cadre_is_declared_about_its_subject_unless_listed_as_kept_in_clear() -> None:
    """An event type about a cadre that nobody declared would store its command's reason in clear for good."""
    from deploy.catalogue import registries

    kept_in_clear = {"selection.RetentionRequired", "selection.PersonalDataErased", "selection.AssessmentResultRecorded",
                     "posting.NominationRecorded", "posting.CheckInOverdue", "posting.CheckInOverdueCleared",
                     "assessment.PlacementEventNoted"}
    about_a_cadre = {name for registry in registries().values() for name in registry.names()
                     if {"cadre_id", "placement_id", "assessment_id"} & set(registry.get(name).schema.fields)}
    undeclared = {name for registry in registries().values() for name in registry.names()
                  if not registry.get(name).subject_field}
    assert about_a_cadre & undeclared == kept_in_clear


def test_posting_and_assessment_erase_in_their_parked_messages_what_their_sources_seal() -> None:
    """Each copies what its source seals of the types it subscribes to (a service imports no other)."""
    from deploy.catalogue import registries
    from services.assessment.service import PARKED_PERSONAL as ASSESSMENT_PARKS
    from services.posting.service import PARKED_PERSONAL as POSTING_PARKS
    from services.topics import POSTING_ROSTER, SELECTION_APPROVALS

    for copy, topic in ((POSTING_PARKS, SELECTION_APPROVALS), (ASSESSMENT_PARKS, POSTING_ROSTER)):
        source = registries()[topic.source]
        assert copy == {t: source.get(t).personal for t in topic.types if source.get(t).subject_field}
