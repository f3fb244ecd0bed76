"""Apache FOP as a peer: AFP it makes now indexes to the pieces its XSL-FO asked for."""

from __future__ import annotations

import importlib.util
import shutil
from pathlib import Path

import pytest

from controller.model import Plex
from controller.streams.afp import AfpReader

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.peer


def _maker():
    spec = importlib.util.spec_from_file_location("make_afp", ROOT / "fixtures" / "streams" / "make_afp.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


@pytest.mark.skipif(shutil.which("fop") is None, reason="Apache FOP (Debian fop) is not installed")
def test_fop_output_indexes_to_the_pieces_of_its_source(tmp_path):
    mk = _maker()
    items = mk.pieces(9, 5, duplex_every=3)
    fmap = tmp_path / "F1PMC.afp"
    fmap.write_bytes(mk.form_map())
    out = tmp_path / "fresh.afp"
    mk.run_fop(mk.fo_document(items, form_map_file=fmap, logo=None), out, tmp_path)
    idx = AfpReader().index(out, job_id="PEER")
    assert [p.piece_id for p in idx.pieces] == [it["piece"] for it in items]
    assert [p.pages for p in idx.pieces] == [it["pages"] for it in items]
    assert [p.postal_code for p in idx.pieces] == [it["zip"] for it in items]
    assert [p.recipient for p in idx.pieces] == [tuple(it["recipient"]) for it in items]
    assert [p.plex for p in idx.pieces] == [Plex.DUPLEX if it["map"] == "DUPLEX" else Plex.SIMPLEX for it in items]
