"""The delivery model inside the engine (docs/model.md s.12, issue 6)."""

from __future__ import annotations

import copy

import numpy as np
import pytest
from scipy import stats

import sibsim
from helpers import ROOT, benchmark_dict, scenario


def _pair(rate=10.0, periods=8, engagement=0.7):
    """The benchmark outcomes with Poisson starts, and the same with an ample delivery section."""
    d = benchmark_dict()
    d["horizon_periods"] = 24
    d["parameters"]["engagement"] = engagement
    d["participants"] = {"starts": {"kind": "poisson", "rate_per_period": [rate] * periods, "volume": 1.0},
                         "max_participants": 5000, "engagement": "engagement"}
    vec = scenario(d)
    d2 = copy.deepcopy(d)
    d2["participants"] = {"max_participants": 5000}
    d2["delivery"] = {"referrals_per_period": [rate] * periods, "caseworkers": 50, "caseload": 20,
                      "engagement": "engagement", "service_periods": 2, "service_dist": "fixed"}
    return vec, scenario(d2)


def test_engine_and_delivery_model_agree_where_capacity_never_binds():
    vec, dev = _pair()
    a = sibsim.simulate(vec, trials=2000, seed=1)
    b = sibsim.simulate(dev, trials=2000, seed=2)
    for m in ("participants", "engaged", "outcomes.job_entry", "outcome_payments"):
        p = stats.ks_2samp(a.metrics[m], b.metrics[m]).pvalue
        assert p > 0.01, (m, p)
    # and the test can fail: a lower referral rate is detected
    _, slow = _pair(rate=9.0)
    c = sibsim.simulate(slow, trials=2000, seed=3)
    assert stats.ks_2samp(a.metrics["participants"], c.metrics["participants"]).pvalue < 0.01


def test_shipped_delivery_scenario_capacity_binds_and_more_caseworkers_help():
    sc = sibsim.load(ROOT / "scenarios" / "homelessness_delivery.yaml")
    run = sibsim.simulate(sc, trials=100, seed=1)
    m = run.metric_summaries()
    assert m["delivery.dropouts_waiting"]["mean"] > 10
    assert m["delivery.mean_wait_periods"]["mean"] > 0.5
    assert m["delivery.caseworker_utilisation"]["mean"] > 0.5
    d = sibsim.spec.to_dict(sc)
    d["delivery"]["hiring"] = [h * 2 for h in d["delivery"]["hiring"]]
    more = sibsim.simulate(sibsim.spec.validate(d), trials=100, seed=1)
    mm = more.metric_summaries()
    assert mm["participants"]["mean"] > m["participants"]["mean"]
    assert mm["delivery.mean_wait_periods"]["mean"] < m["delivery.mean_wait_periods"]["mean"]
    assert mm["outcome_payments"]["mean"] > m["outcome_payments"]["mean"]
    assert mm["delivery.caseworker_utilisation"]["mean"] < m["delivery.caseworker_utilisation"]["mean"]


def test_delivery_runs_are_independent_of_chunks_and_workers():
    sc = sibsim.load(ROOT / "scenarios" / "homelessness_delivery.yaml")
    a = sibsim.simulate(sc, trials=60, seed=4, chunk=60, workers=1)
    b = sibsim.simulate(sc, trials=60, seed=4, chunk=17, workers=2)
    for k in a.metrics:
        np.testing.assert_array_equal(a.metrics[k], b.metrics[k], err_msg=k)


@pytest.mark.parametrize("field,value,needle", [
    ("caseworkers", 0, "caseworkers"),
    ("caseload", 0, "caseload"),
    ("referrals_per_period", [-1, 2], "referrals_per_period"),
])
def test_impossible_delivery_settings_are_refused_naming_the_field(field, value, needle):
    _, dev = _pair()
    d = sibsim.spec.to_dict(dev)
    d["delivery"][field] = value
    with pytest.raises(sibsim.ScenarioError) as e:
        sibsim.spec.validate(d)
    assert any(needle in f or needle in msg for f, msg in e.value.problems), e.value.problems


def test_starts_and_delivery_together_are_refused():
    vec, dev = _pair()
    d = sibsim.spec.to_dict(dev)
    d["participants"]["starts"] = sibsim.spec.to_dict(vec)["participants"]["starts"]
    with pytest.raises(sibsim.ScenarioError, match="not both"):
        sibsim.spec.validate(d)
