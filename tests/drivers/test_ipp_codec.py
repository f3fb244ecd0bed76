"""The RFC 8010 codec: golden captures from CUPS round-trip byte for byte; every syntax; malformed bytes."""

from __future__ import annotations

import datetime as dt
import struct
from pathlib import Path

import pytest
from hypothesis import given, settings, strategies as st

from drivers.errors import WireProtocolError
from drivers.ipp import (
    Attribute, Collection, IntRange, IppMessage, LangString, Resolution, Tag, decode, encode,
)

GOLDEN = sorted((Path(__file__).resolve().parents[2] / "fixtures" / "wire" / "ipp").glob("*.bin"))


def test_golden_captures_exist():
    assert len(GOLDEN) >= 12


@pytest.mark.parametrize("path", GOLDEN, ids=lambda p: p.name)
def test_golden_capture_reencodes_byte_identically(path: Path):
    data = path.read_bytes()
    assert encode(decode(data)) == data


def test_golden_print_job_request_carries_every_kind_of_value():
    msg = decode(next(p for p in GOLDEN if p.name.endswith("print-job.request.bin")).read_bytes())
    assert msg.code == 0x0002
    assert msg.data.startswith(b"%PDF")
    job = msg.group(Tag.JOB)
    media_col = job["media-col"].value
    assert media_col["media-size"].value.get("x-dimension") == 21590
    assert media_col.get("media-source") == "auto"
    assert job.get("page-ranges") == IntRange(1, 2)
    assert job.get("printer-resolution") == Resolution(600, 600, 3)


def test_golden_printer_attributes_decode_to_values():
    msg = decode(next(p for p in GOLDEN if p.name.endswith("get-printer-attributes.response.bin")).read_bytes())
    printer = msg.group(Tag.PRINTER)
    assert msg.code == 0
    assert printer.get("printer-state") in (3, 4, 5)
    assert 0x000B in printer["operations-supported"].values
    assert any(isinstance(v, Collection) for v in printer["media-col-database"].values)
    assert isinstance(printer.get("printer-current-time"), dt.datetime)


def test_golden_error_responses_carry_their_status():
    codes = {p.name: decode(p.read_bytes()).code for p in GOLDEN if p.name.endswith("response.bin")}
    assert codes["05-cancel-job.response.bin"] == 0x0404  # the job had completed
    assert codes["06-get-job-attributes.response.bin"] == 0x0406


def _message_with(attrs: list[Attribute]) -> IppMessage:
    msg = IppMessage((2, 0), 0x000B, 42)
    op = msg.add_group(Tag.OPERATION)
    op.add("attributes-charset", "utf-8", Tag.CHARSET)
    msg.add_group(Tag.JOB).attributes.extend(attrs)
    return msg


EVERY_SYNTAX = [
    Attribute("i", [-(2**31), 0, 2**31 - 1], Tag.INTEGER),
    Attribute("b", [True, False], Tag.BOOLEAN),
    Attribute("e", 9, Tag.ENUM),
    Attribute("t", "héllo", Tag.TEXT),
    Attribute("n", "nom", Tag.NAME),
    Attribute("tl", LangString("bonjour", "fr-ca"), Tag.TEXT_LANG),
    Attribute("nl", LangString("nom", "fr"), Tag.NAME_LANG),
    Attribute("k", ["a", "b"], Tag.KEYWORD),
    Attribute("u", "ipp://h/p", Tag.URI),
    Attribute("us", "ipps", Tag.URI_SCHEME),
    Attribute("c", "utf-8", Tag.CHARSET),
    Attribute("l", "en-us", Tag.LANGUAGE),
    Attribute("m", "application/pdf", Tag.MIME_TYPE),
    Attribute("o", b"\x00\xff raw", Tag.OCTET_STRING),
    Attribute("d", dt.datetime(2026, 11, 23, 9, 30, 5, 700000, tzinfo=dt.timezone(dt.timedelta(hours=-5, minutes=-30))), Tag.DATE_TIME),
    Attribute("r", [Resolution(600, 600, 3), Resolution(236, 118, 4)], Tag.RESOLUTION),
    Attribute("rg", IntRange(-5, 5), Tag.RANGE),
    Attribute("mixed", [1, IntRange(2, 3)], [Tag.INTEGER, Tag.RANGE]),
    Attribute("col", [Collection([Attribute("media-size", Collection([Attribute("x-dimension", 21000)])),
                                  Attribute("multi", ["x", "y"], Tag.KEYWORD)]), Collection([])]),
    Attribute("oob", [None], Tag.NO_VALUE),
    Attribute("unk", [None], Tag.UNKNOWN),
    Attribute("unsup", [None], Tag.UNSUPPORTED),
    Attribute("odd-tag", b"kept as bytes", 0x4F),
]


@pytest.mark.parametrize("attr", EVERY_SYNTAX, ids=lambda a: a.name)
def test_every_syntax_round_trips(attr: Attribute):
    msg = _message_with([attr])
    data = encode(msg)
    back = decode(data).group(Tag.JOB)[attr.name]
    assert back.tags == attr.tags
    assert back.values == attr.values
    assert encode(decode(data)) == data


def test_collection_member_encoding_follows_rfc_8010_section_3_1_6():
    data = encode(_message_with([Attribute("c", Collection([Attribute("m", 1)]))]))
    body = data[data.index(b"\x34\x00\x01c"):]
    assert body == (b"\x34\x00\x01c\x00\x00"           # begCollection, name c, no value
                    b"\x4a\x00\x00\x00\x01m"            # memberAttrName "m"
                    b"\x21\x00\x00\x00\x04\x00\x00\x00\x01"  # integer 1, no name
                    b"\x37\x00\x00\x00\x00"             # endCollection
                    b"\x03")


def test_document_data_follows_the_end_tag():
    msg = _message_with([])
    msg.data = b"%PDF-1.7 ..."
    assert decode(encode(msg)).data == b"%PDF-1.7 ..."


@pytest.mark.parametrize("path", [p for p in GOLDEN if p.stat().st_size < 4000], ids=lambda p: p.name)
def test_every_truncation_is_a_wire_error_with_an_offset(path: Path):
    data = path.read_bytes()
    msg = decode(data)
    attributes_end = len(encode(IppMessage(msg.version, msg.code, msg.request_id, msg.groups)))
    for cut in range(attributes_end - 1):
        with pytest.raises(WireProtocolError) as err:
            decode(data[:cut])
        assert err.value.offset is not None and 0 <= err.value.offset <= cut


@pytest.mark.parametrize("bad, offset", [
    (b"\x02\x00\x00\x0b\x00\x00\x00\x01\x01\x21\x00\x01x\x00\x03\x00\x00\x01\x03", 15),  # integer of 3 bytes
    (b"\x02\x00\x00\x0b\x00\x00\x00\x01\x01\x22\x00\x01x\x00\x01\x07\x03", 15),  # boolean 7
    (b"\x02\x00\x00\x0b\x00\x00\x00\x01\x01\x21\x00\x00\x00\x04\x00\x00\x00\x01\x03", 9),  # value with no attribute
    (b"\x02\x00\x00\x0b\x00\x00\x00\x01\x21\x00\x01x\x00\x04\x00\x00\x00\x01\x03", 8),  # no group tag
    (b"\x02\x00\x00\x0b\x00\x00\x00\x01\x01\x00\x03", 9),  # reserved delimiter 0x00
    (b"\x02\x00\x00\x0b\x00\x00\x00\x01\x01\x37\x00\x00\x00\x00\x03", 9),  # endCollection outside
    (b"\x02\x00\x00\x0b\x00\x00\x00\x01\x01\x41\x00\x01t\x00\x02\xff\xfe\x03", 15),  # text not UTF-8
])
def test_malformed_values_name_their_offset(bad: bytes, offset: int):
    with pytest.raises(WireProtocolError) as err:
        decode(bad)
    assert err.value.offset == offset
    assert f"at byte {offset}" in str(err.value)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=200))
def test_random_bytes_decode_or_raise_a_wire_error(data: bytes):
    try:
        msg = decode(data)
    except WireProtocolError as exc:
        assert exc.offset is not None
    else:
        again = encode(msg)
        assert encode(decode(again)) == again


@settings(max_examples=200, deadline=None)
@given(st.data())
def test_garbled_golden_bytes_never_raise_anything_else(data):
    raw = bytearray(GOLDEN[1].read_bytes()[:3000])
    for _ in range(data.draw(st.integers(1, 4))):
        raw[data.draw(st.integers(0, len(raw) - 1))] = data.draw(st.integers(0, 255))
    try:
        decode(bytes(raw))
    except WireProtocolError as exc:
        assert exc.offset is not None


_values = st.one_of(
    st.integers(-(2**31), 2**31 - 1).map(lambda i: (Tag.INTEGER, i)),
    st.booleans().map(lambda b: (Tag.BOOLEAN, b)),
    st.text(max_size=20).map(lambda s: (Tag.TEXT, s)),
    st.text(alphabet="abcdefghij-", min_size=1, max_size=10).map(lambda s: (Tag.KEYWORD, s)),
    st.builds(LangString, st.text(max_size=10), st.sampled_from(["en", "fr-ca"])).map(lambda v: (Tag.NAME_LANG, v)),
    st.builds(IntRange, st.integers(-100, 100), st.integers(-100, 100)).map(lambda v: (Tag.RANGE, v)),
    st.builds(Resolution, st.integers(1, 9999), st.integers(1, 9999), st.sampled_from([3, 4])).map(lambda v: (Tag.RESOLUTION, v)),
    st.binary(max_size=16).map(lambda b: (Tag.OCTET_STRING, b)),
)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.text(alphabet="abcxyz-", min_size=1, max_size=8), st.lists(_values, min_size=1, max_size=3)), max_size=6))
def test_any_message_round_trips(items):
    attrs = [Attribute(name, [v for _, v in vals], [t for t, _ in vals]) for name, vals in items]
    data = encode(_message_with(attrs))
    back = decode(data)
    assert [(a.name, a.values, a.tags) for a in back.group(Tag.JOB).attributes] == [(a.name, a.values, a.tags) for a in attrs]
    assert encode(back) == data


def test_header_fields_round_trip():
    msg = decode(struct.pack(">BBHI", 1, 1, 0x0507, 0xFFFFFFFF) + b"\x03")
    assert (msg.version, msg.code, msg.request_id) == ((1, 1), 0x0507, 0xFFFFFFFF)
