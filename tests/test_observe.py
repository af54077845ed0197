"""Observations of a running contract: file format and checks, synthetic observations, likelihood, store."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

import sibsim
from sibsim.cli import main
from sibsim.likelihood import expected_counts, log_likelihood
from sibsim.observe import ObservationError, read_observations, synthesize
from sibsim.spec import validate

from helpers import ROOT, benchmark_dict

BENCHMARK = str(ROOT / "scenarios" / "benchmark.yaml")


@pytest.fixture(scope="module")
def sc():
    return sibsim.load(BENCHMARK)


@pytest.fixture(scope="module")
def syn(sc):
    return synthesize(sc, truth={"job_entry_uplift": 0.2}, until=12, seed=5)


GOOD = """# a comment line
period,starts,engaged,job_entry,job_sustained,qualification,payments
0,100,80,0,0,0,0
1,100,81,10,0,5,0
3,100,79,20,4,8,40000
"""


def test_round_trip_keeps_values_and_hash(sc, syn):
    obs = syn.observations
    back = read_observations(obs.to_csv(comments=["made in a test"]), sc)
    assert back.content_hash == obs.content_hash
    np.testing.assert_array_equal(back.counts, obs.counts)
    np.testing.assert_array_equal(back.payments, obs.payments)
    assert back.until == 12 and list(back.periods) == list(range(12))


def test_missing_periods_and_cells_are_not_observed(sc):
    obs = read_observations(GOOD, sc)
    assert list(obs.periods) == [0, 1, 3] and obs.until == 4
    assert np.isnan(obs.payments[:2]).sum() == 0 and obs.payments[2] == 40000
    assert np.isnan(obs.capital_drawn).all()
    text = GOOD.replace("3,100,79,20,4,8,40000", "3,100,,20,,8,")
    obs = read_observations(text, sc)
    assert np.isnan(obs.engaged[2]) and np.isnan(obs.counts[2, 1]) and np.isnan(obs.payments[2])


@pytest.mark.parametrize("bad, where", [
    (GOOD.replace("job_sustained,", "job_sustain,"), ["line 2", "unknown column 'job_sustain'", "job_sustained"]),
    (GOOD.replace("1,100,81,10", "1,100,81,-10"), ["line 4", "column job_entry", "negative"]),
    (GOOD.replace("1,100,81,10", "1,100,81,ten"), ["line 4", "column job_entry", "'ten' is not a number"]),
    (GOOD.replace("1,100,81,10", "1,100,81,2.5"), ["line 4", "column job_entry", "not a whole number"]),
    (GOOD.replace("3,100,79", "24,100,79"), ["line 5", "column period", "past the horizon", "0 .. 23"]),
    (GOOD.replace("3,100,79", "1,100,79"), ["line 5", "column period", "period 1 again", "line 4"]),
    (GOOD.replace("0,100,80", "0,100,180"), ["line 3", "column engaged", "180 engaged", "100 starts"]),
    (GOOD.replace("1,100,81,10", "1,100,81,210"), ["line 4", "column job_entry", "210", "200 starts"]),
    (GOOD.replace("3,100,79,20,4", "2,100,79,20,40"), ["line 5", "column job_sustained", "40 job_sustained",
                                                       "30 job_entry outcomes it requires"]),
    (GOOD.replace("0,100,80,0,0,0,0", "0,100,80,0,0"), ["line 3", "5 cells for 7 columns"]),
    ("period,engaged\n0,1\n", ["column 'starts' is required"]),
])
def test_bad_files_name_line_and_column(sc, bad, where):
    with pytest.raises(ObservationError) as e:
        read_observations(bad, sc)
    for w in where:
        assert w in str(e.value)


def test_synthetic_counts_are_the_engines_own(sc):
    """Observed to the horizon, the counts, payments and capital are the engine's trial 0, exactly."""
    T = sc.horizon_periods
    s = synthesize(sc, truth={"job_entry_uplift": 0.2}, until=T, seed=11)
    run = sibsim.simulate(sc.with_params(job_entry_uplift=0.2), trials=1, seed=11)
    obs = s.observations
    for k, o in enumerate(sc.outcomes):
        assert obs.counts[:, k].sum() == run.metrics[f"outcomes.{o.name}"][0]
    assert obs.starts.sum() == run.metrics["participants"][0]
    assert obs.engaged.sum() == run.metrics["engaged"][0]
    assert obs.payments.sum() == pytest.approx(run.metrics["outcome_payments"][0])
    assert obs.capital_drawn.sum() == pytest.approx(run.metrics["investor_drawdowns"][0])
    assert s.truth["job_entry_uplift"] == 0.2
    assert s.truth["engagement"] == run.params["engagement"][0]


def test_expected_counts_match_simulated_means(sc):
    """The likelihood's expected count per period and outcome is the engine's mean count (4 standard errors)."""
    truth = {"engagement": 0.8, "job_entry_p0": 0.2, "job_entry_uplift": 0.15, "job_sustained_q0": 0.5,
             "job_sustained_uplift": 0.1, "qualification_p0": 0.3, "qualification_uplift": 0.05}
    fixed = sc.with_params(**truth)
    R, U = 40, 12
    counts = np.stack([synthesize(fixed, until=U, seed=100 + r).observations.counts for r in range(R)])
    obs = synthesize(fixed, until=U, seed=100).observations
    params = {k: np.array([v]) for k, v in truth.items()} | {"cost_multiplier": np.array([1.0])}
    # the expected counts given the schedule and expected engagement (not trial 100's engaged)
    mu = expected_counts(fixed, params, _without_engaged(obs), 1)[0]
    mean = counts.mean(axis=0)
    se = np.sqrt(np.maximum(counts.var(axis=0, ddof=1), mu) / R)
    z = (mean - mu) / np.where(se > 0, se, 1)
    assert np.abs(z).max() < 4.5, np.abs(z).max()
    # totals per outcome, where a small bias would show
    zt = (counts.sum(axis=1).mean(axis=0) - mu.sum(axis=0)) / (counts.sum(axis=1).std(axis=0, ddof=1) / np.sqrt(R))
    assert np.abs(zt).max() < 4


def _without_engaged(obs):
    from sibsim.observe import Observations

    return Observations(obs.outcomes, obs.periods, obs.starts, np.full(len(obs.periods), np.nan), obs.counts,
                        obs.payments, obs.capital_drawn, obs.until)


def _reference_loglik(sc, theta: dict, obs) -> float:
    """Plain loops and scipy.stats, for one parameter draw (the fast path is vectorised over draws)."""
    e = theta["engagement"]
    ll = sum(stats.binom.logpmf(obs.engaged[i], obs.starts[i], e) for i in range(len(obs.periods)))
    U = obs.until
    names = [o.name for o in sc.outcomes]

    def lagp(o, d):
        return sum(p for v, p in zip(o.lag.values, o.lag.probs) if v == d)

    def p_of(o, engaged):
        b = theta[o.baseline]
        return min(max(b + (theta[o.effect.size] if engaged else 0.0), 0), 1)

    # chance of achieving outcome k exactly d periods after starting, per class, by direct recursion
    def m(k, d, engaged):
        o = sc.outcomes[k]
        if o.requires is None:
            return p_of(o, engaged) * lagp(o, d)
        j = names.index(o.requires)
        return p_of(o, engaged) * sum(m(j, d - x, engaged) * lagp(o, x) for x in range(0, d + 1))

    start = {int(t): (obs.engaged[i], obs.starts[i] - obs.engaged[i]) for i, t in enumerate(obs.periods)}
    mu = np.zeros((U, len(names)))
    for k in range(len(names)):
        for t in range(U):
            mu[t, k] = sum(start[s][0] * m(k, t - s, True) + start[s][1] * m(k, t - s, False) for s in range(t + 1))
    w1 = obs.engaged.sum() / obs.starts.sum()
    for k, o in enumerate(sc.outcomes):
        if o.requires is None:
            lam = mu[:, k]
        else:
            j = names.index(o.requires)
            ever1, ever0 = p_of(sc.outcomes[j], True), p_of(sc.outcomes[j], False)
            q = (w1 * ever1 * p_of(o, True) + (1 - w1) * ever0 * p_of(o, False)) / (w1 * ever1 + (1 - w1) * ever0)
            lam = [q * sum(obs.counts[t - x, j] * lagp(o, x) for x in range(t + 1)) for t in range(U)]
        ll += sum(stats.poisson.logpmf(obs.counts[t, k], lam[t]) for t in range(U) if lam[t] > 0)
    return float(ll)


def test_log_likelihood_matches_a_plain_reference(sc, syn):
    obs = syn.observations
    rng = np.random.default_rng(3)
    names = ["engagement", "job_entry_p0", "job_entry_uplift", "job_sustained_q0", "job_sustained_uplift",
             "qualification_p0", "qualification_uplift"]
    draws = [{k: float(sc.priors[k].ppf(rng.random(1))[0]) for k in names} for _ in range(3)]
    params = {k: np.array([d[k] for d in draws]) for k in names} | {"cost_multiplier": np.ones(3)}
    fast = log_likelihood(sc, params, obs, 3)
    ref = [_reference_loglik(sc, d, obs) for d in draws]
    np.testing.assert_allclose(fast, ref, rtol=1e-9)


def test_likelihood_prefers_the_truth(sc, syn):
    t = dict(syn.truth)
    base = {k: np.array([v, v]) for k, v in t.items()}
    base["job_entry_uplift"] = np.array([0.2, 0.05])
    ll = log_likelihood(sc, base, syn.observations, 2)
    assert ll[0] > ll[1] + 10


def test_poisson_starts_enter_the_likelihood():
    d = benchmark_dict()
    d["parameters"]["volume"] = {"dist": "uniform", "low": 0.5, "high": 1.5}
    d["participants"]["starts"] = {"kind": "poisson", "rate_per_period": [100] * 10, "volume": "volume"}
    d["participants"]["max_participants"] = 2000
    sc = validate(d)
    s = synthesize(sc, truth={"volume": 1.3}, until=6, seed=2)
    p = {k: np.array([v, v]) for k, v in s.truth.items()}
    p["volume"] = np.array([1.3, 0.7])
    ll = log_likelihood(sc, p, s.observations, 2)
    assert ll[0] > ll[1] + 50


def test_observation_sets_in_the_evidence_base(sc, syn, tmp_path):
    from sibsim.store import open_store
    from sibsim.store import observations as st

    with open_store(tmp_path / "ev.db", reference=False) as store:
        with pytest.raises(sibsim.UsageError, match="entered_by"):
            st.save_observations(store, syn.observations, sc, entered_by=" ", source="x")
        oid = st.save_observations(store, syn.observations, sc, entered_by="A. Analyst", source="Q3 data return")
        rows = st.list_observations(store, scenario_hash=sc.content_hash)
        assert [r["id"] for r in rows] == [oid] and rows[0]["entered_by"] == "A. Analyst"
        assert rows[0]["source"] == "Q3 data return" and rows[0]["hash"] == syn.observations.content_hash
        assert st.list_observations(store, scenario_hash="other") == []
        back = st.load_observations(store, oid, sc)
        assert back.content_hash == syn.observations.content_hash
        st.delete_observations(store, oid)
        assert st.list_observations(store) == []


def test_cli_observe_writes_a_file_the_reader_accepts(tmp_path, capsys, sc):
    out = tmp_path / "obs.csv"
    code = main(["observe", BENCHMARK, "--set", "job_entry_uplift=0.2", "--until", "12", "--seed", "5",
                 "--out", str(out)])
    assert code == 0
    text = out.read_text()
    assert "# truth: " in text and "job_entry_uplift=0.2" in text
    obs = read_observations(out, sc)
    assert obs.until == 12
    assert obs.content_hash == synthesize(sc, truth={"job_entry_uplift": 0.2}, until=12, seed=5).observations.content_hash


@pytest.mark.parametrize("argv, msg", [
    (["--until", "0"], "until must be a whole number of periods between 1 and 24"),
    (["--until", "3", "--set", "nope=1"], "'nope' is not a parameter"),
])
def test_cli_observe_bad_arguments(argv, msg, capsys):
    assert main(["observe", BENCHMARK, *argv]) == 2
    assert msg in capsys.readouterr().err


def test_cli_reforecast_bad_file_exits_2(tmp_path, capsys):
    f = tmp_path / "bad.csv"
    f.write_text(GOOD.replace("1,100,81,10", "1,100,81,-10"))
    assert main(["reforecast", BENCHMARK, str(f), "--trials", "10"]) == 2
    err = capsys.readouterr().err
    assert "line 4, column job_entry" in err and "Traceback" not in err


def test_unpriced_outcomes_are_observed_and_inform_the_posterior():
    # Rikers pays on measured bed days, nothing per outcome: its readmissions are still observed, and the
    # posterior's readmission rate p0 * (1 - reduction) moves from the prior's towards the truth's
    from sibsim.posterior import posterior

    rk = sibsim.load(str(ROOT / "scenarios" / "rikers.yaml"))
    truth = {"readmitted_p0": 0.45, "bed_days_reduction": 0.1}
    s = synthesize(rk, truth=truth, until=8, seed=1)
    assert s.observations.counts.sum() > 1000  # 6,000 starters by period 8, about 40% readmitted
    p = posterior(rk, s.observations, draws=2000, seed=1)
    rate = p.params["readmitted_p0"] * (1 - p.params["bed_days_reduction"])
    prior_rate = p.prior["readmitted_p0"] * (1 - p.prior["bed_days_reduction"])
    true_rate = 0.45 * 0.9
    post_mean = float(np.sum(p.weights * rate))
    post_sd = float(np.sqrt(np.sum(p.weights * (rate - post_mean) ** 2)))
    assert abs(post_mean - true_rate) < 3 * post_sd + 0.005
    assert post_sd < 0.5 * float(np.std(prior_rate))
    assert abs(post_mean - true_rate) < abs(float(np.mean(prior_rate)) - true_rate)
