"""Stage predictions: the one format every model writes and every study reads.

One JSON object per code cell, in input order::

    {"id": "<cell id>", "stage": "WRANGLE" | ... | null, "probs": {"IMPORT": p, ...},
     "notebook_id": ..., "index": <cell index>, "lines": <lines of code>, "apis": [...],
     "role": "solution" | ... | null}

``stage`` is null (and ``probs`` empty) where the model abstains. The last five fields
make a predictions file self-contained for the studies; ``role`` is the cell's nbgrader,
JuICe or DSP role (see :mod:`coral.corpora.records`), null where the corpus gives none.
Two optional fields help a person find the cell: ``path`` (where its notebook was read
from: a file, ``archive:member`` or ``shard:line``) and ``source`` (its code, with
``--with-source``). A model that labels some cells one way and others another (an LFs-first
model, ``coral.jobs.lfs_first``) adds ``decided_by``: ``"lfs"`` where the labeling functions'
vote gave the stage, ``"encoder"`` where the encoder did, cell by cell, and ``"context"``
where the notebook HMM did, from the encoder and the cell's neighbours in the input;
``coral evaluate`` then scores each part apart.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from coral.atomic import atomic_path
from coral.corpora.records import ParsedCell
from coral.jsonl import read_records
from coral.stages import N_STAGES, STAGE_NAMES, is_covered

OPTIONAL_FIELDS = ("path", "source", "decided_by")  # written only when known
DECIDERS = ("lfs", "encoder", "context")  # the values of ``decided_by``


@dataclass(slots=True)
class Prediction:
    id: str
    stage: str | None
    probs: dict[str, float]
    notebook_id: str = ""
    index: int = -1
    lines: int = 0
    apis: list[str] = field(default_factory=list)
    role: str | None = None
    path: str | None = None  # where the notebook was read from (file, archive:member, shard:line)
    source: str | None = None  # the cell's code, with ``--with-source``
    decided_by: str | None = None  # one of DECIDERS, for a model that mixes them


def predictions_from_proba(cells: Sequence[ParsedCell], proba: np.ndarray,
                           decided_by: Sequence[str] | None = None) -> list[Prediction]:
    """Turn an (n, 5) probability matrix into predictions; an all-zero row means abstain.
    ``decided_by``, when given, names what decided each row (one of ``DECIDERS``)."""
    if proba.shape != (len(cells), N_STAGES):
        raise ValueError(f"expected probabilities of shape ({len(cells)}, {N_STAGES}), got {proba.shape}")
    if decided_by is not None and len(decided_by) != len(cells):
        raise ValueError(f"{len(cells)} cells but {len(decided_by)} deciders")
    deciders = decided_by if decided_by is not None else [None] * len(cells)
    out = []
    for cell, row, covered, decider in zip(cells, proba, is_covered(proba), deciders):
        out.append(
            Prediction(
                id=cell.id,
                stage=STAGE_NAMES[int(row.argmax())] if covered else None,
                probs={name: round(float(p), 6) for name, p in zip(STAGE_NAMES, row)} if covered else {},
                notebook_id=cell.notebook_id,
                index=cell.index,
                lines=cell.lines,
                apis=list(cell.apis),
                role=cell.role,
                decided_by=decider,
            )
        )
    return out


def write_predictions(predictions: Iterable[Prediction], path: str | Path,
                      before_rename: Callable[[], None] | None = None) -> int:
    """Write predictions as JSON Lines, all or nothing (a killed run leaves no partial file);
    return how many were written. ``before_rename`` is as :func:`write_lines` takes it."""
    return write_lines((_line(prediction) for prediction in predictions), path, before_rename)


def write_lines(lines: Iterable[str], path: str | Path, before_rename: Callable[[], None] | None = None) -> int:
    """Write text lines (each ending in a newline) to ``path`` through a temporary file; return
    how many. ``before_rename`` runs once all are written, before ``path`` appears."""
    n = 0
    with atomic_path(path) as temporary:
        with open(temporary, "w", encoding="utf-8") as out:
            for line in lines:
                out.write(line)
                n += 1
        if before_rename is not None:
            before_rename()
    return n


def _line(prediction: Prediction) -> str:
    record = asdict(prediction)
    for optional in OPTIONAL_FIELDS:
        if record[optional] is None:
            del record[optional]
    return json.dumps(record, ensure_ascii=False) + "\n"


def read_predictions(path: str | Path) -> Iterator[Prediction]:
    """Read a predictions file; a malformed line is an error that names the file and line."""
    for _, prediction in read_records(path, _prediction_from_record, "a prediction record"):
        yield prediction


def _prediction_from_record(record: dict) -> Prediction:
    return Prediction(
        id=str(record["id"]),
        stage=record.get("stage"),
        probs=record.get("probs") or {},
        notebook_id=record.get("notebook_id") or str(record["id"]).rsplit("#", 1)[0],
        index=int(record.get("index", -1)),
        lines=int(record.get("lines", 0)),
        apis=list(record.get("apis") or []),
        role=record.get("role"),
        path=record.get("path"),
        source=record.get("source"),
        decided_by=_decider(record.get("decided_by")),
    )


def _decider(value: object) -> str | None:
    if value is None or value in DECIDERS:
        return value  # type: ignore[return-value]
    raise ValueError(f"decided_by is {value!r}; expected one of {', '.join(DECIDERS)}")
