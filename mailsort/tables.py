"""Dated reference tables: labeling lists (L002-, L801-style), selection files, content identifiers, prices.

The caller reads the file; mailsort parses its text (it does no I/O). The format is CSV with a few
`# key: value` header lines before the column names:

    # table: L002-SYNTHETIC
    # title: 3-digit ZIP Code prefix groups (synthetic)
    # effective: 2026-01-01
    # expires: 2027-06-30
    zip3,destination,city,state,label_zip
    300,300,SYNTHVILLE,GA,30000

`table`, `effective` and `expires` are required: a table used outside its window is refused, naming it
and the date.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Iterable, Mapping

from mailsort.errors import TableError, TableExpiredError

__all__ = ["DatedTable", "PriceTable", "parse_table", "parse_price_table", "check_dates"]


@dataclass(frozen=True, slots=True)
class DatedTable:
    name: str
    title: str
    effective: dt.date
    expires: dt.date
    columns: tuple[str, ...]
    rows: tuple[Mapping[str, str], ...]
    synthetic: bool = False
    row_lines: tuple[int, ...] = ()  # the file line of each row, for error messages

    def check(self, on: dt.date) -> None:
        if on > self.expires:
            raise TableExpiredError(f"expired on {self.expires.isoformat()} (mailing date {on.isoformat()})",
                                    table=self.name)
        if on < self.effective:
            raise TableExpiredError(
                f"not effective until {self.effective.isoformat()} (mailing date {on.isoformat()})", table=self.name)

    def index(self, key: str) -> dict[str, Mapping[str, str]]:
        """Rows by the value of column `key`; a repeated key is an error naming the table and line."""
        out: dict[str, Mapping[str, str]] = {}
        for n, row in enumerate(self.rows):
            value = row[key]
            if value in out:
                raise TableError(f"{key} {value!r} appears twice", table=self.name, line=_line_of(self, n))
            out[value] = row
        return out

    def describe(self) -> str:
        tag = " (synthetic)" if self.synthetic and "SYNTHETIC" not in self.name.upper() else ""
        return f"{self.name}{tag} ({self.effective.isoformat()} to {self.expires.isoformat()})"


def _line_of(table: DatedTable, row_number: int) -> int | None:
    return table.row_lines[row_number] if row_number < len(table.row_lines) else None


def _date(value: str, key: str, name: str, line: int) -> dt.date:
    try:
        return dt.date.fromisoformat(value.strip())
    except ValueError:
        raise TableError(f"header {key!r} must be a date YYYY-MM-DD, got {value.strip()!r}", table=name, line=line) from None


def parse_table(text: str, source: str, *, required: Iterable[str] = ()) -> DatedTable:
    """Parse a dated table's text; `source` names it in errors until its own `# table:` line is read."""
    header: dict[str, tuple[str, int]] = {}
    body_start = 0
    lines = text.splitlines()
    for n, line in enumerate(lines):
        stripped = line.strip()
        if not stripped:
            continue
        if stripped.startswith("#"):
            key, sep, value = stripped[1:].partition(":")
            if sep:
                header[key.strip().lower()] = (value.strip(), n + 1)
            continue
        body_start = n
        break
    else:
        raise TableError("no column header line after the '#' header", table=source)
    for key in ("table", "effective", "expires"):
        if key not in header:
            raise TableError(f"missing '# {key}:' header line", table=source)
    name = header["table"][0] or source
    effective = _date(header["effective"][0], "effective", name, header["effective"][1])
    expires = _date(header["expires"][0], "expires", name, header["expires"][1])
    if expires < effective:
        raise TableError(f"expires {expires.isoformat()} before it takes effect {effective.isoformat()}", table=name)
    reader = csv.reader(io.StringIO("\n".join(lines[body_start:])))
    columns = tuple(c.strip() for c in next(reader))
    missing = [c for c in required if c not in columns]
    if missing:
        raise TableError(f"missing column(s) {', '.join(missing)} (has {', '.join(columns)})", table=name,
                         line=body_start + 1)
    rows = []
    line_numbers = []
    for offset, record in enumerate(reader, start=1):
        if not record or not any(cell.strip() for cell in record) or record[0].lstrip().startswith("#"):
            continue
        if len(record) != len(columns):
            raise TableError(f"{len(record)} fields, the header has {len(columns)}", table=name,
                             line=body_start + 1 + offset)
        rows.append({c: cell.strip() for c, cell in zip(columns, record)})
        line_numbers.append(body_start + 1 + offset)
    synthetic = header.get("synthetic", ("no", 0))[0].lower() in ("yes", "true", "1")
    title = header.get("title", (name, 0))[0]
    return DatedTable(name, title, effective, expires, columns, tuple(rows), synthetic, tuple(line_numbers))


@dataclass(frozen=True, slots=True)
class PriceTable:
    table: DatedTable
    prices: Mapping[tuple[str, str], Decimal]  # (operator, price category) -> price per piece
    currencies: Mapping[str, str]  # operator -> currency code

    @property
    def name(self) -> str:
        return self.table.name

    def price(self, operator: str, category: str) -> Decimal:
        try:
            return self.prices[(operator, category)]
        except KeyError:
            raise TableError(f"no price for {operator} price category {category!r}", table=self.name) from None


def parse_price_table(text: str, source: str) -> PriceTable:
    """Columns `operator,price_category,price,currency`: a price per piece."""
    table = parse_table(text, source, required=("operator", "price_category", "price", "currency"))
    prices: dict[tuple[str, str], Decimal] = {}
    currencies: dict[str, str] = {}
    for n, row in enumerate(table.rows):
        key = (row["operator"], row["price_category"])
        where = f"{key[0]} {key[1]!r}"
        try:
            price = Decimal(row["price"])
        except InvalidOperation:
            raise TableError(f"price {row['price']!r} for {where} is not a number", table=table.name,
                             line=_line_of(table, n)) from None
        if not price.is_finite() or price < 0:
            raise TableError(f"price for {where} must be a non-negative number", table=table.name,
                             line=_line_of(table, n))
        if key in prices:
            raise TableError(f"{where} priced twice", table=table.name, line=_line_of(table, n))
        if currencies.setdefault(key[0], row["currency"]) != row["currency"]:
            raise TableError(f"{key[0]} priced in two currencies", table=table.name, line=_line_of(table, n))
        prices[key] = price
    return PriceTable(table, prices, currencies)


def check_dates(tables: Iterable[DatedTable], on: dt.date) -> None:
    for table in tables:
        table.check(on)
