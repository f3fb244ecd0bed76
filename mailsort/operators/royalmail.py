"""A Royal Mail-style Direct/Residue selection sort, driven by a selection table.

The selection file (licensed in real life; a synthetic one ships in fixtures/) maps each postcode
sector to a direct selection (a delivery office) and a residue selection (a mail centre). A direct
selection with at least 25 items gets its own trays; the rest go to their residue selection; a piece
whose sector is in no selection, or whose postcode does not parse, is unsorted, with its reason.

Sort key: the postcode with its outward code padded to four characters ("M1 1AA" -> "M1  1AA"), so
the sector is always the first five characters and key order groups sectors and districts.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Mapping, Sequence

from mailsort.errors import TableError
from mailsort.model import ContainerType, PresortOptions, SortLevel, TrayLabel
from mailsort.tables import DatedTable

TRAY = ContainerType("TRAY", "letter tray", 480.0)
_POSTCODE = re.compile(r"([A-Z]{1,2}[0-9][A-Z0-9]?)([0-9][A-Z]{2})")
_SECTOR = re.compile(r"([A-Z]{1,2}[0-9][A-Z0-9]?) ?([0-9])")


def normalise_postcode(raw: str) -> str | None:
    m = _POSTCODE.fullmatch(raw.replace(" ", "").upper())
    return None if m is None else m.group(1).ljust(4) + m.group(2)


@dataclass(frozen=True, slots=True)
class SelectionSort:
    selections: DatedTable
    levels: tuple[SortLevel, ...]
    names: Mapping[str, str]  # selection code -> name
    name: str = "rm-mailsort"
    title: str = "Royal Mail-style letters, Direct/Residue selections"
    residue: SortLevel = SortLevel("UNS", "unsorted", "Unsorted", fixed="UNSORTED")
    mailing_minimum: tuple[int, float] = (4000, 0.0)

    def tables(self) -> tuple[DatedTable, ...]:
        return (self.selections,)

    def sort_levels(self, options: PresortOptions) -> tuple[SortLevel, ...]:
        return self.levels

    def container_types(self, options: PresortOptions) -> tuple[ContainerType, ContainerType | None]:
        return TRAY, None

    def sort_keys(self, postcodes: Sequence[str]) -> tuple[list[str | None], dict[int, str]]:
        keys = [normalise_postcode(p) for p in postcodes]
        reasons = {i: f"postcode {postcodes[i]!r} does not parse as a UK postcode"
                   for i, k in enumerate(keys) if k is None}
        return keys, reasons

    def label(self, level: SortLevel, destination: str, container_type: ContainerType, serial: int,
              options: PresortOptions) -> TrayLabel:
        line = self.names.get(destination, destination)
        kind = {"DIR": "DIRECT", "RES": "RESIDUE"}.get(level.code, "UNSORTED")
        return TrayLabel(f"{line} ({destination})" if destination in self.names else line,
                         f"LETTERS {kind} · tray {serial}", options.origin)

    def piece_barcode(self, sequence: int, postcode: str, options: PresortOptions) -> tuple[str, str] | None:
        return None


def selection_sort(tables: Mapping[str, DatedTable]) -> SelectionSort:
    table = tables["RM-SELECTIONS"]
    for column in ("sector", "direct", "direct_name", "residue", "residue_name"):
        if column not in table.columns:
            raise TableError(f"missing column {column}", table=table.name)
    direct: dict[str, str] = {}
    residue: dict[str, str] = {}
    names: dict[str, str] = {}
    for row in table.rows:
        m = _SECTOR.fullmatch(row["sector"].upper())
        if m is None:
            raise TableError(f"sector {row['sector']!r} is not a postcode sector like 'BS1 4'", table=table.name)
        sector = m.group(1).ljust(4) + m.group(2)
        if sector in direct:
            raise TableError(f"sector {row['sector']!r} appears twice", table=table.name)
        direct[sector], residue[sector] = row["direct"], row["residue"]
        names[row["direct"]], names[row["residue"]] = row["direct_name"], row["residue_name"]
    levels = (
        SortLevel("DIR", "Direct", "Direct", prefix=5, table=direct, min_pieces=25, min_per_container=False,
                  missing=f"sector {{prefix}} not in {table.name}"),
        SortLevel("RES", "Residue", "Residue", prefix=5, table=residue),
    )
    return SelectionSort(table, levels, names)
