"""PostScript (DSC) print streams: index into mail pieces; reorder, stamp and split into print jobs.

Reading scans the file line by line without interpreting PostScript: the header, prolog and setup are
everything before the first `%%Page:`; each page runs from its `%%Page:` to the next one or to
`%%Trailer`. Binary sections announced by `%%BeginData:` / `%%BeginBinary:` are skipped by their
byte counts. The `%%Pages:` count (in the header or, with `(atend)`, in the trailer) must agree with
the pages found, page ordinals must run 1, 2, 3..., and the file must end with `%%EOF`: anything else
is a StreamError naming the byte offset. Production PostScript has no standard piece marker, so
pieces start at a comment matched by a configurable pattern (default `%%PMC-Piece: ID POSTAL`, with
`%%PMC-Address: line` comments for the recipient block) or come from a sidecar index. Duplex is read
from `/Duplex true` in a setpagedevice of the prolog or setup.

Writing keeps the header, prolog and setup (with `%%Pages:` set to the job's count) and the trailer,
and moves whole page bodies, renumbering the page ordinals. A stamp goes right after the page's
`%%EndPageSetup` (or its `%%Page:` comments) as a procedure the page device's EndPage runs once at
that page's showpage: the control code as a 1-bit `image` with one sample per DataMatrix module and
the IMb as 65 `rectfill` bars, both in default user space (`initmatrix`) inside gsave/grestore.
The machine-readable twin is a pair of DSC comments on that page,
`%%PMC-ControlCode: payload` and `%%PMC-IMb: bars`, which a printer simulator reads without
interpreting PostScript (see `read_page_twins`).

Duplex: after a piece with an odd page count the writer adds a pad page, its own `%%Page:` (label
`pad`) holding the comment `%%PMC-Pad: PIECE` (the piece it follows) and a bare `showpage`, so the
back of that piece's last sheet is blank and the next piece starts on a front side. The reader
counts a page holding `%%PMC-Pad` in the stream's pages and in no piece (see paged.py), and the
writer drops an input's pads and pads again for the new order.
"""

from __future__ import annotations

import bisect
import mmap
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence


from controller.errors import StreamError
from controller.model import Plex
from controller.streams.base import EngineeringPlan, SheetStamp, StreamFormat, StreamIndex, check_plan
from controller.streams.paged import (
    Boundary, JobFiles, MarkerReadOptions, SheetLayout, mapped_stream, merge_sidecar, needs_pad, paged_index,
)

__all__ = ["PsReadOptions", "PsReader", "PsWriter", "PsLayout", "READER", "WRITER", "read_page_twins", "scan"]


@dataclass(frozen=True, slots=True)
class PsReadOptions(MarkerReadOptions):
    piece_pattern: str = r"^%%PMC-Piece:\s*(?P<piece>\S+)(?:\s+(?P<postal>\S+))?\s*$"
    recipient_pattern: str = r"^%%PMC-Address:\s?(?P<line>.*?)\s*$"


@dataclass(frozen=True, slots=True)
class PsLayout(SheetLayout):
    """The shared stamp positions; the page height (default user space has its origin at the bottom left)
    and a DataMatrix module's size in points."""

    page_height: float = 792
    module_pt: float = 1.8


@dataclass(slots=True)
class _Scan:
    size: int
    header_end: int  # offset of the first %%Page:
    pages: list[tuple[int, int]]  # byte span of each page
    trailer_start: int
    declared_pages: int | None
    declared_at: int | None
    duplex: bool
    markers: list[tuple[int, int, str]]  # (page index, offset, line) for comment lines inside pages
    pads: list[int]  # pages holding a pad comment, in order
    pad_labels: list[tuple[int, int]]  # (page index, offset) of pages labelled "pad", as the writer labels pads


_PAGE = re.compile(rb"^%%Page:\s*(\S+)\s+(\S+)\s*$")
_PAGES = re.compile(rb"^%%Pages:\s*(\S+)")
_DATA = re.compile(rb"^%%Begin(?:Data|Binary):\s*(\d+)(?:\s+\S+\s+(\S+))?")
_PLEX_SETTING = re.compile(rb"/(Duplex|Tumble)\s+([^\s/<>\[\](){}%]+)")
PAD_COMMENT = "%%PMC-Pad"
# the comments of our own namespace: a marker, address line or pad comment damaged into another name
# would otherwise be dropped silently (its page then read as part of the piece before)
_PMC_COMMENTS = frozenset({"%%PMC-Piece", "%%PMC-Address", PAD_COMMENT, "%%PMC-ControlCode", "%%PMC-IMb"})


def _pad_page(piece_id: str, ordinal: int) -> bytes:
    return f"%%Page: pad {ordinal}\n{PAD_COMMENT}: {piece_id}\nshowpage\n%%PageTrailer\n".encode("latin-1")


def scan(path: str, data: bytes | mmap.mmap) -> _Scan:
    """One pass over the lines: page spans, the declared count, the trailer, comment lines per page."""
    size = len(data)
    pages: list[tuple[int, int]] = []
    markers: list[tuple[int, int, str]] = []
    header_end = trailer_start = None
    declared = declared_at = None
    atend = False
    saw_eof = False
    pos = 0
    page_start = None
    ordinal_expected = 1
    pad_labels: list[tuple[int, int]] = []
    while pos < size:
        nl = data.find(b"\n", pos)
        end = size if nl < 0 else nl + 1
        line = data[pos:end].rstrip(b"\r\n")
        if line.startswith(b"%%"):
            if saw_eof and line.strip():
                raise StreamError("DSC comments after %%EOF", path=path, offset=pos)
            m = _DATA.match(line)
            if m:
                count = int(m.group(1))
                if m.group(2) == b"Lines":
                    skip = end
                    for _ in range(count):
                        nxt = data.find(b"\n", skip)
                        if nxt < 0:
                            raise StreamError(f"%%BeginData of {count} lines runs past the end", path=path, offset=pos)
                        skip = nxt + 1
                    end = skip
                else:
                    if end + count > size:
                        raise StreamError(f"%%BeginData/%%BeginBinary of {count} bytes runs past the end",
                                          path=path, offset=pos)
                    end += count
            elif line.startswith(b"%%Page:"):
                m = _PAGE.match(line)
                this_page = len(pages) + (2 if page_start is not None else 1)
                if trailer_start is not None:
                    raise StreamError("%%Page: after %%Trailer", path=path, offset=pos)
                if m is None:
                    raise StreamError(f"malformed %%Page: comment {line[:60]!r}", path=path, offset=pos,
                                      page=this_page)
                try:
                    ordinal = int(m.group(2))
                except ValueError:
                    raise StreamError(f"%%Page: ordinal {m.group(2)[:20]!r} is not a number", path=path, offset=pos,
                                      page=this_page) from None
                if ordinal != ordinal_expected:
                    raise StreamError(f"%%Page: ordinal {ordinal} where {ordinal_expected} was expected", path=path,
                                      offset=pos, page=this_page)
                ordinal_expected += 1
                if m.group(1) == b"pad":
                    pad_labels.append((this_page - 1, pos))
                if page_start is not None:
                    pages.append((page_start, pos))
                else:
                    header_end = pos
                page_start = pos
            elif line.startswith(b"%%Pages:"):
                m = _PAGES.match(line)
                value = m.group(1) if m else b""
                if value == b"(atend)":
                    atend = True
                elif trailer_start is not None or not atend and header_end is None:
                    try:
                        declared, declared_at = int(value), pos
                    except ValueError:
                        raise StreamError(f"%%Pages: value {value[:20]!r} is not a number", path=path,
                                          offset=pos) from None
            elif line.startswith(b"%%Trailer"):
                if page_start is not None:
                    pages.append((page_start, pos))
                    page_start = None
                trailer_start = pos
            elif line.startswith(b"%%EOF"):
                saw_eof = True
            elif page_start is not None:
                markers.append((len(pages), pos, line.decode("latin-1")))
        elif line.startswith(b"%") and page_start is not None:
            markers.append((len(pages), pos, line.decode("latin-1")))
        pos = end
    if header_end is None:
        raise StreamError("no %%Page: comment: not a DSC page stream, or truncated", path=path, offset=size)
    if not saw_eof or trailer_start is None:
        raise StreamError("no %%Trailer and %%EOF at the end: the file is truncated", path=path, offset=size,
                          page=len(pages) + (1 if page_start is not None else 0))
    if declared is None:
        raise StreamError("no %%Pages: count" + (" in the trailer" if atend else ""), path=path, offset=0)
    if declared != len(pages):
        raise StreamError(f"%%Pages: says {declared} pages, the file holds {len(pages)}", path=path,
                          offset=declared_at, page=len(pages))
    header = data[:header_end]
    duplex = _duplex_setting(path, header)
    pads = sorted({page for page, _offset, line in markers if line.startswith(PAD_COMMENT)})
    return _Scan(size, header_end, pages, trailer_start, declared, declared_at, duplex, markers, pads, pad_labels)


def _duplex_setting(path: str, header: bytes) -> bool:
    """Whether the setup sets /Duplex true, checked so that one damaged byte does not read as simplex: a value
    after /Duplex one byte off true or false is refused, and so is a /Tumble setting (which only means anything
    on duplex sheets) with no /Duplex setting beside it (a damaged /Duplex key). /Duplex and /Tumble used in
    other ways (`currentpagedevice /Duplex get` in a procset) are left alone."""
    duplex_set, duplex, tumble_at = False, False, None
    for m in _PLEX_SETTING.finditer(header):
        key, value = m.group(1), m.group(2)
        duplex = duplex or key == b"Duplex" and value.startswith(b"true")
        if value in (b"true", b"false"):
            if key == b"Duplex":
                duplex_set = True
            elif tumble_at is None:
                tumble_at = m.start()
        elif key == b"Duplex" and any(len(value) == len(word) and sum(x != y for x, y in zip(value, word)) == 1
                                      for word in (b"true", b"false")):
            raise StreamError(f"/Duplex is followed by {value[:12]!r}, not true or false", path=path,
                              offset=m.start())
    if not duplex_set and tumble_at is not None:
        raise StreamError("the setup sets /Tumble but no /Duplex: a damaged /Duplex key?", path=path,
                          offset=tumble_at)
    return duplex

class PsReader:
    format = StreamFormat.POSTSCRIPT

    def __init__(self, options: PsReadOptions | None = None) -> None:
        self.options = options or PsReadOptions()
        self._piece_re, self._recipient_re = self.options.patterns()

    def sniff(self, head: bytes) -> bool:
        return head.lstrip(b"\x04").startswith(b"%!")

    def index(self, path: Path, *, job_id: str, lenient: bool = False,
              sidecar: Sequence[Any] | None = None) -> StreamIndex:
        spath = str(path)
        with mapped_stream(path, self.sniff, 16, "not PostScript (no %! header)") as data:
            s = scan(spath, data)
        plex = Plex.DUPLEX if s.duplex else Plex.SIMPLEX
        bounds: list[Boundary] = []
        current: Boundary | None = None
        orphans: list[tuple[int, int]] = []  # (page, offset) of address lines on a page that starts no piece
        pad_names: list[tuple[int, int, str]] = []  # (page, offset, the piece a pad comment says it follows)
        for page, offset, line in s.markers:
            m = self._piece_re.match(line)
            if m:
                groups = m.groupdict()
                current = Boundary(groups["piece"], page, (), groups.get("postal"), plex=plex, offset=offset)
                bounds.append(current)
                continue
            m = self._recipient_re.match(line)
            if m:
                if current is not None and current.first_page == page:
                    current.recipient = (*current.recipient, m.group("line"))
                elif not orphans or orphans[-1][0] != page:
                    orphans.append((page, offset))
                continue
            if line.startswith("%%PMC-"):
                keyword = line.split(":", 1)[0].rstrip()
                if keyword not in _PMC_COMMENTS:
                    raise StreamError(f"unknown comment {line[:40]!r} in the %%PMC- namespace: a damaged piece "
                                      "marker, address or pad comment?", path=spath, offset=offset, page=page + 1)
                if keyword == PAD_COMMENT:
                    pad_names.append((page, offset, line.split(":", 1)[1].strip() if ":" in line else ""))
        if bounds and orphans:  # the markers place the pieces: address lines belong to a piece's first page
            page, offset = orphans[0]
            raise StreamError(f"address lines on page {page + 1}, where no piece starts: its piece marker is "
                              "damaged or missing", path=spath, offset=offset, page=page + 1)
        pads = set(s.pads)
        for page, offset in s.pad_labels:
            if page not in pads:
                raise StreamError(f"page {page + 1} is labelled pad but carries no {PAD_COMMENT} comment",
                                  path=spath, offset=offset, page=page + 1)
        bounds = merge_sidecar(spath, bounds, sidecar)
        for b in bounds:
            b.plex = plex
        if pad_names and bounds:
            starts = sorted((b.first_page, b.piece_id or "") for b in bounds)
            firsts = [first for first, _pid in starts]
            for page, offset, named in pad_names:
                k = bisect.bisect_right(firsts, page) - 1
                before = starts[k][1] if k >= 0 else None
                if before != named:
                    raise StreamError(f"the pad page follows piece {before}, its {PAD_COMMENT} comment names "
                                      f"{named or 'none'}", path=spath, offset=offset, page=page + 1,
                                      piece_id=before)
        return paged_index(spath, StreamFormat.POSTSCRIPT, job_id, bounds, len(s.pages), lenient=lenient,
                           require_postal=self.options.require_postal, sidecar=sidecar, pads=s.pads)


def _ps_stamp(stamp: SheetStamp, lay: PsLayout) -> bytes:
    import numpy as np  # only stamping needs it
    from drivers.controlcode import ControlCodeError, render_datamatrix

    try:
        grey = render_datamatrix(stamp.control_code, module_px=1)
    except ControlCodeError as exc:
        raise StreamError(f"cannot draw control code {stamp.control_code!r}: {exc}", piece_id=stamp.piece_id) from exc
    h, w = grey.shape
    hexdata = np.packbits(grey >= 128, axis=1).tobytes().hex()
    mw, mh = w * lay.module_pt, h * lay.module_pt
    x = lay.page_width - lay.datamatrix_right - mw
    y = lay.page_height - lay.datamatrix_top - mh
    out = [f"%%PMC-ControlCode: {stamp.control_code}"]
    if stamp.imb_bars:
        out.append(f"%%PMC-IMb: {stamp.imb_bars}")
    draw = [f"gsave initmatrix {x:.2f} {y:.2f} translate {mw:.2f} {mh:.2f} scale "
            f"{w} {h} 1 [{w} 0 0 -{h} 0 {h}] <{hexdata}> image grestore"]
    if stamp.imb_bars:
        from controller.streams.pdf import imb_rects

        bottom = lay.page_height - lay.imb_top - 0.145 * 72
        rects = imb_rects(stamp.imb_bars, lay.imb_left, bottom)
        draw.append("gsave initmatrix 0 setgray " + " ".join(f"{a:.2f} {b:.2f} {c:.2f} {d:.2f} rectfill"
                                                             for a, b, c, d in rects) + " grestore")
    # drawn from EndPage, so it lands on top of the page whatever the page body does (ps2write's bodies
    # save, set the page device and showpage inside their content stream); it runs once, then removes itself;
    # the stamp runs in default user space inside gsave/grestore
    # kept in global VM: the page body's save/restore must not bring back a stamp already drawn
    out.append("currentglobal true setglobal globaldict /PMCStamp {\n" + "\n".join(draw) + "\n} put setglobal")
    # installed once (save/restore may undo it: then again), chained in front of the device's own EndPage
    out.append("userdict /PMCEndPage known not { userdict /PMCEndPage true put << /EndPage [ "
               "{ dup 2 ne { globaldict /PMCStamp known { globaldict /PMCStamp get exec globaldict /PMCStamp undef } if } if }"
               " /exec load currentpagedevice /EndPage get /exec load ] cvx >> setpagedevice } if")
    return ("\n".join(out) + "\n").encode("ascii")


class PsWriter:
    format = StreamFormat.POSTSCRIPT

    def __init__(self, layout: PsLayout | None = None) -> None:
        self.layout = layout or PsLayout()

    def write(self, index: StreamIndex, plan: EngineeringPlan, out_dir: Path) -> list[Path]:
        check_plan(index, plan)
        with JobFiles(index.path, out_dir, [job.name for job in plan.jobs], ".ps") as files:
            with open(index.path, "rb") as fh, mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as data:
                s = scan(index.path, data)
                if len(s.pages) != index.pages:
                    raise StreamError(f"the file now has {len(s.pages)} pages, the index {index.pages}: re-index it",
                                      path=index.path)
                header = bytes(data[:s.header_end])
                trailer = bytes(data[s.trailer_start:])
                pieces = {p.piece_id: p for p in index.pieces}
                for job in plan.jobs:
                    tmp = files.part(job.name)
                    count = sum(pieces[pid].pages + needs_pad(pieces[pid].pages, pieces[pid].plex)
                                for pid in job.piece_ids)
                    with open(tmp, "wb") as out:
                        out.write(_set_pages(header, count, s, index.path))
                        ordinal = 1
                        for pid in job.piece_ids:
                            piece = pieces[pid]
                            first, n = index.spans.get(pid, (piece.first_page, piece.pages))
                            step = 2 if piece.plex is Plex.DUPLEX else 1
                            for k in range(n):
                                a, b = s.pages[first + k]
                                body = data[a:b]
                                nl = body.find(b"\n") + 1
                                m = _PAGE.match(body[:nl].rstrip(b"\r\n"))
                                out.write(b"%%Page: " + m.group(1) + b" " + str(ordinal).encode() + b"\n")
                                ordinal += 1
                                rest = body[nl:]
                                stamp = plan.stamps.get((pid, k // step + 1)) if k % step == 0 else None
                                if stamp is not None:
                                    cut = _stamp_point(rest)
                                    out.write(rest[:cut])
                                    out.write(_ps_stamp(stamp, self.layout))
                                    out.write(rest[cut:])
                                else:
                                    out.write(rest)
                            if needs_pad(n, piece.plex):
                                out.write(_pad_page(pid, ordinal))
                                ordinal += 1
                        out.write(_set_pages(trailer, count, s, index.path) if s.declared_at >= s.trailer_start
                                  else trailer)
        return files.finals


def _set_pages(section: bytes, count: int, s: _Scan, path: str) -> bytes:
    new, n = re.subn(rb"^%%Pages:[ \t]*\d+", b"%%Pages: " + str(count).encode(), section, count=1, flags=re.M)
    return new if n or b"%%Pages:" not in section else section


def _stamp_point(rest: bytes) -> int:
    """Where a stamp goes in a page body (after its %%Page: line): past %%EndPageSetup, else past the comments."""
    m = re.search(rb"^%%EndPageSetup[^\n]*\n", rest, flags=re.M)
    if m:
        return m.end()
    pos = 0
    while rest.startswith(b"%", pos):
        nl = rest.find(b"\n", pos)
        if nl < 0:
            return len(rest)
        pos = nl + 1
    return pos


def read_page_twins(path: Path) -> list[dict[str, str] | None]:
    """Each page's stamp twin from its %%PMC- comments (ControlCode, IMb), or None for an unstamped page."""
    spath = str(path)
    with open(path, "rb") as fh, mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as data:
        s = scan(spath, data)
    out: list[dict[str, str] | None] = [None] * len(s.pages)
    for page, _offset, line in s.markers:
        for key in ("ControlCode", "IMb"):
            prefix = f"%%PMC-{key}: "
            if line.startswith(prefix):
                out[page] = {**(out[page] or {}), key: line[len(prefix):].strip()}
    return out


READER = PsReader()
WRITER = PsWriter()
