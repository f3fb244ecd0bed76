"""`pmc fleet status PLANT.toml`: poll every configured printer over IPP and SNMP, print one line each.
`pmc fleet print PLANT.toml PLAN.json --ledger L [--resume]`: print a planned run on the plant's printers;
after an interrupted run (the controller killed, the machine restarted), the same command with --resume
finishes it.
`pmc fleet plan STREAM JOBS... --out PLAN.json`: write the plan of print-ready job files (those `pmc stream split`
cut from STREAM, or any engineered files of its pieces).
`pmc ledger import PLAN.json --ledger L` records a plan's pieces as sorted (`import_plan` here), which
`pmc fleet print` needs of them.
`pmc fleet demo [--workdir DIR]`: print a run on six simulated printers with a jam, a printer dropping off and
one losing its power.

A print plan (PLAN.json) names the run, its pieces and its print jobs, in print order:

    {"run": "RUN-1", "document_format": "application/vnd.pmc.pages",
     "pieces": [{"piece_id": "P1", "sequence": 0, "pages": 2, "sheets": 1, "plex": "duplex"}, ...],
     "print_jobs": [{"print_job_id": "pj-1", "piece_ids": ["P1", ...], "media": "letter"}, ...]}

With the page-list format the documents are made from it (every sheet carrying its control code), as the
demo's are. With a stream format (application/pdf, application/postscript, application/vnd.ibm.modcap for AFP,
application/vnd.hp-pcl) every print job names its print-ready file, relative to the plan file:

    {"run": "STATEMENTS", "document_format": "application/vnd.ibm.modcap", "pieces": [...],
     "print_jobs": [{"print_job_id": "job-001", "piece_ids": [...], "file": "jobs/job-001.afp"}, ...]}

and the file is sent as it is; the remainder of a job cut by a failover (or found cut on --resume) is cut from
the stream the files were cut from (the plan's "source": {"file", "format", "sidecar", "stamped"}), every
sheet stamped with its control code as `pmc stream split --stamp` does; a plan with no source has it copied
from the job's own file.
"""

from __future__ import annotations

import argparse
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from controller.config import load_plant_config
from controller.errors import ConfigError, PieceError
from controller.fleet_plan import PAGE_LIST_FORMAT as PAGE_LIST
from controller.fleet_plan import STREAM_DOCUMENT_FORMATS as STREAM_FORMATS
from controller.fleet_plan import Health, impressions_of
from controller.model import Piece, PieceEvent, PieceEventKind, PieceState, Plex, PrintJob

if TYPE_CHECKING:
    from controller.ledger import Ledger, PieceRecord

DocumentFormat = Literal["application/vnd.pmc.pages", "application/vnd.ibm.modcap", "application/pdf",
                         "application/postscript", "application/vnd.hp-pcl"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class PlanPiece(_Strict):
    piece_id: str = Field(min_length=1)
    sequence: int = Field(ge=0)
    pages: int = Field(ge=1)
    sheets: int = Field(ge=1)
    plex: Literal["simplex", "duplex"] = "simplex"
    inserts: list[int] = Field(default_factory=list)

    @classmethod
    def of(cls, p: Piece) -> "PlanPiece":
        return cls(piece_id=p.piece_id, sequence=p.sequence, pages=p.pages, sheets=p.sheets, plex=p.plex.value,
                   inserts=sorted(p.inserts))


class PlanPrintJob(_Strict):
    print_job_id: str = Field(min_length=1, pattern=r"^[^~]+$")  # '~' marks a failover's remainder
    piece_ids: list[str] = Field(min_length=1)
    media: str = "letter"
    colour: bool = False
    file: str | None = Field(default=None, min_length=1)  # its print-ready file, relative to the plan file


class PlanSource(_Strict):
    """The stream the job files were cut from: a failover's remainder is cut from it anew."""

    file: str = Field(min_length=1)  # relative to the plan file
    format: Literal["afp", "pdf", "ps", "pcl"]
    sidecar: str | None = None  # its index file, relative to the plan file (None: none)
    stamped: bool = True  # the job files carry control codes: so does a remainder


class PrintPlan(_Strict):
    run: str = Field(min_length=1)
    document_format: DocumentFormat = PAGE_LIST
    source: PlanSource | None = None
    pieces: list[PlanPiece]
    print_jobs: list[PlanPrintJob]

    @model_validator(mode="after")
    def _files_go_with_a_stream_format(self) -> "PrintPlan":
        for j in self.print_jobs:
            if self.document_format == PAGE_LIST and j.file is not None:
                raise ValueError(f"print job {j.print_job_id} names a file, and the plan's document_format is the "
                                 f"page list (made from the plan): name the file's format")
            if self.document_format != PAGE_LIST and j.file is None:
                raise ValueError(f"print job {j.print_job_id} names no file ({self.document_format} documents "
                                 f"are not made from the plan)")
        return self

    def files(self, plan_path: str | Path) -> dict[str, Path]:
        """Each print job's file, found relative to the plan file."""
        here = Path(plan_path).parent
        return {j.print_job_id: here / j.file for j in self.print_jobs if j.file is not None}

    def source_index(self, plan_path: str | Path):  # noqa: ANN201
        """The source stream's index, as the plan was made from it (its job ID the run), or None."""
        from controller.streams.registry import index_stream

        if self.source is None:
            return None
        here = Path(plan_path).parent
        return index_stream(here / self.source.file, job_id=self.run, fmt=self.source.format,
                            sidecar=here / self.source.sidecar if self.source.sidecar else None)

    def model(self) -> tuple[list[Piece], list[PrintJob]]:
        listed: set[str] = set()
        for p in self.pieces:
            if p.piece_id in listed:
                raise ConfigError(f"piece {p.piece_id} is listed more than once in the plan's pieces")
            listed.add(p.piece_id)
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
        pieces=[PlanPiece.of(p) for p in pieces],
        print_jobs=[PlanPrintJob(print_job_id=j.print_job_id, piece_ids=list(j.piece_ids), media=j.media,
                                 colour=j.colour) for j in jobs],
    )
    Path(path).write_text(plan.model_dump_json(indent=1))


@dataclass(frozen=True, slots=True)
class PlanImport:
    """What `import_plan` found in the ledger and wrote to it."""

    run: str
    pieces: int  # in the plan
    imported: int  # not in the ledger before: recorded indexed, then sorted
    sorted_now: int  # in the ledger as indexed under the run: sorted
    held: dict[PieceState, int] = field(default_factory=dict)  # under the run already, left as they were
    events: int = 0  # events written (0: the ledger is as it was)


_IMPORT_ATTEMPTS = 2  # another writer recorded some of the plan between our read and our write: look again once


async def import_plan(ledger: "Ledger", plan: PrintPlan, *, source: str) -> PlanImport:
    """Record every piece of `plan` in `ledger` as sorted under the plan's run, in one all-or-nothing batch, so
    that `pmc fleet print` can print it.

    A piece not in the ledger is recorded indexed (its pages and sheets, `source` naming the plan) then sorted (its
    sequence); one the ledger holds under the run as indexed is sorted; one it holds under the run in any later
    state is left as it is. Importing a plan twice therefore writes nothing the second time. Refused, with nothing
    written (PieceError naming the pieces): a piece the ledger holds under another run, and pieces to record while
    others of the plan are past sorted (the run was begun: `pmc fleet print --resume` finishes it)."""
    plan.model()  # the plan's own checks: pieces its print jobs name, one job per piece, no piece listed twice
    attempts = _IMPORT_ATTEMPTS
    while True:
        records = await ledger.pieces(p.piece_id for p in plan.pieces)
        absent: list[PlanPiece] = []
        indexed: list[PlanPiece] = []
        held: dict[PieceState, int] = {}
        elsewhere: list[PieceRecord] = []
        for p in plan.pieces:
            rec = records[p.piece_id]
            if rec is None:
                absent.append(p)
            elif rec.job_id != plan.run:
                elsewhere.append(rec)
            elif rec.state is PieceState.INDEXED:
                indexed.append(p)
            else:
                held[rec.state] = held.get(rec.state, 0) + 1
        if elsewhere:
            raise PieceError(f"{ledger.path}: {len(elsewhere)} pieces of the plan are in the ledger under another run "
                             f"than the plan's {plan.run}, nothing imported: "
                             + _some([f"{r.piece_id} ({r.job_id}, {r.state.value})" for r in elsewhere]),
                             piece_id=elsewhere[0].piece_id)
        begun = {s: n for s, n in held.items() if s is not PieceState.SORTED}
        if (absent or indexed) and begun:
            new = ", ".join(filter(None, [f"{len(absent)} not in the ledger" if absent else "",
                                          f"{len(indexed)} only indexed" if indexed else ""]))
            raise PieceError(f"{ledger.path}: run {plan.run} was begun ({_states(begun)}) and pieces of the plan are "
                             f"not sorted ({new}): nothing imported (a begun run takes no new pieces; pmc fleet "
                             f"print --resume finishes it)", piece_id=(absent or indexed)[0].piece_id)
        events = [PieceEvent(PieceEventKind.INDEXED, p.piece_id, job_id=plan.run,
                             data={"pages": p.pages, "sheets": p.sheets, "plan": source}) for p in absent]
        events += [PieceEvent(PieceEventKind.SORTED, p.piece_id, data={"sequence": p.sequence, "plan": source})
                   for p in (*absent, *indexed)]
        if not events:
            return PlanImport(plan.run, len(plan.pieces), 0, 0, held, 0)
        try:
            await ledger.append_many(events, batch=0)
        except PieceError:
            attempts -= 1
            if not attempts:
                raise
            continue  # refused as a whole, nothing of it written: what changed is read again
        return PlanImport(plan.run, len(plan.pieces), len(absent), len(indexed), held, len(events))


def _some(items: list[str], n: int = 5) -> str:
    return ", ".join(items[:n]) + (f" and {len(items) - n} more" if len(items) > n else "")


def _states(counts: dict[PieceState, int]) -> str:
    return ", ".join(f"{n} {s.value}" for s, n in sorted(counts.items(), key=lambda i: i[0].value))


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
                    "ledger (its pieces must be there as sorted: pmc ledger import PLAN.json --ledger L puts them "
                    "there). If the controller stops before the run ends "
                    "(killed, crashed, the machine restarted), run the same command again with --resume: it reads "
                    "the ledger and asks each printer for the jobs it was sent. Pieces printed are not sent again; "
                    "a job a printer finished marks its pieces printed; a job still printing is followed; a job a "
                    "printer no longer holds, or holds cancelled, is sent again from where it was cut; sheets that "
                    "may be printed twice are named in the report as duplicates to pull. The ledger records each "
                    "job being sent and taken, with the printer's page counter then: a job never sent is sent with "
                    "no alarm, and what a printer made of a job it lost in a restart is counted. Without --resume, a ledger "
                    "that already shows pieces of the plan spooled or printed is refused. "
                    "Exit code 0 when every piece is printed and every impression reconciled, 1 otherwise.")
    run.add_argument("plant", help="the plant TOML file (its printers)")
    run.add_argument("plan", help="the print plan (JSON: run, pieces, print jobs; see pmc fleet plan for one of "
                                  "print-ready job files)")
    run.add_argument("--ledger", required=True, help="the ledger file")
    run.add_argument("--resume", action="store_true", help="finish an interrupted run of this plan on this ledger")
    run.add_argument("--grace", type=float, default=30.0,
                     help="seconds a printer may stay stopped or silent before its work moves (default 30)")
    run.add_argument("--poll", type=float, default=1.0, help="seconds between polls of each printer (default 1)")
    run.add_argument("--io-timeout", type=float, default=5.0, help="seconds to wait for a printer's answer (default 5)")
    run.add_argument("--orphan-timeout", type=float, default=60.0,
                     help="seconds to wait, at the end, for a silent printer holding cut work (default 60)")
    run.set_defaults(func=_print)
    plan = cmds.add_parser(
        "plan", help="write a print plan (PLAN.json) for print-ready job files cut from a stream",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Write the plan `pmc fleet print` prints: the run and its pieces from STREAM (the stream the "
                    "jobs were cut from, indexed as `pmc stream split` indexed it: same --job), one print job per "
                    "job file in the order given (its ID the file's name without suffix, its pieces as the file "
                    "holds them, in that order), each file named relative to the plan file and sent as it is, "
                    "with the IPP document-format of its stream format. Every job file must be of the stream's "
                    "format and hold pieces of the stream, each piece in one job file only, with the sheets it "
                    "has in the stream. Pieces of the stream in no job file are listed and left out of the plan. The plan "
                    "also names the stream (and its index file): when a printer fails mid-job, the rest of the job "
                    "is cut from the stream and stamped with the same control codes, so keep it where it is.",
        epilog="example:\n"
               "  pmc stream split STATEMENTS.afp --sort postal --jobs 3 --stamp --out jobs/\n"
               "  pmc fleet plan STATEMENTS.afp jobs/ --out plan.json\n"
               "  pmc ledger import plan.json --ledger L.sqlite   # its pieces in the ledger as sorted\n"
               "  pmc fleet print plant.toml plan.json --ledger L.sqlite\n"
               "Exit code 1 (naming the file and piece) when a job file does not fit the stream.")
    plan.add_argument("stream", type=Path, help="the stream the job files were cut from (AFP, PDF, PostScript, PCL)")
    plan.add_argument("jobs", type=Path, nargs="+",
                      help="the job files in print order; a folder stands for its files of the stream's format, "
                           "sorted by name")
    plan.add_argument("--out", type=Path, required=True, help="the plan file to write")
    plan.add_argument("--job", help="the run: the job ID of the pieces in the ledger (default: the stream's file "
                                    "name without suffix, as pmc stream split and pmc stream inspect use)")
    plan.add_argument("--format", help="the stream's format, to skip sniffing: afp, pdf, ps or pcl")
    side = plan.add_mutually_exclusive_group()
    side.add_argument("--sidecar", type=Path, help="the stream's index file (default: the one beside it, if any)")
    side.add_argument("--no-sidecar", action="store_true", help="ignore any index file beside the stream")
    plan.add_argument("--media", default="letter", help="the media of every print job (default letter)")
    plan.add_argument("--colour", action="store_true", help="the print jobs need a colour printer")
    plan.add_argument("--unstamped", action="store_true",
                      help="the job files carry no control codes (split without --stamp): a remainder cut from the "
                           "stream after a failover is not stamped either (default: stamped, as --stamp does)")
    plan.set_defaults(func=_plan)
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


def plan_for_job_files(stream: Path, job_files: list[Path], plan_path: Path, *, job_id: str | None = None,
                       fmt: str | None = None, sidecar: Path | Literal["auto"] | None = "auto",
                       media: str = "letter", colour: bool = False, stamped: bool = True) -> tuple[PrintPlan, list[str]]:
    """The print plan of print-ready job files cut from `stream` (see `pmc fleet plan --help`), and the IDs of the
    stream's pieces no job file holds. Raises ConfigError or StreamError naming the file and piece that do not fit."""
    from controller.streams.registry import format_named, index_stream, sniff
    from controller.streams.sidecar import find_sidecar

    side = find_sidecar(Path(stream)) if sidecar == "auto" else sidecar
    source = index_stream(Path(stream), job_id=job_id, fmt=fmt, sidecar=side)
    by_id = {p.piece_id: p for p in source.pieces}
    files: list[Path] = []
    for path in job_files:
        path = Path(path)
        if path.is_dir():
            inside = sorted(f for f in path.iterdir() if f.is_file() and not f.name.startswith("."))
            files += [f for f in inside if _format_of(f, sniff) is source.format]
        else:
            files.append(path)
    if not files:
        raise ConfigError(f"no {source.format.value} job files in {', '.join(map(str, job_files))}")
    here = Path(plan_path).resolve().parent
    jobs: list[PlanPrintJob] = []
    taken: dict[str, str] = {}
    for f in files:
        found = sniff(f)
        if found is not source.format:
            raise ConfigError(f"{f}: a {found.value} file, the stream {stream} is {source.format.value}")
        name = f.stem
        if "~" in name or any(j.print_job_id == name for j in jobs):
            raise ConfigError(f"{f}: print job name {name!r} " + ("holds '~' (it marks a failover's remainder)"
                                                                 if "~" in name else "is taken by another job file"))
        held = index_stream(f, fmt=format_named(found), sidecar=None)
        for p in held.pieces:
            mine = by_id.get(p.piece_id)
            if mine is None:
                raise ConfigError(f"{f}: piece {p.piece_id} is not in the stream {stream}")
            if p.piece_id in taken:
                raise ConfigError(f"{f}: piece {p.piece_id} is in {taken[p.piece_id]} too")
            if (p.sheets, p.plex) != (mine.sheets, mine.plex):
                raise ConfigError(f"{f}: piece {p.piece_id} has {p.sheets} {p.plex.value} sheets, in the stream "
                                  f"{mine.sheets} {mine.plex.value}")
            taken[p.piece_id] = f.name
        if not held.pieces:
            raise ConfigError(f"{f}: holds no piece")
        jobs.append(PlanPrintJob(print_job_id=name, piece_ids=[p.piece_id for p in held.pieces], media=media,
                                 colour=colour, file=os.path.relpath(f.resolve(), here)))
    planned = [p for p in source.pieces if p.piece_id in taken]
    plan = PrintPlan(
        run=source.job_id, document_format=STREAM_FORMATS[source.format.value],
        source=PlanSource(file=os.path.relpath(Path(stream).resolve(), here), format=source.format.value,
                          sidecar=os.path.relpath(Path(side).resolve(), here) if side is not None else None,
                          stamped=stamped),
        pieces=[PlanPiece.of(p) for p in planned],
        print_jobs=jobs,
    )
    plan.model()  # its own checks (one plex per job)
    return plan, [p.piece_id for p in source.pieces if p.piece_id not in taken]


def _format_of(path: Path, sniff):  # noqa: ANN001, ANN202
    from controller.errors import StreamError

    try:
        return sniff(path)
    except StreamError:
        return None


async def _plan(args: argparse.Namespace) -> int:
    import asyncio

    sidecar = None if args.no_sidecar else (args.sidecar or "auto")
    plan, left_out = await asyncio.to_thread(
        plan_for_job_files, args.stream, args.jobs, args.out, job_id=args.job, fmt=args.format, sidecar=sidecar,
        media=args.media, colour=args.colour, stamped=not args.unstamped)
    try:
        Path(args.out).write_text(plan.model_dump_json(indent=1, exclude_none=True))
    except OSError as exc:
        raise ConfigError(f"{args.out}: cannot write the print plan: {exc.strerror}") from None
    sheets = sum(p.sheets for p in plan.pieces)
    print(f"{args.out}: run {plan.run}, {len(plan.pieces)} pieces ({sheets} sheets) in {len(plan.print_jobs)} print "
          f"jobs, {plan.document_format}")
    for j in plan.print_jobs:
        print(f"  {j.print_job_id}: {len(j.piece_ids)} pieces, {j.file}")
    if left_out:
        print(f"  {len(left_out)} pieces of {args.stream} are in no job file and not in the plan: "
              + ", ".join(left_out[:12]) + (f" and {len(left_out) - 12} more" if len(left_out) > 12 else ""))
    return 0


async def _print(args: argparse.Namespace) -> int:
    import tempfile

    from controller.fleet import file_documents, page_list_documents, print_run
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
        elsewhere: list[str] = []
        for pid, rec in (await ledger.pieces(planned)).items():
            state = rec.state if rec is not None else None
            states[state] = states.get(state, 0) + 1
            if rec is not None and rec.job_id != plan.run:
                elsewhere.append(f"{pid} ({rec.job_id})")
        if None in states:
            print(f"{args.ledger}: {states[None]} pieces of the plan are not in the ledger: record them (sorted) first: "
                  f"pmc ledger import {args.plan} --ledger {args.ledger}")
            return 1
        if elsewhere:
            print(f"{args.ledger}: {len(elsewhere)} pieces of the plan are in the ledger under another job than the "
                  f"plan's run {plan.run}: {', '.join(elsewhere[:5])}")
            return 1
        if PieceState.INDEXED in states:
            print(f"{args.ledger}: {states[PieceState.INDEXED]} pieces of the plan are indexed, not sorted: sort them "
                  f"first: pmc ledger import {args.plan} --ledger {args.ledger}")
            return 1
        begun = {s: n for s, n in states.items() if s not in (PieceState.SORTED, PieceState.REPRINT_QUEUED)}
        if begun and not args.resume:
            print(f"{args.ledger}: this plan's run was begun ("
                  + ", ".join(f"{n} {s.value}" for s, n in sorted(begun.items(), key=lambda i: i[0].value))
                  + "): finish it with --resume")
            return 1
        files = plan.files(args.plan)
        unreadable = [f"{f} ({pj})" for pj, f in files.items() if not f.is_file()]
        if unreadable:
            print(f"{args.plan}: print job files not found: {', '.join(unreadable[:5])}")
            return 1
        with tempfile.TemporaryDirectory(prefix="pmc-fleet-") as cut:  # remainders cut from the job files
            if plan.document_format == PAGE_LIST:
                documents, fmt = page_list_documents({p.piece_id: p for p in pieces}, run=plan.run), PAGE_LIST
            else:
                source = plan.source
                documents = file_documents(files, Path(cut), stamp=source is None or source.stamped,
                                           source=None if source is None else lambda: plan.source_index(args.plan))
                fmt = plan.document_format
            report = await print_run(config.printers, jobs, pieces, documents, ledger, document_format=fmt,
                                     grace_s=args.grace, poll_s=args.poll, io_timeout_s=args.io_timeout,
                                     orphan_timeout_s=args.orphan_timeout, resume=args.resume)
        counts = (await ledger.counts_by_state(plan.run)).get(plan.run, {})
        not_printed = 0
        # every planned piece is in the run (checked above): when the run holds no other, its counts say it all
        if sum(counts.values()) != len(planned) or counts.get(PieceState.PRINTED, 0) != len(planned):
            not_printed = sum(rec is None or rec.state is not PieceState.PRINTED
                              for rec in (await ledger.pieces(planned)).values())
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
