"""The label matrix on disk: one Parquet file with the cell ids and one int8 column per LF.

The directory is a Parquet dataset any tool reads as it is (``pandas.read_parquet(dir)``):
besides ``label_matrix.parquet`` it holds only ``_``-prefixed files, which readers skip:
``_label_matrix.json`` (LF names, LF-set specs, counts) and ``_problems.jsonl``.
``coral label`` writes it; ``coral lfs analyze`` and ``coral lfs fit`` can read it instead
of re-applying LFs to a corpus.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

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
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        sidecar = {"lf_names": self.lf_names, "n_cells": len(self.ids), **meta}
        with atomic_path(directory / META_FILE) as temporary:
            temporary.write_text(json.dumps(sidecar, indent=2, default=str) + "\n")
        with atomic_path(directory / MATRIX_FILE) as temporary:  # last: the matrix marks a finished write
            self.to_frame().to_parquet(temporary, index=False)
        return directory / MATRIX_FILE

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


def is_label_matrix_dir(path: str | Path) -> bool:
    return (Path(path) / MATRIX_FILE).is_file()
