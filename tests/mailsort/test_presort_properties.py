"""Property tests on random mailings: every piece in exactly one container, minimums held (or the overflow
rule documented), capacity respected, order following the hierarchy."""

from __future__ import annotations

from collections import defaultdict

from hypothesis import HealthCheck, given, settings, strategies as st

from mailsort.model import GRAMS_PER_POUND, MailPiece, PresortOptions
from mailsort.operators.royalmail import normalise_postcode
from mailsort.presort import SortResult, presort
from mailsort.summary import postage_summary

from ._support import MAILING_DATE, operator, synthetic_table

THICKNESS = st.sampled_from([0.25, 0.5, 1.0, 2.5, 6.0])
WEIGHT = st.sampled_from([5.0, 28.0, 60.0, 90.0])

# dense groups on a few ZIP5s (so 5-digit and 3-digit trays form), plus stragglers and junk
usps_group = st.tuples(
    st.sampled_from(["300", "301", "305", "306", "349", "360", "598", "599"]),
    st.sampled_from(["01", "02", "03"]),
    st.integers(1, 400), THICKNESS, WEIGHT)
junk = st.sampled_from(["", "30301", "303011234", "3030X123456", "999"])


def _usps_pieces(groups, junk_codes) -> list[MailPiece]:
    pieces = []
    for g, (zip3, zip2, count, thick, weight) in enumerate(groups):
        for k in range(count):
            pieces.append(MailPiece(f"u{g}-{k}", f"{zip3}{zip2}{(k * 7919) % 1000000:06d}", weight, thick))
    pieces += [MailPiece(f"j{k}", code, 20.0, 0.5) for k, code in enumerate(junk_codes)]
    return pieces


def _common_invariants(result: SortResult, pieces: list[MailPiece]) -> None:
    n = len(pieces)
    # every piece exactly once, containers tiling the sequence in dispatch order
    assert sorted(result.order) == list(range(n))
    at = 0
    for k, c in enumerate(result.containers):
        assert c.sequence == k and c.first == at and c.pieces > 0
        at += c.pieces
    assert at == n
    # capacity: a container holds what fits, or one oversize piece; only a destination's last one is not full
    by_dest = defaultdict(list)
    for c in result.containers:
        by_dest[(c.level, c.destination)].append(c)
        assert c.thickness_mm <= c.container_type.capacity_mm + 1e-6 or c.pieces == 1
    for trays in by_dest.values():
        # a destination's containers are consecutive in dispatch order
        assert [t.sequence for t in trays] == list(range(trays[0].sequence, trays[0].sequence + len(trays)))
        assert all(t.full for t in trays[:-1])
    # levels in hierarchy order; within a container, sort-key order
    rank = {lv.code: k for k, lv in enumerate(result_levels(result))}
    ranks = [rank[c.level] for c in result.containers]
    assert ranks == sorted(ranks)
    # the summary accounts for every piece and container
    summary = postage_summary(result)
    assert sum(r.pieces for r in summary.rows) == n
    assert sum(r.containers for r in summary.rows) == len(result.containers)


def result_levels(result: SortResult):
    op = operator(result.operator)
    return (*op.sort_levels(result.options), op.residue)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(usps_group, min_size=1, max_size=8), st.lists(junk, max_size=4), st.booleans(), st.booleans(),
       st.sampled_from(["usps-fcm", "usps-mkt"]))
def test_usps_random_mailings_keep_the_tray_rules(groups, junk_codes, overflow, extended, name):
    pieces = _usps_pieces(groups, junk_codes)
    op = operator(name)
    result = presort(pieces, op, PresortOptions(MAILING_DATE, overflow=overflow, extended_trays=extended))
    _common_invariants(result, pieces)
    l002 = {r["zip3"]: r["destination"] for r in synthetic_table("L002").rows}
    l801 = {r["zip3"]: r["aadc"] for r in synthetic_table("L801").rows}
    min_weight = 15 * GRAMS_PER_POUND if name == "usps-mkt" else 0.0
    small_per_dest = defaultdict(int)
    for c in result.containers:
        seqs = range(c.first, c.first + c.pieces)
        codes = [result.pieces[result.order[s]].postcode for s in seqs]
        natives = [s for s in seqs if s not in result.price_overrides]
        assert len(natives) == c.native_pieces
        if c.level != "RES":
            assert codes == sorted(codes)
        # each piece belongs to its container's destination
        for code in codes:
            want = {"5D": code[:5], "3D": l002.get(code[:3]), "AADC": l801.get(code[:3]), "MXD": "MXD",
                    "RES": "RESIDUE"}[c.level]
            assert want == c.destination
        # 5-digit and 3-digit minimums per tray: 150 pieces (or 15 lb Marketing), or a full tray
        if c.level in ("5D", "3D"):
            native_weight = sum(result.pieces[result.order[s]].weight_g for s in natives)
            assert c.native_pieces >= 150 or c.full or (min_weight and native_weight >= min_weight)
        if c.container_type.code == "1FT":
            small_per_dest[(c.level, c.destination)] += 1
        assert c.container_type.code in (("EMM",) if extended else ("1FT", "2FT"))
    assert all(v == 1 for v in small_per_dest.values())
    # overflow: only when asked, always documented, always coarser than its kept price level
    assert bool(result.price_overrides) <= overflow
    assert sum(o.pieces for o in result.overflows) == len(result.price_overrides)
    finer = {"5-digit": 0, "3-digit": 1}
    level_rank = {"5D": 0, "3D": 1, "AADC": 2, "MXD": 3}
    for seq, category in result.price_overrides.items():
        assert level_rank[result.container_at(seq).level] > finer[category]
    # a ZIP5 with 150 pieces or more always gets a 5-digit tray
    per_zip5 = defaultdict(int)
    for p in pieces:
        if len(p.postcode) == 11 and p.postcode.isdigit():
            per_zip5[p.postcode[:5]] += 1
    five = {c.destination for c in result.containers if c.level == "5D"}
    assert {z for z, k in per_zip5.items() if k >= 150} <= five
    # unusable delivery points, and only they, are in the residue, each with a reason
    residue = [result.pieces[result.order[s]] for c in result.containers if c.level == "RES"
               for s in range(c.first, c.first + c.pieces)]
    assert sorted(p.piece_id for p in residue) == sorted(f"j{k}" for k in range(len(junk_codes)))
    assert all(result.reasons.get(result.order[s]) for c in result.containers if c.level == "RES"
               for s in range(c.first, c.first + c.pieces))


dp_group = st.tuples(st.sampled_from(["530", "533", "534", "201", "202", "301"]), st.integers(1, 120), THICKNESS)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(dp_group, min_size=1, max_size=10), st.sampled_from(["", "53113", "99999"]))
def test_dialogpost_random_mailings_meet_leitbereich_and_leitregion_minimums(groups, origin):
    pieces = [MailPiece(f"d{g}-{k}", f"{lb}{k % 100:02d}", 20.0, th)
              for g, (lb, count, th) in enumerate(groups) for k in range(count)]
    result = presort(pieces, operator("dp-dialogpost"), PresortOptions(MAILING_DATE, origin_postcode=origin))
    _common_invariants(result, pieces)
    per_dest = defaultdict(int)
    for c in result.containers:
        per_dest[(c.level, c.destination)] += c.pieces
        for s in range(c.first, c.first + c.pieces):
            plz = result.pieces[result.order[s]].postcode
            assert c.level != "LB" or (origin == "53113" and c.destination == "Bonn" and "53000" <= plz <= "53359")
            assert c.level != "LR" or plz[:2] == c.destination
            assert c.level != "PLZ" or len(result) >= 4000
    for (level, _), count in per_dest.items():
        assert count >= {"LB": 50, "LR": 250}.get(level, 0)


rm_group = st.tuples(st.sampled_from(["BS1 1", "BS1 2", "BS1 5", "BS2 0", "CF3 4", "ZZ1 1", "M1 1", "M2 3"]),
                     st.integers(1, 60), THICKNESS)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(rm_group, min_size=1, max_size=8))
def test_selection_sort_random_mailings_keep_direct_minimum_and_order(groups):
    pieces = [MailPiece(f"r{g}-{k}", f"{sector}{'ABDEFG'[k % 6]}{'HJLNPQ'[k // 6 % 6]}", 20.0, th)
              for g, (sector, count, th) in enumerate(groups) for k in range(count)]
    result = presort(pieces, operator("rm-mailsort"), PresortOptions(MAILING_DATE))
    _common_invariants(result, pieces)
    per_direct = defaultdict(int)
    for c in result.containers:
        keys = [normalise_postcode(result.pieces[result.order[s]].postcode) for s in range(c.first, c.first + c.pieces)]
        assert keys == sorted(keys)
        if c.level == "DIR":
            per_direct[c.destination] += c.pieces
    assert all(v >= 25 for v in per_direct.values())
