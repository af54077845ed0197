"""Sensitivity analysis: SALib wrappers against analytic answers, then the benchmark scenario."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from numpy.testing import assert_allclose

import sibsim
from sibsim.cli import main
from sibsim.errors import UsageError
from sibsim.sensitivity import (analyse_morris, analyse_sobol, analyse_tornado, parameter_ranges, scenario_model,
                                sensitivity)

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "scenarios" / "benchmark.yaml"


def ishigami(x, a=7.0, b=0.1):
    return np.sin(x[:, 0]) + a * np.sin(x[:, 1]) ** 2 + b * x[:, 2] ** 4 * np.sin(x[:, 0])


def ishigami_indices(a=7.0, b=0.1):
    """Closed-form first-order and total indices (Ishigami & Homma 1990; Saltelli et al. 2008)."""
    v1 = 0.5 * (1 + b * np.pi**4 / 5) ** 2
    v2 = a**2 / 8
    v13 = b**2 * np.pi**8 * (1 / 18 - 1 / 50)
    v = v1 + v2 + v13
    return np.array([v1, v2, 0.0]) / v, np.array([v1 + v13, v2, v13]) / v


def test_sobol_on_ishigami():
    s1, st = ishigami_indices()
    assert_allclose(s1, [0.3139, 0.4424, 0.0], atol=1e-3)  # the closed form itself
    pi = (-np.pi, np.pi)
    res = analyse_sobol({"x1": pi, "x2": pi, "x3": pi}, ishigami, samples=1024, seed=1)
    df = res.to_frame()
    assert_allclose(df["S1"], s1, atol=0.05)
    assert_allclose(df["ST"], st, atol=0.05)
    # the bootstrap intervals are honest: each covers the true value (allowing 2x for a 95% interval)
    assert (np.abs(df["S1"] - s1) <= 2 * df["S1_conf"]).all()
    assert (np.abs(df["ST"] - st) <= 2 * df["ST_conf"]).all()
    assert res.evaluations == 1024 * 5
    assert res.ranking() == ["x1", "x2", "x3"]
    d = res.to_dict()
    assert set(d["parameters"]["x3"]) == {"S1", "S1_conf", "ST", "ST_conf"}


def test_morris_and_tornado_on_a_linear_model():
    # f = 3a + b (+ 0 c): every elementary effect is coefficient x range width
    f = lambda x: 3 * x[:, 0] + x[:, 1]  # noqa: E731
    res = analyse_morris({"a": (0, 1), "b": (0, 2), "c": (5, 6)}, f, samples=10, seed=2)
    assert_allclose(res.to_frame()["mu_star"], [3.0, 2.0, 0.0], atol=1e-9)
    assert_allclose(res.to_frame()["sigma"], 0.0, atol=1e-9)
    t = analyse_tornado({"a": 0.5, "b": 1.0}, {"a": 0.0, "b": 0.5}, {"a": 1.0, "b": 2.0}, f)
    assert t.base == 2.5
    assert t.indices["a"] == {"low_value": 0.0, "high_value": 1.0, "low": 1.0, "high": 4.0, "swing": 3.0}
    assert t.indices["b"]["low"] == 2.0 and t.indices["b"]["high"] == 3.5
    assert t.ranking() == ["a", "b"]


@pytest.fixture(scope="module")
def sc():
    return sibsim.load(BENCH)


def test_ranges_from_priors(sc):
    r = parameter_ranges(sc)
    assert list(r) == list(sc.parameters)  # every benchmark parameter is uncertain
    p = sc.priors["job_entry_uplift"]  # normal(0.10, 0.04): P1, P99 = mean -/+ 2.326 sd
    assert_allclose(r["job_entry_uplift"], (0.1 - 2.3263 * 0.04, 0.1 + 2.3263 * 0.04), atol=1e-5)
    assert r["job_entry_uplift"] == (p.quantile(0.01), p.quantile(0.99))
    fixed = sc.with_params(engagement=0.8)
    assert "engagement" not in parameter_ranges(fixed)


def test_model_uses_common_random_numbers(sc):
    model = scenario_model(sc, ["job_entry_uplift"], output="investor_net_gain", trials=1000, seed=5)
    x = np.array([[0.05], [0.15], [0.05]])
    y = model(x)
    assert y[0] == y[2]  # same point, same seed: the same number
    assert y[1] > y[0]
    direct = sibsim.simulate(sc.with_params(job_entry_uplift=0.15), trials=1000, seed=5)
    assert y[1] == direct.metric_summaries()["investor_net_gain"]["mean"]


def test_sobol_on_benchmark_job_entry_uplift_beats_qualification_uplift(sc):
    res = sensitivity(sc, method="sobol", output="investor_net_gain", samples=16, trials=1000, seed=3,
                      names=["job_entry_uplift", "qualification_uplift"], workers=2)
    ind = res.indices
    ju, qu = ind["job_entry_uplift"], ind["qualification_uplift"]
    # job entry: GBP 3,500 + a 4,000 sustained payment behind it, uplift sd 0.04; qualification: GBP 1,000, sd 0.03
    assert ju["ST"] - ju["ST_conf"] > qu["ST"] + qu["ST_conf"]
    assert ju["S1"] > qu["S1"]
    assert res.evaluations == 16 * 4
    assert res.meta["output"] == "investor_net_gain" and res.meta["stat"] == "mean"


def test_cli_tornado_json_and_bad_names(tmp_path, capsys):
    out = tmp_path / "t.json"
    rc = main(["sensitivity", str(BENCH), "--method", "tornado", "--output", "investor_net_gain", "--trials", "1000",
               "--params", "job_entry_uplift,qualification_uplift", "--json", str(out), "-q"])
    assert rc == 0
    d = json.loads(out.read_text())
    assert d["method"] == "tornado" and d["evaluations"] == 5
    ju, qu = d["parameters"]["job_entry_uplift"], d["parameters"]["qualification_uplift"]
    assert ju["high"] > d["base"] > ju["low"]
    assert ju["swing"] > qu["swing"] > 0
    capsys.readouterr()
    rc = main(["sensitivity", str(BENCH), "--output", "irr", "--trials", "10"])
    err = capsys.readouterr().err
    assert rc == 2 and "investor_irr" in err and "investor_net_gain" in err and err.count("\n") == 1
    rc = main(["sensitivity", str(BENCH), "--output", "investor_irr", "--params", "uplift", "--trials", "10"])
    err = capsys.readouterr().err
    assert rc == 2 and "job_entry_uplift" in err and "cost_multiplier" in err
    with pytest.raises(UsageError, match="statistics"):
        sensitivity(BENCH, output="investor_irr", stat="median", trials=10, seed=1)


def test_indices_do_not_depend_on_where_the_runs_go(sc):
    # one process, two local processes, a Dask LocalCluster of forked workers: the same numbers
    kw = dict(method="sobol", output="investor_net_gain", samples=4, trials=1000, seed=11,
              names=["job_entry_uplift", "cost_multiplier"])
    one = sensitivity(sc, workers=1, **kw).to_dict()
    assert sensitivity(sc, workers=2, **kw).to_dict() == one
    assert sensitivity(sc, scheduler="local", workers=2, **kw).to_dict() == one
