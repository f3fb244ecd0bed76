"""A printer that answers, only slowly (its IPP answers come later than the fleet waits for), is taken for a silent
one: its work moves while it goes on printing. Once it answers in time again, its cut job is cancelled and every
sheet it printed after the cut is counted (IPP, the page counter) and named as a duplicate to pull."""

from __future__ import annotations

import asyncio
import contextlib

import pytest

from controller.config import PrinterConfig
from controller.fleet_demo import check_sheets
from controller.model import PieceState
from simulators.printer import Fault, SimIppPrinter
from tests.controller.test_fleet import RUN, open_ledger, printers, routings, run_beside, run_of


async def run_with_slow_lp1(operator, configs, jobs, pieces, ledger):  # noqa: ANN001
    """The run, with lp-1's operator beside it; the ledger sound and every piece printed once."""
    try:
        report = await run_beside({"operator[lp-1].slow": operator}, configs, jobs, pieces, ledger, grace_s=0.1)
        assert await ledger.verify() == []
        assert await ledger.counts_by_state(RUN) == {RUN: {PieceState.PRINTED: len(pieces)}}
    finally:
        await ledger.aclose()
    return report


def assert_lp1_cut_counted_and_named(report, sims, pieces) -> None:  # noqa: ANN001
    """Every sheet on the stacks accounted for; lp-1's cut job reconciled on IPP and its page counter, with the
    sheets it printed after the cut named as duplicates; no other alert."""
    lp1 = sims[0]
    assert check_sheets([[s.control_code for s in sim.state.output] for sim in sims], pieces, report, RUN) == []
    (cut,) = [r for r in report.reconciliations if r.printer == "lp-1"]
    assert cut.counter_delta == lp1.state.life_impressions == len(lp1.state.output) * 2, report.lines()
    assert cut.ipp_completed == cut.planned + cut.duplicates and cut.duplicates > 0, report.lines()
    assert all(r.balanced for r in report.reconciliations), report.lines()
    assert [a for a in report.alerts if not a.startswith("lp-1 delivered")] == [], report.lines()


@pytest.mark.timeout(180)
async def test_a_slow_printer_taken_for_silent_has_every_sheet_it_printed_after_the_cut_named(tmp_path):
    pieces, jobs = run_of(24, 1)
    async with printers(2, speed=4) as (sims, configs):  # pj-1 takes lp-1 about 7 s
        lp1 = sims[0]
        configs[1] = configs[1].model_copy(update={"speed_ipm": 100})  # so lp-1 is chosen first
        ledger = await open_ledger(tmp_path / "l.sqlite", pieces)

        async def operator() -> None:
            while lp1.state.life_impressions < jobs[0].impressions // 5:
                await asyncio.sleep(0.005)
            lp1.inject(Fault.SLOW_NETWORK, delay=1.5)  # the fleet waits 1 s for an answer; lp-1 prints on
            last = jobs[0].piece_ids[-1]
            while len(routings(await ledger.history(last))) < 2:  # its work moved
                await asyncio.sleep(0.01)
            lp1.clear(Fault.SLOW_NETWORK)

        report = await run_with_slow_lp1(operator(), configs, jobs, pieces, ledger)
    (failover,) = report.failovers
    assert failover.printer == "lp-1" and failover.to == "lp-2" and failover.moved
    assert_lp1_cut_counted_and_named(report, sims, pieces)


@pytest.mark.timeout(180)
async def test_a_job_sent_to_a_printer_that_turns_slow_as_it_answers_is_cut_counted_and_its_sheets_named(tmp_path):
    """lp-1 takes pj-1 but its answer to Print-Job is lost, and from then on lp-1 answers later than the fleet waits:
    the job cannot be looked for, lp-1 is taken for silent and pj-1 moves to lp-2 while lp-1 prints it. When lp-1
    answers in time again the job is found by its name, cancelled, and what it printed is named as duplicates; it is
    reconciled on the page counter read before Print-Job was sent (lp-1 was sent nothing since). The fleet used to
    keep no counter start for such a job: its reconciliation skipped the counter."""
    from tests.controller.test_fleet import lose_the_print_job_answer

    pieces, jobs = run_of(24, 1)
    async with printers(2, speed=4) as (sims, configs):
        lp1 = sims[0]
        lp1.wire_hook = lose_the_print_job_answer(lp1, then=lambda: lp1.inject(Fault.SLOW_NETWORK, delay=1.5))
        configs[1] = configs[1].model_copy(update={"speed_ipm": 100})  # so lp-1 is chosen first
        ledger = await open_ledger(tmp_path / "l.sqlite", pieces)

        async def operator() -> None:
            last = jobs[0].piece_ids[-1]
            while len(routings(await ledger.history(last))) < 2:  # its work moved
                await asyncio.sleep(0.01)
            lp1.clear(Fault.SLOW_NETWORK)

        report = await run_with_slow_lp1(operator(), configs, jobs, pieces, ledger)
    assert_lp1_cut_counted_and_named(report, sims, pieces)


@pytest.mark.timeout(180)
async def test_a_slow_printer_cancelled_at_the_end_of_the_run_has_its_sheet_in_flight_named(tmp_path):
    """lp-1 is slow (taken for silent) until lp-2 has printed the work moved off it; lp-1 prints on meanwhile. When it
    answers in time again the run has nothing else to do: its cut job is cancelled with a sheet under the marker, which
    the printer still delivers. That sheet is counted and named with the others: the fleet used to read the cut job's
    final count right after the cancel and end the run, and the sheet landed on the stack unnamed."""
    pieces, jobs = run_of(24, 1)
    async with contextlib.AsyncExitStack() as stack:
        # lp-1 is slow to print too (a duplex sheet in 0.4 s), so it is still printing when lp-2 is done
        sims = [await stack.enter_async_context(SimIppPrinter(name=f"lp-{n}", speed=s, snmp=True))
                for n, s in ((1, 2), (2, 8))]
        configs = [PrinterConfig(name=s.name, ipp_url=s.url, snmp_url=s.snmp_url, speed_ipm=ipm)
                   for s, ipm in zip(sims, (150, 100))]  # lp-1 is chosen first
        lp1, lp2 = sims
        ledger = await open_ledger(tmp_path / "l.sqlite", pieces)

        async def operator() -> None:
            while lp1.state.life_impressions < jobs[0].impressions // 6:
                await asyncio.sleep(0.005)
            lp1.inject(Fault.SLOW_NETWORK, delay=1.5)  # the fleet waits 1 s for an answer; lp-1 prints on
            while not lp2.state.jobs or any(not j.state.is_final for j in lp2.state.jobs.values()):
                await asyncio.sleep(0.01)  # until lp-2 has printed what moved off lp-1
            assert lp1.state.jobs[1].state.name == "PROCESSING"
            lp1.clear(Fault.SLOW_NETWORK)

        report = await run_with_slow_lp1(operator(), configs, jobs, pieces, ledger)
        await asyncio.sleep(1.5)  # whatever lp-1 had under its marker is on its stack now
    (failover,) = report.failovers
    assert failover.printer == "lp-1" and failover.to == "lp-2" and failover.moved
    assert_lp1_cut_counted_and_named(report, sims, pieces)
