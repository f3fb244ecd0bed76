"""Postal presort: pure functions over frozen dataclasses, no I/O. Imports neither controller/ nor drivers/.

    from mailsort import MailPiece, PresortOptions, make_operator, presort, postage_summary

    result = presort(pieces, make_operator("usps-fcm", tables), PresortOptions(mailing_date))
    print(postage_summary(result, prices).statement())

Modules: `imb` (the Intelligent Mail barcode), `tables` (dated reference and price tables, parsed from
text the caller read), `operators` (the PostalOperator plug-in shape and the USPS, Deutsche Post and
Royal Mail-style rule sets), `presort` (the engine), `summary` (the postage statement), `synthetic`
(made-up mailings for tests, the demo and the benchmark), `errors` (the MailsortError tree).
"""

from mailsort.errors import ImbError, MailsortError, PieceDataError, RulesError, TableError, TableExpiredError
from mailsort.imb import Imb, encode_imb
from mailsort.model import MailPiece, PostageSummary, PresortOptions, SortContainer, SortedPiece, TrayLabel
from mailsort.operators import PostalOperator, make_operator, table_roles
from mailsort.presort import SortResult, presort
from mailsort.summary import postage_summary
from mailsort.tables import DatedTable, PriceTable, parse_price_table, parse_table

__all__ = [
    "ImbError", "MailsortError", "PieceDataError", "RulesError", "TableError", "TableExpiredError",
    "Imb", "encode_imb", "MailPiece", "PostageSummary", "PresortOptions", "SortContainer", "SortedPiece",
    "TrayLabel", "PostalOperator", "make_operator", "table_roles", "SortResult", "presort", "postage_summary",
    "DatedTable", "PriceTable", "parse_price_table", "parse_table",
]
