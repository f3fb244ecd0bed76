"""Soak: a run on six simulated printers under seeded random jams and door openings, with an operator
who clears some stops within the grace time and leaves others long enough for a failover.

Bounded for CI; `PMC_SOAK=1` runs a longer shift. Whatever happens: every piece printed in the ledger
once, the ledger sound, every sheet on the output stacks once plus once per spoil the report names, the
paper-path spoils the report names are the simulators' own, and every reconciliation balances.
"""

from __future__ import annotations

import asyncio
import os
import random

import pytest

from controller.config import PrinterConfig
from controller.fleet import PAGE_LIST_FORMAT, page_list_documents, print_run
from controller.fleet_demo import check_sheets, demo_run
from controller.ledger import Ledger
from controller.model import PieceEvent, PieceEventKind, PieceState
from simulators.printer import STOPPING, Fault, SimIppPrinter

SOAK = os.environ.get("PMC_SOAK") == "1"
PIECES, JOBS, SEED = (3000, 40, 7) if SOAK else (360, 12, 7)
GRACE_S = 0.3


async def operator(sim: SimIppPrinter, rng: random.Random, stop: asyncio.Event) -> None:
    """Clears a stop after the controller has polled it, at once or after the grace time has passed."""
    while not stop.is_set():
        if sim.state.faults & STOPPING:
            seen = sim.requests_answered
            while sim.requests_answered - seen < 12 and not stop.is_set():
                await asyncio.sleep(0.005)
            if rng.random() < 0.4:
                await asyncio.sleep(GRACE_S * 3)  # long enough for the fleet to move the work off
            for fault in list(sim.state.faults & STOPPING):
                sim.clear(fault)
        await asyncio.sleep(0.005)


@pytest.mark.soak
@pytest.mark.timeout(900 if SOAK else 300)
async def test_a_run_under_random_faults_prints_every_piece_once_and_accounts_for_every_sheet(tmp_path):
    run = "SOAK"
    pieces, jobs = demo_run(run, PIECES, JOBS)
    rng = random.Random(SEED)
    async with asyncio.TaskGroup() as starting:
        made = [starting.create_task(SimIppPrinter(name=f"lp-{n}", speed=300, snmp=True).__aenter__())
                for n in range(1, 7)]
    sims = [t.result() for t in made]
    stop = asyncio.Event()
    try:
        for n, sim in enumerate(sims):
            sim.random_faults(SEED * 10 + n, {Fault.MEDIA_JAM: 10.0, Fault.DOOR_OPEN: 2.0})
        configs = [PrinterConfig(name=s.name, ipp_url=s.url, snmp_url=s.snmp_url, speed_ipm=150) for s in sims]
        async with Ledger(tmp_path / "soak.sqlite") as ledger:
            await ledger.append_many([PieceEvent(PieceEventKind.INDEXED, p.piece_id, job_id=run) for p in pieces], batch=0)
            await ledger.append_many([PieceEvent(PieceEventKind.SORTED, p.piece_id) for p in pieces], batch=0)
            async with asyncio.TaskGroup() as tg:
                helpers = [tg.create_task(operator(sim, random.Random(rng.random()), stop), name=f"operator[{sim.name}]")
                           for sim in sims]
                try:
                    report = await print_run(configs, jobs, pieces, page_list_documents({p.piece_id: p for p in pieces}, run=run),
                                             ledger, document_format=PAGE_LIST_FORMAT, grace_s=GRACE_S, poll_s=0.02,
                                             io_timeout_s=1.0, route_timeout_s=60, run_timeout_s=800 if SOAK else 250)
                finally:
                    stop.set()
            assert all(h.done() for h in helpers)
            assert await ledger.verify() == []
            assert await ledger.counts_by_state(run) == {run: {PieceState.PRINTED: len(pieces)}}
    finally:
        for sim in sims:
            await sim.aclose()
    assert sum(len(s.state.spoiled) for s in sims) > 0  # the seeded faults did spoil sheets
    assert check_sheets([[s.control_code for s in sim.state.output] for sim in sims], pieces, report, run) == []
    for sim in sims:
        figures = next(p for p in report.printers if p.name == sim.name)
        assert figures.spoiled_impressions == sum(len(s.pages) for s in sim.state.spoiled)
        assert figures.counter_delta == sim.state.life_impressions
    # a cancelled job may still deliver the sheet it had in flight: the report names each such sheet as a
    # duplicate to pull, and the job's reconciliation shows exactly that many impressions over its plan. It
    # stays a discrepancy beside its alert; only sheets a printer made while it did not answer (a poll that
    # timed out on a slow machine) are counted into the job as duplicates, all of them, and balance it.
    for r in report.reconciliations:
        late = sum(s.impressions for s in report.spoils
                   if s.printer == r.printer and s.print_job_id == r.print_job_id and "duplicate" in s.why)
        assert r.ipp_completed == r.planned + late
        assert r.duplicates in (0, late), r
        assert r.balanced == (late == r.duplicates), r
    unbalanced = {(r.printer, r.print_job_id) for r in report.reconciliations if not r.balanced}
    for alert in report.alerts:
        assert any(alert.startswith(f"{printer} delivered") or f"{job} on {printer}:" in alert
                   for printer, job in unbalanced), alert
