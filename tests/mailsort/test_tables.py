"""Dated reference tables: parsing, the effective..expiry window, and errors that name table and line."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from mailsort.errors import MailsortError, RulesError, TableError, TableExpiredError
from mailsort.model import MailPiece, PresortOptions
from mailsort.operators import make_operator, table_roles
from mailsort.presort import presort
from mailsort.summary import postage_summary
from mailsort.tables import parse_price_table, parse_table

from ._support import MAILING_DATE, synthetic_prices, synthetic_table

L002 = """# table: L002-TEST
# effective: 2026-01-01
# expires: 2026-06-30
zip3,destination,city,state,label_zip
300,300,A,GA,30000
"""


def test_table_reads_its_header_and_rows():
    t = parse_table(L002, "l002.csv")
    assert (t.name, t.effective, t.expires) == ("L002-TEST", dt.date(2026, 1, 1), dt.date(2026, 6, 30))
    assert t.rows == ({"zip3": "300", "destination": "300", "city": "A", "state": "GA", "label_zip": "30000"},)
    assert not t.synthetic


def test_synthetic_tables_say_so():
    for role in ("L002", "L801", "CIN", "RM-SELECTIONS"):
        assert synthetic_table(role).synthetic
    assert len(synthetic_table("L002").rows) >= 200


def test_expired_table_is_refused_naming_it_and_its_date():
    t = parse_table(L002, "l002.csv")
    with pytest.raises(TableExpiredError) as caught:
        t.check(dt.date(2026, 7, 1))
    assert "L002-TEST" in str(caught.value) and "expired on 2026-06-30" in str(caught.value)
    with pytest.raises(TableExpiredError, match="not effective until 2026-01-01"):
        t.check(dt.date(2025, 12, 31))
    t.check(dt.date(2026, 6, 30))  # the last day still counts


def test_presort_refuses_a_mailing_dated_after_a_table_expired():
    tables = {role: synthetic_table(role) for role in table_roles("usps-fcm")}
    op = make_operator("usps-fcm", tables)
    with pytest.raises(TableExpiredError, match=r"L002-SYNTHETIC: expired on 2027-12-31"):
        presort([MailPiece("a", "30001000001")], op, PresortOptions(dt.date(2028, 1, 3)))


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("# effective: 2026-01-01\n# expires: 2026-02-01\na,b\n", "missing '# table:' header"),
        ("# table: T\n# expires: 2026-02-01\na,b\n", "missing '# effective:'"),
        ("# table: T\n# effective: 2026-13-01\n# expires: 2026-02-01\na\n", "line 2: header 'effective' must be a date"),
        ("# table: T\n# effective: 2026-03-01\n# expires: 2026-02-01\na\n", "expires 2026-02-01 before"),
        ("# table: T\n# effective: 2026-01-01\n# expires: 2026-02-01\n", "no column header"),
        ("# table: T\n# effective: 2026-01-01\n# expires: 2026-02-01\na,b\n1,2,3\n", "line 5: 3 fields"),
    ],
)
def test_malformed_tables_are_refused_with_table_and_line(text, message):
    with pytest.raises(TableError) as caught:
        parse_table(text, "file.csv")
    assert message in str(caught.value)
    assert isinstance(caught.value, MailsortError)


def test_repeated_zip3_is_refused_with_its_line():
    text = L002 + "300,300,B,GA,30000\n"
    with pytest.raises(TableError, match=r"L002-TEST, line 6: zip3 '300' appears twice"):
        make_operator("usps-fcm", {"L002": parse_table(text, "x"), "L801": synthetic_table("L801"),
                                   "CIN": synthetic_table("CIN")})


def test_unknown_operator_and_missing_tables_are_refused():
    with pytest.raises(RulesError, match="unknown postal operator 'usps-flats'"):
        make_operator("usps-flats", {})
    with pytest.raises(RulesError, match="missing reference table.*L801"):
        make_operator("usps-fcm", {"L002": synthetic_table("L002"), "CIN": synthetic_table("CIN")})


def test_price_table_prices_the_summary():
    prices = synthetic_prices()
    assert prices.price("usps-fcm", "5-digit") == Decimal("0.555")
    assert prices.currencies["dp-dialogpost"] == "EUR"
    with pytest.raises(TableError, match="no price for usps-fcm price category 'bulk'"):
        prices.price("usps-fcm", "bulk")
    text = "# table: P\n# effective: 2026-01-01\n# expires: 2026-12-31\noperator,price_category,price,currency\nx,y,-1,USD\n"
    with pytest.raises(TableError, match="P, line 5: price for x 'y' must be a non-negative number"):
        parse_price_table(text, "p.csv")


def test_postage_is_pieces_times_price_summed():
    tables = {role: synthetic_table(role) for role in table_roles("usps-fcm")}
    pieces = [MailPiece(f"a{k}", f"30001{k:06d}") for k in range(160)] + [MailPiece("b", "31001000001")]
    result = presort(pieces, make_operator("usps-fcm", tables), PresortOptions(MAILING_DATE))
    summary = postage_summary(result, synthetic_prices())
    assert [(r.level, r.pieces, r.unit_price, r.postage) for r in summary.rows] == [
        ("5D", 160, Decimal("0.555"), Decimal("88.80")), ("AADC", 1, Decimal("0.593"), Decimal("0.59"))]
    assert summary.postage == Decimal("89.39")
    text = summary.statement()
    assert "POSTAGE STATEMENT" in text and "89.39" in text and "mailing minimum not met" in text
