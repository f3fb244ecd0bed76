"""Postal presort: pure functions over frozen dataclasses, no I/O. Imports neither controller/ nor drivers/."""
