"""PostScript (DSC) streams: index by %%Page: and piece markers; reorder, split, stamp and re-index."""

from __future__ import annotations

import shutil
import subprocess

import pytest

from controller.errors import StreamError
from controller.model import Plex
from controller.streams import ps
from controller.streams.base import EngineeringPlan, PrintJobPlan, StreamFormat
from tests.controller.streams.streamkit import (
    SAMPLE, STREAMS, expected_after, pieces_view, read_imb_bars, render_ps, sample_sidecar, shuffled_plan,
)

PS_DIR = STREAMS / "ps"


def expected_sample(plex: Plex) -> list[tuple]:
    sheets = (lambda n: n) if plex is Plex.SIMPLEX else (lambda n: (n + 1) // 2)
    return [(p.piece_id, p.pages, sheets(p.pages), plex, p.recipient, p.postal_code) for p in SAMPLE]


@pytest.mark.parametrize("name,plex", [("statements.ps", Plex.SIMPLEX), ("statements_duplex.ps", Plex.DUPLEX)])
def test_index_gives_the_marked_pieces_and_duplex_from_setpagedevice(name, plex):
    index = ps.READER.index(PS_DIR / name, job_id="J1")
    assert index.format is StreamFormat.POSTSCRIPT
    assert index.pages == sum(p.pages for p in SAMPLE)
    assert pieces_view(index) == expected_sample(plex)


def test_ghostscript_counts_the_same_pages():
    exe = shutil.which("gs")
    if exe is None:
        pytest.skip("Ghostscript is not installed")
    out = subprocess.run([exe, "-q", "-dBATCH", "-dNOPAUSE", "-dSAFER", "-sDEVICE=bbox", str(PS_DIR / "statements.ps")],
                         capture_output=True, text=True, check=True, timeout=60)
    assert out.stderr.count("%%BoundingBox") == ps.READER.index(PS_DIR / "statements.ps", job_id="J1").pages


def test_pages_count_that_disagrees_is_an_error_naming_the_offset(tmp_path):
    data = (PS_DIR / "statements.ps").read_bytes()
    bad = tmp_path / "bad.ps"
    bad.write_bytes(data.replace(b"%%Pages: 27", b"%%Pages: 26", 1))
    with pytest.raises(StreamError) as err:
        ps.READER.index(bad, job_id="J1")
    assert err.value.offset == data.index(b"%%Pages: 27")
    assert "26" in str(err.value) and "27" in str(err.value)


def test_truncated_file_is_an_error_at_its_end(tmp_path):
    data = (PS_DIR / "statements.ps").read_bytes()
    cut = tmp_path / "cut.ps"
    cut.write_bytes(data[: len(data) * 2 // 3])
    with pytest.raises(StreamError) as err:
        ps.READER.index(cut, job_id="J1")
    assert err.value.offset == len(data) * 2 // 3


def test_sidecar_gives_pieces_when_the_stream_has_no_markers(tmp_path):
    data = (PS_DIR / "statements.ps").read_bytes()
    plain = tmp_path / "plain.ps"
    plain.write_bytes(b"".join(line for line in data.splitlines(keepends=True) if not line.startswith(b"%%PMC-")))
    with pytest.raises(StreamError, match="no piece boundaries"):
        ps.READER.index(plain, job_id="J1")
    index = ps.READER.index(plain, job_id="J1", sidecar=sample_sidecar())
    assert pieces_view(index) == expected_sample(Plex.SIMPLEX)


def test_custom_marker_pattern(tmp_path):
    data = (PS_DIR / "statements.ps").read_bytes().replace(b"%%PMC-Piece: ", b"%ACME piece=")
    src = tmp_path / "acme.ps"
    src.write_bytes(data)
    reader = ps.PsReader(ps.PsReadOptions(piece_pattern=r"^%ACME piece=(?P<piece>\S+) (?P<postal>\d+)"))
    assert [p.piece_id for p in reader.index(src, job_id="J1").pieces] == [p.piece_id for p in SAMPLE]


@pytest.mark.parametrize("name", ["statements.ps", "statements_duplex.ps"])
def test_reorder_split_stamp_and_reindex_gives_the_same_pieces_in_the_new_order(name, tmp_path):
    index = ps.READER.index(PS_DIR / name, job_id="J1")
    plan = shuffled_plan(index, seed=9, jobs=3)
    files = ps.WRITER.write(index, plan, tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(f.name for f in files)
    for job, f in zip(plan.jobs, files):
        again = ps.READER.index(f, job_id="J1")
        assert pieces_view(again) == expected_after(index, job.piece_ids)
        codes = [t["ControlCode"] for t in ps.read_page_twins(f) if t]
        assert codes == [plan.stamps[(p.piece_id, s)].control_code for p in again.pieces
                         for s in range(1, p.sheets + 1)]
        head = f.read_bytes()[:4096]
        assert b"%%Pages: " + str(again.pages).encode() in head


@pytest.mark.peer
def test_stamped_postscript_renders_with_a_readable_datamatrix_and_imb(tmp_path):
    import zxingcpp

    index = ps.READER.index(PS_DIR / "statements_duplex.ps", job_id="J1")
    stamped = shuffled_plan(index, seed=4, jobs=1)
    # Ghostscript 10.0 cannot pick pages of ps2write output (-dFirstPage), so the piece gets a job of its own
    pid = next(p.piece_id for p in index.pieces if p.pages >= 2)
    rest = tuple(p.piece_id for p in index.pieces if p.piece_id != pid)
    plan = EngineeringPlan(jobs=(PrintJobPlan("one", (pid,)), PrintJobPlan("rest", rest)), stamps=stamped.stamps)
    out, _ = ps.WRITER.write(index, plan, tmp_path)
    front, back = render_ps(out, 300, tmp_path)[:2]
    stamp = plan.stamps[(pid, 1)]
    assert [r.text for r in zxingcpp.read_barcodes(front)] == [stamp.control_code]
    assert read_imb_bars(front, ps.WRITER.layout.imb_left, ps.WRITER.layout.imb_top, 300) == stamp.imb_bars
    assert zxingcpp.read_barcodes(back) == []  # the back of the duplex sheet carries no code


def test_pages_count_at_end_is_read_from_the_trailer(tmp_path):
    data = (PS_DIR / "statements.ps").read_bytes().replace(b"%%Pages: 27", b"%%Pages: (atend)", 1)
    good, bad = tmp_path / "good.ps", tmp_path / "bad.ps"
    good.write_bytes(data.replace(b"%%Trailer\n", b"%%Trailer\n%%Pages: 27\n", 1))
    bad.write_bytes(data.replace(b"%%Trailer\n", b"%%Trailer\n%%Pages: 28\n", 1))
    assert ps.READER.index(good, job_id="J1").pages == 27
    with pytest.raises(StreamError, match="28"):
        ps.READER.index(bad, job_id="J1")


def test_page_comments_inside_announced_binary_data_are_skipped(tmp_path):
    data = (PS_DIR / "statements.ps").read_bytes()
    blob = b"%%Page: 99 99\n\x00\xff%%Trailer\n"
    src = tmp_path / "binary.ps"
    src.write_bytes(data.replace(b"%%EndPageSetup\n", b"%%EndPageSetup\n%%BeginBinary: " + str(len(blob)).encode()
                                 + b"\n" + blob + b"%%EndBinary\n", 1))
    assert ps.READER.index(src, job_id="J1").pages == 27


def test_page_ordinals_out_of_sequence_are_an_error_naming_the_page(tmp_path):
    data = (PS_DIR / "statements.ps").read_bytes()
    src = tmp_path / "ordinals.ps"
    src.write_bytes(data.replace(b"%%Page: 5 5\n", b"%%Page: 5 6\n", 1))
    with pytest.raises(StreamError) as err:
        ps.READER.index(src, job_id="J1")
    assert err.value.page == 5 and err.value.offset == data.index(b"%%Page: 5 5\n")


def test_lenient_import_quarantines_a_piece_without_postal_code_and_keeps_the_rest(tmp_path):
    data = (PS_DIR / "statements.ps").read_bytes()
    victim = SAMPLE[2]
    src = tmp_path / "nopostal.ps"
    src.write_bytes(data.replace(f"%%PMC-Piece: {victim.piece_id} {victim.postal_code}".encode(),
                                 f"%%PMC-Piece: {victim.piece_id}".encode()))
    with pytest.raises(StreamError) as err:
        ps.READER.index(src, job_id="J1")
    assert err.value.piece_id == victim.piece_id
    index = ps.READER.index(src, job_id="J1", lenient=True)
    assert [q.piece_id for q in index.quarantined] == [victim.piece_id]
    assert "postal code" in index.quarantined[0].reason
    assert [p.piece_id for p in index.pieces] == [p.piece_id for p in SAMPLE if p is not victim]
