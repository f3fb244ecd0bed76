"""Crash safety for real: a child process writing ledger events is SIGKILLed at random moments; after
each kill the ledger reopens consistent: every piece in exactly one state, the state table equal to
the fold of the log, the event count equal to the applied transitions, no half-written batch, and
every event the child was told was committed still there."""

from __future__ import annotations

import asyncio
import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from controller.ledger import Ledger

ROOT = Path(__file__).resolve().parents[2]
KILLS = int(os.environ.get("PMC_CRASH_KILLS", "24"))


def start_child(path: Path, run: int) -> subprocess.Popen:
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    return subprocess.Popen(
        [sys.executable, str(Path(__file__).with_name("ledger_crash_child.py")), str(path), str(run)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, text=True,
    )


def check_ledger(path: Path, acked: list[int]) -> tuple[int, int]:
    async def verify():
        async with Ledger(path) as ledger:
            return await ledger.verify()

    assert asyncio.run(verify()) == [], "the ledger does not fold to its state table after a kill"
    con = sqlite3.connect(path)
    try:
        events = con.execute("SELECT count(*) FROM events").fetchone()[0]
        transitions = con.execute("SELECT coalesce(sum(events), 0) FROM pieces").fetchone()[0]
        assert events == transitions
        one_state = con.execute("SELECT count(*), count(DISTINCT piece_id) FROM pieces").fetchone()
        assert one_state[0] == one_state[1]
        half = con.execute(
            "SELECT json_extract(data, '$.batch'), json_extract(data, '$.size'), count(*) FROM events"
            " WHERE data IS NOT NULL GROUP BY 1 HAVING count(*) != json_extract(data, '$.size')"
        ).fetchall()
        assert half == [], f"half-written batches are visible: {half[:3]}"
        present = {r[0] for r in con.execute("SELECT seq FROM events")}
        lost = [s for s in acked if s not in present]
        assert not lost, f"{len(lost)} confirmed events were lost, first {lost[0]}"
        pieces = con.execute("SELECT count(*) FROM pieces").fetchone()[0]
    finally:
        con.close()
    return events, pieces


@pytest.mark.timeout(300)
def test_ledger_survives_repeated_sigkill(tmp_path):
    path = tmp_path / "ledger.sqlite"
    rng = random.Random(20261123)
    acked_total = 0
    for run in range(1, KILLS + 1):
        child = start_child(path, run)
        try:
            assert child.stdout.readline().strip() == "ready", child.stderr.read()
            time.sleep(rng.uniform(0.02, 0.4))
        finally:
            child.send_signal(signal.SIGKILL)
            out, err = child.communicate(timeout=30)
        assert child.returncode == -signal.SIGKILL, f"the writer died before it was killed: {err[-2000:]}"
        lines = out.split("\n")[:-1]  # the part after the last newline was cut by the kill: not an acknowledgement
        acked = [int(line[4:]) for line in lines if line.startswith("ack ")]
        acked_total += len(acked)
        events, pieces = check_ledger(path, acked)
    assert acked_total > KILLS, "the child confirmed almost nothing: the kills proved nothing"
    assert events > 0 and pieces > 0
