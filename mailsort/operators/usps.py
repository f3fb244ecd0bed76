"""USPS automation letters: First-Class Mail and USPS Marketing Mail.

Sort levels 5-digit, 3-digit (L002-style groupings), AADC (L801-style map) and mixed AADC; 150-piece
minimums for 5-digit and 3-digit trays (Marketing Mail: 150 pieces or 15 lb), a full tray qualifying on
its own; the optional overflow rule for a remainder under the minimum. Trays: 2-ft filled first, the
last one of a destination a 1-ft tray when the rest fits in one (so never two 1-ft trays to one
destination); extended managed mail trays (EMM) instead of 2-ft ones on request. Automation needs an
11-digit delivery point in the IMb; a piece without one goes to the residue group with its reason.
Mailing minimums: 500 pieces First-Class, 200 pieces or 50 lb Marketing Mail.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping, Sequence

from mailsort.errors import ImbError, RulesError, TableError
from mailsort.imb import parse_tracking
from mailsort.model import GRAMS_PER_POUND, ContainerType, PresortOptions, SortLevel, TrayLabel
from mailsort.tables import DatedTable

TRAY_1FT = ContainerType("1FT", "1-ft letter tray", 292.0)  # 11.5 in of letters
TRAY_2FT = ContainerType("2FT", "2-ft letter tray", 597.0)  # 23.5 in
TRAY_EMM = ContainerType("EMM", "extended managed mail tray", 622.0)  # 24.5 in

_DIGITS = frozenset("0123456789")


@dataclass(frozen=True, slots=True)
class _Place:
    city: str
    state: str
    label_zip: str


@dataclass(frozen=True, slots=True)
class UspsLetters:
    name: str
    title: str
    mail_class: str  # "FCM" or "MKT", the content line's class
    levels: tuple[SortLevel, ...]
    residue: SortLevel
    mailing_minimum: tuple[int, float]
    three_digit: DatedTable
    aadc: DatedTable
    content_ids: DatedTable
    places3: Mapping[str, _Place]  # 3-digit destination -> label place
    places_aadc: Mapping[str, _Place]  # AADC code -> label place
    aadc_of_zip3: Mapping[str, str]
    cins: Mapping[str, Mapping[str, str]]  # level code -> content-identifier row

    def tables(self) -> tuple[DatedTable, ...]:
        return (self.three_digit, self.aadc, self.content_ids)

    def sort_levels(self, options: PresortOptions) -> tuple[SortLevel, ...]:
        return self.levels

    def container_types(self, options: PresortOptions) -> tuple[ContainerType, ContainerType | None]:
        return (TRAY_EMM, None) if options.extended_trays else (TRAY_2FT, TRAY_1FT)

    def sort_keys(self, postcodes: Sequence[str]) -> tuple[list[str | None], dict[int, str]]:
        # the usual case, every delivery point 11 ASCII digits, is checked in C over one joined string
        joined = "".join(postcodes)
        if set(map(len, postcodes)) <= {11} and joined.isdigit() and joined.isascii():
            return list(postcodes), {}
        keys: list[str | None] = [p if (len(p) == 11 and p.isdigit() and p.isascii()) else None for p in postcodes]
        return keys, {i: _why_unusable(postcodes[i]) for i, k in enumerate(keys) if k is None}

    def label(self, level: SortLevel, destination: str, container_type: ContainerType, serial: int,
              options: PresortOptions) -> TrayLabel:
        if level.code == "5D":
            place = self.places3.get(self.three_digit_of(destination[:3]) or "") or \
                self.places_aadc.get(self.aadc_of_zip3.get(destination[:3], ""))
            line = f"{place.city} {place.state} {destination}" if place else f"ZIP {destination}"
            zip5 = destination
        elif level.code == "3D":
            place = self.places3[destination]
            line, zip5 = f"{place.city} {place.state} {destination[:3]}", place.label_zip
        elif level.code == "AADC":
            place = self.places_aadc[destination]
            line, zip5 = f"AADC {place.city} {place.state} {place.label_zip[:3]}", place.label_zip
        else:  # mixed AADC and residue: to the origin's AADC
            origin = self.places_aadc.get(self.aadc_of_zip3.get(options.origin_zip3, ""))
            prefix = "MXD" if level.code == "MXD" else "RES"
            if origin is None:
                line, zip5 = f"{prefix} ORIGIN AADC (origin ZIP3 {options.origin_zip3 or 'not given'})", None
            else:
                line, zip5 = f"{prefix} {origin.city} {origin.state} {origin.label_zip[:3]}", origin.label_zip
        cin = self.cins.get(level.code)
        if cin is None:
            raise TableError(f"no content identifier for {self.name} level {level.code}", table=self.content_ids.name)
        content = cin["content"] + (" EMM" if container_type.code == "EMM" else "")
        barcode = None
        if zip5 is not None and options.mailer_id:
            barcode = zip5 + cin["cin"] + cin["processing_code"] + _mailer_serial(options.mailer_id, serial)
        return TrayLabel(line, content, options.origin, barcode)

    def three_digit_of(self, zip3: str) -> str | None:
        return self.levels[1].table.get(zip3) if self.levels[1].table is not None else None

    def piece_barcode(self, sequence: int, postcode: str, options: PresortOptions) -> tuple[str, str] | None:
        if not options.mailer_id:
            return None
        mid = options.mailer_id
        if not (mid.isdigit() and mid.isascii()) or len(mid) not in (6, 9) or (len(mid) == 9) != (mid[0] == "9"):
            raise ImbError("mailer ID", f"{mid!r}: 6 digits starting 0-8, or 9 digits starting with 9")
        width = 15 - len(mid)
        serial = options.serial_start + sequence
        if serial >= 10**width:
            raise ImbError("serial", f"{serial} does not fit the {width} digits a {len(mid)}-digit mailer ID leaves")
        tracking = f"{options.barcode_id}{options.service_type}{mid}{serial:0{width}d}"
        parse_tracking(tracking)  # refuses a bad barcode ID or service type, naming it
        routing = postcode if (len(postcode) in (5, 9, 11) and postcode.isdigit() and postcode.isascii()) else ""
        return tracking, routing


def _mailer_serial(mid: str, serial: int) -> str:
    width = 13 - len(mid)
    if serial >= 10**width:
        raise RulesError(f"tray serial {serial} does not fit the {width} digits left by a {len(mid)}-digit mailer ID")
    return f"{mid}{serial:0{width}d}"


def _why_unusable(postcode: str) -> str:
    if not postcode:
        return "no delivery point: automation letters need an 11-digit ZIP+4+DPC"
    if not (postcode.isdigit() and postcode.isascii()):
        return f"delivery point {postcode!r} is not all digits"
    return f"delivery point {postcode!r} has {len(postcode)} digits; automation letters need 11 (ZIP+4+DPC)"


def _places(table: DatedTable, key: str) -> dict[str, _Place]:
    out: dict[str, _Place] = {}
    for row in table.rows:
        place = _Place(row["city"], row["state"], row["label_zip"])
        if not (len(place.label_zip) == 5 and set(place.label_zip) <= _DIGITS):
            raise TableError(f"label_zip {place.label_zip!r} of {row[key]} is not 5 digits", table=table.name)
        seen = out.get(row[key])
        if seen is not None and seen != place:
            raise TableError(f"{key} {row[key]!r} has two different label places", table=table.name)
        out[row[key]] = place
    return out


def _zip3_map(table: DatedTable, column: str) -> dict[str, str]:
    out = {}
    for zip3, row in table.index("zip3").items():
        if not (len(zip3) == 3 and set(zip3) <= _DIGITS):
            raise TableError(f"zip3 {zip3!r} is not 3 digits", table=table.name)
        out[zip3] = row[column]
    return out


def _build(name: str, title: str, mail_class: str, tables: Mapping[str, DatedTable], *, min_weight_g: float,
           mailing_minimum: tuple[int, float], residue_category: str) -> UspsLetters:
    l002, l801, cin = tables["L002"], tables["L801"], tables["CIN"]
    for t, cols in ((l002, ("zip3", "destination", "city", "state", "label_zip")),
                    (l801, ("zip3", "aadc", "city", "state", "label_zip")),
                    (cin, ("operator", "level", "cin", "processing_code", "content"))):
        missing = [c for c in cols if c not in t.columns]
        if missing:
            raise TableError(f"missing column(s) {', '.join(missing)}", table=t.name)
    three = _zip3_map(l002, "destination")
    aadc = _zip3_map(l801, "aadc")
    cins = {row["level"]: row for row in cin.rows if row["operator"] == name}
    for code, row in cins.items():
        if not (len(row["cin"]) == 3 and len(row["processing_code"]) == 3
                and set(row["cin"] + row["processing_code"]) <= _DIGITS):
            raise TableError(f"{name} {code}: cin and processing_code must be 3 digits each", table=cin.name)
    levels = (
        SortLevel("5D", "5-digit", "5-digit", prefix=5, min_pieces=150, min_weight_g=min_weight_g, overflow=True),
        SortLevel("3D", "3-digit", "3-digit", prefix=3, table=three, min_pieces=150, min_weight_g=min_weight_g,
                  overflow=True, missing=f"ZIP3 {{prefix}} not in {l002.name}"),
        SortLevel("AADC", "AADC", "AADC", prefix=3, table=aadc, missing=f"ZIP3 {{prefix}} not in {l801.name}"),
        SortLevel("MXD", "mixed AADC", "mixed AADC", fixed="MXD"),
    )
    residue = SortLevel("RES", "residue", residue_category, fixed="RESIDUE")
    return UspsLetters(name, title, mail_class, levels, residue, mailing_minimum, l002, l801, cin,
                       _places(l002, "destination"), _places(l801, "aadc"), aadc, cins)


def first_class(tables: Mapping[str, DatedTable]) -> UspsLetters:
    return _build("usps-fcm", "First-Class Mail automation letters", "FCM", tables, min_weight_g=0.0,
                  mailing_minimum=(500, 0.0), residue_category="single-piece")


def marketing(tables: Mapping[str, DatedTable]) -> UspsLetters:
    return _build("usps-mkt", "USPS Marketing Mail automation letters", "MKT", tables,
                  min_weight_g=15 * GRAMS_PER_POUND, mailing_minimum=(200, 50 * GRAMS_PER_POUND), residue_category="nonautomation")
