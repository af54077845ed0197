"""sibsim.plots.runs: each function returns a Figure that draws the run's own numbers."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
from matplotlib.collections import PolyCollection
from matplotlib.figure import Figure

import sibsim
from sibsim import indigo
from sibsim.dists import Beta, Fixed, Normal
from sibsim.errors import UsageError
from sibsim.plots import runs as P


@pytest.fixture(scope="module")
def run(repo_root):
    return sibsim.simulate(repo_root / "scenarios" / "benchmark.yaml", trials=300, seed=3)


@pytest.fixture(scope="module")
def run2(run):
    return sibsim.simulate(run.scenario.with_params(job_entry_uplift=0.2), trials=300, seed=3)


def only_axes(fig):
    assert isinstance(fig, Figure)
    axes = [ax for ax in fig.axes if ax.get_visible()]
    assert len(axes) == 1
    return axes[0]


def test_figures_leave_pyplot_alone(run):
    import matplotlib.pyplot as plt

    before = plt.get_fignums()
    P.hist(run, "investor_irr")
    P.fan_chart(run, "investor")
    assert plt.get_fignums() == before


def test_hist_of_one_run(run):
    ax = only_axes(P.hist(run, "investor_irr", bins=25))
    assert len(ax.patches) == 25
    heights = np.array([p.get_height() for p in ax.patches])
    irr = run.metrics["investor_irr"]
    assert heights.sum() == pytest.approx(1.0)  # shares of the defined trials (tails piled into end bins)
    assert ax.get_xlabel() == "Investor IRR (annual)" and ax.get_ylabel() == "Share of trials"
    xs = sorted(line.get_xdata()[0] for line in ax.lines)
    assert xs == pytest.approx(np.percentile(irr[np.isfinite(irr)], [5, 50, 95]))


def test_hist_overlays_several_runs_on_common_bins(run, run2):
    ax = only_axes(P.hist({"base": run, "bigger effect": run2}, "outcome_payments"))
    assert len(ax.patches) == 2  # one outline per run
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["base", "bigger effect"]
    medians = [line.get_xdata()[0] for line in ax.lines]
    assert medians == pytest.approx([np.median(run.metrics["outcome_payments"]),
                                     np.median(run2.metrics["outcome_payments"])])
    assert ax.get_xlabel() == "Outcome payments owed (rate card)"  # the declared label
    labels = P.as_runs([run, run])
    assert len(labels) == 2 and list(labels)[1].endswith("#2")


def test_hist_counts_undefined_trials_and_names_unknown_metrics(run):
    fake = SimpleNamespace(metrics={"x": np.array([1.0, np.nan, 2.0, np.nan])}, indicators={}, seed=0, trials=4)
    ax = only_axes(P.hist(fake, "x"))
    assert "2 undefined" in " ".join(t.get_text() for t in ax.texts)
    with pytest.raises(UsageError, match="'nope' is not in this run"):
        P.hist(run, "nope")


def test_fan_chart_bands_are_percentiles_of_cumulative_cash(run):
    ax = only_axes(P.fan_chart(run, "investor"))
    cum = np.cumsum(np.asarray(run.paths["investor"], dtype=float), axis=1)
    median = next(line for line in ax.lines if line.get_label() == "median")
    assert median.get_ydata() == pytest.approx(np.percentile(cum, 50, axis=0))
    assert list(median.get_xdata()) == list(range(1, run.scenario.horizon_periods + 1))
    assert sum(isinstance(c, PolyCollection) for c in ax.collections) == 2  # P5-P95 and P25-P75
    assert ax.get_title() == "Investors" and ax.get_xlabel() == "Quarter (end)"
    with pytest.raises(UsageError, match="no cash paths"):
        P.fan_chart(run, "nobody")


def test_fan_charts_skip_parties_without_cash(run):
    parties = P.active_parties(run)
    assert parties[0] == "investor" and "guarantor" not in parties  # the benchmark has no guarantee
    assert "provider" not in parties  # SIB investors fund it: at most rounding (1e-10) is left in its account
    fig = P.fan_charts(run)
    titles = [ax.get_title() for ax in fig.axes if ax.get_visible()]
    assert titles == [P.PARTIES[p] for p in parties]


def test_risk_return_places_each_run(run, run2):
    runs = {"base": run, "bigger effect": run2}
    ax = only_axes(P.risk_return(runs))
    points = {c.get_gid(): c.get_offsets()[0] for c in ax.collections if c.get_gid()}
    for label, r in runs.items():
        x, y = points[f"run:{label}"]
        assert x == pytest.approx(r.indicators["investor_loss"].mean())
        assert y == pytest.approx(r.metrics["investor_net_gain"].mean())
    assert ax.get_xlabel() == "P(investor loss)"
    ax = only_axes(P.risk_return([run], kind="irr"))
    (x, y), = [c.get_offsets()[0] for c in ax.collections if c.get_gid()]
    irr = run.metrics["investor_irr"]
    assert (x, y) == pytest.approx((np.nanpercentile(irr, 5), np.nanmedian(irr)))
    with pytest.raises(UsageError, match="kind"):
        P.risk_return([run], kind="sharpe")


def test_acceptability_reads_the_value_for_money_indicators():
    rng = np.random.default_rng(0)
    grid = [0, 5000, 20000]
    probs = {"sib_better_than_fee": [0.1, 0.4, 0.8], "sib_better_than_nothing": [0.0, 0.5, 0.9]}
    ind = {f"vfm.{c}@{w}": rng.random(4000) < p for c, ps in probs.items() for w, p in zip(grid, ps)}
    ind["vfm.sib_better_than_fee"] = np.ones(4000, bool)  # no @: not a point on a curve
    fake = SimpleNamespace(metrics={}, indicators={**ind, "investor_loss": np.zeros(4000, bool)}, seed=0, trials=4000)
    curves = P.acceptability_curves(fake)
    assert set(curves) == set(probs)
    for c, (w, p) in curves.items():
        assert list(w) == grid
        assert p == pytest.approx(probs[c], abs=4 * np.sqrt(0.25 / 4000))
    ax = only_axes(P.acceptability({"mine": fake}))
    assert [line.get_label() for line in ax.lines] == ["sib better than fee", "sib better than nothing"]
    assert list(ax.lines[0].get_xdata()) == grid
    bare = SimpleNamespace(metrics={}, indicators={"investor_loss": np.zeros(3, bool)}, seed=0, trials=3)
    assert P.has_acceptability_data(fake) and not P.has_acceptability_data(bare)
    with pytest.raises(UsageError, match="no run has acceptability data"):
        P.acceptability(bare)


@pytest.mark.parametrize("prior", [Beta(mean=0.3, sd=0.05), Normal(mean=0.1, sd=0.04, low=0.0)], ids=str)
def test_prior_density_is_drawn_from_the_quantile_function(prior):
    ax = only_axes(P.prior_density(prior, bins=20))
    assert len(ax.patches) == 20
    widths = np.array([p.get_width() for p in ax.patches])
    area = sum(p.get_height() * w for p, w in zip(ax.patches, widths))
    assert area == pytest.approx(1.0)
    (mean_line,) = ax.lines
    assert mean_line.get_xdata()[0] == pytest.approx(prior.mean)
    lo, hi = ax.patches[0].get_x(), ax.patches[-1].get_x() + widths[-1]
    assert lo == pytest.approx(prior.quantile(0.5 / 2000)) and hi == pytest.approx(prior.quantile(1 - 0.5 / 2000))
    again = only_axes(P.prior_density(prior, bins=20))
    assert [p.get_height() for p in again.patches] == [p.get_height() for p in ax.patches]


def test_prior_density_of_a_fixed_value_is_one_line():
    ax = only_axes(P.prior_density(Fixed(value=3.0)))
    assert not ax.patches and len(ax.lines) == 1 and ax.lines[0].get_xdata()[0] == 3.0
    assert "fixed at 3" in ax.get_title()


def test_reference_class_marks_the_scenario(run):
    projects = indigo.load().projects
    pos = indigo.reference_class(projects, participants=1000, max_outcome_payments=2e6, currency="GBP")
    fig = P.reference_class(projects, pos)
    assert len(fig.axes) == 2
    for ax, q in zip(fig.axes, pos):
        red = [line for line in ax.lines if line.get_color() == "#c0392b"]
        assert red[0].get_xdata()[0] == pos[q]["value"]
        assert f"{P.ordinal(pos[q]['percentile'])} percentile of {pos[q]['n']}" in ax.get_title(loc="left")
    gbp = projects[projects["max_outcome_payments_currency"] == "GBP"]["max_outcome_payments_local"].dropna()
    ax = fig.axes[list(pos).index("max_outcome_payments")]
    assert len(ax.collections[0].get_offsets()) == int((gbp > 0).sum()) == pos["max_outcome_payments"]["n"]


def test_overview_and_png(run):
    fig = P.overview(run)
    assert len(fig.axes) == 2 + len(P.active_parties(run))
    png = P.to_png(fig, dpi=40)
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    assert P.money(1_234_567) == "£1.23m" and P.money(-45_000) == "-£45k" and P.money(950) == "£950"
    assert P.money(-0.2) == "£0" and P.money(float("nan")) == "n/a"
    assert [P.ordinal(x) for x in (1, 2, 3, 4, 11, 12, 13, 21.4, 22, 101)] == [
        "1st", "2nd", "3rd", "4th", "11th", "12th", "13th", "21st", "22nd", "101st"]
