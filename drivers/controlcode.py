"""The control code: what is printed on each sheet for the inserter's camera, and its DataMatrix.

A payload reads ``JOB.PIECE.SSOOLLLC``:

    JOB    1-6 characters of 0-9A-Z, the run's short name (see job_token)
    PIECE  1-9 characters of 0-9A-Z, the piece within the run (see piece_token)
    SS     this sheet, 1-based, two base-36 digits (1..1295)
    OO     the piece's sheet count, two base-36 digits (sheet <= of)
    LLL    selective-insert stations 1..15 as a bit mask, three base-36 digits
    C      ISO/IEC 7064 MOD 37-2 check character over everything before it (0-9A-Z, or '*')

At most 25 characters, so the symbol stays small (12x26 modules for a full-length payload). The check
counts the separators as characters (value 36), so every single wrong character and every swap of two
neighbours is caught, a separator read in the wrong place included; the DataMatrix's own Reed-Solomon
code guards the camera path, the check guards everything else (an operator keying a code at the
reject station, a simulator or writer bug).
Parsing is strict: anything that is not exactly this shape is a ControlCodeError, never a guess.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np

from drivers.errors import WireProtocolError

__all__ = [
    "ControlCode", "ControlCodeError", "encode", "decode", "render_datamatrix",
    "job_token", "piece_token", "token_sequence", "MAX_PAYLOAD", "MAX_STATION",
]

ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
_VALUE = {c: i for i, c in enumerate(ALPHABET)}
SEPARATOR = "."
_CHECK_VALUE = {**_VALUE, SEPARATOR: 36}
_CHECK_CHARS = ALPHABET + "*"
MAX_JOB, MAX_PIECE = 6, 9
MAX_SHEETS = 36**2 - 1
MAX_STATION = 15
MAX_PAYLOAD = MAX_JOB + 1 + MAX_PIECE + 1 + 2 + 2 + 3 + 1


class ControlCodeError(WireProtocolError):
    """A control code that cannot be encoded, or a payload that does not parse or fails its check."""


@dataclass(frozen=True, slots=True)
class ControlCode:
    job: str
    piece: str
    sheet: int  # 1-based
    of: int  # sheets in the piece
    selections: frozenset[int] = frozenset()  # insert feeder stations, 1..MAX_STATION

    def __post_init__(self) -> None:
        _check_token("job", self.job, MAX_JOB)
        _check_token("piece", self.piece, MAX_PIECE)
        if not isinstance(self.selections, frozenset):
            raise ControlCodeError(f"control code selections must be a frozenset, not {type(self.selections).__name__}")
        for name, value in (("sheet", self.sheet), ("of", self.of)):
            if type(value) is not int or not 1 <= value <= MAX_SHEETS:
                raise ControlCodeError(f"control code {name} {value!r} is not an integer in 1..{MAX_SHEETS}")
        if self.sheet > self.of:
            raise ControlCodeError(f"control code sheet {self.sheet} is past the piece's {self.of} sheets")
        bad = sorted(s for s in self.selections if type(s) is not int or not 1 <= s <= MAX_STATION)
        if bad:
            raise ControlCodeError(f"control code selections {bad} are not stations 1..{MAX_STATION}")


def _check_token(name: str, value: object, limit: int) -> None:
    if not isinstance(value, str) or not 1 <= len(value) <= limit or any(c not in _VALUE for c in value):
        raise ControlCodeError(f"control code {name} {value!r} is not 1..{limit} characters of 0-9A-Z")


def _base36(n: int, width: int) -> str:
    digits = []
    for _ in range(width):
        n, r = divmod(n, 36)
        digits.append(ALPHABET[r])
    if n:
        raise ControlCodeError(f"{n} does not fit {width} base-36 digits")
    return "".join(reversed(digits))


def _mod37_2(chars: str) -> str:
    """ISO/IEC 7064 MOD 37-2 (pure system, radix 2)."""
    p = 0
    for c in chars:
        p = (p + _CHECK_VALUE[c]) * 2 % 37
    return _CHECK_CHARS[(38 - p) % 37]


def encode(code: ControlCode) -> str:
    mask = sum(1 << (s - 1) for s in code.selections)
    body = f"{code.job}{SEPARATOR}{code.piece}{SEPARATOR}{_base36(code.sheet, 2)}{_base36(code.of, 2)}{_base36(mask, 3)}"
    return body + _mod37_2(body)


def decode(payload: str) -> ControlCode:
    if not isinstance(payload, str):
        raise ControlCodeError(f"control code payload must be text, not {type(payload).__name__}")
    if not 1 + 1 + 1 + 1 + 8 <= len(payload) <= MAX_PAYLOAD:
        raise ControlCodeError(f"control code {payload!r} has {len(payload)} characters, not 12..{MAX_PAYLOAD}")
    for i, c in enumerate(payload[:-1]):
        if c not in _CHECK_VALUE:
            raise ControlCodeError(f"control code {payload!r}: character {c!r} is not 0-9A-Z or {SEPARATOR!r}",
                                   offset=i)
    check = payload[-1]
    if check not in _CHECK_CHARS:
        raise ControlCodeError(f"control code {payload!r}: check character {check!r} is not 0-9A-Z or '*'",
                               offset=len(payload) - 1)
    expected = _mod37_2(payload[:-1])
    if check != expected:
        raise ControlCodeError(f"control code {payload!r} fails its check character ({check!r}, expected {expected!r})",
                               offset=len(payload) - 1)
    parts = payload.split(SEPARATOR)
    if len(parts) != 3:
        raise ControlCodeError(f"control code {payload!r} has {len(parts) - 1} separators, not 2")
    job, piece, rest = parts
    if not 1 <= len(job) <= MAX_JOB:
        raise ControlCodeError(f"control code {payload!r}: job field has {len(job)} characters, not 1..{MAX_JOB}")
    if not 1 <= len(piece) <= MAX_PIECE:
        raise ControlCodeError(f"control code {payload!r}: piece field has {len(piece)} characters, not 1..{MAX_PIECE}",
                               offset=len(job) + 1)
    if len(rest) != 8:
        raise ControlCodeError(f"control code {payload!r}: sheet/selection field has {len(rest)} characters, not 8",
                               offset=len(job) + len(piece) + 2)
    tail = rest[:7]  # only 0-9A-Z left: the character scan refused anything else and split took the dots
    sheet = int(tail[0:2], 36)
    of = int(tail[2:4], 36)
    mask = int(tail[4:7], 36)
    if mask >> MAX_STATION:
        raise ControlCodeError(f"control code {payload!r} selects stations above {MAX_STATION}",
                               offset=len(payload) - 4)
    selections = frozenset(i + 1 for i in range(MAX_STATION) if mask >> i & 1)
    # ControlCode's own checks reject sheet 0, of 0 and sheet > of
    return ControlCode(job, piece, sheet, of, selections)


def piece_token(sequence: int) -> str:
    """The control-code piece field for a piece's 0-based sequence in its run: base 36, reversible."""
    if type(sequence) is not int or not 0 <= sequence < 36**MAX_PIECE:
        raise ControlCodeError(f"piece sequence {sequence!r} does not fit {MAX_PIECE} base-36 digits")
    return np.base_repr(sequence, 36) if sequence else "0"


def token_sequence(token: str) -> int:
    _check_token("piece", token, MAX_PIECE)
    return int(token, 36)


def job_token(job_id: str) -> str:
    """A run's 6-character job field: its ID when that already fits, else a digest of it.

    A digest is not reversible: the controller keeps the run's token beside its job ID and matches
    camera reads against the runs it has in flight.
    """
    upper = job_id.upper()
    if 1 <= len(upper) <= MAX_JOB and all(c in _VALUE for c in upper):
        return upper
    n = int.from_bytes(hashlib.blake2b(job_id.encode(), digest_size=8).digest(), "big")
    return _base36(n % 36**MAX_JOB, MAX_JOB)


def render_datamatrix(payload: str, module_px: int = 4) -> np.ndarray:
    """The payload as a DataMatrix: a uint8 grey image (0 black, 255 white) with a 2-module quiet zone."""
    import zxingcpp  # imported here: only stampers and simulators draw codes

    if type(module_px) is not int or module_px < 1:
        raise ControlCodeError(f"module size {module_px!r} px is not a positive integer")
    try:
        barcode = zxingcpp.create_barcode(payload, zxingcpp.BarcodeFormat.DataMatrix)
        image = np.array(zxingcpp.write_barcode_to_image(barcode, scale=module_px, add_quiet_zones=True), dtype=np.uint8)
    except (ValueError, RuntimeError, TypeError) as exc:
        raise ControlCodeError(f"cannot draw control code {payload!r} as a DataMatrix: {exc}") from exc
    if image.ndim == 3:
        image = image[..., 0]
    # zxing adds the 1-module minimum; cameras on a moving sheet want a little more (a white frame
    # filled in place: np.pad took a third of this function's time)
    h, w = image.shape
    framed = np.full((h + 2 * module_px, w + 2 * module_px), 255, dtype=np.uint8)
    framed[module_px:module_px + h, module_px:module_px + w] = image
    return framed
