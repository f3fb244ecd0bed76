"""Postal operators: the plug-in shape and the ones we ship, picked by name and imported lazily.

An operator is a rule set: a sort-key hierarchy (`sort_levels`, finest first, each with its destination
table, minimums and overflow rule), its containers, the residue group, its mailing minimum, how a
container is labelled and what barcode a piece carries, and the dated reference tables it was built
from. The presort engine (`mailsort.presort`) is the same for all of them.
"""

from __future__ import annotations

import importlib
from typing import Mapping, Protocol, Sequence

from mailsort.errors import RulesError
from mailsort.model import ContainerType, PresortOptions, SortLevel, TrayLabel
from mailsort.tables import DatedTable

__all__ = ["PostalOperator", "OPERATORS", "make_operator", "table_roles"]


class PostalOperator(Protocol):
    name: str  # "usps-fcm"
    title: str  # "First-Class Mail automation letters"
    residue: SortLevel  # where pieces no level takes go (one destination), each with its reason
    mailing_minimum: tuple[int, float]  # pieces, or weight in grams (0: no weight alternative)

    def tables(self) -> tuple[DatedTable, ...]: ...

    def sort_levels(self, options: PresortOptions) -> tuple[SortLevel, ...]:
        """The sort-key hierarchy, finest first (it may depend on the posting office)."""
        ...

    def container_types(self, options: PresortOptions) -> tuple[ContainerType, ContainerType | None]:
        """The container filled first, and the smaller one a destination's last container may use."""
        ...

    def sort_keys(self, postcodes: Sequence[str]) -> tuple[list[str | None], dict[int, str]]:
        """Each postcode's fixed-width sort key, or None with a reason (keyed by position) when unusable."""
        ...

    def label(self, level: SortLevel, destination: str, container_type: ContainerType, serial: int,
              options: PresortOptions) -> TrayLabel: ...

    def piece_barcode(self, sequence: int, postcode: str, options: PresortOptions) -> tuple[str, str] | None:
        """(IMb tracking code, routing code) for the piece at `sequence`, or None when it carries none."""
        ...


# name -> (module, factory, table roles the factory needs)
OPERATORS: Mapping[str, tuple[str, str, tuple[str, ...]]] = {
    "usps-fcm": ("mailsort.operators.usps", "first_class", ("L002", "L801", "CIN")),
    "usps-mkt": ("mailsort.operators.usps", "marketing", ("L002", "L801", "CIN")),
    "dp-dialogpost": ("mailsort.operators.deutschepost", "dialogpost", ("DP-LEITBEREICHE",)),
    "rm-mailsort": ("mailsort.operators.royalmail", "selection_sort", ("RM-SELECTIONS",)),
}


def table_roles(name: str) -> tuple[str, ...]:
    try:
        return OPERATORS[name][2]
    except KeyError:
        raise RulesError(f"unknown postal operator {name!r} (known: {', '.join(OPERATORS)})") from None


def make_operator(name: str, tables: Mapping[str, DatedTable]) -> PostalOperator:
    """Build operator `name` from its reference tables, keyed by role (see `table_roles`)."""
    roles = table_roles(name)
    missing = [r for r in roles if r not in tables]
    if missing:
        raise RulesError(f"operator {name}: missing reference table(s) {', '.join(missing)}")
    module, factory, _ = OPERATORS[name]
    return getattr(importlib.import_module(module), factory)({r: tables[r] for r in roles})
