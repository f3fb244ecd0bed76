"""Duplex runs through the PostScript and PCL writers: a piece with an odd page count is followed by a
blank pad page, so every piece starts on a front side; re-indexing gives back the same pieces."""

from __future__ import annotations

import re
import shutil
import subprocess

import pytest

from controller.errors import StreamError
from controller.fleet_plan import impressions_of
from controller.model import Plex
from controller.streams import pcl, ps
from controller.streams.base import EngineeringPlan, PrintJobPlan
from tests.controller.streams.streamkit import STREAMS, expected_after, pieces_view, shuffled_plan

FORMATS = {
    "ps": (ps, STREAMS / "ps" / "statements_duplex.ps", "application/postscript"),
    "pcl": (pcl, STREAMS / "pcl" / "statements_duplex.pcl", "application/vnd.hp-pcl"),
}


def pad_indexes(module, path) -> list[int]:
    with open(path, "rb") as fh:
        s = module.scan(str(path), fh.read())
    return s.pads


def physical_layout(index) -> list[int]:
    """Where each piece's pages and its pad fall in the file: the expected pad page indexes."""
    pads, page = [], 0
    for p in index.pieces:
        page += p.pages
        if p.plex is Plex.DUPLEX and p.pages % 2:
            pads.append(page)
            page += 1
    return pads


@pytest.fixture(params=sorted(FORMATS))
def fmt(request):
    return request.param


@pytest.fixture
def written(fmt, tmp_path):
    module, source, _ = FORMATS[fmt]
    index = module.READER.index(source, job_id="J1")
    plan = shuffled_plan(index, seed=11, jobs=3)
    return module, index, plan, module.WRITER.write(index, plan, tmp_path / "out")


def test_the_duplex_sample_has_odd_pieces_to_pad(fmt):
    module, source, _ = FORMATS[fmt]
    index = module.READER.index(source, job_id="J1")
    assert {p.plex for p in index.pieces} == {Plex.DUPLEX}
    assert sum(p.pages % 2 for p in index.pieces) >= 3 and pad_indexes(module, source) == []


def test_reordered_duplex_jobs_reindex_to_the_same_pieces_each_starting_on_a_front_side(written):
    module, index, plan, files = written
    for job, f in zip(plan.jobs, files):
        again = module.READER.index(f, job_id="J1")
        assert pieces_view(again) == expected_after(index, job.piece_ids)  # ids, pages, sheets, plex, address
        assert [p.piece_id for p in again.pieces] == list(job.piece_ids)
        assert all(p.first_page % 2 == 0 for p in again.pieces), [(p.piece_id, p.first_page) for p in again.pieces]
        assert pad_indexes(module, f) == physical_layout(again)
        assert again.pages == 2 * again.sheets == sum(2 * p.sheets for p in again.pieces)
        assert again.sheets == sum(p.sheets for p in index.pieces if p.piece_id in job.piece_ids)


def test_pad_pages_carry_no_stamp_and_every_sheet_its_own_code(written):
    module, index, plan, files = written
    for f in files:
        again = module.READER.index(f, job_id="J1")
        twins = module.read_page_twins(f)
        pads = set(pad_indexes(module, f))
        assert all(twins[k] is None for k in pads)
        fronts = [twins[k]["ControlCode"] if twins[k] else None for k in range(0, len(twins), 2)]
        assert fronts == [plan.stamps[(p.piece_id, s)].control_code for p in again.pieces
                          for s in range(1, p.sheets + 1)]
        assert all(twins[k] is None for k in range(1, len(twins), 2))  # backs are never stamped


def test_rewriting_a_padded_job_drops_its_pads_and_pads_the_new_order(written, tmp_path):
    module, index, _plan, files = written
    first = module.READER.index(files[0], job_id="J1")
    order = tuple(p.piece_id for p in reversed(first.pieces))
    (again,) = module.WRITER.write(first, EngineeringPlan((PrintJobPlan("again", order),)), tmp_path / "again")
    back = module.READER.index(again, job_id="J1")
    assert pieces_view(back) == expected_after(index, order)
    assert pad_indexes(module, again) == physical_layout(back)
    assert back.pages == 2 * back.sheets


def _drop_first_pad(module, data: bytes) -> tuple[bytes, int]:
    if module is ps:
        m = re.search(rb"%%Page: pad (\d+)\n.*?%%PageTrailer\n", data, flags=re.S)
        page = int(m.group(1))
        rest = re.sub(rb"%%Page: (\S+) (\d+)\n", lambda x: b"%%Page: " + x.group(1) + b" "
                      + str(int(x.group(2)) - 1).encode() + b"\n", data[m.end():])
        out = data[:m.start()] + rest
        pages = int(re.search(rb"%%Pages: (\d+)", out).group(1))
        return out.replace(b"%%Pages: " + str(pages).encode(), b"%%Pages: " + str(pages - 1).encode(), 1), page
    m = re.search(rb"\x1b&n\d+W\x00PMC-Pad:[^\x0c]*\x0c", data)
    return data[:m.start()] + data[m.end():], data[:m.start()].count(b"\x00PMC:") + 1


def test_a_padded_job_missing_a_pad_is_an_error_naming_the_piece_and_page(written, tmp_path):
    module, _index, _plan, files = written
    data, _ = _drop_first_pad(module, files[0].read_bytes())
    bad = tmp_path / f"missing{files[0].suffix}"
    bad.write_bytes(data)
    good = module.READER.index(files[0], job_id="J1")
    victim = next(p for p in good.pieces if p.pages % 2)
    with pytest.raises(StreamError, match="no pad page") as err:
        module.READER.index(bad, job_id="J1")
    assert err.value.piece_id == victim.piece_id and err.value.page == victim.first_page + 1
    assert str(bad) in str(err.value)
    lenient = module.READER.index(bad, job_id="J1", lenient=True)
    assert [q.piece_id for q in lenient.quarantined] == [victim.piece_id]
    assert len(lenient.pieces) + 1 == len(good.pieces)


def test_a_pad_after_a_piece_that_needs_none_is_an_error(tmp_path):
    index = ps.READER.index(FORMATS["ps"][1], job_id="J1")
    even = next(p for p in index.pieces if p.pages % 2 == 0)
    rest = tuple(p.piece_id for p in index.pieces if p is not even)
    out, _ = ps.WRITER.write(index, EngineeringPlan((PrintJobPlan("one", (even.piece_id,)), PrintJobPlan("rest", rest))),
                             tmp_path / "out")
    data = out.read_bytes()
    assert b"%%PMC-Pad" not in data
    trailer = data.index(b"%%Trailer")
    data = data[:trailer] + ps._pad_page(even.piece_id, even.pages + 1) + data[trailer:]
    data = data.replace(f"%%Pages: {even.pages}\n".encode(), f"%%Pages: {even.pages + 1}\n".encode(), 1)
    bad = tmp_path / "extra.ps"
    bad.write_bytes(data)
    with pytest.raises(StreamError, match="needs none") as err:
        ps.READER.index(bad, job_id="J1")
    assert err.value.piece_id == even.piece_id


@pytest.mark.peer
def test_ghostscript_renders_the_pads_as_blank_pages(tmp_path):
    exe = shutil.which("gs")
    if exe is None:
        pytest.skip("Ghostscript is not installed")
    module, source, _ = FORMATS["ps"]
    index = module.READER.index(source, job_id="J1")
    plan = shuffled_plan(index, seed=5, jobs=1, stamps=False)
    (out,) = module.WRITER.write(index, plan, tmp_path)
    again = module.READER.index(out, job_id="J1")
    pads = physical_layout(again)
    assert len(pads) == sum(p.pages % 2 for p in index.pieces)
    run = subprocess.run([exe, "-q", "-dBATCH", "-dNOPAUSE", "-dSAFER", "-sDEVICE=bbox", str(out)],
                         capture_output=True, text=True, check=True, timeout=120)
    boxes = re.findall(r"^%%BoundingBox: (.*)$", run.stderr, flags=re.M)
    assert len(boxes) == again.pages == sum(p.pages for p in index.pieces) + len(pads)
    assert [k for k, box in enumerate(boxes) if box.split() == ["0", "0", "0", "0"]] == pads


async def test_the_printer_simulator_prints_each_piece_on_sheets_of_its_own(fmt, tmp_path):
    """Its sheet plan (pages paired into duplex sheets) and impression count agree with the fleet's."""
    from drivers.ipp import Attribute, IppPrinter, Tag
    from simulators.printer import SimIppPrinter

    module, source, mime = FORMATS[fmt]
    index = module.READER.index(source, job_id="J1")
    plan = shuffled_plan(index, seed=3, jobs=1)
    (out,) = module.WRITER.write(index, plan, tmp_path)
    again = module.READER.index(out, job_id="J1")
    async with SimIppPrinter(speed=20000) as sim, IppPrinter(sim.url) as client:
        job = await client.print_job(out.read_bytes(), document_format=mime,
                                     attributes=[Attribute("sides", "two-sided-long-edge", Tag.KEYWORD)])
        done = await client.wait_for_job(job.job_id, poll=0.01)
    assert done.impressions_completed == sum(impressions_of(p) for p in again.pieces)
    assert done.media_sheets_completed == again.sheets
    assert [s.control_code for s in sim.state.output] == [
        plan.stamps[(p.piece_id, s)].control_code for p in again.pieces for s in range(1, p.sheets + 1)]


def _bounds(*starts, plex=Plex.DUPLEX):
    from controller.streams.paged import Boundary

    return [Boundary(f"P{k + 1}", first, postal_code="12345", plex=plex) for k, first in enumerate(starts)]


@pytest.mark.parametrize("starts, total, pads, want", [
    ((0, 3, 5), 8, (), [(0, 3), (3, 2), (5, 3)]),  # composition output: no pads, taken as it is
    ((0, 4, 6), 10, (3, 9), [(0, 3), (4, 2), (6, 3)]),  # the pads after the odd pieces belong to none
    ((0, 2), 4, (1, 3), [(0, 1), (2, 1)]),
])
def test_assemble_leaves_pads_out_of_the_pieces_before_them(starts, total, pads, want):
    from controller.streams.paged import assemble

    pieces, quarantined, _ = assemble("x.ps", "J", _bounds(*starts), total, lenient=False, pads=pads)
    assert quarantined == [] and [(p.first_page, p.pages) for p in pieces] == want
    assert [p.sheets for p in pieces] == [(n + 1) // 2 for _, n in want]


@pytest.mark.parametrize("starts, total, pads, plex, piece, reason", [
    ((0, 4), 7, (3,), Plex.DUPLEX, "P2", "no pad page after them"),  # P2's 3 pages unpadded, in a padded stream
    ((0, 3), 7, (1, 6), Plex.DUPLEX, "P1", "page 2 is a pad page inside the piece"),
    ((0, 3), 5, (2,), Plex.DUPLEX, "P1", "needs none"),  # P1 has 2 pages: its pad puts P2 on a back
    ((0, 2), 3, (1,), Plex.SIMPLEX, "P1", "needs none"),
])
def test_assemble_refuses_misplaced_pads_naming_the_piece(starts, total, pads, plex, piece, reason):
    from controller.streams.paged import assemble

    with pytest.raises(StreamError, match=reason) as err:
        assemble("x.ps", "J", _bounds(*starts, plex=plex), total, lenient=False, pads=pads)
    assert err.value.piece_id == piece and err.value.path == "x.ps"
    pieces, quarantined, _ = assemble("x.ps", "J", _bounds(*starts, plex=plex), total, lenient=True, pads=pads)
    assert [q.piece_id for q in quarantined] == [piece] and piece not in {p.piece_id for p in pieces}
