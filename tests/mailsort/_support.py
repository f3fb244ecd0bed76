"""Shared helpers for the mailsort tests: the synthetic tables, read once."""

from __future__ import annotations

import datetime as dt
import functools
from pathlib import Path

from mailsort.operators import PostalOperator, make_operator, table_roles
from mailsort.tables import DatedTable, PriceTable, parse_price_table, parse_table

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "mailsort"
SYNTHETIC = FIXTURES / "synthetic"
MAILING_DATE = dt.date(2026, 11, 23)


@functools.cache
def synthetic_table(role: str) -> DatedTable:
    return parse_table((SYNTHETIC / f"{role}.csv").read_text(), role)


@functools.cache
def synthetic_prices() -> PriceTable:
    return parse_price_table((SYNTHETIC / "PRICES.csv").read_text(), "PRICES")


@functools.cache
def operator(name: str) -> PostalOperator:
    return make_operator(name, {role: synthetic_table(role) for role in table_roles(name)})
