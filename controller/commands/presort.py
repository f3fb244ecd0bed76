"""`pmc presort PIECES.csv --operator usps-fcm ...`: presort a list of mail pieces, print the postage summary.

PIECES.csv has a header with `piece_id` and `postcode` (or `delivery_point`, `zip`), and optionally
`weight_g` and `thickness_mm`. Reference tables are read from `--tables DIR` (one file per role, named
`<ROLE>.csv`: L002, L801, CIN for USPS; DP-LEITBEREICHE for Dialogpost; RM-SELECTIONS for the Royal
Mail-style sort); without it, the
synthetic set in fixtures/mailsort/synthetic is used and the summary says so.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import json
import sys
from pathlib import Path
from typing import Iterator, TextIO

from controller.errors import ConfigError, PmcError
from controller.model import Container
from mailsort.errors import MailsortError
from mailsort.model import MailPiece, PostageSummary, PresortOptions
from mailsort.operators import OPERATORS, make_operator, table_roles
from mailsort.presort import SortResult, presort
from mailsort.summary import format_statement, postage_summary
from mailsort.synthetic import synthetic_mailing
from mailsort.tables import DatedTable, PriceTable, parse_price_table, parse_table

SYNTHETIC_TABLES = Path(__file__).resolve().parents[2] / "fixtures" / "mailsort" / "synthetic"
POSTCODE_COLUMNS = ("postcode", "delivery_point", "zip")


class PresortError(PmcError):
    """A presort the CLI could not run: mailsort's refusal (or a bad input file), with its message."""


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("presort", help="presort a list of mail pieces into trays, print the postage summary")
    parser.add_argument("pieces", help="CSV of pieces: piece_id, postcode (or delivery_point), [weight_g, thickness_mm]")
    parser.add_argument("--operator", default="usps-fcm", choices=sorted(OPERATORS), help="postal operator rule set")
    parser.add_argument("--tables", help="folder of reference tables <ROLE>.csv (default: the synthetic set)")
    parser.add_argument("--prices", help="price table CSV (default: the synthetic one with the synthetic tables)")
    parser.add_argument("--date", help="mailing date YYYY-MM-DD (default: today)")
    parser.add_argument("--overflow", action="store_true", help="let 5-digit/3-digit remainders ride in the next tray")
    parser.add_argument("--extended-trays", action="store_true", help="USPS: extended managed mail trays")
    parser.add_argument("--mailer-id", default="", help="6 or 9-digit mailer ID (IMb and tray barcodes)")
    parser.add_argument("--service-type", default="300", help="IMb service type identifier (default 300)")
    parser.add_argument("--barcode-id", default="00", help="IMb barcode identifier (default 00)")
    parser.add_argument("--serial-start", type=int, default=0, help="IMb serial of the first piece in sort order")
    parser.add_argument("--origin", default="", help="tray label line 3")
    parser.add_argument("--origin-zip3", default="", help="USPS: ZIP3 of the entry office (mixed AADC labels)")
    parser.add_argument("--origin-postcode", default="", help="Deutsche Post: PLZ of the posting office (Leitbereich)")
    parser.add_argument("--weight-g", type=float, default=28.0, help="weight where the CSV has none (default 28)")
    parser.add_argument("--thickness-mm", type=float, default=0.5, help="thickness where the CSV has none (default 0.5)")
    parser.add_argument("--out", help="write the sorted list here (CSV)")
    parser.add_argument("--containers", help="write the containers with their labels here (CSV)")
    parser.add_argument("--no-bars", action="store_true", help="leave the IMb bars out of the sorted list")
    parser.add_argument("--progress", action=argparse.BooleanOptionalAction, default=None,
                        help="progress bar on stderr (default: when stderr is a terminal)")
    parser.add_argument("--json", action="store_true", help="print the summary as JSON")
    parser.set_defaults(func=_presort)


class Progress:
    """A plain one-line bar on stderr, redrawn at each whole percent."""

    def __init__(self, what: str, total: int, stream: TextIO, enabled: bool) -> None:
        self.what, self.total, self.stream, self.enabled = what, max(total, 1), stream, enabled
        self._shown = -1

    def update(self, done: int) -> None:
        if not self.enabled:
            return
        pct = done * 100 // self.total
        if pct != self._shown:
            self._shown = pct
            bar = "#" * (pct // 4)
            self.stream.write(f"\r{self.what:<10} [{bar:<25}] {pct:3d}% {done:,}/{self.total:,}")
            self.stream.flush()

    def done(self) -> None:
        if self.enabled:
            self.update(self.total)
            self.stream.write("\n")
            self.stream.flush()


def load_tables(operator: str, folder: Path | None) -> dict[str, DatedTable]:
    base = folder or SYNTHETIC_TABLES
    tables = {}
    for role in table_roles(operator):
        path = base / f"{role}.csv"
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise ConfigError(f"{path}: cannot read the {role} table for {operator} ({exc.strerror or exc})") from None
        tables[role] = _mapped(lambda: parse_table(text, str(path)), path)
    return tables


def load_prices(path: Path) -> PriceTable:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read the price table ({exc.strerror or exc})") from None
    return _mapped(lambda: parse_price_table(text, str(path)), path)


def _mapped(fn, where: object):
    try:
        return fn()
    except MailsortError as exc:
        raise PresortError(f"{where}: {exc}") from None


def read_pieces(path: Path, *, weight_g: float, thickness_mm: float, progress: Progress | None = None) -> list[MailPiece]:
    try:
        handle = path.open(newline="", encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read the piece list ({exc.strerror or exc})") from None
    with handle:
        reader = csv.reader(handle)
        try:
            header = [h.strip().lower() for h in next(reader)]
        except StopIteration:
            raise PresortError(f"{path}: empty file, expected a header with piece_id and postcode") from None
        if "piece_id" not in header:
            raise PresortError(f"{path}: line 1: no piece_id column (has {', '.join(header)})")
        col = next((c for c in POSTCODE_COLUMNS if c in header), None)
        if col is None:
            raise PresortError(f"{path}: line 1: no postcode column ({' or '.join(POSTCODE_COLUMNS)})")
        i_id, i_pc = header.index("piece_id"), header.index(col)
        i_w = header.index("weight_g") if "weight_g" in header else None
        i_t = header.index("thickness_mm") if "thickness_mm" in header else None
        pieces = []
        for line, row in enumerate(reader, start=2):
            if not row:
                continue
            try:
                w = float(row[i_w]) if i_w is not None and row[i_w].strip() else weight_g
                t = float(row[i_t]) if i_t is not None and row[i_t].strip() else thickness_mm
                pieces.append(MailPiece(row[i_id].strip(), row[i_pc].strip(), w, t))
            except (IndexError, ValueError) as exc:
                raise PresortError(f"{path}: line {line}: {exc}") from None
            if progress is not None and line % 10000 == 0:
                progress.update(line)
    return pieces


def run_presort(pieces: list[MailPiece], operator: str, tables: dict[str, DatedTable], options: PresortOptions,
                prices: PriceTable | None) -> tuple[SortResult, PostageSummary]:
    def go() -> tuple[SortResult, PostageSummary]:
        result = presort(pieces, make_operator(operator, tables), options)
        return result, postage_summary(result, prices)

    return _mapped(go, f"presort {operator}")


def sorted_rows(result: SortResult, *, bars: bool) -> Iterator[list[object]]:
    for p in result.sorted_pieces():
        imb = p.imb if (bars and p.imb_tracking is not None) else None
        yield [p.sequence, p.piece_id, p.postcode, p.container_id, p.level, p.price_category,
               p.imb_tracking or "", p.imb_routing, imb.bars if imb is not None else "", p.reason or ""]


SORTED_HEADER = ["sequence", "piece_id", "postcode", "container_id", "sort_level", "price_category",
                 "imb_tracking", "imb_routing", "imb_bars", "reason"]


def write_sorted(path: Path, result: SortResult, *, bars: bool, progress: Progress | None = None) -> None:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(SORTED_HEADER)
        for row in sorted_rows(result, bars=bars):
            writer.writerow(row)
            if progress is not None and row[0] % 5000 == 0:  # type: ignore[operator]
                progress.update(row[0])  # type: ignore[arg-type]


def write_containers(path: Path, result: SortResult) -> None:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["container_id", "sequence", "sort_level", "destination", "container_type", "pieces",
                         "first_piece_sequence", "thickness_mm", "weight_g", "full", "price_category",
                         "label_line1", "label_line2", "label_line3", "tray_barcode"])
        for c in result.containers:
            writer.writerow([c.container_id, c.sequence, c.level, c.destination, c.container_type.code, c.pieces,
                             c.first, f"{c.thickness_mm:.1f}", f"{c.weight_g:.0f}", int(c.full), c.price_category,
                             *c.label.lines, c.label.barcode_data or ""])


def summary_json(summary: PostageSummary) -> dict:
    return {
        "operator": summary.operator, "mailing_date": summary.mailing_date.isoformat(), "pieces": summary.pieces,
        "containers": summary.containers, "weight_g": round(summary.weight_g, 1),
        "postage": str(summary.postage) if summary.postage is not None else None,
        "price_table": summary.price_table, "tables": list(summary.tables), "findings": list(summary.findings),
        "rows": [{"level": r.level, "price_category": r.price_category, "pieces": r.pieces,
                  "containers": r.containers, "unit_price": str(r.unit_price) if r.unit_price is not None else None,
                  "postage": str(r.postage) if r.postage is not None else None} for r in summary.rows],
        "overflows": [{"level": o.level, "destination": o.destination, "pieces": o.pieces,
                       "price_category": o.price_category, "containers": list(o.containers)}
                      for o in summary.overflows],
    }


def _presort(args: argparse.Namespace) -> int:
    show = sys.stderr.isatty() if args.progress is None else args.progress
    try:
        date = dt.date.fromisoformat(args.date) if args.date else dt.datetime.now(dt.timezone.utc).date()
    except ValueError:
        raise ConfigError(f"--date {args.date!r}: expected YYYY-MM-DD") from None
    folder = Path(args.tables) if args.tables else None
    tables = load_tables(args.operator, folder)
    price_path = Path(args.prices) if args.prices else (SYNTHETIC_TABLES / "PRICES.csv" if folder is None else None)
    prices = load_prices(price_path) if price_path is not None else None
    path = Path(args.pieces)
    reading = Progress("reading", _count_lines(path) if show else 1, sys.stderr, show)
    pieces = read_pieces(path, weight_g=args.weight_g, thickness_mm=args.thickness_mm, progress=reading)
    reading.done()
    options = PresortOptions(date, overflow=args.overflow, extended_trays=args.extended_trays,
                             mailer_id=args.mailer_id, service_type=args.service_type, barcode_id=args.barcode_id,
                             serial_start=args.serial_start, origin=args.origin, origin_zip3=args.origin_zip3,
                             origin_postcode=args.origin_postcode)
    result, summary = run_presort(pieces, args.operator, tables, options, prices)
    if args.out:
        writing = Progress("writing", len(result), sys.stderr, show)
        _mapped(lambda: write_sorted(Path(args.out), result, bars=not args.no_bars, progress=writing), args.out)
        writing.done()
    if args.containers:
        write_containers(Path(args.containers), result)
    if args.json:
        print(json.dumps(summary_json(summary), indent=2))
    else:
        if folder is None:
            print("note: SYNTHETIC reference tables and prices (fixtures/mailsort/synthetic); not for mailing")
        currency = prices.currencies.get(args.operator, "") if prices is not None else ""
        print(format_statement(summary, currency))
        if args.out:
            print(f"sorted list: {args.out} ({len(result):,} pieces)")
        if args.containers:
            print(f"containers: {args.containers} ({len(result.containers):,})")
    return 0


def _count_lines(path: Path) -> int:
    try:
        with path.open("rb") as handle:
            return max(sum(chunk.count(b"\n") for chunk in iter(lambda: handle.read(1 << 20), b"")) - 1, 1)
    except OSError:
        return 1


def model_containers(result: SortResult, job_id: str) -> list[Container]:
    """The presort's containers as the controller's model has them, in dispatch order, with their piece IDs."""
    out = []
    for c in result.containers:
        ids = tuple(result.pieces[result.order[s]].piece_id for s in range(c.first, c.first + c.pieces))
        out.append(Container(f"{job_id}-{c.container_id}", job_id, c.sequence, c.level_name, c.label.destination, ids))
    return out


def presort_demo(count: int = 2000, seed: int = 1, *, operator: str = "usps-fcm",
                 mailing_date: dt.date | None = None) -> tuple[SortResult, PostageSummary]:
    """A synthetic mailing presorted with the synthetic tables and prices: what `pmc demo` shows."""
    date = mailing_date or dt.date(2026, 11, 23)
    tables = load_tables(operator, None)
    prices = load_prices(SYNTHETIC_TABLES / "PRICES.csv")
    options = PresortOptions(date, overflow=True, mailer_id="123456" if operator.startswith("usps") else "",
                             origin="PMC DEMO MAILROOM", origin_zip3="303", origin_postcode="53113")
    return run_presort(synthetic_mailing(count, seed, operator=operator), operator, tables, options, prices)
