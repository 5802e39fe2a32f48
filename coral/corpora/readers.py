"""Reading notebooks from every supported corpus layout, streaming, with every loss logged.

Formats (``--format``; guessed from the path when not given):

- ``ipynb`` (alias ``nbgrader``): ``.ipynb`` files, folders of them (recursive) and
  ``.zip`` / ``.tar.gz`` archives of them. Notebook id: the path relative to the folder or
  archive given (POSIX separators), or the file name for a file given on its own.
- ``shards``: JSON Lines of whole notebooks as in ``shared/corpora/github``; id = ``id``.
- ``coral``: CORAL's preprocessed cells (``coral-ucsd-sample/train.txt``).
- ``juice``: JuICe records (target cell plus the cells above it).
- ``dsp``: Data Science Problems records.

Guessing: ``.ipynb`` and archives by name; JSON Lines files (``.jsonl``, ``.ndjson``,
``.txt``, optionally gzipped) by the fields of their first records. Inside folders only
those kinds of files are read (``.json`` too when a format is forced); a JSON Lines or
text file whose records match no layout is logged as ``unknown-format``.
Checkpoint folders (``.ipynb_checkpoints``) and hidden folders are skipped.

Every notebook or cell that cannot be used is logged in the :class:`ProblemLog` with its
origin (``path``, ``path:line`` for JSON Lines, ``archive:member``), id and reason.
"""

from __future__ import annotations

import os
import zipfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from types import ModuleType

from coral.corpora.formats import coral as coral_format
from coral.corpora.formats import dsp, juice, shards
from coral.corpora.formats.common import ReaderOptions
from coral.corpora.formats.ipynb import count_tar_members, read_ipynb_file, read_tar, read_zip, zip_members
from coral.corpora.formats.jsonlines import count_lines, first_records, iter_json_lines
from coral.corpora.records import Notebook
from coral.problems import BAD_RECORD, NO_NOTEBOOKS, UNKNOWN_FORMAT, UNREADABLE_NOTEBOOK, ProblemLog, problem_log

__all__ = [
    "FORMATS",
    "ReaderOptions",
    "as_path_list",
    "Source",
    "count_records",
    "discover_sources",
    "example_paths",
    "read_notebooks",
    "read_source",
]


# Record layouts of JSON Lines files, in the order their fields are tried when guessing.
RECORD_LAYOUTS: dict[str, ModuleType] = {"shards": shards, "dsp": dsp, "coral": coral_format, "juice": juice}
FORMATS = ("ipynb", *RECORD_LAYOUTS)
FORMAT_ALIASES = {"nbgrader": "ipynb", "github": "shards"}

ARCHIVE_SUFFIXES = {"zip": (".zip",), "tar": (".tar", ".tar.gz", ".tgz", ".tar.bz2", ".tar.xz")}
JSONL_SUFFIXES = (".jsonl", ".ndjson", ".txt", ".jsonl.gz", ".ndjson.gz", ".txt.gz")
FORCED_JSONL_SUFFIXES = (*JSONL_SUFFIXES, ".json", ".json.gz")
PathLike = str | os.PathLike[str]


@dataclass(frozen=True, slots=True)
class Source:
    """One file to read: a single notebook, an archive of them, or a JSON Lines file."""

    path: Path
    kind: str  # "ipynb" (one notebook), "zip", "tar", or a record layout of RECORD_LAYOUTS
    notebook_id: str = ""  # single notebooks only: the id the path rule gives it


def normalize_format(format: str | None) -> str | None:
    """The canonical format name, or ValueError naming the choices."""
    if format is None:
        return None
    name = FORMAT_ALIASES.get(format.lower(), format.lower())
    if name not in FORMATS:
        raise ValueError(f"unknown corpus format {format!r}; choose one of {', '.join(FORMATS)} (or nbgrader)")
    return name


def _archive_kind(name: str) -> str | None:
    for kind, suffixes in ARCHIVE_SUFFIXES.items():
        if name.endswith(suffixes):
            return kind
    return None


def guess_layout(path: Path) -> str | None:
    """The record layout most of a JSON Lines file's first records match, if any."""
    records = first_records(path)
    votes = {name: sum(map(layout.looks_like, records)) for name, layout in RECORD_LAYOUTS.items()}
    best = max(votes, key=votes.__getitem__)
    return best if records and votes[best] * 2 > len(records) else None


def _file_kind(path: Path, format: str | None, in_folder: bool, problems: ProblemLog) -> str | None:
    """How to read one file, or None to pass it over (only ever for files found in folders)."""
    name = path.name.lower()
    if name.endswith(".ipynb"):
        return "ipynb"
    archive = _archive_kind(name)
    if archive:
        return archive
    if format in RECORD_LAYOUTS:
        return format if not in_folder or name.endswith(FORCED_JSONL_SUFFIXES) else None
    if format == "ipynb":
        return None if in_folder else "ipynb"
    if in_folder and not name.endswith(JSONL_SUFFIXES):
        return None
    layout = guess_layout(path)
    if layout is not None:
        return layout
    if in_folder:
        problems.add(str(path), None, UNKNOWN_FORMAT, "a JSON Lines or text file whose records match no known layout")
        return None
    return "ipynb"  # a file named explicitly: read it as a notebook, which logs why if it is not one


def _walk(folder: Path) -> Iterator[Path]:
    """Files under a folder in a stable (sorted) order, without hidden and checkpoint folders."""
    for root, dirs, files in os.walk(folder):
        dirs[:] = sorted(d for d in dirs if not d.startswith(".") and d != "__MACOSX")
        for name in sorted(files):
            if not name.startswith("."):
                yield Path(root) / name


def as_path_list(paths: PathLike | Iterable[PathLike]) -> list[Path]:
    if isinstance(paths, (str, os.PathLike)):
        return [Path(paths)]
    return [Path(path) for path in paths]


def discover_sources(
    paths: PathLike | Iterable[PathLike], format: str | None = None, problems: ProblemLog | None = None
) -> Iterator[Source]:
    """The files to read under the given paths, in order. A missing path is an error, not a problem."""
    format = normalize_format(format)
    problems = problem_log(problems)
    for path in as_path_list(paths):
        if path.is_dir():
            found = 0
            for file in _walk(path):
                kind = _file_kind(file, format, True, problems)
                if kind is not None:
                    found += 1
                    yield Source(file, kind, file.relative_to(path).as_posix() if kind == "ipynb" else "")
            if not found:
                problems.add(str(path), None, NO_NOTEBOOKS, "the folder holds no file this reader can read")
        elif path.is_file():
            kind = _file_kind(path, format, False, problems)
            yield Source(path, kind or "ipynb", path.name if kind == "ipynb" else "")
        else:
            raise FileNotFoundError(f"no such file or folder: {path}")


def read_source(
    source: Source,
    problems: ProblemLog,
    options: ReaderOptions | None = None,
    start: int = 0,
    stop: int | None = None,
) -> Iterator[Notebook]:
    """Notebooks of one source; ``start:stop`` select records (lines, archive members) by
    position, and ``options.only_ids`` selects notebooks by id before anything parses them."""
    options = options or ReaderOptions()
    notebooks = _read_source_notebooks(source, problems, options, start, stop)
    yield from notebooks if options.only_ids is None else filter(options.selects, notebooks)


def _read_source_notebooks(
    source: Source, problems: ProblemLog, options: ReaderOptions, start: int, stop: int | None
) -> Iterator[Notebook]:
    if source.kind == "ipynb":
        if start == 0 and stop != 0:
            yield from read_ipynb_file(source.path, source.notebook_id, problems, options)
    elif source.kind == "zip":
        yield from read_zip(source.path, problems, options, start, stop)
    elif source.kind == "tar":
        yield from read_tar(source.path, problems, options, start, stop)
    else:
        layout = RECORD_LAYOUTS[source.kind]
        for line_number, record in iter_json_lines(source.path, problems, options, start, stop):
            origin = f"{source.path}:{line_number}"
            if not isinstance(record, dict):
                problems.add(origin, None, BAD_RECORD, f"line holds a JSON {type(record).__name__}, not an object")
                continue
            try:
                fallback_id = f"{source.path.name}:{line_number}"
                notebook = layout.notebook_from_record(record, origin, fallback_id, problems, options)
            except Exception as error:  # a record this reader did not foresee must not end the run
                problems.add(origin, None, UNREADABLE_NOTEBOOK, repr(error))
                continue
            if notebook is not None:
                yield notebook


def count_records(source: Source) -> int:
    """How many records (lines, archive members) a source holds, to split it into work units."""
    if source.kind == "ipynb":
        return 1
    if source.kind == "zip":
        try:
            return len(zip_members(source.path))
        except (zipfile.BadZipFile, OSError):
            return 0  # reading it logs the damage
    if source.kind == "tar":
        return count_tar_members(source.path)
    return count_lines(source.path)


def read_notebooks(
    paths: PathLike | Iterable[PathLike],
    format: str | None = None,
    problems: ProblemLog | None = None,
    options: ReaderOptions | None = None,
) -> Iterator[Notebook]:
    """Stream the notebooks under ``paths`` (files, folders, archives, shards), in order.

    ``format`` forces one layout (see the module docstring); otherwise it is guessed per
    file. Unusable notebooks and cells are skipped and logged in ``problems`` (as warnings
    when no log is given); a bad notebook never stops the run.
    """
    problems = problem_log(problems)
    for source in discover_sources(paths, format, problems):
        yield from read_source(source, problems, options)


def example_paths() -> list[Path]:
    """The example notebooks shipped with coral (the default input of ``coral run``)."""
    folder = resources.files("coral") / "data" / "examples"
    return sorted(Path(str(entry)) for entry in folder.iterdir() if entry.name.endswith(".ipynb"))
