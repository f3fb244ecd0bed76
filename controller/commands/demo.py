"""`pmc demo`: a simulated print room, end to end, with embedded defaults.

The stages, each on real parts:
1. compose: the simulated composition system writes a statement run (a PDF print stream, reportlab);
2. index: pmc reads the stream into mail pieces and records them in the ledger, all or nothing
   (pieces without a usable postal code are quarantined and listed, never dropped silently);
3. presort: USPS First-Class letters with the synthetic reference tables; trays, IMbs, the postage statement;
4. engineer: print-ready PDFs in presort order, cut at tray boundaries, every sheet stamped with its
   control code (DataMatrix + machine-readable twin) and each address sheet with its IMb;
5. print: the print jobs go to a fleet of simulated printers over IPP (SNMP watching), one of which
   jams mid-job; the rest of its job moves to another printer; impressions are reconciled;
6. the ledger is verified and summarised.
Inserting (cameras, divert, match-back) and the reject loop are not built yet: the run stops at printed.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import random
import tempfile
import time
from pathlib import Path

from controller.commands.ledger import _summary
from controller.commands.presort import SYNTHETIC_TABLES, load_prices, load_tables, run_presort
from controller.ledger import Ledger
from controller import pipeline
from mailsort.summary import format_statement
from mailsort.synthetic import synthetic_mailing
from simulators.composer import ComposedPiece, compose_statement_run

FIRST = ("ANNA", "BEN", "CARLA", "DEV", "ELENA", "FRANK", "GWEN", "HUGO", "IRIS", "JONAS", "KIM", "LEO")
LAST = ("SMITH", "GARCIA", "NGUYEN", "MUELLER", "ROSSI", "KOWALSKI", "OKAFOR", "LINDQVIST")
STREETS = ("MAIN ST", "OAK AVE", "ELM RD", "LAKE DR", "HILL CT", "PARK PL")


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("demo", help="run a simulated print room end to end")
    parser.add_argument("--pieces", type=int, default=4000, help="pieces in the run (default 4000)")
    parser.add_argument("--seed", type=int, default=1, help="random seed for the mailing and the faults (default 1)")
    parser.add_argument("--speed", type=float, default=400.0, help="simulated printers run this many times real time (default 400)")
    parser.add_argument("--workdir", help="keep the ledger, streams and reports here (default: a temporary folder)")
    parser.set_defaults(func=run_demo)


async def run_demo(args: argparse.Namespace) -> int:
    if args.workdir:
        Path(args.workdir).mkdir(parents=True, exist_ok=True)
        return await _run(args, Path(args.workdir))
    with tempfile.TemporaryDirectory(prefix="pmc-demo-") as tmp:
        return await _run(args, Path(tmp))


def _compose(path: Path, count: int, seed: int) -> None:
    rng = random.Random(seed)
    pieces = []
    for i, mp in enumerate(synthetic_mailing(count, seed)):
        # a composition tool writes what the customer file holds, a malformed postal code included
        postal = mp.postcode
        city = f"CITY {postal[:3]}" if postal[:3].isdigit() else "NOWHERE"
        pieces.append(ComposedPiece(
            mp.piece_id, rng.choice((1, 1, 2, 2, 3, 4)), postal,
            (f"{rng.choice(FIRST)} {rng.choice(LAST)}", f"{rng.randrange(1, 9999)} {rng.choice(STREETS)}",
             f"{city} {postal[:5]}".strip()),
        ))
    compose_statement_run(path, pieces, title=f"pmc demo statement run ({count} pieces)")


def _step(n: int, text: str) -> float:
    print(f"[{n}] {text}", flush=True)
    return time.perf_counter()


def _done(t: float, text: str) -> None:
    print(f"    {text} ({time.perf_counter() - t:.2f} s)", flush=True)


async def _run(args: argparse.Namespace, workdir: Path) -> int:
    job = "DEMO-0001"
    stream = workdir / "statements.pdf"
    print(f"pmc demo: run {job}, {args.pieces} pieces, working in {workdir}")

    t = _step(1, "compose: the simulated composition system writes the statement run")
    await asyncio.to_thread(_compose, stream, args.pieces, args.seed)
    _done(t, f"{stream.name}, {stream.stat().st_size / 1e6:.1f} MB")

    async with Ledger(workdir / "pmc-ledger.sqlite") as ledger:
        t = _step(2, "index: read the stream into mail pieces; record them in the ledger (all or nothing)")
        index = await pipeline.import_stream(ledger, stream, job_id=job, lenient=True)
        _done(t, f"{len(index.pieces)} pieces, {index.pages} pages, {index.sheets} sheets")
        for q in index.quarantined:
            print(f"    quarantined: piece {q.piece_id or '(no ID read)'} (page {q.page}): {q.reason}")

        t = _step(3, "presort: USPS First-Class automation letters, synthetic reference tables")
        result, summary = await asyncio.to_thread(
            run_presort, pipeline.mail_pieces(index), "usps-fcm", load_tables("usps-fcm", None),
            pipeline.demo_options(dt.date(2026, 11, 23)), load_prices(SYNTHETIC_TABLES / "PRICES.csv"),
        )
        await pipeline.record_sort(ledger, result, job)
        _done(t, f"{len(result.containers)} trays")
        print("    " + format_statement(summary, "USD").replace("\n", "\n    "))

        t = _step(4, "engineer: print-ready PDFs in presort order, cut at tray boundaries, every sheet stamped")
        run = await asyncio.to_thread(pipeline.engineer, index, result, workdir / "print-jobs", job_id=job)
        _done(t, f"{len(run.print_jobs)} print jobs: " + ", ".join(
            f"{j.print_job_id} ({len(j.piece_ids)} pieces, {j.sheets} sheets)" for j in run.print_jobs))

        t = _step(5, "print: the print jobs go to four simulated printers over IPP, SNMP watching; lp-1 jams mid-job")
        report, problems = await _print(index, run, ledger, job, speed=args.speed)
        for line in report.lines():
            print(f"    {line}")
        _done(t, "every sheet on the output stacks as planned, spoils named" if not problems
              else f"{len(problems)} PROBLEMS: {problems[:3]}")

        t = _step(6, "verify the ledger")
        problems += await ledger.verify()
        _done(t, "consistent" if not problems else "; ".join(problems[:3]))
    await _summary(argparse.Namespace(ledger=str(workdir / "pmc-ledger.sqlite"), json=False))
    return 1 if problems else 0


async def _print(index, run: pipeline.EngineeredRun, ledger: Ledger, job: str, *, speed: float):
    """Print the engineered run on simulated printers, with a jam, and check the output stacks."""
    import contextlib

    from controller.config import PrinterConfig
    from controller.fleet import print_run, stream_documents
    from controller.streams.registry import writer_for
    from controller.fleet_demo import check_sheets
    from simulators.printer import Fault, SimIppPrinter

    files = {j.print_job_id: path for j, path in zip(run.print_jobs, run.files)}
    # a job cut at failover is a new print job: its document is written when it is routed
    rewrite = stream_documents(index, writer_for(index.format), run.plan.stamps, run.files[0].parent / "rerouted")

    def document(pj):
        return files[pj.print_job_id].read_bytes() if pj.print_job_id in files else rewrite(pj)

    async with contextlib.AsyncExitStack() as stack:
        sims = [await stack.enter_async_context(SimIppPrinter("production-mono-150", name=f"lp-{n}", speed=speed, snmp=True))
                for n in range(1, 5)]
        configs = [PrinterConfig(name=s.name, ipp_url=s.url, snmp_url=s.snmp_url, speed_ipm=int(s.model.speed_ipm),
                                 media=["letter"], duplex=s.model.duplex, colour=s.model.colour) for s in sims]
        sims[0].schedule(Fault.MEDIA_JAM, at_impression=run.print_jobs[0].impressions // 2)
        report = await print_run(configs, run.print_jobs, index.pieces, document,
                                 ledger, grace_s=0.2, poll_s=0.05, io_timeout_s=2.0, run_timeout_s=300)
        problems = check_sheets([[s.control_code for s in sim.state.output] for sim in sims], list(index.pieces),
                                report, job)
    problems += [f"print job {r.print_job_id} on {r.printer}: {'; '.join(r.discrepancies)}"
                 for r in report.reconciliations if not r.balanced]
    return report, problems
