"""Tray labels (three lines, 24-digit tray barcode data from the content-identifier table) and piece IMbs."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from mailsort.errors import ImbError, PieceDataError
from mailsort.imb import encode_imb
from mailsort.model import MailPiece, PresortOptions
from mailsort.presort import presort

from ._support import MAILING_DATE, operator, synthetic_table


def _mailing() -> list[MailPiece]:
    return ([MailPiece(f"a{k}", f"30001{k:06d}") for k in range(150)]
            + [MailPiece(f"b{k}", f"30501{k:06d}") for k in range(100)]
            + [MailPiece(f"c{k}", f"30601{k:06d}") for k in range(60)]
            + [MailPiece("d", "31001000001"), MailPiece("e", "59901000001"), MailPiece("f", "")])


def test_tray_labels_have_three_lines_and_24_digit_barcode_data():
    options = PresortOptions(MAILING_DATE, mailer_id="123456", origin="ACME MAIL ATLANTA GA", origin_zip3="303",
                             tray_serial_start=41)
    result = presort(_mailing(), operator("usps-fcm"), options)
    labels = {c.level: c.label for c in result.containers}
    cins = {r["level"]: r for r in synthetic_table("CIN").rows if r["operator"] == "usps-fcm"}
    assert labels["5D"].destination.endswith(" GA 30001")
    assert labels["3D"].destination.endswith(" 305")
    assert labels["AADC"].destination.startswith("AADC ") and labels["AADC"].destination.endswith(" 304")
    assert labels["MXD"].destination.startswith("MXD ") and labels["MXD"].destination.endswith(" 296")
    for c in result.containers:
        label = c.label
        assert label.origin == "ACME MAIL ATLANTA GA" and len(label.lines) == 3
        assert label.content == cins[c.level]["content"]
        data = label.barcode_data
        assert data is not None and len(data) == 24 and data.isdigit()
        assert data[5:8] == cins[c.level]["cin"] and data[8:11] == cins[c.level]["processing_code"]
        assert data[11:17] == "123456" and int(data[17:]) == 41 + c.sequence
    assert result.containers[0].label.barcode_data[:5] == "30001"


def test_nine_digit_mailer_id_leaves_four_digits_of_tray_serial():
    options = PresortOptions(MAILING_DATE, mailer_id="912345678", origin_zip3="303", tray_serial_start=9998)
    result = presort(_mailing()[:150], operator("usps-fcm"), options)
    assert result.containers[0].label.barcode_data[11:] == "9123456789998"


def test_each_piece_gets_an_imb_with_its_delivery_point_and_a_serial_in_sort_order():
    options = PresortOptions(MAILING_DATE, mailer_id="123456", service_type="040", barcode_id="00", serial_start=700)
    result = presort(_mailing(), operator("usps-fcm"), options)
    for seq in (0, 1, len(result) - 1):
        piece = result.piece(seq)
        imb = result.imb(seq)
        assert imb is not None and piece.imb is not None
        assert imb.serial == f"{700 + seq:09d}" and imb.mailer_id == "123456" and imb.service_type == "040"
        assert imb.routing == (piece.postcode if len(piece.postcode) == 11 else "")
        assert imb.bars == encode_imb(piece.imb_tracking, piece.imb_routing).bars


def test_without_a_mailer_id_pieces_carry_no_imb_and_trays_no_barcode():
    result = presort(_mailing(), operator("usps-fcm"), PresortOptions(MAILING_DATE))
    assert result.imb(0) is None and result.piece(0).imb is None
    assert all(c.label.barcode_data is None for c in result.containers)


@pytest.mark.parametrize(("field", "options"), [
    ("mailer ID", PresortOptions(MAILING_DATE, mailer_id="12345")),
    ("mailer ID", PresortOptions(MAILING_DATE, mailer_id="923456")),
    ("barcode ID", PresortOptions(MAILING_DATE, mailer_id="123456", barcode_id="07")),
    ("tracking code", PresortOptions(MAILING_DATE, mailer_id="123456", service_type="3x0")),
    ("serial", PresortOptions(MAILING_DATE, mailer_id="912345678", serial_start=999_999)),
])
def test_bad_imb_settings_are_refused_before_sorting(field, options):
    with pytest.raises(ImbError) as caught:
        presort(_mailing(), operator("usps-fcm"), options)
    assert caught.value.field == field


def test_duplicate_piece_ids_and_bad_thickness_are_refused_naming_the_piece():
    with pytest.raises(PieceDataError, match="piece a0: piece ID appears more than once"):
        presort([MailPiece("a0", "30001000001"), MailPiece("a0", "30001000002")], operator("usps-fcm"),
                PresortOptions(MAILING_DATE))
    with pytest.raises(PieceDataError, match="piece x: thickness_mm -1.0"):
        presort([MailPiece("x", "30001000001", thickness_mm=-1.0)], operator("usps-fcm"), PresortOptions(MAILING_DATE))


def test_other_operators_label_their_containers():
    dp = presort([MailPiece(f"d{k}", f"531{k % 100:02d}") for k in range(60)], operator("dp-dialogpost"),
                 PresortOptions(MAILING_DATE, origin="Absender GmbH, Bonn", origin_postcode="53113"))
    assert dp.containers[0].label.lines == ("Leitbereich Bonn", "Dialogpost Brief · Behälter 1", "Absender GmbH, Bonn")
    assert dp.imb(0) is None
    rm = presort([MailPiece(f"r{k}", "BS1 1AA") for k in range(30)], operator("rm-mailsort"),
                 PresortOptions(MAILING_DATE, origin="ACME BRISTOL"))
    assert rm.containers[0].label.destination.endswith("(D-BS01)")
    assert "DIRECT" in rm.containers[0].label.content


def test_an_empty_mailing_sorts_to_nothing():
    result = presort([], operator("usps-fcm"), PresortOptions(MAILING_DATE))
    assert len(result) == 0 and result.containers == () and not result.minimum_met


def test_mailsort_imports_neither_controller_nor_drivers():
    root = Path(__file__).resolve().parents[2] / "mailsort"
    for path in root.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else \
                [node.module or ""] if isinstance(node, ast.ImportFrom) else []
            for name in names:
                assert not name.split(".")[0] in ("controller", "drivers", "asyncio"), (path, name)
