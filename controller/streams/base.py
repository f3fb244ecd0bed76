"""What every print-stream reader and writer shares: the index of a stream, and the engineering plan.

A reader turns a stream file into a `StreamIndex` (its pieces in stream order, with their pages and
sheets) without rendering it, or raises StreamError naming the file, the byte offset or page and the
piece. With lenient=True a reader may quarantine a bad piece instead, with its reason: never drop it.

A writer takes a StreamIndex, a new piece order, a split plan and optional stamps, and writes
print-ready streams in the input's format; re-reading them gives the same pieces in the new order.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping, Protocol, Sequence

from controller.model import Piece


class StreamFormat(enum.Enum):
    AFP = "afp"
    PDF = "pdf"
    POSTSCRIPT = "ps"
    PCL = "pcl"


@dataclass(frozen=True, slots=True)
class Quarantined:
    """A piece a lenient import set aside, with why and where."""

    reason: str
    piece_id: str | None = None
    offset: int | None = None
    page: int | None = None


@dataclass(frozen=True, slots=True)
class StreamIndex:
    path: str
    format: StreamFormat
    job_id: str
    pages: int
    sheets: int
    pieces: tuple[Piece, ...]
    quarantined: tuple[Quarantined, ...] = ()
    # format-specific facts a writer needs (byte spans of pieces, the prolog's extent...), by piece ID
    spans: Mapping[str, tuple[int, int]] = field(default_factory=dict)
    # what the reader found that the writer of the same format may use instead of reading the file again
    # (PDF: the page table); None unless the index was asked to keep it (`index_stream(keep_layout=True)`,
    # for a write that follows), as it grows with the file. A writer checks it still fits the file.
    layout: Any = field(default=None, compare=False, repr=False)


@dataclass(frozen=True, slots=True)
class SheetStamp:
    """What to draw on one sheet: the control code (and, on a piece's first sheet, its IMb)."""

    piece_id: str
    sheet: int  # 1-based within the piece
    control_code: str  # the payload from drivers.controlcode
    imb_bars: str | None = None  # 65 characters of A/D/F/T, on the sheet with the address block


@dataclass(frozen=True, slots=True)
class PrintJobPlan:
    """One output file: the pieces it holds, in order."""

    name: str
    piece_ids: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class EngineeringPlan:
    """A new order, cut into print jobs, with what to stamp on each sheet."""

    jobs: tuple[PrintJobPlan, ...]
    stamps: Mapping[tuple[str, int], SheetStamp] = field(default_factory=dict)  # by (piece_id, sheet)


class StreamReader(Protocol):
    format: StreamFormat

    def sniff(self, head: bytes) -> bool:
        """True when the first bytes of a file look like this format."""
        ...

    def index(self, path: Path, *, job_id: str, lenient: bool = False) -> StreamIndex: ...


class StreamWriter(Protocol):
    format: StreamFormat

    def write(self, index: StreamIndex, plan: EngineeringPlan, out_dir: Path) -> list[Path]:
        """One file per print job of the plan, in `out_dir`; returns their paths in plan order."""
        ...


def check_plan(index: StreamIndex, plan: EngineeringPlan) -> None:
    """Every indexed piece exactly once across the plan's jobs, and nothing else."""
    from controller.errors import StreamError

    known = {p.piece_id for p in index.pieces}
    seen: set[str] = set()
    for job in plan.jobs:
        for pid in job.piece_ids:
            if pid not in known:
                raise StreamError(f"print job {job.name} names piece {pid}, which the stream does not hold",
                                  path=index.path, piece_id=pid)
            if pid in seen:
                raise StreamError(f"piece {pid} is planned twice", path=index.path, piece_id=pid)
            seen.add(pid)
    missing = [p.piece_id for p in index.pieces if p.piece_id not in seen]
    if missing:
        raise StreamError(f"{len(missing)} pieces are in no print job, first {missing[0]}",
                          path=index.path, piece_id=missing[0])


def plan_in_order(index: StreamIndex, order: Sequence[str], *, name: str = "job-001") -> EngineeringPlan:
    """The simplest plan: one print job, the given order."""
    return EngineeringPlan(jobs=(PrintJobPlan(name, tuple(order)),))
