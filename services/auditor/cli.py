"""`python -m services.auditor <command>`: the auditors' one program.

  verify                 recompute every service's audit chain (or --service one)
  history                everything that happened to a cadre (--cadre) or under a correlation id
  export                 the events of a period as CloudEvents JSON lines or CSV
  replay --as-of <time>  rebuild the read models into a scratch schema from the events recorded by then
                         (--into <schema>: a new or empty one; --replace: an earlier replay's)

history, export and replay show personal fields as the services show them (revealed with the master key;
erased persons as the erasure placeholder); verify checks the stored ciphertext and needs no key.
"""
from __future__ import annotations

import sys
from datetime import datetime
from pathlib import Path
from typing import Any

import click
import psycopg
from rich.console import Console
from rich.panel import Panel
from rich.progress import Progress
from rich.table import Table

from services.auditor import logs
from services.backbone.audit import EarlierDatabase, VerifyResult, heads_path, read_heads, verify_absent, verify_chain
from services.backbone.config import database_url, setting
from services.backbone.providers import DEFAULT_HEAD_DIR
from services.backbone.vault import MasterKeyMissingError

UNCUT = 100_000  # columns: more than any line holds, so rich cuts nothing; tables stay as wide as their cells


def standard_output() -> Console:
    """Rich's console on standard output: as wide as the terminal, or, written to a file or a pipe, uncut (rich
    would otherwise fit every table into 80 columns there and shorten its cells: "CadreRegi…")."""
    probe = Console()
    return probe if probe.is_terminal else Console(width=UNCUT)


console = standard_output()


class AuditorGroup(click.Group):
    """Turns what the auditor can put right (no master key, no database) into one line and exit status 1."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except MasterKeyMissingError as error:
            raise click.ClickException(f"{error}; history, export and replay reveal personal fields with it"
                                       " (verify needs no key)") from error
        except psycopg.OperationalError as error:
            first_line = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
            raise click.ClickException(f"the database did not answer ({first_line}): check --db or FOURGATES_DB"
                                       " and that PostgreSQL is running") from error


class Moment(click.ParamType[datetime]):
    """A moment in ISO 8601, as the dashboard's as-of links and the API give it (2026-11-28T09:53:49.126251Z,
    2026-11-28T17:53:49+08:00), or a date and time without a zone (read in local time), or a date alone."""

    name = "moment"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> datetime:
        if isinstance(value, datetime):
            return value
        try:
            return datetime.fromisoformat(str(value).strip())
        except ValueError:
            self.fail(f"{value!r} is not a moment: give an ISO 8601 date and time, e.g. 2026-11-28T09:53:49Z,"
                      " 2026-11-28T17:53:49+08:00 or 2026-11-28 17:53 (local time)", param, ctx)


MOMENT = Moment()


@click.group(cls=AuditorGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--db", envvar="FOURGATES_DB", default=None, help="libpq connection string (default: FOURGATES_DB or local)")
@click.pass_context
def main(ctx: click.Context, db: str | None) -> None:
    """Four Gates audit tool: prove nothing was altered, trace any cadre, export the record.

    Reads the services' event logs read-only; it never writes to them. Only replay writes, and only into a
    scratch schema of its own.
    """
    ctx.obj = db or database_url()


def exported_heads() -> Path:
    """Where the services export their chain heads: FOURGATES_CHAIN_HEAD_DIR, as they read it, else var/chain-heads."""
    return Path(str(setting(None, "CHAIN_HEAD_DIR", str(DEFAULT_HEAD_DIR))))


@main.command()
@click.option("--service", type=click.Choice(logs.SERVICES), default=None, help="verify one service only")
@click.option("--heads", "head_dir", type=click.Path(path_type=Path), default=exported_heads,
              show_default="FOURGATES_CHAIN_HEAD_DIR, else var/chain-heads",
              help="folder of exported chain heads (catches removal of the newest events)")
@click.option("--strict", is_flag=True,
              help="fail (exit 1) also when an earlier database of this name exported heads this chain does not continue")
@click.pass_obj
def verify(conninfo: str, service: str | None, head_dir: Path, strict: bool) -> None:
    """Recompute each audit chain; report OK or the first audit number that was changed, inserted or removed."""
    failed, earlier = False, []
    table = Table("service", "events checked", "result")
    with logs.stores(conninfo, service) as stores, Progress(console=console, transient=True) as progress:
        results: list[tuple[str, VerifyResult]] = []
        for name, store in stores.items():
            task = progress.add_task(f"verifying {name}", total=None)
            results.append((name, verify_chain(store, read_heads(heads_path(head_dir, conninfo, name)),
                                               progress=lambda n, t=task: progress.advance(t, n))))
        results += _absent_logs(conninfo, head_dir, [s for s in ([service] if service else logs.SERVICES) if s not in stores])
        for name, result in results:
            departed = [e for e in result.earlier if e.departure]
            failed |= not result.ok or (strict and bool(departed))
            earlier += [(name, e) for e in result.earlier]
            verdict = "[green]OK[/]" if result.ok else (
                f"[red]{(result.kind or 'failed').upper()} at audit no {result.audit_no}[/]: {result.detail}")
            table.add_row(name, str(result.checked), verdict + (" [bold yellow](see the notice below)[/]" if departed else ""))
    console.print(table)
    _report_earlier_databases(earlier, head_dir, conninfo)
    sys.exit(1 if failed else 0)


def _absent_logs(conninfo: str, head_dir: Path, names: list[str]) -> list[tuple[str, VerifyResult]]:
    """The services without an event log here that exported chain heads: their log was removed (or, heads of an
    earlier database only, is not there yet)."""
    exported = {name: read_heads(heads_path(head_dir, conninfo, name)) for name in names}
    if not any(exported.values()):
        return []
    with psycopg.connect(conninfo) as conn:
        return [(name, verify_absent(conn, name, heads)) for name, heads in exported.items() if heads]


def _report_earlier_databases(earlier: list[tuple[str, EarlierDatabase]], head_dir: Path, conninfo: str) -> None:
    """Heads of another database of this name: a line if this chain continues them (a restored copy), else a
    notice an auditor cannot miss, since dropping and recreating the database also hides tampering from them."""
    for name, e in earlier:
        if not e.departure:
            console.print(f"[dim]{name}: continues the chain of an earlier database of this name"
                          f" ({e.identity or 'its identity not recorded'}):"
                          f" its {e.heads} heads agree (a restored or moved copy)[/]")
    departed = [(name, e) for name, e in earlier if e.departure]
    if not departed:
        return
    lines = [f"{name}: {e.heads} head(s) that an earlier database of this name ({e.identity or 'its identity not recorded'})"
             f" exported up to {e.last_exported_at} were not compared, because this chain departs from them:"
             f" {e.departure}. The database was recreated after {e.last_exported_at}"
             + (f" and before {e.recreated_before}." if e.recreated_before else ".") for name, e in departed]
    folders = sorted({str(_heads_of(head_dir, conninfo, name, e.identity)) for name, e in departed})
    lines += ["", "Expected only after a planned reset, rebuild or restore of the database. Otherwise escalate: dropping"
              " and recreating a database also hides altered or removed events from the heads it exported. Once the"
              f" recreation is explained and recorded, archive (do not delete) {' and '.join(folders)}: see 'Recreating"
              " or restoring the database' in docs/runbook.md."]
    database = psycopg.conninfo.conninfo_to_dict(conninfo).get("dbname") or "postgres"
    console.print(Panel("\n".join(lines), title=f"[bold]NOTICE: database {database} was dropped and created again[/]",
                        border_style="bold yellow", title_align="left", expand=False))


def _heads_of(head_dir: Path, conninfo: str, service: str, identity: str | None) -> Path:
    """What to archive: an earlier database's folder, or the service's file of heads without an identity."""
    path = heads_path(head_dir, conninfo, service, identity)
    return path.parent if identity else path


@main.command()
@click.option("--cadre", "cadre_id", default=None, help="a cadre id")
@click.option("--correlation", "correlation_id", default=None, help="a correlation, command or causation id")
@click.pass_obj
def history(conninfo: str, cadre_id: str | None, correlation_id: str | None) -> None:
    """Everything that happened to one cadre, or under one correlation id, across all services, in order."""
    if not (cadre_id or correlation_id):
        raise click.UsageError("give --cadre or --correlation")
    with logs.stores(conninfo, reveal=True) as stores:
        events = logs.cadre_history(stores, cadre_id) if cadre_id else logs.correlation_history(stores, correlation_id or "")
    table = Table("recorded at", "service", "event", "actor", "reason", "policy")
    for service, e in events:
        actor = e.metadata.actor
        table.add_row(e.recorded_at.strftime("%Y-%m-%d %H:%M:%S"), service, e.type.split(".", 1)[1],
                      f"{actor.principal} ({actor.role})", e.metadata.reason or "", e.metadata.policy_version or "")
    console.print(table)
    console.print(f"{len(events)} events")


@main.command()
@click.option("--since", type=MOMENT, default=None)
@click.option("--until", type=MOMENT, default=None)
@click.option("--format", "fmt", type=click.Choice(["jsonl", "csv"]), default="jsonl", show_default=True)
@click.option("--service", type=click.Choice(logs.SERVICES), default=None)
@click.pass_obj
def export(conninfo: str, since: datetime | None, until: datetime | None, fmt: str, service: str | None) -> None:
    """The events of a period (all services, or one) as CloudEvents JSON lines or CSV, on standard output,
    personal fields shown as the services show them."""
    since, until = (_aware(since), _aware(until))
    with logs.stores(conninfo, service, reveal=True) as stores:
        events = [(name, e) for name, store in stores.items()
                  for e in logs.revealed(store, list(logs.all_events(store, until, since)))]
    for line in logs.export_lines(sorted(events, key=lambda p: p[1].recorded_at), fmt):
        click.echo(line)


def _aware(moment: datetime | None) -> datetime | None:
    """A moment without a zone is read in this machine's local time."""
    return moment.astimezone() if moment is not None and moment.tzinfo is None else moment


@main.command()
@click.option("--as-of", "as_of", type=MOMENT, required=True, help="the moment to replay up to")
@click.option("--into", "target", default=None,
              help="scratch schema to create (default: replay_<as-of>); never a service's, never one a replay did not create")
@click.option("--replace", is_flag=True, help="drop and rebuild --into if an earlier replay created it")
@click.option("--export", "export_dir", type=click.Path(path_type=Path), default=None,
              help="also write every read-model table of the replay (all row versions) as CSV into this folder")
@click.pass_obj
def replay(conninfo: str, as_of: datetime, target: str | None, replace: bool, export_dir: Path | None) -> None:
    """Rebuild the read models into a scratch schema from the events recorded up to --as-of, and count their records."""
    from services.auditor import replay as replaying

    moment = _aware(as_of)
    assert moment is not None
    target = target or f"replay_{moment.strftime('%Y%m%d_%H%M%S')}"
    with logs.stores(conninfo, reveal=True) as stores:
        try:
            replaying.prepare_target(conninfo, target, replace)
        except replaying.ReplayTargetError as error:
            raise click.ClickException(str(error)) from error
        except psycopg.errors.InsufficientPrivilege as error:
            raise click.ClickException(f"this database user may not create schema {target}: ask for an empty schema"
                                       " to replay into and name it with --into") from error
        with Progress(console=console, transient=True) as progress:
            tasks: dict[str, Any] = {}

            def advance(source: str, count: int) -> None:
                tasks.setdefault(source, progress.add_task(f"replaying {source}", total=None))
                progress.advance(tasks[source], count)

            applied = replaying.replay(conninfo, stores, moment, target, advance)
    table = Table("read model", "records")
    for name, records in replaying.record_counts(conninfo, target, moment).items():
        table.add_row(name, str(records))
    console.print(f"replayed {sum(applied.values())} events recorded up to {moment.isoformat()} into schema {target}")
    console.print(f"records per read model as of {moment.isoformat()} (one per entity; the timeline: one per event)")
    console.print(table)
    if export_dir is not None:
        written = replaying.export_tables(conninfo, target, export_dir)
        console.print(f"exported {len(written)} tables to {export_dir}")
