"""controller.fleet on small fleets of simulated printers: merged health, jam recovery within the grace
time, waiting for a printer, giving up on one, and print-ready PDF documents made per print job."""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path

import pytest

from controller.config import PrinterConfig
from controller.fleet import (
    PAGE_LIST_FORMAT,
    merge_health,
    page_list_documents,
    poll_printers,
    print_run,
    stream_documents,
)
from controller.fleet_plan import Health
from controller.ledger import Ledger
from controller.model import Piece, PieceEvent, PieceEventKind, PieceState, Plex, PrintJob
from drivers import ipp as ippd
from drivers import snmp as snmpd
from simulators.printer import Fault, SimIppPrinter

ROOT = Path(__file__).resolve().parents[2]
RUN = "RUN2"


def ipp_status(state=ippd.PrinterState.IDLE, reasons=("none",), accepting=True) -> ippd.PrinterStatus:
    return ippd.PrinterStatus(state, reasons, "", accepting, 0, 1, {})


def snmp_status(reachable=True, errors=frozenset(), device=snmpd.DeviceState.RUNNING) -> snmpd.PrinterStatus:
    return snmpd.PrinterStatus("lp-1", reachable, device_state=device if reachable else None,
                               errors=errors if reachable else None)


@pytest.mark.parametrize("ipp, snmp, health, reason", [
    (ipp_status(), snmp_status(), Health.IDLE, None),
    (ipp_status(ippd.PrinterState.PROCESSING), None, Health.PRINTING, None),
    (ipp_status(ippd.PrinterState.PROCESSING, ("toner-low-report",)), snmp_status(), Health.WARNING, "toner-low-report"),
    (ipp_status(ippd.PrinterState.STOPPED, ("media-jam-error",)), snmp_status(), Health.STOPPED, "media-jam-error"),
    # SNMP's jam bit stops a printer whose IPP side still says idle
    (ipp_status(), snmp_status(errors=frozenset({snmpd.PrinterError.JAMMED}), device=snmpd.DeviceState.DOWN),
     Health.STOPPED, "snmp-jammed"),
    (ipp_status(), snmp_status(errors=frozenset({snmpd.PrinterError.LOW_PAPER})), Health.WARNING, "snmp-low-paper"),
    (ipp_status(accepting=False), snmp_status(), Health.STOPPED, "not-accepting-jobs"),
    # IPP is what jobs go over: silent IPP is offline whatever SNMP says
    (None, snmp_status(), Health.OFFLINE, "ipp-not-answering"),
    (None, snmp_status(reachable=False), Health.OFFLINE, "snmp-not-answering"),
])
def test_merged_health_from_ipp_and_snmp(ipp, snmp, health, reason):
    got, reasons = merge_health(ipp, snmp)
    assert got is health
    assert (reason in reasons) if reason else not reasons


@contextlib.asynccontextmanager
async def printers(n: int, speed: float = 400):
    async with contextlib.AsyncExitStack() as stack:
        sims = [await stack.enter_async_context(SimIppPrinter(name=f"lp-{i + 1}", speed=speed, snmp=True))
                for i in range(n)]
        yield sims, [PrinterConfig(name=s.name, ipp_url=s.url, snmp_url=s.snmp_url, speed_ipm=150) for s in sims]


def write_plant(path: Path, sims: list[SimIppPrinter], *, speed_ipm: int | None = 150, duplex: bool = False) -> Path:
    """A plant file naming the simulated printers (IPP and SNMP), as an operator writes one."""
    path.write_text("".join(
        f'[[printers]]\nname = "{s.name}"\nipp_url = "{s.url}"\nsnmp_url = "{s.snmp_url}"\n'
        + (f"speed_ipm = {speed_ipm}\n" if speed_ipm is not None else "") + ("duplex = true\n" if duplex else "") + "\n"
        for s in sims))
    return path


def run_of(pieces_n: int, jobs_n: int) -> tuple[list[Piece], list[PrintJob]]:
    pieces = [Piece(f"q{i:03d}", RUN, i, pages=2 * (1 + i % 2), sheets=1 + i % 2, plex=Plex.DUPLEX)
              for i in range(pieces_n)]
    per = pieces_n // jobs_n
    jobs = []
    for j in range(jobs_n):
        mine = pieces[j * per:(j + 1) * per]
        jobs.append(PrintJob(f"pj-{j + 1}", RUN, tuple(p.piece_id for p in mine), sheets=sum(p.sheets for p in mine),
                             impressions=sum(2 * p.sheets for p in mine), plex=Plex.DUPLEX))
    return pieces, jobs


async def open_ledger(path: Path, pieces: list[Piece]) -> Ledger:
    ledger = Ledger(path)
    await ledger.start()
    await ledger.append_many([PieceEvent(PieceEventKind.INDEXED, p.piece_id, job_id=RUN) for p in pieces], batch=0)
    await ledger.append_many([PieceEvent(PieceEventKind.SORTED, p.piece_id) for p in pieces], batch=0)
    return ledger


async def run_beside(operators: dict[str, object], configs, jobs, pieces, ledger, *, grace_s: float,
                     timeout: float = 150):  # noqa: ANN001
    """`print_run` of the page-list documents, with the named operator coroutines (a hand at a printer)
    running beside it; its report."""
    async with asyncio.timeout(timeout), asyncio.TaskGroup() as tg:
        for name, operator in operators.items():
            tg.create_task(operator, name=name)
        run = tg.create_task(print_run(configs, jobs, pieces, page_list_documents({p.piece_id: p for p in pieces}, run=RUN),
                                       ledger, document_format=PAGE_LIST_FORMAT, grace_s=grace_s, poll_s=0.02,
                                       io_timeout_s=1.0, orphan_timeout_s=20), name="fleet.print_run")
    return run.result()


def routings(history) -> list:  # noqa: ANN001
    """A piece's SPOOLED events that routed it (not the records of a job reaching its printer)."""
    return [h for h in history if h.kind is PieceEventKind.SPOOLED and "submitted" not in (h.data or {})]


async def polled_while(sim: SimIppPrinter, predicate, requests: int = 12) -> None:
    """Wait until the controller has sent `sim` this many more requests while `predicate()` held."""
    while not predicate():
        await asyncio.sleep(0.005)
    start = sim.requests_answered
    while sim.requests_answered - start < requests:
        await asyncio.sleep(0.005)


@pytest.mark.timeout(180)
async def test_a_jam_cleared_within_the_grace_time_stays_put_and_its_spoils_are_reconciled(tmp_path):
    pieces, jobs = run_of(40, 1)
    async with printers(2) as (sims, configs):
        lp1 = sims[0]
        lp1.schedule(Fault.MEDIA_JAM, at_impression=20)
        ledger = await open_ledger(tmp_path / "l.sqlite", pieces)

        async def operator() -> None:
            await polled_while(lp1, lambda: Fault.MEDIA_JAM in lp1.state.faults)
            lp1.clear(Fault.MEDIA_JAM)

        try:
            async with asyncio.timeout(150), asyncio.TaskGroup() as tg:
                tg.create_task(operator(), name="operator[lp-1].clear")
                run = tg.create_task(print_run(configs, jobs, pieces,
                                               page_list_documents({p.piece_id: p for p in pieces}, run=RUN), ledger,
                                               document_format=PAGE_LIST_FORMAT, grace_s=30, poll_s=0.02,
                                               io_timeout_s=1.0), name="fleet.print_run")
            report = run.result()
            assert await ledger.verify() == []
            assert await ledger.counts_by_state(RUN) == {RUN: {PieceState.PRINTED: len(pieces)}}
        finally:
            await ledger.aclose()
    assert report.failovers == () and report.balanced
    (r,) = report.reconciliations
    spoiled = sum(len(s.pages) for s in lp1.state.spoiled)
    assert spoiled > 0 and r.spoiled == spoiled
    assert r.ipp_completed == r.planned == jobs[0].impressions
    assert r.counter_delta == lp1.state.life_impressions == r.planned + spoiled
    assert [s.sheet for s in lp1.state.output] == list(range(1, jobs[0].sheets + 1))  # each sheet once


@pytest.mark.timeout(180)
async def test_work_waits_for_a_printer_and_goes_when_one_recovers(tmp_path):
    pieces, jobs = run_of(12, 2)
    async with printers(2) as (sims, configs):
        for sim in sims:
            sim.inject(Fault.DOOR_OPEN)
        ledger = await open_ledger(tmp_path / "l.sqlite", pieces)

        async def operator() -> None:
            await polled_while(sims[1], lambda: True)
            sims[1].clear(Fault.DOOR_OPEN)

        try:
            async with asyncio.timeout(150), asyncio.TaskGroup() as tg:
                tg.create_task(operator(), name="operator[lp-2].door")
                run = tg.create_task(print_run(configs, jobs, pieces,
                                               page_list_documents({p.piece_id: p for p in pieces}, run=RUN), ledger,
                                               document_format=PAGE_LIST_FORMAT, grace_s=0.05, poll_s=0.02,
                                               io_timeout_s=1.0), name="fleet.print_run")
            report = run.result()
            assert await ledger.counts_by_state(RUN) == {RUN: {PieceState.PRINTED: len(pieces)}}
            history = await ledger.history(pieces[0].piece_id)
        finally:
            await ledger.aclose()
    assert {j.printer for j in report.jobs} == {"lp-2"} and report.balanced
    assert [h.device for h in routings(history)] == ["lp-2"]
    assert [(h.data["submitted"], h.data.get("ipp_job")) for h in history
            if h.kind is PieceEventKind.SPOOLED and h not in routings(history)] == [
        (False, None), (True, 1)]  # being sent, then taken as job 1
    assert not sims[0].state.jobs and len(sims[1].state.output) == sum(p.sheets for p in pieces)


@pytest.mark.timeout(60)
async def test_work_no_working_printer_takes_in_time_is_reported_unrouted_and_left_sorted(tmp_path):
    pieces, jobs = run_of(6, 1)
    async with printers(2) as (sims, configs):
        sims[0].inject(Fault.DOOR_OPEN)
        sims[1].inject(Fault.TONER_EMPTY)
        ledger = await open_ledger(tmp_path / "l.sqlite", pieces)
        try:
            report = await print_run(configs, jobs, pieces, page_list_documents({p.piece_id: p for p in pieces}, run=RUN),
                                     ledger, document_format=PAGE_LIST_FORMAT, poll_s=0.02, io_timeout_s=1.0,
                                     route_timeout_s=0.2)
            counts = await ledger.counts_by_state(RUN)
        finally:
            await ledger.aclose()
    why = report.unrouted["pj-1"]
    assert "lp-1: stopped (door-open-error" in why and "lp-2: stopped (" in why and "toner-empty-error" in why
    assert any("pj-1" in a and "found no printer" in a for a in report.alerts) and not report.balanced
    assert counts == {RUN: {PieceState.SORTED: len(pieces)}}


@pytest.mark.timeout(90)
async def test_print_ready_pdfs_are_made_per_print_job_and_their_stamped_codes_come_out_in_order(tmp_path):
    from controller.streams.paged import plan_stamps
    from controller.streams.pdf import READER, WRITER

    index = READER.index(ROOT / "fixtures/streams/pdf/outline.pdf", job_id=RUN)
    stamps = plan_stamps(index)
    pieces = list(index.pieces)
    halves = (pieces[:6], pieces[6:])
    jobs = [PrintJob(f"pj-{k + 1}", RUN, tuple(p.piece_id for p in half), sheets=sum(p.sheets for p in half),
                     impressions=sum(p.pages for p in half)) for k, half in enumerate(halves)]
    documents = stream_documents(index, WRITER, stamps, tmp_path / "jobs")
    async with printers(2) as (sims, configs):
        ledger = await open_ledger(tmp_path / "l.sqlite", pieces)
        try:
            report = await print_run(configs, jobs, pieces, documents, ledger, poll_s=0.02, io_timeout_s=2.0,
                                     run_timeout_s=60)
            assert await ledger.counts_by_state(RUN) == {RUN: {PieceState.PRINTED: len(pieces)}}
        finally:
            await ledger.aclose()
    assert report.balanced and len(report.jobs) == 2
    for job in report.jobs:
        sim = next(s for s in sims if s.name == job.printer)
        want = [stamps[(pid, s)].control_code for pid in next(j for j in jobs if j.print_job_id == job.print_job_id).piece_ids
                for s in range(1, index.pieces[[p.piece_id for p in pieces].index(pid)].sheets + 1)]
        assert [s.control_code for s in sim.state.output if s.job_name.split(" ")[0] == job.print_job_id] == want


async def test_fleet_status_polls_ipp_and_snmp_and_names_a_silent_printer():
    async with printers(3) as (sims, configs):
        sims[1].inject(Fault.MEDIA_JAM)
        sims[2].inject(Fault.OFFLINE)
        looks = await poll_printers(configs, io_timeout_s=1.0)  # what silent lp-3 costs; lp-1 and lp-2 must be heard
    health = {look.view.name: look.view.health for look in looks}
    assert health == {"lp-1": Health.IDLE, "lp-2": Health.STOPPED, "lp-3": Health.OFFLINE}
    assert looks[0].ipp.state == ippd.PrinterState.IDLE and looks[0].snmp.reachable and looks[0].snmp.page_count == 0
    assert "media-jam-error" in looks[1].view.reasons and looks[1].snmp.errors == {snmpd.PrinterError.JAMMED}
    assert looks[2].ipp is None and "snmp-not-answering" in looks[2].view.reasons


async def test_pmc_fleet_status_prints_a_line_per_printer_and_fails_when_one_is_down(tmp_path, capsys):
    from controller.cli import build_parser

    async with printers(2) as (sims, configs):
        plant = write_plant(tmp_path / "plant.toml", sims, speed_ipm=None)
        args = build_parser().parse_args(["fleet", "status", str(plant), "--timeout", "5"])  # both answer
        assert await args.func(args) == 0
        table = capsys.readouterr().out.splitlines()
        sims[1].inject(Fault.DOOR_OPEN)
        assert await args.func(args) == 1
        after = capsys.readouterr().out.splitlines()
    assert table[0].split()[:2] == ["printer", "health"]
    assert [line.split()[:2] for line in table[1:]] == [["lp-1", "idle"], ["lp-2", "idle"]]
    assert after[2].split()[:2] == ["lp-2", "stopped"] and "door-open-error" in after[2]


@pytest.mark.timeout(300)
async def test_the_fleet_demo_accounts_for_every_sheet(tmp_path):
    from controller.fleet_demo import fleet_demo

    lines: list[str] = []
    result = await fleet_demo(tmp_path, pieces=120, jobs=6, out=lines.append)
    assert result.ok, result.problems
    assert {f.printer for f in result.report.failovers} >= {"lp-1", "lp-2"}
    assert any(s.why.startswith("printed while the printer was not answering") for s in result.report.spoils)
    assert result.sheets_spoiled_in_path > 0 and any("every sheet accounted for" in line for line in lines)


def lose_the_print_job_answer(sim: SimIppPrinter, then=None):  # noqa: ANN001
    """A wire hook that cuts short the answer to the first job submission (the job is accepted all the same)."""
    fired = []

    def hook(answer: bytes) -> bytes:
        if sim.state.jobs and not fired:
            fired.append(True)
            if then is not None:
                then()
            return answer[:5]
        return answer

    return hook


@pytest.mark.timeout(60)
async def test_a_submission_whose_answer_is_lost_is_found_on_the_printer_and_not_sent_twice(tmp_path):
    pieces, jobs = run_of(10, 1)
    async with printers(1) as (sims, configs):
        sims[0].wire_hook = lose_the_print_job_answer(sims[0])
        ledger = await open_ledger(tmp_path / "l.sqlite", pieces)
        try:
            report = await print_run(configs, jobs, pieces, page_list_documents({p.piece_id: p for p in pieces}, run=RUN),
                                     ledger, document_format=PAGE_LIST_FORMAT, poll_s=0.02, io_timeout_s=1.0,
                                     run_timeout_s=30)
            assert await ledger.counts_by_state(RUN) == {RUN: {PieceState.PRINTED: len(pieces)}}
        finally:
            await ledger.aclose()
    assert len(sims[0].state.jobs) == 1  # not sent twice
    assert [s.sheet for s in sims[0].state.output] == list(range(1, jobs[0].sheets + 1))
    assert report.balanced and [j.ipp_job_id for j in report.jobs] == [1]


@pytest.mark.timeout(180)
async def test_work_moved_off_a_printer_that_went_silent_after_a_lost_answer_is_looked_for_there_later(tmp_path):
    from controller.fleet_demo import check_sheets

    pieces, jobs = run_of(20, 1)
    async with printers(2) as (sims, configs):
        lp1 = sims[0]
        lp1.wire_hook = lose_the_print_job_answer(lp1, then=lambda: lp1.inject(Fault.OFFLINE))
        configs[1] = configs[1].model_copy(update={"speed_ipm": 100})  # so lp-1 is chosen first
        ledger = await open_ledger(tmp_path / "l.sqlite", pieces)

        async def reconnect() -> None:
            while len(routings(await ledger.history(pieces[0].piece_id))) < 2:
                await asyncio.sleep(0.02)
            lp1.clear(Fault.OFFLINE)

        try:
            report = await run_beside({"operator[lp-1].reconnect": reconnect()}, configs, jobs, pieces, ledger,
                                      grace_s=0.1)
            assert await ledger.counts_by_state(RUN) == {RUN: {PieceState.PRINTED: len(pieces)}}
            printed_on = {h.device for p in pieces for h in await ledger.history(p.piece_id)
                          if h.kind is PieceEventKind.PRINTED}
        finally:
            await ledger.aclose()
    assert printed_on == {"lp-2"}
    late = [s for s in report.spoils if s.printer == "lp-1"]
    assert lp1.state.output and sum(s.sheets for s in late) == len(lp1.state.output)  # every sheet it printed named
    assert any(a.startswith("lp-1 delivered") and "pull the sheets" in a for a in report.alerts)
    assert check_sheets([[s.control_code for s in sim.state.output] for sim in sims], pieces, report, RUN) == []
