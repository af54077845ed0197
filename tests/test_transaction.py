"""Transaction costs (issue 13): per party and finance model, in every party's cash and in value for money."""

from __future__ import annotations

import copy

import numpy as np
import pytest
import yaml

from sibsim import simulate
from sibsim.errors import ScenarioError
from sibsim.finance import model_flows
from sibsim.finance.cashflows import discount_factors
from sibsim.spec import validate

from helpers import ROOT

MODELS = ("sib", "pbr", "fee", "hybrid")
TRIALS = 400


def lcf(**finance_extra) -> dict:
    d = yaml.safe_load((ROOT / "scenarios" / "life_chances_fund.yaml").read_text())
    d["finance"].update(copy.deepcopy(finance_extra))
    return d


def runs(extra: dict, seed: int = 3):
    base = simulate(validate(lcf()), trials=TRIALS, seed=seed, finance=MODELS[1:])
    with_tc = simulate(validate(lcf(**extra)), trials=TRIALS, seed=seed, finance=MODELS[1:])
    return base, with_tc


# every output that reads the public sector's cash (and nothing else does)
PUBLIC = {"commissioner_cost", "commissioner_cost_pv", "public_cost", "public_cost_pv", "commissioner_npv",
          "cost_per_additional_outcome_pv", "public_cost_per_additional_outcome", "deadweight_paid"}


@pytest.mark.parametrize("period", [0, 5])
def test_a_fixed_cost_paid_by_the_commissioner_raises_public_cost_by_exactly_that_and_nothing_else(period):
    X = 37_500.0
    base, tc = runs({"transaction_costs": [{"name": "legal", "party": "commissioner", "one_off": X,
                                            "period": period}]})
    sc = base.scenario
    disc = discount_factors(sc.discount_rate_annual, sc.periods_per_year, sc.horizon_periods)[period]
    for name in MODELS:
        a, b = base.model(name), tc.model(name)
        np.testing.assert_allclose(b.metrics["public_cost"] - a.metrics["public_cost"], X, rtol=0, atol=1e-6)
        np.testing.assert_allclose(b.metrics["commissioner_cost"] - a.metrics["commissioner_cost"], X, atol=1e-6)
        np.testing.assert_allclose(b.metrics["public_cost_pv"] - a.metrics["public_cost_pv"], X * disc, atol=1e-6)
        np.testing.assert_allclose(a.metrics["commissioner_npv"] - b.metrics["commissioner_npv"], X * disc,
                                   atol=1e-6)
        assert np.all(b.metrics["transaction_costs_commissioner"] == X)
        assert np.all(b.metrics["transaction_costs"] == X)
        # outcome payments made are the public cost less fees and transaction costs: the same to rounding
        np.testing.assert_allclose(b.metrics["deadweight_paid"], a.metrics["deadweight_paid"], rtol=1e-12, atol=1e-6)
        for k, v in a.metrics.items():
            if k not in PUBLIC:
                np.testing.assert_array_equal(b.metrics[k], v, err_msg=f"{name}: {k} changed")
        for k, v in a.indicators.items():
            if not k.startswith("vfm."):
                np.testing.assert_array_equal(b.indicators[k], v, err_msg=f"{name}: {k} changed")


def test_costs_apply_only_to_the_models_named_and_fall_on_their_party():
    X, Y = 10_000.0, 2_500.0
    base, tc = runs({"transaction_costs": [
        {"name": "due_diligence", "party": "investor", "one_off": X},
        {"name": "bid", "party": "provider", "one_off": Y, "models": ["pbr", "hybrid"]},
        {"name": "monitoring", "party": "intermediary", "per_period": 500.0, "periods": [0, 3], "models": ["sib"]},
    ]})
    sib_a, sib_b = base.model("sib"), tc.model("sib")
    np.testing.assert_allclose(sib_a.metrics["investor_net_gain"] - sib_b.metrics["investor_net_gain"], X, atol=1e-6)
    np.testing.assert_allclose(sib_a.metrics["intermediary_income"] - sib_b.metrics["intermediary_income"], 2_000.0,
                               atol=1e-6)
    np.testing.assert_array_equal(sib_a.metrics["provider_surplus"], sib_b.metrics["provider_surplus"])
    np.testing.assert_array_equal(sib_a.metrics["public_cost"], sib_b.metrics["public_cost"])
    for name in ("pbr", "hybrid"):
        a, b = base.model(name), tc.model(name)
        assert np.all(b.metrics["provider_surplus"] <= a.metrics["provider_surplus"] - Y + 1e-6)  # plus interest
        assert np.all(b.metrics["provider_min_cash"] <= a.metrics["provider_min_cash"])
        assert b.indicators["insolvency"].sum() >= a.indicators["insolvency"].sum()
        assert np.all(b.metrics["transaction_costs_investor"] == 0.0)
    f = tc.model("fee")
    assert np.all(f.metrics["transaction_costs"] == 0.0)
    np.testing.assert_array_equal(f.metrics["provider_surplus"], base.model("fee").metrics["provider_surplus"])


def test_a_cost_given_as_a_parameter_is_drawn_per_trial_and_cash_is_conserved():
    d = lcf(transaction_costs=[{"name": "evaluation", "party": "outcome_fund", "per_period": "eval_cost"}])
    d["parameters"]["eval_cost"] = {"dist": "uniform", "low": 1000, "high": 3000}
    sc = validate(d)
    run = simulate(sc, trials=200, seed=1)
    draws = run.params["eval_cost"]
    np.testing.assert_allclose(run.metrics["transaction_costs_outcome_fund"], draws * sc.horizon_periods)
    from sibsim.engine import sample_params
    from sibsim import draw

    params = sample_params(sc, draw.BlockDraws(0, 0, 1))
    plain = validate(lcf())
    n, T = 1000, sc.horizon_periods
    costs = np.full((n, T), 1000.0)
    pay = np.full((n, T), 800.0)
    for name in MODELS:
        cf = model_flows(name, sc, params, costs=costs, payments=pay)
        ref = model_flows(name, plain, params, costs=costs, payments=pay)
        np.testing.assert_allclose(cf.total(), 0.0, atol=1e-6)
        np.testing.assert_allclose(ref["outcome_fund"] - cf["outcome_fund"],
                                   np.broadcast_to(params["eval_cost"][:, None], (n, T)), rtol=1e-12)
        for party in ("commissioner", "provider", "investor", "intermediary"):
            np.testing.assert_array_equal(cf[party], ref[party])


@pytest.mark.parametrize("item, field, words", [
    ({"name": "x", "party": "commissioner"}, "finance.transaction_costs.0", "one_off and/or per_period"),
    ({"name": "x", "party": "commissioner", "one_off": -5}, "finance.transaction_costs.0.one_off", ">= 0"),
    ({"name": "x", "party": "commissioner", "one_off": 5, "period": 16}, "finance.transaction_costs.0.period",
     "0 .. 15"),
    ({"name": "x", "party": "commissioner", "per_period": 5, "periods": [2, 20]},
     "finance.transaction_costs.0.periods", "0 .. 15"),
    ({"name": "x", "party": "commissioner", "one_off": "nope"}, "finance.transaction_costs.0.one_off",
     "not a parameter"),
    ({"name": "x", "party": "investor", "one_off": 5, "models": ["pbr"]}, "finance.transaction_costs.0",
     "sib model only"),
    ({"name": "x", "party": "lawyers", "one_off": 5}, "finance.transaction_costs.0.party", "commissioner"),
])
def test_bad_transaction_costs_name_the_field_and_what_is_allowed(item, field, words):
    with pytest.raises(ScenarioError) as e:
        validate(lcf(transaction_costs=[item]))
    assert any(f == field and words in m for f, m in e.value.problems), e.value.problems


from hypothesis import given, settings, strategies as st  # noqa: E402


@settings(max_examples=30, deadline=None)
@given(items=st.lists(st.fixed_dictionaries({
    "party": st.sampled_from(["commissioner", "outcome_fund", "provider", "investor", "intermediary"]),
    "one_off": st.one_of(st.none(), st.floats(0, 1e6)),
    "period": st.integers(0, 15),
    "per_period": st.one_of(st.none(), st.floats(0, 1e4)),
}).filter(lambda x: x["one_off"] is not None or x["per_period"] is not None), min_size=1, max_size=5))
def test_transaction_costs_conserve_cash_and_each_party_pays_exactly_its_own(items):
    tcs = [dict(it, name=f"c{i}") for i, it in enumerate(items)]
    for t in tcs:
        if t["one_off"] is None:
            del t["one_off"]
        if t["per_period"] is None:
            del t["per_period"]
    sc, plain = validate(lcf(transaction_costs=tcs)), validate(lcf())
    n, T = 3, sc.horizon_periods
    rng = np.random.default_rng(0)
    costs, pay = rng.uniform(0, 3e4, (n, T)), rng.uniform(0, 3e4, (n, T))
    for name in MODELS:
        cf = model_flows(name, sc, {}, costs=costs, payments=pay)
        ref = model_flows(name, plain, {}, costs=costs, payments=pay)
        np.testing.assert_allclose(cf.total(), 0.0, atol=1e-6)
        for party in ("commissioner", "outcome_fund", "investor", "intermediary"):
            due = sum((t.get("one_off") or 0) + (t.get("per_period") or 0) * T for t in tcs
                      if t["party"] == party and (party != "investor" or name == "sib"))
            np.testing.assert_allclose(ref[party].sum(axis=1) - cf[party].sum(axis=1), due, rtol=1e-9, atol=1e-6)
