"""The fleet end to end: six simulated printers (IPP + SNMP on loopback), the controller routing print
jobs, a jam and a printer dropping off mid-job, and the simulators' output stacks as the truth."""

from __future__ import annotations

import asyncio
import contextlib
from collections import Counter
from pathlib import Path

import pytest

from controller.config import PrinterConfig
from controller.fleet import PAGE_LIST_FORMAT, NoPrinterError, page_list_documents, print_run
from controller.ledger import Ledger
from controller.model import Piece, PieceEvent, PieceEventKind, PieceState, Plex, PrintJob
from drivers.controlcode import ControlCode, decode, encode, job_token, piece_token
from simulators.printer import Fault, SimIppPrinter

SPEED = 400  # a 150 ipm printer makes 1000 impressions per second
RUN = "RUN1"
MONO = 5  # production-mono-150 printers lp-1..lp-5; lp-6 is an office-colour-60 (simplex, colour)


@contextlib.asynccontextmanager
async def fleet():
    async with contextlib.AsyncExitStack() as stack:
        sims = []
        for n in range(1, 7):
            model = "production-mono-150" if n <= MONO else "office-colour-60"
            sims.append(await stack.enter_async_context(SimIppPrinter(model, name=f"lp-{n}", speed=SPEED, snmp=True)))
        configs = [
            PrinterConfig(name=s.name, ipp_url=s.url, snmp_url=s.snmp_url, speed_ipm=int(s.model.speed_ipm),
                          media=["letter", "a4"] if s.model.duplex else ["letter", "legal"],
                          duplex=s.model.duplex, colour=s.model.colour)
            for s in sims
        ]
        yield sims, configs


def make_run(jobs: int, pieces_per_job: int) -> tuple[list[Piece], list[PrintJob]]:
    pieces, print_jobs = [], []
    for j in range(jobs):
        ids = []
        for k in range(pieces_per_job):
            seq = j * pieces_per_job + k
            sheets = 1 + seq % 3
            pieces.append(Piece(f"p{seq:04d}", RUN, seq, pages=2 * sheets, sheets=sheets, plex=Plex.DUPLEX))
            ids.append(pieces[-1].piece_id)
        mine = pieces[-pieces_per_job:]
        print_jobs.append(PrintJob(f"pj-{j + 1}", RUN, tuple(ids), sheets=sum(p.sheets for p in mine),
                                   impressions=sum(2 * p.sheets for p in mine), plex=Plex.DUPLEX))
    return pieces, print_jobs


async def sorted_ledger(path: Path, pieces: list[Piece]) -> Ledger:
    ledger = Ledger(path)
    await ledger.start()
    await ledger.append_many([PieceEvent(PieceEventKind.INDEXED, p.piece_id, job_id=RUN) for p in pieces], batch=0)
    await ledger.append_many([PieceEvent(PieceEventKind.SORTED, p.piece_id, container="T1") for p in pieces], batch=0)
    return ledger


def code_of(piece: Piece, sheet: int) -> str:
    return encode(ControlCode(job_token(RUN), piece_token(piece.sequence), sheet, piece.sheets))


def delivered_codes(sims) -> Counter:
    return Counter(s.control_code for sim in sims for s in sim.state.output)


def assert_each_sheet_once_plus_spoils(sims, pieces, report) -> None:
    """Every sheet of every piece is on some output stack once, plus once more for each delivered sheet the
    report names as spoiled (a cut piece's delivered part, or a duplicate to pull)."""
    extra = Counter()
    for s in report.spoils:
        if s.piece_id is not None:
            for sheet in range(s.first_sheet, s.first_sheet + s.sheets):
                extra[(s.piece_id, sheet)] += 1
    by_token = {piece_token(p.sequence): p for p in pieces}
    got = Counter()
    for code, n in delivered_codes(sims).items():
        c = decode(code)
        got[(by_token[c.piece].piece_id, c.sheet)] += n
    want = Counter({(p.piece_id, s): 1 + extra[(p.piece_id, s)] for p in pieces for s in range(1, p.sheets + 1)})
    assert got == want


async def assert_ledger_all_printed(ledger: Ledger, pieces: list[Piece]) -> None:
    assert await ledger.verify() == []
    counts = await ledger.counts_by_state(RUN)
    assert counts == {RUN: {PieceState.PRINTED: len(pieces)}}


@pytest.mark.timeout(180)
async def test_a_jam_mid_job_moves_the_rest_of_the_job_to_another_printer(tmp_path):
    pieces, jobs = make_run(jobs=7, pieces_per_job=20)
    by_id = {p.piece_id: p for p in pieces}
    async with fleet() as (sims, configs):
        lp1 = sims[0]
        lp1.schedule(Fault.MEDIA_JAM, at_impression=31)  # mid pj-1 (80 impressions), which routing gives lp-1
        ledger = await sorted_ledger(tmp_path / "ledger.sqlite", pieces)
        try:
            report = await print_run(configs, jobs, pieces, page_list_documents(by_id, run=RUN), ledger,
                                     document_format=PAGE_LIST_FORMAT, grace_s=0.1, poll_s=0.02, io_timeout_s=1.0,
                                     run_timeout_s=150)
            await assert_ledger_all_printed(ledger, pieces)
            failover = next(f for f in report.failovers if f.printer == "lp-1" and f.print_job_id == "pj-1")
            # IPP's media-jam-error or SNMP's jammed bit, whichever the poll before the decision read first
            assert ("media-jam-error" in failover.reason or "snmp-jammed" in failover.reason)
            assert failover.to not in (None, "lp-1")
            history = await ledger.history(failover.moved[0])
            spooled = [(h.device, h.reason) for h in history if h.kind is PieceEventKind.SPOOLED]
            assert spooled[0] == ("lp-1", None)
            assert spooled[-1][0] == failover.to and "re-routed from lp-1" in spooled[-1][1]
            printed = [h.device for h in history if h.kind is PieceEventKind.PRINTED]
            assert printed == [failover.to]
        finally:
            await ledger.aclose()
        # the physical truth: each sheet once, plus the cut piece's delivered sheets once more
        assert_each_sheet_once_plus_spoils(sims, pieces, report)
        # the sheets in lp-1's paper path at the jam were spoiled there and are reported as such
        in_path = [s for s in report.spoils if s.printer == "lp-1" and s.piece_id is None]
        assert sum(s.sheets for s in in_path) == len(lp1.state.spoiled) > 0
        assert sum(s.impressions for s in in_path) == sum(len(s.pages) for s in lp1.state.spoiled)
        # the pieces delivered whole on lp-1 before the jam stay there: their sheets are on lp-1's stack
        kept_tokens = {piece_token(by_id[pid].sequence) for pid in failover.printed}
        assert kept_tokens and kept_tokens <= {decode(s.control_code).piece for s in lp1.state.output}
        # reconciliation balances, and its figures are the simulators' own
        assert report.alerts == () and report.balanced
        assert len(report.reconciliations) == len(report.jobs) >= len(jobs) + 1
        for sim in sims:
            figures = next(p for p in report.printers if p.name == sim.name)
            assert figures.delivered_impressions == sum(len(s.pages) for s in sim.state.output)
            assert figures.spoiled_impressions == sum(len(s.pages) for s in sim.state.spoiled)
            assert figures.counter_delta == sim.state.life_impressions
        assert report.pieces_printed == len(pieces)


async def run_with_lp2_dropping_off(tmp_path, pieces, jobs, *, jam_unheard_at: int | None = None):
    """The run on the fleet with lp-2 dropping off the network mid pj-2 (its marker printing on, unheard) and
    reconnected once the controller has moved its work; `jam_unheard_at`: lp-2 also jams at that impression while
    unheard, and the operator at the printer clears it at once (nobody tells the controller)."""
    by_id = {p.piece_id: p for p in pieces}
    async with fleet() as (sims, configs):
        lp2 = sims[1]
        lp2.schedule(Fault.OFFLINE, at_impression=21)  # mid pj-2; the marker goes on printing, unheard
        if jam_unheard_at is not None:
            lp2.schedule(Fault.MEDIA_JAM, at_impression=jam_unheard_at)
        ledger = await sorted_ledger(tmp_path / "ledger.sqlite", pieces)

        async def operator_at_the_printer() -> None:
            while not lp2.state.spoiled:
                await asyncio.sleep(0.005)
            lp2.clear(Fault.MEDIA_JAM)

        async def network_comes_back() -> None:
            # the operator reconnects lp-2 once the controller has moved its work (the ledger says so)
            last = jobs[1].piece_ids[-1]
            while sum(h.kind is PieceEventKind.SPOOLED for h in await ledger.history(last)) < 2:
                await asyncio.sleep(0.02)
            lp2.clear(Fault.OFFLINE)

        try:
            async with asyncio.timeout(150):
                async with asyncio.TaskGroup() as tg:
                    if jam_unheard_at is not None:
                        tg.create_task(operator_at_the_printer(), name="operator[lp-2].jam")
                    tg.create_task(network_comes_back(), name="operator[lp-2].reconnect")
                    run = tg.create_task(print_run(
                        configs, jobs, pieces, page_list_documents(by_id, run=RUN), ledger,
                        document_format=PAGE_LIST_FORMAT, grace_s=0.1, poll_s=0.02, io_timeout_s=1.0,
                        orphan_timeout_s=20), name="fleet.print_run")
            report = run.result()
            await assert_ledger_all_printed(ledger, pieces)
        finally:
            await ledger.aclose()
        return sims, report


def reconcile_line(report, printer: str, print_job_id: str) -> str:
    return next(line for line in report.lines() if line.startswith(f"  reconcile {print_job_id} on {printer}:"))


@pytest.mark.timeout(180)
async def test_a_printer_that_stops_answering_mid_job_loses_its_work_and_its_late_sheets_are_named(tmp_path):
    pieces, jobs = make_run(jobs=7, pieces_per_job=20)
    sims, report = await run_with_lp2_dropping_off(tmp_path, pieces, jobs)
    failover = next(f for f in report.failovers if f.printer == "lp-2" and f.print_job_id == "pj-2")
    assert "offline" in failover.reason and failover.to not in (None, "lp-2")
    # lp-2 printed on while nobody could hear it: the controller names every late sheet to pull
    late = [s for s in report.spoils if s.printer == "lp-2" and "duplicate" in s.why]
    assert late and any("pull the sheets" in a for a in report.alerts)
    assert_each_sheet_once_plus_spoils(sims, pieces, report)
    # and the job balances with them named as duplicates, as a job a printer lost in a power cut does: IPP and the
    # page counter both say the part it kept plus the duplicates
    r = next(r for r in report.reconciliations if r.printer == "lp-2" and r.print_job_id == "pj-2")
    duplicates = sum(s.impressions for s in late)
    assert r.balanced and r.duplicates == duplicates > 0, r
    assert r.ipp_completed == r.counter_delta == r.planned + duplicates
    assert reconcile_line(report, "lp-2", "pj-2").endswith(f", duplicates {duplicates}: balanced")
    # the alert naming the sheets to pull is the only one
    assert [a for a in report.alerts if not a.startswith("lp-2 delivered")] == []


@pytest.mark.timeout(180)
async def test_sheets_spoiled_while_a_printer_was_not_answering_are_a_discrepancy_beside_the_duplicates(tmp_path):
    pieces, jobs = make_run(jobs=7, pieces_per_job=20)
    sims, report = await run_with_lp2_dropping_off(tmp_path, pieces, jobs, jam_unheard_at=41)
    lp2 = sims[1]
    unseen = sum(len(s.pages) for s in lp2.state.spoiled)
    assert unseen > 0  # the jam spoiled sheets in lp-2's paper path while nobody could hear it
    late = [s for s in report.spoils if s.printer == "lp-2" and "duplicate" in s.why]
    assert late and any("pull the sheets" in a for a in report.alerts)
    assert_each_sheet_once_plus_spoils(sims, pieces, report)
    # the duplicates are named, but the counter made `unseen` more impressions than IPP delivered: not balanced
    r = next(r for r in report.reconciliations if r.printer == "lp-2" and r.print_job_id == "pj-2")
    assert not r.balanced and r.duplicates == sum(s.impressions for s in late)
    assert r.counter_delta == r.ipp_completed + unseen
    assert f"differ by {unseen}" in reconcile_line(report, "lp-2", "pj-2")
    assert ": DISCREPANCY: " in reconcile_line(report, "lp-2", "pj-2")
    assert any(a.startswith("print job pj-2 on lp-2:") for a in report.alerts)


async def test_a_job_no_printer_can_take_names_why_each_printer_refused(tmp_path):
    pieces, jobs = make_run(jobs=2, pieces_per_job=3)
    a3 = PrintJob("pj-a3", RUN, jobs[0].piece_ids, sheets=jobs[0].sheets, impressions=jobs[0].impressions,
                  plex=Plex.SIMPLEX, media="a3")
    colour_duplex = PrintJob("pj-cd", RUN, jobs[1].piece_ids, sheets=jobs[1].sheets,
                             impressions=jobs[1].impressions, plex=Plex.DUPLEX, colour=True)
    async with fleet() as (sims, configs):
        ledger = await sorted_ledger(tmp_path / "ledger.sqlite", pieces)
        try:
            with pytest.raises(NoPrinterError) as err:
                await print_run(configs, [a3, colour_duplex], pieces,
                                page_list_documents({p.piece_id: p for p in pieces}, run=RUN), ledger,
                                document_format=PAGE_LIST_FORMAT, poll_s=0.02, io_timeout_s=1.0)
            counts = await ledger.counts_by_state(RUN)
        finally:
            await ledger.aclose()
    refused = err.value.refusals
    assert set(refused) == {"pj-a3", "pj-cd"}
    for n in range(1, 7):
        assert f"lp-{n}: no a3 media" in refused["pj-a3"]
    assert "lp-1: cannot print colour" in refused["pj-cd"] and "lp-6: cannot print duplex" in refused["pj-cd"]
    assert "pj-cd" in str(err.value) and "lp-6: cannot print duplex" in str(err.value)
    assert counts == {RUN: {PieceState.SORTED: len(pieces)}}  # nothing was spooled
    assert all(not sim.state.jobs for sim in sims)
