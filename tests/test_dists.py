"""Tests for sibsim.dists: every prior kind against scipy.stats, validation, copula.

Table-driven over every prior kind, as scipy.stats' own tests are: each case
pairs a sibsim prior with the scipy distribution it must be (built here from
the closed-form parameterisation, not from sibsim's code). Statistical checks
use fixed seeds, KS / chi-square tests at p > 0.01 and tolerances of four
Monte Carlo standard errors.
"""

from __future__ import annotations

import copy
import math
from pathlib import Path

import numpy as np
import pytest
import yaml
from numpy.testing import assert_allclose
from pydantic import ValidationError
from scipy import stats

import sibsim
from sibsim import draw
from sibsim.dists import (
    PRIOR_KINDS,
    Beta,
    Empirical,
    Fixed,
    LogNormal,
    Normal,
    Pert,
    Triangular,
    Uniform,
    apply_copula,
    correlation_matrix,
)
from sibsim.engine import sample_params
from sibsim.spec import validate

ROOT = Path(__file__).resolve().parents[1]
N = 20_000
P_MIN = 0.01
GRID = np.array([1e-6, 0.001, 0.01, 0.05, 0.1, 0.25, 0.5, 0.75, 0.9, 0.95, 0.99, 0.999, 1 - 1e-6])


def beta_by_moments(m: float, s: float):
    k = m * (1 - m) / s**2 - 1
    return stats.beta(m * k, (1 - m) * k)


def lognormal_by_moments(m: float, s: float):
    sigma2 = math.log1p((s / m) ** 2)
    return stats.lognorm(s=math.sqrt(sigma2), scale=math.exp(math.log(m) - sigma2 / 2))


def pert_as_beta(low: float, mode: float, high: float, lam: float = 4.0):
    r = high - low
    return stats.beta(1 + lam * (mode - low) / r, 1 + lam * (high - mode) / r, loc=low, scale=r)


def truncnorm(m, s, low=None, high=None):
    a = -np.inf if low is None else (low - m) / s
    b = np.inf if high is None else (high - m) / s
    return stats.truncnorm(a, b, loc=m, scale=s)


# (id, prior, the scipy distribution it must be)
CONTINUOUS = [
    ("uniform", Uniform(low=-1.0, high=3.0), stats.uniform(loc=-1.0, scale=4.0)),
    ("triangular", Triangular(low=0.0, mode=2.0, high=10.0), stats.triang(0.2, loc=0.0, scale=10.0)),
    ("triangular-mode-at-low", Triangular(low=1.0, mode=1.0, high=2.0), stats.triang(0.0, loc=1.0, scale=1.0)),
    ("triangular-mode-at-high", Triangular(low=1.0, mode=2.0, high=2.0), stats.triang(1.0, loc=1.0, scale=1.0)),
    ("pert", Pert(low=100.0, mode=150.0, high=300.0), pert_as_beta(100.0, 150.0, 300.0)),
    ("pert-lam-2", Pert(low=0.0, mode=0.9, high=1.0, lam=2.0), pert_as_beta(0.0, 0.9, 1.0, lam=2.0)),
    ("normal", Normal(mean=0.1, sd=0.04), stats.norm(0.1, 0.04)),
    ("normal-truncated", Normal(mean=0.1, sd=0.1, low=0.0, high=0.15), truncnorm(0.1, 0.1, 0.0, 0.15)),
    ("normal-truncated-below", Normal(mean=0.05, sd=0.1, low=0.0), truncnorm(0.05, 0.1, low=0.0)),
    ("normal-truncated-above", Normal(mean=1.0, sd=0.5, high=1.2), truncnorm(1.0, 0.5, high=1.2)),
    ("lognormal", LogNormal(mean=1.0, sd=0.1), lognormal_by_moments(1.0, 0.1)),
    ("lognormal-wide", LogNormal(mean=2.0, sd=1.0), lognormal_by_moments(2.0, 1.0)),
    ("beta-shape", Beta(a=2.0, b=5.0), stats.beta(2.0, 5.0)),
    ("beta-moments", Beta(mean=0.2, sd=0.03), beta_by_moments(0.2, 0.03)),
    ("beta-moments-high", Beta(mean=0.8, sd=0.05), beta_by_moments(0.8, 0.05)),
]
EMPIRICAL_VALUES = [3.0, 1.0, 4.0, 1.0, 5.0, 9.0, 2.0, 6.0]
DISCRETE = [
    ("fixed", Fixed(value=2.5)),
    ("empirical", Empirical(values=EMPIRICAL_VALUES)),
]
ALL = [(i, p) for i, p, _ in CONTINUOUS] + DISCRETE


def uniforms(seed: int, n: int = N) -> np.ndarray:
    return np.random.default_rng(seed).random(n)


def test_table_covers_every_prior_kind():
    assert {p.dist for _, p in ALL} == set(PRIOR_KINDS)


# --------------------------------------------------------------------------
# Sampling by inverse CDF
# --------------------------------------------------------------------------


@pytest.mark.parametrize("prior, ref", [c[1:] for c in CONTINUOUS], ids=[c[0] for c in CONTINUOUS])
def test_ppf_samples_follow_the_scipy_distribution(prior, ref):
    x = prior.ppf(uniforms(20240601))
    assert x.shape == (N,) and x.dtype == np.float64
    assert stats.kstest(x, ref.cdf).pvalue > P_MIN


@pytest.mark.parametrize("prior, ref", [c[1:] for c in CONTINUOUS], ids=[c[0] for c in CONTINUOUS])
def test_ppf_equals_scipy_quantiles(prior, ref):
    # beta and PERT use a tabulated inverse CDF (error < 1e-6, see test_tabulated_beta_...)
    assert_allclose(prior.ppf(GRID), ref.ppf(GRID), rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("prior, ref", [c[1:] for c in CONTINUOUS], ids=[c[0] for c in CONTINUOUS])
def test_ppf_keeps_the_shape_of_its_input_and_is_monotone(prior, ref):
    u = uniforms(7, 60).reshape(3, 4, 5)
    assert prior.ppf(u).shape == (3, 4, 5)
    x = prior.ppf(np.sort(u.ravel()))
    assert np.all(np.diff(x) >= 0)


@pytest.mark.parametrize(
    "prior, low, high",
    [
        (Normal(mean=0.1, sd=0.1, low=0.0, high=0.15), 0.0, 0.15),
        (Normal(mean=0.05, sd=0.1, low=0.0), 0.0, np.inf),
        (Normal(mean=3.0, sd=1.0, low=-1.0, high=-0.5), -1.0, -0.5),  # window far in the tail
        (Uniform(low=-1.0, high=3.0), -1.0, 3.0),
        (Triangular(low=0.0, mode=2.0, high=10.0), 0.0, 10.0),
        (Pert(low=100.0, mode=150.0, high=300.0), 100.0, 300.0),
        (Beta(mean=0.2, sd=0.03), 0.0, 1.0),
        (LogNormal(mean=1.0, sd=0.1), 0.0, np.inf),
    ],
    ids=["truncnorm", "truncnorm-low", "truncnorm-tail", "uniform", "triangular", "pert", "beta", "lognormal"],
)
def test_draws_stay_in_the_support(prior, low, high):
    x = prior.ppf(np.concatenate([uniforms(11), [0.0, 1e-12, 1 - 1e-12]]))
    assert np.all(np.isfinite(x[:-1]))
    assert np.all((x >= low) & (x <= high))


def test_fixed_is_constant():
    x = Fixed(value=2.5).ppf(uniforms(1, 100))
    assert np.all(x == 2.5) and x.dtype == np.float64


def test_empirical_resamples_each_listed_value_equally():
    x = Empirical(values=EMPIRICAL_VALUES).ppf(uniforms(20240602))
    assert set(np.unique(x)) == set(EMPIRICAL_VALUES)
    values, expected_weight = np.unique(EMPIRICAL_VALUES, return_counts=True)
    observed = np.array([(x == v).sum() for v in values])
    expected = N * expected_weight / len(EMPIRICAL_VALUES)
    assert stats.chisquare(observed, expected).pvalue > P_MIN


def test_empirical_boundaries():
    e = Empirical(values=[10.0, 30.0, 20.0, 40.0])
    assert_allclose(e.ppf(np.array([0.0, 0.2499, 0.25, 0.5, 0.75, 0.9999, 1.0])), [10, 10, 20, 30, 40, 40, 40])
    assert_allclose(Empirical(values=[7.0]).ppf(uniforms(2, 10)), 7.0)


# --------------------------------------------------------------------------
# Mean and variance: closed forms, and agreement with samples
# --------------------------------------------------------------------------


@pytest.mark.parametrize("prior, ref", [c[1:] for c in CONTINUOUS], ids=[c[0] for c in CONTINUOUS])
def test_mean_and_variance_match_scipy_closed_forms(prior, ref):
    assert_allclose(prior.mean, ref.mean(), rtol=1e-9)
    assert_allclose(prior.variance, ref.var(), rtol=1e-9)


@pytest.mark.parametrize(
    "prior, mean, variance",
    [
        (Fixed(value=2.5), 2.5, 0.0),
        (Uniform(low=2.0, high=8.0), 5.0, 3.0),
        (Triangular(low=0.0, mode=3.0, high=6.0), 3.0, 1.5),
        (Pert(low=0.0, mode=3.0, high=6.0), 3.0, 9 / 7),  # symmetric: a = b = 3 on a width of 6
        (Normal(mean=0.1, sd=0.04), 0.1, 0.0016),
        (Normal(mean=0.0, sd=1.0, low=0.0), math.sqrt(2 / math.pi), 1 - 2 / math.pi),  # half-normal
        (LogNormal(mean=1.0, sd=0.1), 1.0, 0.01),
        (Beta(a=2.0, b=2.0), 0.5, 0.05),
        (Beta(mean=0.2, sd=0.03), 0.2, 0.0009),
        (Empirical(values=[1.0, 2.0, 3.0, 6.0]), 3.0, 3.5),
    ],
    ids=["fixed", "uniform", "triangular", "pert", "normal", "half-normal", "lognormal", "beta-shape",
         "beta-moments", "empirical"],
)
def test_mean_and_variance_worked_by_hand(prior, mean, variance):
    assert_allclose(prior.mean, mean, rtol=1e-12, atol=1e-15)
    assert_allclose(prior.variance, variance, rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("prior", [p for _, p in ALL], ids=[i for i, _ in ALL])
def test_mean_and_variance_agree_with_samples(prior):
    x = prior.ppf(uniforms(20240603))
    if prior.variance == 0:
        assert np.all(x == prior.mean)
        return
    mean_se = math.sqrt(prior.variance / N)
    assert abs(x.mean() - prior.mean) < 4 * mean_se
    centred = x - x.mean()
    var_se = math.sqrt(max(np.mean(centred**4) - np.mean(centred**2) ** 2, 0.0) / N)
    assert abs(x.var(ddof=1) - prior.variance) < 4 * var_se


@pytest.mark.parametrize("prior", [p for _, p in ALL], ids=[i for i, _ in ALL])
def test_quantile_and_support_agree_with_ppf(prior):
    assert prior.quantile(0.5) == pytest.approx(float(prior.ppf(np.array([0.5]))[0]))
    lo, hi = prior.support
    x = prior.ppf(uniforms(4, 1000))
    assert lo <= x.min() and x.max() <= hi


# --------------------------------------------------------------------------
# Validation on construction
# --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "cls, kwargs, message",
    [
        (Uniform, dict(low=1.0, high=1.0), r"high \(1.0\) must be greater than low \(1.0\)"),
        (Uniform, dict(low=2.0, high=1.0), r"high \(1.0\) must be greater than low \(2.0\)"),
        (Normal, dict(mean=0.0, sd=1.0, low=2.0, high=1.0), r"high \(1.0\) must be greater than low \(2.0\)"),
        (Normal, dict(mean=0.0, sd=-1.0), r"sd\n.*greater than or equal to 0"),
        (Normal, dict(mean=0.0, sd=0.0, low=0.0), "a truncated normal needs sd > 0"),
        (LogNormal, dict(mean=1.0, sd=-0.1), r"sd\n.*greater than 0"),
        (LogNormal, dict(mean=1.0, sd=0.0), r"sd\n.*greater than 0"),
        (LogNormal, dict(mean=-1.0, sd=0.1), r"mean\n.*greater than 0"),
        (Beta, dict(mean=0.5, sd=0.6), r"sd must be below sqrt\(mean\*\(1-mean\)\) = 0.5 for a beta; got 0.6"),
        (Beta, dict(mean=0.2, sd=0.4), r"sd must be below .* = 0.4 for a beta; got 0.4"),
        (Beta, dict(mean=1.2, sd=0.1), "mean must lie strictly between 0 and 1; got 1.2"),
        (Beta, dict(mean=0.0, sd=0.1), "mean must lie strictly between 0 and 1; got 0.0"),
        (Beta, dict(a=0.0, b=1.0), r"a\n.*greater than 0"),
        (Beta, dict(), "give either a and b, or mean and sd"),
        (Beta, dict(a=2.0), "give either a and b, or mean and sd"),
        (Beta, dict(a=2.0, b=3.0, mean=0.4, sd=0.2), "give either a and b, or mean and sd"),
        (Triangular, dict(low=0.0, mode=5.0, high=1.0), "need low <= mode <= high and low < high; got low=0.0, mode=5.0, high=1.0"),
        (Triangular, dict(low=0.0, mode=-1.0, high=1.0), "mode=-1.0"),
        (Triangular, dict(low=1.0, mode=1.0, high=1.0), "low < high"),
        (Pert, dict(low=0.0, mode=5.0, high=1.0), "need low <= mode <= high and low < high; got low=0.0, mode=5.0, high=1.0"),
        (Pert, dict(low=0.0, mode=0.5, high=1.0, lam=0.0), r"lam\n.*greater than 0"),
        (Empirical, dict(values=[]), r"values\n.*at least 1 item"),
        (Uniform, dict(low=0.0, high=1.0, mode=0.5), r"mode\n.*Extra inputs are not permitted"),
        (Fixed, dict(value="abc"), r"value\n.*valid number"),
    ],
    ids=lambda v: v.__name__ if isinstance(v, type) else None,
)
def test_bad_arguments_raise_a_validation_error_that_names_the_problem(cls, kwargs, message):
    with pytest.raises(ValidationError, match=message):
        cls(**kwargs)


@pytest.mark.parametrize("kwargs", [dict(a=2.0, mean=0.5, sd=0.1), dict(b=2.0, mean=0.5, sd=0.1),
                                    dict(a=2.0, b=3.0, mean=0.5)])
def test_beta_refuses_a_mix_of_shape_and_moments(kwargs):
    with pytest.raises(ValidationError, match="give either a and b, or mean and sd"):
        Beta(**kwargs)


@pytest.mark.parametrize("prior", [p for _, p in ALL], ids=[i for i, _ in ALL])
def test_priors_are_frozen(prior):
    with pytest.raises(ValidationError, match="frozen"):
        prior.dist = "uniform"


# --------------------------------------------------------------------------
# Printing
# --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "prior, text",
    [
        (Fixed(value=2.5), "fixed(value=2.5)"),
        (Uniform(low=-1.0, high=3.0), "uniform(low=-1.0, high=3.0)"),
        (Triangular(low=0.0, mode=2.0, high=10.0), "triangular(low=0.0, mode=2.0, high=10.0)"),
        (Pert(low=100.0, mode=150.0, high=300.0), "pert(low=100.0, mode=150.0, high=300.0, lam=4.0)"),
        (Normal(mean=0.1, sd=0.04), "normal(mean=0.1, sd=0.04)"),
        (Normal(mean=0.1, sd=0.1, low=0.0, high=0.15), "normal(mean=0.1, sd=0.1, low=0.0, high=0.15)"),
        (Normal(mean=0.1, sd=0.1, high=0.15), "normal(mean=0.1, sd=0.1, high=0.15)"),
        (LogNormal(mean=1.0, sd=0.1), "lognormal(mean=1.0, sd=0.1)"),
        (Beta(a=2.0, b=5.0), "beta(a=2, b=5)"),
        (Beta(mean=0.5, sd=0.1), "beta(a=12, b=12)"),  # by moments: printed as its shape
        (Empirical(values=[1.0, 2.0, 3.0]), "empirical(n=3)"),
    ],
    ids=str,
)
def test_str_names_the_kind_and_its_arguments(prior, text):
    assert str(prior) == text
    assert repr(prior).startswith(type(prior).__name__ + "(")


# --------------------------------------------------------------------------
# Gaussian copula
# --------------------------------------------------------------------------


def spearman_within_mc_error(x, y, rho: float) -> None:
    """Spearman's rho of (x, y) equals the Gaussian-copula value 6/pi asin(rho/2), to 4 standard
    errors on Fisher's z scale (var(z) = 1.06 / (n - 3), Fieller, Hartley and Pearson 1957)."""
    expected = 6 / math.pi * math.asin(rho / 2)
    got = stats.spearmanr(x, y).statistic
    se = math.sqrt(1.06 / (len(x) - 3))
    assert abs(math.atanh(got) - math.atanh(expected)) < 4 * se, (got, expected)


def test_correlation_matrix_is_symmetric_with_unit_diagonal():
    c = correlation_matrix(["a", "b", "c"], [("a", "c", 0.3), ("c", "b", -0.2)])
    assert_allclose(c, [[1, 0, 0.3], [0, 1, -0.2], [0.3, -0.2, 1]])


def test_correlation_matrix_refuses_a_matrix_that_is_not_positive_definite():
    with pytest.raises(ValueError):
        correlation_matrix(["a", "b", "c"], [("a", "b", 0.9), ("b", "c", 0.9), ("a", "c", -0.9)])


@pytest.mark.parametrize("rho", [0.6, -0.4])
def test_copula_gives_the_gaussian_copula_spearman_correlation(rho):
    u = np.random.default_rng(20240604).random((N, 2))
    chol = np.linalg.cholesky(correlation_matrix(["x", "y"], [("x", "y", rho)]))
    v = apply_copula(u, chol)
    assert v.shape == (N, 2)
    spearman_within_mc_error(v[:, 0], v[:, 1], rho)
    for j in range(2):
        assert np.all((v[:, j] > 0) & (v[:, j] < 1))
        assert stats.kstest(v[:, j], "uniform").pvalue > P_MIN


def test_copula_leaves_the_first_column_alone_and_none_means_independent():
    u = np.random.default_rng(5).random((1000, 3))
    chol = np.linalg.cholesky(correlation_matrix(["a", "b", "c"], [("b", "c", 0.5)]))
    v = apply_copula(u, chol)
    assert_allclose(v[:, 0], u[:, 0], rtol=1e-12)
    assert apply_copula(u, None) is u


def test_copula_copes_with_uniforms_at_the_ends():
    chol = np.linalg.cholesky(correlation_matrix(["x", "y"], [("x", "y", 0.6)]))
    v = apply_copula(np.array([[0.0, 0.0], [1.0, 1.0], [0.0, 1.0]]), chol)
    assert np.all(np.isfinite(v)) and np.all((v >= 0) & (v <= 1))


# --------------------------------------------------------------------------
# Parameter draws in the engine
# --------------------------------------------------------------------------


def benchmark_dict() -> dict:
    return yaml.safe_load((ROOT / "scenarios" / "benchmark.yaml").read_text())


def test_sample_params_on_the_benchmark_have_the_priors_means():
    sc = validate(benchmark_dict())
    d = draw.BlockDraws(20240605, 0, 10)
    params = sample_params(sc, d)
    assert set(params) == set(sc.parameters)
    for name, prior in sc.priors.items():
        x = params[name]
        assert x.shape == (d.n,)
        assert abs(x.mean() - prior.mean) < 4 * math.sqrt(prior.variance / d.n), name
    # no correlations in the benchmark: parameters are drawn independently
    names = list(params)
    for i, a in enumerate(names):
        for b in names[i + 1:]:
            spearman_within_mc_error(params[a], params[b], 0.0)


def test_sample_params_marginals_match_the_priors():
    sc = validate(benchmark_dict())
    params = sample_params(sc, draw.BlockDraws(20240606, 0, 5))
    assert stats.kstest(params["job_entry_p0"], beta_by_moments(0.20, 0.03).cdf).pvalue > P_MIN
    assert stats.kstest(params["job_entry_uplift"], stats.norm(0.10, 0.04).cdf).pvalue > P_MIN
    assert stats.kstest(params["cost_multiplier"], lognormal_by_moments(1.0, 0.1).cdf).pvalue > P_MIN


def test_a_correlations_entry_correlates_the_parameter_draws_of_a_run():
    d = benchmark_dict()
    d["correlations"] = [{"a": "job_entry_p0", "b": "job_entry_uplift", "rho": 0.6}]
    run = sibsim.simulate(validate(d), trials=4000, seed=20240607)
    p = run.params
    spearman_within_mc_error(p["job_entry_p0"], p["job_entry_uplift"], 0.6)
    spearman_within_mc_error(p["job_entry_p0"], p["qualification_p0"], 0.0)
    # the copula changes the dependence, not the marginals
    assert stats.kstest(p["job_entry_p0"], beta_by_moments(0.20, 0.03).cdf).pvalue > P_MIN
    assert stats.kstest(p["job_entry_uplift"], stats.norm(0.10, 0.04).cdf).pvalue > P_MIN
    # and the uncorrelated run on the same seed has independent draws
    plain = sibsim.simulate(validate(benchmark_dict()), trials=4000, seed=20240607)
    spearman_within_mc_error(plain.params["job_entry_p0"], plain.params["job_entry_uplift"], 0.0)


def test_a_self_correlation_cannot_distort_a_parameters_marginal():
    d = benchmark_dict()
    d["correlations"] = [{"a": "engagement", "b": "engagement", "rho": 0.5}]
    try:
        sc = validate(d)
    except sibsim.ScenarioError:
        return  # refusing it is fine too
    x = sample_params(sc, draw.BlockDraws(20240608, 0, 5))["engagement"]
    assert stats.kstest(x, beta_by_moments(0.80, 0.05).cdf).pvalue > P_MIN


def test_copula_on_a_copy_of_the_benchmark_is_reproducible():
    d = benchmark_dict()
    d["correlations"] = [{"a": "engagement", "b": "cost_multiplier", "rho": -0.3}]
    sc = validate(copy.deepcopy(d))
    a = sample_params(sc, draw.BlockDraws(9, 0, 2))
    b = sample_params(validate(d), draw.BlockDraws(9, 0, 2))
    for k in a:
        np.testing.assert_array_equal(a[k], b[k])


@pytest.mark.parametrize("a,b", [(50.4, 12.6), (0.5, 0.5), (2.0, 5.0), (1.0, 1.0), (0.3, 3.0), (200.0, 3.0)])
def test_tabulated_beta_inverse_cdf_matches_scipy(a, b):
    from scipy import special

    from sibsim.dists import beta_ppf

    u = np.random.default_rng(7).random(200_000)
    u[:4] = [0.0, 1e-9, 1 - 1e-9, 1.0]  # the exact tails
    np.testing.assert_allclose(beta_ppf(a, b, u), special.betaincinv(a, b, u), rtol=0, atol=1e-6)


# ---------------------------------------------------------------- validation of hostile arguments


@pytest.mark.parametrize("kind, args, words", [
    ("fixed", {"value": True}, "yes/no"),
    ("fixed", {"value": float("nan")}, "finite"),
    ("normal", {"mean": 0.0, "sd": float("inf")}, "finite"),
    ("normal", {"mean": 0.0, "sd": 1e308}, "too large"),
    ("uniform", {"low": float("-inf"), "high": 1.0}, "finite"),
    ("empirical", {"values": [1.0, float("nan")]}, "finite"),
    ("lognormal", {"mean": 1e-200, "sd": 1.0}, "sd / mean must be at most 1e6"),
    ("beta", {"a": 10**20, "b": 1.0}, "too large"),
    ("beta", {"mean": 0.5, "sd": 2.2e-311}, "sd is too small for a beta"),
])
def test_priors_refuse_hostile_arguments(kind, args, words):
    from pydantic import TypeAdapter

    from sibsim.dists import Prior

    with pytest.raises(ValidationError, match=words):
        TypeAdapter(Prior).validate_python({"dist": kind, **args})


def test_a_lognormal_with_negligible_spread_is_a_point():
    p = LogNormal(mean=2.0, sd=1e-200)
    assert p.ppf(np.array([0.1, 0.9])).tolist() == [2.0, 2.0]
