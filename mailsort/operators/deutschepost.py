"""Deutsche Post Dialogpost letters, sorted by postcode (PLZ).

Dialogpost needs one of these minimum quantities, each sorted by postcode (Deutsche Post's Dialogpost
FAQ): 4,000 items in the mailing; or 250 items for one Leitregion (the first two PLZ digits); or 50 items
for the Leitbereich of the posting office (a PLZ range, such as Bonn's 53000-53359). As a hierarchy,
finest first: the posting office's Leitbereich (50, when the origin PLZ is given), then each Leitregion
(250), then the rest sorted by postcode when the mailing has 4,000 sortable items. A minimum holds for
the destination as a whole, not for each box. What meets none is residue: it does not go as Dialogpost
(the mailer tops it up or posts it as letters), each piece with its reason. The Leitbereich ranges are a
dated table (role DP-LEITBEREICHE). Containers: one letter box type; no piece barcode.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping, Sequence

from mailsort.errors import TableError
from mailsort.model import ContainerType, PresortOptions, SortLevel, TrayLabel
from mailsort.tables import DatedTable

BOX = ContainerType("BOX", "Briefbehälter", 400.0)
CATEGORY = "Dialogpost"

LEITREGION = SortLevel("LR", "Leitregion", CATEGORY, prefix=2, min_pieces=250, min_per_container=False)
SORTED_REST = SortLevel("PLZ", "PLZ-sortiert", CATEGORY, fixed="PLZ", min_mailing_pieces=4000)


@dataclass(frozen=True, slots=True)
class DialogpostLetters:
    leitbereiche: DatedTable
    ranges: tuple[tuple[int, int, str], ...]  # (first PLZ, last PLZ, Leitbereich name)
    name: str = "dp-dialogpost"
    title: str = "Deutsche Post Dialogpost letters"
    residue: SortLevel = SortLevel("UNS", "nicht Dialogpost", "Brief (nicht Dialogpost)", fixed="UNSORTIERT")
    mailing_minimum: tuple[int, float] = (50, 0.0)  # the smallest of the three ways to qualify

    def tables(self) -> tuple[DatedTable, ...]:
        return (self.leitbereiche,)

    def sort_levels(self, options: PresortOptions) -> tuple[SortLevel, ...]:
        origin = options.origin_postcode.strip()
        if not (len(origin) == 5 and origin.isdigit() and origin.isascii()):
            return (LEITREGION, SORTED_REST)
        plz = int(origin)
        for first, last, name in self.ranges:
            if first <= plz <= last:
                table = {f"{p:05d}": name for p in range(first, last + 1)}
                own = SortLevel("LB", "Leitbereich", CATEGORY, prefix=5, table=table, min_pieces=50,
                                min_per_container=False)
                return (own, LEITREGION, SORTED_REST)
        return (LEITREGION, SORTED_REST)

    def container_types(self, options: PresortOptions) -> tuple[ContainerType, ContainerType | None]:
        return BOX, None

    def sort_keys(self, postcodes: Sequence[str]) -> tuple[list[str | None], dict[int, str]]:
        keys: list[str | None] = []
        reasons: dict[int, str] = {}
        for i, raw in enumerate(postcodes):
            plz = raw.strip()
            if plz[:2].upper() == "D-":
                plz = plz[2:]
            if len(plz) == 5 and plz.isdigit() and plz.isascii() and plz[:2] != "00":
                keys.append(plz)
            else:
                keys.append(None)
                reasons[i] = f"Postleitzahl {raw!r} is not five digits 01000-99999"
        return keys, reasons

    def label(self, level: SortLevel, destination: str, container_type: ContainerType, serial: int,
              options: PresortOptions) -> TrayLabel:
        line = {"LB": f"Leitbereich {destination}", "LR": f"Leitregion {destination}",
                "PLZ": "PLZ-sortiert"}.get(level.code, "nicht Dialogpost")
        return TrayLabel(line, f"Dialogpost Brief · Behälter {serial}", options.origin)

    def piece_barcode(self, sequence: int, postcode: str, options: PresortOptions) -> tuple[str, str] | None:
        return None


def dialogpost(tables: Mapping[str, DatedTable]) -> DialogpostLetters:
    table = tables["DP-LEITBEREICHE"]
    ranges = []
    for n, row in enumerate(table.rows):
        for column in ("leitbereich", "first_plz", "last_plz"):
            if column not in row:
                raise TableError(f"missing column {column}", table=table.name)
        first, last = row["first_plz"], row["last_plz"]
        if not all(len(v) == 5 and v.isdigit() for v in (first, last)) or first > last:
            where = table.row_lines[n] if n < len(table.row_lines) else None
            raise TableError(f"Leitbereich {row['leitbereich']!r}: range {first}-{last} is not two PLZ in order",
                             table=table.name, line=where)
        ranges.append((int(first), int(last), row["leitbereich"]))
    ranges.sort()
    for (a1, b1, n1), (a2, _, n2) in zip(ranges, ranges[1:]):
        if a2 <= b1:
            raise TableError(f"Leitbereiche {n1!r} and {n2!r} overlap", table=table.name)
    return DialogpostLetters(table, tuple(ranges))
