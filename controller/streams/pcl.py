"""PCL print streams (PCL 5, with PJL; PCL XL page counting): index into mail pieces, reorder, stamp, split.

Reading walks the escape sequences without rendering: `ESC` + parameter character + group character
+ value/parameter pairs, skipping the binary data that `...W` commands (raster rows, fonts, patterns)
and `*b#V` / `&p#X` carry, so a form feed inside raster data is not a page end. A page ends at a form
feed, or at a reset (`ESC E`) or a UEL (`ESC%-12345X`, back to PJL) that follows marks on the page.
`ESC&l#S` sets simplex (0) or duplex (1, 2), as does `@PJL SET DUPLEX=ON|OFF`. Pieces start at PJL
comment markers matched by a configurable pattern (default `@PJL COMMENT PMC-Piece ID POSTAL`, with
`@PJL COMMENT PMC-Address line` for the recipient block; a piece's bytes then run from the UEL that
opens its marker block), or come from a sidecar index (then each page's bytes are moved on their own).
A sequence that runs past the end of the file, or a stream that opened a PJL job and does not close
it with a final UEL, is a StreamError naming the byte offset (a truncated file).

PCL XL (`) HP-PCL XL;` streams, e.g. Ghostscript's pxlmono) is tokenised far enough to count pages
(BeginPage/EndPage operators) and to index pieces from a sidecar; its writer is not built, since an XL
page may use fonts downloaded on an earlier page.

Writing keeps the job envelope: the bytes before the first piece (UEL, PJL job header, the first reset
and setup) and after the last page (final reset, `@PJL EOJ`, UEL), and moves each piece's bytes in
plan order. Stamps: the control code as a raster graphic (`PclLayout.module_dots` dots a DataMatrix module
at `PclLayout.dpi`) and the IMb as 65 filled rectangles (`ESC*c#h#v0P`),
placed by the cursor in decipoints (so the job's unit of measure does not matter) just before the
page's form feed, between a cursor push and pop. The machine-readable twin is an alphanumeric-ID
command, `ESC&n#W` whose data is an operation byte 0x00 and then `PMC:<payload>[;IMB:<bars>]`. PCL has
no comment command; operation 0 only makes that string the current font string ID for a later
font-management command, so it prints nothing (a job that itself manages fonts by string ID should set
its own again before use). `read_page_twins` reads it back without rendering.

Duplex: after a piece with an odd page count the writer adds a pad page, `ESC&n#W` with the data
0x00 `PMC-Pad:PIECE` (the piece it follows) and a form feed: a blank back, so the next piece starts
on a front side. A blank page rather than `ESC&a1G` (duplex page side selection: next page on a front
side), which makes the same sheet on a printer: with a page the stream's page count is the printer's
impression count (a duplex sheet is two impressions, blank back or not, as the fleet's reconciliation
counts), and every reader that counts pages by form feeds (ours, the printer simulator's, a
spooler's) pairs pages into sheets right without knowing page-side commands; `ESC&a1G` would need
each of them to track which side the printer is on. (A printer set to drop blank pages would drop
the pad too; production duplex printers are not run so.) The reader counts a page holding the pad
record in the stream's pages and in no piece (see paged.py); the writer drops an input's pads and
pads again for the new order.
"""

from __future__ import annotations

import mmap
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence


from controller.errors import StreamError
from controller.model import Plex
from controller.streams.base import EngineeringPlan, SheetStamp, StreamFormat, StreamIndex, check_plan
from controller.streams.paged import (
    Boundary, JobFiles, MarkerReadOptions, SheetLayout, mapped_stream, merge_sidecar, needs_pad, paged_index,
)

__all__ = ["PclReadOptions", "PclReader", "PclWriter", "PclLayout", "READER", "WRITER", "read_page_twins",
           "scan", "count_pxl_pages"]

ESC, FF = 0x1B, 0x0C
UEL = b"\x1b%-12345X"
_PXL_HEAD = b" HP-PCL XL;"  # after the binding byte: ')' little-endian, '(' big-endian
_PAD_RECORD = b"\x00PMC-Pad:"  # not "\x00PMC:": a twin reader must not take a pad for a stamped page


def _pad_page(piece_id: str) -> bytes:
    record = _PAD_RECORD + piece_id.encode("latin-1")
    return b"\x1b&n%dW" % len(record) + record + b"\x0c"


@dataclass(frozen=True, slots=True)
class PclReadOptions(MarkerReadOptions):
    piece_pattern: str = r"^@PJL COMMENT PMC-Piece\s+(?P<piece>\S+)(?:\s+(?P<postal>\S+))?\s*$"
    recipient_pattern: str = r"^@PJL COMMENT PMC-Address\s(?P<line>.*?)\s*$"


@dataclass(frozen=True, slots=True)
class PclLayout(SheetLayout):
    """The shared stamp positions (PCL's origin is near the page's top-left corner); the DataMatrix is a
    raster graphic at `dpi`, `module_dots` printer dots a module."""

    dpi: int = 300
    module_dots: int = 8  # 0.68 mm at 300 dpi


@dataclass(slots=True)
class _Marker:
    offset: int  # the UEL that opens the PJL block
    page: int  # pages ended before it
    lines: list[str] = field(default_factory=list)


@dataclass(slots=True)
class _Scan:
    size: int
    page_ends: list[int]  # offset just past each page's end (form feed, or before the reset/UEL ending it)
    page_starts: list[int]
    page_plex: list[Plex]
    markers: list[_Marker]
    trailer_start: int
    pjl: bool
    twins: dict[int, str]  # page -> twin text
    pads: list[int] = field(default_factory=list)  # pages holding a pad record, in order


_VALUE = re.compile(rb"[+-]?[0-9]*(?:\.[0-9]*)?")
_PJL_SPACE = b" \t\r\n"
# our PJL comments: a marker or address line damaged into another PMC- name would be dropped silently
_PMC_COMMENT = re.compile(r"^@PJL COMMENT\s+(PMC-\S*)")
_PMC_COMMENTS = frozenset({"PMC-Piece", "PMC-Address"})


def _damaged_record(data: bytes | mmap.mmap, j: int, n: int, alphanumeric_id: bool) -> bool:
    """Whether the data block of n bytes at j, not read as a twin or pad record, is one damaged: an
    alphanumeric-ID record (`ESC&n#W`) naming PMC, or one byte off a pad record's head; or a twin or pad
    record under another command (its `ESC&n#W` damaged). A lost pad would add its blank page to the piece."""
    if alphanumeric_id:
        head = data[j:j + len(_PAD_RECORD)]
        return b"PMC" in head[:5] or n > len(_PAD_RECORD) and sum(x != y for x, y in zip(head, _PAD_RECORD)) == 1
    return data[j:j + 5] == b"\x00PMC:" or data[j:j + len(_PAD_RECORD)] == _PAD_RECORD


def scan(path: str, data: bytes | mmap.mmap) -> _Scan:
    size = len(data)
    page_ends: list[int] = []
    page_starts: list[int] = []
    page_plex: list[Plex] = []
    markers: list[_Marker] = []
    twins: dict[int, str] = {}
    pads: list[int] = []
    plex = Plex.SIMPLEX
    dirty = False
    page_start = 0
    pjl = data[:len(UEL)] == UEL
    last_uel_end = -1
    i = 0

    def end_page(at: int) -> None:
        nonlocal dirty, page_start
        if dirty and pads and pads[-1] == len(page_ends):
            raise StreamError("a pad page carries marks (a form feed lost between the pad and the next page?)",
                              path=path, offset=page_start, page=len(page_ends) + 1)
        page_starts.append(page_start)
        page_ends.append(at)
        page_plex.append(plex)
        dirty = False
        page_start = at

    while i < size:
        b = data[i]
        if b == ESC:
            if data[i:i + len(UEL)] == UEL:
                if dirty:
                    end_page(i)
                marker_at = i
                i += len(UEL)
                last_uel_end = i
                # PJL lines until ENTER LANGUAGE or a byte that is not PJL (printer language switch)
                block: _Marker | None = None
                entered = False
                while i < size and data[i:i + 4] == b"@PJL":
                    nl = data.find(b"\n", i)
                    if nl < 0:
                        raise StreamError("a PJL line runs past the end", path=path, offset=i, page=len(page_ends) + 1)
                    line = data[i:nl].rstrip(b"\r").decode("latin-1")
                    upper = line.upper()
                    if upper.startswith("@PJL COMMENT"):
                        if block is None:
                            block = _Marker(marker_at, len(page_ends))
                            markers.append(block)
                        block.lines.append(line)
                    elif re.match(r"@PJL SET DUPLEX\s*=\s*ON", upper):
                        plex = Plex.DUPLEX
                    elif re.match(r"@PJL SET DUPLEX\s*=\s*OFF", upper):
                        plex = Plex.SIMPLEX
                    elif "PMC-" in upper:
                        raise StreamError(f"PJL line {line[:40]!r} carries a PMC- name but is no COMMENT: a damaged "
                                          "piece marker?", path=path, offset=i, page=len(page_ends) + 1)
                    i = nl + 1
                    if upper.startswith("@PJL ENTER"):
                        entered = True
                        break
                if not entered:  # PJL goes on to a UEL, or a printer language begins (PCL: ESC)
                    k = i
                    while k < size and data[k] in _PJL_SPACE:
                        k += 1
                    if k < size and data[k] != ESC:
                        raise StreamError(f"after the UEL at byte {marker_at} and its PJL lines comes "
                                          f"{bytes(data[k:k + 24])!r}, neither a PJL line nor PCL: a damaged PJL "
                                          "line?", path=path, offset=k, page=len(page_ends) + 1)
                if i > page_start and not dirty:
                    page_start = i if block is None else page_start
                continue
            if i + 1 >= size:
                raise StreamError("an escape sequence is cut off by the end of the file", path=path, offset=i,
                                  page=len(page_ends) + 1)
            c = data[i + 1]
            if c == 0x45:  # ESC E: reset, ejects a marked page
                if dirty:
                    end_page(i)
                i += 2
                continue
            if not 0x21 <= c <= 0x2F:
                i += 2  # two-character escape sequence
                continue
            if i + 2 >= size:
                raise StreamError("an escape sequence is cut off by the end of the file", path=path, offset=i,
                                  page=len(page_ends) + 1)
            group = data[i + 2]
            start = i
            j = i + 3 if 0x60 <= group <= 0x7E else i + 2
            while True:
                m = _VALUE.match(data, j)
                j = m.end()
                if j >= size:
                    raise StreamError("an escape sequence is cut off by the end of the file", path=path, offset=start,
                                      page=len(page_ends) + 1)
                term = data[j]
                j += 1
                if not 0x40 <= term <= 0x7E:
                    raise StreamError(f"escape sequence with a bad parameter byte 0x{term:02x}", path=path,
                                      offset=start, page=len(page_ends) + 1)
                value = m.group()
                upper_term = term & ~0x20
                carries = upper_term == 0x57 or (c == 0x2A and group == 0x62 and upper_term == 0x56) \
                    or (c == 0x26 and group == 0x70 and upper_term == 0x58)
                if carries:
                    try:
                        n = int(float(value)) if value not in (b"", b"+", b"-", b".") else 0
                    except ValueError:
                        n = 0
                    if n < 0 or j + n > size:
                        raise StreamError(f"a data block of {n} bytes runs past the end of the file", path=path,
                                          offset=start, page=len(page_ends) + 1)
                    if c == 0x26 and group == 0x6E and upper_term == 0x57 and data[j:j + 5] == b"\x00PMC:":
                        twins[len(page_ends)] = bytes(data[j + 1:j + n]).decode("latin-1")
                    elif c == 0x26 and group == 0x6E and upper_term == 0x57 \
                            and data[j:j + len(_PAD_RECORD)] == _PAD_RECORD:
                        if not pads or pads[-1] != len(page_ends):
                            pads.append(len(page_ends))
                    elif _damaged_record(data, j, n, c == 0x26 and group == 0x6E and upper_term == 0x57):
                        raise StreamError(f"a damaged PMC record {bytes(data[j:j + 12])!r} (a pad or control code), "
                                          f"or one under a damaged command {bytes(data[start:start + 3])!r}",
                                          path=path, offset=start, page=len(page_ends) + 1)
                    elif c == 0x2A and group == 0x62 or c == 0x26 and group == 0x70:
                        dirty = True
                    j += n
                if c == 0x26 and group == 0x6C and upper_term == 0x53:  # &l#S duplex
                    plex = Plex.SIMPLEX if value in (b"0", b"") else Plex.DUPLEX
                if c == 0x2A and group == 0x63 and upper_term == 0x50:  # *c#P rule fill marks
                    dirty = True
                if 0x40 <= term <= 0x5E:
                    break
            i = j
            continue
        if b == FF:
            end_page(i + 1)
            i += 1
            continue
        if b > 0x20:
            if b == 0x40 and data[i + 1:i + 4] == b"PJL":
                raise StreamError("a PJL line outside a PJL block (no UEL before it): a damaged UEL or PJL line?",
                                  path=path, offset=i, page=len(page_ends) + 1)
            if b == 0x50 and data[i + 1:i + 8] == b"MC-Pad:":
                raise StreamError("a pad record's text outside its record (a damaged ESC&n#W before it?)",
                                  path=path, offset=i, page=len(page_ends) + 1)
            dirty = True
        i += 1
    if dirty:
        raise StreamError("the last page has no end (no form feed or reset): the file is truncated", path=path,
                          offset=size, page=len(page_ends) + 1)
    if pjl and (last_uel_end != size or size < 2 * len(UEL)):
        raise StreamError("the PJL job is not closed by a final UEL: the file is truncated", path=path, offset=size,
                          page=len(page_ends))
    trailer_start = page_ends[-1] if page_ends else size
    return _Scan(size, page_ends, page_starts, page_plex, markers, trailer_start, pjl, twins, pads)


# PCL XL: data type tags with their element sizes; attribute, embedded data and operator bytes
_XL_SIZES = {0xC0: 1, 0xC1: 2, 0xC2: 4, 0xC3: 2, 0xC4: 4, 0xC5: 4,
             0xD0: 2, 0xD1: 4, 0xD2: 8, 0xD3: 4, 0xD4: 8, 0xD5: 8,
             0xE0: 4, 0xE1: 8, 0xE2: 16, 0xE3: 8, 0xE4: 16, 0xE5: 16}
_XL_ARRAYS = {0xC8: 1, 0xC9: 2, 0xCA: 4, 0xCB: 2, 0xCC: 4, 0xCD: 4}


def count_pxl_pages(path: str, data: bytes | mmap.mmap) -> list[int]:
    """Offsets just past each EndPage operator of a PCL XL stream (binary, little-endian or big-endian)."""
    size = len(data)
    head = data.find(_PXL_HEAD)
    if head < 0:
        raise StreamError("no PCL XL stream header", path=path, offset=0)
    nl = data.find(b"\n", head)
    if nl < 0:
        raise StreamError("the PCL XL stream header has no end", path=path, offset=head)
    order = "big" if head and data[head - 1] == 0x28 else "little"
    i = nl + 1
    ends: list[int] = []
    open_page = False
    while i < size:
        b = data[i]
        if b in (0x00, 0x09, 0x0A, 0x0B, 0x0C, 0x0D, 0x20):
            i += 1
        elif b in _XL_SIZES:
            i += 1 + _XL_SIZES[b]
        elif b in _XL_ARRAYS:
            if i + 1 >= size:
                break
            t = data[i + 1]
            if t == 0xC0:
                n, i = data[i + 2] if i + 2 < size else 0, i + 3
            elif t == 0xC1:
                n, i = int.from_bytes(data[i + 2:i + 4], order), i + 4
            else:
                raise StreamError(f"PCL XL array length of type 0x{t:02x}", path=path, offset=i + 1,
                                  page=len(ends) + 1)
            i += n * _XL_ARRAYS[b]
        elif b == 0xF8:
            i += 2
        elif b == 0xF9:
            i += 3
        elif b == 0xFA:
            i += 5 + int.from_bytes(data[i + 1:i + 5], order)
        elif b == 0xFB:
            i += 2 + (data[i + 1] if i + 1 < size else 0)
        elif b == 0x43:  # BeginPage
            if open_page:
                raise StreamError("BeginPage inside a page", path=path, offset=i, page=len(ends) + 1)
            open_page = True
            i += 1
        elif b == 0x44:  # EndPage
            if not open_page:
                raise StreamError("EndPage without BeginPage", path=path, offset=i, page=len(ends) + 1)
            open_page = False
            i += 1
            ends.append(i)
        elif 0x41 <= b <= 0xC0:
            i += 1
        elif b == 0x1B and data[i:i + len(UEL)] == UEL:
            i += len(UEL)
            while i < size and data[i:i + 4] == b"@PJL":
                nl = data.find(b"\n", i)
                i = size if nl < 0 else nl + 1
        else:
            raise StreamError(f"byte 0x{b:02x} is not a PCL XL token", path=path, offset=i, page=len(ends) + 1)
    if i > size or open_page:
        raise StreamError("the PCL XL stream is cut off", path=path, offset=size, page=len(ends) + 1)
    return ends


class PclReader:
    format = StreamFormat.PCL

    def __init__(self, options: PclReadOptions | None = None) -> None:
        self.options = options or PclReadOptions()
        self._piece_re, self._recipient_re = self.options.patterns()

    def sniff(self, head: bytes) -> bool:
        return head.startswith(UEL) or head.startswith(b"\x1bE") or _PXL_HEAD in head[:512]

    def index(self, path: Path, *, job_id: str, lenient: bool = False,
              sidecar: Sequence[Any] | None = None) -> StreamIndex:
        spath = str(path)
        with mapped_stream(path, self.sniff, 512, "not PCL (no UEL, reset or PCL XL header)") as data:
            if _PXL_HEAD in data[:512]:
                ends = count_pxl_pages(spath, data)
                s = _Scan(len(data), ends, [0] * len(ends), [Plex.SIMPLEX] * len(ends), [],
                          ends[-1] if ends else len(data), False, {})
            else:
                s = scan(spath, data)
        bounds: list[Boundary] = []
        orphan: _Marker | None = None  # the first PJL block whose address lines follow no piece marker
        for k, marker in enumerate(s.markers):
            piece = None
            for line in marker.lines:
                own = _PMC_COMMENT.match(line)
                if own and own.group(1) not in _PMC_COMMENTS:
                    raise StreamError(f"unknown comment {line[:40]!r} in the PMC- namespace: a damaged piece "
                                      "marker or address line?", path=spath, offset=marker.offset,
                                      page=marker.page + 1)
                m = self._piece_re.match(line)
                if m:
                    groups = m.groupdict()
                    end = s.markers[k + 1].offset if k + 1 < len(s.markers) else s.trailer_start
                    piece = Boundary(groups["piece"], marker.page, (), groups.get("postal"),
                                     offset=marker.offset, span=(marker.offset, end))
                    bounds.append(piece)
                    continue
                m = self._recipient_re.match(line)
                if m and piece is not None:
                    piece.recipient = (*piece.recipient, m.group("line"))
                elif m and orphan is None:
                    orphan = marker
        if bounds and orphan is not None:  # the markers place the pieces: address lines follow a piece's marker
            raise StreamError("address lines in a PJL block without a piece marker before them: the marker is "
                              "damaged or missing", path=spath, offset=orphan.offset, page=orphan.page + 1)
        bounds = merge_sidecar(spath, bounds, sidecar)
        total = len(s.page_ends)
        starts = sorted(b.first_page for b in bounds)
        for b in bounds:
            if 0 <= b.first_page < total:
                b.plex = s.page_plex[b.first_page]
            if b.span is None and 0 <= b.first_page < total:
                nxt = next((x for x in starts if x > b.first_page), total)
                b.span = (s.page_starts[b.first_page], s.page_ends[min(nxt, total) - 1])
        return paged_index(spath, StreamFormat.PCL, job_id, bounds, total, lenient=lenient,
                           require_postal=self.options.require_postal, sidecar=sidecar, pads=s.pads, page_spans=False)


def _decipoints(pt: float) -> int:
    return round(pt * 10)


def _pcl_stamp(stamp: SheetStamp, lay: PclLayout) -> bytes:
    import numpy as np  # only stamping needs it
    from drivers.controlcode import ControlCodeError, render_datamatrix

    try:
        grey = render_datamatrix(stamp.control_code, module_px=lay.module_dots)
    except ControlCodeError as exc:
        raise StreamError(f"cannot draw control code {stamp.control_code!r}: {exc}", piece_id=stamp.piece_id) from exc
    h, w = grey.shape
    rows = np.packbits(grey < 128, axis=1)  # PCL raster: 1 = black
    width_pt = w * 72 / lay.dpi
    x = lay.page_width - lay.datamatrix_right - width_pt
    twin = f"PMC:{stamp.control_code}" + (f";IMB:{stamp.imb_bars}" if stamp.imb_bars else "")
    out = bytearray(b"\x1b&n%dW\x00" % (len(twin) + 1) + twin.encode("ascii"))
    out += b"\x1b&f0S"  # push the cursor
    # decipoints (ESC&a#H/#V, ESC*c#H/#V) whatever unit of measure the job set with ESC&u#D
    out += b"\x1b&a%dh%dV" % (_decipoints(x), _decipoints(lay.datamatrix_top))
    out += b"\x1b*t%dR\x1b*r0F\x1b*r%dS\x1b*r1A\x1b*b0M" % (lay.dpi, w)
    for row in rows:
        out += b"\x1b*b%dW" % len(row) + row.tobytes()
    out += b"\x1b*rC"
    if stamp.imb_bars:
        from controller.streams.pdf import IMB_GEOMETRY, imb_rects

        bottom_from_top = lay.imb_top + IMB_GEOMETRY["full"]
        for x0, y0, rw, rh in imb_rects(stamp.imb_bars, lay.imb_left, 0.0):
            top = bottom_from_top - (y0 + rh)  # imb_rects works upwards from 0 at the bars' bottom
            out += b"\x1b&a%dh%dV\x1b*c%dh%dv0P" % (_decipoints(x0), _decipoints(top), _decipoints(rw), _decipoints(rh))
    out += b"\x1b&f1S"  # pop the cursor
    return bytes(out)


class PclWriter:
    format = StreamFormat.PCL

    def __init__(self, layout: PclLayout | None = None) -> None:
        self.layout = layout or PclLayout()

    def write(self, index: StreamIndex, plan: EngineeringPlan, out_dir: Path) -> list[Path]:
        check_plan(index, plan)
        with JobFiles(index.path, out_dir, [job.name for job in plan.jobs], ".pcl") as files:
            with open(index.path, "rb") as fh, mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as data:
                if _PXL_HEAD in data[:512]:
                    raise StreamError("writing PCL XL is not supported (pages may use fonts of earlier pages)",
                                      path=index.path)
                s = scan(index.path, data)
                if len(s.page_ends) != index.pages:
                    raise StreamError(f"the file now has {len(s.page_ends)} pages, the index {index.pages}: "
                                      "re-index it", path=index.path)
                pieces = {p.piece_id: p for p in index.pieces}
                first_span = min(index.spans[p.piece_id][0] for p in index.pieces)
                header, trailer = bytes(data[:first_span]), bytes(data[s.trailer_start:])
                ends = s.page_ends
                pads = frozenset(s.pads)
                for job in plan.jobs:
                    tmp = files.part(job.name)
                    with open(tmp, "wb") as out:
                        out.write(header)
                        for pid in job.piece_ids:
                            piece = pieces[pid]
                            a, b = index.spans[pid]
                            pos = a
                            step = 2 if piece.plex is Plex.DUPLEX else 1
                            for k in range(piece.pages):
                                end = ends[piece.first_page + k]
                                stamp = plan.stamps.get((pid, k // step + 1)) if k % step == 0 else None
                                if stamp is not None and data[end - 1] == FF:
                                    out.write(data[pos:end - 1])
                                    out.write(_pcl_stamp(stamp, self.layout))
                                    out.write(b"\x0c")
                                else:
                                    out.write(data[pos:end])
                                pos = end
                            pad = piece.first_page + piece.pages  # an input's pad after the piece: dropped
                            if pad in pads and pos < b:
                                pos = ends[pad]
                            out.write(data[pos:b])
                            if needs_pad(piece.pages, piece.plex):
                                out.write(_pad_page(pid))
                        out.write(trailer)
        return files.finals


def read_page_twins(path: Path) -> list[dict[str, str] | None]:
    """Each page's stamp twin (ControlCode, IMb) from its `ESC&n#W` PMC record, or None."""
    spath = str(path)
    with open(path, "rb") as fh, mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as data:
        s = scan(spath, data)
    out: list[dict[str, str] | None] = [None] * len(s.page_ends)
    for page, text in s.twins.items():
        fields = dict(part.split(":", 1) for part in text.split(";") if ":" in part)
        twin = {"ControlCode": fields.get("PMC", "")}
        if "IMB" in fields:
            twin["IMb"] = fields["IMB"]
        out[page] = twin
    return out


READER = PclReader()
WRITER = PclWriter()
