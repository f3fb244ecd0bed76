import asyncio
import json
import subprocess
import sys
from pathlib import Path

import pytest

from controller.cli import main
from controller.ledger import Ledger
from controller.model import PieceEvent, PieceEventKind as K

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def ledger_file(tmp_path):
    path = tmp_path / "l.sqlite"

    async def fill():
        async with Ledger(path) as ledger:
            await ledger.append_many([PieceEvent(K.INDEXED, f"p{i}", job_id="job-7") for i in range(3)])
            await ledger.append(PieceEvent(K.SORTED, "p1", container="T9"))
            await ledger.append(PieceEvent(K.SPOOLED, "p1", device="lp-2", device_seq=3))

    asyncio.run(fill())
    return path


def test_help_lists_the_command_groups(capsys):
    with pytest.raises(SystemExit) as exit:
        main(["--help"])
    assert exit.value.code == 0
    out = capsys.readouterr().out
    for group in ("ledger", "config", "demo"):
        assert group in out


def test_no_command_is_a_usage_error(capsys):
    assert main([]) == 2


def test_unknown_option_is_a_usage_error(capsys):
    with pytest.raises(SystemExit) as exit:
        main(["ledger", "summary", "--bogus"])
    assert exit.value.code == 2


def test_ledger_summary_counts_pieces_per_state(ledger_file, capsys):
    assert main(["ledger", "summary", "--ledger", str(ledger_file), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data == {"events": 5, "jobs": {"job-7": {"indexed": 2, "spooled": 1}}}
    assert main(["ledger", "summary", "--ledger", str(ledger_file)]) == 0
    out = capsys.readouterr().out
    assert "job-7" in out and "spooled" in out


def test_ledger_history_shows_every_event_of_a_piece(ledger_file, capsys):
    assert main(["ledger", "history", "p1", "--ledger", str(ledger_file)]) == 0
    out = capsys.readouterr().out
    assert "piece p1 of job job-7: spooled, container T9" in out
    assert "device=lp-2#3" in out and out.count(" -> ") == 3


def test_history_of_an_unknown_piece_fails_with_a_message(ledger_file, capsys):
    assert main(["ledger", "history", "nope", "--ledger", str(ledger_file)]) == 1
    assert "no piece 'nope'" in capsys.readouterr().err


def test_a_missing_ledger_file_fails_with_a_message(tmp_path, capsys):
    assert main(["ledger", "summary", "--ledger", str(tmp_path / "x.sqlite")]) == 1
    assert "no ledger file" in capsys.readouterr().err
    assert not (tmp_path / "x.sqlite").exists()


def test_ledger_verify(ledger_file, capsys):
    assert main(["ledger", "verify", "--ledger", str(ledger_file)]) == 0
    assert "consistent (5 events" in capsys.readouterr().out


def test_config_check(tmp_path, capsys):
    assert main(["config", "check", str(ROOT / "fixtures/plants/small.toml")]) == 0
    assert "lp-3" in capsys.readouterr().out
    bad = tmp_path / "bad.toml"
    bad.write_text('[[printers]]\nname = "a"\nipp_url = "ipp://h/p"\nspeed = 3\n')
    assert main(["config", "check", str(bad)]) == 1
    assert "printers[0].speed: unknown key" in capsys.readouterr().err


@pytest.mark.timeout(300)  # the demo takes seconds; on a busy 2-core machine it took 80 s, near the default 120 s
def test_the_installed_console_script_runs_the_demo(tmp_path):
    pmc = Path(sys.executable).with_name("pmc")
    result = subprocess.run([str(pmc), "demo", "--pieces", "300", "--workdir", str(tmp_path)],
                            capture_output=True, text=True, timeout=280)
    assert result.returncode == 0, result.stderr
    assert "consistent" in result.stdout and "POSTAGE STATEMENT" in result.stdout
    assert "every sheet on the output stacks as planned" in result.stdout and "1 failovers" in result.stdout
    assert "300 pieces printed" in result.stdout or "299 pieces printed" in result.stdout
    assert (tmp_path / "pmc-ledger.sqlite").exists()


def test_the_command_table_matches_what_each_module_registers():
    """`pmc --help` lists commands from cli.COMMANDS without importing them: the table must say
    what the modules themselves register."""
    import argparse

    from controller.cli import COMMANDS, build_parser

    sub = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    registered = {c.dest: c.help for c in sub._choices_actions}
    assert registered == {name: help_text for name, (_, help_text) in COMMANDS.items()}


def test_a_command_imports_only_its_own_module():
    probe = ("import sys\nfrom controller.cli import main\ntry:\n    main(['stream', 'inspect', '--help'])\n"
             "except SystemExit:\n    pass\n"
             "print(sorted(m for m in sys.modules if m.startswith('controller.commands.') or m == 'controller.config'))")
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout
    assert out.strip().splitlines()[-1] == "['controller.commands.stream']"


def test_a_reader_that_stops_early_gets_no_traceback():
    """`pmc stream inspect BIG | head -1`: the pipe closes under pmc, which stops quietly."""
    stream = ROOT / "fixtures" / "streams" / "afp" / "fop_statements.afp"
    proc = subprocess.Popen([sys.executable, "-m", "controller.cli", "stream", "inspect", str(stream), "--rows", "24"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=ROOT)
    proc.stdout.close()  # nobody reads
    err = proc.stderr.read().decode()
    proc.stderr.close()
    assert proc.wait(timeout=60) == 1
    assert "Traceback" not in err and "BrokenPipe" not in err, err
