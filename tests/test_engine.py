"""Engine: hand-worked cases, closed forms, properties and invariance."""

from __future__ import annotations

import copy

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import sibsim
from helpers import ROOT, benchmark_dict, scenario, tiny


def pay_by_period(d, trials=1, seed=0):
    run = sibsim.simulate(scenario(d), trials=trials, seed=seed)
    return run, np.asarray(run.paths["outcome_payments"][0], dtype=float)


# --- hand-worked cases -------------------------------------------------------------------

def test_payment_lag_and_timing():
    # a at period 1, b at 3, c at 3; each paid one period later
    run, pay = pay_by_period(tiny())
    expected = np.zeros(8)
    expected[2] = 3500
    expected[4] = 4000 + 1000
    np.testing.assert_allclose(pay, expected)
    assert run.metrics["outcome_payments"][0] == 8500
    assert run.metrics["counterfactual_payments"][0] == 0
    assert run.metrics["additional_outcomes.b"][0] == 1


def test_participant_cap_in_payment_order_ties_in_outcome_order():
    # cap 7,000: a (3,500) paid first; b and c fall in the same period, b first by outcome order:
    # b is cut to 3,500 and c gets nothing
    d = tiny()
    d["rate_card"]["cap_per_participant"] = 7000
    _, pay = pay_by_period(d)
    assert pay[2] == 3500 and pay[4] == 3500 and pay.sum() == 7000
    # c achieved earlier than b: c paid in full, b cut to 7,000 - 3,500 - 1,000
    d["outcomes"][2]["lag"] = {"dist": "fixed", "periods": 1}
    _, pay = pay_by_period(d)
    assert pay[2] == 3500 + 1000 and pay[4] == 2500


def test_horizon_cut():
    # horizon 4: b and c are achieved at period 3 and due at 4, after the horizon: not paid
    d = tiny(horizon_periods=4)
    run, pay = pay_by_period(d)
    assert pay.tolist() == [0, 0, 3500, 0]
    assert run.metrics["outcomes.b"][0] == 1  # achieved within the horizon, paid after it
    d = tiny(horizon_periods=3)
    run, _ = pay_by_period(d)
    assert run.metrics["outcomes.b"][0] == 0  # achieved at period 3, outside a 3-period horizon


def test_contract_cap_cuts_the_crossing_payment():
    d = tiny()
    d["participants"]["starts"]["per_period"] = [2]
    d["rate_card"]["cap_total"] = 10000
    _, pay = pay_by_period(d)
    # 7,000 at period 2 (two a's), then 10,000 of b and c due at 4: cut to 3,000
    assert pay[2] == 7000 and pay[4] == 3000 and pay.sum() == 10000


def test_volume_cap_per_outcome():
    d = tiny()
    d["participants"]["starts"]["per_period"] = [3]
    d["rate_card"]["cap_per_outcome"] = {"a": 2}
    run, pay = pay_by_period(d)
    assert pay[2] == 2 * 3500
    assert run.metrics["outcomes.a"][0] == 3  # achieved, though only two are paid


def test_volume_cap_pays_exactly_the_first_outcomes_up_to_the_limit():
    """Benchmark draws without per-participant or contract cap, payment lag 0: a volume cap of 260 job entries
    removes 3,500 for every job entry beyond 260 within the horizon, trial by trial."""
    d = benchmark_dict()
    d["rate_card"] = {"prices": d["rate_card"]["prices"], "payment_lag_periods": 0}
    free = sibsim.simulate(scenario(d), trials=400, seed=5).metrics
    d["rate_card"]["cap_per_outcome"] = {"job_entry": 260}
    capped = sibsim.simulate(scenario(d), trials=400, seed=5).metrics
    excess = np.maximum(free["outcomes.job_entry"] - 260, 0)
    assert (excess > 0).mean() > 0.3 and (excess == 0).mean() > 0.1  # the cap binds in some trials, not all
    np.testing.assert_allclose(capped["outcome_payments"], free["outcome_payments"] - 3500 * excess, rtol=1e-12)
    np.testing.assert_array_equal(capped["outcomes.job_entry"], free["outcomes.job_entry"])  # achieved, not paid


def test_payment_on_engaged_only():
    d = tiny()
    d["participants"]["engagement"] = 0.0
    d["outcomes"][0]["baseline"] = 1.0  # achieved without the programme
    for o in d["outcomes"][1:]:
        o["baseline"] = 0.0
    run, _ = pay_by_period(d)
    assert run.metrics["outcome_payments"][0] == 3500
    d["participants"]["payment_on"] = "engaged"
    run, _ = pay_by_period(d)
    assert run.metrics["outcome_payments"][0] == 0
    assert run.metrics["outcomes.a"][0] == 1


def test_sib_return_cap_and_excess():
    # cost 10,000 at period 0, payments 8,500: no excess; with a tiny cap, investors get principal
    # plus the cap rate and the commissioner gets the rest back
    d = tiny()
    d["costs"] = {"setup": 5000}
    d["finance"] = {"model": "sib", "sib": {"return_cap_annual": 0.0}}
    run = sibsim.simulate(scenario(d), trials=1, seed=0)
    assert run.metrics["investor_distributions"][0] == pytest.approx(5000)
    assert run.metrics["commissioner_cost"][0] == pytest.approx(5000)
    assert run.metrics["investor_irr"][0] == pytest.approx(0.0, abs=1e-9)


def test_sib_guarantee_repays_share_of_principal_loss():
    d = tiny()
    for o in d["outcomes"]:
        o["effect"]["size"] = 0.0
    d["costs"] = {"setup": 10000}
    d["finance"] = {"model": "sib", "sib": {"guarantee_share": 0.75}}
    run = sibsim.simulate(scenario(d), trials=1, seed=0)
    assert run.metrics["guarantee_paid"][0] == pytest.approx(7500)
    assert run.metrics["investor_net_gain"][0] == pytest.approx(-2500)


def test_capital_commitment_limits_drawdowns_and_provider_bears_the_rest():
    d = tiny()
    d["costs"] = {"fixed_per_period": 1000}
    d["finance"] = {"model": "sib", "sib": {"capital_commitment": 5000}}
    run = sibsim.simulate(scenario(d), trials=1, seed=0)
    assert run.metrics["investor_drawdowns"][0] == 5000
    assert run.metrics["provider_min_cash"][0] == -3000
    assert run.indicators["provider_shortfall"][0]


# --- closed forms ---------------------------------------------------------------------------

def _uncapped_benchmark():
    d = benchmark_dict()
    d["rate_card"].pop("cap_per_participant")
    d["rate_card"].pop("cap_total")
    return d


def test_expected_payments_closed_form_uncapped():
    """E[payments] = N * sum_k price_k * P(achieve k), priors independent, no clipping in practice."""
    sc = scenario(_uncapped_benchmark())
    pr = sc.priors
    m = {k: pr[k].mean for k in pr}
    e = m["engagement"]
    p_entry = e * (m["job_entry_p0"] + m["job_entry_uplift"]) + (1 - e) * m["job_entry_p0"]
    p_sust = e * (m["job_entry_p0"] + m["job_entry_uplift"]) * (m["job_sustained_q0"] + m["job_sustained_uplift"]) \
        + (1 - e) * m["job_entry_p0"] * m["job_sustained_q0"]
    p_qual = e * (m["qualification_p0"] + m["qualification_uplift"]) + (1 - e) * m["qualification_p0"]
    expected = 1000 * (3500 * p_entry + 4000 * p_sust + 1000 * p_qual)
    run = sibsim.simulate(sc, trials=20_000, seed=11)
    s = run.metric_summaries()["outcome_payments"]
    assert abs(s["mean"] - expected) < 4 * s["mcse"], (s, expected)
    # the counterfactual world pays for deadweight only
    cf = 1000 * (3500 * m["job_entry_p0"] + 4000 * m["job_entry_p0"] * m["job_sustained_q0"]
                 + 1000 * m["qualification_p0"])
    s = run.metric_summaries()["counterfactual_payments"]
    assert abs(s["mean"] - cf) < 4 * s["mcse"]


def test_binomial_variance_given_fixed_parameters():
    """With every parameter fixed, job entries are Binomial(1000, p): check mean and variance."""
    sc = scenario(_uncapped_benchmark()).with_params(
        engagement=1.0, job_entry_p0=0.2, job_entry_uplift=0.1, job_sustained_q0=0.5,
        job_sustained_uplift=0.1, qualification_p0=0.3, qualification_uplift=0.05, cost_multiplier=1.0)
    run = sibsim.simulate(sc, trials=20_000, seed=5)
    x = run.metrics["outcomes.job_entry"]
    n, p = 1000, 0.3
    assert abs(x.mean() - n * p) < 4 * np.sqrt(n * p * (1 - p) / x.size)
    # variance of a sample variance: about sqrt(2/(T-1)) * var for near-normal data
    assert abs(x.var() / (n * p * (1 - p)) - 1) < 4 * np.sqrt(2 / (x.size - 1))
    # sustained given entry: Binomial(entries, 0.6)
    y = run.metrics["outcomes.job_sustained"]
    assert abs(y.mean() - n * p * 0.6) < 4 * y.std() / np.sqrt(y.size)


def test_poisson_starts_mean_and_contract_maximum():
    d = benchmark_dict()
    d["participants"] = {"starts": {"kind": "poisson", "rate_per_period": [20] * 10, "volume": 1.0},
                         "max_participants": 1000, "engagement": "engagement"}
    run = sibsim.simulate(scenario(d), trials=5000, seed=2)
    x = run.metrics["participants"]
    assert abs(x.mean() - 200) < 4 * np.sqrt(200 / x.size)
    assert abs(x.var() / 200 - 1) < 4 * np.sqrt(2 / (x.size - 1))
    d["participants"]["max_participants"] = 150
    run = sibsim.simulate(scenario(d), trials=2000, seed=2)
    assert run.metrics["participants"].max() == 150
    # engaged starters cost money: delivery cost rises with participants
    assert np.corrcoef(run.metrics["engaged"], run.metrics["delivery_cost"])[0, 1] > 0.2


# --- properties ----------------------------------------------------------------------------

@st.composite
def rate_cards(draw):
    d = benchmark_dict()
    d["rate_card"]["cap_per_participant"] = draw(st.sampled_from([None, 1000, 4500, 7000, 20000]))
    d["rate_card"]["cap_total"] = draw(st.sampled_from([None, 500_000, 1_500_000, 3_000_000]))
    vol = draw(st.sampled_from([None, 50, 200]))
    d["rate_card"]["cap_per_outcome"] = {} if vol is None else {"job_entry": vol}
    d["rate_card"]["payment_lag_periods"] = draw(st.integers(0, 3))
    d["rate_card"] = {k: v for k, v in d["rate_card"].items() if v is not None}
    for o in ("job_entry_uplift", "job_sustained_uplift", "qualification_uplift"):
        d["parameters"][o] = {"dist": "uniform", "low": 0.0, "high": draw(st.sampled_from([0.01, 0.2, 0.6]))}
    return d


@settings(max_examples=25, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(rate_cards(), st.integers(0, 2**31))
def test_caps_additionality_and_cash_conservation(d, seed):
    sc = scenario(d)
    run = sibsim.simulate(sc, trials=200, seed=seed)
    rc = sc.rate_card
    pay = run.metrics["outcome_payments"]
    cf = run.metrics["counterfactual_payments"]
    if rc.cap_total is not None:
        assert pay.max() <= rc.cap_total + 1e-6 and cf.max() <= rc.cap_total + 1e-6
    if rc.cap_per_participant is not None:
        # the same draws without the cap: per trial the cap can only lower payments, in both worlds, and must
        # lower them where it binds (7,000 < a job entry and sustained job, 7,500)
        free = {**d, "rate_card": {k: v for k, v in d["rate_card"].items() if k != "cap_per_participant"}}
        unc = sibsim.simulate(scenario(free), trials=200, seed=seed)
        assert np.all(pay <= unc.metrics["outcome_payments"] + 1e-6)
        assert np.all(cf <= unc.metrics["counterfactual_payments"] + 1e-6)
        if rc.cap_per_participant < 7500 and rc.cap_total is None:
            assert np.mean(pay < unc.metrics["outcome_payments"]) > 0.9
        if rc.cap_per_participant >= 8500:  # above every participant's possible total: no effect at all
            np.testing.assert_array_equal(pay, unc.metrics["outcome_payments"])
    if "job_entry" in rc.cap_per_outcome:
        # the same draws without the volume cap: it removes at most one payment (<= 3,500) for each job entry
        # beyond the limit, and never adds
        vcap = rc.cap_per_outcome["job_entry"]
        nov = sibsim.simulate(scenario({**d, "rate_card": {**d["rate_card"], "cap_per_outcome": {}}}), trials=200,
                              seed=seed).metrics["outcome_payments"]
        excess = np.maximum(run.metrics["outcomes.job_entry"] - vcap, 0)
        assert np.all(pay <= nov + 1e-6)
        assert np.all(pay >= nov - 3500 * excess - 1e-6)
    # beneficial effects only: additional outcomes never negative, participant by participant in aggregate
    for k in ("job_entry", "job_sustained", "qualification"):
        assert run.metrics[f"additional_outcomes.{k}"].min() >= 0
    # cash is conserved between all parties in every period of every kept trial
    total = sum(np.asarray(v, dtype=float) for k, v in run.paths.items() if k not in ("outcome_payments", "delivery_cost"))
    np.testing.assert_allclose(total, 0.0, atol=1e-2)
    # investors receive what the commissioner and outcome fund pay (no fees, no cap in the benchmark)
    np.testing.assert_allclose(run.metrics["investor_distributions"], pay)


def test_larger_effect_never_lowers_expected_payments():
    sc = sibsim.load(ROOT / "scenarios" / "benchmark.yaml")
    means = [sibsim.simulate(sc.with_params(job_entry_uplift=u), trials=2000, seed=4).metrics["outcome_payments"].mean()
             for u in (0.0, 0.05, 0.1, 0.2)]
    assert all(b >= a for a, b in zip(means, means[1:])), means


def test_common_random_numbers_make_treated_a_superset_per_trial():
    # one participant per trial, so each trial's counts are one participant's outcomes: with a beneficial effect
    # everyone who achieves an outcome without the programme achieves it with it (same uniform, same period),
    # and the treated world adds exactly the achievers between p0 and p1
    d = tiny(horizon_periods=12)
    for o, (p0, size) in zip(d["outcomes"], ((0.3, 0.2), (0.5, 0.25), (0.2, 0.0))):
        o["baseline"], o["effect"] = p0, {"type": "absolute", "size": size}
    run = sibsim.simulate(scenario(d), trials=4000, seed=9)
    m = run.metrics
    for k in ("a", "b", "c"):
        tr, cf = m[f"outcomes.{k}"], m[f"counterfactual_outcomes.{k}"]
        assert set(np.unique(tr)) <= {0, 1} and np.all(tr >= cf), k  # superset, participant by participant
    # P(treated only) = p1 - p0: 0.2 for a, 0.5 x 0.75 - 0.3 x 0.5 = 0.225 for b (requires a); c has no effect
    only_a = np.mean(m["outcomes.a"] > m["counterfactual_outcomes.a"])
    only_b = np.mean(m["outcomes.b"] > m["counterfactual_outcomes.b"])
    assert abs(only_a - 0.2) < 4 * np.sqrt(0.2 * 0.8 / 4000)
    assert abs(only_b - 0.225) < 4 * np.sqrt(0.225 * 0.775 / 4000)
    np.testing.assert_array_equal(m["outcomes.c"], m["counterfactual_outcomes.c"])  # same uniform, same p
    assert 0.17 < m["outcomes.c"].mean() < 0.23
    # and payments: treated never below counterfactual for the participant
    assert np.all(m["outcome_payments"] >= m["counterfactual_payments"])


def test_volume_cap_counts_only_payments_left_by_the_participant_cap():
    """docs/model.md s.5, worked example: the per-participant cap runs first; the volume cap counts what it left."""
    d = tiny(horizon_periods=4)
    d["participants"]["starts"]["per_period"] = [1000]
    d["outcomes"] = [
        {"name": "a", "baseline": 0.0, "effect": {"size": 0.5}, "lag": {"dist": "fixed", "periods": 1}},
        {"name": "b", "baseline": 0.0, "effect": {"size": 1.0}, "lag": {"dist": "fixed", "periods": 2}},
    ]
    d["rate_card"] = {"prices": {"a": 5000, "b": 1000}, "payment_lag_periods": 0, "cap_per_participant": 5000,
                      "cap_per_outcome": {"b": 500}}
    run = sibsim.simulate(scenario(d), trials=50, seed=2)
    paths = np.asarray(run.paths["outcome_payments"], dtype=float)  # first trials, by period
    n_a = run.metrics["outcomes.a"][: len(paths)]
    np.testing.assert_array_equal(paths[:, 1], 5000 * n_a)  # a at period 1, all paid
    # b at period 2: those who achieved a have used their cap (paid 0, not counted); of the others at most 500
    np.testing.assert_allclose(paths[:, 2], 1000 * np.minimum(1000 - n_a, 500), rtol=1e-12)
    assert 450_000 < paths[:, 2].mean() <= 500_000  # before the fix: about 250,000
    total = 5000 * run.metrics["outcomes.a"] + 1000 * np.minimum(1000 - run.metrics["outcomes.a"], 500)
    np.testing.assert_allclose(run.metrics["outcome_payments"], total, rtol=1e-12)


# --- invariance ----------------------------------------------------------------------------

def test_same_seed_same_numbers_and_seed_matters():
    sc = sibsim.load(ROOT / "scenarios" / "benchmark.yaml")
    a = sibsim.simulate(sc, trials=1500, seed=1)
    b = sibsim.simulate(sc, trials=1500, seed=1)
    c = sibsim.simulate(sc, trials=1500, seed=2)
    for k in a.metrics:
        np.testing.assert_array_equal(a.metrics[k], b.metrics[k])
    assert not np.array_equal(a.metrics["outcome_payments"], c.metrics["outcome_payments"])


def test_chunk_size_and_workers_do_not_change_results():
    sc = sibsim.load(ROOT / "scenarios" / "benchmark.yaml")
    a = sibsim.simulate(sc, trials=9000, seed=7, chunk=1000, workers=1)
    b = sibsim.simulate(sc, trials=9000, seed=7, chunk=7919, workers=1)
    c = sibsim.simulate(sc, trials=9000, seed=7, chunk=2500, workers=2)
    for k in a.metrics:
        np.testing.assert_array_equal(a.metrics[k], b.metrics[k], err_msg=k)
        np.testing.assert_array_equal(a.metrics[k], c.metrics[k], err_msg=k)
    # a prefix of a longer run is the shorter run
    d = sibsim.simulate(sc, trials=3000, seed=7)
    np.testing.assert_array_equal(d.metrics["outcome_payments"], a.metrics["outcome_payments"][:3000])


def test_fixing_one_parameter_leaves_the_others_draws_alone():
    sc = sibsim.load(ROOT / "scenarios" / "benchmark.yaml")
    a = sibsim.simulate(sc, trials=1000, seed=3)
    b = sibsim.simulate(sc.with_params(job_entry_uplift=0.1), trials=1000, seed=3)
    np.testing.assert_array_equal(a.params["engagement"], b.params["engagement"])
    assert (b.params["job_entry_uplift"] == 0.1).all()


def test_run_is_immutable():
    run = sibsim.simulate(sibsim.load(ROOT / "scenarios" / "benchmark.yaml"), trials=100, seed=1)
    with pytest.raises(ValueError):
        run.metrics["outcome_payments"][0] = 1.0
    with pytest.raises(TypeError):
        run.metrics["x"] = np.zeros(1)


# --- every shipped scenario ----------------------------------------------------------------

@pytest.mark.parametrize("path", sorted((ROOT / "scenarios").glob("*.yaml")), ids=lambda p: p.stem)
def test_shipped_scenario_validates_and_runs(path):
    sc = sibsim.load(path)
    assert sc.description.strip(), "every shipped scenario documents its sources"
    run = sibsim.simulate(sc, trials=300, seed=1)
    s = run.metric_summaries()
    assert np.isfinite(s["outcome_payments"]["mean"]) and s["outcome_payments"]["mean"] >= 0
    assert s["delivery_cost"]["mean"] > 0
    df = run.to_frame()
    assert len(df) == 300 and "outcome_payments" in df
    assert set(run.to_dict()) >= {"scenario", "seed", "trials", "versions", "metrics", "probabilities", "timing"}


def test_compiled_pass_refuses_arrays_of_the_wrong_type_or_shape():
    from sibsim.kernel import participant_pass

    n, N, K, T = 2, 3, 1, 4
    i8 = np.int64
    args = dict(key=np.uint64(1), first_trial=0, start=np.zeros((1, N), np.int16), eng_given=np.zeros((1, 1), bool),
                e=np.zeros(n, i8), p0=np.zeros((n, K), i8), p1=np.zeros((n, K), i8), prereq=-np.ones(K, i8),
                lag_vals=np.ones((K, 1), i8), lag_cdf=np.zeros((K, 1), i8), lag_n=np.ones(K, i8),
                lag_uniform=np.ones(K, bool), prices=np.zeros((n, K)), cap_pp=np.full(n, np.inf), pay_lag=0,
                pay_engaged_only=False, T=T, counts=False, by_start=False, amt=np.zeros((2, n, K, T + 1)),
                cnt=np.zeros((2, 1, 1, 1), i8), ach=np.zeros((2, n, K), i8), ach_start=np.zeros((2, 1, 1, 1), i8),
                eng_starts=np.zeros((n, T), i8))
    participant_pass(**args)  # the right types run
    with pytest.raises(ValueError, match="amt must be a C-contiguous float64"):
        participant_pass(**{**args, "amt": np.zeros((2, n, K, T + 1), np.float32)})
    with pytest.raises(ValueError, match="p1 must be"):
        participant_pass(**{**args, "p1": np.zeros((n + 1, K), i8)})
