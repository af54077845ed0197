"""Figures of the Analysis page, read back from matplotlib's objects: labels, tick text, plotted data."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.stats import spearmanr

import sibsim
from sibsim.errors import UsageError
from sibsim.plots import analysis


@pytest.fixture(scope="module")
def run(repo_root):
    return sibsim.simulate(repo_root / "scenarios" / "benchmark.yaml", trials=1_000, seed=2)


def _ticks(axis) -> list[str]:
    axis.figure.canvas.draw()
    return [t.get_text() for t in axis.get_ticklabels() if t.get_text()]


def test_s_curve_is_the_empirical_cdf(run):
    fig = analysis.s_curve(run, "investor_irr")
    ax = fig.axes[0]
    assert ax.get_xlabel() == "Investor IRR (annual)" and ax.get_ylabel() == "Share of trials at or below"
    x, y = ax.lines[0].get_data()
    ok = np.sort(run.metrics["investor_irr"][~np.isnan(run.metrics["investor_irr"])])
    assert np.array_equal(x, ok) and y[-1] == 1.0 and np.all(np.diff(y) > 0)
    assert all(t.endswith("%") for t in _ticks(ax.yaxis)) and all(t.endswith("%") for t in _ticks(ax.xaxis))
    money = analysis.s_curve(run, "outcome_payments").axes[0]
    assert all(t.startswith(("£", "-£")) for t in _ticks(money.xaxis))


def test_scatter_reports_the_rank_correlation(run):
    ax = analysis.input_scatter(run, "job_entry_uplift", "investor_net_gain").axes[0]
    rho = spearmanr(run.params["job_entry_uplift"], run.metrics["investor_net_gain"]).statistic
    assert ax.get_title() == f"Spearman rank correlation {rho:+.2f}" and rho > 0.3
    assert ax.get_xlabel() == "job_entry_uplift" and ax.get_ylabel() == "Investor net gain"
    assert len(ax.lines[0].get_xdata()) == 10  # the mean in each decile of the input
    with pytest.raises(UsageError, match="not a parameter"):
        analysis.input_scatter(run, "nope", "investor_net_gain")


def test_heat_map_cells_are_the_sweep(run):
    df = pd.DataFrame({"a": [0.1, 0.1, 0.2, 0.2], "b": [1.0, 2.0, 1.0, 2.0],
                       "investor_net_gain_mean": [-2_000.0, 5_000.0, 150_000.0, 1_250_000.0]})
    ax = analysis.heat_map(df, "a", "b", "investor_net_gain_mean", money_symbol="£").axes[0]
    cells = sorted(t.get_text() for t in ax.texts)
    assert cells == sorted(["-£2,000", "£5,000", "£150k", "£1.25m"])
    assert _ticks(ax.xaxis) == ["0.1", "0.2"] and _ticks(ax.yaxis) == ["2", "1"]  # larger b on top
    assert ax.get_title() == "Investor net gain (mean)"
    with pytest.raises(UsageError, match="not a column"):
        analysis.heat_map(df, "a", "b", "zzz")
