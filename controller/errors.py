"""Controller-side errors; the tree is drawn in drivers.errors."""

from __future__ import annotations

from drivers.errors import DeviceError, DeviceTimeoutError, PmcError, WireProtocolError

__all__ = [
    "PmcError", "DeviceError", "DeviceTimeoutError", "WireProtocolError",
    "PieceError", "IllegalTransitionError", "UnknownPieceError", "DuplicatePieceError",
    "PieceMismatchError", "StreamError", "ConfigError", "LedgerError",
]


class PieceError(PmcError):
    """A piece event the ledger refuses."""

    def __init__(self, message: str, *, piece_id: str | None = None) -> None:
        self.piece_id = piece_id
        super().__init__(message)


class IllegalTransitionError(PieceError):
    """The event does not apply to the piece's current state."""

    def __init__(self, piece_id: str, state: str | None, event: str) -> None:
        self.state = state
        self.event = event
        shown = state if state is not None else "(not in the ledger)"
        super().__init__(f"piece {piece_id}: event {event!r} is not allowed in state {shown!r}", piece_id=piece_id)


class UnknownPieceError(IllegalTransitionError):
    """An event other than 'indexed' for a piece the ledger has never seen."""


class DuplicatePieceError(IllegalTransitionError):
    """The piece was already inserted or mailed: a second read is a duplicate alarm."""


class PieceMismatchError(PieceError):
    """What a camera read is not the piece the run expects at that point."""


class StreamError(PmcError):
    """A print stream that does not parse; names the file, the byte offset or page, and the piece."""

    def __init__(
        self,
        message: str,
        *,
        path: str | None = None,
        offset: int | None = None,
        page: int | None = None,
        piece_id: str | None = None,
    ) -> None:
        self.path, self.offset, self.page, self.piece_id = path, offset, page, piece_id
        where = []
        if path:
            where.append(str(path))
        if offset is not None:
            where.append(f"byte {offset}")
        if page is not None:
            where.append(f"page {page}")
        if piece_id is not None:
            where.append(f"piece {piece_id}")
        super().__init__(f"{', '.join(where)}: {message}" if where else message)


class ConfigError(PmcError):
    """A plant file that does not validate; names the file, the key path and what was expected."""


class LedgerError(PmcError):
    """The ledger file is unusable or inconsistent."""
