"""psycopg's waits in a green (eventlet-patched) process: `wait_green` lets other green threads run while
PostgreSQL works, yet does not trip through the hub when the socket is ready (a pipeline's sends)."""
from __future__ import annotations

import json
import subprocess
import sys
import textwrap

PROBE = textwrap.dedent("""
    import eventlet
    eventlet.monkey_patch()
    import json, sys, time
    import psycopg, psycopg.waiting
    from services.backbone import cooperative

    conninfo, which = sys.argv[1], sys.argv[2]
    psycopg.waiting.wait = cooperative.wait_green if which == "green" else psycopg.waiting.wait_select
    turns = [0]

    def spinner():
        while True:
            turns[0] += 1
            eventlet.sleep(0)

    def pipelined():
        with psycopg.connect(conninfo, autocommit=True) as conn:
            conn.execute("SELECT 1")
            with conn.pipeline():
                before = turns[0]
                # each execute sends its statement at once; the results are read when the block ends
                cursors = [conn.execute("SELECT %s::int * 2", (i,)) for i in range(50)]
                sending = turns[0] - before
            values = [c.fetchone()[0] for c in cursors]
            return values, sending

    def sleeper():
        with psycopg.connect(conninfo, autocommit=True) as conn:
            return conn.execute("SELECT pg_sleep(0.3)::text").fetchone()[0]

    def main():
        eventlet.spawn(spinner)
        values, pipeline_turns = pipelined()
        began = time.monotonic()
        sleepers = [eventlet.spawn(sleeper) for _ in range(8)]
        slept = [s.wait() for s in sleepers]
        elapsed = time.monotonic() - began
        print(json.dumps({"values": values, "pipeline_turns": pipeline_turns, "slept": slept,
                          "elapsed": elapsed}))

    eventlet.spawn(main).wait()
""")


def probe(db_url: str, which: str) -> dict:
    done = subprocess.run([sys.executable, "-c", PROBE, db_url, which], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_a_green_wait_answers_correctly_lets_others_run_and_skips_the_hub_when_ready(db_url: str) -> None:
    green, select = probe(db_url, "green"), probe(db_url, "select")

    assert green["values"] == [2 * i for i in range(50)]
    # Sending a pipeline's statements, the socket is always ready for writing: psycopg's wait_select goes
    # through the hub at every statement all the same, wait_green not once. (Reading the results, both
    # wait in the hub whenever PostgreSQL has not answered yet: how often depends on the machine.)
    assert select["pipeline_turns"] >= 50
    assert green["pipeline_turns"] <= 2, green["pipeline_turns"]
    # Eight 0.3 s queries in eight green threads overlap: serialised they would take 2.4 s.
    assert green["slept"] == [""] * 8
    assert green["elapsed"] < 1.5, f"eight concurrent 0.3 s queries took {green['elapsed']:.2f} s"
