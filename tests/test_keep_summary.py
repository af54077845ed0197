"""``keep="summary"`` / ``sibsim run --keep summary`` (issue 15, item 4): streamed summaries and a reservoir.

The draws are those of ``keep="all"``: only what is kept differs. Means, sds, Monte Carlo errors, undefined
counts, probabilities and paired model differences are over every trial and must equal keep="all"'s to
rounding; percentiles come from a uniform reservoir and must be within its sampling error (exact when the
reservoir holds every trial). No test here is timed: peak memory is measured by benchmarks/run_all.py
(``peak_memory_10m_summary``).
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
from scipy import stats as sps

import sibsim
from sibsim import views
from sibsim.cli import main
from sibsim.errors import SibsimError, UsageError
from sibsim.summaries import Moments, Summary, reservoir_keys

ROOT = Path(__file__).resolve().parents[1]
BENCHMARK = str(ROOT / "scenarios" / "benchmark.yaml")
N, K, SEED = 12_000, 2_000, 5
FINANCE = ("pbr", "fee")


@pytest.fixture(scope="module")
def sc():
    return sibsim.load(BENCHMARK)


@pytest.fixture(scope="module")
def both(sc):
    kw = dict(trials=N, seed=SEED, chunk=1_000, workers=1, finance=FINANCE)
    return sibsim.simulate(sc, **kw), sibsim.simulate(sc, keep="summary", reservoir=K, **kw)


def scale(summary) -> float:
    """The rounding scale of a summary: numpy's own sd of a constant near 1e6 is ~1e-9, not 0."""
    return max(abs(summary["mean"]), summary["std"]) if not math.isnan(summary["mean"]) else 0.0


def close(x, y, size):
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return y is None or math.isnan(y)
    return abs(x - y) <= 1e-12 * max(abs(x), abs(size), 1e-300)


def test_moments_match_numpy_on_the_full_array():
    rng = np.random.default_rng(0)
    x = rng.lognormal(10, 2, 50_000) - 3e4
    x[rng.random(x.size) < 0.03] = np.nan
    m = Moments()
    for part in np.array_split(x, np.sort(rng.choice(x.size, 40, replace=False))):
        m.add(part)
    ok = x[~np.isnan(x)]
    mean, sd = m.stats()
    assert m.nan == np.isnan(x).sum() and m.defined == ok.size
    assert abs(mean - ok.mean()) <= 1e-12 * ok.std()
    assert sd == pytest.approx(ok.std(ddof=1), rel=1e-12)
    # a large offset (catastrophic for a naive sum of squares) stays exact
    y = 1e9 + rng.normal(0, 1, 20_000)
    m = Moments()
    for part in np.array_split(y, 17):
        m.add(part)
    assert m.stats()[1] == pytest.approx(y.std(ddof=1), rel=1e-12)
    assert m.stats()[0] == pytest.approx(y.mean(), rel=1e-15)
    # infinities as numpy has them
    for z in ([1.0, np.inf, 2.0], [1.0, -np.inf], [np.inf, -np.inf, 1.0], [np.nan, np.nan]):
        m = Moments()
        for v in z:
            m.add([v])
        ok = np.asarray(z)[~np.isnan(z)]
        with np.errstate(invalid="ignore"):
            want = (ok.mean() if ok.size else np.nan, ok.std(ddof=1) if ok.size > 1 else (0.0 if ok.size else np.nan))
        np.testing.assert_equal(m.stats(), want)


def test_streamed_summaries_equal_keep_all(both):
    a, s = both
    assert a.kept == "all" and s.kept == "summary"
    ma, ms = a.metric_summaries(), s.metric_summaries()
    assert list(ma) == list(ms)
    for k in ma:
        assert ms[k]["nan"] == ma[k]["nan"], k
        for st in ("mean", "std", "mcse"):
            assert close(ma[k][st], ms[k][st], scale(ma[k])), (k, st, ma[k][st], ms[k][st])
    pa, ps = a.probabilities(), s.probabilities()
    assert list(pa) == list(ps)
    for k in pa:  # counts: exact
        assert ps[k]["p"] == pa[k]["p"] and ps[k]["se"] == pytest.approx(pa[k]["se"], rel=1e-12, abs=0), k
    assert a.finance_models == s.finance_models
    for m in a.finance_models:
        ra, rs = a.model(m), s.model(m)
        assert set(ra.metrics) == set(rs.metrics) and set(ra.indicators) == set(rs.indicators)
        for k, v in ra.metric_summaries().items():
            w = rs.metric_summaries()[k]
            assert all(close(v[st], w[st], scale(v)) for st in ("mean", "std", "mcse")) and v["nan"] == w["nan"]
        pr, pa_ = rs.probabilities(), ra.probabilities()
        assert list(pr) == list(pa_) and all(pr[k]["p"] == pa_[k]["p"] for k in pa_)
    da, ds = views.model_differences(a), views.model_differences(s)
    assert list(da) == list(ds)
    for m in da:
        assert list(da[m]) == list(ds[m])
        for k, d in da[m].items():
            e = ds[m][k]
            assert e["n"] == d["n"] and close(d["difference"], e["difference"], d["se"] * math.sqrt(d["n"]))
            assert close(d["se"], e["se"], d["se"])


def test_json_records_keep_and_reservoir(both):
    a, s = both
    ra, rs = a.to_dict(), s.to_dict()
    assert ra["keep"] == "all" and "reservoir" not in ra
    assert rs["keep"] == "summary" and rs["reservoir"]["size"] == K and rs["reservoir"]["trials_kept"] == K
    assert "uniform random sample" in rs["reservoir"]["percentiles"]
    assert set(rs["models"]) == set(ra["models"])
    for m in ra["models"]:
        assert set(rs["models"][m]["metrics"]) == set(ra["models"][m]["metrics"])
    json.loads(s.to_json())


def test_reservoir_holds_the_same_draws(both):
    a, s = both
    r = s.reservoir
    assert r.size == K and r.trial.size == K and np.all(np.diff(r.trial) > 0)
    for k, v in r.metrics.items():
        np.testing.assert_array_equal(v, a.metrics[k][r.trial])
    for k, v in r.params.items():
        np.testing.assert_array_equal(v, a.params[k][r.trial])
    for k, v in r.indicators.items():
        np.testing.assert_array_equal(v, a.indicators[k][r.trial])
    assert set(r.metrics) == set(a.metrics) and set(r.indicators) == set(a.indicators)
    for m in FINANCE:
        for k, v in r.models[m][0].items():
            np.testing.assert_array_equal(v, a.models[m].metrics[k][r.trial])
    # the kept trials are the K smallest keys of the run (bottom-k sampling)
    keys = reservoir_keys(SEED, 0, N)
    np.testing.assert_array_equal(r.trial, np.sort(np.argsort(keys)[:K]))


def test_reservoir_reproducible_whatever_the_chunks_and_workers(sc, both):
    _, s = both
    t = sibsim.simulate(sc, trials=N, seed=SEED, chunk=2_345, workers=2, finance=FINANCE, keep="summary",
                        reservoir=K)
    np.testing.assert_array_equal(t.reservoir.trial, s.reservoir.trial)
    assert t.metric_summaries().keys() == s.metric_summaries().keys()
    for k, v in s.metric_summaries().items():
        w = t.metric_summaries()[k]
        assert (v["p5"], v["p50"], v["p95"], v["nan"]) == (w["p5"], w["p50"], w["p95"], w["nan"])
        assert close(v["mean"], w["mean"], scale(v)) and close(v["std"], w["std"], scale(v))
    other = sibsim.simulate(sc, trials=N, seed=SEED + 1, chunk=1_000, workers=1, keep="summary", reservoir=K)
    assert not np.array_equal(other.reservoir.trial, s.reservoir.trial)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_reservoir_is_uniform(seed):
    """Which trials are kept: the streamed bottom-k equals the whole run's; their positions are uniform
    (chi-square over 20 bins, and KS, at the 0.1% level: sampling without replacement only makes it tighter)."""
    n, k = 200_000, 10_000
    s = Summary(seed, n, "sib", k)
    for a in range(0, n, 7_000):
        b = min(a + 7_000, n)
        s.add({"metrics": {"x": np.arange(a, b, dtype=float)}, "indicators": {}, "params": {}, "models": {}}, a, b)
    res = s.finish().reservoir
    np.testing.assert_array_equal(res.metrics["x"], res.trial)
    np.testing.assert_array_equal(res.trial, np.sort(np.argsort(reservoir_keys(seed, 0, n))[:k]))
    counts = np.bincount(res.trial * 20 // n, minlength=20)
    assert sps.chisquare(counts).pvalue > 1e-3
    assert sps.kstest(res.trial / n, "uniform").pvalue > 1e-3


def test_percentiles_within_the_reservoirs_sampling_error(both):
    a, s = both
    for k, v in s.metric_summaries().items():
        x = np.asarray(a.metrics[k], float)
        x = x[~np.isnan(x)]
        kept = np.count_nonzero(~np.isnan(np.asarray(s.reservoir.metrics[k], float)))
        for p, st in ((0.05, "p5"), (0.5, "p50"), (0.95, "p95")):
            tol = 4 * math.sqrt(p * (1 - p) / kept) + 1 / kept
            q = v[st]
            assert np.mean(x < q) <= p + tol and np.mean(x <= q) >= p - tol, (k, st, q)


def test_percentiles_exact_when_the_reservoir_holds_every_trial(sc):
    kw = dict(trials=3_000, seed=2, chunk=700, workers=1)
    a, s = sibsim.simulate(sc, **kw), sibsim.simulate(sc, keep="summary", **kw)
    assert s.stats.exact_percentiles and s.to_dict()["reservoir"]["percentiles"].startswith("exact")
    for k, v in a.metric_summaries().items():
        w = s.metric_summaries()[k]
        assert (v["p5"], v["p50"], v["p95"]) == (w["p5"], w["p50"], w["p95"]), k


def test_summary_run_refuses_per_trial_access(both):
    _, s = both
    assert "outcome_payments" in s.metrics and len(s.params) == 8
    for get in (lambda: s.metrics["outcome_payments"], lambda: s.indicators["investor_loss"],
                lambda: s.params["engagement"], s.per_trial, s.to_frame,
                lambda: s.model("pbr").metrics["commissioner_cost"]):
        with pytest.raises(SibsimError, match="--keep summary"):
            get()
    with pytest.raises(KeyError):
        s.metrics["no_such_output"]


def test_keep_is_checked(sc):
    with pytest.raises(UsageError, match="keep"):
        sibsim.simulate(sc, trials=10, seed=1, keep="some")
    with pytest.raises(UsageError, match="reservoir"):
        sibsim.simulate(sc, trials=10, seed=1, keep="summary", reservoir=0)


def test_counts_kept_as_integers_and_written_as_before(sc):
    r = sibsim.simulate(sc, trials=2_000, seed=1, workers=1)
    assert r.metrics["participants"].dtype == np.int32 and r.metrics["outcomes.job_entry"].dtype == np.int32
    assert r.metrics["outcome_payments"].dtype == np.float64 and r.indicators["investor_loss"].dtype == bool
    frame = r.to_frame()
    assert frame["participants"].dtype == np.float64
    assert r.metric_summaries()["participants"]["mean"] == pytest.approx(float(np.mean(r.metrics["participants"])))


def cli(capsys, *argv):
    try:
        code = main(list(argv))
    except SystemExit as exc:
        code = exc.code
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize("opt", ["--csv", "--xlsx", "--pdf"])
def test_cli_refuses_per_trial_outputs_before_simulating(capsys, tmp_path, opt):
    out = tmp_path / "out.file"
    code, stdout, err = cli(capsys, "run", BENCHMARK, "--trials", "100000000", "--keep", "summary", opt, str(out))
    assert code == 2 and "--keep" in err and opt in err and not stdout
    assert not out.exists() and not list(tmp_path.iterdir())


def test_cli_refuses_save_and_stray_reservoir(capsys, tmp_path):
    code, _, err = cli(capsys, "run", BENCHMARK, "--trials", "100000000", "--keep", "summary", "--save",
                       "--db", str(tmp_path / "e.db"))
    assert code == 2 and "--save" in err and "--keep" in err and not (tmp_path / "e.db").exists()
    code, _, err = cli(capsys, "run", BENCHMARK, "--reservoir", "10")
    assert code == 2 and "--keep summary" in err
    code, _, err = cli(capsys, "run", BENCHMARK, "--keep", "some")
    assert code == 2 and "--keep" in err


def test_cli_keep_summary_json(capsys, tmp_path):
    out = tmp_path / "run.json"
    code, stdout, _ = cli(capsys, "run", BENCHMARK, "--trials", "3000", "--keep", "summary", "--reservoir", "500",
                          "--workers", "1", "--json", str(out))
    assert code == 0 and "--keep summary" in stdout and "uniform sample of 500" in stdout
    rec = json.loads(out.read_text())
    assert rec["keep"] == "summary" and rec["reservoir"]["size"] == 500 and rec["trials"] == 3000
    assert rec["probabilities"]["investor_loss"]["p"] == sibsim.simulate(
        BENCHMARK, trials=3000, seed=1, workers=1).probabilities()["investor_loss"]["p"]


@pytest.mark.parametrize("name", ["peterborough.yaml", "rikers.yaml", "benchmark.yaml"])
def test_compact_counts_write_the_same_csv(monkeypatch, name):
    """Integers where they give back every bit: a -0.0 (an outcome to reduce that did not change) stays float."""
    import sibsim.engine as engine

    sc = sibsim.load(ROOT / "scenarios" / name)
    kw = dict(trials=1_500, seed=3, chunk=400, workers=1, finance=["sib", "pbr", "fee", "hybrid"])
    compact = sibsim.simulate(sc, **kw)
    monkeypatch.setattr(engine, "compact", lambda k, v: v)
    plain = sibsim.simulate(sc, **kw)
    assert any(v.dtype == np.int32 for v in compact.metrics.values())
    assert compact.to_frame().to_csv() == plain.to_frame().to_csv()


@pytest.mark.parametrize("name", ["peterborough.yaml", "rikers.yaml", "utah_preschool.yaml", "fair_chance_fund.yaml"])
def test_every_construct_streams_as_keep_all(name):
    """Measured outcomes, early termination, tranches, many outcomes: the same summaries, every finance model."""
    sc = sibsim.load(ROOT / "scenarios" / name)
    kw = dict(trials=800, seed=4, chunk=300, workers=1, finance=["sib", "pbr", "fee", "hybrid"])
    a, s = sibsim.simulate(sc, **kw), sibsim.simulate(sc, keep="summary", reservoir=200, **kw)
    for m in a.finance_models:
        ra, rs = a.model(m), s.model(m)
        A, S = ra.metric_summaries(), rs.metric_summaries()
        assert list(A) == list(S)
        for k in A:
            assert A[k]["nan"] == S[k]["nan"] and all(close(A[k][st], S[k][st], scale(A[k])) for st in ("mean", "std"))
        assert {k: v["p"] for k, v in ra.probabilities().items()} == {k: v["p"] for k, v in rs.probabilities().items()}
    assert s.to_dict()["models"].keys() == a.to_dict()["models"].keys()
