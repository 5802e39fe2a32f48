"""Jupyter notebooks (nbformat v4, and v1-v3 through nbformat's converter) as files or in archives.

Notebook ids: the path relative to the folder or archive given, or the file name for a file
given on its own. nbgrader cell metadata becomes ``Cell.nbgrader`` and the cell's ``role``
in every layout that carries notebooks, so nbgrader assignments need no format of their
own; Data Science Problems notebooks (cells with a ``task_id``) get DSP's roles instead
(``coral.corpora.formats.dsp``).
"""

from __future__ import annotations

import json
import stat
import tarfile
import warnings
import zipfile
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import nbformat

from coral.corpora.formats import dsp
from coral.corpora.formats.common import ReaderOptions, attach_markdown_above, is_python_language, source_text
from coral.corpora.records import Cell, Notebook
from coral.problems import (
    BAD_CELL,
    BAD_FIELD,
    CONVERSION_FAILED,
    CORRUPT_ARCHIVE,
    MALFORMED_JSON,
    MISSING_FIELD,
    NESTED_ARCHIVE,
    NON_PYTHON_KERNEL,
    NOT_A_NOTEBOOK,
    SPECIAL_FILE,
    TRUNCATED_ARCHIVE,
    UNDECODABLE_BYTES,
    UNREADABLE_FILE,
    UNREADABLE_NOTEBOOK,
    ProblemLog,
)

NOTEBOOK_SUFFIX = ".ipynb"
NESTED_ARCHIVE_SUFFIXES = (".zip", ".tar", ".tar.gz", ".tgz", ".tar.bz2", ".tar.xz")


def nbgrader_role(metadata: Any) -> str | None:
    """nbgrader's cell kinds: answers are "solution", autograder tests "grade", then "task", "locked"."""
    flags = metadata.get("nbgrader") if isinstance(metadata, dict) else None
    if not isinstance(flags, dict):
        return None
    for role in ("solution", "grade", "task", "locked"):
        if flags.get(role):
            return role
    return None


def kernel_language(metadata: dict[str, Any]) -> str | None:
    """The notebook's language as its metadata states it (v4 language_info/kernelspec, v3 language)."""
    language_info = metadata.get("language_info")
    kernelspec = metadata.get("kernelspec")
    for value in (
        language_info.get("name") if isinstance(language_info, dict) else None,
        kernelspec.get("language") if isinstance(kernelspec, dict) else None,
        metadata.get("language"),
    ):
        if isinstance(value, str) and value.strip():
            return value.strip()
    return None


def _upgrade_to_v4(data: dict[str, Any]) -> dict[str, Any]:
    """Convert an old notebook with nbformat, after mending what its converter cannot take.

    nbformat's v3 converter expects string sources (it splits heading lines) and an
    ``outputs`` list on code cells, which stripped corpora often lack.
    """
    for worksheet in data.get("worksheets") or []:
        for cell in worksheet.get("cells") or []:
            if not isinstance(cell, dict):
                continue
            for key in ("input", "source"):
                if isinstance(cell.get(key), list):
                    cell[key] = source_text(cell[key]) or ""
            if cell.get("cell_type") == "code":
                cell.setdefault("outputs", [])
    data.setdefault("nbformat_minor", 0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return nbformat.convert(nbformat.from_dict(data), 4)


def notebook_from_json(
    data: Any,
    notebook_id: str,
    origin: str,
    problems: ProblemLog,
    options: ReaderOptions,
    *,
    repo: str | None = None,
    path: str | None = None,
) -> Notebook | None:
    """A :class:`Notebook` from parsed notebook JSON, or None (with a logged problem) if unusable.

    v4 JSON is read directly (no schema validation: it is the hot path); older versions go
    through nbformat's converter, which flattens v3 worksheets in order.
    """
    if not isinstance(data, dict):
        problems.add(origin, notebook_id, NOT_A_NOTEBOOK, f"the JSON is {json.dumps(data)[:40]}, not an object")
        return None
    if not ("cells" in data or "worksheets" in data):
        problems.add(origin, notebook_id, NOT_A_NOTEBOOK, "no 'cells' or 'worksheets' in the JSON")
        return None
    version = data.get("nbformat")
    if "worksheets" in data or (isinstance(version, int) and version < 4):
        try:
            data = _upgrade_to_v4(data)
        except Exception as error:  # nbformat raises many kinds on malformed old notebooks
            problems.add(origin, notebook_id, CONVERSION_FAILED, f"nbformat v{version} -> v4: {error!r}")
            return None
    metadata = data.get("metadata")
    metadata = metadata if isinstance(metadata, dict) else {}
    language = kernel_language(metadata)
    if not is_python_language(language):
        problems.add(origin, notebook_id, NON_PYTHON_KERNEL, f"kernel language {language!r}")
        return None
    raw_cells = data.get("cells")
    if not isinstance(raw_cells, list):
        problems.add(origin, notebook_id, NOT_A_NOTEBOOK, "'cells' is not a list")
        return None

    cells: list[Cell] = []
    problem_cells: list[int] = []  # cells with a Data Science Problems task_id
    for index, raw in enumerate(raw_cells):
        cell_id = f"{notebook_id}#{index}"
        if not isinstance(raw, dict):
            problems.add(origin, cell_id, BAD_CELL, f"cell is a {type(raw).__name__}, not an object")
            continue
        if "source" not in raw:
            problems.add(origin, cell_id, MISSING_FIELD, "cell has no 'source'")
            continue
        source = source_text(raw["source"])
        if source is None:
            problems.add(origin, cell_id, BAD_FIELD, f"'source' is a {type(raw['source']).__name__}")
            continue
        cell_type = raw.get("cell_type")
        if cell_type not in ("code", "markdown", "raw"):
            problems.add(origin, cell_id, MISSING_FIELD if cell_type is None else BAD_FIELD,
                         f"cell_type is {json.dumps(cell_type)[:40]}: read as a raw cell (not labelled)")
            cell_type = "raw"
        if cell_type == "code" and not options.code_fits(source, origin, cell_id, problems):
            continue
        execution_count = raw.get("execution_count")
        cell_metadata = raw.get("metadata") if isinstance(raw.get("metadata"), dict) else {}
        if cell_metadata.get("task_id") is not None:
            problem_cells.append(index)
        nbgrader = nbgrader_role(cell_metadata)
        cells.append(
            Cell(
                notebook_id=notebook_id,
                index=index,
                cell_type=cell_type,
                source=source,
                execution_count=execution_count if type(execution_count) is int else None,
                nbgrader=nbgrader,
                role=nbgrader,
                id=cell_id,
            )
        )
    if problem_cells:
        dsp.assign_notebook_roles(cells, problem_cells)
    return Notebook(
        id=notebook_id,
        cells=attach_markdown_above(cells),
        origin=origin,
        repo=repo,
        path=path,
        language=language,
        metadata=metadata,
    )


def notebook_from_bytes(
    raw: bytes, notebook_id: str, origin: str, problems: ProblemLog, options: ReaderOptions, **where: Any
) -> Notebook | None:
    """Decode and parse one notebook file's bytes; every failure becomes a logged problem."""
    if not options.notebook_fits(len(raw), origin, notebook_id, problems):
        return None
    data = parse_json_bytes(raw, notebook_id, origin, problems)
    if data is NOT_JSON:
        return None
    try:
        return notebook_from_json(data, notebook_id, origin, problems, options, **where)
    except Exception as error:  # a notebook this reader did not foresee must not end the run
        problems.add(origin, notebook_id, UNREADABLE_NOTEBOOK, repr(error))
        return None


NOT_JSON = object()  # what parse_json_bytes returns for bytes that are not JSON (JSON null is None)


def parse_json_bytes(raw: bytes, item: str | None, origin: str, problems: ProblemLog) -> Any:
    """UTF-8 JSON (a BOM allowed), or ``NOT_JSON`` with the reason logged: undecodable or malformed."""
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        problems.add(origin, item, UNDECODABLE_BYTES, str(error))
        return NOT_JSON
    if not text.strip():
        problems.add(origin, item, MALFORMED_JSON, "empty")
        return NOT_JSON
    try:
        return json.loads(text)
    except json.JSONDecodeError as error:
        problems.add(origin, item, MALFORMED_JSON, str(error))
    except RecursionError:
        problems.add(origin, item, MALFORMED_JSON, "JSON nested too deeply to read")
    return NOT_JSON


def ipynb_file_bytes(path: Path, notebook_id: str, problems: ProblemLog, options: ReaderOptions) -> bytes | None:
    """The bytes of one ``.ipynb`` file, or None (logged) when it is too large or unreadable."""
    origin = str(path)
    try:
        status = path.stat()
        if not stat.S_ISREG(status.st_mode):  # a FIFO would block the read, a device never end it
            problems.add(origin, notebook_id, SPECIAL_FILE, "a FIFO, device or socket, not a file: not read")
            return None
        if not options.notebook_fits(status.st_size, origin, notebook_id, problems):
            return None
        return path.read_bytes()
    except OSError as error:
        problems.add(origin, notebook_id, UNREADABLE_FILE, str(error))
        return None


def read_ipynb_file(path: Path, notebook_id: str, problems: ProblemLog, options: ReaderOptions) -> Iterator[Notebook]:
    """The notebook in one ``.ipynb`` file (nothing if it cannot be used)."""
    raw = ipynb_file_bytes(path, notebook_id, problems, options)
    notebook = None if raw is None else notebook_from_bytes(raw, notebook_id, str(path), problems, options, path=notebook_id)
    if notebook is not None:
        yield notebook


def is_nested_archive(name: str) -> bool:
    """An archive inside an archive: not opened (reported instead)."""
    return name.lower().endswith(NESTED_ARCHIVE_SUFFIXES) and "__MACOSX" not in name.split("/")


def is_notebook_member(name: str) -> bool:
    """Archive members that are notebooks (checkpoint copies and macOS metadata excluded)."""
    parts = name.split("/")
    return (
        name.endswith(NOTEBOOK_SUFFIX)
        and ".ipynb_checkpoints" not in parts
        and "__MACOSX" not in parts
        and not parts[-1].startswith("._")
    )


def zip_members(path: Path) -> list[zipfile.ZipInfo]:
    """The notebook members of a zip archive, in name order."""
    with zipfile.ZipFile(path) as archive:
        members = [info for info in archive.infolist() if not info.is_dir() and is_notebook_member(info.filename)]
    return sorted(members, key=lambda info: info.filename)


def zip_notebook_bytes(
    path: Path, problems: ProblemLog, options: ReaderOptions, start: int = 0, stop: int | None = None
) -> Iterator[tuple[str, str, bytes]]:
    """``(member name, origin, bytes)`` of notebooks ``start:stop`` (in member-name order) of a zip archive."""
    try:
        members = zip_members(path)
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as error:
        problems.add(str(path), None, CORRUPT_ARCHIVE, str(error))
        return
    with archive:
        if start == 0:  # reported once, by the unit that reads the archive's first members
            for info in archive.infolist():
                if is_nested_archive(info.filename):
                    problems.add(f"{path}:{info.filename}", info.filename, NESTED_ARCHIVE, "an archive inside an archive is not opened")
        for info in members[start:stop]:
            origin = f"{path}:{info.filename}"
            if not options.notebook_fits(info.file_size, origin, info.filename, problems):
                continue
            try:
                raw = archive.read(info)
            except (zipfile.BadZipFile, zlib.error, EOFError, OSError) as error:
                problems.add(origin, info.filename, CORRUPT_ARCHIVE, str(error))
                continue
            except (RuntimeError, NotImplementedError) as error:  # encrypted, or compressed with deflate64...
                problems.add(origin, info.filename, CORRUPT_ARCHIVE, f"cannot be extracted: {error}")
                continue
            yield info.filename, origin, raw


def read_zip(
    path: Path, problems: ProblemLog, options: ReaderOptions, start: int = 0, stop: int | None = None
) -> Iterator[Notebook]:
    """Notebooks ``start:stop`` (in member-name order) of a zip archive."""
    yield from _member_notebooks(zip_notebook_bytes(path, problems, options, start, stop), problems, options)


def _member_notebooks(members: Iterator[tuple[str, str, bytes]], problems: ProblemLog, options: ReaderOptions) -> Iterator[Notebook]:
    for name, origin, raw in members:
        notebook = notebook_from_bytes(raw, name, origin, problems, options, path=name)
        if notebook is not None:
            yield notebook


def tar_notebook_bytes(
    path: Path, problems: ProblemLog, options: ReaderOptions, start: int = 0, stop: int | None = None
) -> Iterator[tuple[str, str, bytes]]:
    """``(member name, origin, bytes)`` of notebooks ``start:stop`` (in archive order) of a tar
    archive, compressed or not, streamed. A truncated archive keeps every notebook before the
    break and logs the break."""
    ordinal = -1
    try:
        with tarfile.open(path, "r:*") as archive:
            for info in archive:
                if not (_is_file_or_link(info) and is_notebook_member(info.name)):
                    if start == 0:  # reported once, by the unit that reads the archive's first members
                        _report_unread_member(path, info, problems)
                    continue
                ordinal += 1
                if ordinal < start:
                    continue
                if stop is not None and ordinal >= stop:
                    return
                origin = f"{path}:{info.name}"
                if not options.notebook_fits(info.size, origin, info.name, problems):
                    continue
                try:
                    member = archive.extractfile(info)  # a link yields its target's content
                except (KeyError, RecursionError) as error:  # a link to a member the archive lacks, or a loop
                    problems.add(origin, info.name, CORRUPT_ARCHIVE, f"a link to a missing member: {error}")
                    continue
                yield info.name, origin, member.read() if member is not None else b""
    except (tarfile.TarError, EOFError, zlib.error, OSError) as error:
        problems.add(str(path), None, TRUNCATED_ARCHIVE, f"{error!r} after {ordinal + 1} notebook members")


def read_tar(
    path: Path, problems: ProblemLog, options: ReaderOptions, start: int = 0, stop: int | None = None
) -> Iterator[Notebook]:
    """Notebooks ``start:stop`` (in archive order) of a tar archive (see :func:`tar_notebook_bytes`)."""
    yield from _member_notebooks(tar_notebook_bytes(path, problems, options, start, stop), problems, options)


def _report_unread_member(path: Path, info: tarfile.TarInfo, problems: ProblemLog) -> None:
    """Log a tar member that looks like a notebook or an archive but is not read: an archive
    inside the archive, or a FIFO or device member named like a notebook."""
    origin = f"{path}:{info.name}"
    if _is_file_or_link(info) and is_nested_archive(info.name):
        problems.add(origin, info.name, NESTED_ARCHIVE, "an archive inside an archive is not opened")
    elif not (info.isdir() or _is_file_or_link(info)) and is_notebook_member(info.name):
        problems.add(origin, info.name, SPECIAL_FILE, "a FIFO or device member, not a file: not read")


def _is_file_or_link(info: tarfile.TarInfo) -> bool:
    """A regular member, or a hard or symbolic link (read as the member it points to)."""
    return info.isfile() or info.islnk() or info.issym()


def count_tar_members(path: Path) -> int:
    """How many notebooks a tar archive holds, up to any break (the reader logs the break)."""
    count = 0
    try:
        with tarfile.open(path, "r:*") as archive:
            for info in archive:
                count += _is_file_or_link(info) and is_notebook_member(info.name)
    except (tarfile.TarError, EOFError, zlib.error, OSError):
        pass
    return count
