"""Soak: several simulated printers with seeded random faults and an operator clearing them.

Bounded for CI; `PMC_SOAK=1` runs a shift's worth. Whatever the faults, every sheet of every job is
delivered exactly once, IPP's impressions match the plan, and each marker's life counter equals the
delivered impressions plus the spoiled ones.
"""

from __future__ import annotations

import asyncio
import os
import random

import pytest

from drivers.ipp import Attribute, IppPrinter, JobState, Tag
from simulators.printer import Fault, SimIppPrinter, STOPPING
from simulators.printer_documents import PAGE_LIST

SOAK = os.environ.get("PMC_SOAK") == "1"
PRINTERS, JOBS, PAGES = (6, 20, 2000) if SOAK else (6, 3, 150)


async def operator(sim: SimIppPrinter, rng: random.Random, stop: asyncio.Event) -> None:
    while not stop.is_set():
        for fault in list(sim.state.faults & STOPPING):
            await asyncio.sleep(rng.uniform(0, 0.005))
            sim.clear(fault)
        await asyncio.sleep(0.002)


async def run_printer(n: int) -> int:
    rng = random.Random(n)
    async with SimIppPrinter(speed=100000, name=f"lp-{n}") as sim, IppPrinter(sim.url) as client:
        sim.random_faults(1000 + n, {Fault.MEDIA_JAM: 20.0, Fault.DOOR_OPEN: 2.0, Fault.MEDIA_EMPTY: 1.0})
        stop = asyncio.Event()
        helper = asyncio.create_task(operator(sim, rng, stop), name=f"printer[lp-{n}].operator")
        try:
            duplex = n % 2 == 0
            sides = [Attribute("sides", "two-sided-long-edge", Tag.KEYWORD)] if duplex else []
            jobs = [await client.print_job("\n".join(["-"] * PAGES).encode(), document_format=PAGE_LIST,
                                           attributes=sides) for _ in range(JOBS)]
            for job in jobs:
                done = await client.wait_for_job(job.job_id, poll=0.01, timeout=600 if SOAK else 60)
                assert done.state == JobState.COMPLETED and done.impressions_completed == PAGES
        finally:
            stop.set()
            await helper
        per_sheet = 2 if duplex else 1
        for job in jobs:
            sheets = [s.sheet for s in sim.state.output if s.job_id == job.job_id]
            assert sheets == list(range(1, PAGES // per_sheet + 1))
        delivered = sum(len(s.pages) for s in sim.state.output)
        spoiled = sum(len(s.pages) for s in sim.state.spoiled)
        assert delivered == JOBS * PAGES
        assert sim.state.life_impressions == delivered + spoiled
        return len(sim.state.spoiled)


@pytest.mark.soak
@pytest.mark.timeout(900 if SOAK else 120)
async def test_printers_under_random_faults_deliver_every_sheet_once():
    async with asyncio.TaskGroup() as tg:
        runs = [tg.create_task(run_printer(n), name=f"printer[lp-{n}].soak") for n in range(PRINTERS)]
    assert sum(r.result() for r in runs) > 0  # the seeded faults did spoil sheets
