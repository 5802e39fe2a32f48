"""Each estimator recovers the coefficients of data simulated from its own model."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from coral.studies.composition import zscore
from coral.studies.regression import entropy_model, fit_negative_binomial, fraction_models, has_notebook_model

from .simulate import negative_binomial

YEAR_EFFECT = {2016: 0.0, 2017: 0.2, 2018: 0.4, 2019: -0.1}
DOMAIN_EFFECT = {"Biology": 0.0, "Computer Science": 0.5, "Physics": -0.3}
ALPHA = 0.8


def _papers(rng: np.random.Generator, n: int) -> pd.DataFrame:
    return pd.DataFrame({"year": rng.choice(list(YEAR_EFFECT), n), "domain": rng.choice(list(DOMAIN_EFFECT), n)})


def _controls(papers: pd.DataFrame) -> np.ndarray:
    return papers["year"].map(YEAR_EFFECT).to_numpy() + papers["domain"].map(DOMAIN_EFFECT).to_numpy()


def _covers(result, term: str, truth: float) -> bool:
    row = result.coefficients.set_index("term").loc[term]
    return row["ci_low"] <= truth <= row["ci_high"]


def test_r1_recovers_the_entropy_effect_and_the_controls():
    rng = np.random.default_rng(1)
    papers = _papers(rng, 3000).assign(entropy_lines=rng.gamma(4.0, 0.25, 3000))
    eta = 1.0 + 0.3 * zscore(papers["entropy_lines"]).to_numpy() + _controls(papers)
    papers["citations"] = negative_binomial(rng, np.exp(eta), ALPHA)
    result = entropy_model(papers)
    assert _covers(result, "z_entropy", 0.3)
    assert _covers(result, "Intercept", 1.0)
    assert _covers(result, "C(domain)[T.Computer Science]", 0.5) and _covers(result, "C(year)[T.2018]", 0.4)
    fit = result.fit.iloc[0]
    assert fit["converged"] and abs(fit["alpha"] - ALPHA) < 3 * fit["alpha_se"]
    row = result.coefficients.set_index("term").loc["z_entropy"]
    assert row["irr"] == pytest.approx(np.exp(row["coef"])) and row["irr_ci_low"] < row["irr"] < row["irr_ci_high"]


def test_r2_recovers_a_domain_specific_fraction_effect():
    rng = np.random.default_rng(2)
    papers = _papers(rng, 3000).assign(frac_lines_MODEL=rng.beta(2, 5, 3000))
    z = zscore(papers["frac_lines_MODEL"]).to_numpy()
    # +0.25 per SD in Biology (the reference domain), +0.25 - 0.4 in Computer Science, +0.25 in Physics
    slope = 0.25 + np.where(papers["domain"] == "Computer Science", -0.4, 0.0)
    papers["citations"] = negative_binomial(rng, np.exp(1.0 + slope * z + _controls(papers)), ALPHA)
    (result,) = fraction_models(papers, ["MODEL"])
    assert _covers(result, "z_frac_lines_MODEL", 0.25)
    assert _covers(result, "z_frac_lines_MODEL:C(domain)[T.Computer Science]", -0.4)
    assert _covers(result, "z_frac_lines_MODEL:C(domain)[T.Physics]", 0.0)
    assert result.name == "R2 MODEL"


def test_r3_recovers_the_has_notebook_effect():
    rng = np.random.default_rng(3)
    papers = _papers(rng, 3000).assign(has_notebook=rng.integers(0, 2, 3000))
    papers["citations"] = negative_binomial(rng, np.exp(0.8 + 0.35 * papers["has_notebook"] + _controls(papers)), ALPHA)
    result = has_notebook_model(papers)
    assert _covers(result, "has_notebook", 0.35)
    assert result.coefficients.set_index("term").loc["has_notebook", "p"] < 1e-6


def test_a_constant_control_is_dropped_not_fatal():
    rng = np.random.default_rng(4)
    papers = pd.DataFrame({"year": 2019, "domain": "Physics", "x": rng.normal(size=500)})
    papers["citations"] = negative_binomial(rng, np.exp(1.0 + 0.5 * papers["x"]), 0.5)
    result = has_notebook_model(papers.assign(has_notebook=(papers["x"] > 0).astype(int)))
    assert result.formula == "citations ~ has_notebook"
    assert _covers(fit_negative_binomial(papers, "citations ~ x"), "x", 0.5)
