"""Contract size (issue 13): scaling a scenario, size sweeps on common draws, where a SIB overtakes."""

from __future__ import annotations

import numpy as np
import pytest
import yaml

import sibsim
from sibsim.errors import UsageError
from sibsim.finance.cashflows import discount_factors
from sibsim.plots import readiness as RP
from sibsim.scale import SizeSweep, _whole, crossover, participants_of, scale_scenario, size_sweep, table
from sibsim.spec import to_dict, validate

from helpers import ROOT


def lcf(tcs=()) -> dict:
    d = yaml.safe_load((ROOT / "scenarios" / "life_chances_fund.yaml").read_text())
    if tcs:
        d["finance"]["transaction_costs"] = list(tcs)
    return d


TCS = [{"name": "legal", "party": "commissioner", "one_off": 50_000.0, "models": ["sib"]},
       {"name": "evaluation", "party": "commissioner", "per_period": 1_000.0, "scale_elasticity": 1.0}]


def test_scaling_multiplies_what_grows_with_the_cohort_and_leaves_the_rest():
    sc = validate(lcf(TCS))
    big = scale_scenario(sc, 2.0)
    assert participants_of(big) == 2 * participants_of(sc)
    a, b = to_dict(sc), to_dict(big)
    assert b["finance"]["sib"]["capital_commitment"] == 2 * a["finance"]["sib"]["capital_commitment"]
    assert b["costs"]["fixed_per_period"] == 2 * a["costs"]["fixed_per_period"]
    assert b["finance"]["transaction_costs"][0]["one_off"] == 50_000.0  # elasticity 0: fixed
    assert b["finance"]["transaction_costs"][1]["per_period"] == 2_000.0  # elasticity 1: proportional
    for same in (("rate_card", "prices"), ("rate_card", "cap_per_participant"), ("finance", "provider"),
                 ("finance", "sib", "management_fee_per_period")):
        x, y = a, b
        for k in same:
            x, y = x[k], y[k]
        assert x == y, same
    half = scale_scenario(sc, 1.0, fixed_cost_elasticity=0.0)
    assert to_dict(half)["costs"] == a["costs"]
    with pytest.raises(UsageError, match="> 0"):
        scale_scenario(sc, 0.0)


@pytest.mark.parametrize("f", [0.1, 0.37, 1.0, 2.5])
def test_scaled_starts_stay_whole_and_total_the_scaled_cohort(f):
    x = [30, 40, 40, 40, 40, 40, 40, 30]
    y = _whole(x, f)
    assert all(isinstance(v, int) and v >= 0 for v in y)
    assert sum(y) == round(sum(x) * f)


def test_a_fixed_sib_only_cost_shifts_the_sibs_value_by_its_present_value_at_every_size():
    factors = (0.5, 1.0, 2.0)
    base = size_sweep(validate(lcf()), factors, trials=300, seed=2, models=("sib", "pbr", "fee"))
    tc = size_sweep(validate(lcf(TCS[:1])), factors, trials=300, seed=2, models=("sib", "pbr", "fee"))
    sc = validate(lcf())
    d0 = discount_factors(sc.discount_rate_annual, sc.periods_per_year, sc.horizon_periods)[0]
    np.testing.assert_allclose(base.vfm("sib") - tc.vfm("sib"), 50_000.0 * d0, rtol=1e-9)
    np.testing.assert_array_equal(base.vfm("pbr"), tc.vfm("pbr"))
    assert base.metric == "commissioner_npv"
    t = table(tc)
    assert list(t["participants"]) == [150.0, 300.0, 600.0]
    assert set(t["best_for_commissioner"]) <= {"sib", "pbr", "fee"}
    assert (t["p_sib_better_than_fee"].between(0, 1)).all()


def synthetic(diff_mean_by_size, trials=500, noise=1.0, seed=0):
    rng = np.random.default_rng(seed)
    k = len(diff_mean_by_size)
    other = rng.normal(0, 1, (k, trials))
    sib = other + np.asarray(diff_mean_by_size)[:, None] + noise * rng.normal(0, 1, (k, trials))
    return SizeSweep(scenario="s", factors=tuple(range(k)), participants=(100.0, 200.0, 300.0, 400.0)[:k],
                     models=("sib", "pbr"), metric="commissioner_npv",
                     values={"sib": {"commissioner_npv": sib}, "pbr": {"commissioner_npv": other}},
                     trials=trials, seed=0)


def test_the_crossover_is_where_the_mean_difference_changes_sign_with_a_bootstrap_interval():
    sw = synthetic([-3.0, -1.0, 1.0, 3.0])  # crosses zero half way between 200 and 300
    c = crossover(sw, "pbr", boot=300)
    assert abs(c["participants"] - 250) < 4 * (1 / np.sqrt(500)) / (2 / 100)  # 4 se of the mean over the slope
    assert c["p5"] < c["participants"] < c["p95"] and c["share_no_crossing"] == 0
    assert 200 <= c["trial_p50"] <= 300
    never = crossover(synthetic([-3.0, -2.0, -1.5, -1.0], noise=0.1), "pbr", boot=50)
    assert np.isnan(never["participants"]) and never["share_no_crossing"] == 1.0
    ahead = crossover(synthetic([1.0, 2.0, 3.0, 4.0], noise=0.1), "pbr", boot=50)
    assert ahead["participants"] == 100.0


def test_size_figure_draws_each_model_against_participants():
    sw = synthetic([-3.0, -1.0, 1.0, 3.0])
    fig = RP.size_curves(sw, [crossover(sw, "pbr", boot=20)])
    ax = fig.axes[0]
    assert ax.get_xlabel() == "Contract size (participants)"
    assert ax.get_ylabel() == "Commissioner net present value"
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert labels == ["Social impact bond", "Direct payment by results"]
    np.testing.assert_allclose(ax.lines[0].get_ydata(), sw.vfm("sib").mean(axis=1))
    assert any("SIB overtakes pbr" in t.get_text() for t in ax.texts)


def test_vectorised_crossings_match_a_plain_loop():
    from sibsim.scale import crossings

    def plain(x, y):
        if y[0] >= 0:
            return x[0]
        for i in range(1, len(y)):
            if y[i] >= 0:
                return x[i - 1] + (x[i] - x[i - 1]) * (-y[i - 1]) / (y[i] - y[i - 1])
        return np.nan

    rng = np.random.default_rng(4)
    x = np.array([50.0, 100.0, 300.0, 600.0, 1000.0])
    y = rng.normal(0, 1, (5, 400)) + np.linspace(-1.5, 1.5, 5)[:, None]
    y[:, 0] = [0.0, 1, 2, 3, 4]  # exactly zero at the first size
    np.testing.assert_allclose(crossings(x, y), [plain(x, y[:, j]) for j in range(y.shape[1])], equal_nan=True)


def test_cli_size_prints_the_table_and_crossovers(tmp_path, capsys):
    import json

    from sibsim.cli import main

    out, png = tmp_path / "s.json", tmp_path / "s.png"
    assert main(["size", str(ROOT / "scenarios" / "life_chances_fund_costs.yaml"), "--trials", "200",
                 "--factors", "0.5,1,2", "--json", str(out), "--png", str(png)]) == 0
    text = capsys.readouterr().out
    assert "SIB overtakes pbr" in text and "SIB overtakes fee" in text and "best for commissioner" in text
    d = json.loads(out.read_text())
    assert [r["participants"] for r in d["table"]] == [150, 300, 600] and png.stat().st_size > 1000
    assert [c["other"] for c in d["crossovers"]] == ["pbr", "fee"]
    assert main(["size", str(ROOT / "scenarios" / "life_chances_fund.yaml"), "--factors", "1,x"]) == 2
    assert main(["size", str(ROOT / "scenarios" / "life_chances_fund.yaml"), "--finance", "pbr,fee"]) == 2
