"""The ground floor's problem log: reason codes, and what ``problems=None`` means everywhere."""

from __future__ import annotations

import logging

import numpy as np

from coral import problems as reasons
from coral.labeling.apply import apply_lfs
from coral.problems import LF_ERROR, Problem, ProblemLog, WarningProblemLog, problem_log
from coral.stages import N_STAGES, Stage, is_covered


def test_reason_codes_are_distinct_kebab_case_strings():
    codes = {name: value for name, value in vars(reasons).items() if name.isupper() and isinstance(value, str)}
    assert len(set(codes.values())) == len(codes) > 25
    assert all(value == value.lower() and " " not in value for value in codes.values())


def test_none_means_every_problem_becomes_a_warning(caplog):
    log = problem_log(None)
    assert isinstance(log, WarningProblemLog)
    mine = ProblemLog()
    assert problem_log(mine) is mine
    with caplog.at_level(logging.WARNING, logger="coral.problems"):
        log.extend([Problem("a.ipynb", "a.ipynb#3", reasons.OVERSIZE, "big")])
    assert "a.ipynb#3" in caplog.text and "oversize" in caplog.text and len(log) == 1


def test_an_lf_error_without_a_log_is_a_warning_and_an_abstain(make_cell, caplog):
    from snorkel.labeling import labeling_function

    @labeling_function()
    def broken(cell):
        raise KeyError("no such field")

    with caplog.at_level(logging.WARNING, logger="coral.problems"):
        L = apply_lfs([make_cell("x = 1", id="nb#0")], [broken], on_error="log")
    assert L.tolist() == [[-1]] and LF_ERROR in caplog.text and "nb#0" in caplog.text


def test_is_covered_marks_all_zero_rows_as_abstain():
    proba = np.zeros((3, N_STAGES))
    proba[0, Stage.MODEL] = 1.0
    proba[2] = 1.0 / N_STAGES
    assert is_covered(proba).tolist() == [True, False, True]
