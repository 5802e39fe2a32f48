"""Reading notebooks from every supported corpus layout, streaming, with every loss logged.

Formats (``--format``; guessed from the path when not given):

- ``ipynb`` (alias ``nbgrader``): ``.ipynb`` files, folders of them (recursive) and
  ``.zip`` / ``.tar.gz`` archives of them. Notebook id: the path relative to the folder or
  archive given (POSIX separators), or the file name for a file given on its own.
- ``shards``: JSON Lines of whole notebooks as in ``shared/corpora/github``; id = ``id``.
- ``coral``: CORAL's preprocessed cells (``coral-ucsd-sample/train.txt``).
- ``juice``: JuICe records (target cell plus the cells above it); a cell repeated by
  several records of one file is labeled once (see ``coral.corpora.formats.juice``).
- ``dsp``: Data Science Problems records. DSP's notebooks themselves (cells with a
  ``task_id`` in their metadata) read as ``ipynb``, with DSP's roles.

Guessing: ``.ipynb`` and archives by name; JSON Lines files (``.jsonl``, ``.ndjson``,
``.txt``, optionally gzipped) by the fields of their first records. Inside folders only
those kinds of files are read (``.json`` too when a format is forced); a JSON Lines or
text file whose records match no layout is logged as ``unknown-format``.
Checkpoint folders (``.ipynb_checkpoints``) are skipped; other hidden files and folders are
skipped and logged (``hidden-file``), as are FIFOs, devices and dangling links.

Every notebook or cell that cannot be used is logged in the :class:`ProblemLog` with its
origin (``path``, ``path:line`` for JSON Lines, ``archive:member``), id and reason.
"""

from __future__ import annotations

import os
import stat
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
from coral.problems import (
    BAD_FIELD,
    BAD_RECORD,
    DUPLICATE_NOTEBOOK,
    HIDDEN_FILE,
    INVALID_UNICODE,
    NO_NOTEBOOKS,
    SPECIAL_FILE,
    UNKNOWN_FORMAT,
    UNREADABLE_FILE,
    UNREADABLE_NOTEBOOK,
    ProblemLog,
    problem_log,
    valid_unicode,
)

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
UNLOGGED_SKIPPED_FOLDERS = frozenset({".ipynb_checkpoints", "__MACOSX", ".git"})  # copies and metadata, by design
UNLOGGED_SKIPPED_FILES = frozenset({".DS_Store", ".gitignore", ".gitattributes"})
WHOLE_NOTEBOOK_KINDS = frozenset({"ipynb", "zip", "tar", "shards"})  # a record is a whole notebook
INT64_RANGE = range(-(2**63), 2**63)  # what the Parquet column of execution counts holds


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


def _walk(folder: Path, problems: ProblemLog) -> Iterator[Path]:
    """Files under a folder in a stable (sorted) order. Checkpoint copies (``.ipynb_checkpoints``)
    and macOS metadata (``__MACOSX``) are passed over; other hidden files and folders are
    passed over and logged, so that nothing goes unread without a word."""
    for root, dirs, files in os.walk(folder):
        for name in sorted(d for d in dirs if d.startswith(".") and d not in UNLOGGED_SKIPPED_FOLDERS):
            problems.add(str(Path(root) / name), None, HIDDEN_FILE, "a hidden folder: not read")
        dirs[:] = sorted(d for d in dirs if not d.startswith(".") and d not in UNLOGGED_SKIPPED_FOLDERS)
        for name in sorted(files):
            if not name.startswith("."):
                yield Path(root) / name
            elif name not in UNLOGGED_SKIPPED_FILES:
                problems.add(str(Path(root) / name), None, HIDDEN_FILE, "a hidden file: not read")


def is_readable_file(path: Path, problems: ProblemLog) -> bool:
    """Whether ``path`` is a regular file (through links). A dangling or looping link, a FIFO or a
    device is logged and never opened: reading one would fail, block forever or never end."""
    try:
        mode = path.stat().st_mode
    except OSError as error:
        problems.add(str(path), None, UNREADABLE_FILE, f"{error.strerror or error} (a dangling or looping link?)")
        return False
    if not stat.S_ISREG(mode):
        problems.add(str(path), None, SPECIAL_FILE, "a FIFO, device or socket, not a file: not read")
        return False
    return True


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
            for file in _walk(path, problems):
                if not is_readable_file(file, problems):
                    continue
                kind = _file_kind(file, format, True, problems)
                if kind is not None:
                    found += 1
                    yield Source(file, kind, file.relative_to(path).as_posix() if kind == "ipynb" else "")
            if not found:
                problems.add(str(path), None, NO_NOTEBOOKS, "the folder holds no file this reader can read")
        elif os.path.lexists(path) and not path.is_dir():
            if is_readable_file(path, problems):
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
    notebooks = _read_source(source, problems, options, start, stop)
    if options.only_ids is not None:
        notebooks = filter(options.selects, notebooks)
    for notebook in notebooks:
        yield _with_valid_values(notebook, problems)


def _with_valid_values(notebook: Notebook, problems: ProblemLog) -> Notebook:
    """Mend what no later stage could write, and log it: lone surrogates in ids, paths and sources
    (U+FFFD instead), execution counts beyond 64 bits (dropped)."""
    mended: list[str] = []

    def text(value: str, what: str) -> str:
        valid = valid_unicode(value)
        if valid is not value and valid != value:
            mended.append(what)
        return valid

    notebook.id = text(notebook.id, "id")
    notebook.origin = valid_unicode(notebook.origin)
    notebook.repo = notebook.repo and text(notebook.repo, "repo")
    notebook.path = notebook.path and text(notebook.path, "path")
    for cell in notebook.cells:
        cell.notebook_id = valid_unicode(cell.notebook_id)
        cell.id = text(cell.id, f"cell {cell.index} id")
        cell.source = text(cell.source, f"cell {cell.index} source")
        cell.markdown_above = valid_unicode(cell.markdown_above)
        if cell.execution_count is not None and cell.execution_count not in INT64_RANGE:
            problems.add(notebook.origin, cell.id, BAD_FIELD, f"execution_count {cell.execution_count} is beyond 64 bits: dropped")
            cell.execution_count = None
    if mended:
        problems.add(notebook.origin, notebook.id, INVALID_UNICODE,
                     f"lone surrogates replaced by U+FFFD in: {', '.join(mended)}")
    return notebook


def _read_source(source: Source, problems: ProblemLog, options: ReaderOptions, start: int, stop: int | None) -> Iterator[Notebook]:
    if source.kind == "ipynb":
        if start == 0 and stop != 0:
            yield from read_ipynb_file(source.path, source.notebook_id, problems, options)
    elif source.kind == "zip":
        yield from read_zip(source.path, problems, options, start, stop)
    elif source.kind == "tar":
        yield from read_tar(source.path, problems, options, start, stop)
    elif source.kind == "juice":
        yield from juice.distinct_cells(_record_notebooks(source, problems, options, start, stop))
    else:
        yield from _record_notebooks(source, problems, options, start, stop)


def _record_notebooks(
    source: Source, problems: ProblemLog, options: ReaderOptions, start: int, stop: int | None
) -> Iterator[Notebook]:
    """One notebook per JSON Lines record of a record layout."""
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
    seen: set[str] | None = None,
) -> Iterator[Notebook]:
    """Stream the notebooks under ``paths`` (files, folders, archives, shards), in order.

    ``format`` forces one layout (see the module docstring); otherwise it is guessed per
    file. Unusable notebooks and cells are skipped and logged in ``problems`` (as warnings
    when no log is given); a bad notebook never stops the run. A whole notebook whose id was
    met before is logged and skipped (see :func:`first_of_each_id`); ``seen`` carries the ids
    met across calls.
    """
    problems = problem_log(problems)
    seen = set() if seen is None else seen
    for source in discover_sources(paths, format, problems):
        yield from first_of_each_id(source, read_source(source, problems, options), seen, problems)


def first_of_each_id(source: Source, notebooks: Iterable[Notebook], seen: set[str], problems: ProblemLog) -> Iterator[Notebook]:
    """``notebooks`` of ``source`` less those whose id is in ``seen`` (the same notebook given twice,
    or two corpora that name notebooks alike): each of those is logged, the first read is kept.
    The ids of whole notebooks (file, archive member, shard record) are added to ``seen``; the
    records of cell layouts (CORAL, JuICe, DSP) share their notebook's id and are not compared."""
    for notebook in notebooks:
        if source.kind in WHOLE_NOTEBOOK_KINDS:
            if notebook.id in seen:
                problems.add(notebook.origin, notebook.id, DUPLICATE_NOTEBOOK, "an id already read: the first is kept")
                continue
            seen.add(notebook.id)
        yield notebook


def example_paths() -> list[Path]:
    """The example notebooks shipped with coral (the default input of ``coral run``)."""
    folder = resources.files("coral") / "data" / "examples"
    return sorted(Path(str(entry)) for entry in folder.iterdir() if entry.name.endswith(".ipynb"))
