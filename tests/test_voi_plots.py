"""sibsim.plots.voi: each figure draws the result's own numbers (read back from the axes)."""

from __future__ import annotations

import numpy as np
import pytest
from matplotlib.figure import Figure

import sibsim
from sibsim.errors import UsageError
from sibsim.plots import voi as V
from sibsim.valueinfo import design


@pytest.fixture(scope="module")
def res():
    return sibsim.voi("scenarios/life_chances_fund.yaml", options="sib,fee,none", wtp=[0, 10000, 30000, "appraisal"],
                      evppi="job_entry_uplift,engagement", evsi="pilot_size=20:420:200", trials=1200, seed=2,
                      draws=50)


def test_evpi_curve_plots_evpi_against_numeric_wtp(res):
    fig = V.evpi_curve(res)
    assert isinstance(fig, Figure)
    ax = fig.axes[0]
    line = [ln for ln in ax.get_lines() if ln.get_label() == "EVPI"][0]
    np.testing.assert_allclose(line.get_xdata(), [0, 10000, 30000])
    np.testing.assert_allclose(line.get_ydata(), [res.evpi[k].value for k in ("0", "10000", "30000")])
    assert ax.get_xlabel() == "Willingness to pay per additional outcome (£)"
    assert ax.get_ylabel() == "EVPI per decision (£)"
    assert [t.get_text() for t in ax.texts] == [res.decision.best()[k] for k in ("0", "10000", "30000")]
    pop = V.evpi_curve(res, population=True).axes[0]
    assert pop.get_ylabel().startswith("Population EVPI")


def test_evppi_bars_are_the_evppi_values(res):
    ax = V.evppi_bars(res, "30000").axes[0]
    labels = [t.get_text() for t in ax.get_yticklabels()]
    widths = [p.get_width() for p in ax.patches]
    assert sorted(labels) == ["engagement", "job_entry_uplift"]
    for lab, w in zip(labels, widths):
        assert w == pytest.approx(res.evppi[lab]["30000"].value)
    evpi_line = [ln for ln in ax.get_lines() if ln.get_label() == "EVPI"][0]
    assert evpi_line.get_xdata()[0] == pytest.approx(res.evpi["30000"].value)
    with pytest.raises(UsageError, match="'5' was not computed"):
        V.evppi_bars(res, "5")


def test_evsi_curve_draws_evsi_cost_and_enbs(res):
    c = res.evsi["30000"]
    ax = V.evsi_curve(res, "30000").axes[0]
    lines = {ln.get_label(): ln for ln in ax.get_lines()}
    np.testing.assert_allclose(lines["EVSI"].get_ydata(), c.evsi)
    np.testing.assert_allclose(lines["study cost"].get_ydata(), c.cost)
    np.testing.assert_allclose(lines["ENBS = EVSI - cost"].get_ydata(), c.enbs)
    np.testing.assert_allclose(lines["EVSI"].get_xdata(), [20, 220, 420])
    assert ax.get_xlabel() == "pilot size"
    assert any(k.startswith("optimal") for k in lines) == (c.optimal is not None)


def test_design_chart_panels():
    sc = sibsim.load("scenarios/peterborough.yaml")
    rows = design.evaluate(sc, sizes=[2, 10], trigger_scales=[1.0], trials=300, seed=1)
    best = design.recommend(rows, max_pay_no_effect=1, max_no_pay_at_target=1)
    fig = V.design_chart(rows, limits=(0.05, 0.2), recommended=best, size_label="members per participant")
    titles = [ax.get_title() for ax in fig.axes]
    assert titles == ["P(pay when no effect)", "P(no pay at target)", "Expected overpayment",
                      "Expected evaluation cost"]
    for ax, (field, _, _) in zip(fig.axes, V.PANELS):
        line = [ln for ln in ax.get_lines() if ln.get_label() == "trigger × 1"][0]
        np.testing.assert_allclose(line.get_ydata(), [getattr(r, field) for r in rows])
        assert ax.get_xlabel() == "members per participant"
    limit = [ln for ln in fig.axes[0].get_lines() if ln.get_label() == "risk limit"][0]
    assert limit.get_ydata()[0] == 0.05
