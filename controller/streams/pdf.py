"""PDF print streams: index into mail pieces; reorder, stamp and split into print jobs.

Reading (controller.streams.pdf_index over pdf_objects, our own lazy object reader: the cross-reference
and then only the objects the index needs, through a bounded cache, so memory does not grow with the
file; no content stream is read, parsed or rendered):
  piece boundaries come, in this order of preference, from PDF/VT-style document parts (the
  catalog's /DPartRoot: the DPart nodes at /RecordLevel, or the leaves), from the top-level outline
  entries, or from page labels (/PageLabels ranges; the piece ID is the label prefix), and failing
  those from sidecar index entries. A piece's recipient block and postal code come from its DPart
  metadata (/DPM keys, configurable), from its outline title by a configurable pattern, or from the
  sidecar. Duplex is read from /ViewerPreferences /Duplex. Anything qpdf would have to repair to read
  the file (a damaged xref, an object not where the xref puts it, a page content stream whose /Length
  does not reach `endstream`, a truncated file) is a StreamError naming the byte offset or page: an
  import is all or nothing.

Writing (controller.streams.pdf_copy): each print job's pages and the objects they reach are copied byte
for byte, renumbered, under a new flat page tree with a new outline (one top-level entry per piece), new
document parts (one DPart per piece, /DPM carrying PieceID, PostalCode and Address), page labels, pads and
stamps; pikepdf is not even imported. DParts are written when the source had them or when its pieces were
not indexed from outline titles (which are written back as they were, so they still carry the recipients).

The pikepdf writer (`PdfWriter.copy_objects = False`) makes the same files in place through qpdf: the source
opened once, the page tree rebuilt flat for each print job and the file saved, so pages not in the job are
not reachable and not written. Nothing in pmc uses it; it stays as the peer the copying writer is tested
against (tests/controller/streams/test_pdf_copy.py), drawing stamps with the same `stamp_content` and
`stamp_twin`.

Stamps: on the front page of each sheet, the control code as a DataMatrix inline image (one sample per
module, hex-encoded, /I false, so no page resources change) and, on the sheet with the address block, the Intelligent Mail barcode as
vector bars (65 filled rectangles) below the address block; positions come from `StampLayout`, in the
page's MediaBox (its own or inherited; US letter when it has none).
The original page content is wrapped in q/Q so its graphics state cannot move the stamp.

The machine-readable twin: every stamped page carries a page-piece dictionary (PDF 32000-1 14.5),

    /PieceInfo << /PMC << /LastModified (D:...)
                          /Private << /ControlCode (payload) /PieceID (id) /Sheet n /IMb (AADT...) >> >> >>

(/IMb only on the sheet that has it). A plan with stamps drops an earlier run's /PieceInfo from every page
(a back page, or a page whose sheet has no stamp this time, too); a plan without keeps it, so a page and
the code drawn on it stay together.

Duplex padding: a duplex piece with an odd page count gets a blank back page after its last page, so the
next piece starts on a front side (no sheet carries two pieces; controller.fleet_plan counts a duplex
piece as 2 x sheets impressions). The pad is marked with the same twin, without a control code:

    /PieceInfo << /PMC << /LastModified (D:...) /Private << /Pad true /PieceID (id) /Sheet n >> >> >>

(n: the piece's last sheet, whose back it is). The reader passes the pad pages to `paged.assemble`, as the
PostScript and PCL readers do with theirs: a pad is no page of its piece, so re-indexing gives the same
pages and sheets per piece, while the file's page count includes the pads; in a stream holding pads, a
pad anywhere but right after a duplex piece with an odd page count, or such a piece without one, is
that piece's error (quarantined when lenient). A printer reading twins sees no code on a pad, so the
sheet's code is its front's.

A printer simulator reads the twins without rendering, e.g. with pikepdf:
``[p.obj.get("/PieceInfo", {}).get("/PMC", {}).get("/Private", {}).get("/ControlCode") for p in pdf.pages]``,
or with `read_page_twins(path)` here.
"""

from __future__ import annotations

import datetime
import functools
import logging
import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Sequence

from controller.errors import StreamError
from controller.model import Piece, Plex
from controller.streams.base import EngineeringPlan, SheetStamp, StreamFormat, StreamIndex, check_plan
from controller.streams.paged import JobFiles
from controller.streams.pdf_index import DEFAULT_TITLE_PATTERN, PdfReader, PdfReadOptions, outline_title

if TYPE_CHECKING:
    import pikepdf

logger = logging.getLogger(__name__)

__all__ = ["PdfReadOptions", "PdfReader", "PdfWriter", "StampLayout", "READER", "WRITER", "read_page_twins",
           "outline_title", "IMB_GEOMETRY", "DEFAULT_TITLE_PATTERN", "stamp_content", "stamp_twin"]

def _pikepdf_errors() -> tuple[type[BaseException], ...]:
    """What pikepdf raises on a malformed object or structure besides its own PdfError: builtin types."""
    import pikepdf

    return (pikepdf.PdfError, pikepdf.OutlineStructureError, RuntimeError, ValueError, TypeError,
            KeyError, IndexError, AttributeError, OverflowError, UnicodeDecodeError)


def _pdf_date() -> str:
    """Now, as a PDF date string in UTC (the twins' /LastModified)."""
    return datetime.datetime.now(datetime.timezone.utc).strftime("D:%Y%m%d%H%M%SZ")


def _text(obj: Any) -> str:
    import pikepdf

    if isinstance(obj, pikepdf.String):
        return str(obj)
    if isinstance(obj, pikepdf.Name):
        return str(obj)[1:]
    if isinstance(obj, (int, float)) and not isinstance(obj, bool):
        return str(obj)
    raise TypeError(f"expected text, found {type(obj).__name__}")


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


@functools.lru_cache(maxsize=16)
def _imb_bar_ops(x0: float, y_bottom: float) -> tuple[dict[str, str], ...]:
    """For each of the 65 bar positions, each bar's rectangle as content stream text (`imb_rects`): one table
    for every page with the same box, instead of formatting 260 numbers a page."""
    rows = {b: imb_rects(b * 65, x0, y_bottom) for b in "ADFT"}
    return tuple({b: "%.2f %.2f %.2f %.2f re" % rows[b][i] for b in "ADFT"} for i in range(65))


def stamp_content(stamp: SheetStamp, box: Sequence[Any], layout: StampLayout) -> bytes:
    """The content stream a stamped page draws after its own (which the writer wraps in `q` ... so that the
    leading `Q` restores the graphics state): the DataMatrix and, on the sheet that has it, the IMb, placed
    by `layout` in `box`, the page's MediaBox."""
    x0, y0, x1, y1 = (float(v) for v in box)
    x0, y0, x1, y1 = min(x0, x1), min(y0, y1), max(x0, x1), max(y0, y1)
    image, w, h = _datamatrix_inline(stamp.control_code)
    mw, mh = w * layout.module_pt, h * layout.module_pt
    dx, dy = x1 - layout.datamatrix_right - mw, y1 - layout.datamatrix_top - mh
    ops = [f"Q q 0 g {_fmt(mw)} 0 0 {_fmt(mh)} {_fmt(dx)} {_fmt(dy)} cm {image} Q"]
    if stamp.imb_bars:
        bottom = y1 - layout.imb_top - IMB_GEOMETRY["full"]
        left, bars = x0 + layout.imb_left, stamp.imb_bars
        table = _imb_bar_ops(left, bottom) if len(bars) == 65 else None
        try:
            text = " ".join([table[i][b] for i, b in enumerate(bars)]) if table is not None else None
        except KeyError:
            text = None
        if text is None:  # not 65 bars of A, D, F, T: imb_rects says what is wrong
            text = " ".join("%.2f %.2f %.2f %.2f re" % r for r in imb_rects(bars, left, bottom))
        ops.append(f"q 0 g {text} f Q")
    return ("\n".join(ops) + "\n").encode()


def stamp_twin(stamp: SheetStamp) -> dict[str, str | int]:
    """The entries of a stamped page's /PieceInfo /PMC /Private (see the module's docstring), in order."""
    private: dict[str, str | int] = {"ControlCode": stamp.control_code, "PieceID": stamp.piece_id,
                                     "Sheet": stamp.sheet}
    if stamp.imb_bars:
        private["IMb"] = stamp.imb_bars
    return private


class PdfWriter:
    format = StreamFormat.PDF

    def __init__(self, layout: StampLayout | None = None) -> None:
        self.layout = layout or StampLayout()

    # the byte-for-byte copying writer (controller.streams.pdf_copy); False: the pikepdf writer, the tests' peer
    copy_objects = True

    def write(self, index: StreamIndex, plan: EngineeringPlan, out_dir: Path) -> list[Path]:
        check_plan(index, plan)
        if self.copy_objects:
            from controller.streams import pdf_copy

            with JobFiles(index.path, Path(out_dir), [job.name for job in plan.jobs], ".pdf") as files:
                pdf_copy.write_jobs(index, plan, files, _pdf_date(), self.layout)
            return files.finals
        import pikepdf

        with JobFiles(index.path, Path(out_dir), [job.name for job in plan.jobs], ".pdf") as files:
            try:
                with pikepdf.open(index.path) as pdf:
                    self._write(pdf, index, plan, files.part)
            except _pikepdf_errors() as exc:
                raise StreamError(f"cannot write print jobs: {exc}", path=index.path) from exc
        return files.finals

    def _write(self, pdf: pikepdf.Pdf, index: StreamIndex, plan: EngineeringPlan,
               part: Callable[[str], Path]) -> None:
        import pikepdf

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
        # a stamp twin of an earlier run goes only when this run stamps the page again; otherwise it stays
        # with the code drawn in the page's content
        drop = ("/DPart", "/PieceInfo", "/StructParents", "/B") if plan.stamps else ("/DPart", "/StructParents", "/B")
        for o in page_objs:
            for key in drop:
                if key in o:
                    del o[key]
            o.Parent = pages_root
        wrap_open = pdf.make_stream(b"q\n") if plan.stamps else None
        pieces = {p.piece_id: p for p in index.pieces}
        stamp_time = pikepdf.String(_pdf_date())
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
            with open(part(job.name), "wb") as out:  # a stream: pikepdf skips resolving both paths on every save
                pdf.save(out, **save_args)

    @staticmethod
    def _pad(pdf: pikepdf.Pdf, last: pikepdf.Dictionary, pages_root: pikepdf.Dictionary, piece_id: str,
             sheet: int, stamp_time: pikepdf.String) -> pikepdf.Dictionary:
        import pikepdf

        box = last.get("/MediaBox", pages_root.get("/MediaBox", pikepdf.Array([0, 0, 612, 792])))
        private = pikepdf.Dictionary(Pad=True, PieceID=pikepdf.String(piece_id), Sheet=sheet)
        return pdf.make_indirect(pikepdf.Dictionary(
            Type=pikepdf.Name.Page, Parent=pages_root, MediaBox=box, Resources=pikepdf.Dictionary(),
            PieceInfo=pikepdf.Dictionary(PMC=pikepdf.Dictionary(LastModified=stamp_time, Private=private))))

    @staticmethod
    def _dpart(pdf: pikepdf.Pdf, piece: Piece, objs: list, parent: pikepdf.Dictionary) -> pikepdf.Dictionary:
        import pikepdf

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
        import pikepdf

        box = page.get("/MediaBox", [0, 0, 612, 792])  # qpdf has pushed an inherited one onto the page
        contents = page.get("/Contents")
        parts = list(contents) if isinstance(contents, pikepdf.Array) else ([contents] if contents is not None else [])
        page.Contents = pikepdf.Array([wrap_open, *parts, pdf.make_stream(stamp_content(stamp, box, self.layout))])
        private = pikepdf.Dictionary({f"/{k}": pikepdf.String(v) if isinstance(v, str) else v
                                      for k, v in stamp_twin(stamp).items()})
        page.PieceInfo = pikepdf.Dictionary(PMC=pikepdf.Dictionary(LastModified=stamp_time, Private=private))


_INHERITABLE = ("/Resources", "/MediaBox", "/CropBox", "/Rotate")


def _flatten_inherited(page_objs: list, pages_root: pikepdf.Dictionary) -> None:
    """Copy attributes a page inherits from its ancestors onto the page, before the tree is rebuilt flat."""
    import pikepdf

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
    import pikepdf

    out: list[dict[str, str] | None] = []
    try:
        with pikepdf.open(path) as pdf:
            for page in pdf.pages:
                info = page.obj.get("/PieceInfo")
                pmc = info.get("/PMC") if isinstance(info, pikepdf.Dictionary) else None
                private = pmc.get("/Private") if isinstance(pmc, pikepdf.Dictionary) else None
                out.append({k[1:]: ("true" if v else "false") if isinstance(v, bool) else _text(v)
                            for k, v in private.items()} if isinstance(private, pikepdf.Dictionary) else None)
    except OSError as exc:
        raise StreamError(f"cannot read: {exc.strerror or exc}", path=str(path)) from exc
    except _pikepdf_errors() as exc:
        raise StreamError(f"unreadable PDF: {exc}", path=str(path)) from exc
    return out


READER = PdfReader()
WRITER = PdfWriter()
