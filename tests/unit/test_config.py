"""Settings: the environment wins over the nameko config, and values keep the type of their default."""
from __future__ import annotations

import pytest

from services.backbone.config import setting


@pytest.mark.parametrize("raw, expected", [("false", False), ("0", False), ("no", False), ("true", True), ("1", True)])
def test_boolean_settings_from_the_environment(monkeypatch: pytest.MonkeyPatch, raw: str, expected: bool) -> None:
    monkeypatch.setenv("FOURGATES_MIGRATE_ON_START", raw)
    assert setting({"MIGRATE_ON_START": True}, "MIGRATE_ON_START", True) is expected


def test_config_values_from_yaml_substitution_are_typed_like_the_default() -> None:
    assert setting({"DB_POOL_SIZE": "7", "MIGRATE_ON_START": "false"}, "DB_POOL_SIZE", 10) == 7
    assert setting({"MIGRATE_ON_START": "false"}, "MIGRATE_ON_START", True) is False
    assert setting({}, "RELAY_POLL_SECONDS", 0.2) == 0.2
