"""Predictions as one pandas table: the common input of every study.

Every study takes ``preds``: a predictions file, a list of files, an iterable of
:class:`~coral.predictions.Prediction` or a table already made by :func:`load_predictions`.
The table has one row per code cell, ordered by notebook and then by cell ``index``
(ties keep file order), with the columns of the predictions format plus:

- ``repo``: ``owner/name`` lower-cased, read from a ``gh:OWNER/NAME:PATH`` notebook id
  (null for other ids; :func:`attach_metadata` can supply it from a table instead);
- ``position``: where the cell sits among its notebook's code cells, ``(rank + 0.5) / n``
  in (0, 1), so that a notebook's first and last cells are symmetric and a one-cell
  notebook sits at 0.5;
- ``labelled``: whether the model gave the cell a stage (``stage`` is null on abstain);
- ``role``: the cell's nbgrader / JuICe / DSP role as the predictions give it, ``"none"``
  where the corpus gives none (so ``role`` is a complete grouping key).

Abstained cells stay in the table (they count in ``position`` and are reported), and each
study says how it treats them.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Union

import pandas as pd

from coral.predictions import Prediction, read_predictions
from coral.problems import DUPLICATE_CELL, DUPLICATE_NOTEBOOK, NO_METADATA, ProblemLog, problem_log
from coral.stages import STAGE_NAMES, cell_position

PredictionsLike = Union[str, Path, Sequence[Union[str, Path]], Iterable[Prediction], pd.DataFrame]

_GH_NOTEBOOK_ID = re.compile(r"^gh:([^/:\s]+/[^/:\s]+):")
_PREDICTION_COLUMNS = ("id", "notebook_id", "index", "stage", "lines", "apis", "role")
NO_ROLE = "none"


def repo_from_notebook_id(notebook_id: str) -> str | None:
    """``gh:OWNER/NAME:PATH`` -> ``owner/name`` (GitHub names are case-insensitive); else None."""
    match = _GH_NOTEBOOK_ID.match(notebook_id)
    return match.group(1).lower() if match else None


def _records_from(source: PredictionsLike) -> tuple[list[dict], list[str]]:
    """Rows of the prediction records, and the origin (file) of each row for messages."""
    if isinstance(source, (str, Path)):
        source = [source]
    rows: list[dict] = []
    origins: list[str] = []
    items = list(source)
    if all(isinstance(item, (str, Path)) for item in items):
        for path in items:
            before = len(rows)
            rows.extend(map(_row, read_predictions(path)))
            origins.extend([str(path)] * (len(rows) - before))
        return rows, origins
    for item in items:
        if not isinstance(item, Prediction):
            raise TypeError(f"expected prediction files or Prediction records, got {type(item).__name__}")
        rows.append(_row(item))
        origins.append("<records>")
    return rows, origins


def _row(prediction: Prediction) -> dict:
    """The fields the studies use (not ``probs``); cheaper than ``dataclasses.asdict``."""
    return {column: getattr(prediction, column) for column in _PREDICTION_COLUMNS}


def load_predictions(source: PredictionsLike, problems: ProblemLog | None = None) -> pd.DataFrame:
    """Read predictions into the studies' cell table (see the module docstring).

    A notebook that two files hold is kept from the first file and a cell id seen twice keeps
    its first record; each is reported in ``problems``; a stage name outside the five stages is an error naming the file and cell.
    """
    if isinstance(source, pd.DataFrame):
        missing = [c for c in _PREDICTION_COLUMNS if c not in source.columns and c != "role"]
        if missing:
            raise ValueError(f"a predictions table needs the columns {', '.join(missing)}")
        frame = source.copy()
        frame["origin"] = frame["origin"] if "origin" in frame else "<table>"
        frame["apis"] = frame["apis"].map(lambda apis: list(apis) if apis is not None else [])
    else:
        rows, origins = _records_from(source)
        frame = pd.DataFrame(rows, columns=list(_PREDICTION_COLUMNS))
        frame["origin"] = origins
    frame = frame.drop(columns=["probs"], errors="ignore")

    stage = frame["stage"].where(frame["stage"].notna(), None)
    unknown = ~stage.isin(STAGE_NAMES) & stage.notna()
    if unknown.any():
        bad = frame[unknown].iloc[0]
        raise ValueError(
            f"{bad['origin']}: cell {bad['id']} has stage {bad['stage']!r}; "
            f"expected one of {', '.join(STAGE_NAMES)} or null (abstain)"
        )
    frame["stage"] = pd.Categorical(stage, categories=list(STAGE_NAMES))

    # a notebook two files hold is kept from the first: its cells are never merged with another's
    elsewhere = frame["origin"] != frame.groupby("notebook_id", sort=False)["origin"].transform("first")
    if elsewhere.any():
        problems = problem_log(problems)
        for (origin, notebook_id), _ in frame[elsewhere].groupby(["origin", "notebook_id"], sort=False):
            problems.add(origin, notebook_id, DUPLICATE_NOTEBOOK, "a notebook an earlier predictions file holds; kept the first")
        frame = frame[~elsewhere]
    duplicated = frame["id"].duplicated(keep="first")
    if duplicated.any():
        problems = problem_log(problems)
        for _, row in frame[duplicated].iterrows():
            problems.add(row["origin"], row["id"], DUPLICATE_CELL, "the same cell id was predicted twice; kept the first")
        frame = frame[~duplicated]

    frame["role"] = frame["role"].fillna(NO_ROLE) if "role" in frame else NO_ROLE
    frame["index"] = frame["index"].astype("int64")
    frame["lines"] = frame["lines"].astype("int64")
    if "repo" not in frame:
        notebook_ids = frame["notebook_id"].unique()
        frame["repo"] = frame["notebook_id"].map(dict(zip(notebook_ids, map(repo_from_notebook_id, notebook_ids))))
    frame = frame.sort_values(["notebook_id", "index"], kind="stable").reset_index(drop=True)
    rank = frame.groupby("notebook_id", sort=False).cumcount()
    size = frame.groupby("notebook_id", sort=False)["id"].transform("size")
    frame["position"] = cell_position(rank, size)
    frame["labelled"] = frame["stage"].notna()
    return frame


def as_frame(preds: PredictionsLike, problems: ProblemLog | None = None) -> pd.DataFrame:
    """``preds`` as the cell table, loading it unless it already is one."""
    if isinstance(preds, pd.DataFrame) and {"position", "labelled"} <= set(preds.columns):
        return preds
    return load_predictions(preds, problems)


def read_table(path: str | Path) -> pd.DataFrame:
    """Read a CSV, TSV or Parquet table, chosen by the file name."""
    path = Path(path)
    suffixes = "".join(path.suffixes).lower()
    if suffixes.endswith(".parquet") or suffixes.endswith(".pq"):
        return pd.read_parquet(path)
    if ".tsv" in suffixes or ".tab" in suffixes:
        return pd.read_csv(path, sep="\t")
    if ".csv" in suffixes:
        return pd.read_csv(path)
    raise ValueError(f"{path}: cannot tell the table format; use .csv, .tsv or .parquet")


def attach_metadata(
    preds: PredictionsLike,
    metadata: pd.DataFrame | str | Path,
    key: str | None = None,
    problems: ProblemLog | None = None,
) -> pd.DataFrame:
    """Add a metadata table's columns to every cell, joined on ``notebook_id`` or ``repo``.

    ``key`` is the metadata column to join on; by default ``notebook_id`` if the table has
    it, else ``repo``. Repositories are matched case-insensitively. Notebooks the table does
    not cover keep null metadata and are reported as ``no-metadata``.
    """
    frame = as_frame(preds, problems)
    table = read_table(metadata) if isinstance(metadata, (str, Path)) else metadata.copy()
    table = table.convert_dtypes()  # nullable dtypes: notebooks without a row keep 0/1 groups integer
    origin = str(metadata) if isinstance(metadata, (str, Path)) else "<metadata>"
    if key is None:
        key = next((k for k in ("notebook_id", "repo") if k in table.columns), None)
        if key is None:
            raise ValueError(f"{origin}: the metadata table needs a notebook_id or repo column (or name one with key=)")
    if key not in table.columns:
        raise ValueError(f"{origin}: no column {key!r} in the metadata table (columns: {', '.join(map(str, table.columns))})")
    join_on = "notebook_id" if key in ("notebook_id", "id") else "repo"
    table = table.rename(columns={key: join_on})
    if join_on == "repo":
        table["repo"] = table["repo"].astype(str).str.strip().str.lower()
    if table[join_on].duplicated().any():
        raise ValueError(f"{origin}: {key} values repeat in the metadata table; each must appear once")
    supplies_repo = join_on == "notebook_id" and "repo" in table.columns
    if supplies_repo:
        table["repo"] = table["repo"].str.strip().str.lower()
        frame = frame.rename(columns={"repo": "_repo_from_id"})
    clashes = [c for c in table.columns if c != join_on and c in frame.columns]
    if clashes:
        raise ValueError(f"{origin}: metadata columns {', '.join(clashes)} clash with prediction columns; rename them")
    merged = frame.merge(table, on=join_on, how="left", indicator=True)
    if supplies_repo:  # a repo in the table wins over one read off the notebook id
        merged["repo"] = merged["repo"].fillna(merged.pop("_repo_from_id"))
    problems = problem_log(problems)
    for notebook_id in merged.loc[merged["_merge"] == "left_only", "notebook_id"].unique():
        problems.add(origin, notebook_id, NO_METADATA, f"no row with this {join_on} in the metadata table")
    return merged.drop(columns="_merge")
