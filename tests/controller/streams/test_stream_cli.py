"""`pmc stream inspect|reorder|split` on the FOP fixtures."""

from __future__ import annotations

import json
from pathlib import Path

from controller.cli import main
from controller.streams.afp import STAMP_TLE, AfpReader, read_stamps
from drivers.controlcode import decode

FIX = Path(__file__).resolve().parents[3] / "fixtures" / "streams" / "afp"
AFP = str(FIX / "fop_statements.afp")


def _json(capsys) -> dict:
    return json.loads(capsys.readouterr().out)


def test_inspect_prints_the_summary_and_a_table(capsys):
    assert main(["stream", "inspect", AFP, "--rows", "3"]) == 0
    out = capsys.readouterr().out
    assert "afp, job fop_statements" in out and "pieces 24, pages 55" in out
    assert "P0100001" in out and "... and 21 more" in out


def test_inspect_json_lists_every_piece(capsys):
    assert main(["stream", "inspect", AFP, "--json", "--job", "R9"]) == 0
    out = _json(capsys)
    assert out["format"] == "afp" and out["job"] == "R9" and out["pieces"] == len(out["piece_list"]) == 24
    assert sum(p["pages"] for p in out["piece_list"]) == out["pages"]


def test_inspect_fails_with_the_offset_and_piece_unless_lenient(capsys):
    assert main(["stream", "inspect", str(FIX / "fop_nozip.afp")]) == 1
    err = capsys.readouterr().err
    assert "byte" in err and "piece P0300002" in err and "postal code" in err
    assert main(["stream", "inspect", str(FIX / "fop_nozip.afp"), "--lenient", "--json"]) == 0
    out = _json(capsys)
    assert out["pieces"] == 2 and out["quarantined"][0]["piece"] == "P0300002"


def test_inspect_writes_an_index_file(tmp_path, capsys):
    target = tmp_path / "idx.csv"
    assert main(["stream", "inspect", AFP, "--write-index", str(target)]) == 0
    assert target.read_text().splitlines()[1].startswith("P0100001,1,")


def test_reorder_by_an_order_file_with_stamps(tmp_path, capsys):
    ids = [p.piece_id for p in AfpReader().index(Path(AFP), job_id="J").pieces][::-1]
    order = tmp_path / "order.txt"
    order.write_text("\n".join(ids) + "\n")
    assert main(["stream", "reorder", AFP, "--order", str(order), "--out", str(tmp_path / "o"), "--stamp",
                 "--json"]) == 0
    out = _json(capsys)
    path = Path(out["outputs"][0]["path"])
    assert [p.piece_id for p in AfpReader().index(path, job_id="J").pieces] == ids
    codes = [decode(v) for _, _, name, v in read_stamps(path) if name == STAMP_TLE]
    assert len(codes) == out["sheets"]


def test_split_at_pieces_and_by_count(tmp_path, capsys):
    assert main(["stream", "split", AFP, "--at", "P0100005,P0100020", "--out", str(tmp_path / "a"), "--json"]) == 0
    assert [o["pieces"] for o in _json(capsys)["outputs"]] == [4, 15, 5]
    assert main(["stream", "split", AFP, "--pieces-per-job", "10", "--sort", "reverse", "--out",
                 str(tmp_path / "b")]) == 0
    assert sorted(p.name for p in (tmp_path / "b").iterdir()) == ["job-001.afp", "job-002.afp", "job-003.afp"]
    first = AfpReader().index(tmp_path / "b" / "job-001.afp", job_id="J").pieces
    assert first[0].piece_id == "P0100024" and len(first) == 10


def test_split_at_an_unknown_piece_is_a_failure(tmp_path, capsys):
    assert main(["stream", "split", AFP, "--at", "NOPE", "--out", str(tmp_path)]) == 1
    assert "NOPE" in capsys.readouterr().err


def test_progress_is_shown_on_request(tmp_path, capsys):
    assert main(["stream", "split", AFP, "--jobs", "2", "--out", str(tmp_path), "--progress"]) == 0
    err = capsys.readouterr().err
    assert "indexing fop_statements.afp" in err and "writing 2 print jobs" in err and "100%" in err


def test_the_demo_stage_engineers_and_reads_back_in_postal_order(tmp_path):
    from controller.commands.stream import run_stream_demo

    lines: list[str] = []
    demo = run_stream_demo(tmp_path, jobs=3, say=lines.append)
    assert len(demo.outputs) == 3 and all(p.is_file() for p in demo.outputs)
    postal = [p.postal_code for b in demo.reindexed for p in b.pieces]
    assert postal == sorted(postal) and len(postal) == len(demo.index.pieces)
    code = decode(demo.sample_code)
    assert code.sheet == 1 and len(lines) == 2


def test_barcodes_draw_bcoca_objects_in_afp_only(tmp_path, capsys):
    from controller.streams.afp_bcoca import read_datamatrix_objects

    assert main(["stream", "reorder", AFP, "--sort", "reverse", "--barcodes", "--out", str(tmp_path), "--json"]) == 0
    out = _json(capsys)
    data = Path(out["outputs"][0]["path"]).read_bytes()
    assert len(read_datamatrix_objects(data)) == out["sheets"]
    pdf = FIX.parent / "pdf" / "outline.pdf"
    if pdf.is_file():
        assert main(["stream", "reorder", str(pdf), "--barcodes", "--out", str(tmp_path / "p")]) == 1
        assert "AFP" in capsys.readouterr().err


def test_encoding_reads_fop_tles_in_its_code_page(capsys):
    """FOP writes triplet-less TLEs in Cp1146: the default cp500 misreads $ and £, --encoding fixes it."""
    currency = str(FIX / "fop_currency.afp")
    assert main(["stream", "inspect", currency, "--json"]) == 0
    default = _json(capsys)["piece_list"][0]["index"]
    assert main(["stream", "inspect", currency, "--json", "--encoding", "cp1146"]) == 0
    fop = _json(capsys)["piece_list"][0]["index"]
    assert fop["BALANCE"] == "$1,234.50 DUE" != default["BALANCE"]
    assert fop["BALANCE_1146"] == default["BALANCE_1146"]  # a CCSID triplet wins whatever the option says


def test_encoding_is_refused_for_other_formats_and_unknown_codecs(capsys):
    pdf = str(FIX.parent / "pdf" / "outline.pdf")
    assert main(["stream", "inspect", pdf, "--encoding", "cp1146"]) == 1
    assert "applies to AFP streams" in capsys.readouterr().err
    assert main(["stream", "inspect", AFP, "--encoding", "utf-8"]) == 1
    assert "not a single-byte code page" in capsys.readouterr().err
