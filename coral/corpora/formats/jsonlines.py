"""JSON Lines files, gzipped or not, read line by line with every bad line logged.

Origins are ``<path>:<line>`` with 1-based line numbers. A truncated or corrupt gzip keeps
every record read before the break and logs the break.
"""

from __future__ import annotations

import gzip
import os
import threading
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

from coral.corpora.formats.common import ReaderOptions
from coral.corpora.formats.ipynb import NOT_JSON, parse_json_bytes
from coral.problems import CORRUPT_GZIP, TRUNCATED_GZIP, ProblemLog

GZIP_MAGIC = b"\x1f\x8b"
SKIP_PIECE_BYTES = 1 << 16  # an oversized line is read past in pieces of this size
GUESS_LINE_BYTES = 20_000_000  # longer lines are not used to guess a file's layout
_STREAM_ERRORS = (EOFError, gzip.BadGzipFile, zlib.error, OSError)


def open_maybe_gzip(path: Path) -> IO[bytes]:
    """Open for binary reading, decompressing when the file starts with the gzip magic bytes."""
    with open(path, "rb") as probe:
        gzipped = probe.read(2) == GZIP_MAGIC
    return gzip.open(path, "rb") if gzipped else open(path, "rb")


def bounded_lines(stream: IO[bytes], limit: int) -> Iterator[tuple[int, bytes]]:
    """``(size, line)`` for each line of ``stream``; a line longer than ``limit`` bytes comes as
    ``(size, b"")`` and is read past in pieces, never held whole (a 1 GB line costs no memory)."""
    while raw := stream.readline(limit + 1):
        if len(raw) <= limit or raw.endswith(b"\n"):
            yield len(raw), raw
            continue
        size = len(raw)
        while (piece := stream.readline(SKIP_PIECE_BYTES)) and not piece.endswith(b"\n"):
            size += len(piece)
        yield size + len(piece), b""


def _stream_error_reason(error: BaseException) -> str:
    return TRUNCATED_GZIP if isinstance(error, EOFError) else CORRUPT_GZIP


def iter_json_lines(
    path: Path, problems: ProblemLog, options: ReaderOptions, start: int = 0, stop: int | None = None
) -> Iterator[tuple[int, Any]]:
    """``(line number, record)`` for the JSON values on lines ``start:stop`` (0-based) of a file.

    Line numbers are 1-based, as in the ``<path>:<line>`` origins of logged problems.

    Lines before ``start`` are skipped without being decoded. A gzip stream cannot seek, so
    skipping still decompresses them; to keep work units of one shard from decompressing
    its head over and over, a read that ends cleanly at ``stop`` leaves its stream open for
    the next read of the same file in this thread that starts at or after ``stop`` (the
    pipeline hands a worker the ranges of a shard in order). Blank lines are passed over.
    """
    if stop is not None and start >= stop:
        return
    stream: IO[bytes] | None = None
    next_line = 0  # 0-based index of the line the stream reads next
    finished_range = False
    try:
        key = _file_key(path)
        stream, next_line = _resume_stream(key, path, start)
        for size, raw in bounded_lines(stream, options.max_notebook_bytes):
            line_index = next_line
            next_line += 1
            if line_index < start:
                continue
            origin = f"{path}:{next_line}"
            if options.notebook_fits(size, origin, None, problems, what="line of ") and raw.strip():
                record = parse_json_bytes(raw, None, origin, problems)
                if record is not NOT_JSON:
                    yield next_line, record
            if stop is not None and next_line >= stop:
                finished_range = True
                return
    except _STREAM_ERRORS as error:
        problems.add(
            f"{path}:{next_line + 1}",
            None,
            _stream_error_reason(error),
            f"{error}; the {next_line} lines before the break were read",
        )
    finally:
        if finished_range:
            _park_stream(key, stream, next_line)
        elif stream is not None:
            stream.close()


_parked = threading.local()  # per thread: (file key, open stream, index of its next line)


def _file_key(path: Path) -> tuple[str, int, int, int]:
    """The file, as it is now, and this process: a forked child must not read on through a
    descriptor whose offset it shares with its parent."""
    status = path.stat()
    return str(path.resolve()), status.st_size, status.st_mtime_ns, os.getpid()


def _resume_stream(key: tuple[str, int, int, int], path: Path, start: int) -> tuple[IO[bytes], int]:
    """The stream this thread left open on the file ``key`` names if it has not passed
    ``start``, else a new one; with the 0-based index of the line it reads next."""
    parked = getattr(_parked, "stream", None)
    _parked.stream = None
    if parked is not None:
        parked_key, stream, next_line = parked
        if parked_key == key and next_line <= start:
            return stream, next_line
        stream.close()
    return open_maybe_gzip(path), 0


def _park_stream(key: tuple[str, int, int, int], stream: IO[bytes], next_line: int) -> None:
    previous = getattr(_parked, "stream", None)
    if previous is not None:
        previous[1].close()
    _parked.stream = (key, stream, next_line)


def count_lines(path: Path) -> int:
    """Lines up to the end of the file or the break in a damaged gzip (logged when read)."""
    count = 0
    try:
        with open_maybe_gzip(path) as stream:
            for _ in bounded_lines(stream, SKIP_PIECE_BYTES):
                count += 1
    except _STREAM_ERRORS:
        pass  # the reader of the last work unit meets the same break and logs it
    return count


def first_records(path: Path, limit: int = 5, max_lines: int = 1000) -> list[Any]:
    """Up to ``limit`` JSON objects from the first ``max_lines`` lines, to recognise a layout
    (lines that are not JSON objects are passed over: a damaged head does not hide the records after it)."""
    records: list[Any] = []
    scratch = ProblemLog()  # problems are logged when the file is read for real
    try:
        with open_maybe_gzip(path) as stream:
            for line_index, (_, raw) in enumerate(bounded_lines(stream, GUESS_LINE_BYTES)):
                if len(records) >= limit or line_index >= max_lines:
                    break
                if raw.strip():
                    record = parse_json_bytes(raw, None, str(path), scratch)
                    if isinstance(record, dict):
                        records.append(record)
    except _STREAM_ERRORS:
        pass
    return records
