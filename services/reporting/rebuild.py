"""`python -m services.reporting.rebuild`: rebuild every read model from the sources' feeds into a fresh
schema, with a progress bar, and switch it in once caught up (the live read models answer meanwhile).

    python -m services.reporting.rebuild                    # rebuild, switch, drop the old schema
    python -m services.reporting.rebuild --keep-old         # ... keep the old one (renamed reporting_old_<time>)
    python -m services.reporting.rebuild --no-switch --into scratch   # a scratch copy to compare or replay

Reads the sources through their `read_feed` RPC (AMQP_URI) and writes to FOURGATES_DB.
"""
from __future__ import annotations

import warnings

# Importing nameko imports eventlet, which warns on stderr that it is deprecated: nothing an operator can act on.
# Here, before the imports, so that the load's worker processes (which import this module first) are quiet too.
warnings.filterwarnings("ignore", message=r"\s*Eventlet is deprecated")

import time  # noqa: E402
from typing import Any  # noqa: E402

import click  # noqa: E402
from rich.console import Console  # noqa: E402
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn  # noqa: E402

from services.backbone.config import amqp_uri, database_url  # noqa: E402
from services.reporting.model import SOURCES  # noqa: E402
from services.reporting.rebuilder import Rebuild, new_schema_name  # noqa: E402

console = Console()


def run_rebuild(conninfo: str, feed_config: dict[str, Any], target: str, *,
                switch: bool = True, keep_old: bool = False, live: str = "reporting", batch: int = 5000,
                show: bool = True) -> dict[str, Any]:
    """Rebuild into `target` (and switch it in); returns what happened, with the events applied per source."""
    rebuild = Rebuild(conninfo, feed_config, target, live=live, batch=batch)
    applied = dict.fromkeys(SOURCES, 0)
    began = time.perf_counter()
    try:
        estimate = rebuild.estimate()
        rebuild.create()
        if switch:
            rebuild.keep_resolved()
        with _progress(show) as progress:
            tasks = {s: progress.add_task(s, total=max(estimate[s], 1)) for s in SOURCES}

            def advance(source: str, count: int) -> None:
                applied[source] += count
                task = tasks[source]
                progress.update(task, total=max(applied[source], estimate[source], 1), completed=applied[source])

            rebuild.load(advance)
            loaded = time.perf_counter()
            rebuild.index()
            old = rebuild.switch(advance) if switch else None
        if old and not keep_old:
            rebuild.drop(old)
    finally:
        rebuild.close()
    return {"target": live if switch else target, "old": old if keep_old else None, "applied": applied,
            "load_seconds": loaded - began, "seconds": time.perf_counter() - began}


def _progress(show: bool) -> Progress:
    return Progress(TextColumn("[bold]{task.description:<10}"), BarColumn(), MofNCompleteColumn(),
                    TextColumn("events"), TimeElapsedColumn(), console=console, disable=not show)


@click.command()
@click.option("--into", "target", default=None, help="schema to build into (default: reporting_rebuild_<time>)")
@click.option("--switch/--no-switch", default=True, show_default=True, help="switch the rebuilt schema in when caught up")
@click.option("--keep-old", is_flag=True, help="keep the replaced schema (renamed reporting_old_<time>)")
@click.option("--batch", default=5000, show_default=True, help="events per transaction")
def main(target: str | None, switch: bool, keep_old: bool, batch: int) -> None:
    """Rebuild reporting's read models from the source services' feeds."""
    config = {"AMQP_URI": amqp_uri(), "SERIALIZER": "json"}
    target = target or new_schema_name()
    result = run_rebuild(database_url(), config, target, switch=switch, keep_old=keep_old, batch=batch)
    total = sum(result["applied"].values())
    console.print(f"[green]rebuilt[/] {total:,} events into [bold]{result['target']}[/] in {result['seconds']:.1f}s "
                  f"({total / max(result['load_seconds'], 1e-9):,.0f} events/s while loading)"
                  + (f"; previous read models kept as {result['old']}" if result["old"] else ""))

if __name__ == "__main__":
    main()
