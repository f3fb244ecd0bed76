"""The Intelligent Mail barcode against USPS-B-3200's appendix, the PostalPro encoder and reportlab's usps4s."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest
from hypothesis import given, settings, strategies as st

from mailsort.errors import MailsortError
from mailsort.imb import Imb, ImbError, encode_imb

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "mailsort"


def _vectors(name: str) -> list[dict]:
    return json.loads((FIXTURES / name).read_text())["vectors"]


@pytest.mark.parametrize("vector", _vectors("imb_spec_vectors.json"), ids=lambda v: v["id"])
def test_spec_appendix_vectors_encode_exactly(vector):
    imb = encode_imb(vector["tracking"], vector["routing"])
    assert imb.bars == vector["bars"]
    assert imb.binary == int(vector["binary_hex"], 16)
    assert imb.fcs == int(vector["fcs_hex"], 16)
    assert list(imb.codewords) == vector["codewords"]
    for field, value in vector["fields"].items():
        assert getattr(imb, field) == value


@pytest.mark.parametrize("vector", _vectors("imb_extra_vectors.json"), ids=lambda v: v["id"])
def test_postalpro_encoder_output_is_reproduced(vector):
    imb = encode_imb(vector["tracking"], vector["routing"])
    assert imb.bars == vector["bars"]
    for field, value in vector["fields"].items():
        assert getattr(imb, field) == value


def _reportlab_bars(tracking: str, routing: str) -> str:
    from reportlab.graphics.barcode.usps4s import USPS_4State

    # reportlab reads an empty routing argument as "split it off the value", so pass the joined form
    return USPS_4State(tracking + routing).barcodes


def _random_input(rng: random.Random) -> tuple[str, str]:
    tracking = str(rng.randrange(10)) + str(rng.randrange(5)) + "".join(rng.choice("0123456789") for _ in range(18))
    length = rng.choice((0, 5, 9, 11))
    return tracking, "".join(rng.choice("0123456789") for _ in range(length))


def test_thousands_of_random_inputs_agree_with_reportlab():
    rng = random.Random(20261123)
    for _ in range(5000):
        tracking, routing = _random_input(rng)
        assert encode_imb(tracking, routing).bars == _reportlab_bars(tracking, routing), (tracking, routing)


def test_extreme_values_agree_with_reportlab():
    for tracking in ("00000000000000000000", "94999999999999999999", "04000000000000000000"):
        for routing in ("", "00000", "99999", "000000000", "999999999", "00000000000", "99999999999"):
            assert encode_imb(tracking, routing).bars == _reportlab_bars(tracking, routing)


@settings(max_examples=300, deadline=None)
@given(
    st.from_regex(r"\A[0-9][0-4][0-9]{18}\Z"),
    st.sampled_from([0, 5, 9, 11]).flatmap(lambda n: st.from_regex(rf"\A[0-9]{{{n}}}\Z")),
)
def test_bars_are_65_of_four_states_and_match_reportlab(tracking, routing):
    imb = encode_imb(tracking, routing)
    assert len(imb.bars) == 65 and set(imb.bars) <= set("ADFT")
    assert 0 <= imb.fcs < 2048 and len(imb.codewords) == 10
    assert imb.bars == _reportlab_bars(tracking, routing)


def test_nine_digit_mailer_id_takes_a_six_digit_serial():
    imb = encode_imb("00040912345678123456", "12345")
    assert (imb.barcode_id, imb.service_type, imb.mailer_id, imb.serial) == ("00", "040", "912345678", "123456")
    assert imb.human_readable == "00 040 912345678 123456 12345"


def test_six_digit_mailer_id_takes_a_nine_digit_serial():
    imb = encode_imb("00040812345123456789")
    assert (imb.mailer_id, imb.serial) == ("812345", "123456789")


def test_imb_is_frozen_and_slotted():
    imb = encode_imb("01234567094987654321")
    assert isinstance(imb, Imb) and not hasattr(imb, "__dict__")
    with pytest.raises(AttributeError):
        imb.bars = "x"  # type: ignore[misc]


@pytest.mark.parametrize(
    ("tracking", "routing", "field", "why"),
    [
        ("0123456709498765432", "", "tracking code", "20 digits, got 19"),
        ("012345670949876543210", "", "tracking code", "20 digits, got 21"),
        ("0123456709498765432x", "", "tracking code", "'x' at position 20"),
        ("01234 67094987654321", "", "tracking code", "' ' at position 6"),
        ("0123456709498765432\u0663", "", "tracking code", "position 20"),  # an Arabic-Indic digit is not ours
        ("05234567094987654321", "", "barcode ID", "second digit must be 0-4"),
        ("09234567094987654321", "", "barcode ID", "'09'"),
        ("01234567094987654321", "1234", "routing code", "0 or 5 or 9 or 11 digits, got 4"),
        ("01234567094987654321", "1234567890", "routing code", "got 10"),
        ("01234567094987654321", "12345-6789", "routing code", "got 10"),
        ("01234567094987654321", "1234A", "routing code", "'A' at position 5"),
        (1234567094987654321, "", "tracking code", "got int"),
        ("01234567094987654321", None, "routing code", "got NoneType"),
    ],
)
def test_malformed_input_is_refused_naming_the_field_and_why(tracking, routing, field, why):
    with pytest.raises(ImbError) as caught:
        encode_imb(tracking, routing)
    assert caught.value.field == field
    assert field in str(caught.value) and why in str(caught.value)
    assert isinstance(caught.value, MailsortError) and isinstance(caught.value, ValueError)


def test_reportlab_accepts_a_barcode_id_we_refuse():
    # the reason we validate ourselves: reportlab encodes a second digit above 4
    assert len(_reportlab_bars("05234567094987654321", "")) == 65
    with pytest.raises(ImbError, match="barcode ID"):
        encode_imb("05234567094987654321")
