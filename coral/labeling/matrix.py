"""The label matrix on disk: one Parquet file with the cell ids and one int8 column per LF.

The directory is a Parquet dataset any tool reads as it is (``pandas.read_parquet(dir)``):
besides ``label_matrix.parquet`` it holds only ``_``-prefixed files, which readers skip:
``_label_matrix.json`` (LF names, LF-set specs, counts) and ``_problems.jsonl``.
``coral label`` writes it; ``coral lfs analyze`` and ``coral lfs fit`` can read it instead
of re-applying LFs to a corpus.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from coral.atomic import atomic_path

MATRIX_FILE = "label_matrix.parquet"
META_FILE = "_label_matrix.json"
LABEL_PROBLEMS_FILE = "_problems.jsonl"
ID_COLUMN = "id"


@dataclass(slots=True)
class LabelMatrix:
    """``L[i, j]``: the vote of LF ``lf_names[j]`` on cell ``ids[i]`` (-1 abstain)."""

    ids: list[str]
    L: np.ndarray
    lf_names: list[str]

    def __post_init__(self) -> None:
        if self.L.shape != (len(self.ids), len(self.lf_names)):
            raise ValueError(f"label matrix of shape {self.L.shape} for {len(self.ids)} ids and {len(self.lf_names)} LFs")

    def to_frame(self) -> pd.DataFrame:
        frame = pd.DataFrame(self.L.astype(np.int8), columns=self.lf_names)
        frame.insert(0, ID_COLUMN, self.ids)
        return frame

    def write(self, directory: str | Path, **meta: object) -> Path:
        """Write the matrix and a JSON sidecar (LF names, LF-set specs, counts...)."""
        return write_label_matrix(directory, [self.to_frame()], self.lf_names, **meta).path

    @classmethod
    def read(cls, directory: str | Path) -> LabelMatrix:
        path = Path(directory) / MATRIX_FILE
        if not path.is_file():
            raise FileNotFoundError(f"{directory}: not a label-matrix directory (no {MATRIX_FILE}; see `coral label`)")
        frame = pd.read_parquet(path)
        if ID_COLUMN not in frame.columns:
            raise ValueError(f"{path}: has no {ID_COLUMN!r} column")
        return cls.from_frame(frame, [column for column in frame.columns if column != ID_COLUMN])

    @classmethod
    def from_frame(cls, frame: pd.DataFrame, lf_names: list[str]) -> LabelMatrix:
        """The matrix of a ``to_frame`` table (the ids column and one column per LF)."""
        return cls(ids=frame[ID_COLUMN].astype(str).tolist(), L=frame[lf_names].to_numpy(np.int64), lf_names=lf_names)


@dataclass(frozen=True, slots=True)
class WrittenMatrix:
    """What ``write_label_matrix`` wrote: the matrix file and its counts."""

    path: Path
    lf_names: list[str]
    n_cells: int
    n_covered: int  # cells with at least one vote


def write_label_matrix(directory: str | Path, frames: Iterable[pd.DataFrame], lf_names: list[str],
                       **meta: object) -> WrittenMatrix:
    """Write the matrix from ``to_frame``-shaped pieces, one at a time (memory stays that of one
    piece, whatever the corpus), and the JSON sidecar; the matrix is renamed into place last, so
    its presence marks a finished write."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    schema = pa.schema([(ID_COLUMN, pa.string()), *((name, pa.int8()) for name in lf_names)])
    n_cells = n_covered = 0
    with atomic_path(directory / MATRIX_FILE) as temporary:
        with pq.ParquetWriter(temporary, schema) as writer:
            for frame in frames:
                votes = frame[lf_names].to_numpy(np.int8)
                n_cells += len(frame)
                n_covered += int((votes != -1).any(axis=1).sum())
                writer.write_table(pa.Table.from_pandas(frame[[ID_COLUMN, *lf_names]], schema=schema,
                                                        preserve_index=False))
        sidecar = {"lf_names": lf_names, "n_cells": n_cells, **meta}
        with atomic_path(directory / META_FILE) as sidecar_file:
            sidecar_file.write_text(json.dumps(sidecar, indent=2, default=str) + "\n")
    return WrittenMatrix(directory / MATRIX_FILE, lf_names, n_cells, n_covered)


def is_label_matrix_dir(path: str | Path) -> bool:
    return (Path(path) / MATRIX_FILE).is_file()
