"""The Value of information page through streamlit.testing (AppTest)."""

from __future__ import annotations

import pytest

pytest.importorskip("streamlit")
from streamlit.testing.v1 import AppTest  # noqa: E402

import sibsim  # noqa: E402
from sibsim import spec  # noqa: E402

TIMEOUT = 120


def ok(at):
    assert not at.exception, "\n".join(str(e.value) for e in at.exception)
    return at


@pytest.fixture()
def app(repo_root, tmp_path, monkeypatch):
    monkeypatch.setenv("SIBSIM_DB", f"sqlite:///{tmp_path / 'e.db'}")
    at = AppTest.from_file(str(repo_root / "app.py"), default_timeout=TIMEOUT)
    ok(at.run())
    return at


def load(at, repo_root, name):
    sc = spec.load(repo_root / "scenarios" / f"{name}.yaml")
    at.session_state["scenario"] = sc
    at.session_state["scenario_data"] = spec.to_dict(sc)
    return sc


def test_voi_page_computes_evpi_evppi_and_evsi(app, repo_root):
    sc = load(app, repo_root, "life_chances_fund")
    at = ok(app.switch_page("app_pages/voi.py").run())
    at.multiselect(key="voi_evppi").set_value(["job_entry_uplift", "engagement"])
    at.selectbox(key="voi_field").set_value("pilot_size")
    at.text_input(key="voi_sizes").set_value("20:420:200")
    at.number_input(key="voi_trials").set_value(600)
    ok(at.button(key="voi_go").click().run())
    res = sibsim.voi(sc, options=["sib", "pbr", "fee", "none"], wtp=["0", "10000", "30000"],
                     evppi=["job_entry_uplift", "engagement"], evsi="pilot_size=20:420:200", trials=600,
                     seed=at.session_state["opts"]["seed"], draws=100)
    table = at.dataframe[0].value
    assert list(table["wtp"]) == ["0", "10000", "30000"]
    assert list(table["evpi"]) == pytest.approx([res.evpi[k].value for k in ("0", "10000", "30000")])
    assert "Is a bigger study worth it?" in [s.value for s in at.subheader]


def test_voi_page_measurement_design(app, repo_root):
    load(app, repo_root, "peterborough")
    at = ok(app.switch_page("app_pages/voi.py").run())
    assert "Measurement design of this contract" in [s.value for s in at.subheader]
    at.text_input(key="voi_d_sizes").set_value("2,10")
    at.text_input(key="voi_d_scales").set_value("1")
    at.number_input(key="voi_d_trials").set_value(200)
    at.number_input(key="voi_d_a").set_value(1.0)
    at.number_input(key="voi_d_b").set_value(1.0)
    ok(at.button(key="voi_d_go").click().run())
    assert any("Recommended" in s.value for s in at.success)
    assert list(at.dataframe[-1].value["size"]) == [2.0, 10.0]
