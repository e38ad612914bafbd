"""The services type-check cleanly under the project's mypy configuration (pyproject.toml)."""
from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def test_services_pass_mypy() -> None:
    api = pytest.importorskip("mypy.api", reason="mypy is not installed (it is in the dev extra: pip install -e '.[dev]')")
    report, errors, status = api.run([
        "--config-file", str(ROOT / "pyproject.toml"),
        "--cache-dir", str(ROOT / ".mypy_cache"),
        str(ROOT / "services"),
    ])
    assert status == 0, f"mypy services failed:\n{report}{errors}"
