import pytest

from controller.errors import StreamError
from controller.streams.paged import JobFiles


def test_parts_become_the_print_jobs_only_when_all_were_written(tmp_path):
    with JobFiles("src.ps", tmp_path / "out", ["a", "b"], ".ps") as files:
        for name in ("a", "b"):
            files.part(name).write_bytes(name.encode())
        assert not any(f.exists() for f in files.finals)
    assert [f.read_bytes() for f in files.finals] == [b"a", b"b"]
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["a.ps", "b.ps"]


def test_a_failure_leaves_nothing_and_names_the_source(tmp_path):
    (tmp_path / "b.ps").mkdir()  # the second job's final name is taken by a folder: the rename fails
    with pytest.raises(StreamError, match="src.ps.*cannot write print jobs"):
        with JobFiles("src.ps", tmp_path, ["a", "b"], ".ps") as files:
            files.part("a").write_bytes(b"a")
            files.part("b").write_bytes(b"b")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["b.ps"]  # a.ps, renamed first, was taken back


def test_a_stream_error_inside_removes_the_parts(tmp_path):
    with pytest.raises(StreamError, match="bad page"):
        with JobFiles("src.ps", tmp_path, ["a"], ".ps") as files:
            files.part("a").write_bytes(b"a")
            raise StreamError("bad page", path="src.ps")
    assert list(tmp_path.iterdir()) == []


def test_job_progress_reports_each_job_as_the_next_begins_and_all_at_the_end(tmp_path):
    from controller.streams.paged import job_progress

    seen = []
    with job_progress(lambda done, total: seen.append((done, total))):
        with JobFiles("src.ps", tmp_path, ["a", "b", "c"], ".ps") as files:
            for name in ("a", "b", "c"):
                files.part(name).write_bytes(b"x")
    assert seen == [(1, 3), (2, 3), (3, 3)]
    with JobFiles("src.ps", tmp_path / "quiet", ["a"], ".ps") as files:  # outside: nobody is told
        files.part("a").write_bytes(b"x")
    assert len(seen) == 3


@pytest.mark.parametrize("fmt", ["afp", "pdf", "ps", "pcl"])
def test_every_writer_reports_progress_and_leaves_nothing_when_a_job_fails(tmp_path, fmt):
    """One write over many jobs moves the CLI's bar; a job that cannot be written takes back the others."""
    from pathlib import Path

    from controller.streams.base import EngineeringPlan, PrintJobPlan
    from controller.streams.paged import job_progress
    from controller.streams.registry import index_stream, write_stream

    fixtures = Path(__file__).resolve().parents[3] / "fixtures" / "streams"
    source = {"afp": fixtures / "afp" / "fop_statements.afp"}.get(fmt) or sorted((fixtures / fmt).glob(f"*.{fmt}"))[0]
    idx = index_stream(source, lenient=True)
    ids = [p.piece_id for p in idx.pieces]
    assert len(ids) >= 3, source
    jobs = tuple(PrintJobPlan(f"j{k}", (pid,)) for k, pid in enumerate(ids))
    seen = []
    with job_progress(lambda done, total: seen.append((done, total))):
        paths = write_stream(idx, EngineeringPlan(jobs=jobs, stamps={}), tmp_path / "ok")
    assert len(paths) == len(jobs) and seen[-1] == (len(jobs), len(jobs))
    assert [d for d, _ in seen] == sorted(d for d, _ in seen) and len(seen) >= len(jobs)

    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / f"j{len(jobs) - 1}.{fmt}").mkdir()  # the last job's name is taken by a folder
    with pytest.raises(StreamError):
        write_stream(idx, EngineeringPlan(jobs=jobs, stamps={}), bad)
    assert [p.name for p in bad.iterdir()] == [f"j{len(jobs) - 1}.{fmt}"]
