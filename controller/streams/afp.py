"""AFP (MO:DCA) print streams: index mail pieces without rendering, and the module's READER and WRITER.

A MO:DCA file is a chain of structured fields: 0x5A, a 2-byte length (counting itself and what
follows), a 3-byte identifier (D3 class, type, category), a flag byte, 2 reserved bytes, an optional
extension, the data, optional padding. A mail piece is a top-level named page group (BNG ... ENG)
inside a document (BDT ... EDT); its Tag Logical Elements (TLE: an attribute-name triplet X'02' and an
attribute-value triplet X'36') carry the index values the composition tool tagged, which a TleMapping
turns into piece fields. Pages are BPG ... EPG. An Invoke Medium Map (IMM) names the medium map in
force from there on; a medium map (BMM ... EMM, in a form map in a resource group or inline) says
simplex or duplex in its Medium Modification Control (MMC keyword X'F4'), which turns pages into sheets.
An IMM always starts a new sheet. Resource groups (BRG ... ERG) are carried along untouched.

Indexing streams: the file is memory-mapped and the field chain is followed a window at a time with
numpy (every 0x5A is a candidate; the chain of lengths picks the real ones), and only the fields that
matter for the index are looked at in Python. Memory does not grow with the file.

The machine-readable twin of a stamped control code is a page-level TLE on the first page of each
sheet (name PMC-CTL, value the drivers.controlcode payload; PMC-IMB carries the IMb bars on the sheet
with the address block), written right after the page's active environment group. A printer
simulator reads it without rendering: walk the fields, and inside BPG ... EPG read TLEs by name.
"""

from __future__ import annotations

import dataclasses
import gc
import logging
import mmap
import re
import sys
from itertools import repeat
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator, Mapping, Sequence

import numpy as np

from controller.errors import StreamError
from controller.model import Piece, Plex
from controller.streams.base import Quarantined, StreamFormat, StreamIndex
from controller.streams.ebcdic import CCSIDS as _EBCDIC_CCSIDS  # and registers the cp1146, cp285 codecs

logger = logging.getLogger(__name__)

__all__ = [
    "READER", "WRITER", "AfpReader", "TleMapping", "Field", "iter_fields", "read_stamps",
    "structured_field", "tle", "SF", "STAMP_TLE", "IMB_TLE",
]

# structured field identifiers (3 bytes as an int), by MO:DCA acronym
SF = {
    "BDT": 0xD3A8A8, "EDT": 0xD3A9A8,
    "BNG": 0xD3A8AD, "ENG": 0xD3A9AD,
    "BPG": 0xD3A8AF, "EPG": 0xD3A9AF,
    "BAG": 0xD3A8C9, "EAG": 0xD3A9C9,
    "BRG": 0xD3A8C6, "ERG": 0xD3A9C6,
    "BR": 0xD3A8CE, "ER": 0xD3A9CE,
    "BFM": 0xD3A8CD, "EFM": 0xD3A9CD,
    "BMM": 0xD3A8CC, "EMM": 0xD3A9CC, "MMC": 0xD3A788,
    "IMM": 0xD3ABCC, "TLE": 0xD3A090, "NOP": 0xD3EEEE,
    "BBC": 0xD3A8EB, "EBC": 0xD3A9EB, "BDD": 0xD3A6EB, "BDA": 0xD3EEEB,
    "BOG": 0xD3A8C7, "EOG": 0xD3A9C7, "OBD": 0xD3A66B, "OBP": 0xD3AC6B, "MBC": 0xD3ABEB,
}
NAMES = {v: k for k, v in SF.items()}
_BDT, _EDT, _BNG, _ENG, _BPG, _EPG = (SF[k] for k in ("BDT", "EDT", "BNG", "ENG", "BPG", "EPG"))
_BRG, _ERG, _BMM, _EMM, _MMC, _IMM, _TLE = (SF[k] for k in ("BRG", "ERG", "BMM", "EMM", "MMC", "IMM", "TLE"))
_BFM = SF["BFM"]
_INTERESTING = np.array(sorted({_BDT, _EDT, _BNG, _ENG, _BPG, _EPG, _BRG, _ERG, _BMM, _EMM, _MMC, _IMM, _TLE, _BFM}),
                        dtype=np.int64)
# fields whose data is an 8-byte name and then triplets: one longer than its name is checked (rare; FOP's
# are 16 bytes), so that a length damaged into swallowing the fields after it is not taken as triplets
_NAMED = np.array(sorted({_BDT, _EDT, _BNG, _ENG, _BPG, _EPG, _BMM, _EMM, _IMM}), dtype=np.int64)
_NAMED_KIND = np.zeros(1 << 16, dtype=bool)  # by type and category byte, as _INTERESTING_KIND
_NAMED_KIND[_NAMED & 0xFFFF] = True
_INTERESTING_KIND = np.zeros(1 << 16, dtype=bool)  # by type and category byte (the class byte is always D3)
_INTERESTING_KIND[_INTERESTING & 0xFFFF] = True

_BACK_SIDE = ("the piece's first page falls on the back of the previous piece's last sheet (no medium map "
              "invoked and an odd page count before it)")
STAMP_TLE = "PMC-CTL"
IMB_TLE = "PMC-IMB"
_STAMP_NAMES = frozenset({STAMP_TLE, IMB_TLE})

# MMC duplex control (keyword X'F4'): 1 simplex, 2 normal duplex, 3 tumble duplex
_DUPLEX = {1: Plex.SIMPLEX, 2: Plex.DUPLEX, 3: Plex.DUPLEX}
# CCSIDs a TLE may name in a X'01' triplet, and the Python codec for each
_CCSID = {37: "cp037", 273: "cp273", 277: "cp277", 278: "cp278", 280: "cp280", 284: "cp284", 297: "cp297",
          500: "cp500", 1140: "cp1140", 1141: "cp1141", 1148: "cp1148", 1026: "cp1026", 875: "cp875",
          **_EBCDIC_CCSIDS}  # 285, 1146: made from Java's tables (controller/streams/ebcdic.py)


def _gather(arr: np.ndarray, starts: np.ndarray, lengths: np.ndarray, encoding: str) -> list[str]:
    """The byte runs arr[start:start+length], decoded together, as a list of strings."""
    lengths = np.maximum(lengths, 0)
    total = int(lengths.sum())
    if total == 0:
        return [""] * int(starts.size)
    bounds = np.concatenate(([0], np.cumsum(lengths)))
    idx = np.repeat(starts - bounds[:-1], lengths) + np.arange(total)
    text = arr[idx].tobytes().decode(encoding, "replace")
    b = bounds.tolist()
    return [text[x:y] for x, y in zip(b, b[1:])]


_LOW_BYTES = np.array([(1 << (8 * k)) - 1 for k in range(9)], dtype=np.uint64)  # the low k bytes of a word
_BLANKS: dict[str, np.ndarray | None] = {}


def _blank_bytes(encoding: str) -> np.ndarray | None:
    """For a single-byte codec, which of the 256 bytes decode to whitespace (what str.strip
    removes); None for a codec that is not one character per byte."""
    table = _BLANKS.get(encoding, False)
    if table is False:
        text = bytes(range(256)).decode(encoding, "replace")
        table = np.array([c.isspace() for c in text], dtype=bool) if len(text) == 256 else None
        _BLANKS[encoding] = table
    return table


def _gather_stripped(arr: np.ndarray, starts: np.ndarray, lengths: np.ndarray, encoding: str) -> list[str]:
    """As _gather, each string stripped of leading and trailing whitespace, found with numpy
    (hundreds of thousands of TLE values a file: one str.strip call each was a tenth of the index)."""
    blank = _blank_bytes(encoding)
    lengths = np.maximum(lengths, 0)
    total = int(lengths.sum())
    if blank is None or total == 0:
        return [x.strip() for x in _gather(arr, starts, lengths, encoding)]
    bounds = np.concatenate(([0], np.cumsum(lengths)))
    raw = arr[np.repeat(starts - bounds[:-1], lengths) + np.arange(total)]
    solid = np.flatnonzero(~blank[raw])  # positions of the characters that stay
    lo = np.searchsorted(solid, bounds[:-1])  # each string's first solid character, if inside it
    hi = np.searchsorted(solid, bounds[1:])  # one past its last
    if solid.size:
        first = solid[np.minimum(lo, solid.size - 1)]
        last = solid[np.maximum(hi - 1, 0)] + 1
    else:
        first = last = bounds[:-1]
    empty = hi <= lo
    first = np.where(empty, 0, first)
    last = np.where(empty, 0, last)
    # the kept characters of every string, each string followed by a NUL, decoded at once and
    # split there (one slice per string in Python cost as much again as the rest of this)
    if not (raw == 0).any():
        keep = last - first + 1
        out_bounds = np.cumsum(keep)
        pick = np.repeat(first - (out_bounds - keep), keep) + np.arange(int(out_bounds[-1]))
        pick[out_bounds - 1] = total  # the NUL after each string
        text = np.append(raw, np.uint8(0))[pick].tobytes().decode(encoding, "replace")
        if len(text) == int(out_bounds[-1]):
            return text.split("\0")[:-1]
    text = raw.tobytes().decode(encoding, "replace")
    return [text[x:y] for x, y in zip(first.tolist(), last.tolist())]


def sf_name(code: int) -> str:
    return NAMES.get(code, f"X'{code:06X}'")


class _Damage(Exception):
    """Raised by the low-level walkers; the reader turns it into a StreamError with the piece."""

    def __init__(self, offset: int, message: str) -> None:
        self.offset = offset
        self.message = message
        super().__init__(message)


# ---------------------------------------------------------------------------------------------
# the field chain


def _real_offsets(arr: np.ndarray, n: int, window: int = 1 << 20) -> Iterator[np.ndarray]:
    """The offsets of the structured fields of arr[:n], a window at a time, checking the chain."""
    pos = 0
    while pos < n:
        hi = min(n, pos + window)
        cand = np.flatnonzero(arr[pos:hi] == 0x5A)
        cand += pos
        if cand.size == 0 or cand[0] != pos:
            raise _Damage(pos, f"no structured field begins here (byte 0x{int(arr[pos]):02X}, not 0x5A)")
        keep = int(np.searchsorted(cand, n - 2))  # candidates whose length bytes exist
        cand = cand[:keep]
        if cand.size == 0:
            raise _Damage(pos, "structured field header cut off by the end of the file")
        length = (arr[cand + 1].astype(np.int64) << 8) | arr[cand + 2]
        nxt = cand + 1 + length
        breaks = np.flatnonzero(nxt[:-1] != cand[1:])
        parts: list[np.ndarray] = []
        k = 0
        damage = None
        while True:
            bi = int(np.searchsorted(breaks, k))
            b = int(breaks[bi]) if bi < breaks.size else cand.size - 1
            short = np.flatnonzero(length[k:b + 1] < 8)
            if short.size:
                at = int(cand[k + short[0]])
                parts.append(cand[k:k + short[0]])
                damage = _Damage(at, f"structured field length {int(length[k + short[0]])} is below the minimum of 8")
                break
            at, nx = int(cand[b]), int(nxt[b])
            parts.append(cand[k:b])  # the field at b joins once its successor is found
            if nx > n:
                damage = _Damage(at, f"structured field {_name_at(arr, at, n)} of length {int(length[b])} runs "
                                     f"past the end of the file ({nx - n} bytes missing)")
                break
            if nx >= hi:
                parts.append(cand[b:b + 1])
                pos = nx
                break
            j = int(np.searchsorted(cand, nx))
            if j >= cand.size or int(cand[j]) != nx:
                if nx >= n - 2:
                    damage = _Damage(nx, "structured field header cut off by the end of the file")
                else:
                    damage = _Damage(nx, f"no structured field begins here (byte 0x{int(arr[nx]):02X}, not 0x5A) "
                                         f"after {_name_at(arr, at, n)} at byte {at} of length {int(length[b])}")
                break
            parts.append(cand[b:b + 1])
            k = j
        good = np.concatenate(parts) if parts else cand[:0]
        if good.size:
            yield good
        if damage is not None:
            raise damage


def _name_at(arr: np.ndarray, at: int, n: int) -> str:
    if at + 6 > n:
        return "(header cut off)"
    return sf_name(int(arr[at + 3]) << 16 | int(arr[at + 4]) << 8 | int(arr[at + 5]))


@dataclass(frozen=True, slots=True)
class Field:
    offset: int
    code: int
    flags: int
    end: int  # offset just past the field
    data_start: int
    data_end: int  # padding excluded

    @property
    def name(self) -> str:
        return sf_name(self.code)


def _field_at(buf, off: int, end: int, code: int | None = None) -> Field:
    if off + 9 > end:
        raise _Damage(off, "structured field header cut off")
    length = buf[off + 1] << 8 | buf[off + 2]
    stop = off + 1 + length
    if length < 8:
        raise _Damage(off, f"structured field length {length} is below the minimum of 8")
    if stop > end:
        raise _Damage(off, f"structured field {sf_name(buf[off + 3] << 16 | buf[off + 4] << 8 | buf[off + 5])} of "
                           f"length {length} runs past the end ({stop - end} bytes missing)")
    if code is None:
        code = buf[off + 3] << 16 | buf[off + 4] << 8 | buf[off + 5]
    flags = buf[off + 6]
    start, data_end = off + 9, stop
    if flags & 0x80:  # extension: its first byte counts its own length
        if start >= stop or start + buf[start] > stop:
            raise _Damage(off, f"structured field {sf_name(code)}: extension runs past the field")
        start += buf[start]
    if flags & 0x08 and data_end > start:  # padding: the last byte says how much, or 0 and the two before
        pad = buf[data_end - 1]
        if pad == 0 and data_end - 3 >= start:
            pad = buf[data_end - 3] << 8 | buf[data_end - 2]
        if pad > data_end - start:
            raise _Damage(off, f"structured field {sf_name(code)}: padding longer than the data")
        data_end -= pad
    return Field(off, code, flags, stop, start, data_end)


def iter_fields(buf, start: int = 0, end: int | None = None) -> Iterator[Field]:
    """Every structured field of buf[start:end], in order; a plain walk for small spans."""
    end = len(buf) if end is None else end
    off = start
    while off < end:
        if buf[off] != 0x5A:
            raise _Damage(off, f"no structured field begins here (byte 0x{buf[off]:02X}, not 0x5A)")
        f = _field_at(buf, off, end)
        yield f
        off = f.end


def structured_field(name_or_code: str | int, data: bytes = b"", flags: int = 0) -> bytes:
    code = SF[name_or_code] if isinstance(name_or_code, str) else name_or_code
    length = 8 + len(data)
    if length > 0x7FFF:
        raise ValueError(f"structured field {sf_name(code)} data of {len(data)} bytes is too long")
    return b"\x5a" + length.to_bytes(2, "big") + code.to_bytes(3, "big") + bytes([flags]) + b"\0\0" + data


def tle(name: str, value: str, encoding: str = "cp500") -> bytes:
    n, v = name.encode(encoding), value.encode(encoding)
    if len(n) > 250 or len(v) > 250:
        raise ValueError(f"TLE {name!r} is too long for a triplet")
    return structured_field("TLE", bytes([4 + len(n), 0x02, 0x0B, 0x00]) + n + bytes([4 + len(v), 0x36, 0, 0]) + v)


def _name8(buf, f: Field, encoding: str) -> str:
    raw = bytes(buf[f.data_start:min(f.data_start + 8, f.data_end)])
    if len(raw) < 8 or raw[:2] == b"\xff\xff":
        return ""
    return raw.decode(encoding, "replace").strip()


def _parse_tle(buf, f: Field, encoding: str) -> tuple[str, str]:
    data = bytes(buf[f.data_start:f.data_end])
    name = value = None
    codec = encoding
    i = 0
    while i < len(data):
        tlen = data[i]
        if tlen < 2 or i + tlen > len(data):
            raise _Damage(f.offset, f"TLE triplet at data byte {i} has length {tlen}, past the field's data")
        tid = data[i + 1]
        if tid == 0x01 and tlen >= 6:  # Coded Graphic Character Set Global ID: CCSID in the last 2 bytes
            ccsid = int.from_bytes(data[i + tlen - 2:i + tlen], "big")
            codec = _CCSID.get(ccsid, codec)
        elif tid == 0x02 and tlen >= 4 and data[i + 2] == 0x0B:
            name = data[i + 4:i + tlen]
        elif tid == 0x36 and tlen >= 4:
            value = data[i + 4:i + tlen]
        i += tlen
    if name is None or value is None:
        raise _Damage(f.offset, "TLE without an attribute name (X'02'/X'0B') and value (X'36') triplet")
    return name.decode(codec, "replace").strip(), value.decode(codec, "replace").rstrip()


def _raw_name(buf, f: Field) -> bytes:
    """A begin or end field's 8-byte name as written, or b"" when it carries none."""
    return bytes(buf[f.data_start:f.data_start + 8]) if f.data_end - f.data_start >= 8 else b""


def _names_match(begin: bytes, end: bytes) -> bool:
    """Whether an end field's name closes the begin field's: an end naming none, or X'FFFF' (any), does."""
    return len(begin) < 8 or len(end) < 8 or end[:2] == b"\xff\xff" or begin == end


def _names_disagree(arr: np.ndarray, begins: np.ndarray, ends: np.ndarray, size: int) -> np.ndarray:
    """For pairs of begin and end fields (offsets), which end names another name than its begin
    (as _names_match; fields with an extension or padding are left to the field walk: False)."""
    if begins.size == 0:
        return np.zeros(0, dtype=bool)
    words = np.ndarray((size - 7,), dtype="<u8", buffer=arr, strides=(1,))
    out = words[np.minimum(begins + 9, size - 8)] != words[np.minimum(ends + 9, size - 8)]
    del words
    if not out.any():  # the usual case: the 8 bytes after each pair's headers agree
        return out
    k = np.flatnonzero(out)  # a closer look at the few that differ: unnamed, wildcard, behind an extension
    b, e = begins[k], ends[k]
    lb = (arr[b + 1].astype(np.int64) << 8) | arr[b + 2]
    le = (arr[e + 1].astype(np.int64) << 8) | arr[e + 2]
    plain = ((arr[b + 6] & 0x88) == 0) & ((arr[e + 6] & 0x88) == 0) & (lb >= 16) & (le >= 16)
    wild = (arr[np.minimum(e + 9, size - 1)] == 0xFF) & (arr[np.minimum(e + 10, size - 1)] == 0xFF)
    out[k] = plain & ~wild
    return out


_NAMED_SET = frozenset(_NAMED.tolist())


def _triplets_fit(buf, f: Field) -> bool:
    """Whether the data after a named field's 8-byte name (and a BDT's 2 reserved bytes) is a chain of
    triplets that ends with it."""
    i, end = f.data_start + (10 if f.code == _BDT else 8), f.data_end
    while i < end:
        tl = buf[i]
        if tl < 2:
            return False
        i += tl
    return i == end or f.data_end - f.data_start < 8


def _mmc_plex(buf, f: Field) -> Plex | None:
    data = bytes(buf[f.data_start:f.data_end])
    for i in range(2, len(data) - 1, 2):
        if data[i] == 0xF4:
            return _DUPLEX.get(data[i + 1])
    return None


# ---------------------------------------------------------------------------------------------
# the structure walk


@dataclass(frozen=True, slots=True)
class TleMapping:
    """Which TLE attribute names fill which piece fields (names compared case-insensitively)."""

    piece_id: tuple[str, ...] = ("PIECE", "PIECE_ID", "PIECEID", "MAILPIECE")
    postal_code: tuple[str, ...] = ("ZIP", "ZIPCODE", "POSTCODE", "POSTAL_CODE", "POSTALCODE", "DPBC")
    # address block lines: ADDR1, ADDR2, ... ADDRESS1... RECIPIENT1..., in the order they appear
    recipient: str = r"(ADDR|ADDRESS|RECIPIENT|ADDRESS_LINE|ADDRLINE)_?\d*"
    inserts: tuple[str, ...] = ("INSERTS", "INSERT", "SELECTIONS")
    require_postal_code: bool = True
    piece_id_from_group_name: bool = True  # when no TLE names the piece
    # for names and TLEs without a CCSID triplet; FOP writes those in Cp1146: "cp1146" reads its $ £ € ! | [ ] right
    encoding: str = "cp500"


@dataclass(slots=True)
class _Group:
    ordinal: int
    start: int
    raw_name: bytes  # the BNG's name, decoded when needed
    end: int = 0  # just past its ENG
    tles: list[tuple[str, str]] = field(default_factory=list)
    nested_tles: list[tuple[str, str]] = field(default_factory=list)
    pages: int = 0
    sheets: int = 0
    first_page: int = 0
    plex: Plex | None = None
    imm_at_start: str | None = None  # the medium map in force when the group began
    own_imm: bool = False  # the group invokes a medium map before its first page
    last_imm: str | None = None  # the last medium map the group itself invokes
    content_at: int | None = None  # first BPG, nested BNG or IMM: where a copied IMM goes
    page_list: list[tuple[int, int, bool]] | None = None  # (BPG offset, sheet in piece, starts a sheet)
    stamps: list[tuple[int, str, str]] | None = None  # (page in piece, TLE name, value)
    problem: tuple[int, str] | None = None  # a piece-level fault found on the way (offset, why)

    def name(self, encoding: str) -> str:
        if len(self.raw_name) < 8 or self.raw_name[:2] == b"\xff\xff":
            return ""
        return self.raw_name.decode(encoding, "replace").strip()


@dataclass(slots=True)
class _Layout:
    """What a walk learns: the groups (pieces) and where the print-file frame is."""

    size: int
    groups: list[_Group]
    documents: int
    pages: int
    sheets: int
    fields: int
    medium_maps: dict[str, Plex]
    loose_pages: list[int]  # offsets of pages outside any named group
    damage: _Damage | None = None  # lenient: where the walk had to stop
    damage_group: _Group | None = None


class _Walker:
    def __init__(self, buf, size: int, *, medium_maps: Mapping[str, Plex], default_plex: Plex,
                 encoding: str, detail: bool, progress: Callable[[int, int], None] | None = None) -> None:
        self.buf, self.size, self.encoding, self.detail = buf, size, encoding, detail
        self.progress = progress
        self.sink: _IndexSink | None = None  # takes each finished group; else layout.groups keeps them
        self.imm_names: dict[bytes, str | None] = {}
        self.name_ids: dict[str, int] = {}  # TLE attribute names met so far, numbered
        self.name_of: list[str] = []
        self.known: dict[int, tuple[int, int, int, int]] = {}  # name key -> (number, two name words, length)
        self.known_keys = np.zeros(0, dtype=np.uint64)
        self.known_gid = self.known_n = np.zeros(0, dtype=np.int64)
        self.known_w0 = self.known_w1 = np.zeros(0, dtype=np.uint64)
        self.default_plex = default_plex
        self.maps: dict[str, Plex] = {}
        self.overrides = {k.upper(): v for k, v in medium_maps.items()}
        self.layout = _Layout(size, [], 0, 0, 0, 0, self.maps, [])
        self.in_doc: int | None = None
        self.groups: list[int] = []  # open BNG offsets
        self.group_names: list[bytes] = []  # their names as written, for the ENG's to match
        self.doc_name = b""
        self.page: int | None = None
        self.page_name = b""
        self.rg_depth = 0
        self.mm: str | None = None  # open BMM's name
        self.mm_open: int | None = None  # its offset
        self.mm_raw = b""
        self.defined: set[str] = set()  # medium maps the file defines (upper case)
        self.form_map = False  # the file carries a form map (which holds one or more medium maps)
        self.imm: str | None = None  # medium map in force
        self.side = 0  # 1: the back of the current duplex sheet is free
        self.cur: _Group | None = None
        self.ordinal = 0

    def _known_map(self, name: str | None) -> bool:
        """Whether an IMM's medium map is one the walk can take: any, when the file defines none (an
        external form definition's, `medium_maps` or the default); else one the file or `medium_maps`
        defines. A damaged IMM or medium map name would otherwise silently give the default's plex."""
        if name is None or not (self.defined or self.form_map):
            return True
        key = name.upper()
        return key in self.defined or key in self.overrides

    def _invoke(self, name: str | None, offset: int) -> None:
        if not self._known_map(name):
            raise _Damage(offset, f"medium map {name!r} invoked, which the file's form map does not define (it "
                                  f"defines {', '.join(sorted(self.defined)) or 'none'})")

    def _medium_map(self, f: Field) -> None:
        """BMM, EMM, MMC: a medium map's definition (BMM ... EMM, names matching), its plex from its MMC."""
        code = f.code
        if code == _BMM:
            if self.mm_open is not None:
                raise _Damage(f.offset, f"medium map begins inside the medium map that began at byte {self.mm_open}")
            self.mm = _name8(self.buf, f, self.encoding).upper()
            self.mm_open, self.mm_raw = f.offset, _raw_name(self.buf, f)
            if self.mm:
                self.defined.add(self.mm)
        elif code == _EMM:
            if self.mm_open is None:
                raise _Damage(f.offset, "end of medium map (EMM) without a begin (BMM)")
            if not _names_match(self.mm_raw, _raw_name(self.buf, f)):
                raise _Damage(f.offset, f"end of medium map (EMM) names another map than the one that began at "
                                        f"byte {self.mm_open}")
            self.mm, self.mm_open = None, None
        elif self.mm and self.mm not in self.maps:
            plex = _mmc_plex(self.buf, f)
            if plex is not None:
                self.maps[self.mm] = plex

    def plex(self) -> Plex:
        if self.imm is None:
            return self.default_plex
        name = self.imm.upper()
        return self.overrides.get(name) or self.maps.get(name) or self.default_plex

    def run(self, arr: np.ndarray) -> _Damage | StreamError | None:
        """Walk the whole file; the damage that stopped it, if any (returned, so that no traceback
        keeps a view of the memory map alive past its close)."""
        chain = _real_offsets(arr, self.size)
        try:
            for real in chain:
                self.layout.fields += int(real.size)
                kind = (arr[real + 4].astype(np.intp) << 8) | arr[real + 5]  # type and category bytes
                offs = real[_INTERESTING_KIND[kind] & (arr[real + 3] == 0xD3)]
                cds = (np.int64(0xD3) << 16) | (arr[offs + 4].astype(np.int64) << 8) | arr[offs + 5]
                start = 0
                named = offs[_NAMED_KIND[cds & 0xFFFF]]
                long = named[((arr[named + 1].astype(np.int64) << 8) | arr[named + 2]) > 16].tolist()
                if long and not all(self._fits(off) for off in long):
                    start = cds.size  # field by field: handle() names the field, after those before it
                elif self.rg_depth or (cds == _BRG).any():  # resource groups field by field, the rest in bulk
                    ends = np.flatnonzero(cds == _ERG)
                    start = int(ends[-1]) + 1 if ends.size else cds.size
                for off, code in zip(offs[:start].tolist(), cds[:start].tolist()):
                    self.handle(_field_at(self.buf, off, self.size, code))
                if start < cds.size:
                    if self.rg_depth:
                        for off, code in zip(offs[start:].tolist(), cds[start:].tolist()):
                            self.handle(_field_at(self.buf, off, self.size, code))
                    else:
                        self._bulk(arr, offs[start:], cds[start:])
                if self.progress is not None:
                    self.progress(int(real[-1]), self.size)
            self.finish()
            if self.progress is not None:
                self.progress(self.size, self.size)
        except (_Damage, StreamError) as exc:
            return exc.with_traceback(None)
        finally:
            chain.close()
        return None

    def _fits(self, off: int) -> bool:
        """Whether the named field at off (longer than its name) holds triplets after its name."""
        try:
            return _triplets_fit(self.buf, _field_at(self.buf, off, self.size))
        except _Damage:
            return False

    def _bulk(self, arr: np.ndarray, offs: np.ndarray, cds: np.ndarray) -> None:
        """One window outside resource groups. Whole page groups of the usual shape are taken a
        window at a time with numpy; what is left (a group cut by the window's edges, anything
        unusual) goes through the event walk."""
        n = cds.size
        a = 0
        if self.groups or self.page is not None:  # finish the group the last window left open
            while a < n and (self.groups or self.page is not None):
                self.handle(_field_at(self.buf, int(offs[a]), self.size, int(cds[a])))
                a += 1
        while a < n and cds[a] != _BNG and not self.groups and self.page is None:  # BDT, document-level fields
            self.handle(_field_at(self.buf, int(offs[a]), self.size, int(cds[a])))
            a += 1
        bng = np.flatnonzero(cds == _BNG)
        eng = np.flatnonzero(cds == _ENG)
        b = int(eng[-1]) + 1 if eng.size else a
        if b > a and not self._groups_at_once(arr, offs, cds, a, b):
            self._events(arr, offs, cds, a, b)
        if b < n:
            self._events(arr, offs, cds, max(a, b), n)

    def _groups_at_once(self, arr: np.ndarray, offs: np.ndarray, cds: np.ndarray, a: int, b: int) -> bool:
        if self.in_doc is None or self.cur is not None or self.groups or self.page is not None \
                or self.mm_open is not None:
            return False
        c = cds[a:b]
        o = offs[a:b]
        is_bng, is_eng, is_bpg, is_epg = c == _BNG, c == _ENG, c == _BPG, c == _EPG
        is_tle, is_imm = c == _TLE, c == _IMM
        if not (is_bng | is_eng | is_bpg | is_epg | is_tle | is_imm).all() or not is_bng[0]:
            return False
        bng, eng = np.flatnonzero(is_bng), np.flatnonzero(is_eng)
        if bng.size != eng.size or not (bng < eng).all() or not (eng[:-1] < bng[1:]).all():
            return False  # nested groups, or a group cut by the window
        idx = np.arange(c.size)
        gid = np.cumsum(is_bng) - 1  # the group each field falls in (the last BNG at or before it)
        if not (idx <= eng[gid]).all():
            return False  # something between groups (a document-level IMM...)
        cum_bpg = np.cumsum(is_bpg)
        cum_epg = np.cumsum(is_epg)
        pages = cum_bpg[eng] - cum_bpg[bng]
        if not (pages == cum_epg[eng] - cum_epg[bng]).all():
            return False
        pg = c[is_bpg | is_epg]
        if pg.size and not ((pg[0::2] == _BPG).all() and (pg[1::2] == _EPG).all()):
            return False
        hdr = is_tle | is_imm  # TLEs and IMMs must sit in the group's head, before its first page
        if (cum_bpg[hdr] != cum_bpg[bng[gid[hdr]]]).any():
            return False
        if (arr[o[is_bng] + 6] != 0).any() or (arr[o[is_imm] + 6] != 0).any():
            return False  # names behind an extension: let the field walk read them
        if _names_disagree(arr, o[bng], o[eng], self.size).any() \
                or _names_disagree(arr, o[is_bpg], o[is_epg], self.size).any():
            return False  # an end that closes another group or page: the field walk names it
        if (self.defined or self.form_map) and is_imm.any():
            imm_at = o[is_imm]
            for i in np.unique(arr[(imm_at + 9)[:, None] + np.arange(8)].view(np.uint64).ravel(),
                               return_index=True)[1].tolist():
                raw = bytes(self.buf[int(imm_at[i]) + 9:int(imm_at[i]) + 17])
                if not self._known_map(raw.decode(self.encoding, "replace").strip() or None):
                    return False  # the field walk names the IMM
        if self.sink is not None:
            got = self._tle_ids(arr, o[is_tle])
            if got is None:
                return False
            names, values = got
        else:
            names, values, ok = self._tle_lists(arr, o[is_tle])
            if ok is not True:
                return False
        tle_idx, imm_idx, bpg_idx = np.flatnonzero(is_tle), np.flatnonzero(is_imm), np.flatnonzero(is_bpg)
        ts, te = np.searchsorted(tle_idx, bng).tolist(), np.searchsorted(tle_idx, eng).tolist()
        ims, ime = np.searchsorted(imm_idx, bng).tolist(), np.searchsorted(imm_idx, eng).tolist()
        first_bpg = np.searchsorted(bpg_idx, bng)
        bpg_off = o[bpg_idx[np.minimum(first_bpg, max(bpg_idx.size - 1, 0))]].tolist() if bpg_idx.size else []
        eng_off = o[eng]
        eng_end = (eng_off + 1 + ((arr[eng_off + 1].astype(np.int64) << 8) | arr[eng_off + 2])).tolist()
        bng_off, eng_off_l, pages_l = o[bng].tolist(), eng_off.tolist(), pages.tolist()
        imm_off = o[imm_idx].tolist()
        bpg_all, first_bpg_l = o[bpg_idx].tolist(), first_bpg.tolist()
        buf, lay, sink, imm_names = self.buf, self.layout, self.sink, self.imm_names
        if sink is not None:  # the index: pieces straight from the window's arrays
            self._sink_groups(arr, sink, pages, bng_off, eng_off_l, eng_end, bpg_off, ims, ime, imm_off, names,
                              values, ts, te)
            return True
        for k in range(bng.size):
            start = bng_off[k]
            imm_at_start = self.imm
            content_at = None
            if ime[k] > ims[k]:
                content_at = imm_off[ims[k]]
                last = imm_off[ime[k] - 1]
                raw = bytes(buf[last + 9:last + 17])
                name = imm_names.get(raw, raw)
                if name is raw:
                    name = imm_names[raw] = raw.decode(self.encoding, "replace").strip() or None
                self.imm = name
                self.side = 0
            n = pages_l[k]
            plex = self.plex()
            first_page = lay.pages
            problem = None
            page_list = None
            if self.detail:  # each page's offset, its sheet in the piece, and whether it starts that sheet
                page_list, sheet, back = [], 0, self.side if plex is Plex.DUPLEX else 0
                for off in bpg_all[first_bpg_l[k]:first_bpg_l[k] + n]:
                    starts = plex is Plex.SIMPLEX or back == 0
                    sheet += starts
                    page_list.append((off, sheet, starts))
                    back = 0 if plex is Plex.SIMPLEX else 1 - back
            if n:
                if plex is Plex.SIMPLEX:
                    first_new, sheets, self.side = True, n, 0
                else:
                    first_new = self.side == 0
                    rem = n - (0 if first_new else 1)
                    sheets, self.side = (rem + 1) // 2, rem % 2
                lay.pages += n
                lay.sheets += sheets
                if not first_new:
                    problem = (bpg_off[k], _BACK_SIDE)
            else:
                sheets = 0
                problem = (eng_off_l[k], "the page group holds no pages")
            lay.groups.append(_Group(
                self.ordinal, start, bytes(buf[start + 9:start + 17]), eng_end[k],
                tles=list(zip(names[ts[k]:te[k]], values[ts[k]:te[k]])), pages=n, sheets=sheets,
                first_page=first_page, plex=plex, imm_at_start=imm_at_start, own_imm=content_at is not None,
                last_imm=self.imm if content_at is not None else None,
                content_at=content_at if content_at is not None else (bpg_off[k] if n else eng_off_l[k]),
                problem=problem, page_list=page_list, stamps=[] if self.detail else None))
            self.ordinal += 1
        return True

    def _sink_groups(self, arr: np.ndarray, sink: _IndexSink, pages: np.ndarray, bng_off: list[int],
                     eng_off: list[int], eng_end: list[int], bpg_off: list[int], ims: list[int], ime: list[int],
                     imm_off: list[int], names: list[int], values: list[str], ts: list[int], te: list[int]) -> None:
        """Whole groups straight to the sink, sheets worked out with numpy: a medium map holds from
        its IMM to the next, an IMM starts a new sheet, duplex pages pair up across groups that
        invoke none."""
        count = len(bng_off)
        has_imm = np.asarray(ime) > np.asarray(ims)
        seg = np.cumsum(has_imm)  # 0: groups still under the medium map in force when the window began
        seg_plex = [self.plex() is Plex.DUPLEX]
        if has_imm.any():
            last = np.asarray(imm_off)[np.asarray(ime)[has_imm] - 1]
            raw = arr[(last + 9)[:, None] + np.arange(8)]
            keys, inverse = np.unique(raw.view(np.uint64).ravel(), return_inverse=True)
            plex_of_key = []
            for key in keys.tolist():
                raw_name = key.to_bytes(8, sys.byteorder)
                name = self.imm_names.get(raw_name, raw_name)
                if name is raw_name:
                    name = self.imm_names[raw_name] = raw_name.decode(self.encoding, "replace").strip() or None
                self.imm = name
                plex_of_key.append((name, self.plex() is Plex.DUPLEX))
            seg_plex += [plex_of_key[i][1] for i in inverse.tolist()]
            self.imm = plex_of_key[int(inverse[-1])][0]
        duplex = np.asarray(seg_plex)[seg]
        before = np.concatenate(([0], np.cumsum(pages)[:-1]))  # pages before each group in this window
        seg_first = np.searchsorted(seg, seg)  # index of each group's segment's first group
        t = before - before[seg_first] + np.where(seg == 0, self.side, 0)  # page positions used on the segment
        sheets = np.where(duplex, (t + pages + 1) // 2 - (t + 1) // 2, pages)
        first_new = ~duplex | (t % 2 == 0)
        end_t = int(t[-1] + pages[-1])
        self.side = end_t % 2 if duplex[-1] else 0
        first_page = (before + self.layout.pages).tolist()
        self.layout.pages += int(pages.sum())
        self.layout.sheets += int(sheets.sum())
        problems = {}
        for k in np.flatnonzero((pages == 0) | ~first_new).tolist():
            problems[k] = ((bpg_off[k], _BACK_SIDE) if pages[k] else (eng_off[k], "the page group holds no pages"))
        plex_obj = (Plex.SIMPLEX, Plex.DUPLEX)
        ordinal = self.ordinal
        if not problems:
            buckets = _same_names(names, ts, te)
            if buckets is not None and sink.columns(
                    ordinal, buckets, values, bng_off, eng_end, pages.tolist(), sheets.tolist(),
                    [plex_obj[d] for d in duplex.tolist()], first_page):
                self.ordinal += count
                return
        names = names.tolist()
        fast = sink.fast
        get_problem = problems.get if problems else (lambda k: None)
        for k, (n, sh, dx, fp, a, b) in enumerate(zip(pages.tolist(), sheets.tolist(), duplex.tolist(), first_page,
                                                      ts, te)):
            fast(ordinal + k, bng_off[k], eng_end[k], None, tuple(names[a:b]), values, a, n, sh, plex_obj[dx], fp,
                 get_problem(k))
        self.ordinal += count

    def _events(self, arr: np.ndarray, offs: np.ndarray, cds: np.ndarray, a: int, b: int) -> None:
        """Fields a..b one event at a time; runs of pages are counted, not visited one by one."""
        offs, cds = offs[a:b], cds[a:b]
        is_page = (cds == _BPG) | (cds == _EPG)
        events = np.flatnonzero(~is_page).tolist()
        tles = iter(self._tles(arr, offs[cds == _TLE]))
        offs_l, cds_l = offs.tolist(), cds.tolist()
        prev = 0
        for e in [*events, len(offs_l)]:
            if e > prev and self.detail:  # every page recorded
                for i in range(prev, e):
                    self.handle(_field_at(self.buf, offs_l[i], self.size, cds_l[i]))
            elif e > prev:
                self._pages(arr, offs_l, cds, prev, e)
            if e == len(offs_l):
                break
            off = offs_l[e]
            code = cds_l[e]
            if code == _TLE:
                nv = next(tles)
                if nv is not None and self.cur is not None:
                    self._tle(*nv)
                    prev = e + 1
                    continue
            self.handle(_field_at(self.buf, off, self.size, code))
            prev = e + 1

    def _pages(self, arr: np.ndarray, offs: list[int], cds: np.ndarray, a: int, b: int) -> None:
        run = cds[a:b]
        first = _EPG if self.page is not None else _BPG
        other = _BPG if first == _EPG else _EPG
        if not ((run[0::2] == first).all() and (run[1::2] == other).all()):
            for i in range(a, b):  # let the field-by-field walk name the fault
                self.handle(_field_at(self.buf, offs[i], self.size, int(cds[i])))
            return
        o_run = np.asarray(offs[a:b], dtype=np.int64)
        begins = o_run[0::2] if first == _BPG else np.concatenate(([self.page], o_run[1::2]))
        ends = o_run[1::2] if first == _BPG else o_run[0::2]
        if _names_disagree(arr, begins[:ends.size], ends, self.size).any():
            for i in range(a, b):  # let the field-by-field walk name the page
                self.handle(_field_at(self.buf, offs[i], self.size, int(cds[i])))
            return
        k = (b - a + (1 if first == _BPG else 0)) // 2  # pages begun in this run
        if k:
            fst = a if first == _BPG else a + 1
            if self.in_doc is None:
                raise _Damage(offs[fst], "page (BPG) outside a document")
            self._count_pages(k, offs[fst])
        last = int(run[-1])
        self.page = offs[b - 1] if last == _BPG else None
        if self.page is not None:
            self.page_name = _raw_name(self.buf, _field_at(self.buf, self.page, self.size, _BPG))

    def _count_pages(self, k: int, first_off: int) -> None:
        plex = self.plex()
        if plex is Plex.SIMPLEX:
            first_new, new, self.side = True, k, 0
        else:
            first_new = self.side == 0
            rem = k - (0 if first_new else 1)
            new, self.side = (rem + 1) // 2, rem % 2
        self.layout.pages += k
        self.layout.sheets += new
        g = self.cur
        if g is None:
            self.layout.loose_pages.append(first_off)
            return
        if g.pages == 0:
            if g.content_at is None:
                g.content_at = first_off
            g.plex = plex
            if not first_new and g.problem is None:
                g.problem = (first_off, _BACK_SIDE)
        g.pages += k
        g.sheets += new

    def _tle(self, name: str, value: str) -> None:
        g = self.cur
        if self.page is not None:
            if g.stamps is not None and name.strip() in _STAMP_NAMES:
                g.stamps.append((g.pages, name.strip(), value.strip()))
        elif len(self.groups) == 1 and g.pages == 0:
            g.tles.append((name, value))
        else:
            g.nested_tles.append((name, value))

    def _tle_lists(self, arr: np.ndarray, t: np.ndarray) -> tuple[list[str], list[str], np.ndarray | bool]:
        """Names and values of TLEs of the usual shape (no flags; a name triplet, then a value
        triplet), decoded in one go, as written (blank padding is stripped later), and which TLEs
        had that shape (True when all did)."""
        if t.size == 0:
            return [], [], True
        d = t + 9
        length = (arr[t + 1].astype(np.int64) << 8) | arr[t + 2]
        end = t + 1 + length
        nl = arr[np.minimum(d, self.size - 1)].astype(np.int64)
        vpos = np.minimum(d + nl, self.size - 2)
        vl = arr[vpos].astype(np.int64)
        ok = ((arr[t + 6] == 0) & (nl >= 4) & (arr[np.minimum(d + 1, self.size - 1)] == 0x02)
              & (arr[np.minimum(d + 2, self.size - 1)] == 0x0B) & (arr[vpos + 1] == 0x36) & (vl >= 4)
              & (d + nl + vl == end))
        names = _gather(arr, d + 4, nl - 4, self.encoding)
        values = _gather(arr, d + nl + 4, end - (d + nl + 4), self.encoding)
        return names, values, True if ok.all() else ok

    def _tle_ids(self, arr: np.ndarray, t: np.ndarray) -> tuple[np.ndarray, list[str]] | None:
        """A number for each TLE's attribute name (the same name, the same number, for the whole
        walk: self.name_of[number] is the name) and the values, stripped; None when any TLE is
        unusual."""
        if t.size == 0:
            return np.zeros(0, dtype=np.int64), []
        d = t + 9
        length = (arr[t + 1].astype(np.int64) << 8) | arr[t + 2]
        end = t + 1 + length
        nl = arr[np.minimum(d, self.size - 1)].astype(np.int64)
        vpos = np.minimum(d + nl, self.size - 2)
        vl = arr[vpos].astype(np.int64)
        ok = ((arr[t + 6] == 0) & (nl >= 4) & (nl <= 20) & (arr[np.minimum(d + 1, self.size - 1)] == 0x02)
              & (arr[np.minimum(d + 2, self.size - 1)] == 0x0B) & (arr[vpos + 1] == 0x36) & (vl >= 4)
              & (d + nl + vl == end))
        if not ok.all():
            return None
        n = nl - 4  # name lengths, 0..16
        if int(d[-1]) + 20 > self.size:
            return None  # a name's 16-byte window would run past the end: let the plain walk read it
        # each name as two little-endian 8-byte words read straight from the file (an unaligned
        # view), the bytes past its length masked off
        words = np.ndarray((self.size - 7,), dtype="<u8", buffer=arr, strides=(1,))
        w0 = words[d + 4] & _LOW_BYTES[np.minimum(n, 8)]
        w1 = words[d + 12] & _LOW_BYTES[np.clip(n - 8, 0, 8)]
        del words
        with np.errstate(over="ignore"):
            keys = (w0 * np.uint64(0x9E3779B97F4A7C15)) ^ (w1 * np.uint64(0xC2B2AE3D27D4EB4F)) ^ n.astype(np.uint64)
        ids = self._known_ids(keys, w0, w1, n)  # a file uses a few names over and over: no sort needed
        if ids is None:
            _, first, inverse = np.unique(keys, return_index=True, return_inverse=True)
            inverse = inverse.ravel()
            rep = first[inverse]
            if not ((w0 == w0[rep]).all() and (w1 == w1[rep]).all() and (n == n[rep]).all()):
                return None  # two names share a key: let the plain walk read them
            gids = []
            for i in first.tolist():
                at = int(d[i]) + 4
                name = bytes(self.buf[at:at + int(n[i])]).decode(self.encoding, "replace")
                gid = self.name_ids.get(name)
                if gid is None:
                    gid = self.name_ids[name] = len(self.name_of)
                    self.name_of.append(name)
                gids.append(gid)
                self.known[int(keys[i])] = (gid, int(w0[i]), int(w1[i]), int(n[i]))
            ordered = sorted(self.known.items())
            self.known_keys = np.array([k for k, _ in ordered], dtype=np.uint64)
            self.known_gid, self.known_w0, self.known_w1, self.known_n = (
                np.array([v[j] for _, v in ordered], dtype=dt)
                for j, dt in enumerate((np.int64, np.uint64, np.uint64, np.int64)))
            ids = np.asarray(gids, dtype=np.int64)[inverse]
        return ids, _gather_stripped(arr, d + nl + 4, end - (d + nl + 4), self.encoding)

    def _known_ids(self, keys: np.ndarray, w0: np.ndarray, w1: np.ndarray, n: np.ndarray) -> np.ndarray | None:
        """Name numbers when every key is one met before (and its bytes agree), else None."""
        known = self.known_keys
        if known.size == 0:
            return None
        pos = np.minimum(np.searchsorted(known, keys), known.size - 1)
        if not (known[pos] == keys).all():
            return None
        if not ((self.known_w0[pos] == w0).all() and (self.known_w1[pos] == w1).all()
                and (self.known_n[pos] == n).all()):
            return None
        return self.known_gid[pos]

    def _tles(self, arr: np.ndarray, t: np.ndarray) -> list[tuple[str, str] | None]:
        names, values, ok = self._tle_lists(arr, t)
        out: list[tuple[str, str] | None] = list(zip(names, values))
        if ok is not True:
            for i in np.flatnonzero(~ok).tolist():
                out[i] = None
        return out

    def handle(self, f: Field) -> None:  # noqa: C901 - one switch over the field kinds
        code = f.code
        if f.end - f.offset > 17 and code in _NAMED_SET and not _triplets_fit(self.buf, f):
            raise _Damage(f.offset, f"{sf_name(code)} of length {f.end - f.offset - 1}: what follows its name is "
                                    "not triplets (a damaged length swallowing the fields after it?)")
        if self.rg_depth:
            if code == _BRG:
                self.rg_depth += 1
            elif code == _ERG:
                self.rg_depth -= 1
                if not self.rg_depth and self.mm_open is not None:
                    raise _Damage(f.offset, f"resource group ends inside the medium map that began at byte "
                                            f"{self.mm_open}")
            elif code in (_BMM, _EMM, _MMC):
                self._medium_map(f)
            elif code == _BFM:
                self.form_map = True
            return
        if code == _BRG:
            if self.page is not None:
                raise _Damage(f.offset, "resource group inside a page")
            self.rg_depth = 1
        elif code in (_BMM, _EMM, _MMC):
            self._medium_map(f)
        elif code == _BDT:
            if self.in_doc is not None:
                raise _Damage(f.offset, f"document begins inside the document that began at byte {self.in_doc}")
            self.in_doc = f.offset
            self.doc_name = _raw_name(self.buf, f)
            self.layout.documents += 1
            self.side = 0
        elif code == _EDT:
            if self.in_doc is None:
                raise _Damage(f.offset, "end of document (EDT) without a begin (BDT)")
            if self.page is not None:
                raise _Damage(f.offset, f"document ends inside the page that began at byte {self.page}")
            if self.groups:
                raise _Damage(f.offset, f"document ends inside the page group that began at byte {self.groups[-1]}")
            if self.mm_open is not None:
                raise _Damage(f.offset, f"document ends inside the medium map that began at byte {self.mm_open}")
            if not _names_match(self.doc_name, _raw_name(self.buf, f)):
                raise _Damage(f.offset, f"end of document (EDT) names another document than the one that began "
                                        f"at byte {self.in_doc}")
            self.in_doc = None
        elif code == _BNG:
            if self.in_doc is None:
                raise _Damage(f.offset, "page group (BNG) outside a document")
            if self.page is not None:
                raise _Damage(f.offset, f"page group begins inside the page that began at byte {self.page}")
            if not self.groups:
                self.cur = _Group(self.ordinal, f.offset, bytes(self.buf[f.data_start:min(f.data_start + 8, f.data_end)]),
                                  first_page=self.layout.pages, imm_at_start=self.imm,
                                  page_list=[] if self.detail else None, stamps=[] if self.detail else None)
                self.ordinal += 1
            elif self.cur is not None and self.cur.content_at is None:
                self.cur.content_at = f.offset
            self.groups.append(f.offset)
            self.group_names.append(_raw_name(self.buf, f))
        elif code == _ENG:
            if not self.groups:
                raise _Damage(f.offset, "end of page group (ENG) without a begin (BNG)")
            if self.page is not None:
                raise _Damage(f.offset, f"page group ends inside the page that began at byte {self.page}")
            if not _names_match(self.group_names.pop(), _raw_name(self.buf, f)):
                raise _Damage(f.offset, f"end of page group (ENG) names another group than the one that began at "
                                        f"byte {self.groups[-1]}")
            self.groups.pop()
            if not self.groups and self.cur is not None:
                g, self.cur = self.cur, None
                g.end = f.end
                g.content_at = g.content_at if g.content_at is not None else f.offset
                self._end_group(g, f)
                if self.sink is not None:
                    self.sink.group(g)
                else:
                    self.layout.groups.append(g)
        elif code == _BPG:
            if self.in_doc is None:
                raise _Damage(f.offset, "page (BPG) outside a document")
            if self.page is not None:
                raise _Damage(f.offset, f"page begins inside the page that began at byte {self.page}")
            self.page = f.offset
            self.page_name = _raw_name(self.buf, f)
            plex = self.plex()
            new_sheet = plex is Plex.SIMPLEX or self.side == 0
            self.side = 1 if plex is Plex.DUPLEX and new_sheet else 0
            self.layout.pages += 1
            self.layout.sheets += new_sheet
            g = self.cur
            if g is None:
                self.layout.loose_pages.append(f.offset)
                return
            if g.pages == 0:
                if g.content_at is None:
                    g.content_at = f.offset
                g.plex = plex
                if not new_sheet and g.problem is None:
                    g.problem = (f.offset, _BACK_SIDE)
            g.pages += 1
            g.sheets += new_sheet
            if g.page_list is not None:
                g.page_list.append((f.offset, g.sheets, new_sheet))
        elif code == _EPG:
            if self.page is None:
                raise _Damage(f.offset, "end of page (EPG) without a begin (BPG)")
            if not _names_match(self.page_name, _raw_name(self.buf, f)):
                raise _Damage(f.offset, f"end of page (EPG) names another page than the one that began at "
                                        f"byte {self.page}")
            self.page = None
        elif code == _IMM:
            if self.page is not None:
                raise _Damage(f.offset, "medium map invoked inside a page")
            self.imm = _name8(self.buf, f, self.encoding) or None
            self._invoke(self.imm, f.offset)
            self.side = 0  # an IMM always starts a new sheet
            g = self.cur
            if g is not None:
                g.last_imm = self.imm
            if g is not None and g.pages == 0:
                g.own_imm = True
                if g.content_at is None:
                    g.content_at = f.offset
        elif code == _TLE:
            g = self.cur
            if g is None:
                return  # document-level TLEs describe the document, not a piece
            self._tle(*_parse_tle(self.buf, f, self.encoding))

    def _end_group(self, g: _Group, f: Field) -> None:
        if g.pages == 0 and g.problem is None:
            g.problem = (f.offset, "the page group holds no pages")
        if g.plex is None:
            g.plex = self.plex()

    def finish(self) -> None:
        if self.page is not None:
            raise _Damage(self.page, "the file ends inside this page (no EPG)")
        if self.groups:
            raise _Damage(self.groups[-1], "the file ends inside this page group (no ENG)")
        if self.in_doc is not None:
            raise _Damage(self.in_doc, "the file ends inside this document (no EDT)")
        if self.rg_depth:
            raise _Damage(self.size, "the file ends inside a resource group (no ERG)")
        if self.mm_open is not None:
            raise _Damage(self.mm_open, "the file ends inside this medium map (no EMM)")


def _walk(path: Path, *, medium_maps: Mapping[str, Plex], default_plex: Plex, mapping: TleMapping,
          detail: bool, lenient: bool, progress: Callable[[int, int], None] | None = None,
          sink: _IndexSink | None = None) -> _Layout:
    try:
        with open(path, "rb") as fh:
            size = fh.seek(0, 2)
            if size == 0:
                raise StreamError("empty file: no structured fields", path=str(path), offset=0)
            mm = mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ)
            try:
                arr = np.frombuffer(mm, dtype=np.uint8)
                walker = _Walker(mm, size, medium_maps=medium_maps, default_plex=default_plex,
                                 encoding=mapping.encoding, detail=detail, progress=progress)
                walker.sink = sink
                if sink is not None:
                    sink.buf = mm
                    sink.name_of = walker.name_of
                damage = walker.run(arr)
                if sink is not None:
                    sink.buf = None
                del arr  # the map cannot close while a view of it lives
                walker.buf = None
            finally:
                try:
                    mm.close()
                except BufferError:  # only after a bug: a traceback holds a view; the map goes with it
                    pass
    except OSError as exc:
        raise StreamError(f"cannot read: {exc.strerror or exc}", path=str(path)) from None
    if isinstance(damage, StreamError):  # a piece the sink refused
        raise damage
    if damage is not None:
        if not lenient:
            pid = _group_label(walker.cur, mapping) if walker.cur else None
            raise StreamError(damage.message, path=str(path), offset=damage.offset, piece_id=pid)
        walker.layout.damage, walker.layout.damage_group = damage, walker.cur
    return walker.layout


def _same_names(names: np.ndarray, ts: list[int], te: list[int]
                ) -> list[tuple[tuple[int, ...], np.ndarray, np.ndarray]] | None:
    """Groups sorted by the sequence of TLE names they carry (one composition template gives a
    few such sequences: address blocks of 3 to 6 lines, say): for each sequence, the groups that
    have it and where their values are. None when a group has no TLE (let the piece-by-piece walk
    name it). `names` holds each TLE's name number; group k's TLEs are names[ts[k]:te[k]], and
    the groups' TLEs follow one another."""
    ts_a, te_a = np.asarray(ts, dtype=np.int64), np.asarray(te, dtype=np.int64)
    width = te_a - ts_a
    if width.size == 0 or (width == 0).any() or names.size != int(width.sum()) or ts[0] != 0:
        return None
    pos = np.arange(names.size, dtype=np.int64) - np.repeat(ts_a, width)
    with np.errstate(over="ignore"):
        mix = ((names.astype(np.uint64) + np.uint64(1)) * np.uint64(0x9E3779B97F4A7C15)) ^ \
            ((pos.astype(np.uint64) + np.uint64(1)) * np.uint64(0xC2B2AE3D27D4EB4F))
        mix ^= mix >> np.uint64(29)
        key = np.add.reduceat(mix, ts_a) ^ (width.astype(np.uint64) * np.uint64(0x165667B19E3779F9))
    _, first, inverse = np.unique(key, return_index=True, return_inverse=True)
    inverse = inverse.ravel()
    order = np.argsort(inverse, kind="stable")
    bounds = np.searchsorted(inverse[order], np.arange(first.size + 1))
    out = []
    for u, rep in enumerate(first.tolist()):
        rows = order[bounds[u]:bounds[u + 1]]
        w = int(width[rep])
        ids = names[ts[rep]:ts[rep] + w]
        where = ts_a[rows][:, None] + np.arange(w)
        if not ((width[rows] == w).all() and (names[where] == ids).all()):
            return None  # two sequences share a key: the piece-by-piece walk sorts them out
        out.append((tuple(ids.tolist()), rows, where))
    return out


def _group_label(g: _Group, mapping: TleMapping) -> str:
    names = {n.upper() for n in mapping.piece_id}
    for name, value in g.tles:
        if name.strip().upper() in names and value.strip():
            return value.strip()
    return g.name(mapping.encoding) or f"group #{g.ordinal + 1} at byte {g.start}"


# ---------------------------------------------------------------------------------------------
# the reader


_PID, _ZIP, _INS, _RCPT, _OTHER = range(5)


def _inserts(g: _Group, name: str, value: str, path: str, piece_id: str | None, mapping: TleMapping) -> frozenset[int]:
    try:
        return frozenset(int(x) for x in re.split(r"[\s,;]+", value.strip()) if x)
    except ValueError:
        raise StreamError(f"TLE {name.strip()}={value.strip()!r}: insert stations are not numbers",
                          path=path, offset=g.start, piece_id=piece_id or g.name(mapping.encoding)) from None


class _Roles:
    """What each TLE name means under a mapping, worked out once per name."""

    def __init__(self, mapping: TleMapping) -> None:
        self.mapping = mapping
        self.fixed = {**{n.upper(): _INS for n in mapping.inserts}, **{n.upper(): _ZIP for n in mapping.postal_code},
                      **{n.upper(): _PID for n in mapping.piece_id}}
        self.rcpt = re.compile(mapping.recipient, re.IGNORECASE)
        self.memo: dict[str, int] = {}

    def __call__(self, name: str) -> int:
        role = self.memo.get(name)
        if role is None:
            key = name.strip()
            role = self.fixed.get(key.upper())
            if role is None:
                role = _RCPT if self.rcpt.fullmatch(key) else _OTHER
            self.memo[name] = role
        return role


def _piece_fields(g: _Group, roles: _Roles, job_id: str, path: str) -> Piece:
    mapping = roles.mapping
    memo = roles.memo
    piece_id = postal = None
    recipient: list[str] = []
    inserts: frozenset[int] = frozenset()
    extra: dict[str, str] = {}
    for name, value in g.tles:
        role = memo.get(name)
        if role is None:
            role = roles(name)
        if role == _RCPT:
            recipient.append(value.strip())
        elif role == _OTHER:
            extra.setdefault(name.strip(), value.strip())
        elif role == _PID:
            if piece_id is None:
                piece_id = value.strip() or None
        elif role == _ZIP:
            if postal is None:
                postal = value.strip() or None
        else:
            inserts = _inserts(g, name, value, path, piece_id, mapping)
    for name, value in g.nested_tles:  # nested groups add index values, never the piece's own fields
        extra.setdefault(name.strip(), value.strip())
    if piece_id is None:
        piece_id = g.name(mapping.encoding) if mapping.piece_id_from_group_name else ""
        if not piece_id:
            raise StreamError(f"page group #{g.ordinal + 1} has no piece ID (no TLE {'/'.join(mapping.piece_id)} "
                              "and no group name)", path=path, offset=g.start)
    if postal is None and mapping.require_postal_code:
        raise StreamError(f"the piece has no postal code (no TLE {'/'.join(mapping.postal_code)})",
                          path=path, offset=g.start, piece_id=piece_id)
    return Piece(piece_id=piece_id, job_id=job_id, sequence=g.ordinal, pages=g.pages, sheets=g.sheets,
                 plex=g.plex or Plex.SIMPLEX, first_page=g.first_page, recipient=tuple(recipient),
                 postal_code=postal, inserts=inserts, index=extra)


_SEVERAL = -1  # a plan's insert-list position when a group has more than one insert list


class _IndexSink:
    """Turns finished page groups into pieces as the walk goes, so that no per-group record
    outlives its group: memory holds the pieces, not the stream's structure."""

    def __init__(self, roles: _Roles, job_id: str, path: str, lenient: bool) -> None:
        self.roles, self.job_id, self.path, self.lenient = roles, job_id, path, lenient
        self.pieces: list[Piece] = []
        self.quarantined: list[Quarantined] = []
        self.spans: dict[str, tuple[int, int]] = {}
        self.plans: dict[tuple[int, ...], tuple] = {}
        self.name_of: list[str] = []  # the walker's TLE name numbering
        self.buf = None  # the walker's file map, for the rare group whose name is needed
        self.insert_sets: dict[str, frozenset[int]] = {}
        # where the pieces' IDs come from: True a TLE, False the group name (None: no piece yet). A file
        # names its pieces one way; a piece named the other way lost its ID TLE to damage (its field
        # identifier, its triplet or its attribute name), and would be imported under its group name
        self.id_from_tle: bool | None = None

    def _id_source(self, from_tle: bool, start: int, piece_id: str) -> StreamError | None:
        if self.id_from_tle is None:
            self.id_from_tle = from_tle
        if from_tle == self.id_from_tle:
            return None
        mapping = self.roles.mapping
        tle = f"a TLE {'/'.join(mapping.piece_id)}"
        return StreamError(f"the piece takes its ID from {tle if from_tle else 'its page group name'}, the pieces "
                           f"before it from {'their page group names' if from_tle else tle}: a damaged TLE?",
                           path=self.path, offset=start, piece_id=piece_id)

    def group(self, g: _Group) -> None:
        try:
            piece = _piece_fields(g, self.roles, self.job_id, self.path)
        except StreamError as exc:
            return self._quarantine(exc)
        from_tle = any(self.roles(name) == _PID and value.strip() for name, value in g.tles)
        wrong = self._id_source(from_tle, g.start, piece.piece_id)
        if wrong is not None:
            return self._quarantine(wrong)
        self._add(piece, g.start, g.end, g.problem)

    def fast(self, ordinal: int, start: int, end: int, raw_name: bytes | None, ids: tuple[int, ...],
             all_values: list[str], base: int, pages: int, sheets: int, plex: Plex, first_page: int,
             problem: tuple[int, str] | None) -> None:
        """A whole group from the bulk walk: `ids` number its TLE names (self.name_of), its values
        are all_values[base:base + len(ids)], already stripped (_Walker._tle_ids)."""
        plan = self.plans.get(ids)
        if plan is None:
            plan = self.plans[ids] = self._plan(tuple(self.name_of[i] for i in ids))
        pid_i, zip_i, rcpt, ins_i, others = plan
        inserts: frozenset[int] | None = frozenset()
        several = _SEVERAL in (pid_i, zip_i, ins_i)
        piece_id = all_values[base + pid_i] if pid_i is not None and not several else ""
        if piece_id and ins_i is not None and not several:
            raw = all_values[base + ins_i]
            inserts = self.insert_sets.get(raw)
            if inserts is None:
                try:
                    inserts = self.insert_sets[raw] = frozenset(
                        int(x) for x in re.split(r"[\s,;]+", raw.strip()) if x)
                except ValueError:
                    pass  # the slow road names it, as the field walk would
        if not piece_id or several or inserts is None:
            names = [self.name_of[i] for i in ids]
            if raw_name is None:
                raw_name = bytes(self.buf[start + 9:start + 17])
            g = _Group(ordinal, start, raw_name, end, tles=list(zip(names, all_values[base:base + len(ids)])),
                       pages=pages, sheets=sheets, first_page=first_page, plex=plex, problem=problem)
            return self.group(g)  # the slow road names the fault, or takes the group name
        postal = all_values[base + zip_i] if zip_i is not None else ""
        if not postal and self.roles.mapping.require_postal_code:
            mapping = self.roles.mapping
            return self._quarantine(StreamError(
                f"the piece has no postal code (no TLE {'/'.join(mapping.postal_code)})", path=self.path,
                offset=start, piece_id=piece_id))
        piece = Piece(piece_id, self.job_id, ordinal, pages, sheets, plex, first_page,
                      tuple([all_values[base + i] for i in rcpt]), postal or None, inserts, None,
                      {k: all_values[base + i] for k, i in others})
        if self.id_from_tle is not True:
            wrong = self._id_source(True, start, piece_id)
            if wrong is not None:
                return self._quarantine(wrong)
        spans = self.spans
        if problem is None and piece_id not in spans:  # the usual case, without a call
            self.pieces.append(piece)
            spans[piece_id] = (start, end)
            return None
        self._add(piece, start, end, problem)

    def columns(self, ordinal: int, buckets: list[tuple[tuple[int, ...], np.ndarray, np.ndarray]],
                all_values: list[str], starts: list[int], ends: list[int], pages: list[int], sheets: list[int],
                plexes: list[Plex], first_pages: list[int]) -> bool:
        """A window's groups, a column at a time. Each bucket is (the TLE name numbers every group
        in it has, in order; the groups' positions in the window; for each of them, the positions
        of its values in all_values, stripped). Adds their pieces in stream order and answers
        True; answers False, adding nothing, when any group needs a closer look (no piece ID or
        postal code, an insert list that is not numbers, a piece ID met twice), so that `fast`
        takes them one by one and names the fault."""
        count = len(starts)
        if self.id_from_tle is False:
            return False  # `fast` names the first piece named by a TLE
        built: list[Piece] = []
        pids_all: list[str] = []
        take = all_values.__getitem__
        job_id, require_postal = self.job_id, self.roles.mapping.require_postal_code
        sets = self.insert_sets
        for ids, rows, where in buckets:
            plan = self.plans.get(ids)
            if plan is None:
                plan = self.plans[ids] = self._plan(tuple(self.name_of[i] for i in ids))
            pid_i, zip_i, rcpt, ins_i, others = plan
            if pid_i is None or _SEVERAL in (pid_i, zip_i, ins_i):
                return False
            n = rows.size

            def col(i: int) -> list[str]:
                return list(map(take, where[:, i].tolist()))

            pids = col(pid_i)
            if not all(pids):
                return False
            pids_all += pids
            if zip_i is not None:
                postals: list[str | None] = col(zip_i)
                if not all(postals):
                    return False
            elif require_postal:
                return False
            else:
                postals = [None] * n
            if ins_i is None:
                inserts: list[frozenset[int]] = [frozenset()] * n
            else:
                raws = col(ins_i)
                for raw in set(raws).difference(sets):
                    try:
                        sets[raw] = frozenset(int(x) for x in re.split(r"[\s,;]+", raw.strip()) if x)
                    except ValueError:
                        return False
                inserts = list(map(sets.__getitem__, raws))
            recipients = list(zip(*(col(i) for i in rcpt))) if rcpt else [()] * n
            if others:
                keys = [k for k, _ in others]
                indexes = list(map(dict, map(zip, repeat(keys), zip(*(col(i) for _, i in others)))))
            else:
                indexes = [{} for _ in range(n)]
            ks = rows.tolist()
            built += map(Piece, pids, repeat(job_id), (rows + ordinal).tolist(), *(
                list(map(f.__getitem__, ks)) for f in (pages, sheets, plexes, first_pages)),
                recipients, postals, inserts, repeat(None), indexes)
        if len(set(pids_all)) != count or not self.spans.keys().isdisjoint(pids_all):
            return False
        if len(buckets) > 1:  # back to stream order
            order = np.argsort(np.concatenate([rows for _, rows, _ in buckets]), kind="stable").tolist()
            built = list(map(built.__getitem__, order))
            pids_all = list(map(pids_all.__getitem__, order))
        self.pieces += built
        self.spans.update(zip(pids_all, zip(starts, ends)))
        self.id_from_tle = True
        return True

    def _plan(self, names: tuple[str, ...]) -> tuple:
        pid_i = zip_i = ins_i = None
        rcpt: list[int] = []
        others: dict[str, int] = {}
        for i, name in enumerate(names):
            role = self.roles(name)
            # a second piece ID, postal code or insert list: _piece_fields decides (the first
            # non-empty ID and code; every insert list checked, the last one used)
            if role == _PID:
                pid_i = i if pid_i is None else _SEVERAL
            elif role == _ZIP:
                zip_i = i if zip_i is None else _SEVERAL
            elif role == _INS:
                ins_i = i if ins_i is None else _SEVERAL
            elif role == _RCPT:
                rcpt.append(i)
            else:
                others.setdefault(name.strip(), i)
        return pid_i, zip_i, tuple(rcpt), ins_i, tuple(others.items())

    def _add(self, piece: Piece, start: int, end: int, problem: tuple[int, str] | None) -> None:
        try:
            if problem is not None:
                raise StreamError(problem[1], path=self.path, offset=problem[0], piece_id=piece.piece_id)
            if piece.piece_id in self.spans:
                raise StreamError(f"piece {piece.piece_id} appears twice (first at byte "
                                  f"{self.spans[piece.piece_id][0]})", path=self.path, offset=start,
                                  piece_id=piece.piece_id)
        except StreamError as exc:
            return self._quarantine(exc)
        self.pieces.append(piece)
        self.spans[piece.piece_id] = (start, end)

    def _quarantine(self, exc: StreamError) -> None:
        if not self.lenient:
            raise exc
        self.quarantined.append(Quarantined(_bare(exc), piece_id=exc.piece_id, offset=exc.offset))


class AfpReader:
    format = StreamFormat.AFP

    def __init__(self, mapping: TleMapping | None = None, *, medium_maps: Mapping[str, Plex] | None = None,
                 default_plex: Plex = Plex.SIMPLEX, progress: Callable[[int, int], None] | None = None) -> None:
        """`medium_maps` says what medium maps of an external form definition do (name -> plex);
        maps defined in the file itself are read from it. `progress(bytes_done, bytes_total)` is
        called as the walk goes."""
        self.mapping = mapping or TleMapping()
        self.medium_maps = dict(medium_maps or {})
        self.default_plex = default_plex
        self.progress = progress

    def with_progress(self, progress: Callable[[int, int], None]) -> "AfpReader":
        return AfpReader(self.mapping, medium_maps=self.medium_maps, default_plex=self.default_plex,
                         progress=progress)

    def sniff(self, head: bytes) -> bool:
        # 0x5A, a length of at least 8, class D3
        return len(head) >= 9 and head[0] == 0x5A and head[3] == 0xD3 and (head[1] << 8 | head[2]) >= 8

    def layout(self, path: Path, *, detail: bool = False, lenient: bool = False) -> _Layout:
        return _walk(Path(path), medium_maps=self.medium_maps, default_plex=self.default_plex,
                     mapping=self.mapping, detail=detail, lenient=lenient, progress=self.progress)

    def index(self, path: Path, *, job_id: str, lenient: bool = False,
              sidecar: Sequence[Any] | None = None) -> StreamIndex:
        """`sidecar`: index entries written beside the stream (controller.streams.sidecar); they fill
        in what the TLEs leave out, and must agree with the stream on each piece's pages."""
        # hundreds of thousands of small objects and no cycles: the cyclic collector only slows this
        collecting = gc.isenabled()
        gc.disable()
        try:
            mapping = self.mapping
            if sidecar:  # the index file may carry the postal codes: check them after merging
                mapping = dataclasses.replace(mapping, require_postal_code=False)
            idx = self._index(path, job_id=job_id, lenient=lenient, mapping=mapping)
        finally:
            if collecting:
                gc.enable()
        if sidecar:
            from controller.streams.sidecar import apply_sidecar
            idx = apply_sidecar(idx, sidecar, lenient=lenient)
            if self.mapping.require_postal_code:
                idx = _require_postal(idx, lenient)
        return idx

    def _index(self, path: Path, *, job_id: str, lenient: bool, mapping: TleMapping) -> StreamIndex:
        spath = str(path)
        sink = _IndexSink(_Roles(mapping), job_id, spath, lenient)
        lay = _walk(Path(path), medium_maps=self.medium_maps, default_plex=self.default_plex, mapping=mapping,
                    detail=False, lenient=lenient, progress=self.progress, sink=sink)
        quarantined: list[Quarantined] = []
        for off in lay.loose_pages:
            if not lenient:
                raise StreamError("page outside any named page group: no mail piece holds it", path=spath, offset=off)
            quarantined.append(Quarantined("page outside any named page group", offset=off))
        quarantined += sink.quarantined
        if lay.damage is not None:
            g = lay.damage_group
            quarantined.append(Quarantined(
                f"stream damaged at byte {lay.damage.offset}: {lay.damage.message}; the "
                f"{lay.size - lay.damage.offset} bytes from there were not read",
                piece_id=_group_label(g, mapping) if g else None, offset=lay.damage.offset))
        logger.info("%s: %d structured fields, %d pages, %d pieces, %d quarantined",
                    spath, lay.fields, lay.pages, len(sink.pieces), len(quarantined))
        return StreamIndex(path=spath, format=StreamFormat.AFP, job_id=job_id, pages=lay.pages, sheets=lay.sheets,
                           pieces=tuple(sink.pieces), quarantined=tuple(quarantined), spans=sink.spans)


def _bare(exc: StreamError) -> str:
    """The message of a StreamError without the location it prefixes (a Quarantined keeps that apart)."""
    where = [str(x) for x in (exc.path,) if x]
    where += [f"byte {exc.offset}"] if exc.offset is not None else []
    where += [f"page {exc.page}"] if exc.page is not None else []
    where += [f"piece {exc.piece_id}"] if exc.piece_id is not None else []
    prefix = ", ".join(where) + ": "
    text = str(exc)
    return text[len(prefix):] if where and text.startswith(prefix) else text


def _require_postal(idx: StreamIndex, lenient: bool) -> StreamIndex:
    missing = [p for p in idx.pieces if not p.postal_code]
    if not missing:
        return idx
    if not lenient:
        p = missing[0]
        raise StreamError("the piece has no postal code (neither a TLE nor the index file gives one)",
                          path=idx.path, offset=idx.spans.get(p.piece_id, (None,))[0], piece_id=p.piece_id)
    gone = {p.piece_id for p in missing}
    return dataclasses.replace(
        idx, pieces=tuple(p for p in idx.pieces if p.piece_id not in gone),
        quarantined=idx.quarantined + tuple(Quarantined("the piece has no postal code", piece_id=p.piece_id,
                                                        offset=idx.spans.get(p.piece_id, (None,))[0])
                                            for p in missing),
        spans={k: v for k, v in idx.spans.items() if k not in gone})


def read_stamps(path: Path, reader: AfpReader | None = None) -> list[tuple[str, int, str, str]]:
    """Every stamped twin in a stream: (piece ID, page in piece (1-based), TLE name, value)."""
    reader = reader or AfpReader(TleMapping(require_postal_code=False))
    lay = reader.layout(Path(path), detail=True)
    out = []
    for g in lay.groups:
        pid = _group_label(g, reader.mapping)
        out.extend((pid, page, name, value) for page, name, value in g.stamps or ())
    return out


READER = AfpReader()


def __getattr__(name: str):  # WRITER lives in afp_writer, which imports this module
    if name == "WRITER":
        from controller.streams.afp_writer import WRITER
        return WRITER
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
