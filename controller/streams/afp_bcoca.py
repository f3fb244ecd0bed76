"""A BCOCA bar code object (BBC ... EBC) drawing a control code as a DataMatrix on an AFP page.

Layout, per the MO:DCA and BCOCA references (SC31-6802, S544-3766):

    BBC  name
      BOG  object environment group
        OBD  object area: descriptor position (X'43'), units (X'4B': 10 inches / 2400 = 240 per inch),
             size (X'4C')
        OBP  where the area sits on the page (0 and 90 degree axes, as FOP writes for its images)
        MBC  mapping option X'00': position
        BDD  bar code data descriptor: type X'1C' (Data Matrix), module width in mils
      EOG
      BDA  flags (no human-readable text), offset 0,0, the ten Data Matrix special-function
           parameter bytes (no EBCDIC-to-ASCII translation, default size, no structured append),
           then the payload in ASCII
    EBC

Not checked against an AFP renderer (none is installed here); the tests check the structure and read
the payload back from the BDA. The page-level TLE twin (PMC-CTL) stays the source for simulators.
"""

from __future__ import annotations

from controller.streams.afp import structured_field as sf

__all__ = ["datamatrix_object", "DATAMATRIX", "UNITS_PER_10_INCHES"]

DATAMATRIX = 0x1C
UNITS_PER_10_INCHES = 2400  # 240 units per inch


def _name8(name: str) -> bytes:
    return name.ljust(8).encode("cp500")[:8]


def _u(n: int, size: int) -> bytes:
    return n.to_bytes(size, "big")


def datamatrix_object(payload: str, *, name: str = "PMCCTL01", x_in: float = 0.4, y_in: float = 0.3,
                      size_in: float = 0.6, module_mils: int = 20) -> bytes:
    """The bytes of one bar code object at (x_in, y_in) inches from the page origin."""
    if not payload.isascii():
        raise ValueError("a control code payload is ASCII")
    x, y = round(x_in * 240), round(y_in * 240)
    extent = round(size_in * 240)
    obd = (bytes([3, 0x43, 0x01])
           + bytes([8, 0x4B, 0x00, 0x00]) + _u(UNITS_PER_10_INCHES, 2) + _u(UNITS_PER_10_INCHES, 2)
           + bytes([9, 0x4C, 0x02]) + _u(extent, 3) + _u(extent, 3))
    obp = (bytes([0x01, 0x17]) + _u(x, 3) + _u(y, 3) + _u(0x0000, 2) + _u(0x2D00, 2) + b"\x00"
           + _u(0, 3) + _u(0, 3) + _u(0x0000, 2) + _u(0x2D00, 2) + b"\x00")
    mbc = _u(5, 2) + bytes([3, 0x04, 0x00])
    bdd = (bytes([0x00, 0x00]) + _u(UNITS_PER_10_INCHES, 2) + _u(UNITS_PER_10_INCHES, 2) + _u(extent, 2)
           + _u(extent, 2) + _u(0, 2) + bytes([DATAMATRIX, 0x00, 0xFF]) + _u(0xFFFF, 2) + bytes([module_mils])
           + _u(0xFFFF, 2) + bytes([0x01]) + _u(0xFFFF, 2))
    params = bytes([0x00]) + _u(0, 2) + _u(0, 2) + bytes([0x00, 0x00, 0x00, 0x00, 0x00])
    bda = bytes([0x80]) + _u(0, 2) + _u(0, 2) + params + payload.encode("ascii")
    nm = _name8(name)
    return (sf("BBC", nm) + sf("BOG", nm) + sf("OBD", obd) + sf("OBP", obp) + sf("MBC", mbc) + sf("BDD", bdd)
            + sf("EOG", nm) + sf("BDA", bda) + sf("EBC", nm))


def read_datamatrix_objects(data: bytes) -> list[tuple[int, str]]:
    """(bar code type, payload) of every bar code object in a span of fields; for tests and tools."""
    from controller.streams.afp import iter_fields

    out, kind = [], None
    for f in iter_fields(data):
        if f.name == "BDD":
            kind = data[f.data_start + 12]
        elif f.name == "BDA":
            body = data[f.data_start + 5:f.data_end]
            if kind == DATAMATRIX:
                body = body[10:]
            out.append((kind, body.decode("ascii", "replace")))
    return out
