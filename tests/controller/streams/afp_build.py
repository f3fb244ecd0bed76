"""Small synthetic MO:DCA streams for the AFP tests: one piece per top-level named page group."""

from __future__ import annotations

from controller.streams.afp import structured_field as sf, tle


def name8(s: str) -> bytes:
    return s.ljust(8).encode("cp500")


def page(n: int = 1, *, aeg: bool = True, body: bytes = b"") -> bytes:
    out = sf("BPG", name8(f"PG{n:06d}"))
    if aeg:
        out += sf("BAG", name8("")) + sf("EAG", name8(""))
    return out + body + sf("EPG", name8(f"PG{n:06d}"))


def group(piece: str | None, pages: int = 1, *, zip_code: str | None = "12345", imm: str | None = None,
          tles: tuple[tuple[str, str], ...] = (), name: str = "", inner: bytes = b"") -> bytes:
    out = sf("BNG", name8(name or (piece or "")[:8]))
    if piece is not None:
        out += tle("PIECE", piece)
    if zip_code is not None:
        out += tle("ZIP", zip_code)
    for k, v in tles:
        out += tle(k, v)
    if imm:
        out += sf("IMM", name8(imm))
    out += inner
    for i in range(pages):
        out += page(i + 1)
    return out + sf("ENG", name8(name or (piece or "")[:8]))


def medium_map(name: str, duplex: int) -> bytes:
    return sf("BMM", name8(name)) + sf("MMC", bytes([1, 0xFF, 0xF4, duplex])) + sf("EMM", name8(name))


def form_map_resource(*maps: tuple[str, int]) -> bytes:
    body = sf("BFM", name8("F1TEST")) + b"".join(medium_map(n, d) for n, d in maps) + sf("EFM", name8("F1TEST"))
    return sf("BRG", name8("RG1")) + sf("BR", name8("F1TEST")) + body + sf("ER", name8("F1TEST")) + sf("ERG", name8("RG1"))


def document(*groups: bytes, prolog: bytes = b"") -> bytes:
    return prolog + sf("BDT", name8("DOC1")) + b"".join(groups) + sf("EDT", name8("DOC1"))
