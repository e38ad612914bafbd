"""Bulk CSV import and export of the cadre register, and export of nominations.

Import is all or nothing: every row is checked first (the `CadreIn` schema, duplicates in the file,
then the domain's rules against the current register) and nothing is applied if any row is bad; the
answer names each bad row's line, field and rule. Then every changed cadre is appended in one
transaction (`EventStore.append_streams`). A row identical to the register appends nothing, so
re-importing a file changes nothing.

Export is UTF-8 with a byte-order mark (spreadsheet programs then read the Chinese labels right),
one `<code>_label` column beside each coded column; a cadre export can be imported again as it is
(label and other read-only columns are ignored on import).
"""
from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import date
from typing import Any

from marshmallow import Schema, ValidationError, fields
from werkzeug.wrappers import Response

from services.backbone.commands import Aggregates, CommandMeta, check_retry
from services.backbone.domain import DomainError
from services.backbone.envelope import AlreadyStored, RecordedEvent, deterministic_event_id
from services.backbone.http import Problem
from services.backbone.refusals import invalid_fields
from services.selection import domain as d
from services.selection import handlers as h
from services.selection.domain.cadres import REGISTER_FIELDS
from services.selection.schemas import CadreIn

MAX_ROWS = 2000
CADRE_COLUMNS: tuple[str, ...] = tuple(CadreIn().fields)
# Read-only columns an export adds; an import accepts and ignores them, so an export imports as it is.
CADRE_EXPORT_ONLY: tuple[str, ...] = ("rank_label", "erased")
CADRE_EXPORT_COLUMNS: tuple[str, ...] = (
    "cadre_id", "name", "rank", "rank_label", "home_unit", "birth_date", "grassroots_experience", "fit_for_duty",
    "reserve_cadre", "open_disciplinary_matter", "erased",
)
NOMINATION_EXPORT_COLUMNS: tuple[str, ...] = (
    "nomination_id", "cadre_id", "cadre_rank", "cadre_rank_label", "sending_unit", "placement_type",
    "placement_type_label", "host_unit", "host_post", "post_level", "post_level_label", "posting_mode",
    "posting_mode_label", "status", "status_label", "blocked", "failed_criteria", "failed_criteria_label",
    "eligibility_overridden", "policy_version", "nominated_by", "inspected_by", "decided_by",
)
YES_NO = {"是": "true", "否": "false"}
LOOSE_DATE = re.compile(r"^(\d{4})[/.\-年](\d{1,2})[/.\-月](\d{1,2})日?$")
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


@dataclass(frozen=True)
class RowError:
    """One refusal: the CSV line (1 is the header), the column, a stable rule code and the reason in words."""

    line: int
    field: str
    rule: str
    message: str

    def to_json(self) -> dict[str, Any]:
        return {"line": self.line, "field": self.field, "rule": self.rule, "message": self.message}


@dataclass(frozen=True)
class Row:
    line: int
    cadre: dict[str, Any]  # loaded by CadreIn


# ---- reading -------------------------------------------------------------------------------------

def parse_cadres(text: str) -> list[Row]:
    """Every row of a cadre CSV, validated; `Problem` 422 listing every bad row if any is bad."""
    reader = csv.reader(io.StringIO(text.lstrip("\ufeff"), newline=""))
    try:
        header = [cell.strip() for cell in next(reader, [])]
        errors = _header_errors(header)
        if errors:
            raise _rejected(errors, 0)
        rows: list[Row] = []
        seen: dict[str, int] = {}
        schema, previous = CadreIn(), reader.line_num
        for cells in reader:
            first, previous = previous + 1, reader.line_num  # the line the row starts on (a cell may span lines)
            if not any(cell.strip() for cell in cells):
                continue  # a blank line
            if len(rows) == MAX_ROWS:
                errors.append(RowError(first, "_file", "too_many_rows",
                                       f"at most {MAX_ROWS} rows per import; split the file"))
                break
            row_errors, loaded = _check_row(schema, header, cells, first)
            errors += row_errors
            cadre_id = dict(zip(header, (c.strip() for c in cells), strict=False)).get("cadre_id")
            if cadre_id and seen.setdefault(cadre_id, first) != first:
                errors.append(RowError(first, "cadre_id", "duplicate", f"cadre {cadre_id} is already on line {seen[cadre_id]}"))
            rows.append(Row(first, loaded or {}))
    except csv.Error as exc:
        raise _rejected([RowError(reader.line_num or 1, "_file", "malformed_csv", str(exc))], 0) from None
    if errors:
        raise _rejected(errors, len(rows))
    if not rows:
        raise _rejected([RowError(2, "_file", "no_rows", "the file has a header but no rows")], 0)
    return rows


def _header_errors(header: list[str]) -> list[RowError]:
    if not any(header):
        return [RowError(1, "_header", "missing_header", "the first line must name the columns: "
                         + ", ".join(CADRE_COLUMNS))]
    errors = [RowError(1, name or "_header", "unknown_column",
                       f"unknown column {name!r}; columns are {', '.join(CADRE_COLUMNS + CADRE_EXPORT_ONLY)}")
              for name in header if name not in CADRE_COLUMNS + CADRE_EXPORT_ONLY]
    errors += [RowError(1, name, "duplicate_column", f"column {name!r} appears more than once")
               for i, name in enumerate(header) if name and name in header[:i]]
    # a birth date may be left empty in a row (an update keeps the stored one), but the column is the register's
    required = [name for name, f in CadreIn().fields.items() if f.required or name == "birth_date"]
    errors += [RowError(1, name, "missing_column", f"the required column {name!r} is missing")
               for name in required if name not in header]
    return errors


def _check_row(schema: Schema, header: list[str], cells: list[str], line: int) -> tuple[list[RowError], dict[str, Any] | None]:
    if len(cells) > len(header):
        return [RowError(line, "_row", "extra_cells",
                         f"{len(cells)} cells but the header names {len(header)} columns")], None
    raw = {name: _unescape(cell.strip()) for name, cell in zip(header, cells, strict=False)
           if name in CADRE_COLUMNS and cell.strip() != ""}
    data = {name: _normalise(schema.fields[name], value) for name, value in raw.items()}
    try:
        return [], schema.load(data)
    except ValidationError as exc:
        return [RowError(line, refused["field"], refused["rule"], refused["message"])
                for refused in invalid_fields(schema, data, exc.messages)], None


def _normalise(field: fields.Field[Any], value: str) -> Any:
    """Spreadsheet habits accepted: 是/否, true/false, TRUE/FALSE, yes/no or 1/0 for yes and no (a JSON body
    must say true or false), 1992/5/1 or 1992年5月1日 for 1992-05-01."""
    if isinstance(field, fields.Boolean):
        word = YES_NO.get(value, value)
        return True if word in fields.Boolean.truthy else False if word in fields.Boolean.falsy else value
    if isinstance(field, fields.Date) and (m := LOOSE_DATE.match(value)):
        return f"{m[1]}-{int(m[2]):02d}-{int(m[3]):02d}"
    return value


def _unescape(cell: str) -> str:
    """Undo the export's guard against spreadsheet formulas ('=... -> =...)."""
    return cell[1:] if cell.startswith("'") and cell[1:2] in FORMULA_START else cell


def _rejected(errors: Sequence[RowError], rows: int) -> Problem:
    lines = sorted({e.line for e in errors})
    shown = "; ".join(f"line {e.line} {e.field}: {e.message}" for e in errors[:5])
    more = f" (and {len(errors) - 5} more)" if len(errors) > 5 else ""
    return Problem(422, "CSV rejected", f"{len(lines)} line(s) of the file are invalid, nothing was applied: {shown}{more}",
                   rule="csv_invalid", rows=rows, errors=[e.to_json() for e in errors])


# ---- applying ------------------------------------------------------------------------------------

def import_cadres(agg: Aggregates, meta: CommandMeta, rows: list[Row], reason: str | None) -> dict[str, Any]:
    """Apply validated rows all together, or none of them. Row i's command id is `<command id>:<line>`."""
    metas = {row.line: CommandMeta(replace(meta.context, reason=reason or f"CSV import of {len(rows)} cadres"),
                                   f"{meta.command_id}:{row.line}", meta.correlation_id, meta.source,
                                   request_hash=meta.request_hash)
             for row in rows}
    earlier = agg.store.read_events([deterministic_event_id(m.command_id, 0) for m in metas.values()])
    if earlier:  # a retry with the same Idempotency-Key: the first import's result, nothing appended
        check_retry(earlier[0], meta)
        return _summary(rows, earlier, {}, replayed=True)
    batches, outcomes, errors = [], {}, []
    with agg.store.transaction() as conn:  # one connection for every read; append_streams checks the versions
        for row in rows:
            stream = h.cadre_stream(row.cadre["cadre_id"])
            history = agg.history(stream, conn=conn)
            state = d.fold_cadre(history)
            command = d.RegisterCadre(**row.cadre)
            if state is not None and state.register_fields() == d.incoming_fields(command, state):
                outcomes[row.line] = "unchanged"  # also for an erased cadre exported and imported again
                continue
            try:
                decision = d.decide_register_cadre(state, command, metas[row.line].context)
            except DomainError as exc:
                errors.append(RowError(row.line, exc.details.get("field", "cadre_id"), exc.rule, exc.message))
                continue
            outcomes[row.line] = "registered" if state is None else "updated"
            batches.append((stream, agg.new_events(decision.events, metas[row.line], decision.policy_version, conn=conn),
                            len(history)))
    if errors:
        raise _rejected(errors, len(rows))
    recorded = agg.store.append_streams(batches)
    if isinstance(recorded, AlreadyStored):  # the same key, sent again while this import ran: that one's result
        check_retry(recorded[0], meta)
        return _summary(rows, recorded, {}, replayed=True)
    return _summary(rows, recorded, outcomes, replayed=False)


def _summary(rows: list[Row], events: list[RecordedEvent], outcomes: dict[int, str], replayed: bool) -> dict[str, Any]:
    if replayed:
        by_stream = {e.stream: e.type for e in events}
        for row in rows:
            kind = by_stream.get(h.cadre_stream(row.cadre["cadre_id"]))
            outcomes[row.line] = {"selection.CadreRegistered": "registered",
                                  "selection.CadreUpdated": "updated"}.get(kind or "", "unchanged")
    counts = {k: sum(1 for v in outcomes.values() if v == k) for k in ("registered", "updated", "unchanged")}
    return {
        "rows": len(rows), **counts, "replayed": replayed,
        "results": [{"line": r.line, "cadre_id": r.cadre["cadre_id"], "outcome": outcomes[r.line]} for r in rows],
        "events": [{"id": str(e.event_id), "type": e.type, "stream": e.stream, "version": e.version} for e in events],
    }


# ---- writing -------------------------------------------------------------------------------------

def cadres_csv(cadres: Iterable[d.Cadre]) -> str:
    rows = [{**{k: getattr(c, k) for k in ("cadre_id", *REGISTER_FIELDS)},
             "rank_label": d.RANK_LABELS.get(c.rank, c.rank), "erased": c.erased}
            for c in sorted(cadres, key=lambda c: c.cadre_id)]
    return _csv(CADRE_EXPORT_COLUMNS, rows)


def nominations_csv(nominations: Iterable[d.Nomination]) -> str:
    rows = []
    for n in sorted(nominations, key=lambda n: n.nomination_id):
        failed = n.failed_hard_criteria
        rows.append({
            **{k: getattr(n, k) for k in NOMINATION_EXPORT_COLUMNS if hasattr(n, k)},
            "cadre_rank_label": d.RANK_LABELS.get(n.cadre_rank, n.cadre_rank),
            "placement_type_label": d.PLACEMENT_TYPE_LABELS.get(n.placement_type, n.placement_type),
            "post_level_label": d.RANK_LABELS.get(n.post_level, n.post_level),
            "posting_mode_label": d.POSTING_MODE_LABELS.get(n.posting_mode, n.posting_mode),
            "status_label": d.NOMINATION_STATUS_LABELS.get(n.status, n.status),
            "blocked": n.blocked,
            "failed_criteria": ";".join(failed),
            "failed_criteria_label": ";".join(d.CRITERION_LABELS.get(c, c) for c in failed),
            "eligibility_overridden": n.override_reason is not None,
        })
    return _csv(NOMINATION_EXPORT_COLUMNS, rows)


def _csv(columns: Sequence[str], rows: Iterable[dict[str, Any]]) -> str:
    out = io.StringIO()
    out.write("\ufeff")  # a BOM, so spreadsheet programs read UTF-8 (the Chinese labels) right
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(columns)
    writer.writerows([_cell(row.get(c)) for c in columns] for row in rows)
    return out.getvalue()


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, date):
        return value.isoformat()
    text = str(value)
    # A cell a spreadsheet would run as a formula is shown as text; the import takes the quote off again.
    return "'" + text if text.startswith(FORMULA_START) else text


def csv_response(name: str, text: str) -> Response:
    return Response(text, mimetype="text/csv", headers={"Content-Disposition": f'attachment; filename="{name}.csv"'})
