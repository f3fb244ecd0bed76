"""The pmc runtime: ledger, streams, fleet, insertion supervision, rejects, CLI."""
