"""The Analysis page through AppTest: S-curves and scatter plots of the last run, tornado, Sobol with its
sample-size warning, a one- and two-input sweep, and a switching value, each checked against the API."""

from __future__ import annotations

import pytest

pytest.importorskip("streamlit")
from streamlit.testing.v1 import AppTest  # noqa: E402

import sibsim  # noqa: E402
from sibsim import sensitivity  # noqa: E402
from sibsim.solve import solve  # noqa: E402

TIMEOUT = 600  # generous: a busy machine must not fail a test for being slow


@pytest.fixture()
def app(repo_root, tmp_path, monkeypatch):
    monkeypatch.setenv("SIBSIM_DB", f"sqlite:///{tmp_path / 'e.db'}")
    at = AppTest.from_file(str(repo_root / "app.py"), default_timeout=TIMEOUT)
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def ok(at):
    assert not at.exception, "\n".join(str(e.value) for e in at.exception)
    return at


def go(at, page):
    return ok(at.switch_page(f"app_pages/{page}.py").run())


def test_s_curve_and_scatter_need_a_run_then_show_it(app):
    go(app, "analysis")
    assert any("Run the current scenario" in str(i.value) for i in app.info)
    go(app, "run")
    app.number_input(key="trials").set_value(300)
    ok(app.button(key="go").click().run())
    go(app, "analysis")
    assert len(app.image) >= 2  # the S-curve and the scatter plot
    app.selectbox(key="an_scatter_in").set_value("job_entry_uplift")
    ok(app.run())


def test_tornado_matches_the_api(app, repo_root):
    go(app, "analysis")
    app.number_input(key="an_t_trials").set_value(300)
    ok(app.button(key="an_t_go").click().run())
    res = app.session_state["an_tornado"]
    sc = sibsim.load(repo_root / "scenarios" / "benchmark.yaml")
    want = sensitivity.sensitivity(sc, method="tornado", output="investor_irr", stat="mean", trials=300, seed=1)
    assert res.indices == want.indices
    assert len(app.dataframe[0].value) == len(want.names)


def test_a_small_sobol_sample_is_flagged(app):
    go(app, "analysis")
    app.select_slider(key="an_g_n").set_value(8)
    app.number_input(key="an_g_trials").set_value(100)
    app.multiselect(key="an_g_names").set_value(["job_entry_uplift", "job_entry_p0", "cost_multiplier"])
    ok(app.button(key="an_g_go").click().run())
    res = app.session_state["an_gsa"]
    assert res.method == "sobol" and set(res.names) == {"job_entry_uplift", "job_entry_p0", "cost_multiplier"}
    warned = [str(w.value) for w in app.warning]
    assert warned == sensitivity.reliability_warnings(res) and any("too small" in w for w in warned)


def test_reliability_warnings_hold_for_sound_indices():
    from sibsim.sensitivity import SensitivityResult

    good = SensitivityResult(method="sobol", names=("a", "b"), meta={"samples": 1024}, indices={
        "a": {"S1": 0.6, "S1_conf": 0.02, "ST": 0.62, "ST_conf": 0.02},
        "b": {"S1": 0.35, "S1_conf": 0.02, "ST": 0.38, "ST_conf": 0.02}})
    assert sensitivity.reliability_warnings(good) == []
    bad = SensitivityResult(method="sobol", names=("a", "b"), meta={"samples": 8}, indices={
        "a": {"S1": 0.9, "S1_conf": 0.3, "ST": 0.5, "ST_conf": 0.2},
        "b": {"S1": 0.43, "S1_conf": 0.02, "ST": 0.45, "ST_conf": 0.02}})
    w = sensitivity.reliability_warnings(bad)
    assert any("above the total index for a" in x for x in w) and any("sum to 1.33" in x for x in w)


def test_sweeps_one_and_two_inputs(app):
    go(app, "analysis")
    app.multiselect(key="an_s_in").set_value(["job_entry_uplift"])
    ok(app.run())
    app.number_input(key="an_s_n_job_entry_uplift").set_value(3)
    app.number_input(key="an_s_trials").set_value(200)
    ok(app.button(key="an_s_go").click().run())
    names, df = app.session_state["an_sweep"]
    assert names == ("job_entry_uplift",) and len(df) == 3
    assert df["investor_irr_mean"].is_monotonic_increasing  # a larger effect never lowers the return
    app.multiselect(key="an_s_in").set_value(["job_entry_uplift", "price.job_entry"])
    ok(app.run())
    app.number_input(key="an_s_n_job_entry_uplift").set_value(2)
    app.number_input(key="an_s_n_price.job_entry").set_value(2)
    ok(app.button(key="an_s_go").click().run())
    names, df = app.session_state["an_sweep"]
    assert names == ("job_entry_uplift", "price.job_entry") and len(df) == 4


def test_switching_value_matches_solve(app, repo_root):
    go(app, "analysis")
    app.selectbox(key="an_v_vary").set_value("price.job_entry")
    ok(app.run())
    app.number_input(key="an_v_trials").set_value(500)
    ok(app.button(key="an_v_go").click().run())
    sc = sibsim.load(repo_root / "scenarios" / "benchmark.yaml")
    want = solve(sc, vary="price.job_entry", target="investor_irr.p50", value=0.05, trials=500, seed=1)
    text = "\n".join(str(s.value) for s in app.success)
    assert f"{want.value:,.6g}" in text
