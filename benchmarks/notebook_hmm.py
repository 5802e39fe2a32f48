"""Throughput of the notebook HMM's smoothing (forward-backward per notebook), the part the
HMM adds to ``coral predict``: synthetic notebooks, with the shipped model's ``hmm.json``.

    python benchmarks/notebook_hmm.py [--notebooks 4000] [--cells-per-notebook 25] [--covered 0.83]

Prints cells/s; compare with ``benchmarks/predict.py``'s end-to-end figure (about 1,000 cells/s
on 2 cores) for the share of predict's time it costs.
"""

from __future__ import annotations

import argparse
import time
from dataclasses import replace

import numpy as np

from coral.corpora.parse import parse_code
from coral.corpora.records import ParsedCell
from coral.jobs.notebook_hmm import NotebookHMM
from coral.jobs.predict import DEFAULT_MODEL_DIR


def synthetic_cells(notebooks: int, per_notebook: int) -> list[ParsedCell]:
    cell = parse_code("df.head()")
    return [replace(cell, id=f"nb{n}#{i}", notebook_id=f"nb{n}", index=i) for n in range(notebooks) for i in range(per_notebook)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--notebooks", type=int, default=4000)
    parser.add_argument("--cells-per-notebook", type=int, default=25)
    parser.add_argument("--covered", type=float, default=0.83, help="share of cells the LFs label")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    hmm = NotebookHMM.load(DEFAULT_MODEL_DIR)
    cells = synthetic_cells(args.notebooks, args.cells_per_notebook)
    rng = np.random.default_rng(0)
    proba = rng.dirichlet(np.ones(5), size=len(cells))
    labelled = rng.random(len(cells)) < args.covered
    proba[labelled] = np.eye(5)[proba[labelled].argmax(axis=1)]
    for _ in range(args.repeats):
        started = time.perf_counter()
        hmm.smooth(cells, proba, labelled)
        seconds = time.perf_counter() - started
        print(f"notebook HMM: {len(cells):,} cells in {args.notebooks:,} notebooks, {seconds:.2f} s, "
              f"{len(cells) / seconds:,.0f} cells/s")


if __name__ == "__main__":
    main()
