"""The postage summary: pieces and containers per sort level and price category, priced from a table.

Overflow pieces are counted in the row of their kept (finer) price category under the level of the
container they ride in, with no containers of their own, as a mailer's statement would show them.
"""

from __future__ import annotations

import math
from collections import Counter
from decimal import Decimal

from mailsort.model import PostageSummary, SummaryRow
from mailsort.presort import SortResult
from mailsort.tables import PriceTable

__all__ = ["postage_summary", "format_statement"]


def postage_summary(result: SortResult, prices: PriceTable | None = None) -> PostageSummary:
    if prices is not None:
        prices.table.check(result.options.mailing_date)
    level_names: dict[str, str] = {}
    pieces: Counter[tuple[str, str]] = Counter()
    containers: Counter[tuple[str, str]] = Counter()
    for c in result.containers:
        level_names[c.level] = c.level_name
        containers[(c.level, c.price_category)] += 1
        pieces[(c.level, c.price_category)] += c.native_pieces
    for seq, category in result.price_overrides.items():
        pieces[(result.container_at(seq).level, category)] += 1
    level_rank = {code: k for k, code in enumerate(dict.fromkeys(c.level for c in result.containers))}
    rows = []
    total: Decimal | None = Decimal(0) if prices is not None else None
    for level, category in sorted(pieces, key=lambda lc: (level_rank[lc[0]], lc[1] != level_names[lc[0]], lc[1])):
        unit = prices.price(result.operator, category) if prices is not None else None
        amount = (unit * pieces[(level, category)]).quantize(Decimal("0.01")) if unit is not None else None
        if total is not None and amount is not None:
            total += amount
        rows.append(SummaryRow(level, level_names[level], category, pieces[(level, category)],
                               containers[(level, category)], unit, amount))
    weight = math.fsum(c.weight_g for c in result.containers)
    tables = result.tables + ((prices.table.describe(),) if prices is not None else ())
    return PostageSummary(result.operator, result.title, result.options.mailing_date, tuple(rows), len(result),
                          len(result.containers), weight, total,
                          prices.name if prices is not None else None, result.findings, result.overflows, tables)


def format_statement(summary: PostageSummary, currency: str = "") -> str:
    lw = max([10, *(len(r.level_name) for r in summary.rows)]) + 2
    cw = max([14, *(len(r.price_category) for r in summary.rows)]) + 2
    width = lw + cw + 10 + 8 + 10 + 14
    out = [
        "=" * width,
        f"POSTAGE STATEMENT  {summary.title} ({summary.operator})",
        f"Mailing date {summary.mailing_date.isoformat()}   "
        f"pieces {summary.pieces:,}   containers {summary.containers:,}   weight {summary.weight_g / 1000:,.1f} kg",
        "Reference tables: " + ("; ".join(summary.tables) or "none"),
        "-" * width,
        f"{'sort level':<{lw}}{'price category':<{cw}}{'pieces':>10}{'trays':>8}{'price':>10}{'postage':>14}",
    ]
    for r in summary.rows:
        price = f"{r.unit_price:.3f}" if r.unit_price is not None else "-"
        postage = f"{r.postage:,.2f}" if r.postage is not None else "-"
        out.append(f"{r.level_name:<{lw}}{r.price_category:<{cw}}{r.pieces:>10,}{r.containers:>8,}{price:>10}"
                   f"{postage:>14}")
    out.append("-" * width)
    total = f"{summary.postage:,.2f}" if summary.postage is not None else "(no price table)"
    cur = f" {currency}" if currency and summary.postage is not None else ""
    out.append(f"{'Total':<{lw + cw}}{summary.pieces:>10,}{summary.containers:>8,}{'':>10}{total:>14}{cur}")
    if summary.findings:
        out.append("")
        out.extend(f"* {f}" for f in summary.findings)
    out.append("=" * width)
    return "\n".join(out)
