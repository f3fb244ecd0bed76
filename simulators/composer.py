"""A stand-in for the composition system (Exstream, Inspire...): writes a statement run as a PDF print
stream, the way such tools hand it to the print room.

One top-level outline entry per mail piece, titled "PIECE POSTAL | line | line | line" (the pattern
controller.streams.pdf reads by default); the address block at the envelope window on each piece's
first page. Written with reportlab, a third-party PDF writer, so our reader is not reading its own
output. Data in, file out: the simulator knows nothing of the controller.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence


@dataclass(frozen=True, slots=True)
class ComposedPiece:
    piece_id: str
    pages: int
    postal_code: str
    recipient: tuple[str, ...]


def compose_statement_run(
    path: Path,
    pieces: Sequence[ComposedPiece],
    *,
    title: str = "pmc statement run",
    outlines: bool = True,
    progress: Callable[[int], None] | None = None,
) -> Path:
    """One PDF page per page of each piece; with outlines=False the stream carries no piece boundaries
    (as some tools write it, leaving them to an index file or page labels added later)."""
    from reportlab.lib.pagesizes import letter
    from reportlab.pdfgen import canvas

    c = canvas.Canvas(str(path), pagesize=letter, pageCompression=1)
    c.setTitle(title)
    _w, h = letter
    for n, p in enumerate(pieces, 1):
        for page in range(p.pages):
            if page == 0:
                if outlines:
                    c.bookmarkPage(p.piece_id)
                    head = f"{p.piece_id} {p.postal_code}".strip()
                    c.addOutlineEntry(" | ".join((head, *p.recipient)), p.piece_id, level=0)
                c.setFont("Helvetica", 10)
                y = h - 2.25 * 72
                for line in p.recipient:
                    c.drawString(1.0 * 72, y, line)
                    y -= 12
            c.setFont("Helvetica-Bold", 14)
            c.drawString(1.0 * 72, h - 4.5 * 72, f"Statement {p.piece_id}, page {page + 1} of {p.pages}")
            c.setFont("Helvetica", 9)
            for row in range(8):
                c.drawString(1.0 * 72, h - (5 + row * 0.25) * 72, f"Item {row + 1} .......... {(row + 1) * 7.25:8.2f}")
            c.showPage()
        if progress is not None:
            progress(n)
    c.save()
    return Path(path)
