"""Stand-ins for a source service in tests: its event log, relay and feed RPC, and nothing else."""
from __future__ import annotations

from services.backbone.providers import EventStoreProvider, FeedEndpoints, RelayProvider


class FakeAssessment(FeedEndpoints):
    """Publishes whatever a test appends to the `assessment` schema, as the real service's relay would."""

    name = "assessment"
    store = EventStoreProvider()
    relay = RelayProvider()
