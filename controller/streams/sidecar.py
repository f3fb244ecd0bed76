"""Index files beside a print stream (CSV or JSON), as composition tools write them, for every format.

One row (CSV) or object (JSON) per mail piece:

    piece        the piece ID                      (also: piece_id, pieceid, id, mailpiece)
    first_page   its first page, 1-based           (also: start_page, first, page)
    page_count   its pages                         (also: pages, num_pages, count)
    address1..N  address block lines, in order     (also: addr1.., line1.., address_line_1..;
                 or one `recipient` column with lines separated by '|', or a JSON list)
    postal_code  ZIP+4+DPC or what the tool has    (also: zip, zipcode, zip_code, postcode, dpbc)
    inserts      selective-insert stations         (also: selections, insert; "1 4", "1;4", "1,4", or a JSON list)
    anything else  kept as the piece's index values (account, ...)

JSON is a list of such objects or {"pieces": [...]}. Pieces must cover the stream's pages from page
1 without gap or overlap, with unique IDs. In memory a SidecarEntry's first_page is 0-based like
Piece.first_page. Readers accept the entries as `sidecar=` (PDF, PostScript and PCL readers take
piece boundaries from them when the stream has none; the AFP reader checks and fills in from them).
"""

from __future__ import annotations

import csv
import dataclasses
import io
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

from controller.errors import StreamError
from controller.model import Piece
from controller.streams.base import Quarantined, StreamIndex

__all__ = ["SidecarEntry", "find_sidecar", "read_sidecar", "parse_sidecar", "write_sidecar", "apply_sidecar",
           "SIDECAR_SUFFIXES"]

SIDECAR_SUFFIXES = (".idx.csv", ".idx.json", ".index.csv", ".index.json", ".csv", ".json")

_PIECE = ("piece", "piece_id", "pieceid", "id", "mailpiece")
_FIRST = ("first_page", "start_page", "first", "page", "firstpage")
_COUNT = ("page_count", "pages", "num_pages", "count", "pagecount")
_POSTAL = ("postal_code", "zip", "zipcode", "zip_code", "postcode", "dpbc", "postalcode")
_INSERTS = ("inserts", "selections", "insert")
_RECIPIENT = ("recipient", "address", "address_block")
_LINE = re.compile(r"(address|addr|line|address_line|recipient)_?(\d+)", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class SidecarEntry:
    piece_id: str
    first_page: int  # 0-based
    pages: int
    recipient: tuple[str, ...] = ()
    postal_code: str | None = None
    inserts: frozenset[int] = frozenset()
    index: Mapping[str, str] = field(default_factory=dict)
    line: int | None = None  # where in the index file (CSV line or JSON item, 1-based)


def find_sidecar(stream: Path) -> Path | None:
    """The index file beside a stream: STREAM.idx.csv, STREAM.csv, STEM.csv and the JSON twins."""
    stream = Path(stream)
    for suffix in SIDECAR_SUFFIXES:
        for candidate in (Path(str(stream) + suffix), stream.with_suffix(suffix)):
            if candidate != stream and candidate.is_file():
                return candidate
    return None


def read_sidecar(path: Path) -> list[SidecarEntry]:
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise StreamError(f"cannot read the index file: {exc.strerror or exc}", path=str(path)) from None
    except UnicodeDecodeError as exc:
        raise StreamError(f"the index file is not UTF-8 text (byte {exc.start})", path=str(path),
                          offset=exc.start) from None
    kind = "json" if path.suffix.lower() == ".json" or text.lstrip()[:1] in ("[", "{") else "csv"
    return parse_sidecar(text, kind=kind, path=str(path))


def parse_sidecar(text: str, *, kind: str, path: str = "<index>") -> list[SidecarEntry]:
    if kind == "json":
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise StreamError(f"the index file is not valid JSON: {exc.msg} (line {exc.lineno})", path=path,
                              offset=exc.pos) from None
        if isinstance(data, dict):
            data = data.get("pieces")
        if not isinstance(data, list) or not all(isinstance(x, dict) for x in data):
            raise StreamError("a JSON index file is a list of piece objects, or {\"pieces\": [...]}", path=path)
        rows = [(i + 1, row) for i, row in enumerate(data)]
    elif kind == "csv":
        reader = csv.DictReader(io.StringIO(text, newline=""))
        try:
            if not reader.fieldnames:
                raise StreamError("the index file has no header row", path=path)
            rows = [(reader.line_num, dict(row)) for row in reader]
        except csv.Error as exc:
            raise StreamError(f"line {reader.line_num}: not CSV: {exc}", path=path) from None
    else:
        raise ValueError(f"unknown index file kind {kind!r}")
    entries = [_entry(row, line, path) for line, row in rows]
    _check_cover(entries, path)
    return entries


def _pick(row: Mapping[str, Any], names: Sequence[str]) -> tuple[str | None, Any]:
    for key in row:
        if key is not None and key.strip().lower() in names:
            return key, row[key]
    return None, None


def _entry(row: Mapping[str, Any], line: int, path: str) -> SidecarEntry:
    if None in row:  # csv: more cells than header names
        raise StreamError(f"line {line}: more cells than the header names", path=path)
    used = set()

    def get(names: Sequence[str], what: str, required: bool = True) -> Any:
        key, value = _pick(row, names)
        if key is not None:
            used.add(key)
        if required and (value is None or str(value).strip() == ""):
            raise StreamError(f"line {line}: no {what} (a column {names[0]!r})", path=path)
        return value

    piece_id = str(get(_PIECE, "piece ID")).strip()
    first = _int(get(_FIRST, "first page"), line, "first page", path)
    pages = _int(get(_COUNT, "page count"), line, "page count", path)
    if first < 1:
        raise StreamError(f"line {line}: piece {piece_id} starts on page {first}; pages count from 1", path=path,
                          piece_id=piece_id)
    if pages < 1:
        raise StreamError(f"line {line}: piece {piece_id} has {pages} pages", path=path, piece_id=piece_id)
    postal = get(_POSTAL, "postal code", required=False)
    postal = str(postal).strip() or None if postal is not None else None
    raw_inserts = get(_INSERTS, "inserts", required=False)
    inserts = _inserts(raw_inserts, line, piece_id, path)
    recipient: list[str] = []
    key, block = _pick(row, _RECIPIENT)
    if key is not None:
        used.add(key)
        if isinstance(block, list):
            recipient = [str(x).strip() for x in block if str(x).strip()]
        elif block:
            recipient = [x.strip() for x in re.split(r"\||\n", str(block)) if x.strip()]
    numbered = sorted(((int(m.group(2)), k) for k in row if k and (m := _LINE.fullmatch(k.strip()))),
                      key=lambda t: t[0])
    for _, k in numbered:
        used.add(k)
        if row[k] is not None and str(row[k]).strip():
            recipient.append(str(row[k]).strip())
    extra = {str(k).strip(): "" if v is None else str(v) for k, v in row.items() if k not in used}
    return SidecarEntry(piece_id, first - 1, pages, tuple(recipient), postal, inserts, extra, line)


def _int(value: Any, line: int, what: str, path: str) -> int:
    try:
        if isinstance(value, bool):
            raise ValueError
        return int(str(value).strip())
    except ValueError:
        raise StreamError(f"line {line}: {what} {value!r} is not a whole number", path=path) from None


def _inserts(value: Any, line: int, piece_id: str, path: str) -> frozenset[int]:
    if value is None or value == "":
        return frozenset()
    items = value if isinstance(value, list) else [x for x in re.split(r"[\s,;]+", str(value).strip()) if x]
    try:
        stations = frozenset(int(x) for x in items if not isinstance(x, bool))
    except (TypeError, ValueError):
        raise StreamError(f"line {line}: inserts {value!r} are not station numbers", path=path,
                          piece_id=piece_id) from None
    if any(s < 1 for s in stations) or len(stations) != len(items):
        raise StreamError(f"line {line}: inserts {value!r} are not station numbers from 1", path=path,
                          piece_id=piece_id)
    return stations


def _check_cover(entries: list[SidecarEntry], path: str) -> None:
    seen: dict[str, int | None] = {}
    for e in entries:
        if e.piece_id in seen:
            raise StreamError(f"line {e.line}: piece {e.piece_id} is listed twice (first on line {seen[e.piece_id]})",
                              path=path, piece_id=e.piece_id)
        seen[e.piece_id] = e.line
    expected = 0
    for e in sorted(entries, key=lambda e: e.first_page):
        if e.first_page != expected:
            what = "overlaps the piece before it" if e.first_page < expected else f"leaves pages {expected + 1}.." \
                f"{e.first_page} in no piece"
            raise StreamError(f"line {e.line}: piece {e.piece_id} starting on page {e.first_page + 1} {what}",
                              path=path, page=e.first_page + 1, piece_id=e.piece_id)
        expected = e.first_page + e.pages


def write_sidecar(pieces: Iterable[Piece], path: Path, *, first_page_base: int = 0) -> Path:
    """An index file for pieces (CSV or JSON by the suffix); first pages shifted by first_page_base
    (a split file numbers its pages from 1 again)."""
    path = Path(path)
    pieces = list(pieces)
    rows = []
    lines = max((len(p.recipient) for p in pieces), default=0)
    extra_keys = sorted({k for p in pieces for k in p.index})
    for p in pieces:
        row: dict[str, Any] = {"piece": p.piece_id, "first_page": p.first_page - first_page_base + 1,
                               "page_count": p.pages}
        for i in range(lines):
            row[f"address{i + 1}"] = p.recipient[i] if i < len(p.recipient) else ""
        row["postal_code"] = p.postal_code or ""
        row["inserts"] = " ".join(str(s) for s in sorted(p.inserts))
        for k in extra_keys:
            row[k] = p.index.get(k, "")
        rows.append(row)
    if path.suffix.lower() == ".json":
        for row, p in zip(rows, pieces):
            row["inserts"] = sorted(p.inserts)
        path.write_text(json.dumps({"pieces": rows}, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
        return path
    header = ["piece", "first_page", "page_count", *(f"address{i + 1}" for i in range(lines)), "postal_code",
              "inserts", *extra_keys]
    with open(path, "w", newline="", encoding="utf-8") as fh:
        w = csv.DictWriter(fh, fieldnames=header)
        w.writeheader()
        w.writerows(rows)
    return path


def apply_sidecar(index: StreamIndex, entries: Sequence[Any], *, lenient: bool = False) -> StreamIndex:
    """Check an index against its index file and fill in what the stream left out.

    Every piece must be listed with the same first page and page count; a listed piece the stream
    does not hold is an error. The stream's own values win; the file fills recipient, postal code,
    inserts and index values where the stream has none.
    """
    by_id = {str(e.piece_id): e for e in entries}
    pieces: list[Piece] = []
    quarantined = list(index.quarantined)
    spans = dict(index.spans)
    held = {p.piece_id for p in index.pieces} | {q.piece_id for q in index.quarantined if q.piece_id}
    for pid, e in by_id.items():
        if pid not in held:
            raise StreamError(f"the index file lists piece {pid}, which the stream does not hold", path=index.path,
                              piece_id=pid)
    for p in index.pieces:
        e = by_id.get(p.piece_id)
        problem = None
        if e is None:
            problem = "the index file does not list the piece"
        elif (e.first_page, e.pages) != (p.first_page, p.pages):
            problem = (f"the index file gives pages {e.first_page + 1}..{e.first_page + e.pages}, "
                       f"the stream {p.first_page + 1}..{p.first_page + p.pages}")
        if problem is not None:
            if not lenient:
                raise StreamError(problem, path=index.path, page=p.first_page + 1, piece_id=p.piece_id)
            quarantined.append(Quarantined(problem, piece_id=p.piece_id, page=p.first_page + 1))
            spans.pop(p.piece_id, None)
            continue
        extra = getattr(e, "index", None) or {}
        pieces.append(dataclasses.replace(
            p,
            recipient=p.recipient or tuple(e.recipient or ()),
            postal_code=p.postal_code or (e.postal_code or None),
            inserts=p.inserts or frozenset(e.inserts or ()),
            index={**extra, **p.index} if extra else p.index,
        ))
    return dataclasses.replace(index, pieces=tuple(pieces), quarantined=tuple(quarantined), spans=spans)
