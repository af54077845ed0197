"""Count outcomes on the rate card (sibsim.counts; docs/model.md s.4.3): expected payments against their
closed form, Poisson dispersion, common random numbers, caps, chunk independence and validation."""

from __future__ import annotations

import copy
import math

import numpy as np
import pytest

import sibsim
from sibsim.errors import ScenarioError
from sibsim.spec import validate

STARTS = [30, 30, 30]


def counting(**over) -> dict:
    d = {"name": "nights", "period": "quarter", "horizon_periods": 8, "parameters": {},
         "participants": {"starts": {"kind": "schedule", "per_period": STARTS}, "engagement": 0.6},
         "outcomes": [{"name": "nights", "kind": "count", "baseline": 20.0,
                       "effect": {"type": "relative", "size": 0.5}, "lag": {"dist": "uniform", "low": 1, "high": 4}}],
         "rate_card": {"prices": {"nights": 10}, "payment_lag_periods": 1}}
    d.update(over)
    return d


def expected(mu0, mu1, e, *, T=8, lags=(1, 2, 3, 4), pay_lag=1, starts=STARTS, engaged_only=False):
    """(events expected before the horizon, events expected to be paid): sum over start t and lag l of
    starts_t x P(l) x (e mu1 + (1 - e) mu0), counting t + l < T and t + l + pay_lag < T."""
    per = e * mu1 + (0.0 if engaged_only else (1 - e) * mu0)
    ev = sum(s / len(lags) * (e * mu1 + (1 - e) * mu0) for t, s in enumerate(starts) for l in lags if t + l < T)
    paid = sum(s / len(lags) * per for t, s in enumerate(starts) for l in lags if t + l + pay_lag < T)
    return ev, paid


def within(x, target):
    x = np.asarray(x, dtype=float)
    assert x.mean() == pytest.approx(target, abs=4 * x.std() / math.sqrt(x.size) + 1e-9)


def test_expected_payments_match_the_closed_form():
    run = sibsim.simulate(validate(counting()), trials=4000, seed=1)
    ev, paid = expected(20, 30, 0.6)
    within(run.metrics["outcomes.nights"], ev)
    within(run.metrics["outcome_payments"], 10 * paid)
    within(run.metrics["counterfactual_payments"], 10 * expected(20, 20, 0.6)[1])


@pytest.mark.parametrize("effect, mu1", [({"type": "absolute", "size": 5.0}, 15.0),
                                         ({"type": "relative", "size": 0.25}, 15.0),
                                         ({"type": "absolute", "size": 50.0}, 0.0)])  # floored at zero
def test_reduce_effects_and_payment_on_engaged_only(effect, mu1):
    d = counting()
    d["outcomes"][0].update(direction="reduce", effect=effect)
    d["participants"]["payment_on"] = "engaged"
    run = sibsim.simulate(validate(d), trials=3000, seed=2)
    within(run.metrics["outcome_payments"], 10 * expected(20, mu1, 0.6, engaged_only=True)[1])
    within(run.metrics["outcomes.nights"], expected(20, mu1, 0.6)[0])


def test_events_are_poisson_given_the_parameters():
    # engagement 1 and fixed means: the events before the horizon are Poisson, variance = mean
    d = counting()
    d["participants"]["engagement"] = 1.0
    x = sibsim.simulate(validate(d), trials=4000, seed=3).metrics["outcomes.nights"]
    lam = expected(20, 30, 1.0)[0]
    within(x, lam)
    # the sample variance of n Poisson draws has sd about lam sqrt(2 / n) (for large lam)
    assert x.var(ddof=1) == pytest.approx(lam, abs=4 * lam * math.sqrt(2 / x.size))


@pytest.mark.parametrize("direction", ["increase", "reduce"])
def test_common_random_numbers_give_the_effect_its_sign_in_every_trial(direction):
    d = counting(parameters={"r": {"dist": "uniform", "low": 0.0, "high": 0.6},
                             "mu": {"dist": "uniform", "low": 1.0, "high": 30.0}})
    d["outcomes"][0].update(direction=direction, baseline="mu", effect={"type": "relative", "size": "r"})
    run = sibsim.simulate(validate(d), trials=2000, seed=4)
    add = run.metrics["additional_outcomes.nights"]
    assert np.all(add >= 0)  # more events to increase, fewer to reduce: never the wrong way
    assert np.corrcoef(add, run.params["r"] * run.params["mu"])[0, 1] > 0.8


def test_volume_and_total_caps_apply_to_events():
    d = counting()
    d["rate_card"]["cap_per_outcome"] = {"nights": 500}
    m = sibsim.simulate(validate(d), trials=500, seed=5).metrics
    np.testing.assert_allclose(m["outcome_payments"], 5000)  # about 1,900 events due: 500 paid
    d = counting()
    d["rate_card"]["cap_total"] = 12_345
    m = sibsim.simulate(validate(d), trials=500, seed=5).metrics
    np.testing.assert_allclose(m["outcome_payments"], 12_345)


def test_counts_alongside_binary_outcomes_leave_the_binary_ones_unchanged():
    job = {"name": "job", "baseline": 0.2, "effect": {"size": 0.1}, "lag": {"dist": "fixed", "periods": 2}}
    d = counting()
    d["outcomes"] = [job, d["outcomes"][0]]  # the participant pass keys binary draws by outcome position
    d["rate_card"]["prices"]["job"] = 1000
    both = sibsim.simulate(validate(d), trials=1000, seed=6).metrics
    alone = counting()
    alone["outcomes"] = [job]
    alone["rate_card"] = {"prices": {"job": 1000}, "payment_lag_periods": 1}
    one = sibsim.simulate(validate(alone), trials=1000, seed=6).metrics
    np.testing.assert_array_equal(both["outcomes.job"], one["outcomes.job"])
    assert np.all(both["outcome_payments"] >= one["outcome_payments"])
    within(both["outcome_payments"] - one["outcome_payments"], 10 * expected(20, 30, 0.6)[1])


def test_chunking_changes_nothing():
    sc = validate(counting(parameters={"mu": {"dist": "uniform", "low": 1.0, "high": 30.0}}))
    a = sibsim.simulate(sc, trials=2500, seed=7, workers=1)
    b = sibsim.simulate(sc, trials=2500, seed=7, chunk=600, workers=1)
    np.testing.assert_array_equal(a.metrics["outcome_payments"], b.metrics["outcome_payments"])


@pytest.mark.parametrize("change, field, words", [
    (lambda d: d["outcomes"][0].update(baseline=-1.0), "outcomes.0.baseline", [">= 0"]),
    (lambda d: d["outcomes"].insert(0, {"name": "a", "baseline": 0.5}) or d["outcomes"][1].update(requires="a"),
     "outcomes.1.requires", ["count outcome cannot require"]),
    (lambda d: d["rate_card"].update(cap_per_participant=100), "rate_card.cap_per_participant",
     ["not applied to count outcomes", "nights"]),
    (lambda d: d["outcomes"][0].update(kind="rate"), "outcomes.0.kind", ["binary", "count"]),
])
def test_bad_count_outcomes_are_refused_naming_the_field(change, field, words):
    d = copy.deepcopy(counting())
    change(d)
    with pytest.raises(ScenarioError) as info:
        validate(d)
    msgs = [m for f, m in info.value.problems if f == field]
    assert msgs, info.value.problems
    for w in words:
        assert w in msgs[0], (w, msgs[0])


def test_a_mean_above_one_is_allowed_for_counts():
    assert validate(counting()).outcomes[0].baseline == 20.0


def test_variance_with_random_engagement_matches_the_closed_form():
    # per participant starting in t: events before the horizon ~ Poisson(mu_j q_t), mu_j = mu1 if engaged
    # (probability e) else mu0, q_t = P(t + L < T); so Var = sum_t s_t (q_t E[mu] + q_t^2 e (1 - e) (mu1 - mu0)^2).
    # A shared stream for the engaged and the others, or lost participants, would change it
    x = sibsim.simulate(validate(counting()), trials=6000, seed=9).metrics["outcomes.nights"]
    e, mu0, mu1, T = 0.6, 20.0, 30.0, 8
    var = 0.0
    for t, s in enumerate(STARTS):
        q = sum(1 for l in (1, 2, 3, 4) if t + l < T) / 4
        var += s * (q * (e * mu1 + (1 - e) * mu0) + q * q * e * (1 - e) * (mu1 - mu0) ** 2)
    # sd of a sample variance: var sqrt(2 / (n - 1)) for a near-normal total
    assert x.var(ddof=1) == pytest.approx(var, abs=4 * var * math.sqrt(2 / (x.size - 1)))
