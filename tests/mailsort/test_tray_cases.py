"""Hand-worked presort cases (fixtures/mailsort/tray_cases.json): exact trays, levels, prices, reasons."""

from __future__ import annotations

import json
from collections import Counter

import pytest

from mailsort.model import MailPiece, PresortOptions
from mailsort.presort import presort
from mailsort.summary import postage_summary

from ._support import FIXTURES, MAILING_DATE, operator

CASES = json.loads((FIXTURES / "tray_cases.json").read_text())["cases"]


def _pieces(case: dict) -> list[MailPiece]:
    pieces = []
    for g, group in enumerate(case["groups"]):
        for k in range(group["count"]):
            postcode = group["postcode"] + (f"{k:06d}" if group.get("fill") else "")
            pieces.append(MailPiece(f"g{g}-{k}", postcode, group.get("weight_g", 20.0), group["thickness_mm"]))
    # the input order must not matter: hand the pieces over reversed and interleaved
    return pieces[::-2] + pieces[-2::-2]


@pytest.mark.parametrize("case", CASES, ids=lambda c: c["id"])
def test_hand_worked_case(case):
    options = PresortOptions(MAILING_DATE, overflow=case.get("overflow", False),
                             extended_trays=case.get("extended_trays", False),
                             origin_postcode=case.get("origin_postcode", ""))
    pieces = _pieces(case)
    result = presort(pieces, operator(case["operator"]), options)
    got = [[c.level, c.destination, c.container_type.code, c.pieces] for c in result.containers]
    assert got == case["trays"]
    assert sorted(result.order) == list(range(len(pieces)))

    if "overflows" in case:
        got_over = [[o.level, o.destination, o.pieces,
                     [c.container_id for c in result.containers].index(o.containers[0])] for o in result.overflows]
        assert got_over == case["overflows"]
        assert any("overflow" in f for f in result.findings)
    else:
        assert result.overflows == ()

    if "prices" in case:
        counted = Counter(f"{p.level}/{p.price_category}" for p in result.sorted_pieces())
        assert dict(counted) == case["prices"]
        summary = postage_summary(result)
        assert {f"{r.level}/{r.price_category}": r.pieces for r in summary.rows if r.pieces} == case["prices"]
        assert sum(r.containers for r in summary.rows) == len(result.containers)

    for postcode, fragment in case.get("reasons", {}).items():
        prefix = postcode if len(postcode) != 5 or not postcode.isdigit() or case["operator"] == "dp-dialogpost" \
            else None
        hits = [p for p in result.sorted_pieces()
                if (p.postcode == prefix if prefix is not None else p.postcode.startswith(postcode))]
        assert hits, postcode
        for p in hits:
            assert p.reason is not None and fragment in p.reason, (postcode, p.reason)

    if "minimum_met" in case:
        assert result.minimum_met is case["minimum_met"]
        assert any("mailing minimum not met" in f for f in result.findings) is (not case["minimum_met"])


def test_pieces_inside_each_tray_are_in_postcode_order():
    case = next(c for c in CASES if c["id"].startswith("remainder of 150"))
    result = presort(_pieces(case), operator("usps-fcm"), PresortOptions(MAILING_DATE))
    for c in result.containers:
        codes = [result.pieces[result.order[s]].postcode for s in range(c.first, c.first + c.pieces)]
        assert codes == sorted(codes)
