"""The dashboard's files, served as they are (no build step): an HTML page, its script and its styles."""
from __future__ import annotations

from pathlib import Path

from werkzeug.wrappers import Response

HERE = Path(__file__).parent
TYPES = {".html": "text/html", ".js": "text/javascript", ".css": "text/css", ".svg": "image/svg+xml"}


def asset(name: str) -> Response:
    """One file of this folder by its plain name; anything else is 404."""
    path = HERE / name
    if "/" in name or name.startswith((".", "_")) or path.suffix not in TYPES or not path.is_file():
        return Response("not found", status=404, mimetype="text/plain")
    return Response(path.read_bytes(), mimetype=TYPES[path.suffix], headers={"Cache-Control": "no-cache"})
