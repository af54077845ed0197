"""Early termination and a guarantee of a fixed amount (docs/model.md s.8.3), worked by hand.

The shipped Rikers Island contract's early end (USD 7.2m drawn, USD 6m from the
guarantor, USD 1.2m lost: Philanthropy New York, "Wall Street Not Giving Up On
U.S. Social Impact Bonds", 30 July 2015) is pinned in tests/test_contracts_measured.py.
"""

from __future__ import annotations

import numpy as np
import pytest

import sibsim
from helpers import scenario, tiny
from sibsim.errors import ScenarioError
from sibsim.finance.sib import sib
from sibsim.spec import validate
from test_finance_models import conserved


def test_fixed_guarantee_pays_the_loss_up_to_the_amount():
    costs = np.array([[100.0, 100.0, 0.0, 0.0]] * 3)
    pay = np.array([[0.0, 0.0, 0.0, 50.0], [0.0, 0.0, 0.0, 180.0], [0.0, 0.0, 0.0, 0.0]])
    cf = sib(costs=costs, payments=pay, guarantee_amount=60.0)  # sib() itself: the amount only caps the share
    np.testing.assert_allclose(cf.extra["guarantee_paid"], 0.0)
    cf = sib(costs=costs, payments=pay, guarantee_share=1.0, guarantee_amount=60.0)
    np.testing.assert_allclose(cf.extra["guarantee_paid"], [60.0, 20.0, 60.0])  # losses 150, 20, 200
    cf = sib(costs=costs, payments=pay, guarantee_share=0.75, guarantee_amount=120.0)
    np.testing.assert_allclose(cf.extra["guarantee_paid"], [112.5, 15.0, 120.0])  # 75% of loss, at most 120
    assert conserved(cf, 200)


def test_settlement_at_the_end_period_returns_unspent_capital_then():
    costs = np.full((2, 6), 10.0)
    costs[1, 3:] = 0.0  # trial 1 stops after period 2 (the engine removes costs after the end)
    cf = sib(costs=costs, payments=np.zeros((2, 6)), principal=100.0, drawdown="upfront", guarantee_share=0.5,
             settle_period=np.array([5, 2]))
    inv = cf["investor"]
    assert inv[0, 0] == -100 and inv[0, 5] == pytest.approx(40 + 0.5 * 60)  # returned 40, half of 60 lost
    assert inv[1, 0] == -100 and inv[1, 2] == pytest.approx(70 + 0.5 * 30) and inv[1, 3:].sum() == 0
    np.testing.assert_allclose(cf.extra["investor_drawdowns"], [60.0, 30.0])
    assert conserved(cf, 100)


def test_schedule_drawdowns_stop_at_the_end():
    costs = np.array([[10.0, 10.0, 0.0, 0.0]])
    cf = sib(costs=costs, payments=np.zeros((1, 4)), principal=40.0, drawdown="schedule",
             schedule=[10, 10, 10, 10], settle_period=np.array([1]))
    np.testing.assert_allclose(cf.extra["investor_drawdowns"], 20.0)
    assert conserved(cf, 40)


def contract(**over):
    over = {"finance": {"model": "sib", "sib": {"guarantee_share": 1.0}}, **over}
    return scenario(tiny(costs={"fixed_per_period": 1000}, **over))


def test_at_period_stops_costs_and_payments_after_it():
    full = sibsim.simulate(contract(), trials=10, seed=1)
    cut = sibsim.simulate(contract(termination={"at_period": 2}), trials=10, seed=1)
    # tiny: outcome a achieved in period 1, paid in 2 (3,500); b paid in 4, c in 4: cut
    np.testing.assert_allclose(full.metrics["outcome_payments"], 8500)
    np.testing.assert_allclose(cut.metrics["outcome_payments"], 3500)
    np.testing.assert_allclose(cut.metrics["delivery_cost"], 3000)  # periods 0..2
    np.testing.assert_allclose(cut.metrics["termination_period"], 2)
    assert cut.indicators["terminated_early"].all() and not full.indicators.get("terminated_early", [False])[0]
    np.testing.assert_allclose(cut.metrics["investor_net_gain"], 500)  # 3,500 paid for 3,000 drawn
    # outcome counts record what participants achieved, not what was paid
    np.testing.assert_allclose(cut.metrics["outcomes.b"], full.metrics["outcomes.b"])


def test_fixed_termination_guarantee_replaces_the_share():
    sc = contract(termination={"at_period": 0, "guarantee_amount": 400})
    run = sibsim.simulate(sc, trials=10, seed=1)
    np.testing.assert_allclose(run.metrics["investor_drawdowns"], 1000)
    np.testing.assert_allclose(run.metrics["guarantee_paid"], 400)  # not the 100% share of the 1,000 lost
    np.testing.assert_allclose(run.metrics["investor_net_gain"], -600)
    np.testing.assert_allclose(run.metrics["investor_moic"], 0.4)
    np.testing.assert_allclose(run.metrics["investor_moic_ex_guarantee"], 0.0)


def test_scenario_fixed_guarantee_alone_covers_the_whole_loss_up_to_the_amount():
    sc = contract(finance={"model": "sib", "sib": {"guarantee_amount": 2500}}, termination={"at_period": 3})
    m = sibsim.simulate(sc, trials=10, seed=1).metrics
    # 4,000 drawn, 3,500 paid back: 500 lost, all of it covered
    np.testing.assert_allclose(m["guarantee_paid"], 500)
    sc = contract(finance={"model": "sib", "sib": {"guarantee_amount": 2500}}, termination={"at_period": 1})
    m = sibsim.simulate(sc, trials=10, seed=1).metrics
    np.testing.assert_allclose(m["guarantee_paid"], 2000)  # 2,000 drawn, nothing paid: under the amount
    sc = contract(finance={"model": "sib", "sib": {"guarantee_share": 0.5, "guarantee_amount": 600}},
                  termination={"at_period": 1})
    m = sibsim.simulate(sc, trials=10, seed=1).metrics
    np.testing.assert_allclose(m["guarantee_paid"], 600)  # half of 2,000, at most 600


def test_moic_counts_the_guarantee_and_the_ex_guarantee_multiple_does_not():
    run = sibsim.simulate(contract(), trials=10, seed=1)
    m = run.metrics
    np.testing.assert_allclose(m["investor_moic"], (m["investor_distributions"] + m["guarantee_paid"])
                               / m["investor_drawdowns"])
    np.testing.assert_allclose(m["investor_moic_ex_guarantee"], m["investor_distributions"] / m["investor_drawdowns"])


@pytest.mark.parametrize("term, field, words", [
    ({"at_period": 8}, "termination.at_period", ["inside the horizon", "0 .. 7", "got 8"]),
    ({"on_failed_points": ["interim"]}, "termination.on_failed_points.0", ["'interim' is not a measurement point"]),
    ({}, "termination", ["at_period or on_failed_points"]),
    ({"at_period": 2, "guarantee_amount": -5}, "termination.guarantee_amount", [">= 0"]),
])
def test_bad_termination_is_refused_naming_the_field(term, field, words):
    with pytest.raises(ScenarioError) as info:
        validate(tiny(termination=term))
    msgs = [m for f, m in info.value.problems if f == field]
    assert msgs, info.value.problems
    for w in words:
        assert w in msgs[0], (w, msgs[0])


def test_bad_fixed_guarantee_is_refused():
    with pytest.raises(ScenarioError) as info:
        validate(tiny(finance={"model": "sib", "sib": {"guarantee_amount": -1}}))
    assert any(f == "finance.sib.guarantee_amount" and ">= 0" in m for f, m in info.value.problems)
