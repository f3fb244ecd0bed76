"""Indexing a PDF print stream into mail pieces, streaming: memory does not grow with the file's size.

The structure is read with `pdf_objects.PdfObjects` (the cross-reference, then each object on demand
through a bounded cache; no content stream's data is read, parsed or rendered). What the index keeps is,
per object number, where it is (8 bytes) and which page it is, if one (4 bytes). See
controller.streams.pdf for where piece boundaries and recipients come from.

The page tree is walked by `walk_pages` (shared with the copying writer): a node's kids are read
`_BATCH` at a time in file order (`PdfObjects.plain_objects`), each page classified from its dictionary's
text; its content streams are checked a batch at a time the same way. Asked to (`keep_layout`, when a
write follows), the index keeps a `PdfLayout` for the copying writer: each page's text and what it
inherits, the content streams it checked and the cross-reference, so the writer reads only stream data.
That grows with the pages, so it is kept only when asked for.

Strict: anything qpdf would have to repair to read the file (an object not where the cross-reference
says, a stream /Length that does not reach `endstream`, a truncated file) is a StreamError naming the
byte offset, or the page: an import is all or nothing.
"""

from __future__ import annotations

import logging
import os
import re
from array import array
from dataclasses import dataclass, field
from itertools import islice
from pathlib import Path
from typing import Any, Collection, Iterator, Sequence

from controller.errors import StreamError
from controller.model import Piece, Plex
from controller.streams.base import StreamFormat, StreamIndex
from controller.streams.paged import Boundary, merge_sidecar, paged_index
from controller.streams.pdf_objects import (
    _LENGTHS, _PEEK_VALUE, _REGULAR, _REGULAR_AT, _WS, COMPLEX, Name, PdfDict, PdfObjects, PdfString, PdfSyntaxError, Ref, Stream,
    Xref, _new_tuple, _top_level,
)

logger = logging.getLogger(__name__)

__all__ = ["PdfReadOptions", "PdfReader", "PdfLayout", "outline_title", "walk_pages", "DEFAULT_TITLE_PATTERN"]

DEFAULT_TITLE_PATTERN = (r"^\s*(?P<piece>[^\s|]+)(?:\s+(?P<postal>\d{5}(?:-?\d{4})?(?:\d{2})?))?\s*"
                         r"(?:\|(?P<recipient>.*))?$")
_MAX_TREE_DEPTH = 64


@dataclass(frozen=True, slots=True)
class PdfReadOptions:
    title_pattern: str = DEFAULT_TITLE_PATTERN  # named groups: piece, postal, recipient ('|'-separated lines)
    label_pattern: str = r"^(?P<piece>.+?)-?$"  # applied to a page-label prefix
    dpm_piece_key: str = "PieceID"
    dpm_postal_key: str = "PostalCode"
    dpm_address_key: str = "Address"
    require_postal: bool = True


def outline_title(piece: Piece) -> str:
    """The outline title our writer gives a piece: what DEFAULT_TITLE_PATTERN reads back."""
    head = piece.piece_id + (f" {piece.postal_code}" if piece.postal_code else "")
    return " | ".join((head, *piece.recipient))


def _text(obj: Any, at: int) -> str:
    if isinstance(obj, PdfString):
        return obj.text()
    if isinstance(obj, Name):
        return str(obj)
    if isinstance(obj, (int, float)) and not isinstance(obj, bool):
        return str(obj)
    raise PdfSyntaxError(f"expected text, found {type(obj).__name__}", at)


def _key(obj: Any) -> bytes | None:
    """A named destination's name, as bytes, whether written as a name or a string."""
    if isinstance(obj, PdfString):
        return bytes(obj)
    if isinstance(obj, Name):
        return obj.encode("latin-1")
    return None


class _Pages:
    """The page tree's leaves: each object number's page (its index in tree order), and how many pages."""

    def __init__(self, objects: int) -> None:
        self.count = 0
        self.gens: dict[int, int] = {}
        self.page_of_num = array("i", [-1]) * objects

    def __len__(self) -> int:
        return self.count

    def add(self, ref: Ref, doc: PdfObjects) -> int:
        if not 0 <= ref.num < len(self.page_of_num) or self.page_of_num[ref.num] >= 0:
            raise PdfSyntaxError(f"page object {ref.num} appears twice in the page tree", doc.offset_of(ref))
        self.page_of_num[ref.num] = self.count
        self.count += 1
        if ref.gen:
            self.gens[ref.num] = ref.gen
        return self.count - 1

    def index_of(self, ref: Any) -> int:
        if not isinstance(ref, Ref) or not 0 <= ref.num < len(self.page_of_num):
            return -1
        k = self.page_of_num[ref.num]
        return k if k >= 0 and self.gens.get(ref.num, 0) == ref.gen else -1


@dataclass(slots=True)
class PdfLayout:
    """The page table an index keeps for the copying writer (`PdfReader.index(keep_layout=True)`): each page as
    `walk_pages(inherit=True)` gives it, the page tree nodes, the content streams it checked, and the file's
    (size, mtime_ns, inode) when read, so that a writer can tell it still describes the file."""

    stat: tuple[int, int, int]
    pages: list[tuple[Ref, bytes | PdfDict, dict[str, Any]]]
    nodes: set[int]
    # the pages' content streams checked in the common shape, by object number (generation 0): their
    # dictionary's text, where their data starts and its length
    streams: dict[int, tuple[bytes, int, int]] = field(default_factory=dict)
    xref: Xref | None = None  # the cross-reference, read once

    def fits(self, stat: tuple[int, int, int]) -> bool:
        return self.stat == stat


class PdfReader:
    format = StreamFormat.PDF
    keeps_layout = True  # index(keep_layout=True): see PdfLayout

    def __init__(self, options: PdfReadOptions | None = None) -> None:
        self.options = options or PdfReadOptions()
        self._title_re = re.compile(self.options.title_pattern)
        self._label_re = re.compile(self.options.label_pattern)

    def sniff(self, head: bytes) -> bool:
        return b"%PDF-" in head[:1024]

    def index(self, path: Path, *, job_id: str, lenient: bool = False,
              sidecar: Sequence[Any] | None = None, keep_layout: bool = False) -> StreamIndex:
        """`keep_layout`: keep the page table (`PdfLayout`) for the copying writer, which then does not walk the
        page tree again; it holds each page's dictionary text, so memory grows with the pages."""
        spath = str(path)
        try:
            size = os.path.getsize(path)
            with open(path, "rb") as fh:
                head = fh.read(1024)
                fh.seek(max(0, size - 1024))
                tail = fh.read()
        except OSError as exc:
            raise StreamError(f"cannot read: {exc.strerror}", path=spath) from exc
        if b"%PDF-" not in head:
            raise StreamError("no %PDF- header: not a PDF", path=spath, offset=0)
        if b"%%EOF" not in tail:
            # a stream cut short must not pass for a whole one
            raise StreamError("no %%EOF at the end: the file is truncated", path=spath, offset=size)
        try:
            with PdfObjects(path) as doc:
                index = self._index(doc, spath, job_id, lenient, sidecar, keep_layout)
                if index.layout is not None:
                    index.layout.stat = doc.stat
                    index.layout.xref = doc.xref()
                return index
        except StreamError:
            raise
        except PdfSyntaxError as exc:
            raise StreamError(f"damaged PDF: {exc}", path=spath, offset=exc.offset) from None
        except OSError as exc:
            raise StreamError(f"cannot read: {exc.strerror or exc}", path=spath, offset=0) from exc
        except (ValueError, TypeError, KeyError, IndexError, OverflowError, RecursionError, MemoryError) as exc:
            # a structure no check above foresaw is still a damaged file to the caller, never a crash
            logger.debug("%s: unforeseen damage", spath, exc_info=True)
            raise StreamError(f"unreadable PDF ({type(exc).__name__}: {exc})", path=spath, offset=0) from exc

    def _index(self, doc: PdfObjects, path: str, job_id: str, lenient: bool,
               sidecar: Sequence[Any] | None, keep_layout: bool) -> StreamIndex:
        trailer = doc.trailer
        if "Encrypt" in trailer:
            raise StreamError("the PDF is encrypted (pmc reads unencrypted streams; `qpdf --decrypt IN OUT` writes one "
                              "when no user password is set)", path=path, offset=trailer.offset)
        root = doc.resolve(trailer.get("Root"))
        if not isinstance(root, PdfDict):
            raise PdfSyntaxError("the trailer names no document catalog (/Root)", trailer.offset)
        tree_ref = root.get("Pages")
        if tree_ref is None:
            raise PdfSyntaxError("the catalog has no page tree (/Pages)", root.offset)
        layout = PdfLayout((0, 0, 0), [], set()) if keep_layout else None
        pages, pads, count, tree_at = self._pages(doc, tree_ref, path, layout)
        if type(count) is not int or count != len(pages):
            raise PdfSyntaxError(f"the page tree says {count} pages, {len(pages)} were found", tree_at)
        plex = Plex.SIMPLEX
        vp = doc.resolve(root.get("ViewerPreferences"))
        if isinstance(vp, PdfDict) and str(doc.resolve(vp.get("Duplex", "Simplex"))).startswith("DuplexFlip"):
            plex = Plex.DUPLEX
        source = "dpart"
        bounds = self._from_dparts(doc, root, pages, frozenset(pads))
        if not bounds:
            source, bounds = "outline", self._from_outline(doc, root, pages)
        if not bounds:
            source, bounds = "labels", self._from_labels(doc, root, path, len(pages))
        if not bounds and sidecar:
            source = "sidecar"
        total = len(pages)
        del pages  # the page map is not needed past here
        bounds = merge_sidecar(path, bounds, sidecar)
        for b in bounds:
            b.plex = plex
        return paged_index(path, StreamFormat.PDF, job_id, bounds, total, lenient=lenient,
                           require_postal=self.options.require_postal, sidecar=sidecar, pads=pads, source=source,
                           layout=layout)

    @staticmethod
    def _pages(doc: PdfObjects, tree_ref: Any, path: str,
               layout: PdfLayout | None = None) -> tuple[_Pages, list[int], int | None, int]:
        """Walk the page tree (`walk_pages`); check each page's content streams (their /Length must reach
        `endstream`; the data is not read), a batch at a time in file order, and note pad pages; with a
        `layout`, keep each page in it. Returns the pages, the pads, the root's /Count and where the root is."""
        pages = _Pages(doc.objects)
        pads: list[int] = []
        resolve = doc.resolve
        head = doc.peek(tree_ref, (b"Count",), partial=True) if type(tree_ref) is Ref else None
        if head is not None and head[1] < 0 and b"Count" in head[0] and head[0][b"Count"] is not COMPLEX:
            count, tree_at = resolve(head[0][b"Count"]), doc.offset_of(tree_ref)
        else:
            tree = resolve(tree_ref)
            if not isinstance(tree, PdfDict):
                raise PdfSyntaxError("the catalog has no page tree (/Pages)", 0)
            count, tree_at = resolve(tree.get("Count")), tree.offset
        contents: list[Ref] = []  # content streams to check, and the page each is on
        on_page: list[int] = []
        kept = layout.pages if layout is not None else None
        streams = layout.streams if layout is not None else None
        walk = walk_pages(doc, tree_ref) if layout is None else walk_pages(doc, tree_ref, inherit=True,
                                                                           nodes=layout.nodes)
        for ref, page, inherited in walk:
            i = pages.add(ref, doc)
            if kept is not None:
                kept.append((ref, page, inherited))
            if type(page) is bytes:
                c = _contents_ref(page)
                if c is not None and b"/PieceInfo" not in page:
                    contents.append(c)
                    on_page.append(i)
                    if len(contents) >= _BATCH:
                        _check_streams(doc, contents, on_page, path, streams)
                    continue
                page = resolve(ref)
                if not isinstance(page, PdfDict):
                    raise PdfSyntaxError(f"page object {ref.num} is not a dictionary", doc.offset_of(ref))
            _check_contents(doc, page.get("Contents"), path, i)
            if "PieceInfo" in page and _is_pad(doc, page):
                pads.append(i)
        _check_streams(doc, contents, on_page, path, streams)
        return pages, pads, count, tree_at

    def _page_of(self, ref: Any, pages: _Pages, what: str, at: int) -> int:
        k = pages.index_of(ref)
        if k < 0:
            raise PdfSyntaxError(f"{what} does not point at a page of this file", at)
        return k

    def _from_dparts(self, doc: PdfObjects, catalog: PdfDict, pages: _Pages,
                     pads: Collection[int] = ()) -> list[Boundary]:
        resolve = doc.resolve
        root = resolve(catalog.get("DPartRoot"))
        if not isinstance(root, PdfDict):
            return []
        node = resolve(root.get("DPartRootNode"))
        if not isinstance(node, PdfDict):
            raise PdfSyntaxError("/DPartRoot has no /DPartRootNode", root.offset)
        level = resolve(root.get("RecordLevel"))
        record_level = level if type(level) is int else None
        opts = self.options
        bounds: list[Boundary] = []
        seen: set[int] = set()

        def enter(n: PdfDict, depth: int) -> None:
            if depth > _MAX_TREE_DEPTH:
                raise PdfSyntaxError("the document part tree is nested too deep", n.offset)
            if n.ref is not None:
                if n.ref.num in seen:
                    raise PdfSyntaxError("document part tree has a loop", n.offset)
                seen.add(n.ref.num)

        def kids_of(n: PdfDict) -> list[PdfDict]:
            groups = resolve(n.get("DParts"))
            if not isinstance(groups, list):
                raise PdfSyntaxError("a DPart has neither /Start nor /DParts", n.offset)
            out = []
            for group in groups:
                group = resolve(group)
                if not isinstance(group, list):
                    raise PdfSyntaxError("/DParts holds something that is not an array", n.offset)
                for kid in group:
                    kid = resolve(kid)
                    if not isinstance(kid, PdfDict):
                        raise PdfSyntaxError("/DParts holds something that is not a DPart", n.offset)
                    out.append(kid)
            return out

        # (first page, last page or None when a leaf has no /End, where) of each record, as `bounds`
        spans: list[tuple[int, int | None, int | None]] = []

        def leaf_span(n: PdfDict, depth: int) -> tuple[int, int | None]:
            """The first page of a DPart's leaves and their last (None: a leaf without /End)."""
            enter(n, depth)
            if "Start" in n:
                start = self._page_of(n["Start"], pages, "a DPart's /Start", n.offset)
                if "End" not in n:
                    return start, None
                end = self._page_of(n["End"], pages, "a DPart's /End", n.offset)
                if end < start:
                    raise PdfSyntaxError(f"a DPart ends (/End, page {end + 1}) before it starts (/Start, page "
                                         f"{start + 1})", n.offset)
                return start, end
            kids = kids_of(n)
            if not kids:
                raise PdfSyntaxError("a DPart has neither /Start nor /DParts", n.offset)
            got = [leaf_span(kid, depth + 1) for kid in kids]
            ends = [e for _, e in got]
            return min(s for s, _ in got), (None if None in ends else max(ends))  # type: ignore[type-var]

        def walk(n: PdfDict, depth: int, inherited: dict | None = None) -> int:
            meta = dict(inherited or {})
            dpm = resolve(n.get("DPM"))
            if isinstance(dpm, PdfDict):
                for k, v in dpm.items():
                    meta[k] = resolve(v)
            is_record = depth == record_level if record_level is not None else "Start" in n
            if not is_record:
                if "Start" in n:
                    return leaf_span(n, depth)[0]
                enter(n, depth)
                starts = [walk(kid, depth + 1, meta) for kid in kids_of(n)]
                return min(starts) if starts else 0
            start, end = leaf_span(n, depth)
            spans.append((start, end, n.offset))
            piece = meta.get(opts.dpm_piece_key)
            postal = meta.get(opts.dpm_postal_key)
            address = meta.get(opts.dpm_address_key)
            lines: tuple[str, ...] = ()
            if isinstance(address, list):
                lines = tuple(_text(resolve(x), n.offset) for x in address)
            elif address is not None:
                lines = tuple(_text(address, n.offset).splitlines())
            extra = {k: _text(v, n.offset) for k, v in meta.items()
                     if k not in (opts.dpm_piece_key, opts.dpm_postal_key, opts.dpm_address_key)
                     and isinstance(v, (PdfString, Name, int)) and not isinstance(v, bool)}
            bounds.append(Boundary(_text(piece, n.offset) if piece is not None else f"DPART{len(bounds) + 1:06d}",
                                   start, lines, _text(postal, n.offset) if postal is not None else None,
                                   index=extra, offset=n.offset))
            return start

        walk(node, 0)
        # The records' pages must follow one another, each ending before the next starts, with nothing but our
        # writers' pad pages between them or after the last. A /Start damaged into another page's number would
        # else move pages from one piece to another, unseen. (Checked where the leaves say where they end.)
        order = sorted(range(len(spans)), key=lambda k: spans[k][0])
        for a, b in zip(order, order[1:] + [None]):
            end = spans[a][1]
            if end is None:
                continue
            upto = spans[b][0] if b is not None else len(pages)
            if upto <= end and b is not None:
                raise PdfSyntaxError(f"document part {bounds[a].piece_id} ends at page {end + 1}, after the next one "
                                     f"({bounds[b].piece_id}) starts at page {upto + 1}", spans[a][2])
            loose = [k for k in range(end + 1, upto) if k not in pads]
            if loose:
                raise PdfSyntaxError(f"pages {loose[0] + 1}..{loose[-1] + 1} are in no document part (after "
                                     f"{bounds[a].piece_id}, which ends at page {end + 1})", spans[a][2])
        return bounds

    def _from_outline(self, doc: PdfObjects, catalog: PdfDict, pages: _Pages) -> list[Boundary]:
        resolve = doc.resolve
        outlines = resolve(catalog.get("Outlines"))
        if not isinstance(outlines, PdfDict):
            return []
        ref: Any = outlines.get("First")
        named: dict[bytes, Any] | None = None
        bounds: list[Boundary] = []
        seen: set[int] = set()
        before: Any = None  # the entry before this one: its /Prev, if it has one, must name it
        while ref is not None:
            got = _quick_item(doc, ref) if type(ref) is Ref else None
            if got is not None:
                title, dest, nxt, prev = got
                at = doc.offset_of(ref)
                if ref.num in seen:
                    raise PdfSyntaxError("the outline's /Next chain has a loop", at)
                seen.add(ref.num)
            else:
                item = resolve(ref)
                if not isinstance(item, PdfDict):
                    break
                at = item.offset
                if item.ref is not None:
                    if item.ref.num in seen:
                        raise PdfSyntaxError("the outline's /Next chain has a loop", at)
                    seen.add(item.ref.num)
                title = _text(resolve(item.get("Title", PdfString(b""))), at)
                dest = resolve(item.get("Dest"))
                action = resolve(item.get("A"))
                if dest is None and isinstance(action, PdfDict) and resolve(action.get("S")) == "GoTo":
                    dest = resolve(action.get("D"))
                if isinstance(dest, (PdfString, Name)):
                    if named is None:
                        named = self._named_dests(doc, catalog)
                    dest = resolve(named.get(_key(dest)))
                    if isinstance(dest, PdfDict):
                        dest = resolve(dest.get("D"))
                nxt, prev = item.get("Next"), item.get("Prev")
            if prev is not None and prev != before:
                led = "the outline's /First names it" if before is None else f"the /Next of {_ref_text(before)} led to it"
                raise PdfSyntaxError(f"outline entry {title!r} names {_ref_text(prev)} as the entry before it (/Prev), "
                                     f"but {led}: an outline link is damaged", at)
            if not isinstance(dest, list) or len(dest) == 0:
                raise PdfSyntaxError(f"outline entry {title!r} has no page destination", at)
            page = self._page_of(dest[0], pages, f"outline entry {title!r}", at)
            m = self._title_re.match(title)
            if m is None or not m.group("piece"):
                # the page where a piece starts is known; what the piece is, is not: a lenient import
                # quarantines it (with its pages) rather than fold its pages into the piece before
                bounds.append(Boundary(None, page, index={"title": title}, offset=at,
                                       problem=f"outline title {title!r} does not match the piece pattern"))
            else:
                groups = m.groupdict()
                lines = tuple(s.strip() for s in (groups.get("recipient") or "").split("|") if s.strip())
                bounds.append(Boundary(groups["piece"], page, lines, groups.get("postal"), index={"title": title},
                                       offset=at))
            before, ref = ref, nxt
        last = outlines.get("Last")
        if type(last) is Ref and type(before) is Ref and last != before:
            # a /Next lost to damage would end the walk early and fold the pieces after it into one: refused
            raise PdfSyntaxError(f"the outline's entries end at {_ref_text(before)} (it has no /Next), but its /Last "
                                 f"is {_ref_text(last)}: an entry's /Next is damaged or missing", outlines.offset)
        return bounds

    @staticmethod
    def _named_dests(doc: PdfObjects, catalog: PdfDict) -> dict[bytes, Any]:
        resolve = doc.resolve
        out: dict[bytes, Any] = {}
        old = resolve(catalog.get("Dests"))
        if isinstance(old, PdfDict):
            out.update({k.encode("latin-1"): v for k, v in old.items()})
        names = resolve(catalog.get("Names"))
        tree = resolve(names.get("Dests")) if isinstance(names, PdfDict) else None
        if isinstance(tree, PdfDict):
            for k, v in _tree_items(doc, tree, "Names"):
                key = _key(k)
                if key is not None:
                    out[key] = v
        return out

    def _from_labels(self, doc: PdfObjects, catalog: PdfDict, path: str, pages: int) -> list[Boundary]:
        labels = doc.resolve(catalog.get("PageLabels"))
        if not isinstance(labels, PdfDict):
            return []
        bounds: list[Boundary] = []
        for start, spec in sorted(_tree_items(doc, labels, "Nums"), key=lambda kv: kv[0] if type(kv[0]) is int else -1):
            spec = doc.resolve(spec)
            if type(start) is not int or not isinstance(spec, PdfDict) or not 0 <= start < pages:
                raise PdfSyntaxError(f"page label range at {start!r} is not a label for a page of this file",
                                     labels.offset)
            prefix = _text(doc.resolve(spec.get("P", PdfString(b""))), labels.offset)
            m = self._label_re.match(prefix)
            if m is None or not m.group("piece"):
                raise StreamError(f"page label prefix {prefix!r} does not match the piece pattern", path=path,
                                  page=start + 1)
            bounds.append(Boundary(m.group("piece"), start, index={"label": prefix}))
        return bounds


def _tree_items(doc: PdfObjects, root: PdfDict, leaf_key: str) -> list[tuple[Any, Any]]:
    """The (key, value) pairs of a name tree (leaf_key "Names") or number tree ("Nums"), leaves in order."""
    out: list[tuple[Any, Any]] = []
    seen: set[int] = set()
    stack: list[tuple[PdfDict, int]] = [(root, 0)]
    while stack:
        node, depth = stack.pop()
        if node.ref is not None:
            if node.ref.num in seen:
                raise PdfSyntaxError("a name or number tree has a loop", node.offset)
            seen.add(node.ref.num)
        if depth > _MAX_TREE_DEPTH:
            raise PdfSyntaxError("a name or number tree is nested too deep", node.offset)
        leaf = doc.resolve(node.get(leaf_key))
        if leaf is not None:
            if not isinstance(leaf, list) or len(leaf) % 2:
                raise PdfSyntaxError(f"a tree's /{leaf_key} is not a list of pairs", node.offset)
            out.extend(zip(leaf[0::2], leaf[1::2]))
        kids = doc.resolve(node.get("Kids"))
        if kids is not None:
            if not isinstance(kids, list):
                raise PdfSyntaxError("a tree's /Kids is not an array", node.offset)
            for kid in reversed(kids):
                kid = doc.resolve(kid)
                if not isinstance(kid, PdfDict):
                    raise PdfSyntaxError("a tree's /Kids holds something that is not a node", node.offset)
                stack.append((kid, depth + 1))
    return out


_BATCH = 512  # page tree kids, or content streams, read at once in file order
_INHERITABLE = ("Resources", "MediaBox", "CropBox", "Rotate")
_ABSENT = object()


def walk_pages(doc: PdfObjects, tree_ref: Any, *, inherit: bool = False,
               nodes: set[int] | None = None) -> Iterator[tuple[Ref, bytes | PdfDict, dict[str, Any]]]:
    """The page tree's leaves in order: (reference, the page, what it inherits). The page is its dictionary's
    text when the object is in the common shape (`PdfObjects.plain_objects`: no strings or comments; the
    text starts at `<<`), else its dictionary parsed. With `inherit`, what it inherits are the /Resources,
    /MediaBox, /CropBox and /Rotate of its ancestors that it does not have itself (else {}).

    Kids are read `_BATCH` at a time in file order; a node's /Kids a window at a time where the node is
    simple enough (`iter_refs`), so no list of all pages is held. `nodes` collects the page tree nodes'
    object numbers. A loop, a tree nested too deep, a kid that is not a reference, or a kid that is
    neither a page nor a node is a PdfSyntaxError."""
    seen: set[int] = set() if nodes is None else nodes
    resolve = doc.resolve
    # per open node: its kids (an iterator of references), where it is, what its pages inherit, and the
    # kids read ahead with their text
    stack: list[list[Any]] = []

    def enter(ref: Any, node: PdfDict | None, inherited: dict[str, Any]) -> None:
        at = doc.offset_of(ref) if type(ref) is Ref else 0
        if type(ref) is Ref:
            if ref.num in seen:
                raise PdfSyntaxError("the page tree has a loop", at)
            seen.add(ref.num)
        if len(stack) >= _MAX_TREE_DEPTH:
            raise PdfSyntaxError("the page tree is nested too deep", at)
        it: Iterator[Any] | None = None
        if inherit and node is None:
            parts = doc.node_parts(ref) if type(ref) is Ref else None
            if parts is not None:
                node, kids = parts
                it = iter(kids)
            else:
                node = resolve(ref)
        # a node not parsed yet has its /Kids read a window at a time; a parsed one has them as a list
        if it is None and type(ref) is Ref and node is None:
            it = doc.iter_refs(ref, b"Kids")
        if it is None:
            if node is None:
                node = resolve(ref)
            if not isinstance(node, PdfDict):
                raise PdfSyntaxError("the catalog's /Pages is not a page tree node", at)
            kids = resolve(node.get("Kids"))
            if not isinstance(kids, list):
                raise PdfSyntaxError("a page tree node has no /Kids", node.offset)
            it = iter(kids)
        if inherit:
            if not isinstance(node, PdfDict):
                raise PdfSyntaxError("a page tree node is not a dictionary", at)
            mine = {k: node[k] for k in _INHERITABLE if k in node}
            inherited = {**inherited, **mine} if mine else inherited
        stack.append([it, at, inherited, [], 0])

    enter(tree_ref, None, {})
    while stack:
        top = stack[-1]
        ahead, i = top[3], top[4]
        if i >= len(ahead):
            chunk = list(islice(top[0], _BATCH))
            if not chunk:
                stack.pop()
                continue
            for ref in chunk:
                if type(ref) is not Ref:
                    raise PdfSyntaxError("a page tree node's /Kids holds something that is not a reference", top[1])
            texts: list[bytes | None] = [None] * len(chunk)
            for k, text, _, _, data_at in doc.plain_objects(chunk):
                if text and data_at < 0 and text.lstrip().startswith(b"<<") and b"/Kids" not in text and \
                        _is_page(text):
                    texts[k] = text
            ahead, i = top[3], top[4] = list(zip(chunk, texts)), 0
        ref, text = ahead[i]
        top[4] = i + 1
        inherited = top[2]
        if text is not None:
            if inherit and inherited:
                inherited = {k: v for k, v in inherited.items() if _top_value(text, b"/" + k.encode()) is _ABSENT}
            yield ref, text, inherited
            continue
        kid = resolve(ref)
        if not isinstance(kid, PdfDict):
            raise PdfSyntaxError(f"page tree kid {ref.num} {ref.gen} R is not a dictionary", top[1])
        kind = kid.get("Type")
        if kind == "Pages" or (kind is None and "Kids" in kid):
            enter(ref, kid, inherited)
            continue
        if kind is not None and kind != "Page":
            raise PdfSyntaxError(f"a page tree kid of /Type /{kind}", kid.offset)
        yield ref, kid, ({k: v for k, v in inherited.items() if k not in kid} if inherited else inherited)


def _is_page(text: bytes) -> bool:
    """Whether a page tree kid's dictionary text (no strings, comments or /Kids) is a page's: its /Type is /Page
    or it has none. Where "/Type" is written once, no matter at what level: if nested, the kid has no /Type
    of its own, and is a page all the same (as `walk_pages` takes a kid without /Type or /Kids)."""
    at = text.find(b"/Type")
    if at < 0:
        return True
    if text.find(b"/Type", at + 5) >= 0:
        kind = _top_value(text, b"/Type")
        return kind is _ABSENT or kind == "Page"
    v = _TYPE_PAGE.match(text, at + 5)
    return v is not None


def _contents_ref(text: bytes) -> Ref | None:
    """A page's /Contents from its dictionary's text (no strings or comments) when it is one reference written
    once at the top level; else None (the page is parsed)."""
    at = text.find(b"/Contents")
    if at < 0 or text.find(b"/Contents", at + 9) >= 0 or not _top_level(text, at):
        return None
    m = _SPACED_REF.match(text, at + 9)
    return _new_tuple(Ref, (int(m.group(1)), int(m.group(2)))) if m is not None else None


_TYPE_PAGE = re.compile(rb"[" + _WS + rb"]*/Page(?!" + _REGULAR + rb")")
_SPACED_REF = re.compile(rb"[" + _WS + rb"]+(\d+)[" + _WS + rb"]+(\d+)[" + _WS + rb"]+R(?!" + _REGULAR + rb")")


def _top_value(text: bytes, key: bytes) -> Any:
    """The value of `key` (b"/Name") at the top level of a dictionary's text without strings or comments: a
    reference, an integer or a name; COMPLEX for another value or a key there twice; _ABSENT when not there."""
    at = text.find(key)
    found: Any = _ABSENT
    while at >= 0:
        end = at + len(key)
        if _REGULAR_AT.match(text, end) is None and _top_level(text, at):
            if found is not _ABSENT:
                return COMPLEX
            v = _PEEK_VALUE.match(text, end)
            if v.group("rn") is not None:
                found = Ref(int(v.group("rn")), int(v.group("rg")))
            elif v.group("int") is not None:
                found = int(v.group("int"))
            elif v.group("name") is not None:
                found = Name(v.group("name").decode("latin-1"))
            else:
                found = COMPLEX
        at = text.find(key, end)
    return found


_ITEM_KEYS = re.compile(rb"\([^()\\]*\)|/(Title|Dest|A|Next|Prev)(?!" + _REGULAR + rb")[" + _WS + rb"]*(?:(\([^()\\]*\))"
                        rb"|\[[" + _WS + rb"]*(\d+)[" + _WS + rb"]+(\d+)[" + _WS + rb"]+R(?!" + _REGULAR + rb")"
                        rb"|(\d+)[" + _WS + rb"]+(\d+)[" + _WS + rb"]+R(?!" + _REGULAR + rb"))?")


def _ref_text(ref: Any) -> str:
    return f"{ref.num} {ref.gen} R" if type(ref) is Ref else repr(ref)


def _quick_item(doc: PdfObjects, ref: Ref) -> tuple[str, list[Ref], Ref | None, Ref | None] | None:
    """An outline entry's title, destination ([its page]), /Next and /Prev, read from its text when it is in the
    common shape (`PdfObjects.dict_text`, nothing nested, a literal title, a /Dest array to a page, no action);
    None otherwise (then it is parsed)."""
    text = doc.dict_text(ref)
    if text is None or text.count(b"<<") != 1:
        return None
    title = dest = nxt = prev = None
    for key, string, dest_num, dest_gen, next_num, next_gen in _ITEM_KEYS.findall(text):
        if not key:
            continue  # a string that is no /Title
        if key == b"Title":
            if title is not None or not string:
                return None
            title = string[1:-1]
        elif key == b"Dest":
            if dest is not None or not dest_num:
                return None
            dest = [_new_tuple(Ref, (int(dest_num), int(dest_gen)))]
        elif key == b"Next":
            if nxt is not None or not next_num:
                return None
            nxt = _new_tuple(Ref, (int(next_num), int(next_gen)))
        elif key == b"Prev":
            if prev is not None or not next_num:
                return None
            prev = _new_tuple(Ref, (int(next_num), int(next_gen)))
        else:
            return None  # an action: parsed
    if dest is None:
        return None
    return PdfString(title or b"").text(), dest, nxt, prev


def _check_streams(doc: PdfObjects, refs: list[Ref], on_page: list[int], path: str,
                   kept: dict[int, tuple[bytes, int, int]] | None = None) -> None:
    """Each content stream's /Length reaches its `endstream`, read in file order; what is not in the common
    shape goes to `_check_contents`. Empties both lists. `kept`: each stream checked here, by object number:
    (its dictionary's text, where its data starts, its length) (PdfLayout.streams)."""
    checked = [False] * len(refs)
    for k, text, buf, base, data_at in doc.plain_objects(refs):
        if data_at >= 0:
            found = _LENGTHS.findall(text)
            if len(found) != 1:
                continue
            num, gen = found[0]
            length = doc.resolve(Ref(int(num), int(gen.split()[0]))) if gen else int(num)  # /Length N G R: read N
            if doc.stream_end_ok(buf, base, data_at, length):
                checked[k] = True
                if kept is not None and refs[k].gen == 0:
                    kept[refs[k].num] = (text, data_at, length)
    for k, ok in enumerate(checked):
        if not ok:
            _check_contents(doc, refs[k], path, on_page[k])
    refs.clear()
    on_page.clear()


def _check_contents(doc: PdfObjects, contents: Any, path: str, i: int) -> None:
    """A page's /Contents is a stream or an array of streams (each /Length reaching its `endstream`)."""
    contents = doc.resolve(contents)
    for c in (contents if isinstance(contents, list) else () if contents is None else (contents,)):
        if not isinstance(c, Stream) and not isinstance(doc.resolve(c), Stream):
            raise StreamError("page content is not a stream", path=path, page=i + 1)


def _is_pad(doc: PdfObjects, page: PdfDict) -> bool:
    node: Any = page
    for key in ("PieceInfo", "PMC", "Private"):
        node = doc.resolve(node.get(key))
        if not isinstance(node, PdfDict):
            return False
    return doc.resolve(node.get("Pad")) is True
