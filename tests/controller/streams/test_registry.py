"""Sniffing a stream's format and dispatching to its reader and writer."""

from __future__ import annotations

from pathlib import Path

import pytest

from controller.errors import StreamError
from controller.streams import registry
from controller.streams.base import StreamFormat, plan_in_order
from controller.streams.registry import format_named, index_stream, reader_for, sniff, write_stream

ROOT = Path(__file__).resolve().parents[3] / "fixtures" / "streams"
AFP = ROOT / "afp" / "fop_statements.afp"


def test_an_afp_stream_is_sniffed_and_indexed_with_its_index_file():
    assert sniff(AFP) is StreamFormat.AFP
    idx = index_stream(AFP)
    assert idx.format is StreamFormat.AFP and idx.job_id == "fop_statements" and len(idx.pieces) == 24


@pytest.mark.parametrize("sub, fmt", [("pdf", StreamFormat.PDF), ("ps", StreamFormat.POSTSCRIPT),
                                      ("pcl", StreamFormat.PCL)])
def test_other_formats_are_sniffed_by_their_own_readers(sub, fmt):
    files = sorted((ROOT / sub).glob("*.*"))
    if fmt not in registry.available_formats() or not files:
        pytest.skip(f"no {fmt.value} support or fixtures in this tree yet")
    for f in files:
        if f.suffix.lower() in (".csv", ".json", ".txt", ".md"):
            continue
        assert sniff(f) is fmt, f


def test_an_unknown_file_is_refused_at_byte_zero(tmp_path):
    p = tmp_path / "x.bin"
    p.write_bytes(b"\x00\x01\x02 not a stream")
    with pytest.raises(StreamError, match="not a print stream") as info:
        sniff(p)
    assert info.value.offset == 0


def test_an_empty_or_missing_file_is_refused(tmp_path):
    (tmp_path / "e.afp").write_bytes(b"")
    with pytest.raises(StreamError, match="empty"):
        sniff(tmp_path / "e.afp")
    with pytest.raises(StreamError, match="cannot read"):
        sniff(tmp_path / "missing.afp")


def test_format_names_and_aliases():
    assert format_named("PostScript") is StreamFormat.POSTSCRIPT
    assert format_named(".afp") is StreamFormat.AFP
    with pytest.raises(StreamError, match="unknown stream format"):
        format_named("docx")


def test_a_format_whose_module_is_missing_is_not_available(monkeypatch):
    monkeypatch.setitem(registry.FORMAT_MODULES, StreamFormat.PCL, "controller.streams.no_such_module")
    assert StreamFormat.PCL not in registry.available_formats()
    with pytest.raises(StreamError, match="no pcl stream support"):
        reader_for("pcl")


def test_the_sidecar_can_be_ignored_or_named(tmp_path):
    bad = tmp_path / "other.csv"
    bad.write_text("piece,first_page,page_count\nNOPE,1,1\n")
    with pytest.raises(StreamError, match="does not hold"):
        index_stream(AFP, sidecar=bad)
    assert len(index_stream(AFP, sidecar=None).pieces) == 24


def test_write_stream_dispatches_on_the_index_format(tmp_path):
    idx = index_stream(AFP, job_id="J")
    order = [p.piece_id for p in reversed(idx.pieces)]
    (out,) = write_stream(idx, plan_in_order(idx, order), tmp_path)
    assert [p.piece_id for p in index_stream(out, sidecar=None).pieces] == order


# the same contract for every format, through the registry: index, reorder + split + stamp, re-index
CONTRACT = ["afp/fop_statements.afp", "afp/fop_plain.afp", "pdf/dpart.pdf", "pdf/outline.pdf", "pdf/gs_pdfwrite.pdf",
            "ps/statements.ps", "ps/statements_duplex.ps", "pcl/statements.pcl", "pcl/statements_duplex.pcl"]


@pytest.mark.parametrize("name", CONTRACT)
def test_every_format_reorders_splits_and_stamps_through_the_registry(name, tmp_path):
    from controller.commands.stream import control_code_stamps
    from controller.streams.base import EngineeringPlan, PrintJobPlan

    path = ROOT / name
    if not path.is_file():
        pytest.skip(f"{name} is not in this tree")
    if sniff(path) not in registry.available_formats():
        pytest.skip(f"no reader for {name} yet")
    idx = index_stream(path, job_id="C")
    assert len(idx.pieces) >= 2
    order = [p.piece_id for p in idx.pieces][::-1]
    half = len(order) // 2
    plan = EngineeringPlan(jobs=(PrintJobPlan("a", tuple(order[:half])), PrintJobPlan("b", tuple(order[half:]))),
                           stamps=control_code_stamps(idx))
    outs = write_stream(idx, plan, tmp_path)
    assert len(outs) == 2
    by_id = {p.piece_id: p for p in idx.pieces}
    for out, want in zip(outs, (order[:half], order[half:])):
        back = index_stream(out, job_id="C", sidecar=None)
        assert back.format is idx.format
        assert [p.piece_id for p in back.pieces] == want
        for p in back.pieces:
            o = by_id[p.piece_id]
            assert (p.pages, p.sheets, p.plex, p.recipient, p.postal_code) == \
                (o.pages, o.sheets, o.plex, o.recipient, o.postal_code), p.piece_id


_HEADS = [b"\x5a\x00\x10\xd3\xa8\xa8\x00\x00\x00", b"%PDF-1.7\n", b"\n\n%PDF-1.4", b"%!PS-Adobe-3.0\n",
          b"\x04\x04%!PS", b"\x1b%-12345X@PJL\n", b"\x1bE\x1b&l0O", b") HP-PCL XL;2;0\n", b"\x00\x01\x02", b""]


def test_the_cheap_look_never_turns_away_a_stream_its_reader_would_claim():
    """sniff() imports only the modules whose quick check passes: every head a reader claims must pass it."""
    from hypothesis import given, settings, strategies as st

    fixtures = [p.read_bytes()[:registry.HEAD_BYTES] for p in ROOT.rglob("*.*") if p.suffix in
                (".afp", ".pdf", ".ps", ".pcl", ".pxl")]

    def agrees(head: bytes) -> None:
        for fmt in registry.available_formats():
            if reader_for(fmt).sniff(head):
                assert registry._MAY_BE[fmt](head), (fmt, head[:16])

    for head in [*fixtures, *_HEADS]:
        agrees(head)

    @settings(max_examples=300, deadline=None)
    @given(prefix=st.sampled_from(_HEADS), tail=st.binary(max_size=64), cut=st.integers(0, 20))
    def mixed(prefix, tail, cut):
        agrees((prefix + tail)[cut:])

    mixed()


def test_sniffing_a_pdf_does_not_import_the_afp_reader():
    import subprocess
    import sys

    probe = ("import sys\nfrom controller.streams.registry import sniff\n"
             f"print(sniff({str(sorted((ROOT / 'pdf').glob('*.pdf'))[0])!r}).value, 'controller.streams.afp' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout.split()
    assert out == ["pdf", "False"]
