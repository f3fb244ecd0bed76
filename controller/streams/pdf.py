"""PDF print streams: index into mail pieces; reorder, stamp and split into print jobs.

Reading (pikepdf: the document structure only, no content stream is parsed or rendered):
  piece boundaries come, in this order of preference, from PDF/VT-style document parts (the
  catalog's /DPartRoot: the DPart nodes at /RecordLevel, or the leaves), from the top-level outline
  entries, or from page labels (/PageLabels ranges; the piece ID is the label prefix), and failing
  those from sidecar index entries. A piece's recipient block and postal code come from its DPart
  metadata (/DPM keys, configurable), from its outline title by a configurable pattern, or from the
  sidecar. Duplex is read from /ViewerPreferences /Duplex. Any repair qpdf had to make to read the file
  (a damaged xref, a stream whose length is wrong, a truncated file) is a StreamError: an import is
  all or nothing.

Writing (pikepdf, in place): the source is opened once; for each print job the page tree is rebuilt
flat with the job's pages in plan order, a new outline (one top-level entry per piece) and new
document parts (one DPart per piece, /DPM carrying PieceID, PostalCode and Address) are made, and the
file is saved; pages not in the job are not reachable and so not written. DParts are written when the
source had them or when its pieces were not indexed from outline titles (which are written back as they
were, so they still carry the recipients).

Stamps: on the front page of each sheet, the control code as a DataMatrix inline image (one sample per
module, hex-encoded, /I false, so no page resources change) and, on the sheet with the address block, the Intelligent Mail barcode as
vector bars (65 filled rectangles) below the address block; positions come from `StampLayout`.
The original page content is wrapped in q/Q so its graphics state cannot move the stamp.

The machine-readable twin: every stamped page carries a page-piece dictionary (PDF 32000-1 14.5),

    /PieceInfo << /PMC << /LastModified (D:...)
                          /Private << /ControlCode (payload) /PieceID (id) /Sheet n /IMb (AADT...) >> >> >>

(/IMb only on the sheet that has it).

Duplex padding: a duplex piece with an odd page count gets a blank back page after its last page, so the
next piece starts on a front side (no sheet carries two pieces; controller.fleet_plan counts a duplex
piece as 2 x sheets impressions). The pad is marked with the same twin, without a control code:

    /PieceInfo << /PMC << /LastModified (D:...) /Private << /Pad true /PieceID (id) /Sheet n >> >> >>

(n: the piece's last sheet, whose back it is). The reader takes a pad as no page of its piece: re-indexing
gives the same pages and sheets per piece, while the file's page count includes the pads. A pad page
anywhere but right after a duplex piece with an odd page count is that piece's error (quarantined when
lenient). A printer reading twins sees no code on a pad, so the sheet's code is its front's.

A printer simulator reads the twins without rendering, e.g. with pikepdf:
``[p.obj.get("/PieceInfo", {}).get("/PMC", {}).get("/Private", {}).get("/ControlCode") for p in pdf.pages]``,
or with `read_page_twins(path)` here.
"""

from __future__ import annotations

import dataclasses
import datetime
import logging
import os
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Sequence

import pikepdf

from controller.errors import StreamError
from controller.model import Piece, Plex
from controller.streams.base import (
    EngineeringPlan, PrintJobPlan, SheetStamp, StreamFormat, StreamIndex, check_plan,
)
from controller.streams.paged import Boundary, JobFiles, assemble, merge_sidecar

logger = logging.getLogger(__name__)

__all__ = ["PdfReadOptions", "PdfReader", "PdfWriter", "StampLayout", "READER", "WRITER", "read_page_twins",
           "outline_title", "IMB_GEOMETRY"]

# What pikepdf raises on a malformed object or structure besides its own PdfError: builtin types.
_PIKEPDF_ERRORS = (pikepdf.PdfError, pikepdf.OutlineStructureError, RuntimeError, ValueError, TypeError,
                   KeyError, IndexError, AttributeError, OverflowError, UnicodeDecodeError)

DEFAULT_TITLE_PATTERN = (r"^\s*(?P<piece>[^\s|]+)(?:\s+(?P<postal>\d{5}(?:-?\d{4})?(?:\d{2})?))?\s*"
                         r"(?:\|(?P<recipient>.*))?$")


@dataclass(frozen=True, slots=True)
class PdfReadOptions:
    title_pattern: str = DEFAULT_TITLE_PATTERN  # named groups: piece, postal, recipient ('|'-separated lines)
    label_pattern: str = r"^(?P<piece>.+?)-?$"  # applied to a page-label prefix
    dpm_piece_key: str = "PieceID"
    dpm_postal_key: str = "PostalCode"
    dpm_address_key: str = "Address"
    require_postal: bool = True


def outline_title(piece: Piece) -> str:
    """The outline title our writer gives a piece: what DEFAULT_TITLE_PATTERN reads back."""
    head = piece.piece_id + (f" {piece.postal_code}" if piece.postal_code else "")
    return " | ".join((head, *piece.recipient))


def _warnings_error(pdf: pikepdf.Pdf, path: str) -> None:
    warnings = pdf.get_warnings()
    if warnings:
        m = re.search(r"offset (\d+)", warnings[0])
        raise StreamError(f"damaged PDF ({len(warnings)} repairs needed), first: {warnings[0]}",
                          path=path, offset=int(m.group(1)) if m else 0)


class _ObjError(Exception):
    """A structure problem found at a PDF object; index() turns it into a StreamError with the object's offset."""

    def __init__(self, message: str, obj: Any) -> None:
        super().__init__(message)
        self.obj = obj


def _object_offset(path: Path, obj: Any) -> int:
    """Where the indirect object holding `obj` is defined (its last definition), else 0 (the file as a whole)."""
    try:
        if obj is None or not obj.is_indirect:
            return 0
        num, gen = obj.objgen
    except _PIKEPDF_ERRORS:
        return 0
    import mmap

    with open(path, "rb") as fh, mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as data:
        for m in reversed(list(re.finditer(rb"(?<![0-9])%d\s+%d\s+obj" % (num, gen), data))):
            return m.start()
    return 0  # inside an object stream: no byte offset of its own


def _text(obj: Any) -> str:
    if isinstance(obj, pikepdf.String):
        return str(obj)
    if isinstance(obj, pikepdf.Name):
        return str(obj)[1:]
    if isinstance(obj, (int, float)) and not isinstance(obj, bool):
        return str(obj)
    raise TypeError(f"expected text, found {type(obj).__name__}")


def _check_pads(bounds: list[Boundary], total: int, pads: Sequence[int], plex: Plex) -> set[int]:
    """The first pages of the pieces whose last page is their pad; a pad page anywhere else is the piece's
    problem (an error, or quarantined when lenient): the writer only puts one after a duplex piece with an
    odd page count."""
    import bisect

    if not pads:
        return set()
    padded: set[int] = set()
    ordered = sorted(bounds, key=lambda b: b.first_page)
    for k, b in enumerate(ordered):
        end = min(ordered[k + 1].first_page if k + 1 < len(ordered) else total, total)
        inside = pads[bisect.bisect_left(pads, b.first_page):bisect.bisect_left(pads, end)]
        if not inside or b.problem is not None:
            continue
        if plex is not Plex.DUPLEX:
            b.problem = f"page {inside[0] + 1} is a duplex pad page in a simplex stream"
        elif inside != [end - 1] or end - 1 == b.first_page:
            b.problem = f"page {inside[0] + 1} is a pad page among the piece's own pages"
        elif (end - b.first_page - 1) % 2 == 0:
            b.problem = f"page {end} pads a piece whose {end - b.first_page - 1} pages fill whole sheets"
        else:
            padded.add(b.first_page)
    return padded


def _unpad(pieces: list[Piece], spans: dict[str, tuple[int, int]],
           padded: set[int]) -> tuple[list[Piece], dict[str, tuple[int, int]]]:
    """A pad page is no page of its piece; the piece's sheet count (pad included) stays as it was."""
    out = []
    for p in pieces:
        if p.first_page in padded:
            p = dataclasses.replace(p, pages=p.pages - 1)
            spans[p.piece_id] = (p.first_page, p.pages)
        out.append(p)
    return out, spans


def _is_pad(page: Any) -> bool:
    node = page.get("/PieceInfo")
    for key in ("/PMC", "/Private"):
        if not isinstance(node, pikepdf.Dictionary):
            return False
        node = node.get(key)
    return isinstance(node, pikepdf.Dictionary) and node.get("/Pad") is True


class PdfReader:
    format = StreamFormat.PDF

    def __init__(self, options: PdfReadOptions | None = None) -> None:
        self.options = options or PdfReadOptions()
        self._title_re = re.compile(self.options.title_pattern)
        self._label_re = re.compile(self.options.label_pattern)

    def sniff(self, head: bytes) -> bool:
        return b"%PDF-" in head[:1024]

    def index(self, path: Path, *, job_id: str, lenient: bool = False,
              sidecar: Sequence[Any] | None = None) -> StreamIndex:
        spath = str(path)
        try:
            size = os.path.getsize(path)
            with open(path, "rb") as fh:
                fh.seek(max(0, size - 1024))
                tail = fh.read()
        except OSError as exc:
            raise StreamError(f"cannot read: {exc.strerror}", path=spath) from exc
        if b"%%EOF" not in tail:
            # qpdf would read on without a word; a stream cut short must not pass for a whole one
            raise StreamError("no %%EOF at the end: the file is truncated", path=spath, offset=size)
        try:
            with pikepdf.open(path, suppress_warnings=True) as pdf:
                try:
                    result = self._index(pdf, spath, job_id, lenient, sidecar)
                except _ObjError as exc:
                    _warnings_error(pdf, spath)  # a repaired file explains a broken object best
                    raise StreamError(str(exc), path=spath, offset=_object_offset(path, exc.obj)) from None
                _warnings_error(pdf, spath)
                return result
        except StreamError:
            raise
        except pikepdf.PasswordError as exc:
            raise StreamError("the PDF is encrypted", path=spath, offset=0) from exc
        except _PIKEPDF_ERRORS as exc:
            m = re.search(r"offset (\d+)", str(exc))
            raise StreamError(f"unreadable PDF: {exc}", path=spath, offset=int(m.group(1)) if m else size) from exc

    def _index(self, pdf: pikepdf.Pdf, path: str, job_id: str, lenient: bool,
               sidecar: Sequence[Any] | None) -> StreamIndex:
        page_objs = [p.obj for p in pdf.pages]
        count = pdf.Root.Pages.get("/Count")
        if not isinstance(count, int) or int(count) != len(page_objs):
            # qpdf skips what it cannot take for a page (and only says so on stderr)
            raise _ObjError(f"the page tree says {count} pages, {len(page_objs)} were found", pdf.Root.Pages)
        page_no = {o.objgen: i for i, o in enumerate(page_objs)}
        pads = [i for i, o in enumerate(page_objs) if _is_pad(o)]
        for i, o in enumerate(page_objs):
            # resolving each page's content objects makes qpdf check their stream lengths; the data stays unread
            contents = o.get("/Contents")
            if isinstance(contents, pikepdf.Array):
                for c in contents:
                    if not isinstance(c, pikepdf.Stream):
                        raise StreamError("page content is not a stream", path=path, page=i + 1)
            elif contents is not None and not isinstance(contents, pikepdf.Stream):
                raise StreamError("page content is not a stream", path=path, page=i + 1)
        plex = Plex.SIMPLEX
        vp = pdf.Root.get("/ViewerPreferences")
        if isinstance(vp, pikepdf.Dictionary) and str(vp.get("/Duplex", "/Simplex")).startswith("/DuplexFlip"):
            plex = Plex.DUPLEX
        source = "dpart"
        bounds = self._from_dparts(pdf, path, page_no)
        if not bounds:
            source, bounds = "outline", self._from_outline(pdf, path, page_no)
        if not bounds:
            source, bounds = "labels", self._from_labels(pdf, path, len(page_objs))
        if not bounds and sidecar:
            source = "sidecar"
        bounds = merge_sidecar(path, bounds, sidecar)
        for b in bounds:
            b.plex = plex
        padded = _check_pads(bounds, len(page_objs), pads, plex)
        sidecar_pages = {str(e.piece_id): int(e.pages) for e in sidecar} if sidecar else None
        if sidecar_pages:
            for b in bounds:
                if b.first_page in padded and b.piece_id in sidecar_pages:
                    sidecar_pages[b.piece_id] += 1  # assemble counts the pad as one of the piece's pages
        pieces, quarantined, spans = assemble(path, job_id, bounds, len(page_objs), lenient=lenient,
                                              require_postal=self.options.require_postal,
                                              sidecar_pages=sidecar_pages)
        if padded:
            pieces, spans = _unpad(pieces, spans, padded)
        logger.info("indexed %s: %d pages, %d pieces from %s", path, len(page_objs), len(pieces), source)
        return StreamIndex(path=path, format=StreamFormat.PDF, job_id=job_id, pages=len(page_objs),
                           sheets=sum(p.sheets for p in pieces), pieces=tuple(pieces),
                           quarantined=tuple(quarantined), spans=spans)

    def _page_of(self, ref: Any, page_no: dict, path: str, what: str, holder: Any = None) -> int:
        if not isinstance(ref, pikepdf.Dictionary) or not ref.is_indirect or ref.objgen not in page_no:
            raise _ObjError(f"{what} does not point at a page of this file", holder)
        return page_no[ref.objgen]

    def _from_dparts(self, pdf: pikepdf.Pdf, path: str, page_no: dict) -> list[Boundary]:
        root = pdf.Root.get("/DPartRoot")
        if not isinstance(root, pikepdf.Dictionary):
            return []
        node = root.get("/DPartRootNode")
        if not isinstance(node, pikepdf.Dictionary):
            raise _ObjError("/DPartRoot has no /DPartRootNode", root)
        level = root.get("/RecordLevel")
        record_level = int(level) if isinstance(level, int) else None
        opts = self.options
        bounds: list[Boundary] = []
        seen: set = set()

        def first_leaf_start(n: pikepdf.Dictionary, depth: int) -> int:
            if n.is_indirect:
                if n.objgen in seen:
                    raise _ObjError("document part tree has a loop", n)
                seen.add(n.objgen)
            if "/Start" in n:
                return self._page_of(n.Start, page_no, path, "a DPart's /Start", n)
            kids = n.get("/DParts")
            if not isinstance(kids, pikepdf.Array) or len(kids) == 0:
                raise _ObjError("a DPart has neither /Start nor /DParts", n)
            starts = []
            for group in kids:
                if not isinstance(group, pikepdf.Array):
                    raise _ObjError("/DParts holds something that is not an array", n)
                for kid in group:
                    if not isinstance(kid, pikepdf.Dictionary):
                        raise _ObjError("/DParts holds something that is not a DPart", n)
                    starts.append(walk(kid, depth + 1))
            return min(starts)

        def walk(n: pikepdf.Dictionary, depth: int, inherited: dict | None = None) -> int:
            meta = dict(inherited or {})
            dpm = n.get("/DPM")
            if isinstance(dpm, pikepdf.Dictionary):
                for k, v in dpm.items():
                    meta[k[1:]] = v
            is_record = depth == record_level if record_level is not None else "/Start" in n
            if not is_record:
                if "/Start" in n:
                    return first_leaf_start(n, depth)
                kids = n.get("/DParts")
                if not isinstance(kids, pikepdf.Array):
                    raise _ObjError("a DPart has neither /Start nor /DParts", n)
                if n.is_indirect:
                    if n.objgen in seen:
                        raise _ObjError("document part tree has a loop", n)
                    seen.add(n.objgen)
                starts = []
                for group in kids:
                    if not isinstance(group, pikepdf.Array):
                        raise _ObjError("/DParts holds something that is not an array", n)
                    for kid in group:
                        if not isinstance(kid, pikepdf.Dictionary):
                            raise _ObjError("/DParts holds something that is not a DPart", n)
                        starts.append(walk(kid, depth + 1, meta))
                return min(starts) if starts else 0
            start = first_leaf_start(n, depth)
            piece = meta.get(opts.dpm_piece_key)
            postal = meta.get(opts.dpm_postal_key)
            address = meta.get(opts.dpm_address_key)
            lines: tuple[str, ...] = ()
            if isinstance(address, pikepdf.Array):
                lines = tuple(_text(x) for x in address)
            elif address is not None:
                lines = tuple(_text(address).splitlines())
            extra = {k: _text(v) for k, v in meta.items()
                     if k not in (opts.dpm_piece_key, opts.dpm_postal_key, opts.dpm_address_key)
                     and isinstance(v, (pikepdf.String, pikepdf.Name, int))}
            bounds.append(Boundary(_text(piece) if piece is not None else f"DPART{len(bounds) + 1:06d}", start,
                                   lines, _text(postal) if postal is not None else None, index=extra))
            return start

        walk(node, 0)
        return bounds

    def _from_outline(self, pdf: pikepdf.Pdf, path: str, page_no: dict) -> list[Boundary]:
        outlines = pdf.Root.get("/Outlines")
        if not isinstance(outlines, pikepdf.Dictionary):
            return []
        item = outlines.get("/First")
        named = None
        bounds: list[Boundary] = []
        seen: set = set()
        while isinstance(item, pikepdf.Dictionary):
            if item.objgen in seen:
                raise _ObjError("the outline's /Next chain has a loop", item)
            seen.add(item.objgen)
            title = _text(item.get("/Title", pikepdf.String("")))
            dest = item.get("/Dest")
            action = item.get("/A")
            if dest is None and isinstance(action, pikepdf.Dictionary) and action.get("/S") == pikepdf.Name.GoTo:
                dest = action.get("/D")
            if isinstance(dest, (pikepdf.String, pikepdf.Name)):
                if named is None:
                    named = self._named_dests(pdf)
                dest = named.get(_text(dest))
                if isinstance(dest, pikepdf.Dictionary):
                    dest = dest.get("/D")
            if not isinstance(dest, pikepdf.Array) or len(dest) == 0:
                raise _ObjError(f"outline entry {title!r} has no page destination", item)
            page = self._page_of(dest[0], page_no, path, f"outline entry {title!r}", item)
            m = self._title_re.match(title)
            if m is None or not m.group("piece"):
                # the page where a piece starts is known; what the piece is, is not: a lenient import
                # quarantines it (with its pages) rather than fold its pages into the piece before
                bounds.append(Boundary(None, page, index={"title": title},
                                       problem=f"outline title {title!r} does not match the piece pattern"))
                item = item.get("/Next")
                continue
            groups = m.groupdict()
            lines = tuple(s.strip() for s in (groups.get("recipient") or "").split("|") if s.strip())
            bounds.append(Boundary(groups["piece"], page, lines, groups.get("postal"), index={"title": title}))
            item = item.get("/Next")
        return bounds

    @staticmethod
    def _named_dests(pdf: pikepdf.Pdf) -> dict[str, Any]:
        out: dict[str, Any] = {}
        old = pdf.Root.get("/Dests")
        if isinstance(old, pikepdf.Dictionary):
            out.update({k[1:]: v for k, v in old.items()})
        names = pdf.Root.get("/Names")
        if isinstance(names, pikepdf.Dictionary) and isinstance(names.get("/Dests"), pikepdf.Dictionary):
            for k, v in pikepdf.NameTree(names.Dests).items():
                out[k] = v
        return out

    def _from_labels(self, pdf: pikepdf.Pdf, path: str, pages: int) -> list[Boundary]:
        labels = pdf.Root.get("/PageLabels")
        if not isinstance(labels, pikepdf.Dictionary):
            return []
        bounds: list[Boundary] = []
        for start, spec in pikepdf.NumberTree(labels).items():
            if not isinstance(spec, pikepdf.Dictionary) or not 0 <= int(start) < pages:
                raise _ObjError(f"page label range at {start} is not a label for a page of this file", labels)
            prefix = _text(spec.get("/P", pikepdf.String("")))
            m = self._label_re.match(prefix)
            if m is None or not m.group("piece"):
                raise StreamError(f"page label prefix {prefix!r} does not match the piece pattern", path=path,
                                  page=int(start) + 1)
            bounds.append(Boundary(m.group("piece"), int(start), index={"label": prefix}))
        return bounds


# --- writing -----------------------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class StampLayout:
    """Where stamps go, in PDF points from the page's top-left corner (y grows downwards).

    Defaults suit a US letter page with the address block for a #10 double-window envelope at 1 inch
    from the left and 2.25 inches from the top (three or four lines at 12 pt): the IMb goes just below it.
    """

    datamatrix_right: float = 0.4 * 72  # from the right edge to the symbol's right edge
    datamatrix_top: float = 0.35 * 72
    module_pt: float = 1.8  # one DataMatrix module (0.64 mm)
    imb_left: float = 1.0 * 72
    imb_top: float = 2.25 * 72 + 4 * 12 + 2  # below a four-line address block


_CHUNK_PAGES = 300  # a split into many print jobs goes through chunks of about this many pages
_CHUNK_JOBS = 100

# USPS-B-3200 bar geometry in points: pitch 1/22 in, width 0.02 in, full bar 0.145 in, tracker 0.048 in
IMB_GEOMETRY = {"pitch": 72 / 22, "width": 0.02 * 72, "full": 0.145 * 72, "tracker": 0.048 * 72}


def imb_rects(bars: str, x0: float, y_bottom: float) -> list[tuple[float, float, float, float]]:
    """The 65 bars as (x, y, w, h) rectangles in PDF user space (y up), bottom of the bars at y_bottom."""
    g = IMB_GEOMETRY
    full, tracker = g["full"], g["tracker"]
    low = (full - tracker) / 2  # bottom of the tracker band
    out = []
    for i, b in enumerate(bars):
        if b not in "ADFT":
            raise StreamError(f"IMb bar {i} is {b!r}, not one of A, D, F, T")
        bottom = 0.0 if b in "DF" else low
        top = full if b in "AF" else low + tracker
        out.append((x0 + i * g["pitch"], y_bottom + bottom, g["width"], top - bottom))
    return out


def _datamatrix_inline(payload: str) -> tuple[str, int, int]:
    """The control code as an inline image (hex-encoded, one sample per module): no resources to touch."""
    import numpy as np  # only stamping needs it
    from drivers.controlcode import ControlCodeError, render_datamatrix

    try:
        grey = render_datamatrix(payload, module_px=1)
    except ControlCodeError as exc:
        raise StreamError(f"cannot draw control code {payload!r}: {exc}") from exc
    h, w = grey.shape
    bits = np.packbits(grey >= 128, axis=1)  # 1 = white under DeviceGray's default decode
    return f"BI /W {w} /H {h} /BPC 1 /CS /G /I false /F /AHx ID {bits.tobytes().hex()}> EI", w, h


def _fmt(v: float) -> str:
    return f"{v:.3f}".rstrip("0").rstrip(".")


class PdfWriter:
    format = StreamFormat.PDF

    def __init__(self, layout: StampLayout | None = None) -> None:
        self.layout = layout or StampLayout()

    def write(self, index: StreamIndex, plan: EngineeringPlan, out_dir: Path) -> list[Path]:
        check_plan(index, plan)
        with JobFiles(index.path, Path(out_dir), [job.name for job in plan.jobs], ".pdf") as files:
            try:
                if len(plan.jobs) > 2 * _CHUNK_JOBS and index.pages > 2 * _CHUNK_PAGES:
                    self._write_chunked(index, plan, files)
                else:
                    with pikepdf.open(index.path) as pdf:
                        self._write(pdf, index, plan, files.part)
            except _PIKEPDF_ERRORS as exc:
                raise StreamError(f"cannot write print jobs: {exc}", path=index.path) from exc
        return files.finals

    def _write_chunked(self, index: StreamIndex, plan: EngineeringPlan, files: JobFiles) -> None:
        """Many print jobs from a big stream: first cut it into chunks of consecutive jobs, then split each chunk.

        qpdf's writer pays for every object of the open file on each save (10 ms a save from a 10,000-page
        file, 0.5 ms from a 300-page one), so 3,000 saves from the whole stream would cost far more
        than ~30 chunk saves and 3,000 saves from small chunks.
        """
        pieces = {p.piece_id: p for p in index.pieces}
        groups: list[list[PrintJobPlan]] = [[]]
        pages = 0
        for job in plan.jobs:
            if pages >= _CHUNK_PAGES or len(groups[-1]) >= _CHUNK_JOBS:
                groups.append([])
                pages = 0
            groups[-1].append(job)
            pages += sum(pieces[pid].pages for pid in job.piece_ids)
        with tempfile.TemporaryDirectory(prefix=".pmc-chunks-", dir=files.out_dir) as tmp:
            chunk_plan = EngineeringPlan(jobs=tuple(
                PrintJobPlan(f"chunk{k:05d}", tuple(pid for job in g for pid in job.piece_ids))
                for k, g in enumerate(groups)))
            chunk_files: list[Path] = []

            def chunk_part(name: str) -> Path:
                chunk_files.append(Path(tmp) / f"{name}.pdf")
                return chunk_files[-1]

            with pikepdf.open(index.path) as pdf:
                self._write(pdf, index, chunk_plan, chunk_part)
            for chunk_file, chunk, g in zip(chunk_files, chunk_plan.jobs, groups):
                moved, first = [], 0
                for pid in chunk.piece_ids:
                    moved.append(dataclasses.replace(pieces[pid], first_page=first))
                    first += pieces[pid].pages
                sub = dataclasses.replace(index, path=str(chunk_file), pages=first, pieces=tuple(moved), quarantined=(),
                                          spans={p.piece_id: (p.first_page, p.pages) for p in moved})
                with pikepdf.open(chunk_file) as pdf:
                    self._write(pdf, sub, EngineeringPlan(jobs=tuple(g), stamps=plan.stamps), files.part)

    def _write(self, pdf: pikepdf.Pdf, index: StreamIndex, plan: EngineeringPlan,
               part: Callable[[str], Path]) -> None:
        page_objs = [p.obj for p in pdf.pages]
        if len(page_objs) != index.pages:
            raise StreamError(f"the file now has {len(page_objs)} pages, the index {index.pages}: re-index it",
                              path=index.path)
        root = pdf.Root
        pages_root = root.Pages
        _flatten_inherited(page_objs, pages_root)
        had_labels = "/PageLabels" in root
        # DParts carry each piece's recipient and postal code; an outline-indexed source keeps them in its
        # titles, which are written back as they were, so it gets DParts only when it had them
        write_dparts = "/DPartRoot" in root or any("title" not in p.index for p in index.pieces)
        # these point at pages across the whole file: a split file would drag every page along
        for key in ("/Outlines", "/DPartRoot", "/PageLabels", "/Dests", "/OpenAction", "/StructTreeRoot", "/AcroForm"):
            if key in root:
                del root[key]
        if isinstance(root.get("/Names"), pikepdf.Dictionary) and "/Dests" in root.Names:
            del root.Names["/Dests"]
        for o in page_objs:
            for key in ("/DPart", "/PieceInfo", "/StructParents", "/B"):
                if key in o:
                    del o[key]
            o.Parent = pages_root
        wrap_open = pdf.make_stream(b"q\n") if plan.stamps else None
        pieces = {p.piece_id: p for p in index.pieces}
        stamp_time = pikepdf.String(datetime.datetime.now(datetime.timezone.utc).strftime("D:%Y%m%d%H%M%SZ"))
        save_args = dict(stream_decode_level=pikepdf.StreamDecodeLevel.none,
                         object_stream_mode=pikepdf.ObjectStreamMode.disable, fix_metadata_version=False,
                         # streams keep the compression they came with (flate-compressing every uncompressed
                         # one again on each save triples the time)
                         compress_streams=False)
        for job in plan.jobs:
            kids = []
            outline_items = []
            dparts = []
            dpart_root_node = pdf.make_indirect(pikepdf.Dictionary(Type=pikepdf.Name.DPart))
            label_nums = []
            for pid in job.piece_ids:
                piece = pieces[pid]
                first, count = index.spans.get(pid, (piece.first_page, piece.pages))
                objs = page_objs[first:first + count]
                start_at = len(kids)
                step = 2 if piece.plex is Plex.DUPLEX else 1
                for k in range(0, count, step):
                    stamp = plan.stamps.get((pid, k // step + 1))
                    if stamp is not None:
                        self._stamp(pdf, objs[k], stamp, wrap_open, stamp_time)
                kids.extend(objs)
                if piece.plex is Plex.DUPLEX and count % 2:
                    # the next piece starts on a front side: a blank back for this piece's last sheet
                    kids.append(self._pad(pdf, objs[-1], pages_root, pid, (count + 1) // 2, stamp_time))
                outline_items.append(pdf.make_indirect(pikepdf.Dictionary(
                    Title=pikepdf.String(piece.index.get("title") or outline_title(piece)),
                    Dest=pikepdf.Array([objs[0], pikepdf.Name.Fit]))))
                if write_dparts:
                    dparts.append(self._dpart(pdf, piece, objs, dpart_root_node))
                if had_labels:
                    label_nums += [start_at, pikepdf.Dictionary(
                        S=pikepdf.Name.D, P=pikepdf.String(piece.index.get("label") or f"{pid}-"), St=1)]
            pages_root.Kids = pikepdf.Array(kids)
            pages_root.Count = len(kids)
            outlines = pdf.make_indirect(pikepdf.Dictionary(Type=pikepdf.Name.Outlines, Count=len(outline_items)))
            for i, item in enumerate(outline_items):
                item.Parent = outlines
                if i:
                    item.Prev = outline_items[i - 1]
                if i + 1 < len(outline_items):
                    item.Next = outline_items[i + 1]
            if outline_items:
                outlines.First, outlines.Last = outline_items[0], outline_items[-1]
            root.Outlines = outlines
            if write_dparts:
                dpart_root_node.DParts = pikepdf.Array([pikepdf.Array(dparts)])
                root.DPartRoot = pdf.make_indirect(pikepdf.Dictionary(
                    Type=pikepdf.Name.DPartRoot, DPartRootNode=dpart_root_node, RecordLevel=1))
            if had_labels:
                root.PageLabels = pikepdf.Dictionary(Nums=pikepdf.Array(label_nums))
            pdf.save(part(job.name), **save_args)

    @staticmethod
    def _pad(pdf: pikepdf.Pdf, last: pikepdf.Dictionary, pages_root: pikepdf.Dictionary, piece_id: str,
             sheet: int, stamp_time: pikepdf.String) -> pikepdf.Dictionary:
        box = last.get("/MediaBox", pages_root.get("/MediaBox", pikepdf.Array([0, 0, 612, 792])))
        private = pikepdf.Dictionary(Pad=True, PieceID=pikepdf.String(piece_id), Sheet=sheet)
        return pdf.make_indirect(pikepdf.Dictionary(
            Type=pikepdf.Name.Page, Parent=pages_root, MediaBox=box, Resources=pikepdf.Dictionary(),
            PieceInfo=pikepdf.Dictionary(PMC=pikepdf.Dictionary(LastModified=stamp_time, Private=private))))

    @staticmethod
    def _dpart(pdf: pikepdf.Pdf, piece: Piece, objs: list, parent: pikepdf.Dictionary) -> pikepdf.Dictionary:
        dpm = pikepdf.Dictionary(PieceID=pikepdf.String(piece.piece_id),
                                 Address=pikepdf.Array([pikepdf.String(x) for x in piece.recipient]))
        if piece.postal_code:
            dpm.PostalCode = pikepdf.String(piece.postal_code)
        for k, v in piece.index.items():
            if k not in ("title", "label") and re.fullmatch(r"[A-Za-z][A-Za-z0-9_]*", k):
                dpm[f"/{k}"] = pikepdf.String(v)
        leaf = pdf.make_indirect(pikepdf.Dictionary(Type=pikepdf.Name.DPart, Parent=parent,
                                                    Start=objs[0], End=objs[-1], DPM=dpm))
        for o in objs:
            o.DPart = leaf
        return leaf

    def _stamp(self, pdf: pikepdf.Pdf, page: pikepdf.Dictionary, stamp: SheetStamp, wrap_open: pikepdf.Stream,
               stamp_time: pikepdf.String) -> None:
        lay = self.layout
        box = [float(v) for v in page.get("/MediaBox", [0, 0, 612, 792])]
        x0, y0, x1, y1 = min(box[0], box[2]), min(box[1], box[3]), max(box[0], box[2]), max(box[1], box[3])
        image, w, h = _datamatrix_inline(stamp.control_code)
        mw, mh = w * lay.module_pt, h * lay.module_pt
        dx, dy = x1 - lay.datamatrix_right - mw, y1 - lay.datamatrix_top - mh
        ops = [f"Q q 0 g {_fmt(mw)} 0 0 {_fmt(mh)} {_fmt(dx)} {_fmt(dy)} cm {image} Q"]
        if stamp.imb_bars:
            bottom = y1 - lay.imb_top - IMB_GEOMETRY["full"]
            rects = imb_rects(stamp.imb_bars, x0 + lay.imb_left, bottom)
            ops.append("q 0 g " + " ".join("%.2f %.2f %.2f %.2f re" % r for r in rects) + " f Q")
        contents = page.get("/Contents")
        parts = list(contents) if isinstance(contents, pikepdf.Array) else ([contents] if contents is not None else [])
        page.Contents = pikepdf.Array([wrap_open, *parts, pdf.make_stream(("\n".join(ops) + "\n").encode())])
        private = pikepdf.Dictionary(ControlCode=pikepdf.String(stamp.control_code),
                                     PieceID=pikepdf.String(stamp.piece_id), Sheet=stamp.sheet)
        if stamp.imb_bars:
            private.IMb = pikepdf.String(stamp.imb_bars)
        page.PieceInfo = pikepdf.Dictionary(PMC=pikepdf.Dictionary(LastModified=stamp_time, Private=private))


_INHERITABLE = ("/Resources", "/MediaBox", "/CropBox", "/Rotate")


def _flatten_inherited(page_objs: list, pages_root: pikepdf.Dictionary) -> None:
    """Copy attributes a page inherits from its ancestors onto the page, before the tree is rebuilt flat."""
    root = pages_root.objgen
    for o in page_objs:
        node = o.get("/Parent")
        if isinstance(node, pikepdf.Dictionary) and node.objgen == root:
            continue  # the page stays under the root, so what it inherits from there stays in force
        missing = [k for k in _INHERITABLE if k not in o]
        depth = 0
        while missing and isinstance(node, pikepdf.Dictionary) and depth < 64:
            for k in list(missing):
                if k in node:
                    o[k] = node[k]
                    missing.remove(k)
            node = node.get("/Parent")
            depth += 1


def read_page_twins(path: Path) -> list[dict[str, str] | None]:
    """Each page's twin: a stamp's (ControlCode, PieceID, Sheet, IMb), a pad page's (Pad "true", PieceID,
    Sheet), or None for an unstamped page."""
    out: list[dict[str, str] | None] = []
    try:
        with pikepdf.open(path) as pdf:
            for page in pdf.pages:
                info = page.obj.get("/PieceInfo")
                pmc = info.get("/PMC") if isinstance(info, pikepdf.Dictionary) else None
                private = pmc.get("/Private") if isinstance(pmc, pikepdf.Dictionary) else None
                out.append({k[1:]: ("true" if v else "false") if isinstance(v, bool) else _text(v)
                            for k, v in private.items()} if isinstance(private, pikepdf.Dictionary) else None)
    except _PIKEPDF_ERRORS as exc:
        raise StreamError(f"unreadable PDF: {exc}", path=str(path)) from exc
    return out


READER = PdfReader()
WRITER = PdfWriter()
