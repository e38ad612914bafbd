"""The generated docs (event catalogue, OpenAPI) must match the code: regenerate with `python -m deploy.catalogue`."""
from __future__ import annotations

from deploy.catalogue import outputs


def test_generated_docs_are_current() -> None:
    stale = [str(path.name) for path, text in outputs().items() if not path.exists() or path.read_text() != text]
    assert not stale, f"{stale} are stale: run `.venv/bin/python -m deploy.catalogue` and commit the result"
