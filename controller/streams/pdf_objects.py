"""A lazy, strict reader of a PDF file's object structure, for indexing without holding the file.

Only what is asked for is read: the cross-reference sections (classic tables, cross-reference streams,
hybrid files, the /Prev chain), then single objects by reference, each read through a small block cache
(`_BLOCKS` blocks of `_BLOCK` bytes) or, inside an object stream, from one of the last `_OBJSTM_CACHE`
object streams decompressed. A stream's data is never read, except an object stream's and a
cross-reference stream's; a stream's /Length is checked against the `endstream` that must follow it.

Working memory is the block and object-stream caches (bounded) plus the cross-reference offsets, 8 bytes
per object number (the 10,000-page benchmark file has 23,000 objects: 184 kB). `peek` reads a few
top-level entries of a dictionary without parsing the rest, and `iter_refs` the references of a long
array (a page tree node's /Kids) a window at a time, so a page tree walk holds no list of its pages.

Fast paths, each falling back to the general parser for anything outside the common shape they check:
`plain_objects` reads a batch of objects in file order, one window read for many, and gives each one's
dictionary text and where its stream data starts (a page tree walk, the content stream checks and the
copying writer read every page and content stream this way); `dict_text` gives an outline entry's text,
`node_parts` a big page tree node's entries apart from its /Kids, `spans` stream data in file order.
`xref()` hands what was read of the cross-reference to another reader of the same file (the copying
writer after the index), which uses it only while the file's size, mtime and inode are unchanged.

Strict: what qpdf would repair (an object not where the cross-reference puts it, a stream length that
does not reach `endstream`, a cross-reference entry that does not parse, a loop in the /Prev chain) is a
`PdfSyntaxError` with the byte offset of what is wrong. Values come back as Python values: dict (`PdfDict`,
with the object's offset), list, int, float, bool, None, `Name` (a str, without the slash), `PdfString`
(bytes; `.text()` decodes PDFDocEncoding or UTF-16), `Ref` and `Stream` (the dictionary and where its
data lies).
"""

from __future__ import annotations

import os
import re
import zlib
from array import array
from typing import Any, Iterator, NamedTuple, Sequence

__all__ = ["PdfSyntaxError", "PdfObjects", "PdfDict", "Name", "PdfString", "Ref", "Stream", "COMPLEX", "parse_text"]

_BLOCK = 1 << 16
_BLOCKS = 4  # 256 kB of file bytes at most
_OBJSTM_CACHE = 4
_MAX_DEPTH = 200  # nesting of arrays and dictionaries in one object
_MAX_INFLATE = 64 << 20


COMPLEX = object()  # what `peek` gives for an entry it does not parse


class PdfSyntaxError(Exception):
    def __init__(self, message: str, offset: int) -> None:
        super().__init__(message)
        self.offset = offset


class Ref(NamedTuple):
    num: int
    gen: int


_new_tuple = tuple.__new__  # Ref made as `_new_tuple(Ref, (num, gen))`: half the time of Ref(num, gen)


class Name(str):
    __slots__ = ()


class PdfDict(dict):
    """A dictionary, with where the object holding it starts (0 when not known) and its reference."""

    __slots__ = ("offset", "ref")

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.offset = 0
        self.ref: Ref | None = None


class Xref(NamedTuple):
    """A file's cross-reference as read (`PdfObjects.xref`), with the file's (size, mtime_ns, inode) then."""

    stat: tuple[int, int, int]
    offsets: Any  # array("q") by object number; see PdfObjects._load_xref
    gens: dict[int, int]
    trailer: "PdfDict"


class Stream(NamedTuple):
    dict: PdfDict
    data_offset: int
    length: int


# PDFDocEncoding (ISO 32000-1 Annex D) where it is not Latin-1
_PDFDOC = {0x18: "\u02d8", 0x19: "\u02c7", 0x1a: "\u02c6", 0x1b: "\u02d9", 0x1c: "\u02dd", 0x1d: "\u02db",
           0x1e: "\u02da", 0x1f: "\u02dc", 0x80: "\u2022", 0x81: "\u2020", 0x82: "\u2021", 0x83: "\u2026",
           0x84: "\u2014", 0x85: "\u2013", 0x86: "\u0192", 0x87: "\u2044", 0x88: "\u2039", 0x89: "\u203a",
           0x8a: "\u2212", 0x8b: "\u2030", 0x8c: "\u201e", 0x8d: "\u201c", 0x8e: "\u201d", 0x8f: "\u2018",
           0x90: "\u2019", 0x91: "\u201a", 0x92: "\u2122", 0x93: "\ufb01", 0x94: "\ufb02", 0x95: "\u0141",
           0x96: "\u0152", 0x97: "\u0160", 0x98: "\u0178", 0x99: "\u017d", 0x9a: "\u0131", 0x9b: "\u0142",
           0x9c: "\u0153", 0x9d: "\u0161", 0x9e: "\u017e", 0xa0: "\u20ac"}
_PDFDOC_SPECIAL = re.compile(rb"[\x18-\x1f\x80-\xa0]")


class PdfString(bytes):
    __slots__ = ()

    def text(self) -> str:
        if self.startswith(b"\xfe\xff"):
            return self[2:].decode("utf-16-be", errors="replace")
        if self.startswith(b"\xef\xbb\xbf"):
            return self[3:].decode("utf-8", errors="replace")
        s = self.decode("latin-1")
        return s.translate(_PDFDOC) if _PDFDOC_SPECIAL.search(self) else s


_WS = rb"\x00\t\n\x0c\r "
_WS_BYTES = b"\x00\t\n\x0c\r "
_DELIM = rb"()<>\[\]{}/%"
_REGULAR = rb"[^" + _WS + _DELIM + rb"]"
_SKIP = rb"[" + _WS + rb"]*(?:%[^\r\n]*[" + _WS + rb"]*)*"
_TOKEN = re.compile(
    _SKIP + rb"(?:"
    rb"(?P<ref>(?P<rn>\d+)[" + _WS + rb"]+(?P<rg>\d+)[" + _WS + rb"]+R)(?!" + _REGULAR + rb")"
    rb"|(?P<int>[+-]?\d+)(?![" + rb".\d" + rb"]|" + _REGULAR + rb")"
    rb"|(?P<real>[+-]?(?:\d+\.\d*|\.\d+|\d+\.))(?!" + _REGULAR + rb")"
    rb"|/(?P<name>" + _REGULAR + rb"*)"
    rb"|(?P<dopen><<)|(?P<dclose>>>)|(?P<aopen>\[)|(?P<aclose>\])"
    rb"|<(?P<hex>[0-9A-Fa-f" + _WS + rb"]*)>"
    rb"|(?P<lit>\()"
    rb"|(?P<kw>true|false|null|endobj|stream|endstream|obj|R)(?!" + _REGULAR + rb")"
    rb")")
_HEADER = re.compile(rb"(\d+)[" + _WS + rb"]+(\d+)[" + _WS + rb"]+obj(?!" + _REGULAR + rb")")
_NAME_ESC = re.compile(rb"#([0-9A-Fa-f]{2})")
_LIT_SPECIAL = re.compile(rb"[()\\]")
_ESCAPES = {ord("n"): b"\n", ord("r"): b"\r", ord("t"): b"\t", ord("b"): b"\b", ord("f"): b"\f",
            ord("("): b"(", ord(")"): b")", ord("\\"): b"\\"}
_SPACE_BYTES = frozenset(_WS)
_XREF_ROW = re.compile(rb"(\d{10}) (\d{5}) ([nf])(?:\r\n| \r| \n)")
_XREF_ROWS = re.compile(rb"(?:\d{10} \d{5} [nf](?:\r\n| \r| \n))*")
_OBJ_END = re.compile(rb"[" + _WS + rb"]*(endobj|stream(?:\r\n|\n))")
_LONE_CR = re.compile(rb"[" + _WS + rb"]*stream\r(?!\n)")
_END_STREAM = re.compile(rb"(?:\r\n|\r|\n)?[" + _WS + rb"]*endstream")
# the fast path: a whole object's value split into tokens by one regex (strings without escapes or
# nested parentheses, no comments); anything else goes to parse_value
_FLAT = re.compile(rb"<<|>>|[\[\]]|\([^()\\]*\)|<[0-9A-Fa-f" + _WS + rb"]*>|/" + _REGULAR + rb"*|"
                   + _REGULAR + rb"+|[^" + _WS + rb"]")
_FREE, _UNSET = -1, -2
_REGULAR_AT = re.compile(_REGULAR)
_ARRAY_OPEN = re.compile(rb"[" + _WS + rb"]*\[")
_ARRAY_CLOSE = re.compile(rb"[" + _WS + rb"]*\]")
_REF_RUNS = re.compile(rb"(?:[" + _WS + rb"]*\d+[" + _WS + rb"]+\d+[" + _WS + rb"]+R(?!" + _REGULAR + rb"))*")
_REF_PAIR = re.compile(rb"(\d+)[" + _WS + rb"]+(\d+)[" + _WS + rb"]+R")
_SPACES = re.compile(rb"[" + _WS + rb"]*")
_PEEK_VALUE = re.compile(rb"[" + _WS + rb"]*(?:(?P<rn>\d+)[" + _WS + rb"]+(?P<rg>\d+)[" + _WS + rb"]+R(?!" + _REGULAR
                         + rb")|(?P<int>[+-]?\d+)(?![.\d]|" + _REGULAR + rb")|/(?P<name>" + _REGULAR + rb"*))?")
_LENGTHS = re.compile(rb"/Length(?!" + _REGULAR + rb")[" + _WS + rb"]*(\d+)((?:[" + _WS + rb"]+\d+[" + _WS + rb"]+R)?)(?!" + _REGULAR + rb")")
_AFTER_DICT = frozenset(b">\x00\t\n\x0c\r ")
_STARTXREF = re.compile(rb"startxref[" + _WS + rb"]+(\d+)[" + _WS + rb"]+%%EOF")
_SUBSECTION = re.compile(rb"[" + _WS + rb"]*(\d+) (\d+)[ \t]*(?:\r\n|\r|\n)")
_TRAILER = re.compile(rb"[" + _WS + rb"]*trailer")
_KEY_FINDERS: dict[tuple[bytes, ...], re.Pattern] = {}
_SIMPLE_STRING = re.compile(rb"\([^()\\]*\)")
# the bytes a dictionary's text in the common shape is made of: white space and printable ASCII but for
# parentheses (strings), % (comments) and braces; any other (a control character, a byte over 0x7e: legal
# only inside names, and then better #-escaped) sends the object to the general parser, which takes a name
# with such bytes and says what is wrong with anything else
_PLAIN_BYTES = bytes(b for b in range(256) if b in b"\x00\t\n\x0c\r " or 0x21 <= b <= 0x7e and b not in b"(){}%")
# A text whose every digit is read as 0: texts that differ only in their digits tokenize alike (a digit is a
# regular character, whatever token it is in), so one of them parsing whole vouches for the others
DIGITS_AS_ZERO = bytes.maketrans(b"123456789", b"000000000")
_SOUND = 4096  # such shapes remembered by one reader (`PdfObjects._sound_text`)
_WINDOW = 1 << 18  # bytes read at once by `plain_objects`
_NEAR = 1 << 16  # objects further apart than this are read separately
_NAME_ONLY = {Name}
_NAMES: dict[bytes, Name] = {}  # names met, by their bytes (a few dozen in practice; at most 4096 kept)
_DONE = object()


class _Frame(list):
    """An open dictionary while parsing: [the dictionary, the key waiting for its value or _DONE]."""

    __slots__ = ()


class _Short(Exception):
    """The buffer ended inside the object: read more."""


def _literal(data: bytes, pos: int) -> tuple[PdfString, int]:
    out = bytearray()
    depth = 1
    while True:
        m = _LIT_SPECIAL.search(data, pos)
        if m is None:
            raise _Short
        out += data[pos:m.start()]
        c = data[m.start()]
        pos = m.end()
        if c == 0x28:
            depth += 1
            out.append(c)
        elif c == 0x29:
            depth -= 1
            if depth == 0:
                return PdfString(out), pos
            out.append(c)
        else:
            if pos >= len(data):
                raise _Short
            e = data[pos]
            if e in _ESCAPES:
                out += _ESCAPES[e]
                pos += 1
            elif 0x30 <= e <= 0x37:
                end = pos
                while end < len(data) and end - pos < 3 and 0x30 <= data[end] <= 0x37:
                    end += 1
                out.append(int(data[pos:end], 8) & 0xff)
                pos = end
            elif e == 0x0d:
                pos += 2 if data[pos + 1:pos + 2] == b"\n" else 1
            elif e == 0x0a:
                pos += 1
            else:
                out.append(e)
                pos += 1


def _name(raw: bytes) -> Name:
    """A name from its bytes after the slash, #xx escapes decoded."""
    if b"#" in raw:
        raw = _NAME_ESC.sub(lambda e: bytes((int(e.group(1), 16),)), raw)
    return Name(raw.decode("latin-1"))


def _hex_string(body: bytes) -> PdfString:
    """A hex string from what is between its < and > (white space skipped, an odd last digit taken as x0)."""
    digits = bytes(c for c in body if c not in _SPACE_BYTES)
    if len(digits) % 2:
        digits += b"0"
    return PdfString(bytes.fromhex(digits.decode()))


def _ends(data: bytes, start: int) -> tuple[int, int]:
    """Where the first `endobj` and, before it, the first `stream` are in data[start:] (-1: not there)."""
    e = data.find(b"endobj", start)
    return e, data.find(b"stream", start, e if e >= 0 else len(data))


def _top_level(data: bytes, pos: int, start: int = 0) -> bool:
    """Whether `pos` in a dictionary's text data[start:] is at its top level (not in a nested dictionary or
    array); the text holds no strings or comments."""
    return data.count(b"<<", start, pos) - data.count(b">>", start, pos) == 1 and \
        data.count(b"[", start, pos) == data.count(b"]", start, pos)


def _fast_value(data: bytes, start: int, end: int) -> Any:
    """The value in data[start:end] when it is simple enough for one regex to split (else None)."""
    if data.find(b"%", start, end) >= 0:
        return None
    stack: list[list] = []
    cur: list = []
    names = _NAMES
    try:
        for t in _FLAT.findall(data, start, end):
            c = t[0]
            if c == 47:  # /
                name = names.get(t)
                if name is None:
                    name = _name(t[1:])
                    if len(names) < 4096:
                        names[t] = name
                cur.append(name)
            elif c == 60:  # <
                if t == b"<<":
                    stack.append(cur)
                    cur = _Frame()
                elif len(t) < 2 or t[-1] != 62:
                    return None
                else:
                    cur.append(_hex_string(t[1:-1]))
            elif c == 62:  # >>
                if type(cur) is not _Frame or len(cur) % 2 or t != b">>":
                    return None
                keys = cur[0::2]
                if set(map(type, keys)) - _NAME_ONLY:
                    return None
                d = PdfDict(zip(keys, cur[1::2]))
                if None in d.values():
                    d = PdfDict((k, v) for k, v in d.items() if v is not None)
                cur = stack.pop()
                cur.append(d)
            elif c == 91:  # [
                stack.append(cur)
                cur = []
            elif c == 93:  # ]
                if type(cur) is _Frame:
                    return None
                done = cur
                cur = stack.pop()
                cur.append(done)
            elif c == 40:  # (
                if len(t) < 2:
                    return None
                cur.append(PdfString(t[1:-1]))
            elif t == b"R":
                gen, num = cur.pop(), cur.pop()
                if type(gen) is not int or type(num) is not int or gen < 0 or num < 0:
                    return None
                cur.append(Ref(num, gen))
            elif 48 <= c <= 57 or c == 45 or c == 43:
                cur.append(int(t) if t.isdigit() or t[1:].isdigit() else float(t))
            elif c == 46:
                cur.append(float(t))
            elif t == b"true":
                cur.append(True)
            elif t == b"false":
                cur.append(False)
            elif t == b"null":
                cur.append(None)
            else:
                return None
    except (ValueError, IndexError):
        return None
    if stack or len(cur) != 1:
        return None
    return cur[0]


def parse_text(text: bytes, pos: int = 0) -> Any:
    """The value starting at text[pos:], text being all there is of it (a piece of an object's text): one that
    runs past the end is a PdfSyntaxError, as any other that does not parse (offsets within text)."""
    try:
        return parse_value(text, pos, 0)[0]
    except _Short:
        raise PdfSyntaxError("a value runs past the end of its text", len(text)) from None


def _parses_whole(text: bytes) -> bool:
    """Whether `text` (an object's value, up to its `endobj` or `stream`) is one value and white space: a text
    damaged into other printable characters (a `>>` too many, a stray keyword, a key without its value)."""
    try:
        _, end = parse_value(text, 0, 0)
    except (_Short, PdfSyntaxError, ValueError, RecursionError):
        return False
    return not text[end:].translate(None, _WS_BYTES)


def parse_value(data: bytes, pos: int, base: int) -> tuple[Any, int]:
    """One value starting at data[pos:]; returns it and the position after it. `base`: data's file offset."""
    stack: list[Any] = []  # open containers: lists, and for dictionaries [PdfDict, pending key]
    match = _TOKEN.match
    while True:
        m = match(data, pos)
        if m is None:
            if len(data) - pos < 256:
                raise _Short  # "<<", a hex string or a comment may go on past the buffer: read more to tell
            raise PdfSyntaxError(f"unexpected bytes {data[pos:pos + 16]!r}", base + pos)
        pos = m.end()
        if pos >= len(data) and m.lastgroup in ("int", "real", "name", "kw"):
            raise _Short  # the token may go on past the buffer
        kind = m.lastgroup
        if kind == "int":
            value: Any = int(m.group("int"))
        elif kind == "ref":
            value = Ref(int(m.group("rn")), int(m.group("rg")))
        elif kind == "name":
            value = _name(m.group("name"))
        elif kind == "dopen" or kind == "aopen":
            if len(stack) >= _MAX_DEPTH:
                raise PdfSyntaxError("objects nested too deep", base + pos)
            stack.append([] if kind == "aopen" else _Frame((PdfDict(), _DONE)))
            continue
        elif kind == "aclose":
            top = stack.pop() if stack else None
            if top is None or type(top) is _Frame:
                raise PdfSyntaxError("']' closes no array", base + pos - 1)
            value = top
        elif kind == "dclose":
            top = stack.pop() if stack else None
            if type(top) is not _Frame:
                raise PdfSyntaxError("'>>' closes no dictionary", base + pos - 2)
            if top[1] is not _DONE:
                raise PdfSyntaxError(f"dictionary key /{top[1]} has no value", base + pos - 2)
            value = top[0]
        elif kind == "hex":
            value = _hex_string(m.group("hex"))
        elif kind == "lit":
            value, pos = _literal(data, pos)
        elif kind == "real":
            value = float(m.group("real"))
        else:
            kw = m.group("kw")
            if kw == b"true":
                value = True
            elif kw == b"false":
                value = False
            elif kw == b"null":
                value = None
            else:
                raise PdfSyntaxError(f"unexpected keyword {kw.decode()!r}", base + m.start("kw"))
        if not stack:
            return value, pos
        top = stack[-1]
        if type(top) is _Frame:
            if top[1] is _DONE:
                if type(value) is not Name:
                    raise PdfSyntaxError("a dictionary key that is not a name", base + pos)
                top[1] = value
            else:
                if value is not None:  # a null value is as if the key were absent
                    top[0][top[1]] = value
                top[1] = _DONE
        else:
            top.append(value)


class PdfObjects:
    """The objects of one PDF file, read on demand. Use as a context manager (it holds the file open)."""

    def __init__(self, path: str | os.PathLike, xref: "Xref | None" = None) -> None:
        """`xref`: the cross-reference another reader of the same file read (`xref()`), used when the file's
        size, modification time and inode are still what they were then."""
        self.path = str(path)
        self._fd = os.open(self.path, os.O_RDONLY)
        try:
            st = os.fstat(self._fd)
            self.size = st.st_size
            self.stat = (st.st_size, st.st_mtime_ns, st.st_ino)
            self._blocks: dict[int, bytes] = {}
            self._objstms: dict[int, tuple[bytes, list[int], int, int]] = {}
            self._resolving: set[int] = set()
            self._sound: set[bytes] = set()  # texts (digits read as 0) seen to parse whole: `_sound_text`
            if xref is not None and xref.stat == self.stat:
                self._offsets, self._gens, self.trailer = xref.offsets, xref.gens, xref.trailer
            else:
                self.trailer = self._load_xref()
        except BaseException:
            os.close(self._fd)
            raise

    def xref(self) -> "Xref":
        """What this reader knows of where the objects are, for another reader of the same file."""
        return Xref(self.stat, self._offsets, self._gens, self.trailer)

    @property
    def objects(self) -> int:
        """How many object numbers the file has (its trailer's /Size)."""
        return len(self._offsets) if self._offsets is not None else 0

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1

    def __enter__(self) -> "PdfObjects":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- bytes -------------------------------------------------------------------------------------

    def read(self, offset: int, n: int) -> bytes:
        """Up to n bytes at offset (fewer at the end of the file), through the block cache."""
        if offset < 0 or offset >= self.size:
            return b""
        n = min(n, self.size - offset)
        first, last = offset // _BLOCK, (offset + n - 1) // _BLOCK
        if first == last:
            return self._block(first)[offset - first * _BLOCK:offset - first * _BLOCK + n]
        if n > _BLOCK * 4:
            return os.pread(self._fd, n, offset)
        parts = b"".join(self._block(k) for k in range(first, last + 1))
        return parts[offset - first * _BLOCK:offset - first * _BLOCK + n]

    def _block(self, k: int) -> bytes:
        block = self._blocks.pop(k, None)
        if block is None:
            block = os.pread(self._fd, _BLOCK, k * _BLOCK)
            if len(self._blocks) >= _BLOCKS:
                del self._blocks[next(iter(self._blocks))]
        self._blocks[k] = block  # most recently used last
        return block

    # --- cross-reference ---------------------------------------------------------------------------

    def _load_xref(self) -> PdfDict:
        tail_at = max(0, self.size - 1024)
        tail = self.read(tail_at, 1024)
        found = list(_STARTXREF.finditer(tail))
        if not found:
            raise PdfSyntaxError("no startxref before the final %%EOF", self.size)
        at = int(found[-1].group(1))
        self._offsets: array | None = None
        self._gens: dict[int, int] = {}
        newest: PdfDict | None = None
        seen: set[int] = set()
        pending = [at]
        while pending:
            at = pending.pop()
            if at in seen:
                raise PdfSyntaxError("the cross-reference /Prev chain has a loop", at)
            if len(seen) > 10_000:
                raise PdfSyntaxError("too many cross-reference sections", at)
            seen.add(at)
            head = self.read(at, 4)
            if head == b"xref":
                trailer = self._xref_table(at, newest)
            else:
                trailer = self._xref_stream(at, newest)
            if newest is None:
                newest = trailer
            prev = trailer.get("Prev")
            if prev is not None:
                if not isinstance(prev, int) or not 0 <= prev < self.size:
                    raise PdfSyntaxError(f"/Prev {prev!r} is not an offset in the file", trailer.offset)
                pending.append(prev)
            stm = trailer.get("XRefStm")
            if stm is not None and head == b"xref":
                if not isinstance(stm, int) or not 0 <= stm < self.size:
                    raise PdfSyntaxError(f"/XRefStm {stm!r} is not an offset in the file", trailer.offset)
                pending.append(stm)  # a hybrid file: its stream is read before the older sections
        assert newest is not None
        return newest

    def _sized(self, trailer: PdfDict, at: int) -> array:
        if self._offsets is None:
            size = trailer.get("Size")
            if not isinstance(size, int) or not 0 < size <= self.size:
                raise PdfSyntaxError(f"the trailer's /Size {size!r} is not a count of objects", at)
            self._offsets = array("q", [_UNSET]) * size
        return self._offsets

    def _set(self, offsets: array, num: int, value: int, at: int) -> None:
        if num >= len(offsets):
            raise PdfSyntaxError(f"object {num} is past the trailer's /Size {len(offsets)}", at)
        if offsets[num] == _UNSET:  # a newer section already said where it is
            offsets[num] = value

    def _xref_table(self, at: int, newest: PdfDict | None) -> PdfDict:
        pos = at + 4
        rows: list[tuple[int, int, bytes]] = []  # (first object, count, rows) until the trailer is read
        while True:
            head = self.read(pos, 64)
            m = _SUBSECTION.match(head)
            if m is None:
                t = _TRAILER.match(head)
                if t is None:
                    raise PdfSyntaxError("a cross-reference subsection header does not parse", pos)
                pos += t.end()
                break
            first, count = int(m.group(1)), int(m.group(2))
            pos += m.end()
            if count * 20 > self.size - pos:
                raise PdfSyntaxError(f"a cross-reference subsection of {count} entries runs past the end", pos)
            rows.append((first, count, pos))
            pos += count * 20
        trailer, end = self._value_at(pos)
        if not isinstance(trailer, PdfDict):
            raise PdfSyntaxError("the trailer is not a dictionary", pos)
        trailer.offset = pos
        offsets = self._sized(newest if newest is not None else trailer, pos)
        unset = _UNSET
        for first, count, rpos in rows:
            for chunk_at in range(0, count, 4096):
                n = min(4096, count - chunk_at)
                chunk = self.read(rpos + chunk_at * 20, n * 20)
                if first + chunk_at + n > len(offsets):
                    raise PdfSyntaxError(f"object {first + chunk_at + n - 1} is past the trailer's /Size", rpos)
                k = first + chunk_at
                if not _xref_rows_ok(chunk, n):
                    bad = next((i for i in range(n) if _XREF_ROW.fullmatch(chunk, i * 20, i * 20 + 20) is None), 0)
                    raise PdfSyntaxError("a cross-reference entry does not parse", rpos + (chunk_at + bad) * 20)
                kinds = chunk[17::20]
                plain = chunk.count(b" 00000 n") == n  # every entry in use, generation 0: the common case
                if offsets[k:k + n].count(unset) == n:  # no newer section said where any of them is
                    fields = chunk.split()  # the rows parse (checked above): offset, generation, kind
                    got = array("q", map(int, fields[0::3]))
                    if not plain:
                        for i in [i for i, kind in enumerate(kinds) if kind != 110]:  # f: free
                            got[i] = _FREE
                        for i in [i for i, g in enumerate(fields[1::3]) if g != b"00000" and kinds[i] == 110]:
                            self._gens[k + i] = int(fields[1 + 3 * i])
                    offsets[k:k + n] = got
                    continue
                for i in range(n):
                    if offsets[k + i] != unset:
                        continue  # a newer section said where it is
                    if plain or kinds[i] == 110:  # n
                        offsets[k + i] = int(chunk[i * 20:i * 20 + 10])
                        if not plain:
                            gen = int(chunk[i * 20 + 11:i * 20 + 16])
                            if gen:
                                self._gens[k + i] = gen
                    else:
                        offsets[k + i] = _FREE
        return trailer

    def _xref_stream(self, at: int, newest: PdfDict | None) -> PdfDict:
        obj, _ = self._object_at(at, None)
        if not isinstance(obj, Stream) or obj.dict.get("Type") != "XRef":
            raise PdfSyntaxError("startxref does not point at a cross-reference table or stream", at)
        d = obj.dict
        offsets = self._sized(newest if newest is not None else d, at)
        w = d.get("W")
        if not (isinstance(w, list) and len(w) == 3 and all(isinstance(x, int) and 0 <= x <= 8 for x in w)):
            raise PdfSyntaxError(f"the cross-reference stream's /W {w!r} is not three field widths", at)
        size = d.get("Size")
        index = d.get("Index", [0, size])
        if not (isinstance(index, list) and len(index) % 2 == 0 and all(isinstance(x, int) and x >= 0 for x in index)):
            raise PdfSyntaxError(f"the cross-reference stream's /Index {index!r} does not parse", at)
        data = self.stream_data(obj)
        width = sum(w)
        if width == 0:
            raise PdfSyntaxError("the cross-reference stream's entries are empty", at)
        pos = 0
        for first, count in zip(index[0::2], index[1::2]):
            if pos + count * width > len(data):
                raise PdfSyntaxError("the cross-reference stream is shorter than its /Index says", at)
            for num in range(first, first + count):
                kind = int.from_bytes(data[pos:pos + w[0]], "big") if w[0] else 1
                f2 = int.from_bytes(data[pos + w[0]:pos + w[0] + w[1]], "big")
                f3 = int.from_bytes(data[pos + w[0] + w[1]:pos + width], "big")
                pos += width
                if kind == 0:
                    self._set(offsets, num, _FREE, at)
                elif kind == 1:
                    self._set(offsets, num, f2, at)
                    if f3 and offsets[num] == f2:
                        self._gens[num] = f3
                elif kind == 2:
                    if f3 >= 1 << 20:
                        raise PdfSyntaxError(f"object {num} is entry {f3} of an object stream", at)
                    self._set(offsets, num, -3 - ((f2 << 20) | f3), at)
                # other kinds are null references (ISO 32000-1 7.5.8.3)
        d.offset = at
        return d

    # --- objects -----------------------------------------------------------------------------------

    def _value_at(self, pos: int) -> tuple[Any, int]:
        n = 4096
        while True:
            data = self.read(pos, n)
            try:
                value, end = parse_value(data, 0, pos)
                return value, pos + end
            except _Short:
                if pos + len(data) >= self.size:
                    raise PdfSyntaxError("the file ends inside an object", pos) from None
                n *= 4

    def _object_at(self, at: int, ref: Ref | None) -> tuple[Any, int]:
        """The indirect object defined at byte `at` (checked to be `ref` when given), and its end."""
        n = 4096
        while True:
            data = self.read(at, n)
            m = _HEADER.match(data)
            if m is None:
                raise PdfSyntaxError("no 'N G obj' where the cross-reference puts an object" if ref else
                                     "no object here", at)
            if ref is not None and (int(m.group(1)), int(m.group(2))) != (ref.num, ref.gen):
                raise PdfSyntaxError(f"object {m.group(1).decode()} {m.group(2).decode()} is where the "
                                     f"cross-reference puts {ref.num} {ref.gen}", at)
            start = m.end()
            e, s = _ends(data, start)
            cut = s if s >= 0 else e
            if cut >= 0:
                k = _OBJ_END.match(data, cut)  # the keyword as the end of the value (it may sit inside a string)
                value = _fast_value(data, start, cut) if k is not None else None
                if value is not None:
                    end = cut
                    break
            elif at + len(data) < self.size:
                n *= 4
                continue
            value, end = self._value_at(at + start)
            end -= at
            data = self.read(at, end + 64)
            k = _OBJ_END.match(data, end)
            if k is None:
                if _LONE_CR.match(data, end):
                    raise PdfSyntaxError("'stream' followed by a lone CR", at + end)
                raise PdfSyntaxError("an object does not end with endobj", at + end)
            break
        if type(value) is PdfDict:
            value.offset = at
            value.ref = ref
        if k.group(1) == b"endobj":
            return value, at + k.end()
        if type(value) is not PdfDict:
            raise PdfSyntaxError("a stream whose dictionary is not a dictionary", at)
        data_at = at + k.end()
        length = value.get("Length")
        if type(length) is Ref:
            length = self.resolve(length)
        if type(length) is not int or length < 0 or data_at + length > self.size:
            raise PdfSyntaxError(f"a stream /Length of {length!r} does not fit the file", at)
        e = _END_STREAM.match(self.read(data_at + length, 32))
        if e is None:
            raise PdfSyntaxError(f"a stream's /Length {length} does not end at 'endstream'", data_at + length)
        return Stream(value, data_at, length), data_at + length + e.end()

    def peek(self, ref: Ref, keys: tuple[bytes, ...], *,
             partial: bool = False) -> tuple[dict[bytes, Any], int] | None:
        """Some top-level entries of a dictionary object, without parsing the rest: ({key: value}, and for a
        stream the checked offset of its data, else -1). A value that is not a reference, an integer or a
        name is COMPLEX. None when the object is not simple enough to tell this way (it holds strings or
        comments, an entry twice, or it is inside an object stream), and then `resolve` says what it is.

        A quarter of the time a full parse takes. With `partial`, an object longer than the window (a big
        page tree node) gives the keys found in its first 4 kB when all of them are there, and -2 for its
        kind.
        """
        at = self._where(ref)
        if at < 0:
            return None
        data = self.read(at, 4096)
        m = _HEADER.match(data)
        if m is None or int(m.group(1)) != ref.num or int(m.group(2)) != ref.gen:
            return None
        start = m.end()
        e, s = _ends(data, start)
        cut = s if s >= 0 else e
        k = None
        if cut < 0:
            if not partial or len(data) < 4096:
                return None
            cut = len(data)
        else:
            opens = data.count(b"<<", start, cut)
            if opens == 0 or opens != data.count(b">>", start, cut) or \
                    data.count(b"[", start, cut) != data.count(b"]", start, cut):
                return None
            k = _OBJ_END.match(data, cut)
            if k is None:
                return None
        if data.find(b"(", start, cut) >= 0 or data.find(b"%", start, cut) >= 0:
            return None
        out: dict[bytes, Any] = {}
        finder = _KEY_FINDERS.get(keys)
        if finder is None:
            finder = _KEY_FINDERS[keys] = re.compile(
                rb"/(" + b"|".join(re.escape(x) for x in keys) + rb")(?!" + _REGULAR + rb")" + _PEEK_VALUE.pattern)
        for v in finder.finditer(data, start, cut):
            if not _top_level(data, v.start(), start):
                continue  # inside a nested dictionary or an array
            key = v.group(1)
            if key in out:
                return None
            if v.group("rn") is not None:
                out[key] = Ref(int(v.group("rn")), int(v.group("rg")))
            elif v.group("int") is not None:
                out[key] = int(v.group("int"))
            elif v.group("name") is not None:
                out[key] = Name(v.group("name").decode("latin-1"))
            else:
                out[key] = COMPLEX  # an array, a dictionary, a real...: `resolve` reads it
        if k is None:
            return (out, -2) if len(out) == len(keys) and COMPLEX not in out.values() else None
        if k.group(1) == b"endobj":
            return out, -1
        length = out.get(b"Length")
        if type(length) is Ref:
            length = self.resolve(length)
        data_at = at + k.end()
        if type(length) is not int or length < 0 or data_at + length > self.size:
            return None
        if _END_STREAM.match(self.read(data_at + length, 32)) is None:
            return None
        return out, data_at

    def plain_objects(self, refs: Sequence[Ref]) -> Iterator[tuple[int, bytes, bytes, int, int]]:
        """The objects `refs` names in their common shape, read in file order a window at a time: (k, text, buf,
        base, data_at) for refs[k]: its value's text (a dictionary's, up to `endobj` or `stream`; checked to
        hold no literal string, comment or other byte outside `_PLAIN_BYTES`, so that keyword is no word in a
        string), buf holding the file from offset `base` (the object in it), and data_at the file offset of
        its stream data (-1: no stream; its /Length is not checked here, see `stream_end_ok`). text is b""
        when the object is not in that shape, not where the cross-reference puts it, not refs[k] itself,
        inside an object stream, or free: then `resolve` or `source_of` says what it is. A page tree walk and
        the copying writer read every page and content stream this way: a third of the time `peek` takes."""
        offsets, gens = self._offsets, self._gens
        n_obj = len(offsets) if offsets is not None else 0
        where: list[tuple[int, int]] = []
        for k, r in enumerate(refs):
            num = r.num
            at = offsets[num] if 0 <= num < n_obj else -1  # type: ignore[index]
            if at >= 0 and gens.get(num, 0) == r.gen:
                where.append((at, k))
            else:
                yield k, b"", b"", 0, -1
        where.sort()
        fd, size = self._fd, self.size
        buf, base, end = b"", 0, 0
        n = len(where)
        after_dict = _AFTER_DICT
        sound = self._sound
        for i in range(n):
            at, k = where[i]
            if at < base or (at + 4096 > end and end < size):
                j, last = i, at
                while j + 1 < n and where[j + 1][0] - last < _NEAR and where[j + 1][0] - at < _WINDOW - 4096:
                    j += 1
                    last = where[j][0]
                buf = os.pread(fd, last - at + 4096, at)
                base, end = at, at + len(buf)
            p = at - base
            r = refs[k]
            head = b"%d %d obj" % (r.num, r.gen)
            if buf.startswith(head, p):
                v = p + len(head)
            else:
                m = _HEADER.match(buf, p)
                if m is None or int(m.group(1)) != r.num or int(m.group(2)) != r.gen:
                    yield k, b"", b"", 0, -1
                    continue
                v = m.end()
            e = buf.find(b"endobj", v)
            cut = buf.find(b"stream", v, e if e >= 0 else len(buf))
            data_at = -1
            if cut >= 0:
                if buf.startswith(b"stream\n", cut):
                    data_at = base + cut + 7
                elif buf.startswith(b"stream\r\n", cut):
                    data_at = base + cut + 8
                else:
                    cut = -1
            else:
                cut = e
            if cut < 0 or buf[cut - 1] not in after_dict:
                yield k, b"", b"", 0, -1
                continue
            text = buf[v:cut]
            if text.translate(None, _PLAIN_BYTES):
                yield k, b"", b"", 0, -1
                continue
            if text.translate(DIGITS_AS_ZERO) not in sound and not self._sound_text(text):
                yield k, b"", b"", 0, -1  # the general parser says what is wrong, and where
                continue
            yield k, text, buf, base, data_at

    def node_parts(self, ref: Ref) -> tuple[PdfDict, list[Ref]] | None:
        """A dictionary object holding an array of references under `/Kids` (a page tree node), in two parts: its
        other entries, parsed, and the references, read as a run; None when its text is not that simple (then
        `resolve` reads it). A node of 10,000 kids takes a third of the time a full parse does."""
        at, n = self._where(ref), 4096
        if at < 0:
            return None
        head = b"%d %d obj" % (ref.num, ref.gen)
        while True:
            data = self.read(at, n)
            if not data.startswith(head):
                return None
            e = data.find(b"endobj", len(head))
            if e >= 0:
                break
            if at + len(data) >= self.size or n > _MAX_INFLATE:
                return None
            n *= 4
        k = data.find(b"/Kids", len(head), e)
        if k < 0 or data.find(b"/Kids", k + 5, e) >= 0 or data.find(b"(", len(head), e) >= 0 or \
                data.find(b"%", len(head), e) >= 0 or data.find(b"stream", len(head), e) >= 0:
            return None
        lb = _ARRAY_OPEN.match(data, k + 5)
        rb = data.find(b"]", k, e)
        if lb is None or rb < 0 or data.find(b"[", lb.end(), rb) >= 0:
            return None
        run = _REF_RUNS.match(data, lb.end(), rb).end()
        if _SPACES.match(data, run, rb).end() != rb:
            return None
        rest = data[len(head):k] + data[rb + 1:e]
        node = _fast_value(rest, 0, len(rest))
        if type(node) is not PdfDict:
            return None
        node.offset, node.ref = at, ref
        return node, [_new_tuple(Ref, (int(a), int(b))) for a, b in _REF_PAIR.findall(data, lb.end(), rb)]

    def dict_text(self, ref: Ref) -> bytes | None:
        """A dictionary object's text (from after `obj` to `endobj`) when it is in a common shape: its header
        written `N G obj`, no comments, no stream, and literal strings without escapes or parentheses inside
        (so `endobj` is no word in a string); else None, and `resolve` reads it. An outline walk reads
        every entry this way."""
        at = self._where(ref)
        if at < 0:
            return None
        data = self.read(at, 1024)
        head = b"%d %d obj" % (ref.num, ref.gen)
        if not data.startswith(head):
            return None
        e = data.find(b"endobj", len(head))
        if e < 0 or data[e - 1] not in _AFTER_DICT:
            return None
        t = data[len(head):e]
        if b"%" in t or b"\\" in t or b"stream" in t or not t.lstrip().startswith(b"<<"):
            return None
        opens = t.count(b"(")
        if opens and opens != t.count(b")"):
            return None
        if opens == 1:  # one string (an outline entry's title): it closes after it opens
            if t.find(b"(") > t.find(b")"):
                return None
        elif opens and len(_SIMPLE_STRING.findall(t)) != opens:
            return None
        # sound as a whole (once per shape: the strings' insides, simple as they are, change no token)
        return t if self._sound_text(_SIMPLE_STRING.sub(b"()", t) if opens else t) else None

    def spans(self, spans: Sequence[tuple[int, int]]) -> Iterator[bytes]:
        """The bytes at each (offset, length) of `spans`, given in increasing offset order, read a window at a
        time (a long one on its own). A span past the end of the file is a PdfSyntaxError."""
        fd, n = self._fd, len(spans)
        buf, base, end = b"", 0, 0
        for i in range(n):
            at, length = spans[i]
            if at < base or at + length > end:
                if length > _WINDOW // 2:
                    data = os.pread(fd, length, at)
                    if len(data) != length:
                        raise PdfSyntaxError(f"{length} bytes of stream data run past the end of the file", at)
                    yield data
                    continue
                j, last = i, at + length
                while j + 1 < n and spans[j + 1][0] - last < _NEAR and \
                        spans[j + 1][0] + spans[j + 1][1] - at <= _WINDOW:
                    j += 1
                    last = max(last, spans[j][0] + spans[j][1])
                buf = os.pread(fd, last - at, at)
                base, end = at, at + len(buf)
                if at + length > end:
                    raise PdfSyntaxError(f"{length} bytes of stream data run past the end of the file", at)
            yield buf[at - base:at - base + length]

    def stream_end_ok(self, buf: bytes, base: int, data_at: int, length: Any) -> bool:
        """Whether a stream whose data starts at file offset `data_at` ends, `length` bytes on, at `endstream`
        (read from buf, which holds the file from `base`, when it reaches that far)."""
        if type(length) is not int or length < 0 or data_at + length > self.size:
            return False
        p = data_at + length - base
        if p + 32 <= len(buf):
            return _END_STREAM.match(buf, p, p + 32) is not None
        return _END_STREAM.match(self.read(data_at + length, 32)) is not None

    def _where(self, ref: Ref) -> int:
        """Where the object `ref` names is defined in the file, when it is there with that generation, not in an
        object stream; else -1."""
        offsets = self._offsets
        if offsets is None or not 0 <= ref.num < len(offsets):
            return -1
        at = offsets[ref.num]
        return at if at >= 0 and self._gens.get(ref.num, 0) == ref.gen else -1

    def iter_refs(self, ref: Ref, key: bytes) -> Iterator[Ref] | None:
        """The references in a dictionary object's top-level array entry `key`, read a window at a time
        (a page tree node's /Kids of any length, without a list of them all); None when the object is not
        simple enough to find the entry this way (see `peek`), and then `resolve` has it."""
        offsets = self._offsets
        if offsets is None or not 0 <= ref.num < len(offsets) or offsets[ref.num] < 0:
            return None
        at = offsets[ref.num]
        data = self.read(at, 4096)
        m = _HEADER.match(data)
        if m is None or (int(m.group(1)), int(m.group(2))) != (ref.num, ref.gen):
            return None
        start = m.end()
        pos = data.find(b"/" + key, start)
        if pos < 0 or data.find(b"(", start, pos) >= 0 or data.find(b"%", start, pos) >= 0 or \
                data.find(b"/" + key, pos + 1) >= 0 or _REGULAR_AT.match(data, pos + 1 + len(key)) or \
                not _top_level(data, pos, start):
            return None
        o = _ARRAY_OPEN.match(data, pos + 1 + len(key))
        if o is None:
            return None
        return self._refs_from(at + o.end())

    def _refs_from(self, pos: int) -> Iterator[Ref]:
        window = 1 << 14  # about 1,500 references at a time
        chunk = self.read(pos, window)
        p = 0
        while True:
            at_end = pos + len(chunk) >= self.size
            limit = len(chunk) if at_end else len(chunk) - 64  # a reference past this may go on past the window
            e = _REF_RUNS.match(chunk, p).end()
            cut = e > limit
            if cut:
                e = _REF_RUNS.match(chunk, p, limit).end()
            if e > p:
                yield from [_new_tuple(Ref, (int(a), int(b))) for a, b in _REF_PAIR.findall(chunk, p, e)]
                p = e
            elif cut and p == 0:
                raise PdfSyntaxError("an array of references holds a reference longer than the 16 kB read at once",
                                     pos)
            if cut:
                pos += p
                chunk, p = self.read(pos, window), 0
                continue
            if _ARRAY_CLOSE.match(chunk, p) is not None:
                return
            q = _SPACES.match(chunk, p).end()
            if not at_end and q > limit:  # a reference the window cuts, or white space up to its end
                pos += p if p > 0 else q - 64
                chunk, p = self.read(pos, window), 0
                continue
            raise PdfSyntaxError("an array of references holds something else", pos + p)

    def resolve(self, value: Any) -> Any:
        """A reference's object (None for a free or missing one); any other value as it is."""
        if not isinstance(value, Ref):
            return value
        num = value.num
        offsets = self._offsets
        if offsets is None or num >= len(offsets) or num < 0:
            return None
        where = offsets[num]
        if where == _FREE or where == _UNSET:
            return None
        if num in self._resolving:
            raise PdfSyntaxError(f"object {num} refers to itself while it is read", max(where, 0))
        self._resolving.add(num)
        try:
            if where >= 0:
                if self._gens.get(num, 0) != value.gen:
                    return None
                return self._object_at(where, value)[0]
            if value.gen != 0:
                return None
            packed = -3 - where
            return self._from_objstm(packed >> 20, packed & 0xfffff, num)
        finally:
            self._resolving.discard(num)

    def offset_of(self, ref: Ref) -> int:
        """Where an object is defined (an object stream's own offset for an object inside one), else 0."""
        offsets = self._offsets
        if offsets is None or not 0 <= ref.num < len(offsets):
            return 0
        where = offsets[ref.num]
        if where >= 0:
            return where
        if where <= -3:
            stm = (-3 - where) >> 20
            return offsets[stm] if stm < len(offsets) and offsets[stm] >= 0 else 0
        return 0

    def _sound_text(self, text: bytes) -> bool:
        """Whether an object's value text parses whole (`_parses_whole`), asked once per shape (digits read
        as 0) of text: a text read without the parser must still be one sound value to be copied."""
        shape = text.translate(DIGITS_AS_ZERO)
        if shape in self._sound:
            return True
        if not _parses_whole(text):
            return False
        if len(self._sound) < _SOUND:
            self._sound.add(shape)
        return True

    def source_of(self, ref: Ref) -> tuple[bytes, bytes | None] | None:
        """An object's value as its bytes in the file (or in its object stream) and, for a stream, its data
        as stored (checked as `resolve` checks it): what copying the object verbatim takes. None for a
        free or missing object."""
        offsets = self._offsets
        if offsets is None or not 0 <= ref.num < len(offsets):
            return None
        where = offsets[ref.num]
        if where >= 0:
            if self._gens.get(ref.num, 0) != ref.gen:
                return None
            data = self.read(where, 512)  # the common case, without parsing the object
            m = _HEADER.match(data)
            if m is not None and int(m.group(1)) == ref.num and int(m.group(2)) == ref.gen:
                start = m.end()
                e, s = _ends(data, start)
                if s < 0 and e < 0:
                    data = self.read(where, 4096)
                    e, s = _ends(data, start)
                cut = s if s >= 0 else e
                if cut >= 0 and data.find(b"(", start, cut) < 0 and data.find(b"%", start, cut) < 0 and \
                        self._sound_text(data[start:cut]):
                    if s < 0:
                        return data[start:e], None
                    k = _OBJ_END.match(data, s)
                    found = _LENGTHS.findall(data, start, s)
                    if k is not None and data[s - 1] in _AFTER_DICT and len(found) == 1:
                        num, gen = found[0]
                        length = int(num) if not gen else self.resolve(Ref(int(num), int(gen.split()[0])))
                        data_at = where + k.end()
                        if type(length) is int and 0 <= length and data_at + length <= self.size and \
                                _END_STREAM.match(self.read(data_at + length, 32)) is not None:
                            return data[start:s], self.read(data_at, length)
            value, end = self._object_at(where, ref)
            text = self.read(where, end - where)
            start = _HEADER.match(text).end()
            if type(value) is Stream:
                data_at = value.data_offset - where
                return text[start:text.rindex(b"stream", 0, data_at)], text[data_at:data_at + value.length]
            return text[start:text.rindex(b"endobj")], None
        if self.resolve(ref) is None:
            return None
        packed = -3 - where
        data, table, first, at = self._objstms[packed >> 20]  # resolve just read it
        begin = first + table[(packed & 0xfffff) * 2 + 1]
        _, end = parse_value(data, begin, at)
        return data[begin:end], None

    def _from_objstm(self, stm_num: int, idx: int, num: int) -> Any:
        cached = self._objstms.pop(stm_num, None)
        if cached is None:
            stm = self.resolve(Ref(stm_num, 0))
            at = self.offset_of(Ref(stm_num, 0))
            if not isinstance(stm, Stream) or stm.dict.get("Type") != "ObjStm":
                raise PdfSyntaxError(f"object {num} is said to be in object stream {stm_num}, which is not one", at)
            n, first = stm.dict.get("N"), stm.dict.get("First")
            data = self.stream_data(stm)
            if not isinstance(n, int) or not isinstance(first, int) or not 0 <= first <= len(data) or n < 0:
                raise PdfSyntaxError("an object stream's /N or /First does not fit it", at)
            head = data[:first].split()
            if len(head) < 2 * n or not all(x.isdigit() for x in head[:2 * n]):
                raise PdfSyntaxError("an object stream's table of objects does not parse", at)
            table = [int(x) for x in head[:2 * n]]
            cached = (data + b" ", table, first, at)  # the last object may be a number ending the data
            if len(self._objstms) >= _OBJSTM_CACHE:
                del self._objstms[next(iter(self._objstms))]
        self._objstms[stm_num] = cached
        data, table, first, at = cached
        if idx * 2 + 1 >= len(table) or table[idx * 2] != num:
            raise PdfSyntaxError(f"object {num} is not entry {idx} of object stream {stm_num}", at)
        start = first + table[idx * 2 + 1]
        try:
            value, _ = parse_value(data, start, at)
        except _Short:
            raise PdfSyntaxError(f"object {num} runs past the end of its object stream", at) from None
        if isinstance(value, PdfDict):
            value.offset = at
            value.ref = Ref(num, 0)
        return value

    def stream_data(self, stm: Stream) -> bytes:
        """A stream's data, decoded (FlateDecode with or without a PNG predictor, or no filter)."""
        raw = self.read(stm.data_offset, stm.length) if stm.length <= 4 * _BLOCK else \
            os.pread(self._fd, stm.length, stm.data_offset)
        filters = self.resolve(stm.dict.get("Filter"))
        parms = self.resolve(stm.dict.get("DecodeParms"))
        if isinstance(filters, Name):
            filters, parms = [filters], [parms]
        if filters is None or filters == []:  # an empty /Filter array: no filter
            return raw
        if not isinstance(filters, list) or len(filters) > 1 or filters[0] not in ("FlateDecode", "Fl"):
            raise PdfSyntaxError(f"a structure stream with filter {filters!r} (only FlateDecode is read)",
                                 stm.data_offset)
        parm = (parms[0] if isinstance(parms, list) and parms else parms) if parms is not None else None
        try:
            d = zlib.decompressobj()
            data = d.decompress(raw, _MAX_INFLATE)
            if d.unconsumed_tail:
                raise PdfSyntaxError("a structure stream inflates to more than 64 MB", stm.data_offset)
        except zlib.error as exc:
            raise PdfSyntaxError(f"a structure stream does not inflate: {exc}", stm.data_offset) from None
        if isinstance(parm, PdfDict) and parm.get("Predictor", 1) not in (1, None):
            data = _unpredict(data, parm, stm.data_offset)
        return data


_DIGITS = b"0123456789"


def _xref_rows_ok(chunk: bytes, n: int) -> bool:
    """Whether chunk is n cross-reference rows `oooooooooo ggggg k` and a two-byte end of line (ISO 32000-1
    7.5.4): spaces, kinds and line ends where they belong and digits everywhere else (what
    `_XREF_ROWS.fullmatch` says, a tenth of the time)."""
    if len(chunk) != 20 * n or chunk[10::20].count(b" ") != n or chunk[16::20].count(b" ") != n:
        return False
    kinds, e0, e1 = chunk[17::20], chunk[18::20], chunk[19::20]
    if kinds.count(b"n") + kinds.count(b"f") != n:
        return False
    if not (e0.count(b" ") == n and e1.count(b"\n") + e1.count(b"\r") == n or
            e0.count(b"\r") == n and e1.count(b"\n") == n):
        if any(pair not in _XREF_ENDS for pair in zip(e0, e1)):
            return False
    return len(chunk.translate(None, _DIGITS)) == 5 * n  # so the other 15 bytes of each row are digits


_XREF_ENDS = frozenset(((13, 10), (32, 13), (32, 10)))  # "\r\n", " \r", " \n"


def _unpredict(data: bytes, parm: PdfDict, at: int) -> bytes:
    predictor, columns = parm.get("Predictor"), parm.get("Columns", 1)
    if not isinstance(predictor, int) or predictor < 10 or not isinstance(columns, int) or not 0 < columns < 1 << 16:
        raise PdfSyntaxError(f"predictor {predictor!r} with {columns!r} columns is not read here", at)
    if parm.get("Colors", 1) != 1 or parm.get("BitsPerComponent", 8) != 8:
        raise PdfSyntaxError("a predictor over more than one 8-bit colour is not read here", at)
    row = columns + 1
    if len(data) % row:
        raise PdfSyntaxError("predicted rows do not fill the stream", at)
    out = bytearray()
    prev = bytearray(columns)
    for k in range(0, len(data), row):
        kind, cur = data[k], bytearray(data[k + 1:k + row])
        if kind == 2:
            cur = bytearray((a + b) & 0xff for a, b in zip(cur, prev))
        elif kind == 1:
            for i in range(1, columns):
                cur[i] = (cur[i] + cur[i - 1]) & 0xff
        elif kind == 3:
            for i in range(columns):
                cur[i] = (cur[i] + ((cur[i - 1] if i else 0) + prev[i]) // 2) & 0xff
        elif kind == 4:
            for i in range(columns):
                a, b, c = (cur[i - 1] if i else 0), prev[i], (prev[i - 1] if i else 0)
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                cur[i] = (cur[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 0xff
        elif kind != 0:
            raise PdfSyntaxError(f"PNG predictor row type {kind}", at)
        out += cur
        prev = cur
    return bytes(out)
