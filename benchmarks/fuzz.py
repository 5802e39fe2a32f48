"""Fuzz coral's readers, parser and CLI with many generated hostile inputs, and print the counts.

    .venv/bin/python benchmarks/fuzz.py [--cases 300] [--examples 200] [--cli-cases 10]
                                        [--seed 0] [--limit 60]

Four runs, each case under a time limit of ``--limit`` seconds (SIGALRM; a case past it is
a hang):

- ``--cases`` generated corpus folders (tests/fuzz/hostile.py: damaged and absurd notebooks,
  zip and tar archives, JSON Lines of every layout plain and gzipped, FIFOs, links, hidden
  files), read and parsed by the library;
- ``--examples`` hypothesis examples of notebook JSON and JSON Lines records of each layout;
- ``--examples`` hypothesis examples of code cells (IPython syntax, broken code, surrogates),
  parsed as notebooks, with their AST graphs checked;
- ``--cli-cases`` of the generated folders through ``coral corpus parse`` (work units of 3
  notebooks), ``coral corpus stats``, ``coral label`` and ``coral predict --model heuristics``,
  compared with the library.

For each run it prints cases, input items (notebook files, archive members, JSON lines,
files to refuse), how many were used and how many reported, code cells parsed and reported,
and every item lost, every failure caught only by a catch-all, crash and hang. Exits 1 if
there is any. The tests in tests/fuzz run the same checks on a few cases.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

from hypothesis import HealthCheck, given, seed, settings
from hypothesis import strategies as st

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.fuzz.hostile import (  # noqa: E402
    CaseTimeout, Counts, check_cli, check_code, check_folder, make_case, strategies, write_json_inputs,
)


def generated_cases(root: Path, first_seed: int, cases: int, limit: float) -> Counts:
    total = Counts()
    for case_seed in range(first_seed, first_seed + cases):
        folder = root / f"case{case_seed}"
        make_case(folder, case_seed)
        total.merge(check_folder(folder, limit))
    return total


def _settings(examples: int) -> settings:
    return settings(max_examples=examples, deadline=None, database=None, suppress_health_check=list(HealthCheck))


def hypothesis_inputs(examples: int, run_seed: int, limit: float) -> Counts:
    """Notebook JSON files and JSON Lines records of each layout, accounted like a generated folder."""
    strategy = strategies()
    total = Counts()

    @seed(run_seed)
    @_settings(examples)
    @given(notebooks=st.lists(strategy["notebook"], max_size=4),
           records=st.fixed_dictionaries({layout: st.lists(records, max_size=3) for layout, records in strategy["records"].items()}),
           gzipped=st.booleans())
    def notebooks_and_records(notebooks, records, gzipped):
        with tempfile.TemporaryDirectory() as folder:
            write_json_inputs(Path(folder), notebooks, records, gzipped)
            total.merge(check_folder(Path(folder), limit))

    notebooks_and_records()
    return total


def hypothesis_code(examples: int, run_seed: int, limit: float) -> Counts:
    """Notebooks of generated code cells, parsed; a case is one notebook, its inputs its cells."""
    strategy = strategies()
    total = Counts()

    @seed(run_seed)
    @_settings(examples)
    @given(cells=st.lists(st.tuples(strategy["code"], st.none() | st.integers()), min_size=1, max_size=5))
    def code_cells(cells):
        sources, counts = zip(*cells)
        total.cases += 1
        total.inputs += len(sources)
        try:
            check_code(list(sources), list(counts), limit)
        except (CaseTimeout, Exception) as error:  # noqa: BLE001 - recorded, not raised
            total.failures.append(f"code cells {list(sources)!r}: {error!r}")
            return
        total.used += len(sources)
        total.code_cells += len(sources)
        total.cells_parsed += len(sources)

    code_cells()
    return total


def cli_cases(root: Path, first_seed: int, cases: int, limit: float) -> tuple[Counts, int]:
    """The generated folders through the commands; with the cells ``coral corpus parse`` wrote twice."""
    total = Counts()
    written_twice = 0
    for case_seed in range(first_seed, first_seed + cases):
        work = root / f"cli{case_seed}"
        work.mkdir()
        total.cases += 1
        failures, twice = check_cli(root / f"case{case_seed}", work, limit)
        total.failures += failures
        written_twice += twice
    return total, written_twice


def report(name: str, counts: Counts, seconds: float) -> None:
    print(f"{name} ({seconds:.0f} s): {counts.summary()}")
    for what, entries in (("lost", counts.lost), ("unforeseen", counts.unforeseen), ("failure", counts.failures)):
        for entry in entries[:20]:
            print(f"  {what}: {entry}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cases", type=int, default=300, help="generated corpus folders (default 300)")
    parser.add_argument("--examples", type=int, default=200, help="hypothesis examples per property (default 200)")
    parser.add_argument("--cli-cases", type=int, default=10, help="generated folders run through the CLI (default 10)")
    parser.add_argument("--seed", type=int, default=0, help="first case seed, and hypothesis's seed (default 0)")
    parser.add_argument("--limit", type=float, default=60, help="seconds a case may take before it counts as a hang (default 60)")
    args = parser.parse_args()
    total = Counts()
    with tempfile.TemporaryDirectory() as scratch:
        root = Path(scratch)
        started = time.perf_counter()
        counts = generated_cases(root, args.seed, max(args.cases, args.cli_cases), args.limit)
        report("generated corpora", counts, time.perf_counter() - started)
        total.merge(counts)
        for name, run in (("hypothesis notebooks and records", hypothesis_inputs), ("hypothesis code cells", hypothesis_code)):
            started = time.perf_counter()
            counts = run(args.examples, args.seed, args.limit)
            report(name, counts, time.perf_counter() - started)
            total.merge(counts)
        started = time.perf_counter()
        counts, written_twice = cli_cases(root, args.seed, args.cli_cases, args.limit)
        print(f"CLI: {counts.cases} corpora x 4 commands ({time.perf_counter() - started:.0f} s), "
              f"{len(counts.failures)} failures; coral corpus parse wrote {written_twice} cells more often than the library reads them "
              "(a JuICe cell id named by records of two work units is not detected yet)")
        for failure in counts.failures[:20]:
            print(f"  failure: {failure}")
        total.failures += counts.failures
    print(f"total: {total.summary()}")
    return 1 if total.lost or total.unforeseen or total.failures else 0


if __name__ == "__main__":
    sys.exit(main())
