"""A nameko timer whose interval is a setting read when the service starts (env or config), not at import."""
from __future__ import annotations

from typing import Any

from nameko.timer import Timer

from services.backbone.config import setting


class ConfiguredTimer(Timer):
    """`@every("CATCH_UP_SECONDS", 10.0)`: runs the method every FOURGATES_CATCH_UP_SECONDS (or config) seconds."""

    def __init__(self, setting_name: str, default: float, **kwargs: Any) -> None:
        self.setting_name, self.default = setting_name, default
        super().__init__(interval=default, **kwargs)

    def setup(self) -> None:
        self.interval = float(setting(self.container.config, self.setting_name, self.default))


every = ConfiguredTimer.decorator
