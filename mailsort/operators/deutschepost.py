"""Deutsche Post Dialogpost letters, sorted by postcode (PLZ).

Our reading of the sort rules: a container per Leitbereich (the first three PLZ digits) with at least 50
items; what is left, a container per Leitregion (the first two digits) with at least 250 items; what is
left, sorted by postcode, allowed when the mailing has at least 4,000 items. Anything else (a smaller
mailing's rest, or a piece without a valid PLZ) is the unsorted residue, each piece with its reason.
Containers: one letter box type; there is no piece barcode here (addresses carry the PLZ).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping, Sequence

from mailsort.model import ContainerType, PresortOptions, SortLevel, TrayLabel
from mailsort.tables import DatedTable

BOX = ContainerType("BOX", "Briefbehälter", 400.0)

LEVELS = (
    SortLevel("LB", "Leitbereich", "Leitbereich", prefix=3, min_pieces=50, min_per_container=False),
    SortLevel("LR", "Leitregion", "Leitregion", prefix=2, min_pieces=250, min_per_container=False),
    SortLevel("PLZ", "PLZ-sortiert", "PLZ-sortiert", fixed="PLZ", min_mailing_pieces=4000),
)


@dataclass(frozen=True, slots=True)
class DialogpostLetters:
    name: str = "dp-dialogpost"
    title: str = "Deutsche Post Dialogpost letters"
    levels: tuple[SortLevel, ...] = LEVELS
    residue: SortLevel = SortLevel("UNS", "unsortiert", "unsortiert", fixed="UNSORTIERT")
    mailing_minimum: tuple[int, float] = (200, 0.0)

    def tables(self) -> tuple[DatedTable, ...]:
        return ()

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
        if level.code in ("LB", "LR"):
            line = f"{level.name} {destination}"
        elif level.code == "PLZ":
            line = "PLZ-sortiert (Restmenge)"
        else:
            line = "unsortiert"
        return TrayLabel(line, f"Dialogpost Brief · Behälter {serial}", options.origin)

    def piece_barcode(self, sequence: int, postcode: str, options: PresortOptions) -> tuple[str, str] | None:
        return None


def dialogpost(tables: Mapping[str, DatedTable]) -> DialogpostLetters:
    return DialogpostLetters()
