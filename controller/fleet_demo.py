"""The fleet on a simulated print room, for `pmc demo` and a look by hand.

    from controller.fleet_demo import fleet_demo
    result = await fleet_demo(Path("out/fleet"))      # result.ok, result.report.lines()

Starts six simulated printers (five duplex mono production printers and an office colour one, each with
IPP and SNMP on loopback), puts a run of pieces in a ledger as sorted, and prints it with
`controller.fleet.print_run`: lp-1 jams mid-job and is left jammed, lp-2 drops off the network mid-job
(and, as a printer does, goes on printing unheard until an operator reconnects it once its work has
moved), lp-3 loses its power mid-job (it stops printing and forgets its jobs; an operator switches it on
again once its work has moved, and its page counter tells what it printed). Then it checks the physical truth: every sheet of every piece on some output stack once, plus
once more for each delivered sheet the report names as spoiled; every piece printed in the ledger, and
the ledger sound. The simulators are imported only here, never by the fleet itself.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import tempfile
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from controller.config import PrinterConfig
from controller.fleet import PAGE_LIST_FORMAT, FleetReport, page_list_documents, print_run
from controller.ledger import Ledger
from controller.model import Piece, PieceEvent, PieceEventKind, PieceState, Plex, PrintJob

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class FleetDemoResult:
    report: FleetReport
    pieces: int
    sheets_delivered: int  # on the output stacks, duplicates and cut pieces' sheets included
    sheets_spoiled_in_path: int  # spoiled inside printers at jams
    problems: tuple[str, ...]  # what the checks found wrong; () when the run is sound
    ledger_path: str

    @property
    def ok(self) -> bool:
        return not self.problems


def demo_run(run: str, pieces_n: int, jobs_n: int) -> tuple[list[Piece], list[PrintJob]]:
    """Duplex letter pieces of 1-3 sheets, cut into `jobs_n` print jobs."""
    pieces = [Piece(f"{run}-{i:05d}", run, i, pages=2 * (1 + i % 3), sheets=1 + i % 3, plex=Plex.DUPLEX)
              for i in range(pieces_n)]
    cut = [round(pieces_n * k / jobs_n) for k in range(jobs_n + 1)]
    jobs = []
    for k in range(jobs_n):
        mine = pieces[cut[k]:cut[k + 1]]
        jobs.append(PrintJob(f"pj-{k + 1}", run, tuple(p.piece_id for p in mine), sheets=sum(p.sheets for p in mine),
                             impressions=sum(2 * p.sheets for p in mine), plex=Plex.DUPLEX))
    return pieces, jobs


def check_sheets(outputs: list[list[str | None]], pieces: list[Piece], report: FleetReport, run: str) -> list[str]:
    """Each sheet's control code on the output stacks once, plus once per reported spoil of a delivered sheet."""
    from drivers.controlcode import ControlCode, encode, job_token, piece_token

    token = job_token(run)
    extra: Counter = Counter()
    for s in report.spoils:
        if s.piece_id is not None:
            for sheet in range(s.first_sheet, s.first_sheet + s.sheets):
                extra[(s.piece_id, sheet)] += 1
    want = Counter()
    for p in pieces:
        for sheet in range(1, p.sheets + 1):
            want[encode(ControlCode(token, piece_token(p.sequence), sheet, p.sheets))] = 1 + extra[(p.piece_id, sheet)]
    got = Counter(code for stack in outputs for code in stack)
    problems = []
    for code in sorted(set(want) | set(got), key=str):
        if got[code] != want[code]:
            problems.append(f"sheet {code}: on the output stacks {got[code]} times, expected {want[code]}")
    return problems


async def fleet_demo(
    workdir: Path | None = None,
    *,
    pieces: int = 240,
    jobs: int = 8,
    speed: float = 400,
    jam: bool = True,
    offline: bool = True,
    power_cut: bool = True,
    out: Callable[[str], None] = print,
) -> FleetDemoResult:
    """Print a run on six simulated printers with a jam, a printer dropping off and one losing its power."""
    from simulators.printer import Fault, SimIppPrinter

    run = "FLEET"
    all_pieces, all_jobs = demo_run(run, pieces, jobs)
    by_id = {p.piece_id: p for p in all_pieces}
    with contextlib.ExitStack() as cleanup:
        if workdir is None:
            workdir = Path(cleanup.enter_context(tempfile.TemporaryDirectory(prefix="pmc-fleet-")))
        workdir = Path(workdir)
        workdir.mkdir(parents=True, exist_ok=True)
        ledger_path = workdir / "fleet-ledger.sqlite"
        for suffix in ("", "-wal", "-shm"):
            Path(f"{ledger_path}{suffix}").unlink(missing_ok=True)
        async with contextlib.AsyncExitStack() as stack:
            sims = []
            for n in range(1, 7):
                model = "production-mono-150" if n <= 5 else "office-colour-60"
                sims.append(await stack.enter_async_context(
                    SimIppPrinter(model, name=f"lp-{n}", speed=speed, snmp=True)))
            configs = [PrinterConfig(name=s.name, ipp_url=s.url, snmp_url=s.snmp_url, speed_ipm=int(s.model.speed_ipm),
                                     media=["letter"], duplex=s.model.duplex, colour=s.model.colour) for s in sims]
            out(f"fleet: {len(sims)} simulated printers (IPP + SNMP on loopback), {pieces} pieces in {jobs} print jobs")
            if jam:
                sims[0].schedule(Fault.MEDIA_JAM, at_impression=all_jobs[0].impressions // 2)
                out("fleet: lp-1 will jam halfway through its first job and stay jammed")
            if offline:
                sims[1].schedule(Fault.OFFLINE, at_impression=all_jobs[1].impressions // 4)
                out("fleet: lp-2 will drop off the network a quarter into its first job, and print on unheard")
            if power_cut:
                sims[2].schedule(Fault.POWER_OFF, at_impression=all_jobs[2].impressions // 3)
                out("fleet: lp-3 will lose its power a third into its first job")
            ledger = await stack.enter_async_context(Ledger(ledger_path))
            await ledger.append_many([PieceEvent(PieceEventKind.INDEXED, p.piece_id, job_id=run) for p in all_pieces],
                                     batch=0)
            await ledger.append_many([PieceEvent(PieceEventKind.SORTED, p.piece_id) for p in all_pieces], batch=0)

            async def reconnect_lp2() -> None:
                # an operator plugs lp-2 back in once the controller has moved its work (the ledger shows it)
                last = all_jobs[1].piece_ids[-1]
                while sum(h.kind is PieceEventKind.SPOOLED for h in await ledger.history(last)) < 2:
                    await asyncio.sleep(0.05)
                sims[1].clear(Fault.OFFLINE)
                out("fleet: lp-2 is back on the network")

            async def power_on_lp3() -> None:
                # an operator switches lp-3 on again once the controller has moved the job it was printing (pj-3:
                # the ledger shows its last piece spooled under a second print job); never after the run ended
                last = all_jobs[2].piece_ids[-1]
                while not printing.done():
                    names = {h.data.get("print_job") for h in await ledger.history(last)
                             if h.kind is PieceEventKind.SPOOLED and h.data}
                    if Fault.POWER_OFF in sims[2].state.faults and len(names) >= 2:
                        sims[2].clear(Fault.POWER_OFF)
                        out("fleet: lp-3 is switched on again")
                        return
                    await asyncio.sleep(0.05)

            async with asyncio.TaskGroup() as tg:
                if offline:
                    tg.create_task(reconnect_lp2(), name="operator[lp-2].reconnect")
                if power_cut:
                    tg.create_task(power_on_lp3(), name="operator[lp-3].power")
                # io_timeout_s bounds the wait for a printer that answers as well as for a silent one: the printers
                # answer from this process's event loop, and on a busy machine a stall of the process longer than
                # the bound (it was 0.5 s) made one that answers look silent, and moved its work. A silent printer
                # is failed over after two unanswered polls (IPP and SNMP each wait the bound): 1.5 s keeps the
                # demo within a few seconds of what it took (lp-2 and lp-3 are silent until their work has moved)
                printing = tg.create_task(print_run(
                    configs, all_jobs, all_pieces, page_list_documents(by_id, run=run), ledger,
                    document_format=PAGE_LIST_FORMAT, grace_s=0.2, poll_s=0.05, io_timeout_s=1.5,
                    orphan_timeout_s=30, run_timeout_s=120), name="fleet.print_run")
            report = printing.result()
            problems = check_sheets([[s.control_code for s in sim.state.output] for sim in sims], all_pieces,
                                    report, run)
            problems += await ledger.verify()
            counts = (await ledger.counts_by_state(run)).get(run, {})
            if counts != {PieceState.PRINTED: len(all_pieces)}:
                problems.append(f"the ledger's pieces by state are {counts}, not all {len(all_pieces)} printed")
            for r in report.reconciliations:
                if not r.balanced:  # lp-2's late sheets included: they are named as duplicates
                    problems.append(f"print job {r.print_job_id} on {r.printer} does not balance: {r.discrepancies}")
            delivered = sum(len(sim.state.output) for sim in sims)
            in_path = sum(len(sim.state.spoiled) for sim in sims)
    for line in report.lines():
        out(f"fleet: {line}")
    out(f"fleet: {delivered} sheets delivered, {in_path} spoiled in paper paths; "
        + ("every sheet accounted for" if not problems else f"{len(problems)} PROBLEMS: {problems[:3]}"))
    return FleetDemoResult(report, len(all_pieces), delivered, in_path, tuple(problems), str(ledger_path))
