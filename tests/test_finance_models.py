"""Finance models (sib, pbr, fee, hybrid), the provider's account and value for money.

Hand-worked cases on tiny deterministic scenarios and arrays; properties with
hypothesis (cash conserved under every model, tranches paid in order and
never beyond principal plus coupon, insolvency iff the balance falls below
the overdraft limit); identities between models on common draws.
"""

from __future__ import annotations

import copy
import json

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import sibsim
from helpers import ROOT, benchmark_dict, scenario, tiny
from sibsim import draw
from sibsim.cli import main
from sibsim.cohorts import simulate_cohort
from sibsim.engine import sample_params
from sibsim.finance import MODELS, PARTIES, evaluate, fee, hybrid, model_flows, pbr, sib
from sibsim.finance.appraisal import acceptability, wtp_label
from sibsim.finance.cashflows import delivery_cost
from sibsim.finance.provider import provider_account
from sibsim.finance.waterfall import waterfall
from sibsim.payments import rate_card
from sibsim.run import Run

BENCHMARK_TRIALS = 1000


def yearly(**over) -> dict:
    """tiny() in years: one participant; a paid 3,500 at period 2, b and c 5,000 at period 4."""
    d = tiny(period="year", **over)
    d.setdefault("costs", {"setup": 1000})
    return d


def run1(d: dict, **kw):
    return sibsim.simulate(scenario(d), trials=1, seed=0, **kw)


def one(run, name: str) -> float:
    return float(run.metrics[name][0])


def chunk(sc, seed: int = 0):
    """One block of trials through the engine's stages, for evaluate(..., outcomes=...)."""
    d = draw.BlockDraws(seed, 0, 1)
    params = sample_params(sc, d)
    cohort = simulate_cohort(sc, params, d)
    return params, rate_card(sc, params, cohort), delivery_cost(sc, params, cohort)


def conserved(cf, scale: float = 1.0) -> bool:
    return set(cf.flows) == set(PARTIES) and np.allclose(cf.total(), 0.0, atol=1e-9 * max(scale, 1.0))


# --- the waterfall, by hand ---------------------------------------------------------------

def test_waterfall_pays_seniors_first_and_never_beyond_what_is_owed():
    owed = np.array([[60.0, 80.0], [60.0, np.inf], [np.inf, 50.0], [60.0, 80.0]])
    paid = waterfall(np.array([100.0, 100.0, 100.0, 500.0]), owed)
    np.testing.assert_allclose(paid, [[60, 40], [60, 40], [100, 0], [60, 80]])


def test_senior_repaid_with_interest_before_the_subordinate_gets_anything():
    # setup 1,000 drawn at 0: senior 600 at 10%, subordinate 400 at 5% a year.
    # Year 2: senior owed 726, subordinate 441; payment 800 -> senior 726, subordinate 74.
    # Year 4: subordinate owed (441 - 74) * 1.05^2 = 404.6175; payment 5,000 -> the rest, 4,595.38, refunded.
    d = yearly()
    d["rate_card"]["prices"]["a"] = 800
    d["finance"] = {"model": "sib", "sib": {"tranches": [
        {"name": "senior", "principal": 600, "coupon_annual": 0.10},
        {"name": "subordinate", "principal": 400, "coupon_annual": 0.05}]}}
    run = run1(d)
    inv = run.paths["investor"][0]
    assert one(run, "investor_senior_distributions") == pytest.approx(726)
    assert one(run, "investor_subordinate_distributions") == pytest.approx(74 + 367 * 1.05**2)
    assert one(run, "investor_senior_irr") == pytest.approx(0.10, abs=1e-9)
    assert one(run, "investor_subordinate_irr") == pytest.approx(0.05, abs=1e-9)
    np.testing.assert_allclose(inv, [-1000, 0, 800, 0, 367 * 1.05**2, 0, 0, 0])
    assert one(run, "excess_payments") == pytest.approx(5000 - 367 * 1.05**2)
    assert one(run, "commissioner_cost") == pytest.approx(726 + 74 + 367 * 1.05**2)
    assert one(run, "investor_moic") == pytest.approx((800 + 367 * 1.05**2) / 1000)
    assert not run.indicators["investor_subordinate_loss"][0]


def test_guarantee_repays_a_share_of_each_tranches_principal_loss():
    d = yearly()
    for o in d["outcomes"]:
        o["effect"]["size"] = 0.0
    d["finance"] = {"model": "sib", "sib": {"guarantee_share": 0.5, "tranches": [
        {"name": "senior", "principal": 600, "coupon_annual": 0.05, "guarantee_share": 1.0},
        {"name": "junior", "principal": 400}]}}
    run = run1(d)
    assert one(run, "guarantee_paid") == pytest.approx(600 + 200)
    assert one(run, "investor_senior_net_gain") == pytest.approx(0)
    assert one(run, "investor_junior_net_gain") == pytest.approx(-200)
    assert one(run, "investor_net_gain") == pytest.approx(-200)
    assert run.indicators["investor_junior_loss"][0] and not run.indicators["investor_senior_loss"][0]
    assert run.paths["guarantor"][0][-1] == pytest.approx(-800)


def test_pass_through_investors_get_95_percent_until_repaid_at_5_percent():
    # Utah: 1,000 drawn at 0, owed 1,102.5 at year 2; payment 1,000 -> 950 to investors, 50 kept.
    # Year 4: owed 152.5 * 1.05^2 = 168.13; payment 5,000 -> 168.13 to investors, the rest kept.
    d = yearly()
    d["rate_card"]["prices"]["a"] = 1000
    d["finance"] = {"model": "sib", "sib": {"pass_through_share": 0.95, "tranches": [
        {"name": "senior", "principal": 1000, "coupon_annual": 0.05}]}}
    run = run1(d)
    inv = run.paths["investor"][0]
    owed4 = 152.5 * 1.05**2
    np.testing.assert_allclose(inv, [-1000, 0, 950, 0, owed4, 0, 0, 0])
    assert one(run, "commissioner_cost") == pytest.approx(950 + owed4)
    assert one(run, "investor_irr") == pytest.approx(0.05, abs=1e-9)


def test_recycling_funds_later_costs_so_less_capital_is_drawn():
    # costs 100 a period for 4 periods; payments 150 at 1, 100 at 3, 200 at 4; recycled up to period 3.
    # draws 100, 100, 0 (150 recycled), 50 (50 recycled left); period 4: 200 + 100 held -> investors.
    costs = np.array([[100.0, 100, 100, 100, 0, 0]])
    pay = np.array([[0.0, 150, 0, 100, 200, 0]])
    cf = sib(costs=costs, payments=pay, recycle_until=3)
    np.testing.assert_allclose(cf["investor"][0], [-100, -100, 0, -50, 300, 0])
    np.testing.assert_allclose(cf["provider"][0], [0, 150, -100, 50, -100, 0])
    assert cf.extra["investor_drawdowns"][0] == 250 < costs.sum()
    assert cf.extra["recycled_payments"][0] == 250
    assert conserved(cf)
    plain = sib(costs=costs, payments=pay)
    assert plain.extra["investor_drawdowns"][0] == 400


def test_overdraft_interest_and_insolvency_by_hand():
    # reserves 50; costs 100, 100; payment 300 at 3; 10% a period on the overdrawn balance.
    cf = pbr(costs=np.array([[100.0, 100, 0, 0]]), payments=np.array([[0.0, 0, 0, 300]]))
    out = provider_account(cf, reserves=50.0, overdraft_limit=100.0, rate_per_period=0.10)
    np.testing.assert_allclose(out["lender"][0], [0, 5, 15.5, 17.05])
    assert out.extra["provider_min_balance"][0] == pytest.approx(-170.5)
    assert out.extra["provider_peak_overdraft"][0] == pytest.approx(170.5)
    assert out.extra["provider_min_cash"][0] == pytest.approx(-200)
    assert out.extra["insolvency"][0]
    assert out["provider"][0].sum() == pytest.approx(100 - 37.55)
    assert conserved(out)
    ok = provider_account(cf, reserves=50.0, overdraft_limit=200.0, rate_per_period=0.10)
    assert not ok.extra["insolvency"][0]


def test_deferred_provider_fee_is_a_tranche_the_provider_funds_and_is_repaid_from_last():
    # Massachusetts: 1,000 of cost, investors 800, provider defers 200; payment 900 at year 2.
    d = yearly()
    d["rate_card"]["prices"] = {"a": 900, "b": 0, "c": 0}
    d["finance"] = {"model": "sib", "provider": {"reserves": 0, "overdraft_limit": 1000, "overdraft_rate_annual": 0},
                    "sib": {"tranches": [{"name": "loan", "principal": 800, "coupon_annual": 0.0},
                                         {"name": "deferred_fee", "principal": 200, "coupon_annual": 0.0,
                                          "holder": "provider"}]}}
    run = run1(d)
    assert one(run, "investor_drawdowns") == 800 and one(run, "investor_net_gain") == pytest.approx(0)
    assert one(run, "provider_deferred_fee_drawdowns") == 200
    assert one(run, "provider_deferred_fee_distributions") == pytest.approx(100)
    assert one(run, "provider_min_cash") == pytest.approx(-200)
    assert one(run, "provider_surplus") == pytest.approx(-100)
    assert run.indicators["provider_deferred_fee_loss"][0]


def test_upfront_and_scheduled_drawdowns_return_unspent_capital():
    costs = np.array([[300.0, 300, 300]])
    up = sib(costs=costs, payments=np.zeros((1, 3)), principal=1000.0, drawdown="upfront")
    np.testing.assert_allclose(up["investor"][0], [-1000, 0, 100])
    assert up.extra["investor_drawdowns"][0] == 900
    sch = sib(costs=costs, payments=np.zeros((1, 3)), drawdown="schedule", schedule=[500, 500])
    np.testing.assert_allclose(sch["investor"][0], [-500, -500, 100])
    np.testing.assert_allclose(np.cumsum(sch["provider"][0]), [200, 400, 0])
    short = sib(costs=costs, payments=np.zeros((1, 3)), drawdown="schedule", schedule=[400])
    np.testing.assert_allclose(np.cumsum(short["provider"][0]), [100, -200, -500])  # the provider bears the rest
    assert conserved(up) and conserved(sch) and conserved(short)


def test_a_repaid_tranche_does_not_get_unspent_capital_back_twice():
    # 1,000 drawn up front at 0% cap, 100 spent, payment 2,000 repays it all: the 900 unspent stays put
    cf = sib(costs=np.array([[100.0, 0, 0]]), payments=np.array([[0.0, 2000, 0]]), principal=1000.0,
             coupon_per_period=0.0, drawdown="upfront")
    assert cf["investor"][0].sum() == pytest.approx(0)
    assert cf["provider"][0].sum() == pytest.approx(900)
    assert conserved(cf)


def test_intermediary_fee_share_and_management_fee():
    cf = sib(costs=np.array([[1000.0, 0]]), payments=np.array([[0.0, 2000]]), fee_per_period=50.0,
             intermediary_fee_share=0.1)
    np.testing.assert_allclose(cf["intermediary"][0], [50, 250])
    np.testing.assert_allclose(cf["investor"][0], [-1050, 1800 - 50])  # the fee is drawn every period
    assert conserved(cf)


# --- models against each other on common draws --------------------------------------------------

@pytest.fixture(scope="module")
def bench_all():
    d = benchmark_dict()
    d["finance"]["fee"] = {"margin": 0.07}
    d["finance"]["hybrid"] = {"fee_share": 0.3}
    d["rate_card"]["co_payer_share"] = 0.2
    return sibsim.simulate(scenario(d), trials=BENCHMARK_TRIALS, seed=3, finance=("pbr", "fee", "hybrid"))


def test_fee_for_service_costs_exactly_cost_times_one_plus_margin(bench_all):
    m = bench_all.per_trial()
    np.testing.assert_allclose(m["fee:commissioner_cost"], m["delivery_cost"] * 1.07, rtol=1e-12)
    assert np.all(m["fee:outcome_fund_cost"] == 0)
    np.testing.assert_allclose(m["fee:provider_surplus"], m["delivery_cost"] * 0.07, rtol=1e-12)
    assert not m["fee:insolvency"].any()


def test_the_outcomes_fund_pays_its_share_of_outcome_payments_under_every_model(bench_all):
    m = bench_all.per_trial()
    pay = m["outcome_payments"]
    np.testing.assert_allclose(m["outcome_fund_cost"], 0.2 * pay, rtol=1e-12)
    np.testing.assert_allclose(m["commissioner_cost"], 0.8 * pay, rtol=1e-12)
    np.testing.assert_allclose(m["pbr:outcome_fund_cost"], 0.2 * pay, rtol=1e-12)
    np.testing.assert_allclose(m["hybrid:outcome_fund_cost"], 0.2 * 0.7 * pay, rtol=1e-12)
    np.testing.assert_allclose(m["hybrid:commissioner_cost"],
                               0.3 * 1.07 * m["delivery_cost"] + 0.8 * 0.7 * pay, rtol=1e-12)


def test_sib_and_pbr_move_the_same_working_capital(bench_all):
    m = bench_all.per_trial()
    np.testing.assert_allclose(-m["pbr:provider_min_cash"], m["investor_peak_capital"], rtol=1e-9)
    # the more of the cost is a fee, the less working capital the provider needs, trial by trial
    assert np.all(m["pbr:provider_min_cash"] <= m["hybrid:provider_min_cash"])
    assert np.all(m["hybrid:provider_min_cash"] <= m["fee:provider_min_cash"])
    assert np.all(m["fee:provider_min_cash"] == 0)


@pytest.mark.parametrize("h, other", [(0.0, "pbr"), (1.0, "fee")])
def test_hybrid_at_the_ends_is_pbr_and_fee(h, other):
    d = benchmark_dict()
    d["finance"]["model"] = "hybrid"
    d["finance"]["hybrid"] = {"fee_share": h}
    d["finance"]["fee"] = {"margin": 0.05}
    run = sibsim.simulate(scenario(d), trials=300, seed=5, finance=(other,))
    mine, theirs = run.model("hybrid"), run.model(other)
    assert set(mine.metrics) == set(theirs.metrics) and set(mine.indicators) == set(theirs.indicators)
    assert "commissioner_cost" in mine.metrics and "provider_min_balance" in mine.metrics
    for k, v in mine.metrics.items():
        np.testing.assert_array_equal(v, theirs.metrics[k], err_msg=k)
    for k, v in mine.indicators.items():
        np.testing.assert_array_equal(v, theirs.indicators[k], err_msg=k)


def test_cli_json_reports_every_model_on_common_draws(tmp_path, capsys):
    out = tmp_path / "out.json"
    code = main(["run", str(ROOT / "scenarios" / "benchmark.yaml"), "--trials", "400", "--finance",
                 "sib,pbr,fee,hybrid", "--json", str(out), "-q"])
    assert code == 0
    data = json.loads(out.read_text())
    assert data["format"] == 2 and data["finance_models"] == ["sib", "pbr", "fee", "hybrid"]
    assert not [k for k in data["metrics"] if "." in k and k.split(".")[0] in MODELS]  # no prefixes any more
    models = data["models"]
    assert list(models) == ["sib", "pbr", "fee", "hybrid"]
    for name, r in models.items():
        for k in ("commissioner_cost", "commissioner_cost_pv", "outcome_fund_cost", "public_cost",
                  "provider_surplus", "provider_min_cash", "provider_peak_overdraft"):
            assert set(r["metrics"][k]) == {"mean", "std", "mcse", "p5", "p50", "p95", "nan"}, (name, k)
        assert "insolvency" in r["probabilities"]
        # investor outputs only where there are investors: absent, not zero
        assert ("investor_irr" in r["metrics"]) == (name == "sib")
        assert ("investor_loss" in r["probabilities"]) == (name == "sib")
        assert "outcome_payments" not in r["metrics"]  # shared outputs are reported once, at the top
    # one set of draws: the models' payer costs are exact functions of the same payments and costs
    m, mean = data["metrics"], (lambda name, k: models[name]["metrics"][k]["mean"])
    assert mean("sib", "commissioner_cost") == m["commissioner_cost"]["mean"]
    assert mean("pbr", "commissioner_cost") == pytest.approx(m["outcome_payments"]["mean"], rel=1e-12)
    assert mean("fee", "commissioner_cost") == pytest.approx(m["delivery_cost"]["mean"], rel=1e-12)
    assert mean("hybrid", "commissioner_cost") == pytest.approx(
        0.5 * m["delivery_cost"]["mean"] + 0.5 * m["outcome_payments"]["mean"], rel=1e-12)
    assert mean("pbr", "provider_min_cash") == pytest.approx(-m["investor_peak_capital"]["mean"], rel=1e-9)


# --- value for money ------------------------------------------------------------------------------

def test_value_for_money_by_hand():
    # Years, 10% discounting. a, b, c certain (additional 1 each); only a valued (10,000) and counted.
    # SIB: payer pays 3,500 at 2 and 5,000 at 4. Fee: pays the setup cost 1,000 at 0, +20% optimism
    # bias, and keeps half the effect. Value timing: the payments' average discount factor, a year earlier.
    d = yearly(discount_rate_annual=0.10)
    d["finance"] = {"model": "sib", "fee": {"margin": 0.0}}
    d["appraisal"] = {"value_per_outcome": {"a": 10000}, "effect_outcomes": ["a"], "optimism_bias": 0.2,
                      "fee_effect_share": 0.5, "wtp_grid": [0, 5000, 20000]}
    sc = scenario(d)
    params, pay, costs = chunk(sc)
    per_model, ind, _ = evaluate(sc, params, costs=costs, payments=pay.treated, models=("fee",), outcomes=pay)
    m = {**per_model["sib"][0], **{f"fee:{k}": v for k, v in per_model["fee"][0].items()}}
    sib_pv = 3500 / 1.1**3 + 5000 / 1.1**5
    value = 10000 * sib_pv / 8500 * 1.1
    fee_pv = 1.2 * 1000 / 1.1
    assert m["public_cost_pv"][0] == pytest.approx(sib_pv)
    assert m["fee:public_cost_pv"][0] == pytest.approx(fee_pv)
    assert m["value_of_additional_outcomes_pv"][0] == pytest.approx(value)
    assert m["commissioner_npv"][0] == pytest.approx(value - sib_pv)
    assert m["fee:commissioner_npv"][0] == pytest.approx(0.5 * value - fee_pv)
    assert m["cost_per_additional_outcome_pv"][0] == pytest.approx(sib_pv)
    assert m["fee:cost_per_additional_outcome_pv"][0] == pytest.approx(fee_pv / 0.5)
    # SIB better than fee at w when w - sib_pv > w / 2 - fee_pv, i.e. w > 2 (sib_pv - fee_pv) = 9,286.6
    assert [bool(ind[f"vfm.sib_better_than_fee@{w}"][0]) for w in ("0", "5000", "20000")] == [False, False, True]
    assert [bool(ind[f"vfm.sib_better_than_nothing@{w}"][0]) for w in ("0", "5000", "20000")] == [False, False, True]
    assert bool(ind["vfm.sib_better_than_fee"][0]) == (value - sib_pv > 0.5 * value - fee_pv)


def test_acceptability_curve_is_flat_without_an_effect_difference_and_rises_with_one():
    d = benchmark_dict()
    d["appraisal"] = {"wtp_grid": [0, 2000, 5000, 10000, 20000, 50000]}
    sc = scenario(d)
    params, pay, costs = chunk(sc, seed=11)
    _, ind, _ = evaluate(sc, params, costs=costs, payments=pay.treated, outcomes=pay)
    flat = [ind[f"vfm.sib_better_than_fee@{wtp_label(w)}"].mean() for w in sc.appraisal.wtp_grid]
    assert len(set(flat)) == 1  # same outcomes under both: only cost differs
    d["appraisal"]["fee_effect_share"] = 0.6
    sc = scenario(d)
    _, ind, _ = evaluate(sc, params, costs=costs, payments=pay.treated, outcomes=pay)
    curve = [ind[f"vfm.sib_better_than_fee@{wtp_label(w)}"].mean() for w in sc.appraisal.wtp_grid]
    assert curve == sorted(curve) and curve[-1] > curve[0] + 0.5
    run = Run(scenario=sc, seed=11, trials=len(costs), metrics={}, indicators=ind, params={})
    table = acceptability(run)
    assert list(table["wtp"]) == list(sc.appraisal.wtp_grid)
    np.testing.assert_allclose(table["sib_better_than_fee"], curve)
    assert {"sib_better_than_nothing", "fee_better_than_nothing", "sib_better_than_fee_se"} <= set(table.columns)
    text = json.dumps(run.to_dict()["probabilities"])
    assert "vfm.sib_better_than_fee@50000" in text


def test_a_run_carries_the_acceptability_curve_into_its_json():
    d = benchmark_dict()
    d["appraisal"] = {"fee_effect_share": 0.8, "wtp_grid": [0, 10000]}
    data = sibsim.simulate(scenario(d), trials=200, seed=1).to_dict()
    assert "vfm.sib_better_than_fee@10000" in data["probabilities"]
    # an NPV needs a value per outcome: without one it is not reported (it would be minus the cost)
    assert "commissioner_npv" not in data["metrics"]
    d["appraisal"]["value_per_outcome"] = {"job_entry": 9800}
    data = sibsim.simulate(scenario(d), trials=200, seed=1).to_dict()
    assert "commissioner_npv" in data["metrics"] and "vfm.sib_better_than_fee" in data["probabilities"]


# --- properties ------------------------------------------------------------------------------------

money = st.floats(0, 1e4, allow_nan=False, allow_infinity=False)
share = st.floats(0, 1, allow_nan=False)


def flows_arrays(n=3, T=6):
    return hnp.arrays(float, (n, T), elements=money)


@st.composite
def sib_terms(draw_):
    J = draw_(st.integers(1, 3))
    principal = draw_(st.lists(st.floats(0, 5e4), min_size=J, max_size=J))
    coupon = draw_(st.lists(st.floats(0, 0.05), min_size=J, max_size=J))
    if draw_(st.booleans()):
        coupon[-1] = np.nan
    mode = draw_(st.sampled_from(["as_needed", "upfront", "schedule"]))
    return dict(
        principal=np.array(principal), coupon_per_period=np.array(coupon),
        holders=tuple(draw_(st.lists(st.sampled_from(["investor", "provider"]), min_size=J, max_size=J))),
        names=tuple(f"t{j}" for j in range(J)),
        guarantee_share=np.array(draw_(st.lists(share, min_size=J, max_size=J))),
        drawdown=mode, schedule=draw_(st.lists(money, min_size=1, max_size=6)) if mode == "schedule" else None,
        fee_per_period=draw_(st.floats(0, 100)), intermediary_fee_share=draw_(share),
        pass_through_share=draw_(share), excess_to=draw_(st.sampled_from(["commissioner", "provider"])),
        recycle_until=draw_(st.none() | st.integers(0, 6)), payer_share=draw_(share))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(costs=flows_arrays(), payments=flows_arrays(), terms=sib_terms(), h=share, margin=st.floats(0, 0.5),
       reserves=money, limit=money, rate=st.floats(0, 0.05))
def test_cash_is_conserved_under_every_model(costs, payments, terms, h, margin, reserves, limit, rate):
    phi = terms["payer_share"]
    models = {
        "sib": sib(costs=costs, payments=payments, **terms),
        "pbr": pbr(costs=costs, payments=payments, payer_share=phi),
        "fee": fee(costs=costs, payer_share=phi, margin=margin),
        "hybrid": hybrid(costs=costs, payments=payments, payer_share=phi, fee_share=h, margin=margin),
    }
    scale = costs.sum() + payments.sum() + 1e5
    for name, cf in models.items():
        assert conserved(cf, scale), name
        acct = provider_account(cf, reserves=reserves, overdraft_limit=limit, rate_per_period=rate)
        assert conserved(acct, scale), name
        # insolvency iff the lowest balance (reserves, contract cash, interest) falls below -limit
        bal = reserves + np.cumsum(acct["provider"], axis=1)
        lowest = np.minimum(bal.min(axis=1), reserves)
        np.testing.assert_allclose(acct.extra["provider_min_balance"], lowest, atol=1e-6 * scale)
        np.testing.assert_array_equal(acct.extra["insolvency"], acct.extra["provider_min_balance"] < -limit)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(costs=flows_arrays(), payments=flows_arrays(), terms=sib_terms())
def test_no_party_is_paid_beyond_its_cap_and_tranches_are_paid_in_order(costs, payments, terms):
    cf = sib(costs=costs, payments=payments, **terms)
    scale = costs.sum() + payments.sum() + 1e5
    tol = 1e-7 * scale
    # payers never pay more than the rate card; the intermediary no more than its fees
    assert np.all(-(cf["commissioner"] + cf["outcome_fund"]).sum(axis=1) <= payments.sum(axis=1) + tol)
    assert np.all(cf["intermediary"].sum(axis=1) <= terms["fee_per_period"] * costs.shape[1]
                  + terms["intermediary_fee_share"] * payments.sum(axis=1) + tol)
    T = costs.shape[1]
    for j, (h, nm) in enumerate(zip(terms["holders"], terms["names"])):
        r = terms["coupon_per_period"][j]
        if not np.isnan(r):
            # a capped tranche gets at most principal plus coupon: its flows have NPV <= 0 at the coupon
            npv = cf.parts[f"{h}.{nm}"] @ (1 + r) ** -np.arange(T)
            assert np.all(npv <= tol), (nm, npv)


@settings(max_examples=200, deadline=None)
@given(owed=hnp.arrays(float, (4, 3), elements=st.floats(0, 1e4) | st.just(np.inf)),
       available=hnp.arrays(float, (4,), elements=money))
def test_waterfall_order_caps_and_totals(owed, available):
    paid = waterfall(available, owed)
    assert np.all(paid >= 0) and np.all(paid <= owed)
    assert np.all(paid.sum(axis=1) <= available * (1 + 1e-12) + 1e-9)
    for j in range(1, owed.shape[1]):  # a junior tranche is paid only once every senior one is paid in full
        junior_paid = paid[:, j] > 0
        assert np.all(paid[junior_paid, :j] == owed[junior_paid, :j])
    everything = owed.sum(axis=1) <= available
    np.testing.assert_array_equal(paid[everything], owed[everything])
    left = available - paid.sum(axis=1)
    assert np.all((left <= 1e-9 * np.maximum(available, 1)) | everything)


def test_every_model_is_registered_and_runs_on_the_benchmark():
    assert set(MODELS) == {"sib", "pbr", "fee", "hybrid"}
    sc = scenario(benchmark_dict())
    params, pay, costs = chunk(sc)
    for name in MODELS:
        cf = model_flows(name, sc, params, costs=costs, payments=pay.treated)
        assert conserved(cf, 1e7), name


def test_scenario_own_model_can_be_any_model():
    for model in ("pbr", "fee", "hybrid"):
        d = copy.deepcopy(benchmark_dict())
        d["finance"]["model"] = model
        run = sibsim.simulate(scenario(d), trials=200, seed=2, finance=("sib",))
        assert "investor_irr" in run.model("sib").metrics and "commissioner_cost" in run.metrics
        assert "investor_irr" not in run.metrics  # no investors in the own model: absent, not zero
        assert set(run.paths) >= set(PARTIES)


@settings(max_examples=50, deadline=None)
@given(costs=flows_arrays(), payments=flows_arrays(), share_=share)
def test_the_shortcut_for_one_open_ended_tranche_agrees_with_the_period_loop(costs, payments, share_):
    fast = sib(costs=costs, payments=payments, payer_share=share_, intermediary_fee_share=0.1)
    # the same contract with an empty senior tranche in front: two tranches take the general path
    loop = sib(costs=costs, payments=payments, payer_share=share_, intermediary_fee_share=0.1,
               principal=np.array([0.0, np.inf]), coupon_per_period=np.array([0.0, np.nan]),
               holders=("investor", "investor"))
    for party in PARTIES:
        np.testing.assert_allclose(fast[party], loop[party], atol=1e-6, err_msg=party)
