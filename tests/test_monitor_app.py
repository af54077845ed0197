"""The Monitor page: AppTest (synthetic and saved observations) and a real browser (upload, re-forecast)."""

from __future__ import annotations

import pytest

pytest.importorskip("streamlit")

from test_app import TIMEOUT, go, ok, texts  # noqa: E402
from test_browser import nav, open_app, server, settle  # noqa: E402,F401  (server: the module's fixture)

from streamlit.testing.v1 import AppTest  # noqa: E402


@pytest.fixture()
def app(repo_root, tmp_path, monkeypatch):
    monkeypatch.setenv("SIBSIM_DB", f"sqlite:///{tmp_path / 'e.db'}")
    at = AppTest.from_file(str(repo_root / "app.py"), default_timeout=TIMEOUT)
    at.run()
    return ok(at)


def _reforecast(at, trials=300):
    at.number_input(key="mon_trials").set_value(trials)
    return ok(at.button(key="mon_go").click().run())


def test_monitor_synthetic_reforecast_shows_what_changed(app):
    at = go(app, "monitor")
    assert "Choose observations above" in texts(at.info)
    at.selectbox(key="mon_param").set_value("job_entry_uplift")
    at = ok(at.run())
    at.number_input(key="mon_value.job_entry_uplift").set_value(0.2)
    at.number_input(key="mon_until").set_value(8)
    at = ok(at.button(key="mon_generate").click().run())
    assert "Periods 0 to 7" in texts(at.caption)
    at = _reforecast(at)
    labels = [m.label for m in at.metric]
    assert "P(investor loss)" in labels and "Expected remaining public cost" in labels
    loss = next(m for m in at.metric if m.label == "P(investor loss)")
    assert "was" in str(loss.delta)
    assert any("Posterior by" in c.value for c in at.caption)
    rf = at.session_state["mon_rf"]
    post = rf.posterior.summary()["job_entry_uplift"]
    assert post["posterior"]["mean"] > post["prior"]["mean"]
    assert len(at.get("image")) >= 2  # the fan and the prior-posterior panels (st.pyplot)


def test_monitor_save_and_reuse_an_observation_set(app):
    at = go(app, "monitor")
    at.number_input(key="mon_until").set_value(4)
    at = ok(at.button(key="mon_generate").click().run())
    at.text_input(key="mon_who").set_value("")
    at = ok(at.button(key="mon_save").click().run())
    assert "entered_by" in texts(at.error)
    at.text_input(key="mon_who").set_value("A. Analyst")
    at = ok(at.button(key="mon_save").click().run())
    assert "Saved as observation set 1" in texts(at.success)
    at.radio(key="mon_source").set_value("Saved observation set")
    at = ok(at.run())
    at = ok(at.button(key="mon_use").click().run())
    assert "saved set #1" in texts(at.subheader)
    at = _reforecast(at)
    assert any(m.label == "Expected remaining public cost" for m in at.metric)


def test_monitor_measured_contract_shows_its_triggers(app):
    app.selectbox(key="src_file").select("peterborough").run()
    at = go(ok(app), "monitor")
    at.number_input(key="mon_until").set_value(6)
    at = ok(at.button(key="mon_generate").click().run())
    at = _reforecast(at, trials=200)
    labels = [m.label for m in at.metric]
    assert labels[0] == "P(investor loss)" and labels[-1] == "Expected remaining public cost"
    assert any("triggered" in lb for lb in labels), labels


@pytest.mark.browser
def test_browser_upload_observations_and_reforecast(server, page, tmp_path):  # noqa: F811
    import sibsim
    from sibsim.observe import synthesize

    from helpers import ROOT

    sc = sibsim.load(ROOT / "scenarios" / "benchmark.yaml")
    good = tmp_path / "obs.csv"
    good.write_text(synthesize(sc, truth={"job_entry_uplift": 0.2}, until=6, seed=5).observations.to_csv())
    bad = tmp_path / "bad.csv"
    bad.write_text("period,starts,job_entry\n0,100,-3\n")
    open_app(page, server)
    nav(page, "Monitor")
    page.get_by_text("Upload a CSV file").click()
    page.locator("input[type=file]").set_input_files(str(bad))
    page.get_by_text("line 2, column job_entry").wait_for()
    page.locator("input[type=file]").set_input_files(str(good))
    page.get_by_text("Periods 0 to 5").wait_for()
    settle(page)
    box = page.get_by_label("Trials", exact=True)
    box.fill("500")
    box.press("Enter")
    settle(page)
    page.get_by_role("button", name="Re-forecast").click()
    page.get_by_text("What the observations changed").wait_for(timeout=120_000)
    page.get_by_text("Expected remaining public cost").wait_for()
    page.get_by_text("Posterior by").wait_for()
    assert page.get_by_test_id("stImage").count() + page.locator("img").count() >= 2
