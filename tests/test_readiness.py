"""Provider readiness (issue 13): reserves for a target P(insolvency), working capital, turnover at risk."""

from __future__ import annotations

import json

import numpy as np
import pytest

import sibsim
from sibsim.cli import main
from sibsim.errors import UsageError
from sibsim.readiness import _with_provider, insolvent_at, per_trial_need, provider_terms, readiness, reserves_for
from sibsim.trialflows import all_flows

from helpers import ROOT

LCF = ROOT / "scenarios" / "life_chances_fund.yaml"


@pytest.fixture(scope="module")
def lcf():
    return sibsim.load(LCF)


@pytest.mark.parametrize("model, risk", [("pbr", 0.10), ("hybrid", 0.05)])
def test_found_reserves_give_the_requested_risk_on_fresh_draws(lcf, model, risk):
    n, N = 3000, 4000
    r = readiness(lcf, trials=n, seed=11, risk=risk, models=(model,))
    found = r.models[0].reserves_needed
    assert found > 0
    run = sibsim.simulate(_with_provider(lcf, reserves=found), trials=N, seed=12345, finance=(model,))
    p = run.model(model).probabilities()["insolvency"]["p"]
    se = np.sqrt(risk * (1 - risk) * (1 / n + 1 / N))
    assert abs(p - risk) < 4 * se, (p, risk, se)


def test_the_search_finds_the_least_reserves_that_meet_the_risk_on_its_own_draws(lcf):
    f = all_flows(lcf, trials=2000, seed=5, models=("pbr",))
    _, limit, rate = provider_terms(lcf, f["params"], f["costs"])
    cf = f["flows"]["pbr"]
    raw = cf["provider"] + cf["lender"]
    for risk in (0.02, 0.2, 0.5):
        R = reserves_for(raw, limit=limit, rate_pp=rate, risk=risk, tol=0.5)
        assert np.mean(insolvent_at(raw, R, limit, rate)) <= risk
        assert np.mean(insolvent_at(raw, R - 1.0, limit, rate)) > risk
        need = per_trial_need(raw, limit=limit, rate_pp=rate, tol=0.5)  # each trial's own need, bisected apart
        assert np.mean(need > R + 0.5) <= risk < np.mean(need > R - 1.5)


def test_the_account_replayed_at_the_scenarios_reserves_is_the_engines(lcf):
    models = ("sib", "pbr", "hybrid")
    f = all_flows(lcf, trials=1500, seed=3, models=models, chunk=600)
    run = sibsim.simulate(lcf, trials=1500, seed=3, finance=models[1:])
    R, limit, rate = provider_terms(lcf, f["params"], f["costs"])
    for m in models:
        cf = f["flows"][m]
        mine = insolvent_at(cf["provider"] + cf["lender"], R, limit, rate)
        np.testing.assert_array_equal(mine, run.model(m).indicators["insolvency"])
        np.testing.assert_allclose(cf["provider"].sum(axis=1), run.model(m).metrics["provider_surplus"])


def test_more_reserves_never_raise_the_risk_and_a_fee_needs_none(lcf):
    ps = [readiness(lcf, trials=800, seed=2, models=("pbr", "fee"), reserves=R) for R in (0, 1e5, 2e5, 4e5)]
    p = [r.models[0].p_insolvency for r in ps]
    assert p == sorted(p, reverse=True) and p[0] > p[-1]
    fee = ps[0].models[1]
    assert fee.p_insolvency == 0 and fee.reserves_needed == 0 and fee.peak_working_capital_p95 == 0


def test_turnover_at_risk_is_a_share_of_the_turnover_given(lcf):
    a = readiness(lcf, trials=500, seed=4, models=("pbr",), annual_turnover=200_000).models[0]
    b = readiness(lcf, trials=500, seed=4, models=("pbr",), annual_turnover=400_000).models[0]
    assert a.turnover_share_peak == pytest.approx(2 * b.turnover_share_peak)
    assert a.turnover_share_peak == pytest.approx(a.peak_working_capital_p95 / 200_000)
    assert readiness(lcf, trials=200, seed=4, models=("pbr",)).models[0].turnover_share_peak is None


@pytest.mark.parametrize("kw, words", [({"risk": 0}, "risk"), ({"risk": 1.2}, "risk"),
                                       ({"reserves": -1}, "reserves"), ({"models": ("loan",)}, "loan")])
def test_bad_arguments_say_what_is_allowed(lcf, kw, words):
    with pytest.raises(UsageError, match=words):
        readiness(lcf, trials=10, seed=1, **kw)


def test_cli_readiness_runs_on_the_life_chances_fund(tmp_path, capsys):
    out = tmp_path / "r.json"
    assert main(["readiness", str(LCF), "--provider-reserves", "60000", "--risk", "0.05", "--trials", "400",
                 "--turnover", "400000", "--json", str(out)]) == 0
    text = capsys.readouterr().out
    assert "Direct payment by results" in text and "reserves for 5.0%" in text
    d = json.loads(out.read_text())
    assert set(d["models"]) == {"sib", "pbr", "fee", "hybrid"} and d["annual_turnover"] == 400000
    assert d["models"]["pbr"]["reserves"] == 60000
    assert main(["readiness", str(LCF), "--risk", "2"]) == 2
    assert "--risk" in capsys.readouterr().err


def test_readiness_figure_shows_each_models_needs_against_the_providers_reserves(lcf):
    from sibsim.plots import readiness as RP

    r = readiness(lcf, trials=300, seed=1, models=("sib", "pbr"), reserves=50_000)
    ax = RP.readiness_reserves(r).axes[0]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["Social impact bond", "Direct payment by results"]
    bars = [p.get_height() for p in ax.patches]
    np.testing.assert_allclose(bars[:2], [m.reserves_needed for m in r.models])
    np.testing.assert_allclose(bars[2:4], [m.peak_working_capital_p95 for m in r.models])
    assert ax.get_ylabel() == "Amount (GBP)"
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert "Your reserves (£50k)" in legend and "Reserves needed for P(insolvency) ≤ 5%" in legend


def test_the_readiness_page_answers_in_plain_words(repo_root, tmp_path, monkeypatch):
    pytest.importorskip("streamlit")
    from streamlit.testing.v1 import AppTest

    monkeypatch.setenv("SIBSIM_DB", f"sqlite:///{tmp_path / 'e.db'}")
    at = AppTest.from_file(str(repo_root / "app.py"), default_timeout=90)
    at.run()
    at.selectbox(key="src_file").select("life_chances_fund_costs").run()
    at.switch_page("app_pages/readiness.py").run()
    at.number_input(key="rd_trials").set_value(300).run()
    assert not at.exception, [e.value for e in at.exception]
    text = "\n".join(m.value for m in at.markdown)
    assert "Direct payment by results" in text and "short" in text and "Fee for service" in text
    assert at.number_input(key="rd_reserves").value == 60_000 and at.number_input(key="rd_turnover").value == 400_000
    r = readiness(sibsim.load(repo_root / "scenarios" / "life_chances_fund_costs.yaml"), trials=300, seed=1,
                  risk=0.05, reserves=60_000, annual_turnover=400_000)
    pbr = next(m for m in r.models if m.model == "pbr")
    assert f"{pbr.p_insolvency:.0%}" in text
    df = at.dataframe[0].value
    assert list(df.index) == ["Social impact bond", "Direct payment by results", "Fee for service", "Hybrid (part fee)"]
    at.slider(key="rd_risk").set_value(20).run()
    assert not at.exception and "at or below 20%" in "\n".join(m.value for m in at.markdown)


@pytest.mark.parametrize("path", sorted((ROOT / "scenarios").glob("*.yaml")), ids=lambda p: p.stem)
def test_every_shipped_scenarios_flows_replay_the_engines_account(path):
    sc = sibsim.load(path)
    n = 60 if sc.delivery is not None else 400
    models = ("sib", "pbr", "fee", "hybrid")
    f = all_flows(sc, trials=n, seed=9, models=models)
    run = sibsim.simulate(sc, trials=n, seed=9, finance=tuple(m for m in models if m != sc.finance.model))
    R, limit, rate = provider_terms(sc, f["params"], f["costs"])
    for m in models:
        cf = f["flows"][m]
        np.testing.assert_array_equal(insolvent_at(cf["provider"] + cf["lender"], R, limit, rate),
                                      run.model(m).indicators["insolvency"])
        np.testing.assert_allclose(-cf["commissioner"].sum(axis=1), run.model(m).metrics["commissioner_cost"])


def test_a_larger_overdraft_needs_less_reserves_one_for_one_without_interest(lcf):
    from sibsim.spec import to_dict, validate

    d = to_dict(lcf)
    d["finance"]["provider"]["overdraft_rate_annual"] = 0.0
    sc = validate(d)
    a = readiness(sc, trials=500, seed=6, models=("pbr",), overdraft_limit=0).models[0]
    b = readiness(sc, trials=500, seed=6, models=("pbr",), overdraft_limit=50_000).models[0]
    assert a.reserves_needed - b.reserves_needed == pytest.approx(50_000, abs=2.0)
    assert main(["readiness", str(LCF), "--trials", "50", "--overdraft-limit", "-1", "-q"]) == 2
