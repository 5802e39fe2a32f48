"""Reading consecutive line ranges of one gzipped JSON Lines file resumes the open stream
instead of decompressing the head of the file again (coral.corpora.formats.jsonlines)."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

from coral.corpora.formats import jsonlines
from coral.corpora.formats.common import ReaderOptions
from coral.problems import ProblemLog

OPTIONS = ReaderOptions()


def write_lines(path: Path, count: int, tag: str = "r") -> Path:
    text = "".join(json.dumps({"id": f"{tag}{i}"}) + "\n" for i in range(count))
    path.write_bytes(gzip.compress(text.encode()))
    return path


def ids(path: Path, start: int = 0, stop: int | None = None, problems: ProblemLog | None = None) -> list[str]:
    problems = problems if problems is not None else ProblemLog()
    return [record["id"] for _, record in jsonlines.iter_json_lines(path, problems, OPTIONS, start, stop)]


@pytest.fixture
def opens(monkeypatch) -> list[Path]:
    """Every file the reader opens (as opposed to resumes)."""
    opened: list[Path] = []
    real_open = jsonlines.open_maybe_gzip

    def counting_open(path: Path):
        opened.append(path)
        return real_open(path)

    monkeypatch.setattr(jsonlines, "open_maybe_gzip", counting_open)
    jsonlines._parked.stream = None
    yield opened
    jsonlines._parked.stream = None


def test_consecutive_ranges_resume_one_stream_and_read_the_same_records(tmp_path, opens):
    path = write_lines(tmp_path / "part.jsonl.gz", 10)
    pieces = [ids(path, 0, 3), ids(path, 3, 7), ids(path, 8, None)]  # line 7 belongs to another worker
    assert pieces == [["r0", "r1", "r2"], ["r3", "r4", "r5", "r6"], ["r8", "r9"]]
    assert opens == [path]  # opened once, resumed twice
    numbered = list(jsonlines.iter_json_lines(path, ProblemLog(), OPTIONS, 2, 4))
    assert [number for number, _ in numbered] == [3, 4]  # 1-based line numbers, as in origins


def test_an_earlier_range_another_file_or_a_changed_file_reopens(tmp_path, opens):
    path = write_lines(tmp_path / "a.jsonl.gz", 6)
    other = write_lines(tmp_path / "b.jsonl.gz", 6, tag="b")
    assert ids(path, 2, 4) == ["r2", "r3"]
    assert ids(path, 0, 2) == ["r0", "r1"]  # behind the parked stream: a fresh one
    assert ids(other, 0, 1) == ["b0"]
    write_lines(other, 9, tag="c")  # rewritten in place: new size
    assert ids(other, 1, 3) == ["c1", "c2"]
    assert opens == [path, path, other, other]


def test_an_abandoned_read_is_not_resumed(tmp_path, opens):
    path = write_lines(tmp_path / "part.jsonl.gz", 6)
    reader = jsonlines.iter_json_lines(path, ProblemLog(), OPTIONS, 0, 4)
    next(reader)
    reader.close()  # the consumer stopped early: where the stream stands is not known
    assert jsonlines._parked.stream is None
    assert ids(path, 4, None) == ["r4", "r5"]
    assert opens == [path, path]


def test_a_break_met_after_resuming_is_logged_at_its_line(tmp_path, opens):
    lines = "".join(json.dumps({"id": f"r{i}", "pad": "x " * 4000}) + "\n" for i in range(40))
    whole = gzip.compress(lines.encode(), compresslevel=1)
    path = tmp_path / "cut.jsonl.gz"
    path.write_bytes(whole[: len(whole) * 3 // 4])
    problems = ProblemLog()
    first = ids(path, 0, 5, problems)
    rest = ids(path, 5, None, problems)
    assert first == [f"r{i}" for i in range(5)] and rest[0] == "r5"
    read_count = len(first) + len(rest)
    assert 5 < read_count < 40 and opens == [path]
    (problem,) = list(problems)
    assert problem.reason == "truncated-gzip"
    assert problem.origin == f"{path}:{read_count + 1}"
