"""`pmc fleet status PLANT.toml`: poll every configured printer over IPP and SNMP, print one line each.
`pmc fleet print PLANT.toml PLAN.json --ledger L [--resume]`: print a planned run on the plant's printers;
after an interrupted run (the controller killed, the machine restarted), the same command with --resume
finishes it.
`pmc fleet demo [--workdir DIR]`: print a run on six simulated printers with a jam, a printer dropping off and
one losing its power.

A print plan (PLAN.json) names the run, its pieces and its print jobs, in print order:

    {"run": "RUN-1", "document_format": "application/vnd.pmc.pages",
     "pieces": [{"piece_id": "P1", "sequence": 0, "pages": 2, "sheets": 1, "plex": "duplex"}, ...],
     "print_jobs": [{"print_job_id": "pj-1", "piece_ids": ["P1", ...], "media": "letter"}, ...]}

The documents are made from it in the page-list format (every sheet carrying its control code), as the
demo's are; print-ready stream files are printed by `pmc demo`'s pipeline, not yet from a plan file.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from controller.config import load_plant_config
from controller.errors import ConfigError
from controller.fleet_plan import Health, impressions_of
from controller.model import Piece, PieceState, Plex, PrintJob

PAGE_LIST = "application/vnd.pmc.pages"  # controller.fleet.PAGE_LIST_FORMAT (fleet is imported lazily)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class PlanPiece(_Strict):
    piece_id: str = Field(min_length=1)
    sequence: int = Field(ge=0)
    pages: int = Field(ge=1)
    sheets: int = Field(ge=1)
    plex: Literal["simplex", "duplex"] = "simplex"
    inserts: list[int] = Field(default_factory=list)


class PlanPrintJob(_Strict):
    print_job_id: str = Field(min_length=1, pattern=r"^[^~]+$")  # '~' marks a failover's remainder
    piece_ids: list[str] = Field(min_length=1)
    media: str = "letter"
    colour: bool = False


class PrintPlan(_Strict):
    run: str = Field(min_length=1)
    document_format: Literal["application/vnd.pmc.pages"] = PAGE_LIST
    pieces: list[PlanPiece]
    print_jobs: list[PlanPrintJob]

    def model(self) -> tuple[list[Piece], list[PrintJob]]:
        pieces = [Piece(p.piece_id, self.run, p.sequence, p.pages, p.sheets, Plex(p.plex), inserts=frozenset(p.inserts))
                  for p in self.pieces]
        by_id = {p.piece_id: p for p in pieces}
        jobs = []
        for j in self.print_jobs:
            unknown = [pid for pid in j.piece_ids if pid not in by_id]
            if unknown:
                raise ConfigError(f"print job {j.print_job_id} names pieces the plan does not hold: {unknown[:5]}")
            mine = [by_id[pid] for pid in j.piece_ids]
            plex = {p.plex for p in mine}
            if len(plex) != 1:
                raise ConfigError(f"print job {j.print_job_id} mixes simplex and duplex pieces")
            jobs.append(PrintJob(j.print_job_id, self.run, tuple(j.piece_ids), sum(p.sheets for p in mine),
                                 sum(impressions_of(p) for p in mine), plex.pop(), j.media, j.colour))
        seen = [pid for j in jobs for pid in j.piece_ids]
        if len(seen) != len(set(seen)):
            raise ConfigError("a piece is in more than one print job of the plan")
        return pieces, jobs


def load_print_plan(path: str | Path) -> PrintPlan:
    try:
        return PrintPlan.model_validate_json(Path(path).read_bytes())
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read the print plan: {exc.strerror}") from None
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(x) for x in first["loc"])
        raise ConfigError(f"{path}: not a print plan: {where}: {first['msg']}") from None


def write_print_plan(path: str | Path, run: str, pieces: list[Piece], jobs: list[PrintJob]) -> None:
    plan = PrintPlan(
        run=run,
        pieces=[PlanPiece(piece_id=p.piece_id, sequence=p.sequence, pages=p.pages, sheets=p.sheets, plex=p.plex.value,
                          inserts=sorted(p.inserts)) for p in pieces],
        print_jobs=[PlanPrintJob(print_job_id=j.print_job_id, piece_ids=list(j.piece_ids), media=j.media,
                                 colour=j.colour) for j in jobs],
    )
    Path(path).write_text(plan.model_dump_json(indent=1))


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("fleet", help="the printer fleet")
    cmds = parser.add_subparsers(dest="fleet_command", metavar="ACTION", required=True)
    status = cmds.add_parser("status", help="poll the plant's printers over IPP and SNMP and show their state",
                            description="Exit code 1 when a printer is stopped or not answering.")
    status.add_argument("file", help="the plant TOML file")
    status.add_argument("--timeout", type=float, default=2.0, help="seconds to wait for each answer (default 2)")
    status.add_argument("--json", action="store_true", help="one JSON object per printer instead of a table")
    status.set_defaults(func=_status)
    run = cmds.add_parser(
        "print", help="print a planned run on the plant's printers; --resume finishes an interrupted one",
        description="Print the print jobs of PLAN.json on the printers of PLANT.toml, every piece tracked in the "
                    "ledger (its pieces must be there as sorted). If the controller stops before the run ends "
                    "(killed, crashed, the machine restarted), run the same command again with --resume: it reads "
                    "the ledger and asks each printer for the jobs it was sent. Pieces printed are not sent again; "
                    "a job a printer finished marks its pieces printed; a job still printing is followed; a job a "
                    "printer no longer holds, or holds cancelled, is sent again from where it was cut; sheets that "
                    "may be printed twice are named in the report as duplicates to pull. Without --resume, a ledger "
                    "that already shows pieces of the plan spooled or printed is refused. "
                    "Exit code 0 when every piece is printed and every impression reconciled, 1 otherwise.")
    run.add_argument("plant", help="the plant TOML file (its printers)")
    run.add_argument("plan", help="the print plan (JSON: run, pieces, print jobs)")
    run.add_argument("--ledger", required=True, help="the ledger file")
    run.add_argument("--resume", action="store_true", help="finish an interrupted run of this plan on this ledger")
    run.add_argument("--grace", type=float, default=30.0,
                     help="seconds a printer may stay stopped or silent before its work moves (default 30)")
    run.add_argument("--poll", type=float, default=1.0, help="seconds between polls of each printer (default 1)")
    run.add_argument("--io-timeout", type=float, default=5.0, help="seconds to wait for a printer's answer (default 5)")
    run.add_argument("--orphan-timeout", type=float, default=60.0,
                     help="seconds to wait, at the end, for a silent printer holding cut work (default 60)")
    run.set_defaults(func=_print)
    demo = cmds.add_parser("demo", help="print a run on six simulated printers, with a jam, a printer dropping off "
                                       "and one losing its power",
                           description="Exit code 1 when a sheet or a piece is not accounted for.")
    demo.add_argument("--workdir", help="keep the ledger here (default: a temporary folder)")
    demo.add_argument("--pieces", type=int, default=240)
    demo.set_defaults(func=_demo)


def _pct(supplies) -> str:  # noqa: ANN001
    levels = [s.percent for s in supplies or () if s.percent is not None]
    return f"{min(levels):.0f}%" if levels else "?"


async def _status(args: argparse.Namespace) -> int:
    from controller.fleet import poll_printers

    config = load_plant_config(args.file)
    if not config.printers:
        print(f"{args.file}: no printers configured")
        return 0
    looks = await poll_printers(config.printers, io_timeout_s=args.timeout)
    if args.json:
        for look in looks:
            snmp = look.snmp
            print(json.dumps({
                "printer": look.view.name,
                "health": look.view.health.value,
                "reasons": sorted(look.view.reasons),
                "ipp_state": int(look.ipp.state) if look.ipp else None,
                "queued_jobs": look.ipp.queued_job_count if look.ipp else None,
                "snmp_reachable": snmp.reachable if snmp else None,
                "page_count": snmp.page_count if snmp else None,
            }))
    else:
        print(f"{'printer':<12} {'health':<9} {'jobs':>4} {'pages':>10} {'toner':>6}  reasons")
        for look in looks:
            snmp = look.snmp
            jobs = str(look.ipp.queued_job_count) if look.ipp else "?"
            pages = str(snmp.page_count) if snmp and snmp.page_count is not None else "?"
            toner = _pct(snmp.supplies) if snmp and snmp.reachable else "?"
            reasons = ", ".join(sorted(look.view.reasons)) or "-"
            print(f"{look.view.name:<12} {look.view.health.value:<9} {jobs:>4} {pages:>10} {toner:>6}  {reasons}")
    bad = [look.view.name for look in looks if look.view.health in (Health.STOPPED, Health.OFFLINE)]
    return 1 if bad else 0


async def _print(args: argparse.Namespace) -> int:
    from controller.fleet import PAGE_LIST_FORMAT, page_list_documents, print_run
    from controller.ledger import Ledger

    config = load_plant_config(args.plant)
    if not config.printers:
        print(f"{args.plant}: no printers configured")
        return 1
    plan = load_print_plan(args.plan)
    pieces, jobs = plan.model()
    planned = {pid for j in jobs for pid in j.piece_ids}
    async with Ledger(args.ledger) as ledger:
        states: dict[PieceState | None, int] = {}
        for pid in planned:
            rec = await ledger.piece(pid)
            state = rec.state if rec is not None else None
            states[state] = states.get(state, 0) + 1
        if None in states:
            print(f"{args.ledger}: {states[None]} pieces of the plan are not in the ledger: record them (sorted) first")
            return 1
        begun = {s: n for s, n in states.items() if s not in (PieceState.SORTED, PieceState.REPRINT_QUEUED)}
        if begun and not args.resume:
            print(f"{args.ledger}: this plan's run was begun ("
                  + ", ".join(f"{n} {s.value}" for s, n in sorted(begun.items(), key=lambda i: i[0].value))
                  + "): finish it with --resume")
            return 1
        report = await print_run(config.printers, jobs, pieces, page_list_documents({p.piece_id: p for p in pieces},
                                                                                    run=plan.run),
                                 ledger, document_format=PAGE_LIST_FORMAT, grace_s=args.grace, poll_s=args.poll,
                                 io_timeout_s=args.io_timeout, orphan_timeout_s=args.orphan_timeout,
                                 resume=args.resume)
        counts = (await ledger.counts_by_state(plan.run)).get(plan.run, {})
        not_printed = 0
        for pid in planned:
            rec = await ledger.piece(pid)
            not_printed += rec is None or rec.state is not PieceState.PRINTED
    for line in report.lines():
        print(line)
    print(f"ledger: run {plan.run}: " + ", ".join(f"{n} {s.value}" for s, n in sorted(counts.items(), key=lambda i: i[0].value)))
    if not_printed:
        print(f"{not_printed} pieces of the plan are not printed")
    return 0 if not not_printed and report.balanced else 1


async def _demo(args: argparse.Namespace) -> int:
    from pathlib import Path

    from controller.fleet_demo import fleet_demo

    result = await fleet_demo(Path(args.workdir) if args.workdir else None, pieces=args.pieces)
    return 0 if result.ok else 1
