"""A printer losing its power mid-job, over real loopback sockets: it stops answering and printing and loses
its job table; the fleet fails over once, and when the printer is back reads its page counter to name
exactly the sheets it delivered after the last count the fleet had read (printed again elsewhere)."""

from __future__ import annotations

import asyncio

import pytest

from controller.fleet_demo import check_sheets
from controller.model import PieceState
from simulators.printer import Fault

from tests.controller.test_fleet import RUN, open_ledger, printers, routings, run_beside, run_of


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
            report = await run_beside({"operator[lp-1].power": operator()}, configs, jobs, pieces, ledger, grace_s=grace)
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


@pytest.mark.timeout(180)
async def test_a_job_found_on_its_printer_after_its_answer_was_lost_keeps_its_counter_start_through_a_power_cut(
        tmp_path):
    """lp-1 takes pj-1 but the answer to Print-Job is lost: the fleet finds the job on lp-1 by its name and tracks it
    (not sent twice). lp-1 then loses its power mid-job and its job table with it. The page counter read before
    Print-Job was sent (nothing else printed on lp-1 since) is the adopted job's start: the lost job is reconciled on
    the counter as any job is, and the sheets lp-1 delivered after the last count read are named as duplicates. The
    fleet used to drop that reading for an adopted job: 'its page counter could not be read'."""
    from tests.controller.test_fleet import lose_the_print_job_answer

    pieces, jobs = run_of(24, 1)
    async with printers(2, speed=20) as (sims, configs):  # the job takes lp-1 1.5 s: found long before the cut
        lp1 = sims[0]
        lp1.wire_hook = lose_the_print_job_answer(lp1)
        configs[1] = configs[1].model_copy(update={"speed_ipm": 100})  # so lp-1 is chosen first
        lp1.schedule(Fault.POWER_OFF, at_impression=jobs[0].impressions * 2 // 3)
        ledger = await open_ledger(tmp_path / "l.sqlite", pieces)

        async def operator() -> None:
            while Fault.POWER_OFF not in lp1.state.faults:
                await asyncio.sleep(0.005)
            start = lp1.connections_accepted  # switched on again once the controller has found it silent
            while lp1.connections_accepted < start + 2:
                await asyncio.sleep(0.01)
            lp1.clear(Fault.POWER_OFF)

        try:
            report = await run_beside({"operator[lp-1].power": operator()}, configs, jobs, pieces, ledger, grace_s=30)
            assert await ledger.verify() == []
            assert await ledger.counts_by_state(RUN) == {RUN: {PieceState.PRINTED: len(pieces)}}
        finally:
            await ledger.aclose()
    assert lp1.power_cycles == 1 and [j.ipp_job_id for j in report.jobs if j.printer == "lp-1"] == [1]  # not sent twice
    assert not [a for a in report.alerts if "could not be read" in a], report.lines()
    (lost,) = [r for r in report.reconciliations if r.printer == "lp-1"]
    assert lost.ipp_lost and lost.counter_delta == lp1.state.life_impressions == len(lp1.state.output) * 2, report.lines()
    assert lost.balanced and lost.planned + lost.duplicates == lost.counter_delta, report.lines()
    assert all(r.balanced for r in report.reconciliations), report.lines()
    assert check_sheets([[s.control_code for s in sim.state.output] for sim in sims], pieces, report, RUN) == []
    assert [a for a in report.alerts if not a.startswith("lp-1 delivered")] == []
