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
