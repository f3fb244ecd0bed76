"""mailsort's own exception tree (mailsort may not import drivers/ or controller/).

    MailsortError(ValueError)          anything mailsort refuses
     ├── ImbError                      a tracking or routing code that cannot be encoded (names the field)
     ├── PieceDataError                a mail piece whose data cannot be presorted (names the piece)
     ├── TableError                    a reference, price or content-identifier table that does not load
     │    └── TableExpiredError        a dated table used outside its effective..expiry window
     └── RulesError                    an unknown operator or an inconsistent rule set

The CLI maps these to exit code 1 with the message as written; every message names what and where.
"""

from __future__ import annotations

__all__ = ["MailsortError", "ImbError", "PieceDataError", "TableError", "TableExpiredError", "RulesError"]


class MailsortError(ValueError):
    """Root of every error mailsort raises on purpose."""


class ImbError(MailsortError):
    def __init__(self, field: str, message: str) -> None:
        self.field = field
        super().__init__(f"IMb {field}: {message}")


class PieceDataError(MailsortError):
    def __init__(self, message: str, *, piece_id: str | None = None) -> None:
        self.piece_id = piece_id
        super().__init__(f"piece {piece_id}: {message}" if piece_id is not None else message)


class TableError(MailsortError):
    def __init__(self, message: str, *, table: str | None = None, line: int | None = None) -> None:
        self.table, self.line = table, line
        where = ", ".join(filter(None, [table, f"line {line}" if line is not None else None]))
        super().__init__(f"{where}: {message}" if where else message)


class TableExpiredError(TableError):
    pass


class RulesError(MailsortError):
    pass
