"""What a simulated printer reads from a document: its pages, and each page's control code.

A stamped sheet carries its control code twice: drawn (a DataMatrix the inserter's camera reads) and
as a machine-readable twin the simulator can read without rendering. A reader takes the document's
bytes and returns one entry per page: the control-code payload found on that page, or None.
Readers are chosen by document-format (MIME type) and can be replaced per printer, so a stream
writer with another twin convention (AFP TLEs, PDF page-piece data...) plugs in its own.

Built in:
- application/pdf: pages counted with pypdfium2; the twin is the payload's text on the page
  (``JOB.PIECE.SSOOLLLC``: an invisible text run beside the drawn code), found by pattern.
- application/vnd.pmc.pages: plain text, one line per page holding the payload or ``-``; what
  tests and the fleet use when they need N pages and no PDF.
- application/octet-stream: sniffed, PDF or the plain page list.
"""

from __future__ import annotations

import re
import threading
from typing import Callable, Mapping

import pypdfium2

__all__ = ["DocumentError", "DocumentReader", "DEFAULT_READERS", "read_pdf", "read_page_list", "sniff", "PAGE_LIST"]

PAGE_LIST = "application/vnd.pmc.pages"

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
        finally:
            pdf.close()


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
    return "application/pdf" if data[:1024].lstrip().startswith(b"%PDF") else PAGE_LIST


def _read_sniffed(data: bytes) -> list[str | None]:
    return DEFAULT_READERS[sniff(data)](data)


DEFAULT_READERS: Mapping[str, DocumentReader] = {
    "application/pdf": read_pdf,
    PAGE_LIST: read_page_list,
    "application/octet-stream": _read_sniffed,
}
