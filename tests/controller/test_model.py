"""Piece has a hand-written constructor (controller/model.py, for speed): it must behave exactly as
the dataclass's own would."""

import dataclasses

import pytest

from controller.model import Piece, Plex


def test_piece_defaults_keywords_and_positional_agree():
    a = Piece("P1", "J", 3, 2, 1)
    assert (a.plex, a.first_page, a.recipient, a.postal_code, a.inserts, a.container, a.index) == (
        Plex.SIMPLEX, 0, (), None, frozenset(), None, {})
    b = Piece(piece_id="P1", job_id="J", sequence=3, pages=2, sheets=1, plex=Plex.DUPLEX, first_page=7,
              recipient=("A", "B"), postal_code="12345", inserts=frozenset({2}), container="T1",
              index={"ACCT": "9"})
    c = Piece("P1", "J", 3, 2, 1, Plex.DUPLEX, 7, ("A", "B"), "12345", frozenset({2}), "T1", {"ACCT": "9"})
    assert b == c and b != a
    assert dataclasses.replace(a, pages=5).pages == 5 and a.pages == 2


def test_piece_stays_frozen_and_gets_its_own_index():
    a, b = Piece("P1", "J", 0, 1, 1), Piece("P2", "J", 1, 1, 1)
    assert a.index is not b.index
    with pytest.raises(dataclasses.FrozenInstanceError):
        a.pages = 3  # type: ignore[misc]
    with pytest.raises(TypeError):
        Piece("P1", "J", 0, 1)  # a required field missing
    with pytest.raises(TypeError):
        Piece("P1", "J", 0, 1, 1, colour=True)  # not a field
