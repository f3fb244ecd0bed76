"""The domain model: jobs, pieces, print jobs, containers, devices and the piece life cycle.

Frozen, slotted dataclasses and enums: these travel through hot paths. pydantic is used only where
data enters (config files, HTTP and MQTT payloads).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Mapping


class Plex(enum.Enum):
    SIMPLEX = "simplex"
    DUPLEX = "duplex"


class PieceState(enum.Enum):
    INDEXED = "indexed"
    SORTED = "sorted"
    SPOOLED = "spooled"
    PRINTED = "printed"
    INSERTED = "inserted"
    MAILED = "mailed"
    DIVERTED = "diverted"
    REPRINT_QUEUED = "reprint_queued"
    HAND_FINISHED = "hand_finished"
    PULLED = "pulled"

    @property
    def is_final(self) -> bool:
        return self in (PieceState.MAILED, PieceState.PULLED)


class PieceEventKind(enum.Enum):
    INDEXED = "indexed"
    SORTED = "sorted"
    SPOOLED = "spooled"
    PRINTED = "printed"
    INSERTED = "inserted"
    MAILED = "mailed"
    DIVERTED = "diverted"
    REPRINT_QUEUED = "reprint_queued"
    HAND_FINISHED = "hand_finished"
    PULLED = "pulled"


S = PieceState
# kind -> (states it may apply to, state it leads to). None stands for "not in the ledger yet".
# Reprints go round again: reprint_queued -> spooled -> printed -> inserted -> mailed.
# spooled -> spooled is a re-route (failover moves unprinted work to another printer).
# A diverted piece comes back as a reprint, is finished by hand (then scanned: mailed) or pulled.
TRANSITIONS: Mapping[PieceEventKind, tuple[frozenset[PieceState | None], PieceState]] = {
    PieceEventKind.INDEXED: (frozenset({None}), S.INDEXED),
    PieceEventKind.SORTED: (frozenset({S.INDEXED, S.SORTED}), S.SORTED),
    PieceEventKind.SPOOLED: (frozenset({S.SORTED, S.SPOOLED, S.REPRINT_QUEUED}), S.SPOOLED),
    PieceEventKind.PRINTED: (frozenset({S.SPOOLED}), S.PRINTED),
    PieceEventKind.INSERTED: (frozenset({S.PRINTED}), S.INSERTED),
    PieceEventKind.MAILED: (frozenset({S.INSERTED, S.HAND_FINISHED}), S.MAILED),
    PieceEventKind.DIVERTED: (frozenset({S.SPOOLED, S.PRINTED, S.INSERTED}), S.DIVERTED),
    PieceEventKind.REPRINT_QUEUED: (frozenset({S.DIVERTED}), S.REPRINT_QUEUED),
    PieceEventKind.HAND_FINISHED: (frozenset({S.DIVERTED}), S.HAND_FINISHED),
    PieceEventKind.PULLED: (
        frozenset({S.INDEXED, S.SORTED, S.SPOOLED, S.PRINTED, S.DIVERTED, S.REPRINT_QUEUED, S.HAND_FINISHED}),
        S.PULLED,
    ),
}
del S

# Events that say the piece went through a machine again after it already had: a duplicate alarm.
DUPLICATE_KINDS = frozenset({PieceEventKind.INSERTED, PieceEventKind.PRINTED, PieceEventKind.MAILED})


def next_state(current: PieceState | None, kind: PieceEventKind) -> PieceState | None:
    """The state `kind` leads to from `current`, or None when the transition is not allowed."""
    allowed, to = TRANSITIONS[kind]
    return to if current in allowed else None


@dataclass(frozen=True, slots=True)
class PieceEvent:
    """One transition of one piece, as a stage or a device reports it.

    `device` and `device_seq` identify a device's own event number: an event whose (device,
    device_seq) the ledger has already applied is ignored, so a replay after a reconnect changes nothing.
    """

    kind: PieceEventKind
    piece_id: str
    job_id: str | None = None  # required for INDEXED; taken from the ledger afterwards
    device: str | None = None
    device_seq: int | None = None
    container: str | None = None  # set by SORTED
    reason: str | None = None  # why a piece was diverted, pulled, re-routed
    data: Mapping[str, object] | None = None


class DeviceKind(enum.Enum):
    PRINTER = "printer"
    INSERTER = "inserter"
    CAMERA = "camera"
    LABEL_PRINTER = "label_printer"


@dataclass(frozen=True, slots=True)
class Device:
    name: str
    kind: DeviceKind
    url: str


@dataclass(frozen=True, slots=True)
class Piece:
    """One mail piece: one envelope and what goes in it."""

    piece_id: str
    job_id: str
    sequence: int  # position in the stream as composed (0-based)
    pages: int
    sheets: int
    plex: Plex = Plex.SIMPLEX
    first_page: int = 0  # 0-based page index of the piece's first page in its stream
    recipient: tuple[str, ...] = ()  # address block lines
    postal_code: str | None = None  # ZIP+4+DPC (11 digits) where known, else what the stream gives
    inserts: frozenset[int] = frozenset()  # selective-insert feeder stations
    container: str | None = None  # tray, once presorted
    index: Mapping[str, str] = field(default_factory=dict)  # other tagged values (account, ...)


def _fast_piece_init() -> None:
    """Give Piece a constructor that stores through the slot descriptors directly.

    A frozen dataclass's generated __init__ calls object.__setattr__ once per field; readers build
    one Piece per mail piece (hundreds of thousands per run), and that was a third of the AFP
    index's time. This __init__ has the same signature, defaults and result, and the instance
    stays frozen (assignment after construction still raises FrozenInstanceError).
    """
    (s_pid, s_job, s_seq, s_pages, s_sheets, s_plex, s_first, s_rcpt, s_zip, s_ins, s_cont,
     s_index) = (getattr(Piece, name).__set__ for name in (
         "piece_id", "job_id", "sequence", "pages", "sheets", "plex", "first_page", "recipient",
         "postal_code", "inserts", "container", "index"))
    simplex, no_inserts, missing = Plex.SIMPLEX, frozenset(), object()

    def __init__(self, piece_id, job_id, sequence, pages, sheets, plex=simplex, first_page=0,  # noqa: N807
                 recipient=(), postal_code=None, inserts=no_inserts, container=None, index=missing):
        s_pid(self, piece_id)
        s_job(self, job_id)
        s_seq(self, sequence)
        s_pages(self, pages)
        s_sheets(self, sheets)
        s_plex(self, plex)
        s_first(self, first_page)
        s_rcpt(self, recipient)
        s_zip(self, postal_code)
        s_ins(self, inserts)
        s_cont(self, container)
        s_index(self, {} if index is missing else index)

    __init__.__qualname__ = "Piece.__init__"
    Piece.__init__ = __init__


_fast_piece_init()


@dataclass(frozen=True, slots=True)
class Container:
    """A postal container (tray) and its place in dispatch order."""

    container_id: str
    job_id: str
    sequence: int
    sort_level: str
    destination: str
    piece_ids: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class PrintJob:
    """What one printer is sent: a slice of a run, cut at tray boundaries."""

    print_job_id: str
    job_id: str
    piece_ids: tuple[str, ...]
    sheets: int
    impressions: int
    plex: Plex = Plex.SIMPLEX
    media: str = "letter"
    colour: bool = False
    containers: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Job:
    """One stream's pieces going through print and insert: a run."""

    job_id: str
    source: str  # the stream file it was indexed from
    stream_format: str  # afp, pdf, ps, pcl
    pieces: int = 0
    parent_job_id: str | None = None  # an open-loop reprint run names its parent
