"""Measured outcomes (sibsim.measure, sibsim.spec.measure): rules by hand, validation messages,
measurement risk against its normal approximation, monotonicity, common random numbers, invariance."""

from __future__ import annotations

import copy
import json
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.stats import norm

import sibsim
from helpers import ROOT, benchmark_dict, scenario, tiny
from sibsim.errors import ScenarioError
from sibsim.measure import rules
from sibsim.spec import validate


def measured(**over) -> dict:
    """A scenario whose only payments are measured: one binary reoffending outcome, one cohort."""
    d = tiny(horizon_periods=8)
    d["outcomes"] = [{"name": "seen", "baseline": 0.0, "lag": {"dist": "fixed", "periods": 1}}]
    d["rate_card"] = {"prices": {}}
    d["costs"] = {"fixed_per_period": 1000}
    d["participants"] = {"starts": {"kind": "schedule", "per_period": [10, 10]}, "engagement": 1.0}
    d["measurement"] = {
        "cohorts": [{"name": "c1", "start_periods": [0, 1]}],
        "outcomes": [{"name": "reoffend", "kind": "binary", "direction": "reduce", "baseline": 1.0,
                      "effect": {"type": "absolute", "size": 1.0},
                      "design": {"kind": "historical_baseline"}}],
        "points": [{"name": "final", "outcome": "reoffend", "cohorts": ["c1"], "trigger": 0.1,
                    "pay": {"kind": "per_unit", "price_per_unit": 500}, "payment_period": 5}],
    }
    for k, v in over.items():
        d[k] = v
    return d


def problems_of(d) -> list[tuple[str, str]]:
    with pytest.raises(ScenarioError) as info:
        validate(copy.deepcopy(d))
    return info.value.problems


def problem_at(problems, field):
    for f, msg in problems:
        if f == field:
            return msg
    pytest.fail(f"no problem at {field!r}; got {problems}")


# --- rules, worked by hand -----------------------------------------------------------------

def test_improvement_signs_and_undefined_comparison():
    rel, diff = rules.improvement([1.42, 0.5, 1.0], [1.55, 0.4, 0.0], "reduce")
    assert rel[0] == pytest.approx(13 / 155) and diff[0] == pytest.approx(0.13)
    assert rel[1] == pytest.approx(-0.25)
    assert np.isnan(rel[2]) and np.isnan(diff[2])
    rel, diff = rules.improvement([0.5], [0.4], "increase")
    assert rel[0] == pytest.approx(0.25) and diff[0] == pytest.approx(0.1)


def test_trigger_and_per_unit_payment():
    imp, diff = rules.improvement(np.array([1.42, 1.395]), np.array([1.55, 1.55]))
    pay = rules.gross(imp, diff, np.array([1000, 1000]), trigger=0.10, price_per_unit=20.0)
    assert pay[0] == 0  # 8.4% is below the 10% trigger
    assert pay[1] == pytest.approx(20.0 * 0.155 * 1000)  # 10% exactly: paid on 155 events avoided
    # negative improvement never pays, even without a trigger
    imp, diff = rules.improvement(np.array([1.6]), np.array([1.55]))
    assert rules.gross(imp, diff, np.array([1000]), price_per_unit=20.0)[0] == 0


def test_step_and_linear_schedules():
    thr, pay = [0.085, 0.10, 0.20], [4.8, 9.6, 11.7]
    imp = np.array([0.084, 0.085, 0.15, 0.25, np.nan, -0.3])
    np.testing.assert_allclose(rules.schedule(imp, thr, pay, "step"), [0, 4.8, 9.6, 11.7, 0, 0])
    np.testing.assert_allclose(rules.schedule(imp, thr, pay, "linear"), [0, 4.8, 9.6 + 0.5 * 2.1, 11.7, 0, 0])
    # a trigger above the first threshold holds the schedule back until it is met
    np.testing.assert_allclose(rules.gross(imp, imp, 1, trigger=0.12, thresholds=thr, payments=pay),
                               [0, 0, 9.6, 11.7, 0, 0])


def test_settle_caps_net_of_and_contract_total_in_payment_order():
    a = [np.array([100.0, 0.0]), np.array([50.0, 80.0]), np.array([120.0, 90.0])]
    # point 2 (pooled, period 9) replaces points 0 (period 4) and 1 (period 9); point 1 capped at 60
    paid = rules.settle(a, periods=[4, 9, 9], caps=[None, 60.0, None], net_of=[[], [], [0, 1]])
    np.testing.assert_allclose(paid[0], [100, 0])
    np.testing.assert_allclose(paid[1], [50, 60])
    np.testing.assert_allclose(paid[2], [0, 30])  # 120 - 150 -> 0; 90 - 60 -> 30
    # a contract total of 130 cuts the payment that crosses it, later payments get nothing
    paid = rules.settle(a, periods=[4, 9, 9], caps=[None, None, None], net_of=[[], [], []], cap_total=130.0)
    np.testing.assert_allclose(paid[0], [100, 0])
    np.testing.assert_allclose(paid[1], [30, 80])
    np.testing.assert_allclose(paid[2], [0, 50])


money = st.floats(0, 1e7, allow_nan=False)


@settings(max_examples=60, deadline=None, derandomize=True)
@given(st.lists(st.lists(money, min_size=4, max_size=4), min_size=3, max_size=3),
       st.lists(st.one_of(st.none(), money), min_size=3, max_size=3), st.one_of(st.none(), money),
       st.lists(st.integers(0, 3), min_size=3, max_size=3), st.booleans())
def test_settled_payments_never_exceed_caps_nor_go_negative(amounts, caps, cap_total, periods, pooled):
    a = [np.array(x) for x in amounts]
    net_of = [[], [], [0, 1] if pooled else []]
    periods = sorted(periods)  # a point replaces only payments made no later than it
    paid = rules.settle(a, periods=periods, caps=caps, net_of=net_of, cap_total=cap_total)
    for x, g, c in zip(paid, a, caps):
        assert (x >= 0).all() and (x <= g + 1e-6).all()
        if c is not None:
            assert (x <= c + 1e-6).all()
    if cap_total is not None:
        assert (sum(paid) <= cap_total + 1e-6).all()
    if pooled and cap_total is None and caps[2] is None:  # total paid: the larger of the cohorts' and the pool's
        np.testing.assert_allclose(sum(paid), np.maximum(paid[0] + paid[1], a[2]), rtol=1e-9, atol=1e-6)


@settings(max_examples=60, deadline=None, derandomize=True)
@given(st.lists(st.floats(0, 1, allow_nan=False), min_size=1, max_size=6, unique=True),
       st.lists(money, min_size=6, max_size=6), st.sampled_from(["step", "linear"]))
def test_schedules_never_pay_less_for_a_larger_improvement(thr, pay, interpolation):
    thr = sorted(thr)
    pay = sorted(pay)[: len(thr)]
    imp = np.linspace(-0.2, 1.2, 400)
    out = rules.schedule(imp, thr, pay, interpolation)
    assert (np.diff(out) >= -1e-6).all() and (out >= 0).all()
    assert (out[imp < thr[0]] == 0).all() and out[-1] == pytest.approx(pay[-1])


# --- the engine, worked by hand ------------------------------------------------------------

def test_engine_pays_measured_improvement_at_its_period():
    # everyone would reoffend (p0 = 1) and treatment removes it (absolute effect 1): measured against an
    # exactly known historical rate of 1, the improvement is 100%: 20 people x 1 avoided x 500 at period 5
    run = sibsim.simulate(scenario(measured()), trials=3, seed=0)
    pay = np.asarray(run.paths["outcome_payments"])
    expected = np.zeros(8)
    expected[5] = 20 * 500
    np.testing.assert_allclose(pay, np.tile(expected, (3, 1)))
    assert run.metrics["measurement.final.measured_improvement"][0] == 1.0
    assert run.metrics["measurement.final.comparison_rate"][0] == 1.0
    assert run.metrics["measurement.payments_no_effect"][0] == 0  # the counterfactual world: no improvement
    assert run.indicators["any_payment"].all() and run.indicators["measurement.final_triggered"].all()
    assert not run.indicators["measurement.pay_when_no_effect"].any()
    assert run.metrics["investor_distributions"][0] == 10_000
    out = json.loads(run.to_json())
    assert {"any_payment", "measurement.final_triggered", "measurement.pay_when_no_effect"} <= set(out["probabilities"])
    assert "measurement.final.true_improvement" in out["metrics"]


def test_drift_of_a_historical_baseline_pays_for_nothing():
    # no effect, but the historical rate was 20% higher than today's counterfactual: a 16.7% 'improvement'
    d = measured()
    mo = d["measurement"]["outcomes"][0]
    mo["effect"]["size"] = 0.0
    mo["baseline"] = 0.5
    mo["design"]["drift"] = 0.2
    mo["kind"] = "count"
    run = sibsim.simulate(scenario(d), trials=1000, seed=1)
    imp = run.metrics["measurement.final.measured_improvement"]
    rate = run.metrics["measurement.final.observed_rate"]
    np.testing.assert_allclose(imp, 1 - rate / 0.6)
    assert run.metrics["measurement.final.true_improvement"].max() == 0
    assert run.indicators["measurement.pay_when_no_effect"].mean() == pytest.approx(
        run.indicators["any_payment"].mean())


# --- validation messages -------------------------------------------------------------------

@pytest.mark.parametrize("path, value, field, words", [
    (("points", 0, "trigger"), 1.5, "points.0.trigger", ["between 0 and 1", "1.5"]),
    (("outcomes", 0, "design"), {"kind": "comparison_group", "size": 0}, "outcomes.0.design.size",
     ["> 0", "got 0"]),
    (("outcomes", 0, "design"), {"kind": "comparison_group", "size_per_participant": 0},
     "outcomes.0.design.size_per_participant", ["> 0", "got 0"]),
    (("points", 0, "pay"), {"kind": "schedule", "improvement": [0.1, 0.2], "payment": [9, 5]},
     "points.0.pay.payment", ["must not decrease", "5.0 after 9.0"]),
    (("points", 0, "pay"), {"kind": "schedule", "improvement": [0.2, 0.1], "payment": [5, 9]},
     "points.0.pay.improvement", ["strictly increasing", "0.1 after 0.2"]),
    (("points", 0, "pay"), {"kind": "schedule", "improvement": [0.1, 1.2], "payment": [5, 9]},
     "points.0.pay.improvement", ["between 0 and 1", "1.2"]),
    (("cohorts", 0, "start_periods"), [0, 8], "cohorts.0.start_periods", ["outside the horizon", "[0, 8]", "0 .. 7"]),
    (("cohorts", 0, "start_periods"), [3, 1], "cohorts.0.start_periods", ["first <= last", "[3, 1]"]),
    (("points", 0, "payment_period"), 8, "points.0.payment_period", ["inside the horizon", "0 .. 7", "got 8"]),
    (("points", 0, "payment_period"), 0, "points.0.payment_period", ["before its cohorts", "got 0", ">= 1"]),
    (("points", 0, "cohorts"), ["c9"], "points.0.cohorts", ["'c9' is not a cohort", "c1"]),
    (("points", 0, "outcome"), "nope", "points.0.outcome", ["'nope' is not a measured outcome", "reoffend"]),
    (("points", 0, "pay", "price_per_unit"), "price", "points.0.pay.price_per_unit", ["'price' is not a parameter"]),
    (("points", 0, "net_of"), ["final"], "points.0.net_of", ["not a point listed before"]),
])
def test_refusals_name_the_field_the_value_and_what_is_allowed(path, value, field, words):
    d = measured()
    t = d["measurement"]
    for k in path[:-1]:
        t = t[k]
    t[path[-1]] = value
    msg = problem_at(problems_of(d), f"measurement.{field}")
    for w in words:
        assert w in msg, msg


def test_design_and_pay_need_their_own_fields():
    d = measured()
    d["measurement"]["outcomes"][0]["design"] = {"kind": "estimate"}
    assert "needs se" in problem_at(problems_of(d), "measurement.outcomes.0.design")
    d = measured()
    d["measurement"]["points"][0]["pay"] = {"kind": "per_unit"}
    assert "price_per_unit" in problem_at(problems_of(d), "measurement.points.0.pay")


def test_scenario_with_measurement_round_trips():
    from sibsim.spec import dumps, loads

    sc = scenario(measured())
    assert loads(dumps(sc)) == sc
    hash(sc)
    assert scenario(tiny()).canonical_json().find("measurement") == -1  # absent sections leave hashes alone


# --- measurement risk against its normal approximation -------------------------------------

def risk_scenario(*, n=2000, m=2000, p0=0.5, trigger=0.05, target=0.10):
    d = measured(horizon_periods=4)
    d["participants"] = {"starts": {"kind": "schedule", "per_period": [n]}, "engagement": 1.0}
    d["measurement"]["cohorts"] = [{"name": "c1", "start_periods": [0, 0]}]
    mo = d["measurement"]["outcomes"][0]
    mo.update(baseline=p0, effect={"type": "relative", "size": 0.0}, target_effect=target,
              design={"kind": "comparison_group", "size": m})
    d["measurement"]["points"][0].update(trigger=trigger, payment_period=3)
    return scenario(d)


def test_measurement_risk_matches_the_normal_approximation():
    # pay iff r_x <= (1 - tau) r_c; r_x ~ Bin(N, p)/N, r_c ~ Bin(M, p0)/M independent
    n, m, p0, tau, t = 2000, 2000, 0.5, 0.05, 0.10
    trials = 20_000
    run = sibsim.simulate(risk_scenario(n=n, m=m, p0=p0, trigger=tau, target=t), trials=trials, seed=11)

    def p_pay(p):
        mean = p - (1 - tau) * p0
        sd = math.sqrt(p * (1 - p) / n + (1 - tau) ** 2 * p0 * (1 - p0) / m)
        return norm.cdf(-mean / sd)

    for name, expected in (("pay_when_no_effect", p_pay(p0)), ("no_pay_at_target", 1 - p_pay(p0 * (1 - t)))):
        got = run.indicators[f"measurement.{name}"].mean()
        se = math.sqrt(expected * (1 - expected) / trials)
        assert abs(got - expected) < 4 * se + 0.003, (name, got, expected)


def test_a_bigger_comparison_group_lowers_both_risks():
    small = sibsim.simulate(risk_scenario(m=500), trials=4000, seed=3).indicators
    large = sibsim.simulate(risk_scenario(m=20_000), trials=4000, seed=3).indicators
    for k in ("measurement.pay_when_no_effect", "measurement.no_pay_at_target"):
        assert large[k].mean() < small[k].mean()


# --- monotonicity, common random numbers, invariance ---------------------------------------

def test_larger_true_effect_never_lowers_measured_payments_trial_by_trial():
    sc = sibsim.load(ROOT / "scenarios" / "peterborough.yaml")
    pays = np.array([sibsim.simulate(sc.with_params(reconviction_reduction=r), trials=1000, seed=4)
                     .metrics["measurement.payments"] for r in (0.0, 0.05, 0.1, 0.15, 0.3)])
    assert (np.diff(pays, axis=0) >= -1e-6).all()
    means = pays.mean(axis=1)
    assert all(b > a for a, b in zip(means, means[1:])), means


def test_target_world_is_the_treated_world_when_the_target_is_the_effect():
    # count outcome, cohort level: same uniforms for the treated and target worlds
    d = measured()
    mo = d["measurement"]["outcomes"][0]
    mo.update(kind="count", baseline=1.5, overdispersion=0.8, effect={"type": "relative", "size": "r"},
              target_effect="r", design={"kind": "comparison_group", "size_per_participant": 5})
    d["parameters"] = {"r": {"dist": "uniform", "low": -0.1, "high": 0.4}}
    run = sibsim.simulate(scenario(d), trials=1000, seed=5)
    np.testing.assert_array_equal(run.metrics["measurement.payments_at_target"], run.metrics["measurement.payments"])
    # the treated cohort never has more events than its counterfactual for a beneficial effect
    ok = run.params["r"] >= 0
    assert (run.metrics["measurement.final.true_improvement"][ok] >= 0).all()


def test_from_outcome_measures_the_participant_pass_and_reruns_it_at_target():
    d = benchmark_dict()
    d["measurement"] = {
        "cohorts": [{"name": "first", "start_periods": [0, 4]}, {"name": "second", "start_periods": [5, 9]}],
        "outcomes": [{"name": "jobs", "kind": "binary", "direction": "increase", "from_outcome": "job_entry",
                      "design": {"kind": "estimate", "se": 0.02}, "target_effect": "job_entry_uplift"}],
        "points": [{"name": f"y{i}", "outcome": "jobs", "cohorts": ["first", "second"], "trigger": 0.2,
                    "pay": {"kind": "per_unit", "price_per_unit": 3000}, "payment_period": 12 + 4 * i}
                   for i in range(3)],
    }
    run = sibsim.simulate(scenario(d), trials=1000, seed=6)
    m = run.metrics
    np.testing.assert_array_equal(m["measurement.payments_at_target"], m["measurement.payments"])
    # yearly instalments each on their own estimate: same truth, different measured improvements
    np.testing.assert_array_equal(m["measurement.y0.true_improvement"], m["measurement.y1.true_improvement"])
    assert not np.array_equal(m["measurement.y0.measured_improvement"], m["measurement.y1.measured_improvement"])
    err = m["measurement.y0.measured_improvement"] - m["measurement.y0.true_improvement"]
    assert abs(err.std() - 0.02) < 0.004 and abs(err.mean()) < 0.004
    # the measured payments come on top of the rate card's
    plain = sibsim.simulate(scenario(benchmark_dict()), trials=1000, seed=6).metrics["outcome_payments"]
    np.testing.assert_allclose(m["outcome_payments"], plain + m["measurement.payments"])


def test_chunking_does_not_change_measured_results():
    sc = sibsim.load(ROOT / "scenarios" / "peterborough.yaml")
    a = sibsim.simulate(sc, trials=2500, seed=7, chunk=1000)
    b = sibsim.simulate(sc, trials=2500, seed=7, chunk=2500)
    for k in a.metrics:
        if k.startswith("measurement"):
            np.testing.assert_array_equal(a.metrics[k], b.metrics[k], err_msg=k)
    for k in a.indicators:
        np.testing.assert_array_equal(a.indicators[k], b.indicators[k], err_msg=k)


# --- plain impact estimates (docs/model.md s.6.5), against the normal model by hand ------------------

def estimate_only(**est) -> dict:
    """No rate-card outcome, no cohort, no comparison group: an evaluation's estimate is paid linearly."""
    e = {"name": "wellbeing", "effect": "effect", "se": 0.1, "units": "sd", "periods": [1, 2, 3],
         "price_per_unit": 1_000_000, **est}
    return {"name": "estimate", "period": "year", "horizon_periods": 4, "parameters": {"effect": 0.3},
            "participants": {"starts": {"kind": "schedule", "per_period": [50]}},
            "outcomes": [], "rate_card": {}, "costs": {"fixed_per_period": 100_000},
            "measurement": {"estimates": [e]}}


def truncated_mean(mu, s, a=0.0):
    """E[max(0, X - a)] for X ~ N(mu, s^2)."""
    z = (mu - a) / s
    return (mu - a) * norm.cdf(z) + s * norm.pdf(z)


def test_estimate_mean_and_quantiles_of_total_payment_match_the_normal_model():
    # mu = 0.3 sd, se 0.1, three independent annual estimates at GBP 1m per sd, no ceiling. P(E < 0) is
    # Phi(-3) = 0.0013 a period, so the total is normal to within that: mean 3 c E[max(0, E)], quantile q
    # c (3 mu + se sqrt(3) z_q)
    n = 20_000
    run = sibsim.simulate(validate(estimate_only()), trials=n, seed=11, workers=1)
    total = run.metrics["measurement.payments"]
    c, mu, s = 1e6, 0.3, 0.1
    mean = 3 * c * truncated_mean(mu, s)
    sd = c * s * math.sqrt(3)
    assert total.mean() == pytest.approx(mean, abs=4 * sd / math.sqrt(n))
    for q in (0.05, 0.25, 0.5, 0.75, 0.95):
        exact = c * (3 * mu + s * math.sqrt(3) * norm.ppf(q))
        se_q = math.sqrt(q * (1 - q) / n) / (norm.pdf(norm.ppf(q)) / sd)  # sample quantile's standard error
        assert np.quantile(total, q) == pytest.approx(exact, abs=4 * se_q), q
    np.testing.assert_allclose(total, run.metrics["outcome_payments"])
    # every estimate pays in its own period; the mean estimate is centred on the true effect
    paid = run.paths["outcome_payments"]
    assert np.all(paid[:, 0] == 0) and np.all((paid[:, 1:] > 0).mean(axis=0) > 0.99)
    assert run.metrics["measurement.wellbeing.mean_estimate"].mean() == pytest.approx(mu, abs=4 * s / math.sqrt(3 * n))


def test_estimate_floor_and_ceiling_by_hand():
    # one estimate: mean c (E[max(0,E)] - E[max(0, E - cap/c)]), P(nothing) Phi(-mu/s), quantiles
    # min(cap, c max(0, mu + s z_q))
    n = 20_000
    c, mu, s, cap = 1e6, 0.05, 0.1, 100_000
    d = estimate_only(se=s, periods=[2], cap_per_period=cap)
    d["parameters"]["effect"] = mu
    pay = sibsim.simulate(validate(d), trials=n, seed=12, workers=1).metrics["measurement.payments"]
    mean = c * (truncated_mean(mu, s) - truncated_mean(mu, s, cap / c))
    assert pay.mean() == pytest.approx(mean, abs=4 * pay.std() / math.sqrt(n))
    p0 = norm.cdf(-mu / s)
    assert (pay == 0).mean() == pytest.approx(p0, abs=4 * math.sqrt(p0 * (1 - p0) / n))
    p_cap = 1 - norm.cdf((cap / c - mu) / s)
    assert (pay == cap).mean() == pytest.approx(p_cap, abs=4 * math.sqrt(p_cap * (1 - p_cap) / n))
    assert pay.max() == cap and pay.min() == 0
    for q in (0.5, 0.75, 0.9):
        x = mu + s * norm.ppf(q)
        se_q = math.sqrt(q * (1 - q) / n) / (norm.pdf(norm.ppf(q)) / (c * s))
        assert np.quantile(pay, q) == pytest.approx(min(cap, c * max(0.0, x)), abs=4 * se_q), q


def test_estimates_are_independent_across_periods_and_chunk_independent():
    sc = validate(estimate_only())
    a = sibsim.simulate(sc, trials=3000, seed=5, workers=1)
    b = sibsim.simulate(sc, trials=3000, seed=5, chunk=700, workers=1)
    np.testing.assert_array_equal(a.metrics["measurement.payments"], b.metrics["measurement.payments"])
    paid = a.paths["outcome_payments"]
    r = np.corrcoef(paid[:, 1], paid[:, 2])[0, 1]
    assert abs(r) < 4 / math.sqrt(paid.shape[0])


def test_estimate_risks_no_effect_and_target():
    d = estimate_only(target_effect=0.2)
    run = sibsim.simulate(validate(d), trials=4000, seed=3, workers=1)
    p = run.probabilities()
    # no effect: each of three estimates pays with probability 1/2, independently: 1 - 1/8
    assert p["measurement.pay_when_no_effect"]["p"] == pytest.approx(7 / 8, abs=4 * math.sqrt(7 / 64 / 4000))
    # at the target 0.2 sd: nothing paid only if all three estimates fall below 0: Phi(-2)^3, about 1e-5
    assert p["measurement.no_pay_at_target"]["p"] < 0.002
    nf = run.metrics["measurement.payments_no_effect"]
    assert nf.mean() == pytest.approx(3 * 1e6 * truncated_mean(0.0, 0.1), abs=4 * nf.std() / math.sqrt(4000))


@pytest.mark.parametrize("change, field, words", [
    ({"se": -0.1}, "measurement.estimates.0.se", [">= 0"]),
    ({"periods": []}, "measurement.estimates.0.periods", ["at least one period"]),
    ({"periods": [1, 1]}, "measurement.estimates.0.periods", ["distinct"]),
    ({"periods": [1, 9]}, "measurement.estimates.0.periods", ["inside the horizon", "0 .. 3", "got 9"]),
    ({"price_per_unit": "price"}, "measurement.estimates.0.price_per_unit", ["'price' is not a parameter"]),
    ({"units": "percent"}, "measurement.estimates.0.units", ["outcome", "sd"]),
])
def test_bad_estimates_are_refused_naming_the_field(change, field, words):
    msg = problem_at(problems_of(estimate_only(**change)), field)
    for w in words:
        assert w in msg, (w, msg)


def test_no_outcome_needs_estimates():
    d = estimate_only()
    del d["measurement"]
    assert "at least 1 item" in problem_at(problems_of(d), "outcomes")
