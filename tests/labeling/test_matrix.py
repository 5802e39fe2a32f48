"""The label-matrix directory written piece by piece reads back as the whole matrix."""

from __future__ import annotations

import json

import numpy as np

from coral.labeling.matrix import META_FILE, LabelMatrix, write_label_matrix

LF_NAMES = ["lf_a", "lf_b", "lf_c"]


def pieces():
    """Three pieces of a matrix (one empty), yielded one at a time as the label job reads its parts."""
    rng = np.random.default_rng(0)
    for start, size in [(0, 5), (5, 0), (5, 7)]:
        L = rng.integers(-1, 5, size=(size, len(LF_NAMES)))
        if size:
            L[0] = -1  # each non-empty piece has an uncovered cell
        yield LabelMatrix(ids=[f"nb#{i}" for i in range(start, start + size)], L=L, lf_names=LF_NAMES)


def test_pieces_stream_into_one_matrix(tmp_path):
    whole = list(pieces())
    written = write_label_matrix(tmp_path, (piece.to_frame() for piece in pieces()), LF_NAMES, lf_sets=["x"])
    read = LabelMatrix.read(tmp_path)
    assert read.ids == [cell_id for piece in whole for cell_id in piece.ids]
    assert np.array_equal(read.L, np.vstack([piece.L for piece in whole]))
    assert (written.n_cells, written.n_covered) == (12, int((read.L != -1).any(axis=1).sum())) and written.n_covered < 12
    assert json.loads((tmp_path / META_FILE).read_text()) == {"lf_names": LF_NAMES, "n_cells": 12, "lf_sets": ["x"]}
    assert sorted(path.name for path in tmp_path.iterdir()) == [META_FILE, "label_matrix.parquet"]  # no temporary left


def test_no_pieces_is_an_empty_matrix(tmp_path):
    written = write_label_matrix(tmp_path, iter([]), LF_NAMES)
    assert written.n_cells == 0 and LabelMatrix.read(tmp_path).L.shape == (0, len(LF_NAMES))
