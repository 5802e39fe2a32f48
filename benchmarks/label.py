"""Cells per second for applying LF sets: coral's applier next to Snorkel's LFApplier and
PandasLFApplier, on the same LFs and the same parsed cells; with ``--workers N``, also the
whole input labeled by ``label_corpus`` (one process) and ``label_to_directory`` (Dask).

    python benchmarks/label.py [INPUT ...] [--cells N] [--lfs paper --lfs extended] [--workers N]

INPUT: corpus paths or a parsed Parquet directory (default: the github shards in ../shared).
Parsing is not timed for the appliers: cells are read first, then each applier labels them.
The whole-input timings include reading the input (and parsing it, for corpora).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from itertools import islice
from pathlib import Path

import numpy as np
from snorkel.labeling import LFApplier, PandasLFApplier

from coral.corpora.cells import read_cells
from coral.labeling.apply import apply_lfs, cells_to_frame
from coral.labeling.corpus import label_corpus, label_to_directory
from coral.labeling.matrix import LabelMatrix
from coral.labeling.lfsets import load_lfs

SHARED_GITHUB = Path(__file__).resolve().parents[1].parent / "shared" / "corpora" / "github"


def timed(label, n, run):
    started = time.perf_counter()
    result = run()
    seconds = time.perf_counter() - started
    print(f"  {label:<34} {seconds:7.2f} s  {n / seconds:10,.0f} cells/s")
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("inputs", nargs="*", type=Path)
    parser.add_argument("--cells", type=int, default=20_000, help="cells to label (first N of the input)")
    parser.add_argument("--lfs", action="append", help="LF sets to time, one at a time (default: paper, extended)")
    parser.add_argument("--workers", type=int, help="also label the whole input in one process and on N Dask workers")
    args = parser.parse_args()
    inputs = args.inputs or sorted(SHARED_GITHUB.glob("part-*.jsonl.gz"))
    cells = list(islice(read_cells(inputs), args.cells))
    frame = cells_to_frame(cells)
    print(f"{len(cells)} parsed cells from {', '.join(map(str, inputs))}")
    for spec in args.lfs or ["paper", "extended"]:
        lfs = load_lfs(spec)
        print(f"LF set {spec!r} ({len(lfs)} LFs)")
        ours = timed("coral apply_lfs", len(cells), lambda: apply_lfs(cells, lfs))
        listed = timed("snorkel LFApplier", len(cells), lambda: LFApplier(lfs).apply(cells, progress_bar=False))
        pandas = timed("snorkel PandasLFApplier", len(cells), lambda: PandasLFApplier(lfs).apply(frame, progress_bar=False))
        print(f"  same matrix: LFApplier {np.array_equal(ours, listed)}, PandasLFApplier {np.array_equal(ours, pandas)}")
        if args.workers:
            started = time.perf_counter()
            whole = label_corpus(inputs, lfs)
            n = len(whole.ids)
            print(f"  {'whole input, label_corpus':<34} {time.perf_counter() - started:7.2f} s  {n:,} cells")
            with tempfile.TemporaryDirectory() as out:
                timed(f"whole input, {args.workers} Dask workers", n,
                      lambda: label_to_directory(inputs, [spec], out, workers=args.workers))
                parallel = LabelMatrix.read(out)
            print(f"  same matrix: {parallel.ids == whole.ids and np.array_equal(parallel.L, whole.L)}")


if __name__ == "__main__":
    main()
