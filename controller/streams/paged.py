"""What the PDF, PostScript and PCL readers share: turning page-level piece boundaries into pieces.

A reader finds boundaries (`Boundary`: a piece starting at a page, with what the stream says about
it), then `assemble()` checks them and builds the pieces: the first piece starts on the first page,
IDs are unique, every piece has pages and a postal code. With lenient=True a bad piece is quarantined
with its reason instead of failing the import; nothing is ever dropped silently.

Sidecar index entries (written beside the stream by the composition tool, parsed elsewhere) are
accepted as any objects with the attributes `piece_id`, `first_page` (0-based), `pages`,
`recipient`, `postal_code` and `inserts`: they give the boundaries when the stream has none, and fill
in what the stream leaves out when it has them.

Pad pages: a duplex piece with an odd page count leaves the back of its last sheet blank, and the
PostScript and PCL writers put a marked blank page there (a pad) so that the next piece starts on a
front side; without it, the next piece's first page would print on that back and two pieces would
share a sheet. A pad belongs to no piece: readers pass the pad pages' indexes to `assemble()`, which
leaves them out of the piece before them. A stream holding pads was padded by a writer, so its pads
must be exactly where they are needed (one after each odd duplex piece, none elsewhere); a stream
with none is composition output, which the writers pad, and is taken as it is.
"""

from __future__ import annotations

import bisect
import contextvars
import logging
import mmap
import os
import re
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator, Mapping, Sequence

from controller.errors import StreamError
from controller.model import Piece, Plex
from controller.streams.base import Quarantined, SheetStamp, StreamFormat, StreamIndex

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class MarkerReadOptions:
    """How a reader finds pieces in a stream's comment lines (PostScript DSC comments, PJL comments): a
    line matching `piece_pattern` (named groups `piece` and optionally `postal`) starts a piece, and
    lines matching `recipient_pattern` (group `line`) on the same page give its address block in order.
    Each format's subclass gives its own default patterns."""

    piece_pattern: str
    recipient_pattern: str
    require_postal: bool = True

    def patterns(self) -> tuple[re.Pattern[str], re.Pattern[str]]:
        return re.compile(self.piece_pattern), re.compile(self.recipient_pattern)


@dataclass(frozen=True, slots=True)
class SheetLayout:
    """Where the writers of byte streams (PostScript, PCL) put a sheet's stamps, in points from the top-left
    corner of a US letter page: the DataMatrix at the top right, the IMb below an address block for a #10
    double-window envelope (1 inch from the left, 2.25 inches from the top, four 12 pt lines), as the PDF
    writer's StampLayout does. Each format's subclass adds how it draws the code's modules."""

    page_width: float = 612
    datamatrix_right: float = 0.4 * 72
    datamatrix_top: float = 0.35 * 72
    imb_left: float = 1.0 * 72
    imb_top: float = 2.25 * 72 + 4 * 12 + 2


@dataclass(slots=True)
class Boundary:
    piece_id: str | None
    first_page: int
    recipient: tuple[str, ...] = ()
    postal_code: str | None = None
    plex: Plex = Plex.SIMPLEX
    index: dict[str, str] = field(default_factory=dict)
    inserts: frozenset[int] = frozenset()
    span: tuple[int, int] | None = None  # byte span for byte-moving writers (PostScript, PCL)
    offset: int | None = None  # where in the file the boundary was found, for error messages
    problem: str | None = None  # what the reader could not make of the boundary: quarantined when lenient


def sheets_for(pages: int, plex: Plex) -> int:
    return pages if plex is Plex.SIMPLEX else (pages + 1) // 2


def merge_sidecar(path: str, bounds: list[Boundary], sidecar: Sequence[Any] | None) -> list[Boundary]:
    if not sidecar:
        return bounds
    if not bounds:
        return [Boundary(str(e.piece_id), int(e.first_page), tuple(e.recipient or ()), e.postal_code or None,
                         inserts=frozenset(e.inserts or ()), index=dict(getattr(e, "index", None) or {}))
                for e in sorted(sidecar, key=lambda e: e.first_page)]
    by_id = {b.piece_id: b for b in bounds}
    for e in sidecar:
        b = by_id.get(str(e.piece_id))
        if b is None:
            raise StreamError(f"the index file names piece {e.piece_id}, which the stream does not hold",
                              path=path, page=int(e.first_page) + 1, piece_id=str(e.piece_id))
        if int(e.first_page) != b.first_page:
            raise StreamError(f"the index file starts piece {e.piece_id} on page {e.first_page}, "
                              f"the stream on page {b.first_page}", path=path, page=b.first_page, piece_id=b.piece_id)
        b.recipient = b.recipient or tuple(e.recipient or ())
        b.postal_code = b.postal_code or (e.postal_code or None)
        b.inserts = b.inserts or frozenset(e.inserts or ())
        b.index = {**dict(getattr(e, "index", None) or {}), **b.index}
    return bounds


@contextmanager
def mapped_stream(path: Path | str, sniff: Callable[[bytes], bool], head: int, refusal: str) -> Iterator[mmap.mmap]:
    """A stream file's bytes, memory-mapped for a reader: an empty file, one whose first `head` bytes
    `sniff` refuses (`refusal` says what it is not) and an OSError while it is open are StreamErrors
    naming the file."""
    spath = str(path)
    try:
        with open(path, "rb") as fh:
            if os.fstat(fh.fileno()).st_size == 0:
                raise StreamError("empty file", path=spath, offset=0)
            with mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as data:
                if not sniff(data[:head]):
                    raise StreamError(refusal, path=spath, offset=0)
                yield data
    except OSError as exc:
        raise StreamError(f"cannot read: {exc.strerror}", path=spath) from exc


def needs_pad(pages: int, plex: Plex) -> bool:
    """Whether a piece is followed by a blank pad page, so that the next piece starts on a new sheet."""
    return plex is Plex.DUPLEX and pages % 2 == 1


def _pad_problem(b: Boundary, end: int, inside: Sequence[int]) -> str | None:
    """What is wrong with the pad pages `inside` a piece's pages [b.first_page, end), or None."""
    pages = end - b.first_page - len(inside)
    want = [end - 1] if needs_pad(pages, b.plex) else []
    if list(inside) == want:
        return None
    stray = [r for r in inside if r != end - 1]
    if stray:
        return f"page {stray[0] + 1} is a pad page inside the piece"
    if want:
        return (f"the piece has {pages} pages on duplex sheets and no pad page after them: "
                "the next piece would start on the back of its last sheet")
    return (f"a pad page follows the piece, which needs none ({pages} pages, {b.plex.value}): "
            "the next piece would start on the back of a sheet" if b.plex is Plex.DUPLEX else
            f"a pad page follows the piece, which needs none ({pages} pages, {b.plex.value})")


def assemble(path: str, job_id: str, bounds: list[Boundary], total_pages: int, *, lenient: bool,
             require_postal: bool = True, page_spans: bool = True,
             sidecar_pages: dict[str, int] | None = None,
             pads: Sequence[int] = ()) -> tuple[list[Piece], list[Quarantined], dict[str, tuple[int, int]]]:
    """Pieces, quarantined pieces and spans (by piece ID) from boundaries in stream order.

    Page indexes count every page of the stream, pads (`pads`, sorted) included: a piece starting on
    page k has first_page k; its pages leave out the pad after it. Spans are (first_page, pages) when
    page_spans, else each boundary's byte span.
    """
    if total_pages == 0:
        raise StreamError("the stream holds no pages", path=path, offset=0)
    if not bounds:
        raise StreamError("no piece boundaries found (no outline, document parts, page labels, markers or index file)",
                          path=path, offset=0)
    bounds = sorted(bounds, key=lambda b: b.first_page)
    if bounds[0].first_page != 0:
        raise StreamError(f"pages 1..{bounds[0].first_page} come before the first piece and belong to none",
                          path=path, page=1, piece_id=bounds[0].piece_id)
    pieces: list[Piece] = []
    quarantined: list[Quarantined] = []
    spans: dict[str, tuple[int, int]] = {}
    seen: set[str] = set()
    for k, b in enumerate(bounds):
        end = bounds[k + 1].first_page if k + 1 < len(bounds) else total_pages
        inside = pads[bisect.bisect_left(pads, b.first_page):bisect.bisect_left(pads, end)] if pads else ()
        pages = end - b.first_page - len(inside)
        problem = b.problem
        if problem is None and pads and pages > 0:
            problem = _pad_problem(b, end, inside)
        if problem is None:
            if b.piece_id is None or not b.piece_id:
                problem = "the piece has no ID"
            elif b.piece_id in seen:
                problem = f"piece ID {b.piece_id} appears twice"
            elif pages <= 0:
                problem = f"the piece has no pages (it starts on page {b.first_page + 1}, as does the next)"
            elif b.first_page >= total_pages:
                problem = f"the piece starts on page {b.first_page + 1}, past the stream's {total_pages} pages"
            elif require_postal and not b.postal_code:
                problem = "the piece has no postal code"
            elif sidecar_pages is not None and b.piece_id in sidecar_pages and sidecar_pages[b.piece_id] != pages:
                problem = f"the index file gives {sidecar_pages[b.piece_id]} pages, the stream {pages}"
        if problem is not None:
            if not lenient:
                raise StreamError(problem, path=path, offset=b.offset, page=b.first_page + 1, piece_id=b.piece_id)
            quarantined.append(Quarantined(problem, piece_id=b.piece_id, offset=b.offset, page=b.first_page + 1))
            continue
        seen.add(b.piece_id)
        pieces.append(Piece(
            piece_id=b.piece_id, job_id=job_id, sequence=len(pieces), pages=pages, sheets=sheets_for(pages, b.plex),
            plex=b.plex, first_page=b.first_page, recipient=b.recipient, postal_code=b.postal_code,
            inserts=b.inserts, index=dict(b.index),
        ))
        spans[b.piece_id] = (b.first_page, pages) if page_spans else (b.span or (0, 0))
    if not pieces and not lenient:
        raise StreamError("no usable pieces", path=path, page=1)
    return pieces, quarantined, spans


def paged_index(path: str, fmt: StreamFormat, job_id: str, bounds: list[Boundary], total_pages: int, *,
                lenient: bool, require_postal: bool, sidecar: Sequence[Any] | None, pads: Sequence[int],
                page_spans: bool = True, source: str = "", layout: Any = None) -> StreamIndex:
    """The StreamIndex of a paged stream (PostScript, PCL, PDF) from its boundaries, checked against its
    sidecar's page counts. `source`: where the boundaries came from, for the log; `layout`: StreamIndex.layout."""
    sidecar_pages = {str(e.piece_id): int(e.pages) for e in sidecar} if sidecar else None
    pieces, quarantined, spans = assemble(path, job_id, bounds, total_pages, lenient=lenient,
                                          require_postal=require_postal, page_spans=page_spans,
                                          sidecar_pages=sidecar_pages, pads=pads)
    logger.info("indexed %s: %d pages, %d pieces%s", path, total_pages, len(pieces), f" from {source}" if source else "")
    return StreamIndex(path=path, format=fmt, job_id=job_id, pages=total_pages, sheets=sum(p.sheets for p in pieces),
                       pieces=tuple(pieces), quarantined=tuple(quarantined), spans=spans, layout=layout)


def plan_stamps(index: StreamIndex, *, imb_bars: Mapping[str, str] | None = None) -> dict[tuple[str, int], SheetStamp]:
    """A SheetStamp for every sheet of every piece: its control code (run, piece, sheet n of m, inserts),
    and on its first sheet the piece's IMb bars when `imb_bars` (by piece ID) has them."""
    from drivers.controlcode import ControlCode, ControlCodeError, encode, job_token, piece_token

    run = job_token(index.job_id)
    out: dict[tuple[str, int], SheetStamp] = {}
    for p in index.pieces:
        bars = (imb_bars or {}).get(p.piece_id)
        for s in range(1, p.sheets + 1):
            try:
                code = encode(ControlCode(run, piece_token(p.sequence), s, p.sheets, frozenset(p.inserts)))
            except ControlCodeError as exc:
                raise StreamError(f"cannot make the control code of sheet {s}: {exc}", path=index.path,
                                  page=p.first_page + 1, piece_id=p.piece_id) from exc
            out[(p.piece_id, s)] = SheetStamp(p.piece_id, s, code, bars if s == 1 else None)
    return out


_JOB_PROGRESS: contextvars.ContextVar[Callable[[int, int], None] | None] = contextvars.ContextVar(
    "pmc_job_progress", default=None)


@contextmanager
def job_progress(callback: Callable[[int, int], None]) -> Iterator[None]:
    """Within it, every JobFiles reports (jobs written, jobs in all) as a writer goes from one print
    job to the next, so one write call over thousands of jobs can show progress."""
    token = _JOB_PROGRESS.set(callback)
    try:
        yield
    finally:
        _JOB_PROGRESS.reset(token)


class JobFiles:
    """All-or-nothing output for a writer: each print job is written to a hidden `.part` file, and all
    are renamed to their final names only when every one was written; on any failure the parts are
    removed and an OSError becomes a StreamError naming the source stream.

        with JobFiles(index.path, out_dir, [j.name for j in plan.jobs], ".ps") as files:
            with open(files.part(job.name), "wb") as out: ...
        return files.finals
    """

    def __init__(self, source: str, out_dir: Path, names: Sequence[str], suffix: str) -> None:
        self.source = source
        self.out_dir = Path(out_dir)
        self.suffix = suffix
        self.finals = [self.out_dir / f"{name}{suffix}" for name in names]
        self._parts: list[Path] = []

    def part(self, name: str) -> Path:
        path = self.out_dir / f".{name}{self.suffix}.part"
        report = _JOB_PROGRESS.get()
        if report is not None and self._parts:
            report(len(self._parts), len(self.finals))  # the jobs before this one are written
        self._parts.append(path)
        return path

    def __enter__(self) -> "JobFiles":
        try:
            self.out_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StreamError(f"cannot write print jobs: {exc}", path=self.source) from exc
        return self

    def __exit__(self, kind, exc, tb) -> bool:  # noqa: ANN001
        renamed: list[Path] = []
        if kind is None:
            try:
                for tmp, final in zip(self._parts, self.finals):
                    os.replace(tmp, final)
                    renamed.append(final)
                report = _JOB_PROGRESS.get()
                if report is not None:
                    report(len(self.finals), len(self.finals))
                return False
            except OSError as err:
                exc = err
        for path in (*self._parts, *renamed):  # a rename that failed half-way takes back the ones before it
            path.unlink(missing_ok=True)
        if isinstance(exc, OSError):
            raise StreamError(f"cannot write print jobs: {exc}", path=self.source) from exc
        return False
