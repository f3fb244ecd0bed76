"""Which reader and writer handle a stream: sniffed from its first bytes, imported lazily by name.

Each format's module exposes a module-level READER (a StreamReader) and WRITER (a StreamWriter).
They are imported only when a stream of that format is met, so a missing optional library breaks
only its own format, and a module not yet written is simply "not available".
"""

from __future__ import annotations

import importlib
import logging
from pathlib import Path
from typing import Callable, Literal, Sequence

from controller.errors import StreamError
from controller.streams.base import EngineeringPlan, StreamFormat, StreamIndex, StreamReader, StreamWriter

logger = logging.getLogger(__name__)

__all__ = ["FORMAT_MODULES", "reader_for", "writer_for", "available_formats", "sniff", "index_stream",
           "write_stream", "format_named"]

# sniffing order matters: PJL-wrapped PostScript starts with the same escape as PCL
FORMAT_MODULES: dict[StreamFormat, str] = {
    StreamFormat.AFP: "controller.streams.afp",
    StreamFormat.PDF: "controller.streams.pdf",
    StreamFormat.POSTSCRIPT: "controller.streams.ps",
    StreamFormat.PCL: "controller.streams.pcl",
}
HEAD_BYTES = 4096


def format_named(name: str | StreamFormat) -> StreamFormat:
    if isinstance(name, StreamFormat):
        return name
    key = name.strip().lower().lstrip(".")
    aliases = {"postscript": "ps", "eps": "ps", "modca": "afp", "pxl": "pcl"}
    try:
        return StreamFormat(aliases.get(key, key))
    except ValueError:
        known = ", ".join(f.value for f in StreamFormat)
        raise StreamError(f"unknown stream format {name!r} (known: {known})") from None


def _module(fmt: StreamFormat):
    name = FORMAT_MODULES[fmt]
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as exc:
        if exc.name != name:
            raise StreamError(f"the {fmt.value} stream module cannot load: {exc}") from exc
        raise StreamError(f"no {fmt.value} stream support is installed (module {name})") from None


def reader_for(fmt: StreamFormat | str) -> StreamReader:
    return _module(format_named(fmt)).READER


def writer_for(fmt: StreamFormat | str) -> StreamWriter:
    return _module(format_named(fmt)).WRITER


# a cheap look at the first bytes that every stream a reader's own sniff accepts passes, so that
# sniffing imports only the modules that may claim the file (the AFP reader brings numpy, say)
_MAY_BE = {
    StreamFormat.AFP: lambda head: len(head) >= 9 and head[0] == 0x5A and head[3] == 0xD3,
    StreamFormat.PDF: lambda head: b"%PDF-" in head[:1024],
    StreamFormat.POSTSCRIPT: lambda head: head.lstrip(b"\x04")[:2] == b"%!",
    StreamFormat.PCL: lambda head: b"\x1b" in head[:512] or b"HP-PCL XL" in head[:512],
}


def available_formats(wanted: Callable[[StreamFormat], bool] = lambda fmt: True) -> list[StreamFormat]:
    out = []
    for fmt in filter(wanted, FORMAT_MODULES):
        try:
            _module(fmt)
        except StreamError:
            continue
        out.append(fmt)
    return out


def sniff(path: Path) -> StreamFormat:
    try:
        with open(path, "rb") as fh:
            head = fh.read(HEAD_BYTES)
    except OSError as exc:
        raise StreamError(f"cannot read: {exc.strerror or exc}", path=str(path)) from None
    if not head:
        raise StreamError("empty file", path=str(path), offset=0)
    for fmt in available_formats(lambda f: _MAY_BE[f](head)):
        if reader_for(fmt).sniff(head):
            return fmt
    raise StreamError(f"not a print stream pmc reads (first bytes {head[:8].hex(' ')}; known: "
                      f"{', '.join(f.value for f in available_formats())})", path=str(path), offset=0)


def index_stream(path: Path, *, job_id: str | None = None, lenient: bool = False,
                 fmt: StreamFormat | str | None = None, reader: StreamReader | None = None,
                 sidecar: Path | Literal["auto"] | None = "auto", keep_layout: bool = False) -> StreamIndex:
    """Index a stream of any format. `sidecar`: an index file to use, "auto" to look for one beside
    the stream (controller.streams.sidecar.find_sidecar), None to ignore any. `keep_layout`: a write of the
    stream follows; a reader that can (`keeps_layout`) keeps what the writer would read again
    (StreamIndex.layout)."""
    from controller.streams.sidecar import find_sidecar, read_sidecar

    path = Path(path)
    if reader is None:
        reader = reader_for(format_named(fmt) if fmt is not None else sniff(path))
    entries: Sequence[object] | None = None
    side = find_sidecar(path) if sidecar == "auto" else (Path(sidecar) if sidecar is not None else None)
    if side is not None:
        entries = read_sidecar(side)
        logger.info("%s: index file %s (%d pieces)", path, side, len(entries))
    job = job_id or path.stem
    extra: dict[str, object] = {"keep_layout": True} if keep_layout and getattr(reader, "keeps_layout", False) else {}
    if entries is not None:
        return reader.index(path, job_id=job, lenient=lenient, sidecar=entries, **extra)
    return reader.index(path, job_id=job, lenient=lenient, **extra)


def write_stream(index: StreamIndex, plan: EngineeringPlan, out_dir: Path) -> list[Path]:
    return writer_for(index.format).write(index, plan, Path(out_dir))
