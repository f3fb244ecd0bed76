"""IPP: our own RFC 8010 codec and an async client for the RFC 8011 operations a print controller needs.

The codec keeps everything needed to write a decoded message back byte for byte: the order of groups
and attributes, the value tag of every value (an attribute may mix tags, e.g. integer and
rangeOfInteger), and values of tags it does not know as raw bytes. Malformed input is a
`WireProtocolError` naming the byte offset, never another exception.

    IppMessage(version, code, request_id, groups, data)     code: operation-id or status-code
     └── AttributeGroup(tag, attributes)
          └── Attribute(name, values, tags)                 one tag per value
               value types: int (integer, enum), bool, str (text, name, keyword, uri, charset...),
               LangString (text/nameWithLanguage), bytes (octetString, unknown tags),
               datetime (dateTime), Resolution, IntRange, Collection (ordered members),
               None (out-of-band: no-value, unknown, unsupported, ...)

The client speaks HTTP/1.1 with keep-alive over asyncio streams (written here: a print controller
needs one POST verb and two body framings, not an HTTP library), `ipps://` over TLS, with
`asyncio.timeout` around every wait and a jittered backoff on `server-error-busy`.

Errors (all DeviceError, see drivers.errors):

    DeviceError
     ├── DeviceTimeoutError               no answer in time
     ├── WireProtocolError                bytes that do not parse (offset)
     ├── IppHttpError                     an HTTP status other than 200
     └── IppStatusError                   an IPP status other than successful-ok* (.status)
          ├── IppClientError              0x04xx
          │    ├── IppNotFoundError       0x0406 (no such job)
          │    ├── IppNotPossibleError    0x0404 (e.g. cancel a completed job)
          │    └── IppFormatError         0x040A (document-format-not-supported)
          └── IppServerError              0x05xx
               └── IppBusyError           0x0507 after the retries ran out
"""

from __future__ import annotations

import asyncio
import datetime as dt
import enum
import logging
import random
import ssl
import struct
from dataclasses import dataclass, field
from typing import Any, Iterable, Iterator, Mapping, Sequence
from urllib.parse import urlsplit

from drivers.errors import DeviceError, DeviceTimeoutError, WireProtocolError

logger = logging.getLogger(__name__)

__all__ = [
    "Tag", "Op", "Status", "JobState", "PrinterState",
    "LangString", "Resolution", "IntRange", "Collection", "Attribute", "AttributeGroup", "IppMessage",
    "encode", "decode", "status_name", "operation_name",
    "IppPrinter", "PrinterStatus", "JobStatus",
    "IppHttpError", "IppStatusError", "IppClientError", "IppServerError", "IppNotFoundError",
    "IppNotPossibleError", "IppFormatError", "IppBusyError",
]


class Tag(enum.IntEnum):
    # delimiter tags (RFC 8010 3.5.1)
    OPERATION = 0x01
    JOB = 0x02
    END = 0x03
    PRINTER = 0x04
    UNSUPPORTED_GROUP = 0x05
    SUBSCRIPTION = 0x06
    EVENT_NOTIFICATION = 0x07
    RESOURCE = 0x08
    DOCUMENT = 0x09
    SYSTEM = 0x0A
    # out-of-band values (RFC 8010 3.5.2)
    UNSUPPORTED = 0x10
    DEFAULT = 0x11
    UNKNOWN = 0x12
    NO_VALUE = 0x13
    NOT_SETTABLE = 0x15
    DELETE_ATTRIBUTE = 0x16
    ADMIN_DEFINE = 0x17
    # values
    INTEGER = 0x21
    BOOLEAN = 0x22
    ENUM = 0x23
    OCTET_STRING = 0x30
    DATE_TIME = 0x31
    RESOLUTION = 0x32
    RANGE = 0x33
    BEGIN_COLLECTION = 0x34
    TEXT_LANG = 0x35
    NAME_LANG = 0x36
    END_COLLECTION = 0x37
    TEXT = 0x41
    NAME = 0x42
    KEYWORD = 0x44
    URI = 0x45
    URI_SCHEME = 0x46
    CHARSET = 0x47
    LANGUAGE = 0x48
    MIME_TYPE = 0x49
    MEMBER_NAME = 0x4A
    EXTENSION = 0x7F


class Op(enum.IntEnum):
    PRINT_JOB = 0x0002
    PRINT_URI = 0x0003
    VALIDATE_JOB = 0x0004
    CREATE_JOB = 0x0005
    SEND_DOCUMENT = 0x0006
    SEND_URI = 0x0007
    CANCEL_JOB = 0x0008
    GET_JOB_ATTRIBUTES = 0x0009
    GET_JOBS = 0x000A
    GET_PRINTER_ATTRIBUTES = 0x000B
    HOLD_JOB = 0x000C
    RELEASE_JOB = 0x000D
    RESTART_JOB = 0x000E
    PAUSE_PRINTER = 0x0010
    RESUME_PRINTER = 0x0011
    PURGE_JOBS = 0x0012


class Status(enum.IntEnum):
    OK = 0x0000
    OK_IGNORED_OR_SUBSTITUTED = 0x0001
    OK_CONFLICTING = 0x0002
    BAD_REQUEST = 0x0400
    FORBIDDEN = 0x0401
    NOT_AUTHENTICATED = 0x0402
    NOT_AUTHORIZED = 0x0403
    NOT_POSSIBLE = 0x0404
    TIMEOUT = 0x0405
    NOT_FOUND = 0x0406
    GONE = 0x0407
    REQUEST_ENTITY_TOO_LARGE = 0x0408
    REQUEST_VALUE_TOO_LONG = 0x0409
    DOCUMENT_FORMAT_NOT_SUPPORTED = 0x040A
    ATTRIBUTES_OR_VALUES_NOT_SUPPORTED = 0x040B
    URI_SCHEME_NOT_SUPPORTED = 0x040C
    CHARSET_NOT_SUPPORTED = 0x040D
    CONFLICTING_ATTRIBUTES = 0x040E
    COMPRESSION_NOT_SUPPORTED = 0x040F
    COMPRESSION_ERROR = 0x0410
    DOCUMENT_FORMAT_ERROR = 0x0411
    DOCUMENT_ACCESS_ERROR = 0x0412
    INTERNAL_ERROR = 0x0500
    OPERATION_NOT_SUPPORTED = 0x0501
    SERVICE_UNAVAILABLE = 0x0502
    VERSION_NOT_SUPPORTED = 0x0503
    DEVICE_ERROR = 0x0504
    TEMPORARY_ERROR = 0x0505
    NOT_ACCEPTING_JOBS = 0x0506
    BUSY = 0x0507
    JOB_CANCELED = 0x0508
    MULTIPLE_DOCUMENT_JOBS_NOT_SUPPORTED = 0x0509


class PrinterState(enum.IntEnum):
    IDLE = 3
    PROCESSING = 4
    STOPPED = 5


class JobState(enum.IntEnum):
    PENDING = 3
    PENDING_HELD = 4
    PROCESSING = 5
    PROCESSING_STOPPED = 6
    CANCELED = 7
    ABORTED = 8
    COMPLETED = 9

    @property
    def is_final(self) -> bool:
        return self >= JobState.CANCELED


def _enum_name(cls: type[enum.IntEnum], code: int) -> str:
    try:
        return cls(code).name.lower().replace("_", "-")
    except ValueError:
        return f"0x{code:04x}"


def status_name(code: int) -> str:
    """The RFC 8011 name: successful-ok, client-error-not-found, server-error-busy..."""
    prefix = "successful-" if code < 0x0400 else "client-error-" if code < 0x0500 else "server-error-"
    name = _enum_name(Status, code)
    return name if name.startswith("0x") else prefix + name


def operation_name(code: int) -> str:
    return _enum_name(Op, code)


# ---------------------------------------------------------------------------------------------------
# values


@dataclass(frozen=True, slots=True)
class LangString:
    """textWithLanguage / nameWithLanguage."""

    text: str
    language: str

    def __str__(self) -> str:
        return self.text


@dataclass(frozen=True, slots=True)
class Resolution:
    x: int
    y: int
    units: int = 3  # 3 dots per inch, 4 dots per centimetre


@dataclass(frozen=True, slots=True)
class IntRange:
    lower: int
    upper: int

    def __contains__(self, n: object) -> bool:
        return isinstance(n, int) and self.lower <= n <= self.upper


class Collection:
    """An ordered collection value: member attributes by name."""

    __slots__ = ("members",)

    def __init__(self, members: Iterable[Attribute] = ()) -> None:
        self.members: dict[str, Attribute] = {}
        for m in members:
            self.members[m.name] = m

    def __getitem__(self, name: str) -> Attribute:
        return self.members[name]

    def __contains__(self, name: object) -> bool:
        return name in self.members

    def get(self, name: str, default: Any = None) -> Any:
        m = self.members.get(name)
        return m.value if m is not None else default

    def __iter__(self) -> Iterator[Attribute]:
        return iter(self.members.values())

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Collection) and list(self.members.values()) == list(other.members.values())

    def __repr__(self) -> str:
        return f"Collection({list(self.members.values())!r})"


_STRING_TAGS = frozenset({Tag.TEXT, Tag.NAME, Tag.KEYWORD, Tag.URI, Tag.URI_SCHEME, Tag.CHARSET,
                          Tag.LANGUAGE, Tag.MIME_TYPE, Tag.MEMBER_NAME})
_FIXED = {Tag.INTEGER: 4, Tag.ENUM: 4, Tag.BOOLEAN: 1, Tag.DATE_TIME: 11, Tag.RESOLUTION: 9, Tag.RANGE: 8}


def _default_tag(value: Any) -> int:
    if isinstance(value, bool):
        return Tag.BOOLEAN
    if isinstance(value, int):
        return Tag.INTEGER
    if isinstance(value, str):
        return Tag.KEYWORD
    if isinstance(value, LangString):
        return Tag.TEXT_LANG
    if isinstance(value, bytes):
        return Tag.OCTET_STRING
    if isinstance(value, dt.datetime):
        return Tag.DATE_TIME
    if isinstance(value, Resolution):
        return Tag.RESOLUTION
    if isinstance(value, IntRange):
        return Tag.RANGE
    if isinstance(value, Collection):
        return Tag.BEGIN_COLLECTION
    if value is None:
        return Tag.NO_VALUE
    raise TypeError(f"no IPP value tag for {type(value).__name__}")


@dataclass(slots=True)
class Attribute:
    """One attribute: `Attribute("job-name", "run 7", Tag.NAME)`, `Attribute("copies", 2)`.

    Without a tag, each value's tag follows its Python type (int integer, bool boolean, str keyword,
    LangString textWithLanguage, bytes octetString, datetime dateTime, Resolution, IntRange,
    Collection, None no-value); give the tag for name, text, uri, enum, mimeMediaType...
    """

    name: str
    values: list[Any]
    tags: list[int]

    def __init__(self, name: str, values: Any, tag: int | Sequence[int] | None = None) -> None:
        self.name = name
        self.values = list(values) if isinstance(values, (list, tuple)) else [values]
        if tag is None:
            self.tags = [_default_tag(v) for v in self.values]
        elif isinstance(tag, int):
            self.tags = [int(tag)] * len(self.values)
        else:
            self.tags = [int(t) for t in tag]
        if len(self.tags) != len(self.values) or not self.values:
            raise ValueError(f"attribute {name!r}: one tag per value, and at least one value")

    @property
    def value(self) -> Any:
        return self.values[0]

    @property
    def tag(self) -> int:
        return self.tags[0]

    def __repr__(self) -> str:
        tags = ",".join(_tag_name(t) for t in dict.fromkeys(self.tags))
        shown = self.values[0] if len(self.values) == 1 else self.values
        return f"{self.name}({tags})={shown!r}"


def _tag_name(tag: int) -> str:
    try:
        return Tag(tag).name.lower()
    except ValueError:
        return f"0x{tag:02x}"


@dataclass(slots=True)
class AttributeGroup:
    tag: int
    attributes: list[Attribute] = field(default_factory=list)

    def __getitem__(self, name: str) -> Attribute:
        for a in self.attributes:
            if a.name == name:
                return a
        raise KeyError(name)

    def get(self, name: str, default: Any = None) -> Any:
        for a in self.attributes:
            if a.name == name:
                return a.value
        return default

    def __contains__(self, name: object) -> bool:
        return any(a.name == name for a in self.attributes)

    def add(self, name: str, values: Any, tag: int | Sequence[int] | None = None) -> Attribute:
        attr = Attribute(name, values, tag)
        self.attributes.append(attr)
        return attr

    def as_dict(self) -> dict[str, Attribute]:
        return {a.name: a for a in self.attributes}


@dataclass(slots=True)
class IppMessage:
    version: tuple[int, int]
    code: int  # operation-id in a request, status-code in a response
    request_id: int
    groups: list[AttributeGroup] = field(default_factory=list)
    data: bytes = b""

    def group(self, tag: int) -> AttributeGroup | None:
        for g in self.groups:
            if g.tag == tag:
                return g
        return None

    def groups_of(self, tag: int) -> list[AttributeGroup]:
        return [g for g in self.groups if g.tag == tag]

    def add_group(self, tag: int) -> AttributeGroup:
        g = AttributeGroup(tag)
        self.groups.append(g)
        return g

    @property
    def operation(self) -> AttributeGroup:
        g = self.group(Tag.OPERATION)
        return g if g is not None else AttributeGroup(Tag.OPERATION)


# ---------------------------------------------------------------------------------------------------
# encoding


def _put(out: bytearray, tag: int, name: str, raw: bytes) -> None:
    n = name.encode("utf-8")
    if len(n) > 0x7FFF or len(raw) > 0xFFFF:
        raise ValueError(f"attribute {name!r}: name or value too long for IPP")
    out.append(tag)
    out += struct.pack(">H", len(n)) + n + struct.pack(">H", len(raw)) + raw


def _value_bytes(tag: int, value: Any, name: str) -> bytes:
    try:
        if tag in (Tag.INTEGER, Tag.ENUM):
            return struct.pack(">i", value)
        if tag == Tag.BOOLEAN:
            return b"\x01" if value else b"\x00"
        if tag in _STRING_TAGS:
            return value.encode("utf-8")
        if tag in (Tag.TEXT_LANG, Tag.NAME_LANG):
            lang, text = value.language.encode("ascii"), value.text.encode("utf-8")
            return struct.pack(">H", len(lang)) + lang + struct.pack(">H", len(text)) + text
        if tag == Tag.RESOLUTION:
            return struct.pack(">iib", value.x, value.y, value.units)
        if tag == Tag.RANGE:
            return struct.pack(">ii", value.lower, value.upper)
        if tag == Tag.DATE_TIME:
            return _datetime_bytes(value)
        if 0x10 <= tag <= 0x1F:
            return b"" if value is None else bytes(value)
        if isinstance(value, (bytes, bytearray)):  # octetString and tags we do not know
            return bytes(value)
        if isinstance(value, str):
            return value.encode("utf-8")
    except (struct.error, AttributeError, UnicodeError, TypeError) as exc:
        raise ValueError(f"attribute {name!r}: {value!r} is not a {_tag_name(tag)} value ({exc})") from None
    raise ValueError(f"attribute {name!r}: cannot encode {value!r} as {_tag_name(tag)}")


def _datetime_bytes(value: dt.datetime) -> bytes:
    offset = value.utcoffset() or dt.timedelta(0)
    minutes = int(offset.total_seconds()) // 60
    sign = b"+" if minutes >= 0 else b"-"
    h, m = divmod(abs(minutes), 60)
    return struct.pack(">HBBBBBB", value.year, value.month, value.day, value.hour, value.minute,
                       value.second, value.microsecond // 100000) + sign + bytes([h, m])


def _encode_attribute(out: bytearray, attr: Attribute) -> None:
    for i, (tag, value) in enumerate(zip(attr.tags, attr.values)):
        name = attr.name if i == 0 else ""
        if tag == Tag.BEGIN_COLLECTION:
            _put(out, tag, name, b"")
            for member in value:
                _put(out, Tag.MEMBER_NAME, "", member.name.encode("utf-8"))
                _encode_attribute_values(out, member)
            _put(out, Tag.END_COLLECTION, "", b"")
        else:
            _put(out, tag, name, _value_bytes(tag, value, attr.name))


def _encode_attribute_values(out: bytearray, member: Attribute) -> None:
    # a member's values all carry an empty name; the first is named by the memberAttrName before it
    for tag, value in zip(member.tags, member.values):
        if tag == Tag.BEGIN_COLLECTION:
            _put(out, tag, "", b"")
            for sub in value:
                _put(out, Tag.MEMBER_NAME, "", sub.name.encode("utf-8"))
                _encode_attribute_values(out, sub)
            _put(out, Tag.END_COLLECTION, "", b"")
        else:
            _put(out, tag, "", _value_bytes(tag, value, member.name))


def encode(message: IppMessage) -> bytes:
    """The RFC 8010 bytes of a message, document data included."""
    out = bytearray(struct.pack(">BBHI", message.version[0], message.version[1], message.code, message.request_id))
    for group in message.groups:
        out.append(group.tag)
        for attr in group.attributes:
            _encode_attribute(out, attr)
    out.append(Tag.END)
    out += message.data
    return bytes(out)


# ---------------------------------------------------------------------------------------------------
# decoding


class _Reader:
    __slots__ = ("buf", "pos", "device")

    def __init__(self, buf: bytes, device: str | None) -> None:
        self.buf = buf
        self.pos = 0
        self.device = device

    def fail(self, message: str, offset: int | None = None) -> WireProtocolError:
        return WireProtocolError(f"IPP: {message}", device=self.device, offset=self.pos if offset is None else offset)

    def take(self, n: int, what: str) -> bytes:
        if self.pos + n > len(self.buf):
            raise self.fail(f"{what} needs {n} bytes, {len(self.buf) - self.pos} left")
        chunk = self.buf[self.pos:self.pos + n]
        self.pos += n
        return chunk

    def u16(self, what: str) -> int:
        return struct.unpack(">H", self.take(2, what))[0]


def _decode_value(r: _Reader, tag: int, raw: bytes, at: int, name: str) -> Any:
    want = _FIXED.get(tag)
    if want is not None and len(raw) != want:
        raise r.fail(f"attribute {name!r}: {_tag_name(tag)} value of {len(raw)} bytes (expected {want})", at)
    if tag in (Tag.INTEGER, Tag.ENUM):
        return struct.unpack(">i", raw)[0]
    if tag == Tag.BOOLEAN:
        if raw[0] > 1:
            raise r.fail(f"attribute {name!r}: boolean value {raw[0]}", at)
        return raw[0] == 1
    if tag in _STRING_TAGS:
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise r.fail(f"attribute {name!r}: {_tag_name(tag)} is not UTF-8", at + exc.start) from None
    if tag in (Tag.TEXT_LANG, Tag.NAME_LANG):
        if len(raw) < 4:
            raise r.fail(f"attribute {name!r}: {_tag_name(tag)} value of {len(raw)} bytes", at)
        n = struct.unpack(">H", raw[:2])[0]
        if 2 + n + 2 > len(raw):
            raise r.fail(f"attribute {name!r}: language length {n} runs past the value", at)
        m = struct.unpack(">H", raw[2 + n:4 + n])[0]
        if 4 + n + m != len(raw):
            raise r.fail(f"attribute {name!r}: text length {m} does not fill the value", at + 2 + n)
        try:
            return LangString(raw[4 + n:].decode("utf-8"), raw[2:2 + n].decode("ascii"))
        except UnicodeDecodeError:
            raise r.fail(f"attribute {name!r}: {_tag_name(tag)} is not UTF-8", at) from None
    if tag == Tag.RESOLUTION:
        x, y, units = struct.unpack(">iib", raw)
        return Resolution(x, y, units)
    if tag == Tag.RANGE:
        return IntRange(*struct.unpack(">ii", raw))
    if tag == Tag.DATE_TIME:
        return _decode_datetime(r, raw, at, name)
    if 0x10 <= tag <= 0x1F:
        if raw:
            return raw  # out-of-band values have no value bytes; keep what came to re-encode it
        return None
    return raw  # octetString, extension and tags we do not know: raw bytes


def _decode_datetime(r: _Reader, raw: bytes, at: int, name: str) -> dt.datetime:
    year, month, day, hour, minute, second, deci = struct.unpack(">HBBBBBB", raw[:8])
    sign, oh, om = raw[8:9], raw[9], raw[10]
    if sign not in (b"+", b"-") or deci > 9 or oh > 14 or om > 59:
        raise r.fail(f"attribute {name!r}: dateTime with a bad UTC offset or deci-seconds", at)
    offset = dt.timedelta(hours=oh, minutes=om) * (1 if sign == b"+" else -1)
    try:
        return dt.datetime(year, month, day, hour, minute, min(second, 59), deci * 100000,
                           tzinfo=dt.timezone(offset))
    except ValueError as exc:
        raise r.fail(f"attribute {name!r}: dateTime {exc}", at) from None


def _read_tagged(r: _Reader) -> tuple[int, str, bytes, int]:
    """One tag/name/value triple; returns (tag, name, value, offset of the value)."""
    start = r.pos
    tag = r.take(1, "value tag")[0]
    if tag == Tag.EXTENSION:
        raise r.fail("extension tag 0x7f is not supported", start)
    n = r.u16("name length")
    name_bytes = r.take(n, "attribute name")
    try:
        name = name_bytes.decode("utf-8")
    except UnicodeDecodeError:
        raise r.fail("attribute name is not UTF-8", start + 3) from None
    m = r.u16(f"value length of {name!r}")
    at = r.pos
    return tag, name, r.take(m, f"value of {name or 'an additional value'!r}"), at


def _decode_collection(r: _Reader, outer: str) -> Collection:
    members: list[Attribute] = []
    current: Attribute | None = None
    while True:
        start = r.pos
        if r.pos >= len(r.buf):
            raise r.fail(f"collection {outer!r} has no end")
        tag, name, raw, at = _read_tagged(r)
        if tag < 0x10:
            raise r.fail(f"delimiter tag 0x{tag:02x} inside collection {outer!r}", start)
        if name:
            raise r.fail(f"named attribute {name!r} inside collection {outer!r}", start)
        if tag == Tag.END_COLLECTION:
            if raw:
                raise r.fail(f"endCollection of {outer!r} with a value", start)
            return Collection(members)
        if tag == Tag.MEMBER_NAME:
            member = _decode_value(r, tag, raw, at, outer)
            if not member:
                raise r.fail(f"empty member name in collection {outer!r}", start)
            current = None
            pending = member
            # the member's first value follows
            vstart = r.pos
            if r.pos >= len(r.buf):
                raise r.fail(f"member {member!r} of {outer!r} has no value")
            vtag, vname, vraw, vat = _read_tagged(r)
            if vname or vtag < 0x10 or vtag in (Tag.MEMBER_NAME, Tag.END_COLLECTION):
                raise r.fail(f"member {member!r} of {outer!r} has no value", vstart)
            value = _decode_collection(r, pending) if vtag == Tag.BEGIN_COLLECTION else _decode_value(r, vtag, vraw, vat, pending)
            if vtag == Tag.BEGIN_COLLECTION and vraw:
                raise r.fail(f"begCollection of {pending!r} with a value", vstart)
            current = Attribute(pending, [value], [vtag])
            members.append(current)
            continue
        if current is None:
            raise r.fail(f"value without a member name in collection {outer!r}", start)
        if tag == Tag.BEGIN_COLLECTION:
            if raw:
                raise r.fail(f"begCollection of {current.name!r} with a value", start)
            value = _decode_collection(r, current.name)
        else:
            value = _decode_value(r, tag, raw, at, current.name)
        current.values.append(value)
        current.tags.append(tag)


def decode(buf: bytes, *, device: str | None = None) -> IppMessage:
    """Parse RFC 8010 bytes; what follows the end-of-attributes tag is the message's data."""
    r = _Reader(bytes(buf), device)
    major, minor, code, request_id = struct.unpack(">BBHI", r.take(8, "IPP header"))
    msg = IppMessage((major, minor), code, request_id)
    group: AttributeGroup | None = None
    current: Attribute | None = None
    while True:
        start = r.pos
        if r.pos >= len(r.buf):
            raise r.fail("no end-of-attributes tag")
        tag = r.buf[r.pos]
        if tag == Tag.END:
            r.pos += 1
            break
        if tag < 0x10:
            if tag == 0x00:
                raise r.fail("reserved delimiter tag 0x00", start)
            r.pos += 1
            group = msg.add_group(tag)
            current = None
            continue
        tag, name, raw, at = _read_tagged(r)
        if group is None:
            raise r.fail(f"attribute {name!r} before any group tag", start)
        if tag in (Tag.END_COLLECTION, Tag.MEMBER_NAME):
            raise r.fail(f"{_tag_name(tag)} outside a collection", start)
        if tag == Tag.BEGIN_COLLECTION:
            if raw:
                raise r.fail(f"begCollection of {name or (current.name if current else '?')!r} with a value", start)
            value = _decode_collection(r, name or (current.name if current else ""))
        else:
            value = _decode_value(r, tag, raw, at, name or (current.name if current else ""))
        if name:
            current = Attribute(name, [value], [tag])
            group.attributes.append(current)
        elif current is None:
            raise r.fail("additional value without an attribute", start)
        else:
            current.values.append(value)
            current.tags.append(tag)
    msg.data = r.buf[r.pos:]
    return msg


# ---------------------------------------------------------------------------------------------------
# errors


class IppHttpError(DeviceError):
    def __init__(self, message: str, *, http_status: int, device: str | None = None) -> None:
        self.http_status = http_status
        super().__init__(message, device=device)


class IppStatusError(DeviceError):
    """The printer answered with an IPP status that is not a success; `.status` holds it."""

    def __init__(self, status: int, operation: int, message: str | None = None, *, device: str | None = None) -> None:
        self.status = status
        self.operation = operation
        self.status_message = message
        text = f"{operation_name(operation)}: {status_name(status)} (0x{status:04x})"
        if message:
            text += f": {message}"
        super().__init__(text, device=device)


class IppClientError(IppStatusError):
    pass


class IppServerError(IppStatusError):
    pass


class IppNotFoundError(IppClientError):
    pass


class IppNotPossibleError(IppClientError):
    pass


class IppFormatError(IppClientError):
    pass


class IppBusyError(IppServerError):
    pass


_STATUS_ERRORS: dict[int, type[IppStatusError]] = {
    Status.NOT_FOUND: IppNotFoundError,
    Status.GONE: IppNotFoundError,
    Status.NOT_POSSIBLE: IppNotPossibleError,
    Status.DOCUMENT_FORMAT_NOT_SUPPORTED: IppFormatError,
    Status.BUSY: IppBusyError,
}


def _status_error(status: int, operation: int, message: str | None, device: str | None) -> IppStatusError:
    cls = _STATUS_ERRORS.get(status) or (IppClientError if status < 0x0500 else IppServerError)
    return cls(status, operation, message, device=device)


# ---------------------------------------------------------------------------------------------------
# the client


@dataclass(frozen=True, slots=True)
class PrinterStatus:
    state: PrinterState | int
    reasons: tuple[str, ...]
    message: str
    accepting_jobs: bool
    queued_job_count: int
    up_time: int
    attributes: Mapping[str, Attribute]

    def has_reason(self, reason: str) -> bool:
        """True if `reason` is present with or without its -report/-warning/-error suffix."""
        return any(r == reason or r.rsplit("-", 1)[0] == reason for r in self.reasons)


@dataclass(frozen=True, slots=True)
class JobStatus:
    job_id: int
    uri: str | None
    state: JobState | int
    reasons: tuple[str, ...]
    impressions_completed: int | None
    media_sheets_completed: int | None
    name: str | None
    attributes: Mapping[str, Attribute]


def _state(cls: type[enum.IntEnum], value: Any) -> Any:
    try:
        return cls(value)
    except ValueError:
        return value


def _str(value: Any) -> str:
    return value.text if isinstance(value, LangString) else str(value)


def _int_or_none(attrs: Mapping[str, Attribute], name: str) -> int | None:
    a = attrs.get(name)
    return a.value if a is not None and isinstance(a.value, int) and not isinstance(a.value, bool) else None


def _job_status(attrs: Mapping[str, Attribute]) -> JobStatus:
    reasons = attrs.get("job-state-reasons")
    name = attrs.get("job-name")
    return JobStatus(
        job_id=attrs["job-id"].value if "job-id" in attrs else 0,
        uri=attrs["job-uri"].value if "job-uri" in attrs else None,
        state=_state(JobState, attrs["job-state"].value) if "job-state" in attrs else 0,
        reasons=tuple(_str(v) for v in reasons.values) if reasons else (),
        impressions_completed=_int_or_none(attrs, "job-impressions-completed"),
        media_sheets_completed=_int_or_none(attrs, "job-media-sheets-completed"),
        name=_str(name.value) if name else None,
        attributes=attrs,
    )


STATUS_ATTRIBUTES = (
    "printer-state", "printer-state-reasons", "printer-state-message", "printer-is-accepting-jobs",
    "queued-job-count", "printer-up-time", "marker-levels", "marker-names", "media-ready", "printer-supply",
)
JOB_ATTRIBUTES = (
    "job-id", "job-uri", "job-name", "job-state", "job-state-reasons", "job-state-message",
    "job-impressions", "job-impressions-completed", "job-media-sheets", "job-media-sheets-completed",
)


# operations safe to send again when a kept-alive connection turns out to be closed
_IDEMPOTENT = frozenset({Op.GET_PRINTER_ATTRIBUTES, Op.GET_JOB_ATTRIBUTES, Op.GET_JOBS, Op.VALIDATE_JOB})


class _Connection:
    __slots__ = ("reader", "writer")

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer


class _Slot:
    """One place in the connection pool: a kept-alive connection, or None until one is needed."""

    __slots__ = ("conn",)

    def __init__(self) -> None:
        self.conn: _Connection | None = None


class IppPrinter:
    """An IPP printer, opened by URL: `async with IppPrinter("ipp://host:631/ipp/print") as p: ...`.

    Up to `connections` keep-alive connections, one request at a time on each, the most recently
    used first (so a lone poller keeps one connection; a status poll does not wait behind a long
    document upload when there are two). A connection the printer closes is reopened. Every wait is
    bounded: `timeout` seconds for a free connection, and for an answer, plus one second per MB of
    document sent. A request answered `server-error-busy` is sent again after a jittered
    exponential backoff, up to `busy_retries` times.
    """

    def __init__(
        self,
        url: str,
        *,
        timeout: float = 10.0,
        busy_retries: int = 10,
        busy_backoff: float = 0.1,
        busy_backoff_max: float = 2.0,
        user: str = "pmc",
        ssl_context: ssl.SSLContext | None = None,
        name: str | None = None,
        connections: int = 2,
    ) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("ipp", "ipps", "http", "https") or not parts.hostname:
            raise ValueError(f"{url!r} is not an ipp://host[:port]/path or ipps:// URL")
        self.url = url
        self.name = name or url
        self._tls = parts.scheme in ("ipps", "https")
        self._host = parts.hostname
        self._port = parts.port or (443 if parts.scheme == "https" else 80 if parts.scheme == "http" else 631)
        self._path = parts.path or "/"
        self._http_host = parts.netloc.rsplit("@", 1)[-1]
        self.printer_uri = url if parts.scheme in ("ipp", "ipps") else f"ipp://{self._http_host}{self._path}"
        self.timeout = timeout
        self.busy_retries = busy_retries
        self.busy_backoff = busy_backoff
        self.busy_backoff_max = busy_backoff_max
        self.user = user
        self._ssl = ssl_context if ssl_context is not None else (ssl.create_default_context() if self._tls else None)
        if connections < 1:
            raise ValueError(f"an IPP printer needs at least one connection, not {connections}")
        self._slots = [_Slot() for _ in range(connections)]
        self._free: asyncio.LifoQueue[_Slot] = asyncio.LifoQueue()
        for slot in reversed(self._slots):
            self._free.put_nowait(slot)
        self._request_id = 0
        self._rng = random.Random()
        self.busy_retried = 0  # how many times a busy answer was retried, for tests and metrics

    async def __aenter__(self) -> IppPrinter:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    @property
    def open_connections(self) -> int:
        return sum(1 for slot in self._slots if slot.conn is not None)

    async def aclose(self) -> None:
        for slot in self._slots:
            await self._drop(slot)

    @staticmethod
    async def _drop(slot: _Slot) -> None:
        conn, slot.conn = slot.conn, None
        if conn is None:
            return
        conn.writer.close()
        try:
            async with asyncio.timeout(1.0):
                await conn.writer.wait_closed()
        except (OSError, TimeoutError, ssl.SSLError):
            pass

    # --- the wire -----------------------------------------------------------------------------------

    def _next_id(self) -> int:
        self._request_id = self._request_id % 0x7FFFFFFF + 1
        return self._request_id

    def new_request(self, operation: int) -> IppMessage:
        """A request with the operation attributes every request starts with."""
        msg = IppMessage((2, 0), int(operation), self._next_id())
        op = msg.add_group(Tag.OPERATION)
        op.add("attributes-charset", "utf-8", Tag.CHARSET)
        op.add("attributes-natural-language", "en", Tag.LANGUAGE)
        op.add("printer-uri", self.printer_uri, Tag.URI)
        op.add("requesting-user-name", self.user, Tag.NAME)
        return msg

    async def send(self, request: IppMessage) -> IppMessage:
        """Send a request, retrying on busy; return the response, raising IppStatusError on failure."""
        delay = self.busy_backoff
        for attempt in range(self.busy_retries + 1):
            response = await self._exchange(encode(request), idempotent=request.code in _IDEMPOTENT)
            if response.code != Status.BUSY or attempt == self.busy_retries:
                break
            self.busy_retried += 1
            pause = self._rng.uniform(delay / 2, delay)
            logger.debug("%s: %s busy, retry %d in %.2fs", self.name, operation_name(request.code), attempt + 1, pause)
            await asyncio.sleep(pause)
            delay = min(delay * 2, self.busy_backoff_max)
            request.request_id = self._next_id()
        if response.code >= 0x0400:
            message = response.operation.get("status-message")
            raise _status_error(response.code, request.code, _str(message) if message else None, self.name)
        return response

    async def _exchange(self, body: bytes, *, idempotent: bool) -> IppMessage:
        try:
            async with asyncio.timeout(self.timeout):
                slot = await self._free.get()
        except TimeoutError:
            raise DeviceTimeoutError(f"all {len(self._slots)} IPP connections busy for {self.timeout:g}s",
                                     device=self.name) from None
        try:
            return await self._exchange_on(slot, body, idempotent)
        finally:
            self._free.put_nowait(slot)

    async def _exchange_on(self, slot: _Slot, body: bytes, idempotent: bool) -> IppMessage:
        limit = self.timeout + len(body) / 1_000_000  # a big document gets time to go over the wire
        for attempt in (0, 1):
            if slot.conn is not None and (slot.conn.reader.at_eof() or slot.conn.writer.is_closing()):
                await self._drop(slot)  # closed by the printer while idle: seen before sending anything
            reused = slot.conn is not None
            try:
                async with asyncio.timeout(limit):
                    if slot.conn is None:
                        reader, writer = await asyncio.open_connection(
                            self._host, self._port, ssl=self._ssl,
                            server_hostname=self._host if self._ssl is not None else None,
                        )
                        slot.conn = _Connection(reader, writer)
                    conn = slot.conn
                    head = (
                        f"POST {self._path} HTTP/1.1\r\nHost: {self._http_host}\r\n"
                        f"Content-Type: application/ipp\r\nContent-Length: {len(body)}\r\n"
                        f"User-Agent: pmc\r\n\r\n"
                    ).encode("ascii")
                    conn.writer.write(head + body)
                    await conn.writer.drain()
                    status, headers, payload = await self._read_response(conn)
            except TimeoutError:
                await self._drop(slot)
                raise DeviceTimeoutError(f"no IPP answer within {limit:g}s", device=self.name) from None
            except _StaleConnection:
                await self._drop(slot)
                if reused and attempt == 0 and idempotent:
                    # the printer closed an idle keep-alive connection as we sent: send again. A job
                    # submission is not resent: it may have been accepted, and a page is printed once.
                    continue
                raise DeviceError("the printer closed the connection without answering", device=self.name) from None
            except WireProtocolError:
                await self._drop(slot)
                raise
            except (OSError, ssl.SSLError, asyncio.IncompleteReadError) as exc:
                await self._drop(slot)
                raise DeviceError(f"IPP connection to {self._host}:{self._port} failed: {exc}", device=self.name) from None
            except BaseException:
                await self._drop(slot)  # cancelled mid-exchange: the connection is in an unknown state
                raise
            framed = "content-length" in headers or "chunked" in headers.get("transfer-encoding", "").lower()
            if headers.get("connection", "").lower() == "close" or not framed:
                await self._drop(slot)
            if status != 200:
                raise IppHttpError(f"HTTP {status} from {self._path}", http_status=status, device=self.name)
            return decode(payload, device=self.name)
        raise AssertionError("unreachable")

    async def _read_response(self, conn: _Connection) -> tuple[int, dict[str, str], bytes]:
        while True:
            try:
                line = await conn.reader.readuntil(b"\r\n")
            except asyncio.IncompleteReadError as exc:
                if not exc.partial:
                    raise _StaleConnection() from None
                raise WireProtocolError("HTTP: the status line is cut short", device=self.name, offset=len(exc.partial)) from None
            except asyncio.LimitOverrunError:
                raise WireProtocolError("HTTP: status line too long", device=self.name, offset=0) from None
            status, headers = _parse_head(line, await _read_headers(conn.reader, self.name), self.name)
            if 100 <= status < 200:
                continue  # 100 Continue and friends: the real answer follows
            break
        payload = await _read_body(conn.reader, headers, self.name, response=True)
        return status, headers, payload

    # --- operations ---------------------------------------------------------------------------------

    async def get_printer_attributes(self, requested: Sequence[str] = ("all",)) -> dict[str, Attribute]:
        req = self.new_request(Op.GET_PRINTER_ATTRIBUTES)
        if requested:
            req.operation.add("requested-attributes", list(requested), Tag.KEYWORD)
        resp = await self.send(req)
        out: dict[str, Attribute] = {}
        for g in resp.groups_of(Tag.PRINTER):
            out.update(g.as_dict())
        return out

    async def status(self) -> PrinterStatus:
        """The printer's state, reasons and queue: what a fleet watcher polls."""
        a = await self.get_printer_attributes(STATUS_ATTRIBUTES)
        reasons = a.get("printer-state-reasons")
        message = a.get("printer-state-message")
        return PrinterStatus(
            state=_state(PrinterState, a["printer-state"].value) if "printer-state" in a else 0,
            reasons=tuple(_str(v) for v in reasons.values) if reasons else (),
            message=_str(message.value) if message else "",
            accepting_jobs=bool(a["printer-is-accepting-jobs"].value) if "printer-is-accepting-jobs" in a else True,
            queued_job_count=_int_or_none(a, "queued-job-count") or 0,
            up_time=_int_or_none(a, "printer-up-time") or 0,
            attributes=a,
        )

    def _job_request(self, op: int, job_name: str | None, document_format: str | None,
                     attributes: Iterable[Attribute]) -> IppMessage:
        req = self.new_request(op)
        if job_name is not None:
            req.operation.add("job-name", job_name, Tag.NAME)
        if document_format is not None:
            req.operation.add("document-format", document_format, Tag.MIME_TYPE)
        attributes = list(attributes)
        if attributes:
            req.add_group(Tag.JOB).attributes.extend(attributes)
        return req

    @staticmethod
    def _job_from(resp: IppMessage) -> JobStatus:
        g = resp.group(Tag.JOB)
        return _job_status(g.as_dict() if g else {})

    async def print_job(self, document: bytes, *, document_format: str = "application/pdf",
                        job_name: str | None = None, attributes: Iterable[Attribute] = ()) -> JobStatus:
        req = self._job_request(Op.PRINT_JOB, job_name, document_format, attributes)
        req.data = document
        return self._job_from(await self.send(req))

    async def validate_job(self, *, document_format: str = "application/pdf", job_name: str | None = None,
                           attributes: Iterable[Attribute] = ()) -> None:
        await self.send(self._job_request(Op.VALIDATE_JOB, job_name, document_format, attributes))

    async def create_job(self, *, job_name: str | None = None, attributes: Iterable[Attribute] = ()) -> JobStatus:
        return self._job_from(await self.send(self._job_request(Op.CREATE_JOB, job_name, None, attributes)))

    async def send_document(self, job_id: int, document: bytes, *, document_format: str = "application/pdf",
                            last_document: bool = True) -> JobStatus:
        req = self.new_request(Op.SEND_DOCUMENT)
        req.operation.add("job-id", job_id, Tag.INTEGER)
        req.operation.add("last-document", last_document, Tag.BOOLEAN)
        req.operation.add("document-format", document_format, Tag.MIME_TYPE)
        req.data = document
        return self._job_from(await self.send(req))

    async def get_job_attributes(self, job_id: int, requested: Sequence[str] = JOB_ATTRIBUTES) -> JobStatus:
        req = self.new_request(Op.GET_JOB_ATTRIBUTES)
        req.operation.add("job-id", job_id, Tag.INTEGER)
        if requested:
            req.operation.add("requested-attributes", list(requested), Tag.KEYWORD)
        return self._job_from(await self.send(req))

    async def get_jobs(self, *, which_jobs: str = "not-completed", requested: Sequence[str] = JOB_ATTRIBUTES,
                       my_jobs: bool = False, limit: int | None = None) -> list[JobStatus]:
        req = self.new_request(Op.GET_JOBS)
        req.operation.add("which-jobs", which_jobs, Tag.KEYWORD)
        if my_jobs:
            req.operation.add("my-jobs", True, Tag.BOOLEAN)
        if limit is not None:
            req.operation.add("limit", limit, Tag.INTEGER)
        if requested:
            req.operation.add("requested-attributes", list(requested), Tag.KEYWORD)
        resp = await self.send(req)
        return [_job_status(g.as_dict()) for g in resp.groups_of(Tag.JOB)]

    async def cancel_job(self, job_id: int) -> None:
        req = self.new_request(Op.CANCEL_JOB)
        req.operation.add("job-id", job_id, Tag.INTEGER)
        await self.send(req)

    async def wait_for_job(self, job_id: int, *, poll: float = 0.2, timeout: float = 60.0) -> JobStatus:
        """Poll a job until it is completed, canceled or aborted."""
        try:
            async with asyncio.timeout(timeout):
                while True:
                    job = await self.get_job_attributes(job_id)
                    if isinstance(job.state, JobState) and job.state.is_final:
                        return job
                    await asyncio.sleep(poll)
        except TimeoutError:
            raise DeviceTimeoutError(f"job {job_id} not finished within {timeout:g}s", device=self.name) from None


# ---------------------------------------------------------------------------------------------------
# HTTP/1.1 framing, shared with nothing: the simulator writes its own server side


class _StaleConnection(Exception):
    """The peer closed the connection before sending a byte of the answer."""


async def _read_headers(reader: asyncio.StreamReader, device: str | None) -> list[bytes]:
    lines = []
    total = 0
    while True:
        try:
            line = await reader.readuntil(b"\r\n")
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError):
            raise WireProtocolError("HTTP: headers cut short", device=device, offset=total) from None
        total += len(line)
        if line == b"\r\n":
            return lines
        if len(lines) > 100 or total > 65536:
            raise WireProtocolError("HTTP: too many header bytes", device=device, offset=total)
        lines.append(line)


def _parse_head(status_line: bytes, lines: list[bytes], device: str | None) -> tuple[int, dict[str, str]]:
    parts = status_line.split(None, 2)
    if len(parts) < 2 or not parts[0].startswith(b"HTTP/1.") or not parts[1].isdigit():
        raise WireProtocolError(f"HTTP: bad status line {status_line[:60]!r}", device=device, offset=0)
    headers: dict[str, str] = {}
    for line in lines:
        key, sep, value = line.decode("latin-1").partition(":")
        if not sep:
            raise WireProtocolError(f"HTTP: bad header line {line[:60]!r}", device=device)
        headers[key.strip().lower()] = value.strip()
    return int(parts[1]), headers


MAX_BODY = 1 << 30


async def _read_body(reader: asyncio.StreamReader, headers: Mapping[str, str], device: str | None,
                     *, response: bool) -> bytes:
    if "chunked" in headers.get("transfer-encoding", "").lower():
        out = bytearray()
        while True:
            try:
                size_line = await reader.readuntil(b"\r\n")
                size = int(size_line.split(b";")[0].strip(), 16)
            except (ValueError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
                raise WireProtocolError("HTTP: bad chunk size", device=device, offset=len(out)) from None
            if size == 0:
                await _read_headers(reader, device)  # trailers
                return bytes(out)
            if len(out) + size > MAX_BODY:
                raise WireProtocolError("HTTP: body too large", device=device, offset=len(out))
            try:
                out += await reader.readexactly(size)
                if await reader.readexactly(2) != b"\r\n":
                    raise WireProtocolError("HTTP: chunk not followed by CRLF", device=device, offset=len(out))
            except asyncio.IncompleteReadError:
                raise WireProtocolError("HTTP: body cut short", device=device, offset=len(out)) from None
    length = headers.get("content-length")
    if length is not None:
        try:
            n = int(length)
            if n < 0 or n > MAX_BODY:
                raise ValueError
        except ValueError:
            raise WireProtocolError(f"HTTP: bad Content-Length {length!r}", device=device) from None
        try:
            return await reader.readexactly(n)
        except asyncio.IncompleteReadError as exc:
            raise WireProtocolError("HTTP: body cut short", device=device, offset=len(exc.partial)) from None
    if response:
        return await reader.read()  # no framing: the body runs to the end of the connection
    return b""
