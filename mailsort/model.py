"""mailsort's own types: what goes into a presort and what comes out. Frozen, slotted dataclasses.

Units are metric throughout (grams, millimetres); USPS minimums given in pounds are converted once in
the operator's rule set.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Mapping

from mailsort.imb import Imb, encode_imb

GRAMS_PER_POUND = 453.59237


@dataclass(frozen=True, slots=True)
class MailPiece:
    """One mail piece as the presort sees it."""

    piece_id: str
    postcode: str  # USPS: the 11-digit delivery point (ZIP+4+DPC); Deutsche Post: PLZ; Royal Mail: postcode
    weight_g: float = 28.0
    thickness_mm: float = 0.5


@dataclass(frozen=True, slots=True)
class PresortOptions:
    mailing_date: dt.date
    overflow: bool = False  # let a 5-digit/3-digit remainder under the minimum ride in the next tray
    extended_trays: bool = False  # USPS: extended managed mail trays instead of 2-ft trays
    mailer_id: str = ""  # 6 or 9 digits: IMb tracking code and the tray barcode
    service_type: str = "300"  # IMb service type identifier (STID)
    barcode_id: str = "00"  # IMb barcode identifier
    serial_start: int = 0  # IMb serial of the first piece in sort order; the rest follow in sequence
    tray_serial_start: int = 1
    origin: str = ""  # tray label line 3: the mailer and its city
    origin_zip3: str = ""  # USPS: ZIP3 of the entry office, whose AADC mixed-AADC trays are labelled to
    origin_postcode: str = ""  # Deutsche Post: PLZ of the posting office, whose Leitbereich has its own minimum


@dataclass(frozen=True, slots=True)
class SortLevel:
    """One rung of an operator's sort hierarchy, finest first.

    A piece's destination at this level is `table[key[:prefix]]` (or the prefix itself without a table;
    or `fixed` for a level with one destination). A destination makes containers when its pieces reach
    `min_pieces` (or `min_weight_g`, when that is set) or fill a container; what does not stays for the
    next level.
    """

    code: str  # "5D"
    name: str  # "5-digit"
    price_category: str
    prefix: int = 0
    table: Mapping[str, str] | None = None
    fixed: str | None = None
    min_pieces: int = 0
    min_weight_g: float = 0.0
    overflow: bool = False  # a remainder under the minimum may ride in the next level's container
    # True: the minimum holds for each container, and a full container qualifies (USPS trays); False: it holds
    # for the destination's pieces together, however many containers they fill (Dialogpost, Mailsort)
    min_per_container: bool = True
    min_mailing_pieces: int = 0  # the level applies only to a mailing at least this big
    missing: str = ""  # reason template for a prefix the table lacks, with {prefix}


@dataclass(frozen=True, slots=True)
class ContainerType:
    code: str  # "2FT"
    name: str  # "2-ft letter tray"
    capacity_mm: float  # usable length of letters it holds, standing on edge


@dataclass(frozen=True, slots=True)
class TrayLabel:
    destination: str  # line 1
    content: str  # line 2: class, shape, sort level
    origin: str  # line 3
    barcode_data: str | None = None  # USPS: the 24-digit Intelligent Mail tray barcode data

    @property
    def lines(self) -> tuple[str, str, str]:
        return (self.destination, self.content, self.origin)


@dataclass(frozen=True, slots=True)
class SortContainer:
    """A tray (or box, or bag): a contiguous run of the sort sequence."""

    container_id: str
    sequence: int  # dispatch order, 0-based
    level: str  # sort level code
    level_name: str
    destination: str  # destination key at that level (ZIP5, 3-digit group, AADC code...)
    container_type: ContainerType
    first: int  # sort sequence of its first piece
    pieces: int
    native_pieces: int  # pieces sorted at this level (the rest ride in as overflow)
    thickness_mm: float
    weight_g: float
    full: bool  # closed because the next piece did not fit
    price_category: str
    label: TrayLabel


@dataclass(frozen=True, slots=True)
class Overflow:
    """A remainder under the minimum that rides in a coarser container and keeps its finer price."""

    level: str
    destination: str
    pieces: int
    price_category: str
    containers: tuple[str, ...]  # the containers its pieces ended up in


@dataclass(frozen=True, slots=True)
class SortedPiece:
    sequence: int  # 0-based position in the sort order
    piece_id: str
    postcode: str
    container_id: str
    level: str
    price_category: str
    reason: str | None = None  # why the piece sits coarser than the finest level, when data said so
    imb_tracking: str | None = None
    imb_routing: str = ""

    @property
    def imb(self) -> Imb | None:
        if self.imb_tracking is None:
            return None
        return encode_imb(self.imb_tracking, self.imb_routing)


@dataclass(frozen=True, slots=True)
class SummaryRow:
    level: str
    level_name: str
    price_category: str
    pieces: int
    containers: int
    unit_price: Decimal | None
    postage: Decimal | None


@dataclass(frozen=True, slots=True)
class PostageSummary:
    operator: str
    title: str
    mailing_date: dt.date
    rows: tuple[SummaryRow, ...]
    pieces: int
    containers: int
    weight_g: float
    postage: Decimal | None
    price_table: str | None
    findings: tuple[str, ...] = ()
    overflows: tuple[Overflow, ...] = ()
    tables: tuple[str, ...] = field(default=())

    def statement(self) -> str:
        from mailsort.summary import format_statement

        return format_statement(self)
