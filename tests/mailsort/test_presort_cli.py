"""`pmc presort`: the summary, the sorted list and containers files, and refusals with exit code 1."""

from __future__ import annotations

import csv
import json
import shutil

from controller.cli import main
from controller.commands.presort import model_containers, presort_demo
from mailsort.synthetic import synthetic_mailing

from ._support import SYNTHETIC


def _write_pieces(path, count=3000, operator="usps-fcm"):
    with path.open("w", newline="") as handle:
        w = csv.writer(handle)
        w.writerow(["piece_id", "delivery_point", "weight_g", "thickness_mm"])
        for p in synthetic_mailing(count, 7, operator=operator):
            w.writerow([p.piece_id, p.postcode, p.weight_g, p.thickness_mm])


def test_presort_prints_the_statement_and_writes_the_sorted_list(tmp_path, capsys):
    pieces, out, trays = tmp_path / "pieces.csv", tmp_path / "sorted.csv", tmp_path / "trays.csv"
    _write_pieces(pieces)
    rc = main(["presort", str(pieces), "--operator", "usps-fcm", "--date", "2026-11-23", "--mailer-id", "123456",
               "--overflow", "--origin-zip3", "303", "--out", str(out), "--containers", str(trays), "--progress"])
    captured = capsys.readouterr()
    assert rc == 0
    assert "POSTAGE STATEMENT" in captured.out and "SYNTHETIC" in captured.out and "USD" in captured.out
    assert "100%" in captured.err  # the progress bar
    rows = list(csv.DictReader(out.open()))
    assert len(rows) == 3000
    assert [int(r["sequence"]) for r in rows] == list(range(3000))
    assert len({r["piece_id"] for r in rows}) == 3000
    barcoded = [r for r in rows if r["imb_tracking"]]
    assert barcoded and all(len(r["imb_bars"]) == 65 for r in barcoded)
    containers = list(csv.DictReader(trays.open()))
    assert sum(int(c["pieces"]) for c in containers) == 3000
    assert {r["container_id"] for r in rows} == {c["container_id"] for c in containers}


def test_presort_json_summary_for_another_operator(tmp_path, capsys):
    pieces = tmp_path / "pieces.csv"
    _write_pieces(pieces, 5000, "dp-dialogpost")
    assert main(["presort", str(pieces), "--operator", "dp-dialogpost", "--date", "2026-11-23", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["operator"] == "dp-dialogpost" and data["pieces"] == 5000
    assert sum(r["pieces"] for r in data["rows"]) == 5000


def test_expired_tables_fail_with_exit_1_naming_the_table(tmp_path, capsys):
    pieces = tmp_path / "pieces.csv"
    _write_pieces(pieces, 10)
    folder = tmp_path / "tables"
    shutil.copytree(SYNTHETIC, folder)
    rc = main(["presort", str(pieces), "--tables", str(folder), "--date", "2028-02-01"])
    err = capsys.readouterr().err
    assert rc == 1 and "L002-SYNTHETIC" in err and "expired on 2027-12-31" in err


def test_a_piece_list_without_a_postcode_column_fails_naming_the_file(tmp_path, capsys):
    pieces = tmp_path / "pieces.csv"
    pieces.write_text("piece_id,address\n1,somewhere\n")
    assert main(["presort", str(pieces), "--date", "2026-11-23"]) == 1
    assert "pieces.csv: line 1: no postcode column" in capsys.readouterr().err


def test_presort_demo_returns_a_priced_result():
    result, summary = presort_demo(500, seed=3)
    assert len(result) == 500 and summary.postage is not None and summary.postage > 0
    assert result.imb(0) is not None
    containers = model_containers(result, "job-7")
    assert [c.sequence for c in containers] == list(range(len(result.containers)))
    ids = [pid for c in containers for pid in c.piece_ids]
    assert ids == [result.piece(s).piece_id for s in range(len(result))]
    assert containers[0].container_id == f"job-7-{result.containers[0].container_id}"
