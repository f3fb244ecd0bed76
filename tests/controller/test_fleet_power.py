"""A printer losing its power mid-job, over real loopback sockets: it stops answering and printing and loses
its job table; the fleet fails over once, and when the printer is back reads its page counter to name
exactly the sheets it delivered after the last count the fleet had read (printed again elsewhere)."""

from __future__ import annotations

import asyncio

import pytest

from controller.fleet import PAGE_LIST_FORMAT, page_list_documents, print_run
from controller.fleet_demo import check_sheets
from controller.model import PieceState
from simulators.printer import Fault

from tests.controller.test_fleet import RUN, open_ledger, printers, routings, run_of


@pytest.mark.timeout(180)
@pytest.mark.parametrize("outage", ["past-the-grace-time", "within-the-grace-time"])
async def test_a_printer_losing_power_mid_job_fails_over_once_and_every_sheet_is_accounted_for(tmp_path, outage):
    pieces, jobs = run_of(24, 1)
    async with printers(2, speed=150) as (sims, configs):
        lp1 = sims[0]
        configs[1] = configs[1].model_copy(update={"speed_ipm": 100})  # so lp-1 is chosen first
        lp1.schedule(Fault.POWER_OFF, at_impression=jobs[0].impressions // 2)
        grace = 0.1 if outage == "past-the-grace-time" else 30
        ledger = await open_ledger(tmp_path / "l.sqlite", pieces)

        async def operator() -> None:
            while Fault.POWER_OFF not in lp1.state.faults:
                await asyncio.sleep(0.005)
            if outage == "past-the-grace-time":
                # switched on again once the controller has moved the work (the ledger shows it)
                last = jobs[0].piece_ids[-1]
                while len(routings(await ledger.history(last))) < 2:
                    await asyncio.sleep(0.01)
            else:
                # switched on again once the controller has found it silent (its request timed out and it
                # connected anew), long before the grace time is up
                start = lp1.connections_accepted
                while lp1.connections_accepted < start + 2:
                    await asyncio.sleep(0.01)
            lp1.clear(Fault.POWER_OFF)

        try:
            async with asyncio.timeout(150), asyncio.TaskGroup() as tg:
                tg.create_task(operator(), name="operator[lp-1].power")
                run = tg.create_task(print_run(configs, jobs, pieces,
                                               page_list_documents({p.piece_id: p for p in pieces}, run=RUN), ledger,
                                               document_format=PAGE_LIST_FORMAT, grace_s=grace, poll_s=0.02,
                                               io_timeout_s=1.0, orphan_timeout_s=20), name="fleet.print_run")
            report = run.result()
            assert await ledger.verify() == []
            assert await ledger.counts_by_state(RUN) == {RUN: {PieceState.PRINTED: len(pieces)}}
        finally:
            await ledger.aclose()
    (failover,) = report.failovers
    assert failover.printer == "lp-1" and failover.to == "lp-2" and failover.moved
    assert ("lost job" in failover.reason) == (outage == "within-the-grace-time")  # found lost, not waited out
    assert all(r.balanced for r in report.reconciliations), report.lines()
    (lost,) = [r for r in report.reconciliations if r.printer == "lp-1"]
    assert lost.ipp_lost and lost.counter_delta == lp1.state.life_impressions == len(lp1.state.output) * 2
    assert lost.planned + lost.duplicates == lost.counter_delta
    assert check_sheets([[s.control_code for s in sim.state.output] for sim in sims], pieces, report, RUN) == []
    duplicates = [s for s in report.spoils if s.why.startswith("delivered before the printer lost the job")]
    assert sum(s.impressions for s in duplicates) == lost.duplicates
    # the only alert is the one naming the duplicates to pull, when there are any
    assert [a for a in report.alerts if not a.startswith("lp-1 delivered")] == []
    assert len(report.alerts) == (1 if lost.duplicates else 0)
