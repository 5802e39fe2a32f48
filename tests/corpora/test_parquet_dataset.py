"""The directories of ``coral corpus parse`` and ``coral label`` are Parquet datasets that
pandas, pyarrow.dataset and dask.dataframe open as they are (logs and plans are ``_``-named)."""

from __future__ import annotations

from pathlib import Path

import dask.dataframe as dd
import pandas as pd
import pyarrow.dataset as ds
import pytest

from coral.corpora.cells import read_cells
from coral.corpora.parquet import (ERRORS_FILE, PARQUET_SCHEMA, PLAN_FILE, SUMMARY_FILE, parsed_cell_ids, parsed_parts,
                                  read_parsed_cells)
from coral.corpora.pipeline import parse_corpus
from coral.labeling.corpus import label_corpus
from coral.labeling.lfsets import load_lf_sets
from coral.labeling.matrix import LABEL_PROBLEMS_FILE, META_FILE
from coral.problems import ProblemLog


def read_with_every_reader(directory: Path) -> dict[str, pd.DataFrame]:
    return {
        "pandas": pd.read_parquet(directory),
        "pyarrow.dataset": ds.dataset(directory, format="parquet").to_table().to_pandas(),
        "dask.dataframe": dd.read_parquet(directory).compute(),
    }


@pytest.fixture(scope="module")
def parsed(fixtures_dir, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("parsed")
    parse_corpus([fixtures_dir / "corpora"], out, workers=1, notebooks_per_unit=2)
    return out


def test_the_parsed_directory_opens_with_pandas_pyarrow_and_dask(parsed, fixtures_dir):
    names = {path.name for path in parsed.iterdir()}
    assert {PLAN_FILE, ERRORS_FILE, SUMMARY_FILE} <= names and len(parsed_parts(parsed)) > 1
    assert all(name.startswith("_") or name.endswith(".parquet") for name in names)
    expected_ids = [cell.id for cell in read_cells([fixtures_dir / "corpora"], problems=ProblemLog())]
    for reader, frame in read_with_every_reader(parsed).items():
        assert frame["id"].tolist() == expected_ids, reader  # every cell, in input order
        assert set(PARQUET_SCHEMA.names) <= set(frame.columns), reader


def test_some_notebooks_are_read_without_building_the_others(parsed):
    every = list(read_parsed_cells(parsed))
    assert list(parsed_cell_ids(parsed)) == [(cell.id, cell.notebook_id) for cell in every]
    wanted = frozenset({every[0].notebook_id, every[-1].notebook_id})
    some = list(read_parsed_cells(parsed, notebooks=wanted))
    assert [cell.id for cell in some] == [cell.id for cell in every if cell.notebook_id in wanted]
    assert some[0] == every[0]  # whole cells, graphs included
    assert list(read_parsed_cells(parsed, notebooks=frozenset())) == []


def test_the_label_matrix_directory_opens_with_pandas_pyarrow_and_dask(parsed, tmp_path):
    problems = ProblemLog()
    matrix = label_corpus([parsed], load_lf_sets(["paper"]), problems=problems)
    out = tmp_path / "labels"
    matrix.write(out)
    problems.write_jsonl(out / LABEL_PROBLEMS_FILE)
    assert (out / META_FILE).is_file()
    for reader, frame in read_with_every_reader(out).items():
        assert frame["id"].tolist() == matrix.ids, reader
        assert frame[matrix.lf_names].to_numpy().tolist() == matrix.L.tolist(), reader
