"""The control code: round trips, strict parsing, and a DataMatrix that zxing-cpp reads back."""

from __future__ import annotations

import numpy as np
import pytest
import zxingcpp
from hypothesis import given, settings, strategies as st

from drivers.controlcode import (
    MAX_PAYLOAD, MAX_STATION, ControlCode, ControlCodeError, decode, encode, job_token, piece_token,
    render_datamatrix, token_sequence,
)
from drivers.errors import WireProtocolError

ALNUM = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"


@st.composite
def codes(draw):
    of = draw(st.integers(1, 36**2 - 1))
    return ControlCode(
        job=draw(st.text(ALNUM, min_size=1, max_size=6)),
        piece=draw(st.text(ALNUM, min_size=1, max_size=9)),
        sheet=draw(st.integers(1, of)),
        of=of,
        selections=frozenset(draw(st.sets(st.integers(1, MAX_STATION)))),
    )


def test_a_sample_payload_reads_back_field_by_field():
    code = ControlCode("R0042", "1Z7", 2, 3, frozenset({1, 4}))
    payload = encode(code)
    assert payload.startswith("R0042.1Z7.0203")
    assert decode(payload) == code


@given(codes())
def test_every_code_round_trips_within_the_payload_limit(code):
    payload = encode(code)
    assert len(payload) <= MAX_PAYLOAD <= 25
    assert decode(payload) == code


@given(codes(), st.data())
def test_any_single_character_substitution_fails_the_check(code, data):
    payload = encode(code)
    i = data.draw(st.integers(0, len(payload) - 1))
    replacement = data.draw(st.sampled_from([c for c in ALNUM + ".*" if c != payload[i]]))
    bad = payload[:i] + replacement + payload[i + 1:]
    with pytest.raises(ControlCodeError):
        decode(bad)


@given(codes(), st.data())
def test_swapping_two_adjacent_different_characters_fails(code, data):
    payload = encode(code)
    i = data.draw(st.integers(0, len(payload) - 2))
    if payload[i] == payload[i + 1]:
        return
    bad = payload[:i] + payload[i + 1] + payload[i] + payload[i + 2:]
    with pytest.raises(ControlCodeError):
        decode(bad)


@given(st.text(max_size=40))
def test_arbitrary_text_decodes_or_raises_control_code_error(text):
    try:
        code = decode(text)
    except ControlCodeError:
        return
    assert encode(code) == text


@pytest.mark.parametrize("payload, why", [
    ("", "characters"),
    ("R0042.1Z7.0203009", "check"),  # check character missing
    ("r0042.1Z7.02030099", "character"),
    ("R0042-1Z7.02030099", "character"),
    ("R0042.1Z7.0203009?", "check character"),
])
def test_malformed_payloads_are_refused_with_a_reason(payload, why):
    with pytest.raises(ControlCodeError, match=why):
        decode(payload)


def test_a_checked_payload_with_sheet_past_its_count_is_refused():
    # build the payload by hand with a valid check character over impossible fields
    from drivers.controlcode import _mod37_2
    body = "J.P.0302000"
    payload = body + _mod37_2(body)
    with pytest.raises(ControlCodeError, match="past"):
        decode(payload)


def test_control_code_error_is_a_wire_protocol_error_with_the_offset():
    payload = encode(ControlCode("J", "P", 1, 1))
    bad = payload[:-1] + ("0" if payload[-1] != "0" else "1")
    with pytest.raises(WireProtocolError) as info:
        decode(bad)
    assert info.value.offset == len(payload) - 1


@pytest.mark.parametrize("kwargs", [
    dict(job="", piece="1", sheet=1, of=1),
    dict(job="TOOLONG", piece="1", sheet=1, of=1),
    dict(job="J", piece="1234567890", sheet=1, of=1),
    dict(job="j", piece="1", sheet=1, of=1),
    dict(job="J", piece="1", sheet=0, of=1),
    dict(job="J", piece="1", sheet=2, of=1),
    dict(job="J", piece="1", sheet=1, of=1296),
    dict(job="J", piece="1", sheet=1, of=1, selections=frozenset({16})),
    dict(job="J", piece="1", sheet=1, of=1, selections=frozenset({0})),
    dict(job="J", piece="1", sheet=True, of=1),
])
def test_codes_that_cannot_be_printed_are_refused_when_built(kwargs):
    with pytest.raises(ControlCodeError):
        ControlCode(**kwargs)


@given(st.integers(0, 36**9 - 1))
def test_piece_tokens_are_reversible(n):
    assert token_sequence(piece_token(n)) == n


def test_job_token_keeps_short_ids_and_digests_long_ones():
    assert job_token("r42") == "R42"
    long = job_token("demo-0001")
    assert len(long) == 6 and long == job_token("demo-0001") and long != job_token("demo-0002")
    ControlCode(long, "0", 1, 1)


def _read(image: np.ndarray) -> list[str]:
    return [b.text for b in zxingcpp.read_barcodes(image, formats=zxingcpp.BarcodeFormat.DataMatrix)]


@settings(max_examples=25, deadline=None)
@given(codes(), st.integers(1, 6))
def test_the_rendered_datamatrix_reads_back_as_the_same_code(code, module_px):
    image = render_datamatrix(encode(code), module_px=module_px)
    assert image.dtype == np.uint8 and image.ndim == 2
    # the quiet zone: a white border at least two modules wide
    edge = 2 * module_px
    assert image[:edge].min() == 255 and image[-edge:].min() == 255
    assert image[:, :edge].min() == 255 and image[:, -edge:].min() == 255
    assert [decode(t) for t in _read(image)] == [code]


def test_the_datamatrix_survives_being_placed_on_a_page_and_scaled():
    import cv2
    image = render_datamatrix(encode(ControlCode("R0042", "1Z7", 2, 3, frozenset({1, 4}))), module_px=3)
    page = np.full((400, 300), 255, dtype=np.uint8)
    page[50:50 + image.shape[0], 40:40 + image.shape[1]] = image
    smaller = cv2.resize(page, None, fx=0.8, fy=0.8, interpolation=cv2.INTER_AREA)
    assert [decode(t) for t in _read(smaller)] == [ControlCode("R0042", "1Z7", 2, 3, frozenset({1, 4}))]


def test_a_bad_module_size_is_refused():
    with pytest.raises(ControlCodeError):
        render_datamatrix("J.P.01010000", module_px=0)


def _with_check(body: str) -> str:
    from drivers.controlcode import _mod37_2
    return body + _mod37_2(body)


@pytest.mark.parametrize("body, why", [
    ("R00421Z7.0203009", "separators"),
    ("R0042.1Z7.1.020300", "separators"),
    ("R0042.1Z7.020300", "not 8"),
    ("1234567.1.0101000", "job field"),
    ("J.1234567890.0101000", "piece field"),
    ("J.P.0101ZZZ", "stations above"),
])
def test_well_checked_payloads_with_bad_fields_are_refused(body, why):
    with pytest.raises(ControlCodeError, match=why):
        decode(_with_check(body))
