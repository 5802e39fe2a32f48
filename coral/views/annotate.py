"""Writing stage labels back into notebooks, where JupyterLab and VS Code show them.

Each labelled code cell gets ``metadata.coral`` = ``{"stage", "probabilities", "model",
"coral_version"}`` (and ``decided_by`` where the predictions say what labelled the cell) and the tag ``stage:<STAGE>`` (cells the model gives no stage get the
metadata with ``stage`` null, and no tag). With ``headers``, a markdown cell
``## Stage: <Stage>`` goes right above each code cell where the stage changes, marked ``metadata.coral.header`` so that the next run
replaces it and :func:`strip_annotations` removes it.

Everything else is kept as stored: outputs, attachments, notebook and cell metadata, cell ids,
the nbformat version and the way sources are stored (string or list of lines). Old
notebooks (nbformat v1-v3) are labelled through nbformat's converter but written back in
their own version (the same keys work there: v3 cells carry metadata too). Before labelling,
earlier coral annotations are stripped, so reruns never stack labels or headers.
"""

from __future__ import annotations

import copy
import json
import os
import shutil
import tempfile
import warnings
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import nbformat

from coral.problems import DUPLICATE_OUTPUT, INVALID_AFTER_ANNOTATION, INVALID_AS_READ, NOT_A_FILE, ProblemLog
from coral.stages import STAGE_NAMES
from coral.views.labelled import LabelledNotebook, RawNotebook, StageModel, iter_raw_notebooks, label_raw_notebooks, model_stamp

STAGE_TAGS = frozenset(f"stage:{stage}" for stage in STAGE_NAMES)
BACKUP_SUFFIX = ".bak"  # --in-place keeps the notebook as it was at <name>.ipynb.bak


@dataclass(slots=True)
class AnnotateRun:
    """What an annotate run wrote, and what it could not use."""

    written: list[Path] = field(default_factory=list)
    backups: list[Path] = field(default_factory=list)
    n_cells: int = 0  # code cells that got a label
    problems: ProblemLog = field(default_factory=ProblemLog)


def cell_lists(notebook: dict[str, Any]) -> list[list[Any]]:
    """The lists holding a notebook's cells: ``cells`` (v4) or each worksheet's (v1-v3)."""
    if isinstance(notebook.get("cells"), list):
        return [notebook["cells"]]
    return [sheet["cells"] for sheet in notebook.get("worksheets") or [] if isinstance(sheet, dict) and isinstance(sheet.get("cells"), list)]


def is_coral_header(cell: Any) -> bool:
    metadata = cell.get("metadata") if isinstance(cell, dict) else None
    marker = metadata.get("coral") if isinstance(metadata, dict) else None
    return isinstance(marker, dict) and marker.get("header") is True


def strip_annotations(notebook: dict[str, Any]) -> int:
    """Remove coral's metadata, ``stage:`` tags and header cells in place; return how many
    cells carried them. A tag list coral emptied is removed only if coral's metadata was there."""
    touched = 0
    for cells in cell_lists(notebook):
        before = len(cells)
        cells[:] = [cell for cell in cells if not is_coral_header(cell)]
        touched += before - len(cells)
        for cell in cells:
            metadata = cell.get("metadata") if isinstance(cell, dict) else None
            if not isinstance(metadata, dict):
                continue
            had_coral = metadata.pop("coral", None) is not None
            tags = metadata.get("tags")
            if isinstance(tags, list):
                kept = [tag for tag in tags if tag not in STAGE_TAGS]
                if len(kept) != len(tags):
                    if kept or not had_coral:
                        metadata["tags"] = kept
                    else:
                        del metadata["tags"]
            touched += had_coral
    return touched


def add_annotations(notebook: dict[str, Any], labelled: LabelledNotebook, model_name: str, headers: bool = False) -> int:
    """Label the code cells of a stripped notebook in place; return how many got a label.

    ``labelled`` must come from this same notebook: cell indices count all its cells, worksheets
    flattened in order, as coral's readers count them.
    """
    stamp = model_stamp(model_name)
    flat = [(cells, cell) for cells in cell_lists(notebook) for cell in cells]
    starts: list[tuple[list[Any], dict[str, Any], str]] = []
    previous_stage = None
    for index, (cells, cell) in enumerate(flat):
        prediction = labelled.predictions.get(index)
        if prediction is None or not isinstance(cell, dict) or cell.get("cell_type") != "code":
            continue
        metadata = cell.setdefault("metadata", {})
        if not isinstance(metadata, dict):
            continue  # a malformed cell stays as it is
        decided = {"decided_by": prediction.decided_by} if prediction.decided_by else {}
        metadata["coral"] = {"stage": prediction.stage, "probabilities": dict(prediction.probs), **decided, **stamp}
        if prediction.stage is None:
            continue
        tags = metadata.get("tags")
        if not isinstance(tags, list):
            tags = metadata["tags"] = []
        tags.append(f"stage:{prediction.stage}")
        if prediction.stage != previous_stage:
            starts.append((cells, cell, prediction.stage))
        previous_stage = prediction.stage
    if headers:
        _insert_headers(notebook, starts, stamp)
    return len(labelled.predictions)


def _insert_headers(notebook: dict[str, Any], starts: list[tuple[list[Any], dict[str, Any], str]], stamp: dict[str, str]) -> None:
    taken = {cell.get("id") for cells in cell_lists(notebook) for cell in cells if isinstance(cell, dict)}
    minor = notebook.get("nbformat_minor")
    with_ids = notebook.get("nbformat") == 4 and isinstance(minor, int) and minor >= 5
    for ordinal, (cells, cell, stage) in enumerate(starts):
        position = next(i for i, candidate in enumerate(cells) if candidate is cell)
        header: dict[str, Any] = {
            "cell_type": "markdown",
            "metadata": {"coral": {"header": True, "stage": stage, **stamp}},
            "source": f"## Stage: {stage.title()}",
        }
        if with_ids:
            header["id"] = _fresh_id(f"coral-stage-{ordinal}", taken)
        cells.insert(position, header)


def _fresh_id(base: str, taken: set[Any]) -> str:
    """A cell id not used in the notebook (ids must be unique); deterministic, so reruns agree."""
    candidate, n = base, 0
    while candidate in taken:
        n += 1
        candidate = f"{base}-{n}"
    taken.add(candidate)
    return candidate


def notebook_text(notebook: dict[str, Any]) -> str:
    """Notebook JSON laid out as Jupyter writes it (one-space indent, sorted keys, UTF-8).

    nbformat's own writer would also re-split sources into lines and drop keys it deems
    transient; writing the JSON directly changes nothing coral did not add."""
    return json.dumps(notebook, indent=1, sort_keys=True, ensure_ascii=False, separators=(",", ": ")) + "\n"


def validation_error(notebook: dict[str, Any]) -> str | None:
    """nbformat's verdict on the notebook (on a copy: nbformat's validate repairs ids in place)."""
    try:
        with warnings.catch_warnings():  # missing cell ids: nbformat warns, and Jupyter adds them on load
            warnings.simplefilter("ignore")
            nbformat.validate(copy.deepcopy(notebook))
    except nbformat.ValidationError as error:
        return str(error).splitlines()[0]
    except Exception as error:  # e.g. an nbformat version with no schema
        return repr(error)
    return None


def write_atomically(path: Path, text: str) -> None:
    """Write through a temporary file in the same folder, then rename it over ``path``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            out.write(text)
        if path.exists():
            shutil.copymode(path, temporary)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def annotate(
    inputs: Sequence[str | Path],
    model: StageModel,
    model_name: str,
    *,
    out_dir: str | Path | None = None,
    in_place: bool = False,
    headers: bool = False,
    strip: bool = False,
    format: str | None = None,
) -> AnnotateRun:
    """Label (or with ``strip``, unlabel) every notebook under ``inputs`` and write it to
    ``out_dir`` (as ``<notebook id>.ipynb``) or, with ``in_place``, over the original after
    copying it to ``<name>.ipynb.bak``. Originals are never touched without ``in_place``."""
    if in_place == (out_dir is not None):
        raise ValueError("give exactly one of --out DIR and --in-place")
    run = AnnotateRun()
    raws = iter_raw_notebooks(inputs, run.problems, format)
    if in_place:
        raws = _in_place_only(raws, run.problems)
    targets: set[Path] = set()
    for notebook, labelled in _stripped_and_labelled(raws, model, run.problems, strip):
        raw, document = notebook.raw, notebook.document
        if labelled is not None:
            run.n_cells += add_annotations(document, labelled, model_name, headers)
        target = raw.file if in_place and raw.file is not None else Path(out_dir or ".") / raw.relpath
        if target in targets:
            run.problems.add(raw.origin, raw.id, DUPLICATE_OUTPUT, f"another input notebook was already written to {target}")
            continue
        error = validation_error(document)
        if error is not None and validation_error(notebook.stripped) is None:
            run.problems.add(raw.origin, raw.id, INVALID_AFTER_ANNOTATION, error)
            continue
        if error is not None:
            run.problems.add(raw.origin, raw.id, INVALID_AS_READ, f"written, but nbformat finds it invalid as read: {error}")
        targets.add(target)
        if in_place:
            backup = target.with_name(target.name + BACKUP_SUFFIX)
            shutil.copy2(target, backup)
            run.backups.append(backup)
        write_atomically(target, notebook_text(document))
        run.written.append(target)
    return run


def _in_place_only(raws: Iterator[RawNotebook], problems: ProblemLog) -> Iterator[RawNotebook]:
    for raw in raws:
        if raw.file is None:
            problems.add(raw.origin, raw.id, NOT_A_FILE, "--in-place rewrites .ipynb files; notebooks in archives or shards need --out")
        else:
            yield raw


@dataclass(slots=True)
class _Document:
    raw: RawNotebook
    document: dict[str, Any]  # what gets written
    stripped: dict[str, Any]  # as read, less coral's earlier annotations


def _stripped_and_labelled(
    raws: Iterator[RawNotebook], model: StageModel, problems: ProblemLog, strip: bool
) -> Iterator[tuple[_Document, LabelledNotebook | None]]:
    """Each notebook with coral's earlier annotations removed, and (unless ``strip``) its labels
    predicted on that stripped version, so that old headers cannot shift cell indices."""

    def stripped() -> Iterator[tuple[_Document, RawNotebook]]:
        for raw in raws:
            document = copy.deepcopy(raw.json)
            strip_annotations(document)
            entry = _Document(raw, document, document if strip else copy.deepcopy(document))
            yield entry, RawNotebook(raw.id, raw.origin, raw.relpath, entry.stripped, raw.file)

    if strip:
        for entry, _ in stripped():
            yield entry, None
        return
    yield from label_raw_notebooks(stripped(), model, problems)
