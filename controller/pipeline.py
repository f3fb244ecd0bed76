"""A run, stage by stage: index a stream, presort it, engineer print jobs, and record every step in the
ledger. Each stage is a function the CLI, the demo and the tests call; the ledger is written only after
a stage has fully succeeded (an import is all or nothing).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from dataclasses import dataclass
from pathlib import Path
from controller.errors import StreamError
from controller.ledger import Ledger
from controller.model import PieceEvent, PieceEventKind, Plex, PrintJob
from controller.streams.base import EngineeringPlan, PrintJobPlan, StreamIndex
from controller.streams.paged import plan_stamps
from controller.streams.registry import index_stream, write_stream
from mailsort.model import MailPiece, PresortOptions
from mailsort.presort import SortResult

logger = logging.getLogger(__name__)


async def import_stream(ledger: Ledger, path: Path, *, job_id: str, lenient: bool = False) -> StreamIndex:
    """Index a stream (in a worker thread) and record every piece as indexed, in one all-or-nothing batch."""
    index = await asyncio.to_thread(index_stream, Path(path), job_id=job_id, lenient=lenient)
    await ledger.append_many(
        [PieceEvent(PieceEventKind.INDEXED, p.piece_id, job_id=job_id,
                    data={"pages": p.pages, "sheets": p.sheets, "postal_code": p.postal_code or ""})
         for p in index.pieces],
        batch=0,
    )
    return index


def mail_pieces(index: StreamIndex, *, weight_g: float = 28.0, thickness_mm: float = 0.5) -> list[MailPiece]:
    """The stream's pieces as the presort sees them: the postal code digits the stream carried."""
    return [MailPiece(p.piece_id, "".join(c for c in (p.postal_code or "") if c.isdigit()), weight_g, thickness_mm)
            for p in index.pieces]


async def record_sort(ledger: Ledger, result: SortResult, job_id: str) -> None:
    """Every piece sorted into its container, in sort order."""
    await ledger.append_many(
        [PieceEvent(PieceEventKind.SORTED, sp.piece_id, container=f"{job_id}-{sp.container_id}",
                    data={"sequence": sp.sequence, "level": sp.level, "price": sp.price_category})
         for sp in result.sorted_pieces()],
        batch=0,
    )


@dataclass(frozen=True, slots=True)
class EngineeredRun:
    plan: EngineeringPlan
    print_jobs: tuple[PrintJob, ...]
    files: tuple[Path, ...]  # one print-ready stream per print job, in plan order


def cut_print_jobs(index: StreamIndex, result: SortResult, *, job_id: str, max_sheets: int) -> list[PrintJob]:
    """Print jobs in presort order, cut only at tray boundaries, each up to `max_sheets` (a tray larger
    than that is a print job of its own)."""
    by_id = {p.piece_id: p for p in index.pieces}
    jobs: list[PrintJob] = []
    current: list[str] = []
    trays: list[str] = []
    sheets = 0

    def close() -> None:
        nonlocal current, trays, sheets
        if current:
            pieces = [by_id[pid] for pid in current]
            plex = Plex.DUPLEX if any(p.plex is Plex.DUPLEX for p in pieces) else Plex.SIMPLEX
            jobs.append(PrintJob(f"{job_id}-pj{len(jobs) + 1:03d}", job_id, tuple(current), sheets,
                                 sum(p.pages for p in pieces), plex, containers=tuple(trays)))
        current, trays, sheets = [], [], 0

    for container in result.containers:
        ids = [result.pieces[result.order[s]].piece_id for s in range(container.first, container.first + container.pieces)]
        tray_sheets = sum(by_id[i].sheets for i in ids)
        if current and sheets + tray_sheets > max_sheets:
            close()
        current.extend(ids)
        trays.append(f"{job_id}-{container.container_id}")
        sheets += tray_sheets
    close()
    return jobs


def engineer(index: StreamIndex, result: SortResult, out_dir: Path, *, job_id: str,
             max_sheets: int = 500) -> EngineeredRun:
    """Write print-ready streams in presort order, cut at tray boundaries, every sheet stamped with its
    control code and each piece's first sheet with its Intelligent Mail barcode."""
    jobs = cut_print_jobs(index, result, job_id=job_id, max_sheets=max_sheets)
    planned = {pid for j in jobs for pid in j.piece_ids}
    missing = [p.piece_id for p in index.pieces if p.piece_id not in planned]
    if missing:
        raise StreamError(f"{len(missing)} pieces are in no tray, first {missing[0]}", path=index.path, piece_id=missing[0])
    bars: dict[str, str] = {}
    for sp in result.sorted_pieces():
        imb = sp.imb
        if imb is not None:
            bars[sp.piece_id] = imb.bars
    plan = EngineeringPlan(
        jobs=tuple(PrintJobPlan(j.print_job_id, j.piece_ids) for j in jobs),
        stamps=plan_stamps(index, imb_bars=bars),
    )
    Path(out_dir).mkdir(parents=True, exist_ok=True)
    files = write_stream(index, plan, Path(out_dir))
    return EngineeredRun(plan, tuple(jobs), tuple(files))


def demo_options(mailing_date: dt.date) -> PresortOptions:
    return PresortOptions(mailing_date, overflow=True, mailer_id="123456", origin="PMC DEMO MAILROOM", origin_zip3="303")
