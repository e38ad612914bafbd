"""How views leave the service: JSON pages, or CSV files of the same rows (codes with their labels)."""
from __future__ import annotations

import csv
import io
import json
from collections.abc import Mapping
from datetime import UTC, date, datetime
from typing import Any

from werkzeug.wrappers import Response

from services.backbone.http import Problem, json_response
from services.reporting.labels import COLUMN_LABELS, labelled, labelled_columns
from services.reporting.queries import Rows

JSON_PAGE, JSON_MAX, CSV_MAX = 100, 1000, 100_000
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")  # what a spreadsheet program runs as a formula (OWASP)


def plain(value: Any) -> Any:
    """A value as JSON shows it: ISO dates and times."""
    if isinstance(value, datetime | date):
        return value.isoformat()
    return value


def shown(rows: Rows, status: dict[str, str] | None = None, tables: dict[str, dict[str, str]] = COLUMN_LABELS) -> Rows:
    """The rows as users see them: codes with their labels, dates as JSON shows them."""
    return Rows(({k: plain(v) for k, v in labelled(dict(row), status, tables).items()} for row in rows),
                labelled_columns(rows.columns, status, tables))


def page_limit(query: Mapping[str, Any]) -> int:
    """Rows to return: CSV exports everything (up to 100 000) unless asked otherwise; JSON pages of 100."""
    limit = query.get("limit")
    if query.get("format") == "csv":
        return int(limit or CSV_MAX)
    if limit is not None and limit > JSON_MAX:
        raise Problem(422, "Invalid request", f"limit: at most {JSON_MAX} rows per JSON page; use format=csv for more",
                      rule="validation", errors={"limit": [f"at most {JSON_MAX}"]})
    return int(limit or JSON_PAGE)


def respond(query: Mapping[str, Any], name: str, items: Rows, **extra: Any) -> Response:
    """JSON `{items, ...extra}` or, with format=csv, the items as `<name>.csv`."""
    as_of = query.get("as_of")
    if query.get("format") == "csv":  # an export as of a moment says which in its name
        return csv_response(f"{name}-as-of-{_moment(as_of)}" if as_of else name, items)
    return json_response({"items": items, **extra, "as_of": as_of.isoformat() if as_of else None})


def _moment(as_of: datetime) -> str:
    """A moment as a file name has it: in UTC, or in its own zone when it lies before UTC's first day (0001-01-01)."""
    try:
        return f"{as_of.astimezone(UTC):%Y%m%dT%H%M%SZ}"
    except OverflowError:
        return f"{as_of:%Y%m%dT%H%M%S%z}"


def csv_response(name: str, items: Rows) -> Response:
    """The rows as `<name>.csv`, headed by the columns their view declares, so that an empty export has its header too."""
    columns = list(items.columns)
    for item in items:
        columns += [k for k in item if k not in columns]
    out = io.StringIO()
    out.write("\ufeff")  # a BOM, so spreadsheet programs read the Chinese labels as UTF-8
    writer = csv.DictWriter(out, fieldnames=columns, extrasaction="ignore")
    writer.writeheader()
    writer.writerows({k: cell(v) for k, v in item.items()} for item in items)
    return Response(out.getvalue(), mimetype="text/csv", headers={
        "Content-Disposition": f'attachment; filename="{name}.csv"'})


def cell(value: Any) -> Any:
    """A value as a CSV cell, written as selection's exports write it: `true`/`false`, text never a formula."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list | tuple):
        return as_text(";".join(str(v) for v in value))
    if isinstance(value, dict):
        return json.dumps(value, ensure_ascii=False)
    return as_text(value) if isinstance(value, str) else value


def as_text(cell: str) -> str:
    """A cell a spreadsheet would run as a formula, quoted so that it shows as the text it is.

    Numbers are left alone: a negative count or difference is a number, not a formula.
    """
    return "'" + cell if cell.startswith(FORMULA_START) else cell
