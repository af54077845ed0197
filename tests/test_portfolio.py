"""Portfolios (issue 13): sums of contracts on common draws, shared uncertainty, worker invariance."""

from __future__ import annotations

import json

import numpy as np
import pytest
import yaml

from sibsim.cli import main
from sibsim.errors import ScenarioError
from sibsim.portfolio import simulate_portfolio
from sibsim.portfolio import load_portfolio

from helpers import ROOT

N_START, PRICE, P0, D_MEAN, D_SD = 200, 1000.0, 0.3, 0.2, 0.05


def write(tmp_path, *, count=3, rho=None, shock=None, kinds=None, trials_scenario=None):
    """A one-outcome contract whose payments have a closed-form variance, and a portfolio of ``count`` copies."""
    sc = {"name": "analytic", "period": "year", "horizon_periods": 3,
          "parameters": {"uplift": {"dist": "normal", "mean": D_MEAN, "sd": D_SD}, "p0": P0},
          "participants": {"starts": {"kind": "schedule", "per_period": [N_START]}},
          "outcomes": [{"name": "job", "baseline": "p0", "effect": {"size": "uplift"},
                        "lag": {"dist": "fixed", "periods": 1}}],
          "rate_card": {"prices": {"job": PRICE}}, "finance": {"model": "pbr"}}
    (tmp_path / "analytic.yaml").write_text(yaml.safe_dump(sc))
    pf = {"name": "test", "payer": "public", "budget": 3 * 100_000.0,
          "contracts": [{"name": "c", "scenario": "analytic.yaml", "count": count, "start": "2020-04",
                         "kind": "jobs"}]}
    if rho is not None:
        pf["shared"] = [{"name": "effect", "parameters": ["uplift"], "rho": rho, **({"kinds": kinds} if kinds else {})}]
    if shock is not None:
        pf["shocks"] = [{"name": "economy", "prior": {"dist": "lognormal", "mean": 1.0, "sd": shock},
                         "multiplies": ["p0"]}]
    path = tmp_path / "pf.yaml"
    path.write_text(yaml.safe_dump(pf))
    return path


def var_se(x):
    """Sample variance and its standard error (from the fourth central moment)."""
    n = x.size
    m = x - x.mean()
    s2 = m.var(ddof=1)
    return s2, np.sqrt(max(np.mean(m ** 4) - s2 ** 2 * (n - 3) / (n - 1), 0) / n)


ONE_VAR = PRICE ** 2 * (N_START * (P0 + D_MEAN - (P0 + D_MEAN) ** 2 - D_SD ** 2) + N_START ** 2 * D_SD ** 2)
ONE_MEAN = PRICE * N_START * (P0 + D_MEAN)


def test_k_independent_contracts_have_k_times_the_mean_and_variance(tmp_path):
    k, n = 4, 4000
    run = simulate_portfolio(write(tmp_path, count=k), trials=n, seed=7)
    S = run.total
    np.testing.assert_allclose(run.spend.sum(axis=1), S)
    one = simulate_portfolio(write(tmp_path, count=1), trials=n, seed=8).total
    se_mean = np.sqrt(S.var() / n + k ** 2 * one.var() / n)
    assert abs(S.mean() - k * one.mean()) < 4 * se_mean
    assert abs(S.mean() - k * ONE_MEAN) < 4 * S.std() / np.sqrt(n)
    v, vse = var_se(S)
    v1, v1se = var_se(one)
    assert abs(v - k * v1) < 4 * np.hypot(vse, k * v1se), (v, k * v1)
    assert abs(v - k * ONE_VAR) < 4 * vse, (v, k * ONE_VAR)


@pytest.mark.parametrize("rho", [0.0, 0.5, 1.0])
def test_a_shared_effect_raises_the_variance_as_its_correlation_implies(tmp_path, rho):
    k, n = 3, 4000
    run = simulate_portfolio(write(tmp_path, count=k, rho=rho), trials=n, seed=11)
    expected = k * ONE_VAR + k * (k - 1) * rho * PRICE ** 2 * N_START ** 2 * D_SD ** 2
    v, vse = var_se(run.total)
    assert abs(v - expected) < 4 * vse, (rho, v, expected)
    c = np.corrcoef(run.spend.T)[0, 1]  # two contracts' spends: correlation rho * Var(E[X|d]) / Var(X)
    implied = rho * PRICE ** 2 * N_START ** 2 * D_SD ** 2 / ONE_VAR
    assert abs(c - implied) < 4 * (1 - implied ** 2) / np.sqrt(n)


def test_sharing_is_limited_to_the_kinds_named_and_a_common_shock_adds_variance(tmp_path):
    base = simulate_portfolio(write(tmp_path, count=3), trials=2000, seed=3)
    other = simulate_portfolio(write(tmp_path, count=3, rho=1.0, kinds=["jobs"]), trials=2000, seed=3)
    assert var_se(other.total)[0] > 2 * var_se(base.total)[0]
    shocked = simulate_portfolio(write(tmp_path, count=3, shock=0.2), trials=2000, seed=3)
    v0, s0 = var_se(base.total)
    v1, s1 = var_se(shocked.total)
    assert v1 - v0 > 4 * np.hypot(s0, s1)


def test_portfolio_results_do_not_depend_on_workers_chunks_or_a_dask_cluster(tmp_path):
    path = write(tmp_path, count=2, rho=0.5, shock=0.1)
    ref = simulate_portfolio(path, trials=1300, seed=5, chunk=1300)
    runs = [simulate_portfolio(path, trials=1300, seed=5, chunk=400, workers=1),
            simulate_portfolio(path, trials=1300, seed=5, chunk=400, workers=2),
            simulate_portfolio(path, trials=1300, seed=5, chunk=500, workers=2, scheduler="local")]
    for r in runs:
        for k in ("by_year", "spend", "paid", "investor_gain"):
            np.testing.assert_array_equal(getattr(r, k), getattr(ref, k))


def test_the_shipped_uk_portfolio_runs_and_reports_by_year(capsys, tmp_path):
    path = ROOT / "portfolios" / "uk_fair_chance_fund.yaml"
    pf, scs = load_portfolio(path)
    assert len(pf.contracts) == 7 and sum(c.participants for c in pf.contracts) == 1909
    out = tmp_path / "pf.json"
    assert main(["portfolio", str(path), "--trials", "200", "--seed", "1", "--json", str(out)]) == 0
    text = capsys.readouterr().out
    assert "P(spend > budget 15,000,000)" in text and "st_basils" in text and "2016" in text
    d = json.loads(out.read_text())
    fcf = scs[pf.contracts[0].name]
    years = -(-fcf.horizon_periods // fcf.periods_per_year)  # every contract starts in January 2015
    assert [r["year"] for r in d["by_year"]] == list(range(2015, 2015 + years))
    assert abs(sum(r["mean"] for r in d["by_year"]) - d["summary"]["total_mean"]) < 1e-6 * d["summary"]["total_mean"]
    assert abs(sum(r["spend_mean"] for r in d["contracts"]) - d["summary"]["total_mean"]) < 1e-3


def test_bad_portfolios_name_the_field(tmp_path):
    path = write(tmp_path)
    d = yaml.safe_load(path.read_text())
    d["contracts"][0]["scenario"] = "missing.yaml"
    d["shared"] = [{"name": "s", "parameters": ["nope"]}]
    path.write_text(yaml.safe_dump(d))
    with pytest.raises(ScenarioError) as e:
        load_portfolio(path)
    fields = [f for f, _ in e.value.problems]
    assert "contracts.0.scenario" in fields
    d["contracts"][0].update(scenario="analytic.yaml", start="2020-13")
    path.write_text(yaml.safe_dump(d))
    with pytest.raises(ScenarioError, match="YYYY-MM"):
        load_portfolio(path)
    d["contracts"][0]["start"] = "2020"
    path.write_text(yaml.safe_dump(d))
    with pytest.raises(ScenarioError, match="shared.0.parameters.*nope"):
        load_portfolio(path)
    assert main(["portfolio", str(path), "--trials", "10"]) == 2


def test_portfolio_figures_draw_spend_by_year_and_the_budget(tmp_path):
    from sibsim.plots import readiness as RP

    run = simulate_portfolio(write(tmp_path, count=2), trials=300, seed=1)
    ax = RP.portfolio_by_year(run).axes[0]
    assert [t.get_text() for t in ax.get_xticklabels()] == [str(y) for y in run.years]
    np.testing.assert_allclose([p.get_height() for p in ax.patches], run.by_year.mean(axis=0))
    assert ax.get_xlabel() == "Calendar year" and ax.get_ylabel() == "Spend (GBP)"
    ax = RP.portfolio_total(run).axes[0]
    assert sum(p.get_height() for p in ax.patches) == 300
    assert ax.get_legend().get_texts()[0].get_text().startswith("Budget £300k: P(exceeded) = ")


def test_the_portfolio_page_shows_the_shipped_fund(repo_root, tmp_path, monkeypatch):
    pytest.importorskip("streamlit")
    from streamlit.testing.v1 import AppTest

    monkeypatch.setenv("SIBSIM_DB", f"sqlite:///{tmp_path / 'e.db'}")
    at = AppTest.from_file(str(repo_root / "app.py"), default_timeout=120)
    at.run()
    at.switch_page("app_pages/portfolio.py").run()
    at.number_input(key="pf_trials").set_value(200).run()
    assert not at.exception, [e.value for e in at.exception]
    assert at.selectbox(key="pf_file").value == "uk_fair_chance_fund"
    labels = [m.label for m in at.metric]
    assert "P(spend exceeds budget)" in labels and "Contracts that pay anything" in labels
    assert list(at.dataframe[0].value.index) == ["ambition", "aspire", "depaul", "fusion", "home_group",
                                                 "local_solutions", "st_basils"]
    at.number_input(key="pf_budget").set_value(8_000_000.0).run()
    p = next(m for m in at.metric if m.label == "P(spend exceeds budget)").value
    run = simulate_portfolio(repo_root / "portfolios" / "uk_fair_chance_fund.yaml", trials=200, seed=1)
    assert p == f"{np.mean(run.total > 8_000_000):.1%}"


def test_the_shipped_portfolio_takes_sizes_and_capital_from_the_indigo_snapshot(repo_root):
    import pandas as pd

    snap = repo_root / "sibsim" / "data" / "indigo"
    projects = pd.read_csv(snap / "projects.csv").set_index("project_id")
    cards = pd.read_csv(snap / "rate_cards.csv")
    pf, scs = load_portfolio(repo_root / "portfolios" / "uk_fair_chance_fund.yaml")
    for c in pf.contracts:
        row = projects.loc[c.source]
        assert row["country"] == "GB" and row["sector"] == "Homelessness"
        assert c.participants == row["participants"] and c.capital == row["capital_raised_local"]
        sc = scs[c.name]
        assert sum(sc.participants.starts.per_period) == c.participants
        assert sc.finance.sib.capital_commitment == c.capital
        card = cards[cards.project_id == c.source]
        ft26 = card[card.outcome_definition.str.startswith("26 Weeks full-time")]["price_per_outcome_local"]
        assert list(ft26) == [sc.rate_card.prices["full_time_work_26w"]]


def test_staggered_copies_spread_the_same_spend_over_later_years(tmp_path):
    path = write(tmp_path, count=3)
    together = simulate_portfolio(path, trials=300, seed=2)
    d = yaml.safe_load(path.read_text())
    d["contracts"][0]["every_months"] = 12
    path.write_text(yaml.safe_dump(d))
    staggered = simulate_portfolio(path, trials=300, seed=2)
    assert together.years == (2020, 2021, 2022) and staggered.years == (2020, 2021, 2022, 2023, 2024)
    np.testing.assert_allclose(staggered.total, together.total)  # same instances, same seeds: only timing moves
    # one yearly outcome, paid in the contract's second period: copy k (starting 2020-04 + k years) pays in 2021 + k
    np.testing.assert_allclose(together.by_year[:, 1], together.total)
    np.testing.assert_allclose(staggered.by_year[:, 1:4], staggered.spend)
    assert not staggered.by_year[:, [0, 4]].any()
