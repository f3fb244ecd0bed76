"""The presort engine: one sort by the operator's key, then each level, finest first, takes what it can.

Hot path for a million pieces: the pieces are sorted once (by their fixed-width key) and everything
after works on ranks in that order. A level's pool is an ascending list of ranks, so every run of one
key prefix is contiguous and found by bisection; a destination's containers are cut from the running
sum of thickness by bisection too. What a level does not take (destinations under the minimum,
remainders) goes back into the next pool, which stays sorted. The result is the concatenation of the
containers in dispatch order; no second sort.
"""

from __future__ import annotations

import math
from bisect import bisect_left, bisect_right
from collections import Counter
from dataclasses import dataclass
from itertools import accumulate
from operator import attrgetter
from typing import Callable, Iterator, Mapping, Sequence

from mailsort.errors import PieceDataError
from mailsort.imb import Imb, encode_imb
from mailsort.model import (
    ContainerType, MailPiece, Overflow, PresortOptions, SortContainer, SortedPiece, SortLevel,
)
from mailsort.operators import PostalOperator
from mailsort.tables import check_dates

__all__ = ["presort", "SortResult"]

_TOP = "\U0010ffff"
_ID, _POSTCODE = attrgetter("piece_id"), attrgetter("postcode")
_THICKNESS, _WEIGHT = attrgetter("thickness_mm"), attrgetter("weight_g")


@dataclass(frozen=True, slots=True)
class SortResult:
    operator: str
    title: str
    options: PresortOptions
    pieces: Sequence[MailPiece]  # as given
    order: tuple[int, ...]  # input index of the piece at each sort sequence position
    containers: tuple[SortContainer, ...]  # dispatch order; each a contiguous run of the sequence
    overflows: tuple[Overflow, ...]
    price_overrides: Mapping[int, str]  # sequence -> price category, for pieces riding as overflow
    reasons: Mapping[int, str]  # input index -> why the piece sits coarser than its data would allow
    findings: tuple[str, ...]  # mailing-level observations (minimums, residue, overflow), in words
    minimum_met: bool
    tables: tuple[str, ...]
    _firsts: tuple[int, ...]
    _barcode: Callable[[int, str, PresortOptions], tuple[str, str] | None]  # the operator's piece_barcode

    def __len__(self) -> int:
        return len(self.order)

    def container_at(self, sequence: int) -> SortContainer:
        return self.containers[bisect_right(self._firsts, sequence) - 1]

    def piece(self, sequence: int) -> SortedPiece:
        return self._piece(sequence, self.container_at(sequence))

    def _piece(self, sequence: int, container: SortContainer) -> SortedPiece:
        index = self.order[sequence]
        src = self.pieces[index]
        barcode = self._barcode(sequence, src.postcode, self.options)
        tracking, routing = barcode if barcode is not None else (None, "")
        return SortedPiece(sequence, src.piece_id, src.postcode, container.container_id, container.level,
                           self.price_overrides.get(sequence, container.price_category),
                           self.reasons.get(index), tracking, routing)

    def sorted_pieces(self) -> Iterator[SortedPiece]:
        for container in self.containers:
            for seq in range(container.first, container.first + container.pieces):
                yield self._piece(seq, container)

    def imb(self, sequence: int) -> Imb | None:
        barcode = self._barcode(sequence, self.pieces[self.order[sequence]].postcode, self.options)
        return None if barcode is None else encode_imb(*barcode)


@dataclass(slots=True)
class _Draft:
    level: int
    destination: str
    ranks: list[int]
    thickness: float
    weight: float
    full: bool
    ctype: ContainerType
    native: int


def _check_numbers(pieces: Sequence[MailPiece], values: list[float], what: str) -> None:
    total = math.fsum(values)
    if math.isfinite(total) and (not values or min(values) >= 0):
        return
    for i, v in enumerate(values):
        if not (math.isfinite(v) and v >= 0):
            raise PieceDataError(f"{what} {v!r} is not a finite, non-negative number (input row {i})",
                                 piece_id=pieces[i].piece_id)


def _cut(members: list[int], sth: list[float], large: float) -> list[tuple[int, int, bool]]:
    """Container boundaries: fill one until the next piece would not fit (a lone oversize piece goes alone)."""
    cum = list(accumulate(map(sth.__getitem__, members)))
    cuts = []
    start, base, n = 0, 0.0, len(members)
    while start < n:
        end = bisect_right(cum, base + large + 1e-9, start)
        if end <= start:
            end = start + 1
        cuts.append((start, end, end < n))
        base = cum[end - 1]
        start = end
    return cuts


def presort(pieces: Sequence[MailPiece], operator: PostalOperator, options: PresortOptions) -> SortResult:
    """Sort `pieces` into containers by `operator`'s rules; every piece ends in exactly one container."""
    tables = operator.tables()
    check_dates(tables, options.mailing_date)
    n = len(pieces)
    if options.mailer_id:
        operator.piece_barcode(max(n - 1, 0), "", options)  # refuses bad IMb settings before the work
    if len(set(map(_ID, pieces))) != n:
        seen: set[str] = set()
        for p in pieces:
            if p.piece_id in seen:
                raise PieceDataError("piece ID appears more than once in the mailing", piece_id=p.piece_id)
            seen.add(p.piece_id)
    thick: list[float] = list(map(_THICKNESS, pieces))
    weight: list[float] = list(map(_WEIGHT, pieces))
    _check_numbers(pieces, thick, "thickness_mm")
    _check_numbers(pieces, weight, "weight_g")
    keys, reasons = operator.sort_keys(list(map(_POSTCODE, pieces)))

    valid = [i for i, k in enumerate(keys) if k is not None] if reasons else range(n)
    order = sorted(valid, key=keys.__getitem__)
    skeys: list[str] = list(map(keys.__getitem__, order))  # type: ignore[arg-type]
    sth = list(map(thick.__getitem__, order))
    swt = list(map(weight.__getitem__, order))
    large, small = operator.container_types(options)
    levels = operator.sort_levels(options)

    drafts: list[_Draft] = []
    overrides: dict[int, str] = {}  # rank -> price category kept by overflow
    overflow_src: list[tuple[int, str, list[int]]] = []  # (level, destination, ranks)
    rank_reasons: dict[int, str] = {}
    findings: list[str] = []
    pool: list[int] = list(range(len(order)))

    for li, level in enumerate(levels):
        if not pool:
            break
        if level.min_mailing_pieces and len(order) < level.min_mailing_pieces:
            findings.append(f"{level.name}: the mailing's {len(order)} sortable pieces are under the "
                            f"{level.min_mailing_pieces} this level needs; its pieces go on to the next group")
            for r in pool:
                rank_reasons.setdefault(r, f"mailing under {level.min_mailing_pieces} pieces for {level.name}")
            continue
        groups = _group(pool, skeys, level, rank_reasons)
        unplaced: list[int] = groups.pop(None, [])  # type: ignore[call-overload]
        can_overflow = level.overflow and options.overflow and li + 1 < len(levels)
        for dest, members in groups.items():
            total_th = math.fsum(map(sth.__getitem__, members))
            over = sum(map(overrides.__contains__, members)) if overrides else 0
            native = len(members) - over
            cuts = [(0, len(members), False)] if total_th <= large.capacity_mm + 1e-9 else _cut(members, sth, large.capacity_mm)
            # USPS: a full tray qualifies on its own; a per-destination minimum (Dialogpost, Mailsort) does not bend
            if (len(cuts) == 1 or not level.min_per_container) and not _meets(level, native, members, swt, overrides):
                unplaced.extend(members)
                continue
            for k, (a, b, full) in enumerate(cuts):
                part = members[a:b]
                part_native = len(part) - (sum(map(overrides.__contains__, part)) if overrides else 0)
                last = k == len(cuts) - 1
                if (last and len(cuts) > 1 and level.min_per_container
                        and not _meets(level, part_native, part, swt, overrides)):
                    if can_overflow:
                        riders = [r for r in part if r not in overrides]
                        for r in riders:
                            overrides[r] = level.price_category
                        overflow_src.append((li, dest, riders))
                    unplaced.extend(part)
                    continue
                th = math.fsum(map(sth.__getitem__, part))
                ctype = small if (last and small is not None and th <= small.capacity_mm + 1e-9) else large
                drafts.append(_Draft(li, dest, part, th, math.fsum(map(swt.__getitem__, part)), full, ctype,
                                     part_native))
        unplaced.sort()
        pool = unplaced

    # residue: what no level took (in key order), then pieces without a usable key (in input order)
    res_level = operator.residue
    residue_idx = [order[r] for r in pool] + [i for i, k in enumerate(keys) if k is None]
    for r in pool:
        rank_reasons.setdefault(r, f"no {levels[-1].name} destination for key {skeys[r]!r}")
    for r, why in rank_reasons.items():
        reasons.setdefault(order[r], why)

    # assemble the sequence and the containers
    seq_order: list[int] = []
    seq_of_rank: dict[int, int] = {}
    containers: list[SortContainer] = []
    serial = options.tray_serial_start

    def add(level: SortLevel, dest: str, indices: list[int], th: float, wt: float, full: bool,
            ctype: ContainerType, native: int) -> None:
        nonlocal serial
        label = operator.label(level, dest, ctype, serial, options)
        containers.append(SortContainer(f"T{serial:05d}", len(containers), level.code, level.name, dest, ctype,
                                        len(seq_order), len(indices), native, th, wt, full,
                                        level.price_category, label))
        seq_order.extend(indices)
        serial += 1

    for d in drafts:
        if d.native < len(d.ranks):
            base = len(seq_order)
            for j, r in enumerate(d.ranks):
                if r in overrides:
                    seq_of_rank[r] = base + j
        add(levels[d.level], d.destination, list(map(order.__getitem__, d.ranks)), d.thickness, d.weight, d.full, d.ctype,
            d.native)
    if residue_idx:
        res_th = [thick[i] for i in residue_idx]
        members = list(range(len(residue_idx)))
        for a, b, full in _cut(members, res_th, large.capacity_mm):
            part = residue_idx[a:b]
            th = math.fsum(res_th[a:b])
            ctype = small if (b == len(members) and small is not None and th <= small.capacity_mm) else large
            add(res_level, res_level.fixed or res_level.code, part, th, math.fsum(weight[i] for i in part), full,
                ctype, len(part))

    price_overrides = {seq_of_rank[r]: cat for r, cat in overrides.items() if r in seq_of_rank}
    firsts = tuple(c.first for c in containers)
    overflows = []
    for li, dest, riders in overflow_src:
        landed = sorted({containers[bisect_right(firsts, seq_of_rank[r]) - 1].container_id
                         for r in riders if r in seq_of_rank})
        overflows.append(Overflow(levels[li].code, dest, len(riders), levels[li].price_category, tuple(landed)))
        findings.append(f"overflow: {len(riders)} piece(s) of {levels[li].name} {dest} ride in "
                        f"{', '.join(landed) or 'the residue'} at {levels[li].price_category} prices")
    min_pieces, min_weight = operator.mailing_minimum
    total_weight = math.fsum(weight)
    minimum_met = n >= min_pieces or (min_weight > 0 and total_weight >= min_weight)
    if not minimum_met:
        alt = f" or {min_weight / 1000:.1f} kg" if min_weight else ""
        findings.insert(0, f"mailing minimum not met: {n} pieces ({total_weight / 1000:.1f} kg), "
                           f"{operator.title} needs {min_pieces} pieces{alt}")
    residue_set = set(residue_idx)
    gaps = Counter(why for i, why in reasons.items() if i not in residue_set)
    for why, count in gaps.most_common(5):
        findings.append(f"{count} piece(s) sorted coarser: {why}")
    if len(gaps) > 5:
        findings.append(f"... and {sum(gaps.values()) - sum(c for _, c in gaps.most_common(5))} more piece(s) "
                        f"sorted coarser for other table gaps")
    if residue_idx:
        findings.append(f"{len(residue_idx)} piece(s) in the residue group ({res_level.price_category}), "
                        f"each with its reason")
    return SortResult(operator.name, operator.title, options, pieces, tuple(seq_order), tuple(containers),
                      tuple(overflows), price_overrides, reasons, tuple(findings), minimum_met,
                      tuple(t.describe() for t in tables), firsts, operator.piece_barcode)


def _meets(level: SortLevel, native: int, members: list[int], swt: list[float], overrides: dict[int, str]) -> bool:
    if native >= level.min_pieces:
        return True
    if level.min_weight_g > 0:
        wt = math.fsum(swt[r] for r in members if r not in overrides)
        return wt >= level.min_weight_g
    return False


def _group(pool: list[int], skeys: list[str], level: SortLevel, reasons: dict[int, str]) -> dict:
    """Destination -> ascending ranks, with None for ranks the level's table has no destination for."""
    if level.fixed is not None:
        return {level.fixed: list(pool)}
    pkeys = skeys if len(pool) == len(skeys) else list(map(skeys.__getitem__, pool))
    width, table = level.prefix, level.table
    groups: dict = {}
    start, m = 0, len(pool)
    while start < m:
        prefix = pkeys[start][:width]
        end = bisect_left(pkeys, prefix + _TOP, start)
        dest = prefix if table is None else table.get(prefix)
        if dest is None and level.missing:
            why = level.missing.format(prefix=prefix)
            for r in pool[start:end]:
                reasons[r] = f"{reasons[r]}; {why}" if r in reasons else why
        run = pool[start:end]
        got = groups.get(dest)
        if got is None:
            groups[dest] = run
        else:
            got.extend(run)
        start = end
    return groups
