"""Print-stream engineering end to end on one stream, for `pmc demo` and for a look by hand.

    from controller.streams.pdf_demo import engineer_demo
    summary = engineer_demo(Path("fixtures/streams/pdf/outline.pdf"), Path("out/streams"))

Index the stream, put its pieces in a new order (ZIP order, as a presort would), cut two print jobs,
stamp every sheet (control code DataMatrix, IMb on the address sheet, machine-readable twin), write
them, then re-read every output and check it holds the same pieces, pages and recipients in the new
order with every twin in place. Works for PDF, PostScript and PCL sources (by file suffix).
"""

from __future__ import annotations

import importlib
import logging
from dataclasses import dataclass
from pathlib import Path

from controller.errors import StreamError
from controller.streams.base import EngineeringPlan, PrintJobPlan
from controller.streams.paged import plan_stamps

logger = logging.getLogger(__name__)

_MODULES = {".pdf": "controller.streams.pdf", ".ps": "controller.streams.ps", ".pcl": "controller.streams.pcl"}


@dataclass(frozen=True, slots=True)
class EngineerDemoResult:
    source: str
    pieces: int
    pages: int
    sheets_stamped: int
    files: tuple[str, ...]
    order: tuple[str, ...]


def _imb(index) -> dict[str, str]:
    from mailsort.imb import encode_imb

    out = {}
    for p in index.pieces:
        digits = "".join(c for c in (p.postal_code or "") if c.isdigit())
        routing = digits if len(digits) in (5, 9, 11) else ""
        # barcode ID 00, service type 270, a 6-digit mailer ID, the piece's sequence as the serial
        out[p.piece_id] = encode_imb(f"00270123456{p.sequence:09d}", routing).bars
    return out


def engineer_demo(source: Path, out_dir: Path, *, job_id: str = "DEMO", jobs: int = 2) -> EngineerDemoResult:
    """Index, reorder by postal code, split into `jobs` print jobs, stamp, write, re-read and check."""
    try:
        module = importlib.import_module(_MODULES[Path(source).suffix.lower()])
    except KeyError:
        raise StreamError(f"no PDF/PostScript/PCL reader for a {Path(source).suffix!r} file", path=str(source)) from None
    index = module.READER.index(Path(source), job_id=job_id)
    order = tuple(p.piece_id for p in sorted(index.pieces, key=lambda p: (p.postal_code or "", p.piece_id)))
    cut = [round(len(order) * k / jobs) for k in range(jobs + 1)]
    plan = EngineeringPlan(
        jobs=tuple(PrintJobPlan(f"{job_id.lower()}-{k + 1:03d}", order[cut[k]:cut[k + 1]]) for k in range(jobs)),
        stamps=plan_stamps(index, imb_bars=_imb(index)),
    )
    files = module.WRITER.write(index, plan, Path(out_dir))
    by_id = {p.piece_id: p for p in index.pieces}
    stamped = 0
    for job, f in zip(plan.jobs, files):
        again = module.READER.index(f, job_id=job_id)
        got = [(p.piece_id, p.pages, p.recipient, p.postal_code) for p in again.pieces]
        want = [(pid, by_id[pid].pages, by_id[pid].recipient, by_id[pid].postal_code) for pid in job.piece_ids]
        if got != want:
            raise StreamError("the written print job does not re-read as planned", path=str(f))
        twins = [t for t in module.read_page_twins(f) if t and "ControlCode" in t]  # not pad pages
        codes = [plan.stamps[(p.piece_id, s)].control_code for p in again.pieces for s in range(1, p.sheets + 1)]
        if [t["ControlCode"] for t in twins] != codes:
            raise StreamError("the written print job's stamp twins are not the planned control codes", path=str(f))
        stamped += len(twins)
    logger.info("engineered %s: %d pieces into %d print jobs, %d sheets stamped", source, len(order), len(files),
                stamped)
    return EngineerDemoResult(str(source), len(order), index.pages, stamped, tuple(str(f) for f in files), order)
