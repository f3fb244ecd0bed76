"""The Intelligent Mail barcode (USPS-B-3200): tracking code + routing code -> 65 bars.

    >>> encode_imb("01234567094987654321", "01234567891").bars[:10]
    'AADTFFDFTD'

The steps follow the specification's numbering: (1) routing and tracking to a 102-bit binary value,
(2) an 11-bit CRC over it (the frame check sequence), (3) the value to ten codewords A..J, (4) J doubled
for orientation and A raised by 659 when the FCS's top bit is set, (5) codewords to 13-bit characters
from the 5-of-13 and 2-of-13 tables, each inverted where its FCS bit is set, (6) characters to bars by
the bar-to-character table. `Imb.codewords` holds the step-3 values, as the specification's appendix
prints them.
"""

from __future__ import annotations

from dataclasses import dataclass

from mailsort.errors import ImbError

__all__ = ["Imb", "ImbError", "encode_imb", "parse_tracking", "validate_routing"]

_DIGITS = frozenset("0123456789")


@dataclass(frozen=True, slots=True)
class Imb:
    tracking: str  # 20 digits: barcode ID, service type, mailer ID, serial
    routing: str  # "" or a 5, 9 or 11-digit delivery point ZIP code
    barcode_id: str  # 2 digits, the second 0-4
    service_type: str  # 3 digits (STID)
    mailer_id: str  # 6 digits, or 9 when it starts with 9
    serial: str  # 9 digits, or 6 with a 9-digit mailer ID
    bars: str  # 65 characters of A (ascender), D (descender), F (full), T (tracker), left to right
    binary: int  # the 102-bit value of step 1
    fcs: int  # the 11-bit frame check sequence of step 2
    codewords: tuple[int, ...]  # the ten codewords A..J of step 3 (before the step-4 adjustments)

    @property
    def human_readable(self) -> str:
        parts = [self.barcode_id, self.service_type, self.mailer_id, self.serial]
        if self.routing:
            parts.append(self.routing)
        return " ".join(parts)


def _need_digits(field: str, value: object, lengths: tuple[int, ...]) -> str:
    if not isinstance(value, str):
        raise ImbError(field, f"must be a string of digits, got {type(value).__name__}")
    if len(value) not in lengths:
        want = " or ".join(str(n) for n in lengths)
        raise ImbError(field, f"must be {want} digits, got {len(value)} ({value!r})")
    bad = next((i for i, ch in enumerate(value) if ch not in _DIGITS), None)
    if bad is not None:
        raise ImbError(field, f"must be digits only, found {value[bad]!r} at position {bad + 1} of {value!r}")
    return value


def parse_tracking(tracking: str) -> tuple[str, str, str, str]:
    """Split a 20-digit tracking code into (barcode ID, service type, mailer ID, serial), refusing bad ones."""
    _need_digits("tracking code", tracking, (20,))
    barcode_id = tracking[:2]
    if barcode_id[1] not in "01234":
        raise ImbError("barcode ID", f"second digit must be 0-4, got {barcode_id!r} in tracking code {tracking!r}")
    service_type = tracking[2:5]
    # 9-digit mailer IDs are the ones beginning with 9; 6-digit ones begin with 0-8
    mid_len = 9 if tracking[5] == "9" else 6
    return barcode_id, service_type, tracking[5:5 + mid_len], tracking[5 + mid_len:]


def validate_routing(routing: str) -> str:
    return _need_digits("routing code", routing, (0, 5, 9, 11))


# ---- step 2: the frame check sequence ----------------------------------------------------------------

_CRC_POLY = 0x0F35
_CRC_MASK = 0x7FF


def _crc_byte_table() -> tuple[int, ...]:
    table = []
    for byte in range(256):
        reg = byte << 3
        for _ in range(8):
            reg = ((reg << 1) ^ _CRC_POLY) if reg & 0x400 else (reg << 1)
            reg &= _CRC_MASK
        table.append(reg)
    return tuple(table)


_CRC_TABLE = _crc_byte_table()


def _fcs(binary: int) -> int:
    # The value is laid out in 13 bytes; the two top bits of the first byte are not part of it, so the
    # first byte's 6 low bits go bit by bit and the other 12 bytes through the byte table.
    data = binary.to_bytes(13, "big")
    fcs = _CRC_MASK
    first = data[0] << 5
    for _ in range(6):
        fcs = ((fcs << 1) ^ _CRC_POLY) if (fcs ^ first) & 0x400 else (fcs << 1)
        fcs &= _CRC_MASK
        first <<= 1
    table = _CRC_TABLE
    for byte in data[1:]:
        fcs = ((fcs << 8) & _CRC_MASK) ^ table[((fcs >> 3) ^ byte) & 0xFF]
    return fcs


# ---- step 5: the N-of-13 character tables ------------------------------------------------------------


def _reverse13(value: int) -> int:
    out = 0
    for _ in range(13):
        out = (out << 1) | (value & 1)
        value >>= 1
    return out


def _n_of_13(n: int, size: int) -> tuple[int, ...]:
    # Each character and its bit-reversal go in pairs from the front; palindromes fill from the back.
    table = [0] * size
    lower, upper = 0, size - 1
    for value in range(8192):
        if value.bit_count() != n:
            continue
        rev = _reverse13(value)
        if rev < value:
            continue
        if rev == value:
            table[upper] = value
            upper -= 1
        else:
            table[lower] = value
            table[lower + 1] = rev
            lower += 2
    assert lower == upper + 1, (n, lower, upper)
    return tuple(table)


_CHARACTERS = _n_of_13(5, 1287) + _n_of_13(2, 78)  # codeword 0..1364 -> 13-bit character

# ---- step 6: bars from characters ----------------------------------------------------------------------
# USPS-B-3200's bar-to-character table: bar n (left to right) takes its descender from the first
# character/bit and its ascender from the second.
_BAR_TABLE = """
H2:E3 B10:A0 J12:C8 F5:G11 I9:D1 A1:F12 C5:B8 E4:J11
G3:I10 D9:H6 F11:B4 I5:C12 J10:A2 H1:G7 D6:E9 A3:I6
G4:C7 B1:J9 H10:F2 E0:D8 G2:A4 I11:B0 J8:D12 C6:H7
F1:E10 B12:G9 H3:I0 F8:J7 E6:C10 D4:A5 I4:F7 H11:B9
G0:J6 A6:E8 C1:D2 F9:I12 E11:G1 J5:H4 D3:B2 A7:C0
B3:E1 G10:D5 I7:J4 C11:F6 A8:H12 E2:I1 F10:D0 J3:A9
G5:C4 H8:B7 F0:E5 C3:A10 G12:J2 D11:B6 I8:H9 F4:A11
B5:C2 J1:E12 I3:G6 H0:D7 E7:H5 A12:B11 C9:J0 G8:F3
D10:I2
"""


def _spread_tables() -> tuple[tuple[tuple[int, ...], ...], tuple[tuple[int, ...], ...]]:
    # Every one of the 130 character bits lands on one half of one bar. Bars are packed 2 bits each into
    # a 136-bit integer (bar 0 in the top two bits, ascender the high bit of its pair), so a character's
    # contribution is a fixed bit spread: looked up in two halves (bits 0-6 and 7-12) per character.
    place: dict[tuple[int, int], int] = {}
    cells = _BAR_TABLE.split()
    assert len(cells) == 65
    for bar, cell in enumerate(cells):
        for half, spec in enumerate(cell.split(":")):  # half 0 descender, 1 ascender
            char, bit = ord(spec[0]) - ord("A"), int(spec[1:])
            place[(char, bit)] = 134 - 2 * bar + half
    assert len(place) == 130

    def spread(char: int, bits: range) -> tuple[int, ...]:
        out = []
        for value in range(1 << len(bits)):
            word = 0
            for i, bit in enumerate(bits):
                if value >> i & 1:
                    word |= 1 << place[(char, bit)]
            out.append(word)
        return tuple(out)

    low = tuple(spread(c, range(0, 7)) for c in range(10))
    high = tuple(spread(c, range(7, 13)) for c in range(10))
    return low, high


_SPREAD_LOW, _SPREAD_HIGH = _spread_tables()
_QUADS = tuple("".join("TDAF"[b >> s & 3] for s in (6, 4, 2, 0)) for b in range(256))


def _bars(codewords: tuple[int, ...], fcs: int) -> str:
    a, *rest, j = codewords
    if fcs & 0x400:
        a += 659
    adjusted = (a, *rest, j * 2)
    word = 0
    chars = _CHARACTERS
    low, high = _SPREAD_LOW, _SPREAD_HIGH
    for i in range(10):
        c = chars[adjusted[i]]
        if fcs >> i & 1:
            c ^= 0x1FFF
        word |= low[i][c & 0x7F] | high[i][c >> 7]
    quads = _QUADS
    return "".join([quads[b] for b in word.to_bytes(17, "big")])[:65]


# ---- the whole encoder ----------------------------------------------------------------------------------

_ROUTING_OFFSET = {0: 0, 5: 1, 9: 100001, 11: 1000100001}


def encode_imb(tracking: str, routing: str = "") -> Imb:
    """Encode a 20-digit tracking code and a 0/5/9/11-digit routing code; ImbError names a bad field."""
    barcode_id, service_type, mailer_id, serial = parse_tracking(tracking)
    validate_routing(routing)
    value = int(routing) + _ROUTING_OFFSET[len(routing)] if routing else 0
    value = (value * 10 + int(barcode_id[0])) * 5 + int(barcode_id[1])
    value = value * 10**18 + int(tracking[2:])
    fcs = _fcs(value)
    rest, j = divmod(value, 636)
    words = [j]
    for _ in range(8):
        rest, w = divmod(rest, 1365)
        words.append(w)
    if rest > 658:  # cannot happen for digit-only input of these lengths; guards the arithmetic
        raise ImbError("routing code", f"value out of range for codeword A ({rest})")
    words.append(rest)
    codewords = tuple(reversed(words))
    return Imb(tracking, routing, barcode_id, service_type, mailer_id, serial,
               _bars(codewords, fcs), value, fcs, codewords)
