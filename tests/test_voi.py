"""Value of information: the decision, EVPI, EVPPI (sibsim.decision, sibsim.valueinfo)."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

import sibsim
from sibsim.decision import APPRAISAL, decision, net_benefit, parse_wtp, wtp_key
from sibsim.errors import UsageError
from sibsim.valueinfo import perfect, smooth
from sibsim.valueinfo.analysis import analyse

LCF = "scenarios/life_chances_fund.yaml"


@pytest.fixture(scope="module")
def lcf_run():
    return sibsim.simulate(LCF, trials=3000, seed=3, finance=("pbr", "fee"))


def evpi_by_hand(nb):
    """Reference: mean over trials of the best option, minus the best mean, in plain Python."""
    n, J = nb.shape
    best_each = sum(max(nb[i, j] for j in range(J)) for i in range(n)) / n
    means = [sum(nb[i, j] for i in range(n)) / n for j in range(J)]
    return best_each - max(means)


# --- the decision -------------------------------------------------------------------------------------------

def test_net_benefit_is_wtp_times_outcomes_minus_cost():
    q, c, v = np.array([10.0, 0.0]), np.array([1000.0, 50.0]), np.array([7.0, 8.0])
    np.testing.assert_allclose(net_benefit(200, outcomes=q, cost_pv=c), [1000.0, -50.0])
    np.testing.assert_allclose(net_benefit(APPRAISAL, outcomes=q, cost_pv=c, value_pv=v), [-993.0, -42.0])
    with pytest.raises(UsageError, match="value_per_outcome"):
        net_benefit(APPRAISAL, outcomes=q, cost_pv=c)


def test_parse_wtp_and_labels():
    assert parse_wtp("0,2500.5, appraisal") == (0.0, 2500.5, APPRAISAL)
    assert [wtp_key(w) for w in (0.0, 2500.5, APPRAISAL)] == ["0", "2500.5", "appraisal"]
    for bad, msg in (("-1", ">= 0"), ("ten", "not a number"), ("5,5", "distinct"), ("", "at least one")):
        with pytest.raises(UsageError, match=msg):
            parse_wtp(bad)


def test_decision_reads_each_model_and_none_is_zero(lcf_run):
    dec = decision(lcf_run, options=["sib", "fee", "none"], wtp=[20000])
    nb = dec.nb["20000"]
    for j, o in enumerate(["sib", "fee"]):
        m = lcf_run.model(o).metrics
        np.testing.assert_allclose(nb[:, j], 20000 * m["additional_outcomes_counted"] - m["public_cost_pv"])
    assert np.all(nb[:, 2] == 0)
    with pytest.raises(UsageError, match="'hybrid' is not available; options: sib, pbr, fee, none"):
        decision(lcf_run, options=["sib", "hybrid"], wtp=[0])
    with pytest.raises(UsageError, match="at least two"):
        decision(lcf_run, options=["sib"], wtp=[0])


def test_acceptability_curve_uses_the_same_net_benefit(lcf_run):
    """The vfm.* indicators the engine reports agree, trial by trial, with the Decision's net benefits."""
    dec = decision(lcf_run, options=["sib", "fee", "none"], wtp=lcf_run.scenario.appraisal.wtp_grid)
    for k, nb in dec.nb.items():
        np.testing.assert_array_equal(lcf_run.indicators[f"vfm.sib_better_than_fee@{k}"], nb[:, 0] > nb[:, 1])
        np.testing.assert_array_equal(lcf_run.indicators[f"vfm.sib_better_than_nothing@{k}"], nb[:, 0] > 0)


# --- EVPI ----------------------------------------------------------------------------------------------------

def test_evpi_is_zero_when_one_option_is_best_in_every_trial(lcf_run):
    rng = np.random.default_rng(0)
    a = rng.normal(size=500)
    nb = np.column_stack([a, a + 1 + rng.random(500), a - 3])
    assert perfect.evpi(nb).value == 0.0
    dec = decision(lcf_run, options=["sib", "pbr", "none"], wtp=[0])  # no value: not commissioning always wins
    assert np.all(dec.nb["0"].argmax(axis=1) == 2)
    assert perfect.evpi(dec.nb["0"]).value == 0.0


def test_evpi_equals_mean_max_minus_max_mean_by_hand(lcf_run):
    dec = decision(lcf_run, options=["sib", "pbr", "fee", "none"], wtp=[10000, 30000])
    for nb in dec.nb.values():
        e = perfect.evpi(nb)
        ref = evpi_by_hand(nb[:400])
        assert perfect.evpi(nb[:400]).value == pytest.approx(ref, rel=1e-9, abs=1e-6)
        assert e.value > 0 and e.se > 0


@pytest.mark.parametrize("mu,sigma", [(0.0, 1.0), (0.5, 1.0), (-1.2, 2.0), (3.0, 1.5)])
def test_two_options_normal_inb_matches_closed_form(mu, sigma):
    """EVPI = sigma phi(mu/sigma) - |mu| Phi(-|mu|/sigma) for incremental net benefit N(mu, sigma^2)."""
    rng = np.random.default_rng(12)
    inb = rng.normal(mu, sigma, size=200_000)
    e = perfect.evpi(np.column_stack([np.zeros_like(inb), inb]))
    exact = sigma * stats.norm.pdf(mu / sigma) - abs(mu) * stats.norm.cdf(-abs(mu) / sigma)
    assert abs(e.value - exact) < 4 * e.se, (e, exact)


def test_population_evpi_discounts_each_year():
    assert perfect.population(100.0, decisions_per_year=3, years=2, discount_rate_annual=0.035) == \
        pytest.approx(300 + 300 / 1.035)
    assert perfect.population(100.0) == 100.0
    with pytest.raises(ValueError, match="must be >= 0"):
        perfect.population(1.0, years=-1)


# --- the regression behind EVPPI ------------------------------------------------------------------------------

def test_pspline_fast_path_matches_direct_solve():
    """The Demmler-Reinsch path equals solving (B'B + lam P) beta = B'y directly, and picks the GCV minimum."""
    rng = np.random.default_rng(5)
    for d in (1, 2):
        X = rng.random((700, d))
        y = np.sin(5 * X[:, 0]) + (X[:, -1] ** 2 if d == 2 else 0) + rng.normal(0, 0.3, 700)
        B, P = smooth.design(X)
        lams = np.logspace(-3, 3, 13)
        gcv = []
        for lam in lams:
            A = B.T @ B + lam * P
            beta = np.linalg.solve(A, B.T @ y)
            edf = np.trace(np.linalg.solve(A, B.T @ B))
            gcv.append(len(y) * np.sum((y - B @ beta) ** 2) / (len(y) - edf) ** 2)
            fit = smooth.pspline(X, y, rng=rng, lams=[lam], draws=2)
            np.testing.assert_allclose(fit.fitted, B @ beta, rtol=1e-6, atol=1e-8)
            assert fit.edf == pytest.approx(edf, rel=1e-6)
        assert smooth.pspline(X, y, rng=rng, lams=lams, draws=2).lam == lams[int(np.argmin(gcv))]
        # posterior draws of the fit: covariance sigma^2 B (B'B + lam P)^-1 B', sigma^2 = rss / (n - edf)
        lam = 1.0
        A = B.T @ B + lam * P
        beta = np.linalg.solve(A, B.T @ y)
        edf = np.trace(np.linalg.solve(A, B.T @ B))
        sigma2 = np.sum((y - B @ beta) ** 2) / (len(y) - edf)
        sd = np.sqrt(np.einsum("ij,jk,ik->i", B, sigma2 * np.linalg.inv(A), B))
        fit = smooth.pspline(X, y, rng=rng, lams=[lam], draws=4000)
        np.testing.assert_allclose(fit.draws.std(axis=1), sd, rtol=0.08)
        np.testing.assert_allclose(fit.draws.mean(axis=1), fit.fitted, atol=4 * sd.max() / np.sqrt(4000) * 1.5)


def _toy(n=4000, seed=2):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 3))
    inc = 100 * x[:, 0] + 50 * x[:, 1] ** 2 - 60 + 30 * x[:, 2]
    return np.column_stack([np.zeros(n), inc]), x


def test_evppi_of_one_parameter_matches_its_closed_form():
    """E[NB | x1] = 100 x1 - 10 is normal: EVPPI(x1) = sigma phi(mu/sigma) + mu Phi(mu/sigma) - max(0, mu)."""
    nb, x = _toy()
    e = perfect.evppi(nb, x[:, 0], rng=np.random.default_rng(1))
    g = 100 * x[:, 0] - 10  # the exact conditional mean on this sample: the estimate's target here
    target = perfect.evpi(np.column_stack([np.zeros_like(g), g])).value
    assert abs(e.value - target) < 4 * e.se + 0.5, (e, target)


def test_evppi_within_zero_and_evpi_and_all_parameters_recover_evpi():
    nb, x = _toy()
    rng = np.random.default_rng(3)
    full = perfect.evpi(nb)
    for cols in ([0], [1], [2], [0, 1], [1, 2], [0, 2]):
        e = perfect.evppi(nb, x[:, cols], rng=rng)
        assert 0 <= e.value <= full.value + 4 * (full.se + e.se), (cols, e, full)
    both = perfect.evppi(nb, x[:, [0, 1]], rng=rng)
    assert both.value > perfect.evppi(nb, x[:, [0]], rng=rng).value
    everything = perfect.evppi(nb, x, rng=rng)  # three inputs: the Gaussian process
    assert abs(everything.value - full.value) < 4 * (full.se + everything.se) + 0.01 * full.value, (everything, full)


def test_evppi_on_a_scenario_stays_below_evpi(lcf_run):
    dec = decision(lcf_run, options=["sib", "fee", "none"], wtp=[30000])
    ev, pp = analyse(dec, evppi=["job_entry_uplift", "engagement", "job_entry_p0+job_entry_uplift+engagement"],
                     rng=np.random.default_rng(4), draws=100)
    full = ev["30000"]
    for name, by in pp.items():
        e = by["30000"]
        assert 0 <= e.value <= full.value + 4 * (full.se + e.se), (name, e, full)
    assert pp["job_entry_uplift"]["30000"].value > 0.3 * full.value  # the effect drives the decision
    assert pp["job_entry_p0+job_entry_uplift+engagement"]["30000"].value >= \
        pp["job_entry_uplift"]["30000"].value - 4 * pp["job_entry_uplift"]["30000"].se
    with pytest.raises(UsageError, match="'nope' is not a parameter"):
        analyse(dec, evppi=["nope"], rng=np.random.default_rng(0))
