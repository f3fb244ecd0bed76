"""AFP print stream engineering: pieces in a new order, cut into print jobs, each sheet stamped.

Each output file is the input's prolog (everything before the first page group: the print-file
resource group with its form map, fonts and images, the BDT, document-level fields), then the
planned pieces' page groups (BNG ... ENG, copied byte for byte, with whatever lay between a group and
the one before it), then the input's closing part (EDT and what follows). A medium map stays in
force until the next IMM, so a piece that does not invoke one itself gets the one that was in force
where it stood, copied in before its first page (an IMM also starts a new sheet, so no piece begins
on the back of another's sheet). Each sheet's control code goes in as a page-level TLE (PMC-CTL) on
the first page of the sheet, and the IMb bars as PMC-IMB; with `barcodes=True` the control code is
also drawn as a BCOCA DataMatrix object (controller.streams.afp_bcoca) so an AFP printer renders it.
"""

from __future__ import annotations

import logging
import mmap
from pathlib import Path

from controller.errors import StreamError
from controller.model import Plex
from controller.streams.afp import IMB_TLE, STAMP_TLE, AfpReader, TleMapping, structured_field, tle
from controller.streams.base import EngineeringPlan, StreamFormat, StreamIndex, check_plan
from controller.streams.paged import JobFiles

logger = logging.getLogger(__name__)

__all__ = ["AfpWriter", "WRITER"]

_CHUNK = 1 << 20


class AfpWriter:
    format = StreamFormat.AFP

    def __init__(self, reader: AfpReader | None = None, *, barcodes: bool = False) -> None:
        """`reader`: how the stream was indexed (its medium-map configuration matters for sheets)."""
        self.reader = reader or AfpReader(TleMapping(require_postal_code=False))
        self.barcodes = barcodes

    def write(self, index: StreamIndex, plan: EngineeringPlan, out_dir: Path) -> list[Path]:
        check_plan(index, plan)
        src = Path(index.path)
        out_dir = Path(out_dir)
        lay = self.reader.layout(src, detail=bool(plan.stamps))  # pages one by one only to stamp them
        if lay.documents != 1:
            raise StreamError(f"the writer handles print files of one document; this one has {lay.documents}",
                              path=str(src))
        by_start = {g.start: g for g in lay.groups}
        groups = {}
        for p in index.pieces:
            span = index.spans.get(p.piece_id)
            g = by_start.get(span[0]) if span else None
            if g is None or (g.end, g.pages) != (span[1], p.pages):
                raise StreamError("the stream changed since it was indexed (the piece is no longer where it was)",
                                  path=str(src), offset=span[0] if span else None, piece_id=p.piece_id)
            groups[p.piece_id] = g
        ordered = sorted(lay.groups, key=lambda g: g.start)
        prolog_end = ordered[0].start
        epilogue_start = ordered[-1].end
        gap_start = {g.start: prev.end for prev, g in zip(ordered, ordered[1:])}
        pieces = {p.piece_id: p for p in index.pieces}
        with open(src, "rb") as fh, mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as mm, \
                JobFiles(str(src), out_dir, [job.name for job in plan.jobs], ".afp") as files:
            for job in plan.jobs:
                with open(files.part(job.name), "wb") as dst:
                    _copy(dst, mm, 0, prolog_end)
                    in_force: str | None = None  # the medium map the output has invoked last
                    for k, pid in enumerate(job.piece_ids):
                        g = groups[pid]
                        start = gap_start.get(g.start, g.start)
                        inserts: list[tuple[int, bytes]] = []
                        if not g.own_imm:
                            if g.imm_at_start is not None:
                                inserts.append((g.content_at, structured_field("IMM", _name8(g.imm_at_start))))
                                in_force = g.imm_at_start
                            elif in_force is not None:
                                raise StreamError(
                                    f"the piece relies on the printer's default medium map, but the piece before it "
                                    f"in print job {job.name} invokes {in_force}; give the stream's IMMs to every "
                                    "piece or keep this piece ahead of them", path=str(src), offset=g.start,
                                    piece_id=pid)
                            elif (pieces[pid].plex is Plex.DUPLEX and pieces[pid].pages % 2
                                  and k + 1 < len(job.piece_ids)):
                                raise StreamError(
                                    f"the piece ends on the front of a duplex sheet and invokes no medium map: the "
                                    f"next piece in print job {job.name} would print on its back", path=str(src),
                                    offset=g.start, piece_id=pid)
                        else:
                            in_force = g.last_imm or in_force
                        inserts += self._stamps(mm, g, pid, plan, pieces[pid].sheets)
                        _copy(dst, mm, start, g.end, inserts)
                    _copy(dst, mm, epilogue_start, len(mm))
                logger.info("%s: print job %s, %d pieces", src, job.name, len(job.piece_ids))
        return files.finals

    def _stamps(self, mm, g, pid: str, plan: EngineeringPlan, sheets: int) -> list[tuple[int, bytes]]:
        out = []
        for bpg, sheet, starts in g.page_list or ():
            if not starts:
                continue
            stamp = plan.stamps.get((pid, sheet))
            if stamp is None:
                continue
            data = tle(STAMP_TLE, stamp.control_code)
            if stamp.imb_bars:
                data += tle(IMB_TLE, stamp.imb_bars)
            if self.barcodes:
                from controller.streams.afp_bcoca import datamatrix_object
                data += datamatrix_object(stamp.control_code, name=f"C{sheet:07d}")
            out.append((_after_environment(mm, bpg, g.end), data))
        return out


def _name8(name: str) -> bytes:
    return name.ljust(8).encode("cp500")[:8]


def _after_environment(mm, bpg: int, end: int) -> int:
    """Where a page-level field goes: after the page's active environment group, else after BPG.
    Reads field headers only (the reader has checked the chain)."""
    pos = bpg + 1 + (mm[bpg + 1] << 8 | mm[bpg + 2])
    after_bpg = pos
    if mm[pos + 3:pos + 6] != _BAG_ID:
        return after_bpg
    while pos < end:
        stop = pos + 1 + (mm[pos + 1] << 8 | mm[pos + 2])
        if mm[pos + 3:pos + 6] == _EAG_ID:
            return stop
        pos = stop
    return after_bpg


_BAG_ID, _EAG_ID = bytes.fromhex("D3A8C9"), bytes.fromhex("D3A9C9")


def _copy(dst, mm, start: int, end: int, inserts: list[tuple[int, bytes]] = ()) -> None:
    pos = start
    for off, data in sorted(inserts, key=lambda t: t[0]):
        _copy_span(dst, mm, pos, off)
        dst.write(data)
        pos = off
    _copy_span(dst, mm, pos, end)


def _copy_span(dst, mm, start: int, end: int) -> None:
    while start < end:
        stop = min(end, start + _CHUNK)
        dst.write(mm[start:stop])
        start = stop


WRITER = AfpWriter()
