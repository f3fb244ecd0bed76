"""What a simulated printer reads from a document: its pages, and each page's control code.

A stamped sheet carries its control code twice: drawn (a DataMatrix the inserter's camera reads) and
as a machine-readable twin the simulator can read without rendering. A reader takes the document's
bytes and returns one entry per page: the control-code payload found on that page, or None.
Readers are chosen by document-format (MIME type) and can be replaced per printer, so a stream
writer with another twin convention (AFP TLEs, PDF page-piece data...) plugs in its own.

Built in (each written from the stream writers' documented conventions, not by importing them:
simulators stand for hardware the controller does not own):
- application/pdf: the page-piece dictionary ``/PieceInfo /PMC /Private /ControlCode`` the PDF
  writer puts on stamped pages, read with pikepdf; for a PDF with no such page (another composition
  tool), the payload's text on the page (``JOB.PIECE.SSOOLLLC``), found with pypdfium2.
- application/postscript: DSC ``%%Page:`` comments, and ``%%PMC-ControlCode: payload`` on the page.
- application/vnd.ibm.modcap (AFP, MO:DCA-P): pages are BPG ... EPG structured fields; the twin is
  a page-level TLE named PMC-CTL (EBCDIC, cp500).
- application/vnd.hp-pcl (PCL 5): pages end at a form feed or a reset (ESC E) after marks; escape
  sequences carrying binary data are skipped by their byte count; the twin is an alphanumeric-ID
  command ``ESC&n#W`` whose data is ``\\x00PMC:payload[;IMB:bars]``. (PCL XL is not read.)
- application/vnd.pmc.pages: plain text, one line per page holding the payload or ``-``; what
  tests and the fleet use when they need N pages and no PDF.
- application/octet-stream: sniffed by its first bytes.

`read_rendered` is the slow, independent way for small runs: Ghostscript renders each page of a PDF or
PostScript document and zxing-cpp decodes the DataMatrix drawn on it, so what the camera will see is
checked, not the twin. Plug it in per printer: `SimIppPrinter(readers={**DEFAULT_READERS,
"application/pdf": read_rendered})`.
"""

from __future__ import annotations

import io
import re
import struct
import threading
from typing import Callable, Mapping

import pikepdf
import pypdfium2

__all__ = ["DocumentError", "DocumentReader", "DEFAULT_READERS", "read_pdf", "read_postscript", "read_afp",
           "read_pcl", "read_rendered", "read_page_list", "sniff", "PAGE_LIST", "AFP", "PCL"]

PAGE_LIST = "application/vnd.pmc.pages"
AFP = "application/vnd.ibm.modcap"
PCL = "application/vnd.hp-pcl"

# A control code's payload as drivers.controlcode writes it; the simulator only finds it, the
# inserter's camera path checks it.
# The check character (ISO/IEC 7064 MOD 37,36) may be '*'.
CONTROL_CODE = re.compile(r"(?<![0-9A-Z.*])[0-9A-Z]{1,6}\.[0-9A-Z]{1,9}\.[0-9A-Z]{7}[0-9A-Z*](?![0-9A-Z.*])")

# pdfium is not thread-safe: documents are read in worker threads, one at a time.
_PDFIUM = threading.Lock()


class DocumentError(ValueError):
    """A document the printer cannot read (IPP client-error-document-format-error)."""


DocumentReader = Callable[[bytes], "list[str | None]"]


def read_pdf(data: bytes) -> list[str | None]:
    try:
        with pikepdf.open(io.BytesIO(data)) as pdf:
            codes = [_piece_info_code(page.obj) for page in pdf.pages]
    except (pikepdf.PdfError, pikepdf.PasswordError, ValueError) as exc:
        raise DocumentError(f"not a readable PDF: {exc}") from None
    if not codes:
        raise DocumentError("a PDF with no pages")
    if any(codes):
        return codes
    return _pdf_text_codes(data)


def _piece_info_code(page: pikepdf.Dictionary) -> str | None:
    node = page.get("/PieceInfo")
    for key in ("/PMC", "/Private"):
        if not isinstance(node, pikepdf.Dictionary):
            return None
        node = node.get(key)
    code = node.get("/ControlCode") if isinstance(node, pikepdf.Dictionary) else None
    return str(code) if code is not None else None


def _pdf_text_codes(data: bytes) -> list[str | None]:
    with _PDFIUM:
        try:
            pdf = pypdfium2.PdfDocument(data)
        except pypdfium2.PdfiumError as exc:
            raise DocumentError(f"not a readable PDF: {exc}") from None
        try:
            codes: list[str | None] = []
            for i in range(len(pdf)):
                page = pdf[i]
                text = page.get_textpage()
                try:
                    found = CONTROL_CODE.search(text.get_text_range())
                finally:
                    text.close()
                    page.close()
                codes.append(found.group(0) if found else None)
            return codes
        except pypdfium2.PdfiumError as exc:
            raise DocumentError(f"PDF page {len(codes) + 1} does not load: {exc}") from None
        finally:
            pdf.close()


_DSC_PAGE = re.compile(rb"^%%Page:", re.M)
_DSC_CODE = re.compile(rb"^%%PMC-ControlCode:[ \t]*(\S+)", re.M)


def read_postscript(data: bytes) -> list[str | None]:
    if not data.startswith(b"%!"):
        raise DocumentError("not PostScript: no %! header")
    starts = [m.start() for m in _DSC_PAGE.finditer(data)]
    if not starts:
        raise DocumentError("PostScript without DSC %%Page: comments: pages cannot be counted")
    codes: list[str | None] = []
    for i, start in enumerate(starts):
        end = starts[i + 1] if i + 1 < len(starts) else len(data)
        found = _DSC_CODE.search(data, start, end)
        codes.append(found.group(1).decode("ascii", "replace") if found else None)
    return codes


_SF_BPG, _SF_EPG, _SF_TLE = 0xD3A8AF, 0xD3A9AF, 0xD3A090
AFP_TWIN = "PMC-CTL"


def read_afp(data: bytes) -> list[str | None]:
    """Walk the structured fields (0x5A, length, 3-byte identifier, flags, 2 reserved, data)."""
    codes: list[str | None] = []
    in_page = False
    off = 0
    while off < len(data):
        if data[off] != 0x5A or off + 9 > len(data):
            raise DocumentError(f"AFP: no structured field at byte {off}")
        length = struct.unpack_from(">H", data, off + 1)[0]
        end = off + 1 + length
        if length < 8 or end > len(data):
            raise DocumentError(f"AFP: structured field at byte {off} runs past the end")
        code = int.from_bytes(data[off + 3:off + 6], "big")
        body = data[off + 9:end]
        if data[off + 6] & 0x80 and body:  # extension present: its length is its first byte
            body = body[body[0]:]
        if code == _SF_BPG:
            codes.append(None)
            in_page = True
        elif code == _SF_EPG:
            in_page = False
        elif code == _SF_TLE and in_page and codes[-1] is None:
            name, value = _tle(body)
            if name == AFP_TWIN:
                codes[-1] = value
        off = end
    if not codes:
        raise DocumentError("AFP with no pages (BPG)")
    return codes


def _tle(body: bytes) -> tuple[str | None, str | None]:
    name = value = None
    i = 0
    while i + 2 <= len(body):
        n, kind = body[i], body[i + 1]
        if n < 2:
            break
        t = body[i:i + n]
        if kind == 0x02 and len(t) >= 4 and t[2] == 0x0B:
            name = t[4:].decode("cp500", "replace").strip()
        elif kind == 0x36 and len(t) >= 4:
            value = t[4:].decode("cp500", "replace").strip()
        i += n
    return name, value


_UEL = b"\x1b%-12345X"
_PCL_VALUE = re.compile(rb"[+-]?[0-9]*(?:\.[0-9]*)?")


def read_pcl(data: bytes) -> list[str | None]:
    codes: list[str | None] = []
    twin: str | None = None
    dirty = False
    i, size = 0, len(data)

    def eject() -> None:
        nonlocal twin, dirty
        codes.append(twin)
        twin, dirty = None, False

    while i < size:
        b = data[i]
        if b == 0x1B:
            if data.startswith(_UEL, i):
                if dirty:
                    eject()
                i += len(_UEL)
                while data.startswith(b"@PJL", i):  # PJL lines up to the language switch
                    nl = data.find(b"\n", i)
                    if nl < 0:
                        raise DocumentError(f"PCL: a PJL line runs past the end at byte {i}")
                    enter = data[i:nl].upper().startswith(b"@PJL ENTER")
                    i = nl + 1
                    if enter:
                        break
                continue
            if i + 1 >= size:
                raise DocumentError(f"PCL: escape sequence cut off at byte {i}")
            c = data[i + 1]
            if c == 0x45:  # ESC E: a reset ejects a marked page
                if dirty:
                    eject()
                i += 2
                continue
            if not 0x21 <= c <= 0x2F:
                i += 2
                continue
            start = i
            group = data[i + 2] if i + 2 < size else 0
            j = i + 3 if 0x60 <= group <= 0x7E else i + 2
            while True:
                m = _PCL_VALUE.match(data, j)
                j = m.end()
                if j >= size:
                    raise DocumentError(f"PCL: escape sequence cut off at byte {start}")
                term = data[j]
                j += 1
                if not 0x40 <= term <= 0x7E:
                    raise DocumentError(f"PCL: bad parameter byte 0x{term:02x} in the sequence at byte {start}")
                upper = term & ~0x20
                if upper == 0x57 or (c == 0x2A and group == 0x62 and upper == 0x56) or (c == 0x26 and group == 0x70 and upper == 0x58):
                    value = m.group()
                    try:
                        n = int(float(value)) if value.strip(b"+-.") else 0
                    except ValueError:
                        n = 0
                    if n < 0 or j + n > size:
                        raise DocumentError(f"PCL: a data block of {n} bytes at byte {start} runs past the end")
                    block = data[j:j + n]
                    if c == 0x26 and group == 0x6E and upper == 0x57 and block.startswith(b"\x00PMC:"):
                        twin = block[5:].split(b";")[0].decode("latin-1")
                    elif (c == 0x2A and group == 0x62) or (c == 0x26 and group == 0x70):
                        dirty = True  # raster or transparent data marks the page
                    j += n
                if c == 0x2A and group == 0x63 and upper == 0x50:  # rule fill
                    dirty = True
                if 0x40 <= term <= 0x5E:
                    break
            i = j
            continue
        if b == 0x0C:
            eject()
        elif b > 0x20:
            dirty = True
        i += 1
    if dirty:
        eject()  # a last page without a form feed still comes out of a printer
    if not codes:
        raise DocumentError("PCL with no pages")
    return codes


def read_rendered(data: bytes, *, dpi: int = 200) -> list[str | None]:
    """Each page rendered by Ghostscript, its drawn DataMatrix decoded by zxing-cpp (None: no code)."""
    import shutil
    import subprocess
    import tempfile
    from pathlib import Path

    import cv2
    import zxingcpp

    gs = shutil.which("gs")
    if gs is None:
        raise DocumentError("rendering needs Ghostscript (gs), which is not installed")
    with tempfile.TemporaryDirectory(prefix="pmc-render-") as tmp:
        source = Path(tmp) / "document"
        source.write_bytes(data)
        run = subprocess.run([gs, "-q", "-dSAFER", "-dBATCH", "-dNOPAUSE", "-sDEVICE=pnggray", f"-r{dpi}",
                              f"-sOutputFile={tmp}/page-%05d.png", str(source)], capture_output=True, timeout=300)
        pages = sorted(Path(tmp).glob("page-*.png"))
        if run.returncode != 0 or not pages:
            raise DocumentError(f"Ghostscript could not render it: {run.stderr.decode(errors='replace')[-200:]}")
        codes: list[str | None] = []
        for page in pages:
            image = cv2.imread(str(page), cv2.IMREAD_GRAYSCALE)
            found = [r.text for r in zxingcpp.read_barcodes(image, formats=zxingcpp.BarcodeFormat.DataMatrix)
                     if CONTROL_CODE.fullmatch(r.text)]
            codes.append(found[0] if found else None)
    return codes


def read_page_list(data: bytes) -> list[str | None]:
    try:
        lines = data.decode("utf-8").splitlines()
    except UnicodeDecodeError as exc:
        raise DocumentError(f"page list is not UTF-8 at byte {exc.start}") from None
    pages: list[str | None] = []
    for n, line in enumerate(lines, start=1):
        line = line.strip()
        if not line:
            continue
        if line != "-" and not CONTROL_CODE.fullmatch(line):
            raise DocumentError(f"page list line {n}: {line[:40]!r} is neither a control code nor '-'")
        pages.append(None if line == "-" else line)
    if not pages:
        raise DocumentError("page list has no pages")
    return pages


def sniff(data: bytes) -> str:
    head = data[:1024].lstrip()
    if head.startswith(b"%PDF"):
        return "application/pdf"
    if head.startswith(b"%!"):
        return "application/postscript"
    if data[:1] == b"\x5a":
        return AFP
    if data.startswith(_UEL) or data[:1] == b"\x1b":
        return PCL
    return PAGE_LIST


def _read_sniffed(data: bytes) -> list[str | None]:
    return DEFAULT_READERS[sniff(data)](data)


DEFAULT_READERS: Mapping[str, DocumentReader] = {
    "application/pdf": read_pdf,
    "application/postscript": read_postscript,
    AFP: read_afp,
    PCL: read_pcl,
    PAGE_LIST: read_page_list,
    "application/octet-stream": _read_sniffed,
}
