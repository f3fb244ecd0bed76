"""Fuzz the PDF, PostScript and PCL readers on padded duplex streams, as our writers write them: truncation
and byte flips give a StreamError with a place, or a whole index whose pads fall after odd duplex pieces."""

from __future__ import annotations

import functools
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from controller.model import Plex
from controller.streams import pcl, pdf, ps
from tests.controller.streams.fuzzkit import check_damaged, damaged
from tests.controller.streams.streamkit import STREAMS, shuffled_plan


def _duplex_pdf(tmp: Path) -> Path:
    import pikepdf

    src = tmp / "duplex.pdf"
    with pikepdf.open(STREAMS / "pdf" / "outline.pdf") as doc:
        doc.Root.ViewerPreferences = pikepdf.Dictionary(Duplex=pikepdf.Name.DuplexFlipLongEdge)
        doc.save(src)
    return src


def _padded(module, src: Path, tmp: Path) -> bytes:
    """One print job of the source's pieces in a shuffled order, as the format's writer pads it."""
    index = module.READER.index(src, job_id="J1")
    assert any(p.plex is Plex.DUPLEX and p.pages % 2 for p in index.pieces)
    (out,) = module.WRITER.write(index, shuffled_plan(index, seed=3, jobs=1, stamps=False), tmp / "out")
    again = module.READER.index(out, job_id="J1")
    assert again.pages > sum(p.pages for p in again.pieces)  # the pads are there
    return out.read_bytes()


MODULES = {"pdf": pdf, "ps": ps, "pcl": pcl}


@functools.lru_cache(maxsize=None)
def padded_source(name: str) -> bytes:
    with tempfile.TemporaryDirectory() as tmp:
        src = {"pdf": lambda: _duplex_pdf(Path(tmp)), "ps": lambda: STREAMS / "ps" / "statements_duplex.ps",
               "pcl": lambda: STREAMS / "pcl" / "statements_duplex.pcl"}[name]()
        return _padded(MODULES[name], src, Path(tmp))


@pytest.mark.parametrize("name", sorted(MODULES))
def test_the_padded_sources_index_whole(name, tmp_path):
    module, data = MODULES[name], padded_source(name)
    path = tmp_path / f"padded.{name}"
    path.write_bytes(data)
    assert check_damaged(module.READER, path) is not None


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(sorted(MODULES)), st.data())
def test_a_damaged_padded_stream_is_an_error_with_a_place_or_a_whole_index(name, data):
    module, raw = MODULES[name], padded_source(name)
    damaged_bytes = data.draw(damaged(raw))
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"damaged.{name}"
        path.write_bytes(damaged_bytes)
        check_damaged(module.READER, path)
