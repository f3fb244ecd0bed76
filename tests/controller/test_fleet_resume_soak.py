"""Repeated SIGKILLs of `pmc fleet print` at random instants, each followed by `--resume` (itself killed in its
turn), until a resume is left to finish: every piece printed, every sheet on the stacks once, the ledger sound.

Bounded for CI (two kills); `PMC_SOAK=1` kills twelve times over a longer run.
"""

from __future__ import annotations

import os
import random

import pytest

from controller.model import PieceState

from tests.controller.test_fleet import RUN
from tests.controller.test_fleet_resume import (
    FAST, kill, ledger_says, planned_sheets, print_room, resume, sheets_on_stacks, start_pmc,
)

SOAK = os.environ.get("PMC_SOAK") == "1"
KILLS, PIECES, JOBS = (12, 120, 10) if SOAK else (2, 24, 4)


@pytest.mark.soak
@pytest.mark.timeout(900 if SOAK else 120)
async def test_a_run_killed_again_and_again_is_finished_by_resume_with_every_sheet_printed_once(tmp_path):
    import asyncio
    from collections import Counter

    rng = random.Random(20261123)
    async with print_room(tmp_path, pieces_n=PIECES, jobs_n=JOBS, speed=30) as (sims, pieces, jobs, args):
        for k in range(KILLS):
            proc = await start_pmc(*args, *(["--resume"] if k else []), *FAST)
            await asyncio.sleep(rng.uniform(0.4, 1.0))  # it starts in ~0.3 s and prints for ~1 s: kills land in the run
            if not await kill(proc, may_have_ended=True):
                break  # it finished before the kill
        code, out = await resume(args)
        stacks = sheets_on_stacks(sims)
    # a kill between routing a job and sending it to a printer that held nothing of the run yet leaves the next
    # resume unable to tell "never sent" from "lost in a restart": it says so, and nothing else may be alerted
    alerts = [line for line in out.splitlines() if "ALERT" in line]
    assert all("holds no job of this run" in line for line in alerts), out
    assert code == (1 if alerts else 0), out
    problems, counts = await ledger_says(tmp_path / "ledger.sqlite", pieces)
    assert problems == [] and counts == {RUN: {PieceState.PRINTED: len(pieces)}}
    assert stacks == Counter(list(planned_sheets(pieces))), "a sheet is missing or printed twice"
