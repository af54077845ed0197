"""EVSI of a study and the measurement design of a measured-outcome contract (sibsim.valueinfo)."""

from __future__ import annotations

import numpy as np
import pytest

import sibsim
from sibsim.decision import decision
from sibsim.errors import UsageError
from sibsim.valueinfo import design, perfect, sample

TOY = """
name: one outcome pilot
period: quarter
horizon_periods: 8
parameters:
  p0: {dist: beta, mean: 0.30, sd: 0.05}
  uplift: {dist: normal, mean: 0.05, sd: 0.06}
participants:
  starts: {kind: schedule, per_period: [100, 100, 100, 100]}
  engagement: 1.0
outcomes:
  - {name: job, baseline: p0, effect: {size: uplift}, lag: {dist: uniform, low: 1, high: 4}}
rate_card:
  prices: {job: 3000}
costs:
  fixed_per_period: 10000
  fixed_periods: [0, 3]
  per_engaged: 500
finance:
  model: sib
  sib: {capital_commitment: 1000000, drawdown: as_needed}
appraisal:
  value_per_outcome: {job: 8000}
"""


@pytest.fixture(scope="module")
def toy():
    sc = sibsim.loads(TOY)
    run = sibsim.simulate(sc, trials=3000, seed=2, finance=("fee",))
    dec = decision(run, options=["sib", "fee", "none"], wtp=["appraisal"])
    return sc, run, dec.nb["appraisal"]


def test_study_data_follow_the_comparison_group_model(toy):
    """A huge pilot and comparison group observe the treated and counterfactual levels of each trial."""
    sc, run, _ = toy
    st = sample.simulate_study(sc, run.params, sample.Study(pilot_size=200_000, comparison_size=200_000), seed=1)
    p0, d = run.params["p0"], run.params["uplift"]
    np.testing.assert_allclose(st[:, 1], p0, atol=0.005)
    np.testing.assert_allclose(st[:, 0], np.clip(p0 + d, 0, 1), atol=0.005)
    short = sample.simulate_study(sc, run.params, sample.Study(pilot_size=200_000, comparison_size=200_000,
                                                               measurement_periods=2), seed=1)
    np.testing.assert_allclose(short[:, 1], p0 * 0.5, atol=0.005)  # lag uniform on 1..4: half seen by period 2
    small = sample.simulate_study(sc, run.params, sample.Study(pilot_size=50, comparison_size=80), seed=1)
    assert np.allclose(small[:, 0] * 50, np.round(small[:, 0] * 50)) and np.allclose(small[:, 1] * 80,
                                                                                     np.round(small[:, 1] * 80))
    again = sample.simulate_study(sc, run.params, sample.Study(pilot_size=50, comparison_size=80), seed=1)
    np.testing.assert_array_equal(small, again)


def test_evsi_rises_with_study_size_towards_the_evppi_of_what_it_informs(toy):
    sc, run, nb = toy
    rng = np.random.default_rng(0)
    target = perfect.evppi(nb, np.column_stack([run.params["p0"], run.params["uplift"]]), rng=rng)
    full = perfect.evpi(nb)
    ev = []
    for n in (10, 100, 1000, 50_000):
        st = sample.simulate_study(sc, run.params, sample.Study(pilot_size=n, comparison_size=n), seed=9)
        ev.append(sample.evsi(nb, st, rng=rng))
    for a, b in zip(ev, ev[1:]):
        assert b.value > a.value - 2 * (a.se + b.se), ev
    assert ev[0].value < 0.5 * target.value
    assert ev[-1].value <= full.value + 4 * full.se
    assert abs(ev[-1].value - target.value) < 4 * (ev[-1].se + target.se) + 0.02 * target.value, (ev[-1], target)


def test_a_shorter_follow_up_is_worth_less(toy):
    sc, run, nb = toy
    rng = np.random.default_rng(1)
    full = sample.evsi(nb, sample.simulate_study(sc, run.params, sample.Study(pilot_size=300, comparison_size=300),
                                                 seed=4), rng=rng)
    short = sample.evsi(nb, sample.simulate_study(sc, run.params, sample.Study(pilot_size=300, comparison_size=300,
                                                                               measurement_periods=1), seed=4),
                        rng=rng)
    assert short.value < full.value - 2 * (short.se + full.se)


def test_enbs_curve_and_optimal_size(toy):
    sc, run, nb = toy
    cost = sample.StudyCost(fixed=1000, per_comparison=10, per_participant=100)
    c = sample.curves(sc, run.params, {"appraisal": nb}, field="pilot_size", sizes=[10, 200, 3000],
                      base=sample.Study(comparison_size=500), cost=cost, seed=3, rng=np.random.default_rng(2),
                      draws=50)["appraisal"]
    assert c.cost == (1000 + 5000 + 1000, 1000 + 5000 + 20_000, 1000 + 5000 + 300_000)
    assert c.enbs == tuple(e - k for e, k in zip(c.evsi, c.cost))
    assert c.optimal == c.sizes[int(np.argmax(c.enbs))] == 200  # big enough to inform, cheap enough to pay
    pricey = sample.curves(sc, run.params, {"a": nb}, field="pilot_size", sizes=[10, 200], seed=3,
                           cost=sample.StudyCost(fixed=1e9), rng=np.random.default_rng(2), draws=20)["a"]
    assert pricey.optimal is None


def test_study_on_a_measured_outcome_and_bad_designs():
    run = sibsim.simulate("scenarios/peterborough.yaml", trials=1000, seed=1)
    st = sample.simulate_study(run.scenario, run.params, sample.Study(pilot_size=100_000, comparison_size=100_000),
                               seed=2)
    mu0 = run.params["reconviction_events_mu0"]
    np.testing.assert_allclose(st[:, 1], mu0, rtol=0.05)  # overdispersed counts: a looser match
    assert np.mean(st[:, 0] < st[:, 1]) > 0.9  # the engaged's events fall
    with pytest.raises(UsageError, match="measurement_periods applies to rate-card outcomes"):
        sample.simulate_study(run.scenario, run.params, sample.Study(measurement_periods=2), seed=1)
    with pytest.raises(UsageError, match="'nope' is not an outcome"):
        sample.simulate_study(run.scenario, run.params, sample.Study(outcome="nope"), seed=1)
    lcf = sibsim.simulate("scenarios/life_chances_fund.yaml", trials=1000, seed=1)
    with pytest.raises(UsageError, match="requires 'job_entry'"):
        sample.simulate_study(lcf.scenario, lcf.params, sample.Study(outcome="job_sustained_26w"), seed=1)
    assert sample.parse_range("comparison_size=100:500:200") == ("comparison_size", [100, 300, 500])
    assert sample.parse_range("pilot_size=5,10") == ("pilot_size", [5, 10])
    for bad in ("size=1:2:1", "pilot_size=10:5:1", "pilot_size=0,5", "pilot_size=a:b:c"):
        with pytest.raises(UsageError, match="--evsi"):
            sample.parse_range(bad)


# --- measurement design ---------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def pb_design():
    sc = sibsim.load("scenarios/peterborough.yaml")
    return design.evaluate(sc, sizes=[1, 10], trigger_scales=[0.75, 1.5], trials=600, seed=1, cost_per_member=50)


def test_measurement_design_moves_the_risks_the_right_way(pb_design):
    r = {(x.size, x.trigger_scale): x for x in pb_design}

    def lower(a, b, f):  # a below b by more than the noise
        assert getattr(a, f) < getattr(b, f) + 2 * (getattr(a, f + "_se") + getattr(b, f + "_se")), (a, b)

    for k in (0.75, 1.5):  # a bigger comparison group: less chance of paying for nothing, less overpayment
        assert r[(10, k)].p_pay_no_effect <= r[(1, k)].p_pay_no_effect
        assert r[(10, k)].expected_overpayment < r[(1, k)].expected_overpayment
        assert r[(10, k)].evaluation_cost == 10 * r[(1, k)].evaluation_cost
    for s in (1, 10):  # a higher trigger: less paid for nothing, more chance of no pay at target
        assert r[(s, 1.5)].p_pay_no_effect < r[(s, 0.75)].p_pay_no_effect
        assert r[(s, 1.5)].p_no_pay_at_target > r[(s, 0.75)].p_no_pay_at_target
    lower(r[(10, 0.75)], r[(1, 0.75)], "p_pay_no_effect")
    assert r[(1, 0.75)].evaluation_cost == pytest.approx(50 * 2000)  # 1 member per each of 2,000 releases


def test_recommendation_respects_the_risk_limits(pb_design):
    best = design.recommend(pb_design, max_pay_no_effect=0.2, max_no_pay_at_target=0.9)
    ok = [x for x in pb_design if x.p_pay_no_effect <= 0.2 and x.p_no_pay_at_target <= 0.9]
    assert best == min(ok, key=lambda x: x.expected_overpayment + x.evaluation_cost)
    assert design.recommend(pb_design, max_pay_no_effect=0.0, max_no_pay_at_target=0.0) is None
    with pytest.raises(UsageError, match="no measurement section"):
        design.size_field(sibsim.load("scenarios/life_chances_fund.yaml"))


def test_with_design_changes_only_the_comparison_and_triggers():
    sc = sibsim.load("scenarios/peterborough.yaml")
    new = design.with_design(sc, size=3, trigger_scale=0.5)
    assert new.measurement.outcomes[0].design.size_per_participant == 3
    assert [p.trigger for p in new.measurement.points] == [0.05, 0.05, 0.0375]
    exact = design.with_design(sc, size=None, exact=True)
    assert exact.measurement.outcomes[0].design.kind == "historical_baseline"
    assert exact.measurement.outcomes[0].design.size_per_participant is None
    assert new.outcomes == sc.outcomes and new.finance == sc.finance


def test_evppi_of_all_parameters_matches_evpi_on_a_scenario(toy):
    """With 400 participants the participants' luck adds little: EVPPI(all) is EVPI within their errors."""
    _, run, nb = toy
    full = perfect.evpi(nb)
    every = perfect.evppi(nb, np.column_stack([run.params["p0"], run.params["uplift"]]),
                          rng=np.random.default_rng(5))
    assert every.value <= full.value + 4 * full.se
    assert abs(every.value - full.value) < 4 * (full.se + every.se), (every, full)
