"""Fuzzing the readers, the parser and the CLI: no crash, no hang, every input used or reported.

Small numbers of cases, fixed seeds and derandomized hypothesis, so that CI runs the same
inputs each time in well under a minute; ``benchmarks/fuzz.py`` runs many more and prints the
counts. Each case runs under a time limit (hostile.CASE_LIMIT_S) that fails it as a hang.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from .hostile import Counts, check_cli, check_code, check_folder, make_case, strategies, write_json_inputs

STRATEGIES = strategies()
FUZZ_SETTINGS = settings(deadline=None, derandomize=True, database=None,
                         suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


def assert_accounted(counts: Counts) -> None:
    assert counts.failures == [], counts.failures  # crashes and hangs
    assert counts.unforeseen == [], counts.unforeseen  # caught only by a catch-all: a bug
    assert counts.lost == [], counts.lost
    assert counts.used + counts.reported == counts.inputs
    assert counts.cells_parsed + counts.cells_reported == counts.code_cells


def test_generated_hostile_corpora_lose_nothing(tmp_path):
    total = Counts()
    for seed in range(30):
        make_case(tmp_path / f"case{seed}", seed)
        total.merge(check_folder(tmp_path / f"case{seed}"))
    assert_accounted(total)
    assert total.used > 0 and total.reported > 0 and total.cells_parsed > 0  # the cases hold both kinds


@pytest.mark.parametrize("seed", [3, 7])
def test_the_commands_use_or_report_what_the_library_does(tmp_path, seed):
    make_case(tmp_path / "corpus", seed)
    failures, _ = check_cli(tmp_path / "corpus", tmp_path)
    assert failures == []


@settings(FUZZ_SETTINGS, max_examples=25)
@given(notebooks=st.lists(STRATEGIES["notebook"], max_size=4),
       records=st.fixed_dictionaries({layout: st.lists(strategy, max_size=3)
                                      for layout, strategy in STRATEGIES["records"].items()}),
       gzipped=st.booleans())
def test_any_notebook_json_or_record_is_used_or_reported(notebooks, records, gzipped):
    with tempfile.TemporaryDirectory() as folder:
        write_json_inputs(Path(folder), notebooks, records, gzipped)
        assert_accounted(check_folder(Path(folder)))


@settings(FUZZ_SETTINGS, max_examples=60)
@given(cells=st.lists(st.tuples(STRATEGIES["code"], st.none() | st.integers()), min_size=1, max_size=5))
def test_any_code_parses_into_a_tree_with_resolved_calls(cells):
    sources, counts = zip(*cells)
    check_code(list(sources), list(counts))
