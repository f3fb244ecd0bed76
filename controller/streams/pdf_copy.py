"""Print jobs from a PDF by copying its objects byte for byte (no pikepdf, no content parsed or decoded).

For each print job the objects its pages need are copied as they are in the source, renumbered densely
(1..n; an object from an object stream becomes a plain `N 0 obj ... endobj`, a stream keeps its stored
data, filters and /Length), and the document-level objects are made new: a flat page tree in the plan's
order, an outline (one top-level entry per piece, titles as the pikepdf writer writes them), DParts and
page labels when the pikepdf writer would write them, the duplex pad pages, a catalog, a classic
cross-reference table and a trailer (the source's /Info kept, a new /ID).

Stamps (as `pdf.PdfWriter._stamp` draws them, from the same `pdf.stamp_content` and `pdf.stamp_twin`): a
stamped page's /Contents becomes an array of a `q` stream (one per job), its old content stream(s) and a new
stream of the stamp's drawing; its /PieceInfo a new twin. Its content streams are still copied as they are.

What a job's file holds is the closure of its pages: every object reachable from them through `N G R`
in the objects' dictionary and array text (a stream's data is never scanned), with these cut, as the
pikepdf writer (`pdf.PdfWriter._write`) cuts them:
- on each page, /Parent (set to the new tree), /DPart, /StructParents (the structure tree is dropped)
  and /B (article beads: the threads are the document's); /PieceInfo too when the plan has stamps, and
  else it stays (a page stamped by an earlier run keeps the twin of the code drawn on it; pad pages
  belong to no piece and are never copied, a new pad gets its own);
- a reference, anywhere in the closure, to a page of the source that is not in this job, to a page tree
  node, to the catalog or to what the catalog's dropped entries (/Outlines, /DPartRoot, /StructTreeRoot,
  /AcroForm) point at is written `null` (a link annotation to a page of another job, an annotation's /P
  to such a page): without it a split file would drag in the whole source;
- the catalog keeps every entry but /Pages, /Outlines, /DPartRoot, /PageLabels, /Dests, /OpenAction,
  /StructTreeRoot and /AcroForm, and its /Names loses /Dests (these point at pages across the file).
/Resources, /MediaBox, /CropBox and /Rotate a page inherits from an ancestor node are written on the page.

Every object is copied as its text with only its references renumbered (literal strings and comments
are skipped, so `1 0 R` inside a string stays as it is); a page's text also gets its new /Parent, what it
inherits and its /DPart (and, stamped, its top-level /Contents reference or array of references replaced
and a /PieceInfo added), and a page holding any key to drop (or strings, comments, or a /Parent or
/Contents that is not a plain top-level reference or array of them) is parsed and written again instead.

Reading: the pages come from the page tree walk (`pdf_index.walk_pages`), or from the index's kept
`PdfLayout` when the index was asked for one and the file is unchanged since (then the pages' content
streams, which the index checked, are copied from where it found their data, without reading their
dictionaries again). The objects a job needs are read a round at a time in file order
(`PdfObjects.plain_objects`), the general parser taking what is not in the common shape; a damaged one is a
StreamError naming the first page, in the job's order, that needs it.

Memory: the output is written out a megabyte at a time; what is held is each page's dictionary text (a
few hundred bytes a page), the number map of the job being written, and at most `_CACHE` small shared
objects.

An encrypted source is refused (as the index refuses it).
"""

from __future__ import annotations

import hashlib
import logging
import re
from typing import Any, BinaryIO, Callable, NamedTuple

from controller.errors import StreamError
from controller.model import Piece, Plex
from controller.streams.base import EngineeringPlan, PrintJobPlan, SheetStamp, StreamIndex
from controller.streams.paged import JobFiles
from controller.streams.pdf import StampLayout, stamp_content, stamp_twin
from controller.streams.pdf_index import PdfLayout, outline_title, walk_pages
from controller.streams.pdf_objects import DIGITS_AS_ZERO, Name, PdfDict, PdfObjects, PdfString, PdfSyntaxError, \
    Ref, Stream, parse_text
from controller.streams.pdf_objects import _LENGTHS, _REGULAR, _WS, _top_level

__all__ = ["write_jobs"]

logger = logging.getLogger(__name__)

_PAGE_DROP = frozenset(("Parent", "DPart", "StructParents", "B"))
_PAGE_DROP_STAMPED = _PAGE_DROP | {"PieceInfo"}  # a plan with stamps drops an earlier run's twins (pdf.py)
_CATALOG_DROP = frozenset(("Pages", "Outlines", "DPartRoot", "PageLabels", "Dests", "OpenAction", "StructTreeRoot",
                           "AcroForm"))
_CATALOG_CUT = ("Outlines", "DPartRoot", "StructTreeRoot", "AcroForm")  # references to these become null
_FLUSH = 1 << 20  # bytes of output held before they are written
_CACHE = 4096  # objects kept split at their references (see _Source.copy_of)
_ROUND = 4096  # objects met and not yet copied, at most, before they are copied (`_Job.drain`)

_REF = re.compile(rb"(?<![^" + _WS + rb"()<>\[\]{}])(\d+)[" + _WS + rb"]+(\d+)[" + _WS + rb"]+R(?!" + _REGULAR + rb")")
_TEXTY = re.compile(rb"[(%]")
_PARENT = re.compile(rb"/Parent[" + _WS + rb"]+\d+[" + _WS + rb"]+\d+[" + _WS + rb"]+R(?!" + _REGULAR + rb")")
_PAGE_DROP_KEYS = re.compile(rb"/(?:DPart|StructParents|B)(?!" + _REGULAR + rb")")
_PAGE_DROP_KEYS_STAMPED = re.compile(rb"/(?:DPart|StructParents|B|PieceInfo)(?!" + _REGULAR + rb")")
_CONTENTS = re.compile(rb"/Contents[" + _WS + rb"]*((?:\d+[" + _WS + rb"]+\d+[" + _WS + rb"]+R|\[(?:[" + _WS
                       + rb"]*\d+[" + _WS + rb"]+\d+[" + _WS + rb"]+R)*[" + _WS + rb"]*\]))(?!" + _REGULAR + rb")")
_REF_PAIR = re.compile(rb"(\d+)[" + _WS + rb"]+(\d+)[" + _WS + rb"]+R")
_MEDIA_BOX = re.compile(rb"/MediaBox(?!" + _REGULAR + rb")[" + _WS + rb"]*(\[[^\[\]]*\])?")
_LETTER = [0, 0, 612, 792]
_NAME_ESCAPE = re.compile(rb"[^\x21-\x7e]|[#()<>\[\]{}/%]")
_NOT_PDFDOC = re.compile("[^\t\n\r\x20-\x7e\xa1-\xff]")
_VERSION = re.compile(rb"%PDF-(\d\.\d)")


def write_jobs(index: StreamIndex, plan: EngineeringPlan, files: JobFiles, stamp_time: str,
               stamp_layout: StampLayout) -> None:
    """Each print job of the plan into `files.part(job.name)`, copying the source's objects; stamps placed by
    `stamp_layout`."""
    path = index.path
    try:
        layout = index.layout if isinstance(index.layout, PdfLayout) else None
        with PdfObjects(path, layout.xref if layout is not None else None) as doc:
            source = _Source(doc, path, index.layout)
            if len(source.pages) != index.pages:
                raise StreamError(f"the file now has {len(source.pages)} pages, the index {index.pages}: re-index it",
                                  path=path)
            pieces = {p.piece_id: p for p in index.pieces}
            write_dparts = "DPartRoot" in source.catalog or any("title" not in p.index for p in index.pieces)
            had_labels = "PageLabels" in source.catalog
            for job in plan.jobs:
                with open(files.part(job.name), "wb") as out:
                    _Job(source, index, pieces, job, write_dparts, had_labels, stamp_time, out,
                         plan.stamps, stamp_layout).build()
    except PdfSyntaxError as exc:
        raise StreamError(f"cannot write print jobs: damaged PDF: {exc}", path=path, offset=exc.offset) from None
    except (ValueError, TypeError, KeyError, IndexError, OverflowError, RecursionError, MemoryError) as exc:
        # a structure no check foresaw is still a damaged file to the caller, as in pdf_index
        raise StreamError(f"cannot write print jobs: unreadable PDF ({type(exc).__name__}: {exc})", path=path) from exc


class _Shape(NamedTuple):
    """Where the references are in the tokens of the pages of one shape (`_Source.shape_of`)."""

    refs: tuple[int, ...]  # each reference's number token (its generation the next one), /Parent's aside
    parent: int


_SHAPES = 256  # page shapes kept


class _Source:
    """The source's catalog, pages (each with what it inherits) and the objects no job may copy."""

    def __init__(self, doc: PdfObjects, path: str, layout: Any = None) -> None:
        self.doc, self.path = doc, path
        trailer = doc.trailer
        if "Encrypt" in trailer:
            raise StreamError("the PDF is encrypted", path=path, offset=trailer.offset)
        head = doc.read(0, 1024)
        m = _VERSION.search(head)
        self.version = m.group(1) if m else b"1.7"
        root_ref = trailer.get("Root")
        catalog = doc.resolve(root_ref)
        if not isinstance(catalog, PdfDict):
            raise PdfSyntaxError("the trailer names no document catalog (/Root)", trailer.offset)
        self.catalog = catalog
        self.info = trailer.get("Info")
        self.cut: set[int] = set()  # object numbers written as null wherever a copied object refers to them
        if type(root_ref) is Ref:
            self.cut.add(root_ref.num)
        for key in _CATALOG_CUT:
            v = catalog.get(key)
            if type(v) is Ref:
                self.cut.add(v.num)
        names = doc.resolve(catalog.get("Names"))
        if isinstance(names, PdfDict) and type(names.get("Dests")) is Ref:
            self.cut.add(names["Dests"].num)
        # (ref, its dictionary, or its text when not parsed, what it inherits and does not have itself)
        self.pages: list[tuple[Ref, PdfDict | bytes, dict[str, Any]]] = []
        self.page_nums: set[int] = set()
        self.cache: dict[Ref, tuple[list, bytes | None]] = {}
        self.shapes: dict[bytes, _Shape | None] = {}  # see shape_of
        # content streams the index checked (PdfLayout.streams): copied without reading their dictionaries again
        self.streams: dict[int, tuple[bytes, int, int]] = {}
        if isinstance(layout, PdfLayout) and layout.fits(doc.stat):
            # the index kept the page table (StreamIndex.layout) and the file is as it was then
            self.pages = layout.pages
            self.page_nums = {r.num for r, _, _ in layout.pages}
            self.cut |= layout.nodes
            self.streams = layout.streams
        else:
            self._walk(catalog.get("Pages"))

    def shape_of(self, text: bytes) -> _Shape | None:
        """Where the references are among a plain page text's white-space separated tokens, the same for every
        page whose text has digits in the same places and everything else alike (most pages of a stream):
        learnt from the first such page. None when the page is not that simple: a key to drop, a /Parent that
        is not one top-level reference, a reference whose number is not a token of its own."""
        key = text.translate(DIGITS_AS_ZERO)
        if key in self.shapes:
            return self.shapes[key]
        shape = None
        p = text.find(b"/Parent")
        m = _PARENT.match(text, p) if p >= 0 and text.find(b"/Parent", p + 7) < 0 else None
        if m is not None and _top_level(text, p) and _PAGE_DROP_KEYS.search(text) is None and \
                text.lstrip().startswith(b"<<"):
            tokens = text.split()
            refs, parent = [], -1
            for r in _REF.finditer(text):
                i = len(text[:r.start()].split())
                if i + 2 >= len(tokens) or tokens[i] != r.group(1) or tokens[i + 1] != r.group(2) or \
                        not tokens[i + 2].startswith(b"R"):
                    break  # the number is glued to what is before it, or the R is not where it is expected
                if p < r.start() < m.end():
                    parent = i
                else:
                    refs.append(i)
            else:
                shape = _Shape(tuple(refs), parent) if parent >= 0 else None
        if len(self.shapes) < _SHAPES:
            self.shapes[key] = shape
        return shape

    def copy_of(self, r: Ref) -> tuple[list, bytes | None] | None:
        """An object's text split at its references (`_split_refs`) and its stream data; None for a free or
        missing object. Objects without stream data are kept (a bounded number): a split copies the shared
        ones (fonts, resources, /Info) into every job."""
        got = self.cache.get(r)
        if got is None:
            src = self.doc.source_of(r)
            if src is None:
                return None
            got = (_split_refs(src[0]), src[1])
            if src[1] is None and len(self.cache) < _CACHE:
                self.cache[r] = got
        return got

    def _walk(self, tree_ref: Any) -> None:
        if type(tree_ref) is not Ref:
            raise PdfSyntaxError("the catalog's /Pages is not a reference", self.catalog.offset)
        doc, pages, nums = self.doc, self.pages, self.page_nums
        # the page tree nodes join the objects no job copies
        for ref, page, inherited in walk_pages(doc, tree_ref, inherit=True, nodes=self.cut):
            if ref.num in nums:
                raise PdfSyntaxError(f"page object {ref.num} appears twice in the page tree", doc.offset_of(ref))
            nums.add(ref.num)
            pages.append((ref, page, inherited))


class _Job:
    """One print job's file, built in memory: objects numbered as they are first met."""

    def __init__(self, source: _Source, index: StreamIndex, pieces: dict[str, Piece], job: PrintJobPlan,
                 write_dparts: bool, had_labels: bool, stamp_time: str, out: BinaryIO,
                 stamps: dict[tuple[str, int], SheetStamp], layout: StampLayout) -> None:
        self.source, self.doc = source, source.doc
        self.index, self.pieces, self.job = index, pieces, job
        self.write_dparts, self.had_labels, self.stamp_time = write_dparts, had_labels, stamp_time
        self.stamps, self.layout = stamps, layout
        self.page_drop, self.page_drop_keys = (_PAGE_DROP_STAMPED, _PAGE_DROP_KEYS_STAMPED) if stamps else \
            (_PAGE_DROP, _PAGE_DROP_KEYS)
        self.n_open: int | None = None  # the `q` stream opening every stamped page's contents, once written
        self.boxes: dict[bytes, list[float]] = {}  # a plain MediaBox array's text -> its numbers
        self.twin_head = b"".join((b"/PieceInfo<</PMC<</LastModified", _ser(PdfString(stamp_time.encode()), _plain),
                                   b"/Private<<"))
        self.new: dict[int, int] = {}  # source object number -> number in this file
        self.count = 1
        self.queue: list[Ref] = []  # objects numbered and not yet written
        self.owners: list[tuple[int, str] | None] = []  # for each, the page (1-based) and piece first needing it
        self.current: tuple[int, str] | None = None  # the page being written, or the one needing what is
        self.nulled = 0  # references written as null
        self.seen: dict[bytes, bytes] = {}  # a reference's text in a page's text -> in this file
        self.seen_nums: dict[bytes, bytes] = {}  # the same, the object number's text alone (`_shaped`)
        self.out = out
        self.chunks: list[bytes] = [b"%PDF-" + source.version + b"\n%\xe2\xe3\xcf\xd3\n"]
        self.pos = len(self.chunks[0])
        self.flushed = 0  # bytes of self.pos already written to out
        self.offsets: dict[int, int] = {}

    def number(self) -> int:
        n = self.count
        self.count += 1
        return n

    def join(self, parts: list) -> bytes:
        """An object's text from its parts (`_split_refs`), its references renumbered for this file."""
        if len(parts) == 1:
            return parts[0]
        ref = self.ref
        return b"".join([p if k % 2 == 0 else ref(p) for k, p in enumerate(parts)])

    def renumber(self, text: bytes, plain: bool = False) -> bytes:
        """`join(_split_refs(text))` for text seen once (a page's, a stream's dictionary): one pass, the text
        split at its references by `_REF.split`. `plain`: the text is known to hold no strings or comments."""
        if b"R" not in text:
            return text
        if not plain and _TEXTY.search(text) is not None:
            return self.join(_split_refs(text))
        parts = _REF.split(text)  # [text, number, generation, text, ...]
        seen = self.seen
        for i in range(1, len(parts), 3):
            gen = parts[i + 1]
            key = parts[i] if gen == b"0" else parts[i] + b" " + gen
            got = seen.get(key)
            if got is None:
                got = self.ref(Ref(int(parts[i]), int(gen)))
                if got != b"null":  # each null is counted
                    seen[key] = got
            parts[i] = got
            parts[i + 1] = b""
        return b"".join(parts)

    def ref(self, r: Ref) -> bytes:
        n = self.new.get(r.num)
        if n is None:
            if r.num in self.source.cut or r.num in self.source.page_nums:
                self.nulled += 1
                return b"null"  # see the module's docstring: a page of another job, the old tree or catalog
            n = self.new[r.num] = self.number()
            self.queue.append(r)
            self.owners.append(self.current)
        return b"%d 0 R" % n

    def emit(self, n: int, body: bytes, data: bytes | None = None) -> None:
        self.offsets[n] = self.pos
        chunk = b"%d 0 obj\n%b\nendobj\n" % (n, body) if data is None else \
            b"".join((b"%d 0 obj\n" % n, body, b"\nstream\n", data, b"\nendstream\nendobj\n"))
        self.chunks.append(chunk)
        self.pos += len(chunk)
        if self.pos - self.flushed > _FLUSH:
            self.out.write(b"".join(self.chunks))
            self.chunks.clear()
            self.flushed = self.pos

    def drain(self) -> None:
        """Copy every object met and not yet written, and what they refer to: a round at a time, each round's
        objects read in file order (`PdfObjects.plain_objects`); the general reader (`_Source.copy_of`) takes
        what is not in the common shape. A damaged object is a StreamError naming the first page (in this
        job's order) that needs it."""
        doc, cache, new, streams = self.doc, self.source.cache, self.new, self.source.streams
        while self.queue:
            batch, owners = self.queue, self.owners
            self.queue, self.owners = [], []
            reads: list[Ref] = []
            read_owners: list[tuple[int, str] | None] = []
            known: list[tuple[int, int, Ref, tuple[int, str] | None]] = []  # (offset, length, ref, owner)
            for r, owner in zip(batch, owners):
                got = cache.get(r)
                if got is not None:
                    self.current = owner
                    self.emit(new[r.num], self.join(got[0]))
                elif r.gen == 0 and r.num in streams:
                    _, at, length = streams[r.num]
                    known.append((at, length, r, owner))
                else:
                    reads.append(r)
                    read_owners.append(owner)
            if known:
                known.sort()
                for (_, _, r, owner), data in zip(known, doc.spans([(at, n) for at, n, _, _ in known])):
                    self.current = owner
                    self.emit(new[r.num], self.renumber(streams[r.num][0], True), data)
            for k, text, buf, base, data_at in doc.plain_objects(reads):
                r = reads[k]
                self.current = read_owners[k]
                try:
                    got = None
                    if text:
                        if data_at < 0:
                            got = (text, None)
                        else:
                            found = _LENGTHS.findall(text)
                            if len(found) == 1 and not found[0][1]:
                                length = int(found[0][0])
                                if doc.stream_end_ok(buf, base, data_at, length):
                                    at = data_at - base
                                    got = (text, buf[at:at + length] if at + length <= len(buf) else
                                           doc.read(data_at, length))
                        if got is not None and got[1] is None and len(cache) < _CACHE:
                            cache[r] = (_split_refs(got[0]), None)
                    if got is None:
                        src = self.source.copy_of(r)
                        if src is None:
                            # a reference to a free object is a null (ISO 32000-1 7.3.10)
                            self.emit(new[r.num], b"null")
                            continue
                        self.emit(new[r.num], self.join(src[0]), src[1])
                    else:
                        self.emit(new[r.num], self.renumber(got[0], True), got[1])
                except PdfSyntaxError as exc:
                    raise self._damaged(exc) from None

    def _damaged(self, exc: PdfSyntaxError) -> StreamError:
        """A damaged object met while copying, as an error naming the first page of the job that needs it."""
        if self.current is None:
            return StreamError(f"cannot copy the catalog's objects: damaged PDF: {exc}", path=self.index.path,
                               offset=exc.offset)
        page, piece_id = self.current
        return StreamError(f"cannot copy the page's objects: damaged PDF: {exc}", path=self.index.path,
                           offset=exc.offset, page=page, piece_id=piece_id)

    def _parsed(self, r: Ref) -> PdfDict:
        """A page kept as its text, parsed."""
        page = self.doc.resolve(r)
        if not isinstance(page, PdfDict):
            raise PdfSyntaxError(f"page object {r.num} is not a dictionary", self.doc.offset_of(r))
        return page

    def _page(self, r: Ref, page: PdfDict | bytes, inherited: dict[str, Any], n_pages: int, leaf: int | None,
              stamp: SheetStamp | None = None) -> bytes:
        """A page's dictionary for this file: its own text with /Parent replaced (and, stamped, /Contents
        replaced and /PieceInfo added), when that is all it takes (the common case); else parsed and written
        again without the keys the module's docstring names."""
        ref = self.ref
        new_keys = [b"<</Parent %d 0 R" % n_pages]
        for k, v in inherited.items():
            new_keys += [_name(k), b" ", _ser(v, ref)]
        if leaf is not None:
            new_keys.append(b"/DPart %d 0 R" % leaf)
        if type(page) is bytes:
            text = page
            if stamp is None:
                got = self._shaped(text, new_keys[1:], n_pages)
                if got is not None:
                    return got
            p = text.find(b"/Parent")
            if p >= 0 and text.find(b"/Parent", p + 7) < 0 and self.page_drop_keys.search(text) is None:
                m = _PARENT.match(text, p)
                if m is not None and _top_level(text, p):
                    start = text.find(b"<<") + 2
                    if stamp is None:
                        new_keys.append(self.renumber(text[start:p] + text[m.end():], True))
                        return b"".join(new_keys)
                    box = self._plain_box(text, inherited)
                    got = self._plain_contents(text) if box is not None else None
                    if got is not None:
                        c, c_end, parts = got
                        rest, at = [], start
                        for a, b in sorted([(p, m.end()), (c, c_end)]) if c < c_end else [(p, m.end())]:
                            rest.append(text[at:a])
                            at = b
                        rest.append(text[at:])
                        new_keys.append(self._stamped(stamp, parts, box))
                        new_keys.append(self.renumber(b"".join(rest), True))
                        return b"".join(new_keys)
            page = self._parsed(r)
        body = new_keys
        drop = self.page_drop
        if stamp is not None:
            contents = page.get("Contents")
            got = self.doc.resolve(contents)
            parts = [] if got is None else [_ser(x, ref) for x in got] if isinstance(got, list) else \
                [_ser(contents, ref)]
            body.append(self._stamped(stamp, parts, self._box(page.get("MediaBox", inherited.get("MediaBox")))))
            drop = drop | {"Contents"}
        for k, v in page.items():
            if k not in drop:
                body += [_name(k), b" ", _ser(v, ref)]
        body.append(b">>")
        return b"".join(body)

    def _shaped(self, text: bytes, extra: list[bytes], n_pages: int) -> bytes | None:
        """An unstamped plain page's text for this file through its shape (`_Source.shape_of`): split at white
        space, the /Parent reference set to the new tree, the others renumbered, `extra` (inherited keys, the
        DPart) put after `<<`. None when the shape is not known to allow it, or a reference is written null
        (the general path does that)."""
        shape = self.source.shape_of(text)
        if shape is None:
            return None
        tokens = text.split()
        nums, seen, cut, page_nums = self.seen_nums, self.seen, self.source.cut, self.source.page_nums
        for i in shape.refs:
            num, gen = tokens[i], tokens[i + 1]
            key = num if gen == b"0" else num + b" " + gen
            got = nums.get(key)
            if got is None:
                r = Ref(int(num), int(gen))
                if r.num not in self.new and (r.num in cut or r.num in page_nums):
                    return None  # to be written null: the general path does it (and counts it)
                number = self.ref(r)
                got = nums[key] = number[:-4]  # b"N 0 R" -> b"N"
                seen[key] = number
            tokens[i] = got
            tokens[i + 1] = b"0"
        tokens[shape.parent] = b"%d" % n_pages
        tokens[shape.parent + 1] = b"0"
        if extra:
            tokens[0] = b"".join((b"<<", *extra, b" ", tokens[0][2:]))
        return b" ".join(tokens)

    def _plain_contents(self, text: bytes) -> tuple[int, int, list[bytes]] | None:
        """Where a plain page's /Contents entry is and its content streams, renumbered: (start, end, [ref])
        (start == end: it has none); None when it is not a reference or an array of references at the top
        level."""
        c = text.find(b"/Contents")
        if c < 0:
            return 0, 0, []
        m = _CONTENTS.match(text, c)
        if m is None or text.find(b"/Contents", c + 9) >= 0 or not _top_level(text, c):
            return None
        refs = [Ref(int(a), int(b)) for a, b in _REF_PAIR.findall(m.group(1))]
        if m.group(1)[:1] != b"[" and not (refs[0].gen == 0 and refs[0].num in self.source.streams):
            got = self.doc.resolve(refs[0])  # a stream, or an array of them (which pikepdf takes apart too)
            if isinstance(got, list):
                if not all(type(x) is Ref for x in got):
                    return None
                refs = got
            elif got is None:
                refs = []
        return c, m.end(), [self.ref(x) for x in refs]

    def _plain_box(self, text: bytes, inherited: dict[str, Any]) -> list[float] | None:
        """A plain page's MediaBox, its own or inherited; None when its own is not once at the top level."""
        b = _MEDIA_BOX.search(text)
        if b is None:
            return self._box(inherited.get("MediaBox"))
        if not _top_level(text, b.start()) or _MEDIA_BOX.search(text, b.end()) is not None:
            return None
        value = b.group(1)
        try:
            if value is None:  # not a plain array
                return self._box(parse_text(text, b.end()))
            box = self.boxes.get(value)  # most pages of a stream have the same box, written the same way
            if box is None:
                box = self._box(parse_text(value))
                if len(self.boxes) < 64:
                    self.boxes[value] = box
        except PdfSyntaxError:
            return None  # the page is parsed, which says what is wrong and where in the file
        return box

    def _box(self, value: Any) -> list[float]:
        """A MediaBox's four numbers; US letter for none (as pdf.PdfWriter._stamp)."""
        box = self.doc.resolve(value)
        if box is None:
            return _LETTER
        nums = [self.doc.resolve(v) for v in box] if isinstance(box, list) else []
        if len(nums) != 4 or not all(type(v) in (int, float) for v in nums):
            raise PdfSyntaxError("a stamped page's /MediaBox is not 4 numbers", getattr(box, "offset", 0))
        return nums

    def _stamped(self, stamp: SheetStamp, parts: list[bytes], box: list[float]) -> bytes:
        """A stamped page's new /Contents (its content streams `parts` between the job's `q` stream and a new
        stream of the stamp's drawing) and /PieceInfo; the new streams written."""
        if self.n_open is None:
            self.n_open = self.number()
            self.emit(self.n_open, b"<</Length 2>>", b"q\n")
        n = self.number()
        data = stamp_content(stamp, box, self.layout)
        self.emit(n, b"<</Length %d>>" % len(data), data)
        twin = [b"/Contents[%d 0 R " % self.n_open, *[x + b" " for x in parts], b"%d 0 R]" % n, self.twin_head]
        for k, v in stamp_twin(stamp).items():
            twin += [_name(k), _ser(_text_string(v), _plain) if type(v) is str else b" %d" % v]
        twin.append(b">>>>>>")
        return b"".join(twin)

    def build(self) -> None:
        index, pieces, source = self.index, self.pieces, self.source
        n_pages, n_catalog, n_outlines = self.number(), self.number(), self.number()
        # every page of the job, numbered before anything refers to it
        plan: list[tuple[Piece, int, list[tuple[Ref, PdfDict, dict[str, Any]]], int, int | None, int | None]] = []
        for pid in self.job.piece_ids:
            piece = pieces[pid]
            first, count = index.spans.get(pid, (piece.first_page, piece.pages))
            objs = source.pages[first:first + count]
            if not objs:
                raise StreamError("a piece without pages", path=index.path, piece_id=pid)
            for r, _, _ in objs:
                self.new[r.num] = self.number()
            item = self.number()
            leaf = self.number() if self.write_dparts else None
            pad = self.number() if piece.plex is Plex.DUPLEX and count % 2 else None
            plan.append((piece, first, objs, item, leaf, pad))
        n_dpart_node = self.number() if self.write_dparts else None
        n_dpart_root = self.number() if self.write_dparts else None
        ref = self.ref
        kids: list[int] = []
        items: list[int] = []
        leaves: list[int] = []
        label_nums: list[Any] = []
        stamp = PdfString(self.stamp_time.encode())
        stamps = self.stamps
        for k_piece, (piece, first, objs, item, leaf, pad) in enumerate(plan):
            start_at = len(kids)
            step = 2 if piece.plex is Plex.DUPLEX else 1  # the front pages of the piece's sheets are stamped
            for j, (r, page, inherited) in enumerate(objs):
                n = self.new[r.num]
                kids.append(n)
                self.current = (first + j + 1, piece.piece_id)
                sheet_stamp = stamps.get((piece.piece_id, j // step + 1)) if stamps and j % step == 0 else None
                try:
                    self.emit(n, self._page(r, page, inherited, n_pages, leaf, sheet_stamp))
                except PdfSyntaxError as exc:
                    raise self._damaged(exc) from None
            if pad is not None:
                r, page, inherited = objs[-1]
                if type(page) is bytes:
                    page = self._parsed(r)
                last_box = page.get("MediaBox", inherited.get("MediaBox"))
                # the next piece starts on a front side: a blank back for this piece's last sheet (as pdf.py)
                kids.append(pad)
                box = last_box if last_box is not None else [0, 0, 612, 792]
                private = {Name("Pad"): True, Name("PieceID"): PdfString(piece.piece_id.encode()),
                           Name("Sheet"): (len(objs) + 1) // 2}
                self.emit(pad, b"<</Type/Page/Parent %d 0 R/MediaBox " % n_pages + _ser(box, ref)
                          + b"/Resources<<>>/PieceInfo"
                          + _ser({Name("PMC"): {Name("LastModified"): stamp, Name("Private"): private}}, _plain) + b">>")
            if len(self.queue) >= _ROUND:
                self.drain()
            items.append(item)
            first_new = self.new[objs[0][0].num]
            title = piece.index.get("title") or outline_title(piece)
            item_text = [b"<</Title ", _ser(_text_string(title), _plain), b"/Dest[%d 0 R/Fit]/Parent %d 0 R"
                         % (first_new, n_outlines)]
            if len(items) > 1:
                item_text.append(b"/Prev %d 0 R" % items[-2])
            if k_piece + 1 < len(plan):
                item_text.append(b"/Next %d 0 R" % plan[k_piece + 1][3])
            item_text.append(b">>")
            self.emit(item, b"".join(item_text))
            if leaf is not None:
                leaves.append(leaf)
                self.emit(leaf, b"<</Type/DPart/Parent %d 0 R/Start %d 0 R/End %d 0 R/DPM %b>>" % (
                    n_dpart_node, first_new, self.new[objs[-1][0].num], _ser(_dpm(piece), _plain)))
            if self.had_labels:
                label_nums += [start_at, {Name("S"): Name("D"), Name("P"): _text_string(
                    piece.index.get("label") or f"{piece.piece_id}-"), Name("St"): 1}]
        self.emit(n_pages, b"<</Type/Pages/Kids[" + b" ".join(b"%d 0 R" % k for k in kids)
                  + b"]/Count %d>>" % len(kids))
        outline = {Name("Type"): Name("Outlines"), Name("Count"): len(items)}
        if items:
            outline[Name("First")], outline[Name("Last")] = Ref(items[0], 0), Ref(items[-1], 0)
        self.emit(n_outlines, _ser(outline, _plain))
        self.current = None  # what follows is the document's, no page's
        catalog = [b"<</Type/Catalog"]
        for k, v in source.catalog.items():
            if k in _CATALOG_DROP or k == "Type":
                continue
            if k == "Names":
                names = self.doc.resolve(v)
                if isinstance(names, PdfDict) and "Dests" in names:
                    v = PdfDict((nk, nv) for nk, nv in names.items() if nk != "Dests")
                    if not v:
                        continue
            catalog += [_name(k), b" ", _ser(v, ref)]
        catalog.append(b"/Pages %d 0 R/Outlines %d 0 R" % (n_pages, n_outlines))
        if n_dpart_node is not None and n_dpart_root is not None:
            self.emit(n_dpart_node, _ser({Name("Type"): Name("DPart"),
                                          Name("DParts"): [[Ref(x, 0) for x in leaves]]}, _plain))
            self.emit(n_dpart_root, _ser({Name("Type"): Name("DPartRoot"), Name("DPartRootNode"): Ref(n_dpart_node, 0),
                                          Name("RecordLevel"): 1}, _plain))
            catalog.append(b"/DPartRoot %d 0 R" % n_dpart_root)
        if self.had_labels:
            catalog += [b"/PageLabels", _ser({Name("Nums"): label_nums}, _plain)]
        catalog.append(b">>")
        self.emit(n_catalog, b"".join(catalog))
        info = ref(source.info) if type(source.info) is Ref else None
        self.drain()
        if self.nulled:
            logger.info("%s: print job %s: %d references to pages of other jobs or to the source's page tree, "
                        "catalog, outline or structure written as null", index.path, self.job.name, self.nulled)
        self.finish(info)

    def finish(self, info: bytes | None) -> None:
        size = self.count
        if len(self.offsets) != size - 1:  # every number given out is written exactly once
            raise AssertionError(f"{size - 1} objects numbered, {len(self.offsets)} written")
        xref_at = self.pos
        offsets = self.offsets
        rows = [b"xref\n0 %d\n0000000000 65535 f \n" % size]
        rows += [b"%010d 00000 n \n" % offsets[n] for n in range(1, size)]
        digest = hashlib.md5(b"%s\0%s\0%d\0%s" % (self.index.path.encode(), self.job.name.encode(), xref_at,
                                                 self.stamp_time.encode())).hexdigest().encode()
        trailer = b"trailer\n<</Size %d/Root 2 0 R" % size
        if info is not None and info != b"null":
            trailer += b"/Info " + info
        trailer += b"/ID[<%s><%s>]>>\nstartxref\n%d\n%%%%EOF\n" % (digest, digest, xref_at)
        self.out.write(b"".join(self.chunks) + b"".join(rows) + trailer)
        self.chunks.clear()


def _plain(r: Ref) -> bytes:
    """A reference among new objects, already numbered for this file."""
    return b"%d 0 R" % r.num


def _dpm(piece: Piece) -> dict:
    dpm: dict[Any, Any] = {Name("PieceID"): _text_string(piece.piece_id),
                           Name("Address"): [_text_string(x) for x in piece.recipient]}
    if piece.postal_code:
        dpm[Name("PostalCode")] = _text_string(piece.postal_code)
    for k, v in piece.index.items():
        if k not in ("title", "label") and re.fullmatch(r"[A-Za-z][A-Za-z0-9_]*", k):
            dpm[Name(k)] = _text_string(v)
    return dpm


def _text_string(s: str) -> PdfString:
    """A text string as pikepdf writes one: PDFDocEncoding where it suffices, else UTF-16BE."""
    if _NOT_PDFDOC.search(s) is None:
        return PdfString(s.encode("latin-1"))
    return PdfString(b"\xfe\xff" + s.encode("utf-16-be"))


_NAMES: dict[str, bytes] = {}


def _name(s: str) -> bytes:
    b = _NAMES.get(s)
    if b is None:
        b = b"/" + _NAME_ESCAPE.sub(lambda m: b"#%02X" % m[0][0], s.encode("latin-1"))
        if len(_NAMES) < 4096:
            _NAMES[s] = b
    return b


def _ser(v: Any, ref: Callable[[Ref], bytes]) -> bytes:
    """A parsed value as PDF text, references through `ref`."""
    t = type(v)
    if t is Ref:
        return ref(v)
    if t is Name:
        return _name(v)
    if t is int:
        return b"%d" % v
    if t is PdfString:
        return b"(" + v.replace(b"\\", b"\\\\").replace(b"(", b"\\(").replace(b")", b"\\)").replace(b"\r", b"\\r") \
            + b")"
    if t is bool:
        return b"true" if v else b"false"
    if t is float:
        s = repr(v)
        if "e" in s or "n" in s:  # exponents, inf, nan: PDF has no syntax for them
            s = f"{v:.10f}".rstrip("0").rstrip(".") if v == v and abs(v) < 1e30 else "0"
        return s.encode()
    if v is None:
        return b"null"
    if isinstance(v, dict):
        return b"<<" + b"".join(_name(k) + b" " + _ser(x, ref) for k, x in v.items()) + b">>"
    if isinstance(v, list):
        return b"[" + b" ".join(_ser(x, ref) for x in v) + b"]"
    if t is Stream:
        raise PdfSyntaxError("a stream where a direct value belongs", v.dict.offset)
    raise TypeError(f"cannot write a {t.__name__}")


def _split_refs(text: bytes) -> list:
    """An object's text split at its references: [text, Ref, text, ..., text], literal strings and comments
    left whole (`1 0 R` inside a string is no reference)."""
    if b"R" not in text:
        return [text]
    parts: list = []
    last = pos = 0
    n = len(text)
    while pos < n:
        m = _TEXTY.search(text, pos)
        code_end = m.start() if m is not None else n
        for r in _REF.finditer(text, pos, code_end):
            parts += [text[last:r.start()], Ref(int(r.group(1)), int(r.group(2)))]
            last = r.end()
        if m is None:
            break
        pos = _literal_end(text, code_end) if text[code_end] == 0x28 else _line_end(text, code_end)
    parts.append(text[last:])
    return parts


def _literal_end(text: bytes, at: int) -> int:
    depth, i, n = 0, at, len(text)
    while i < n:
        c = text[i]
        if c == 0x5c:  # backslash: the next byte is escaped
            i += 2
            continue
        if c == 0x28:
            depth += 1
        elif c == 0x29:
            depth -= 1
            if depth == 0:
                return i + 1
        i += 1
    return n


def _line_end(text: bytes, at: int) -> int:
    ends = [e for e in (text.find(b"\n", at), text.find(b"\r", at)) if e >= 0]
    return min(ends) + 1 if ends else len(text)
