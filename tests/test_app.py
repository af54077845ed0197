"""The Streamlit app through streamlit.testing (AppTest): every page and its main interactions.

Runs use a few hundred trials; the evidence base is a SQLite file in a temp dir.
"""

from __future__ import annotations

from pathlib import Path

import pytest

pytest.importorskip("streamlit")
from streamlit.testing.v1 import AppTest  # noqa: E402

import sibsim  # noqa: E402
from sibsim import outputs  # noqa: E402

# seconds per script run: a guard against a hung script, not a speed test (a busy shared machine can take
# many times the idle time; runs here are small). Speed is measured in benchmarks/.
TIMEOUT = 600
TRIALS = 500


@pytest.fixture()
def app(repo_root, tmp_path, monkeypatch):
    monkeypatch.setenv("SIBSIM_DB", f"sqlite:///{tmp_path / 'e.db'}")
    at = AppTest.from_file(str(repo_root / "app.py"), default_timeout=TIMEOUT)
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def texts(elements) -> str:
    return "\n".join(str(e.value) for e in elements)


def ok(at: AppTest) -> AppTest:
    assert not at.exception, texts(at.exception)
    return at


def go(at: AppTest, page: str) -> AppTest:
    return ok(at.switch_page(f"app_pages/{page}.py").run())


def ed(at: AppTest, name: str) -> str:
    """Key of a scenario editor widget (it carries the scenario's version)."""
    return f"ed{at.session_state['scenario_version']}.{name}"


def click(at: AppTest, label: str) -> AppTest:
    return ok(next(b for b in at.button if b.label == label).click().run())


def run(at: AppTest, trials: int = TRIALS, seed: int = 1) -> AppTest:
    go(at, "run")
    box = at.number_input(key="trials")
    # a value outside the widget's range is not applied: the run would silently use the default (10,000)
    assert box.min <= trials <= box.max, f"trials={trials} is outside the Trials box's range {box.min}..{box.max}"
    box.set_value(trials)
    at.number_input(key="seed").set_value(seed)
    return ok(at.button(key="go").click().run())


# ---------------------------------------------------------------- scenario page


def test_scenario_page_starts_from_the_benchmark(app):
    assert "Benchmark employment SIB" in texts(app.success)
    assert "benchmark" in app.selectbox(key="src_file").options
    sc = sibsim.load(app.session_state["scenario_source"])
    assert app.session_state["scenario"] == sc
    # one prior picture per parameter, one distribution selector per parameter
    assert len(app.image) == len(sc.parameters)
    assert app.selectbox(key=ed(app, "p.engagement.dist")).value == "beta"
    assert app.number_input(key=ed(app, "p.engagement.mean")).value == pytest.approx(0.8)
    assert [b.label for b in app.download_button] == ["Download YAML"]
    assert list(app.data_editor[0].value["outcome"]) == [o.name for o in sc.outcomes]


SHIPPED = sorted(p.stem for p in (Path(__file__).resolve().parent.parent / "scenarios").glob("*.yaml")
                 if p.stem != "benchmark")  # the benchmark is used throughout


@pytest.mark.parametrize("name", SHIPPED)
def test_every_shipped_scenario_loads_runs_and_places(app, name):
    app.selectbox(key="src_file").select(name).run()
    sc = ok(app).session_state["scenario"]
    assert sc == sibsim.load(Path(app.session_state["scenario_source"])) and f"{sc.name}** is valid" in texts(app.success)
    assert len(app.image) == len(sc.parameters)
    run(app, trials=100 if sc.delivery is not None else 300)  # discrete-event trials are costly: the box's minimum
    assert len(app.metric) >= 4 and len(app.image) == 3
    go(app, "evidence")
    assert app.image  # where it sits among INDIGO projects


def test_delivery_scenario_shows_its_delivery_metrics(app):
    app.selectbox(key="src_file").select("homelessness_delivery").run()
    run(ok(app), trials=100)
    labels = [m.label for m in app.metric]
    for label in ("Mean wait", "Drop-outs", "Utilisation", "Waiting list", "Starts short"):
        assert label in labels, labels
    assert "Delivery: referrals, caseworkers and the waiting list" in texts(app.subheader)


def test_selecting_a_shipped_scenario_loads_it(app):
    app.text_input(key=ed(app, "name")).set_value("edited").run()
    assert ok(app).session_state["scenario"].name == "edited"
    app.selectbox(key="src_file").select("benchmark").run()  # same choice: no change event
    click(app, "Reload (discard edits)")
    assert ok(app).session_state["scenario"].name == "Benchmark employment SIB"
    assert app.text_input(key=ed(app, "name")).value == "Benchmark employment SIB"


def test_edit_price_is_validated_beside_the_rate_card(app):
    app.session_state[ed(app, "rate_card")] = {"edited_rows": {0: {"price": "-5"}}, "added_rows": [], "deleted_rows": []}
    ok(app.run())
    assert app.session_state["scenario"] is None
    errors = texts(app.error)
    assert "rate_card.prices.job_entry" in errors and "must be >= 0; got -5.0" in errors
    # a price may name a parameter; an unknown name is refused with the names allowed
    app.session_state[ed(app, "rate_card")] = {"edited_rows": {0: {"price": "nope"}}, "added_rows": [], "deleted_rows": []}
    ok(app.run())
    assert "'nope' is not a parameter" in texts(app.error)
    app.session_state[ed(app, "rate_card")] = {"edited_rows": {0: {"price": "4200"}}, "added_rows": [], "deleted_rows": []}
    ok(app.run())
    assert not app.error
    assert app.session_state["scenario"].rate_card.prices["job_entry"] == 4200


def test_edit_prior_and_finance_terms(app):
    app.number_input(key=ed(app, "p.engagement.sd")).set_value(0.6).run()
    assert "parameters.engagement" in texts(ok(app).error) and "sd must be below" in texts(app.error)
    assert len(app.image) == 7  # no picture of an invalid prior
    app.number_input(key=ed(app, "p.engagement.sd")).set_value(0.1).run()
    assert not ok(app).error and len(app.image) == 8
    assert app.session_state["scenario"].parameters["engagement"].sd == pytest.approx(0.1)
    # switching the kind keeps the fields the kinds share
    app.selectbox(key=ed(app, "p.job_entry_uplift.dist")).select("lognormal").run()
    assert ok(app).session_state["scenario"].parameters["job_entry_uplift"].dist == "lognormal"

    app.text_input(key=ed(app, "finance.sib.guarantee_share")).input("2").run()
    assert "finance.sib.guarantee_share" in texts(ok(app).error)
    app.text_input(key=ed(app, "finance.sib.guarantee_share")).input("0.5").run()
    app.text_input(key=ed(app, "finance.sib.capital_commitment")).input("1,500,000").run()
    app.text_input(key=ed(app, "finance.sib.return_cap_annual")).input("0.1").run()
    sib = ok(app).session_state["scenario"].finance.sib
    assert (sib.guarantee_share, sib.capital_commitment, sib.return_cap_annual) == (0.5, 1_500_000, 0.1)


BAD_UPLOADS = [
    (b"name: x\nhorizon_periods: -3\n", "horizon_periods"),
    ("name: x\nhorizon_periods: 4\nparticipants: {starts: {kind: schedule, per_period: [1]}}\n"
     "outcomes: [{name: a, baseline: 0.2}]\nrate_card: {prices: {b: 10}}\n".encode(), "rate_card.prices.b"),
    (b"name: [unclosed\n", "not valid YAML"),
    (b"name: caf\xe9\n", "not UTF-8"),
    (b"#" * 1_000_001, "limit is 1,000,000"),
]


@pytest.mark.parametrize(("content", "expected"), BAD_UPLOADS, ids=["field", "cross-field", "yaml", "utf8", "size"])
def test_bad_upload_is_refused_with_the_reason(app, content, expected):
    app.radio(key="src_kind").set_value("An uploaded YAML file").run()
    app.file_uploader(key="upload").set_value(("bad.yaml", content, "application/x-yaml")).run()
    msg = texts(ok(app).error)
    assert "bad.yaml" in msg and "was not loaded" in msg and expected in msg
    assert app.session_state["scenario"].name == "Benchmark employment SIB"  # the current scenario is kept


def test_good_upload_becomes_the_current_scenario(app, repo_root):
    text = (repo_root / "scenarios" / "benchmark.yaml").read_text().replace("Benchmark employment SIB", "Uploaded")
    app.radio(key="src_kind").set_value("An uploaded YAML file").run()
    app.file_uploader(key="upload").set_value(("mine.yaml", text.encode(), "application/x-yaml")).run()
    assert not ok(app).error
    assert app.session_state["scenario"].name == "Uploaded"
    assert app.session_state["scenario_source"] == "upload: mine.yaml"


def test_yaml_editor_applies_or_explains(app):
    key = next(k for k in app.session_state if str(k).startswith("yaml."))
    app.text_area(key=key).input("name: y\nhorizon_periods: 0\n")
    click(app, "Apply YAML")
    assert "horizon_periods" in texts(app.error)
    assert app.session_state["scenario"].name == "Benchmark employment SIB"


# ---------------------------------------------------------------- run page


def test_run_shows_headline_figures_distributions_and_downloads(app):
    run(app)
    metrics = {m.label: m.value for m in app.metric}
    ref = sibsim.simulate(app.session_state["scenario"], trials=TRIALS, seed=1)
    assert metrics["P(investor loss)"] == f"{ref.indicators['investor_loss'].mean():.1%}"
    assert set(metrics) >= {"Expected outcome payments", "P(investor loss)", "Median investor IRR",
                            "Cost per additional outcome", "Deadweight share"}
    assert metrics["Expected outcome payments"].startswith("£")
    assert len(app.image) == 3  # IRR histogram, payments histogram, fan charts
    assert [b.label for b in app.download_button] == ["Run record (JSON)", "Per-trial results (CSV)",
                                                      "Figures (PNG)", "Workbook (Excel)", "Report (PDF)"]
    summary = app.dataframe[0].value
    assert "Outcome payments owed (rate card)" in summary.index.get_level_values("output")
    assert summary.index.get_level_values("party")[0] == "Commissioner (public sector)"  # grouped by party
    assert not summary.apply(lambda c: c.astype(str).str.contains(r"\de[+-]\d")).any().any()  # no 1e+06
    assert app.session_state["run"].trials == TRIALS
    assert app.number_input(key="trials").value == TRIALS


def test_a_long_run_shares_its_trials_among_spawned_workers(app, monkeypatch):
    """Runs of 20,000 trials or more use every core. The app runs its script beside other threads, so the
    workers are spawned, not forked (sibsim.procs.start_method); the numbers are those of one process."""
    import sibsim.engine as engine

    real, seen = engine.mp_context, []
    monkeypatch.setattr(engine, "mp_context", lambda: seen.append(real().get_start_method()) or real())
    run(app, trials=20_000)
    assert seen == ["spawn"]
    shown = app.session_state["run"]
    alone = sibsim.simulate(shown.scenario, trials=20_000, seed=1, workers=1)
    assert shown.trials == 20_000 and (shown.metrics["outcome_payments"] == alone.metrics["outcome_payments"]).all()


def test_run_page_defaults_and_invalid_scenario(app):
    go(app, "run")
    assert app.number_input(key="trials").value == 10_000 and app.number_input(key="seed").value == 1
    go(app, "scenario")
    app.text_input(key=ed(app, "finance.sib.guarantee_share")).input("-1").run()
    go(app, "run")
    assert "has problems" in texts(app.warning) and "finance.sib.guarantee_share" in texts(app.warning)
    assert not app.button


# ---------------------------------------------------------------- compare page


def test_compare_two_runs(app):
    run(app)
    app.button(key="add_compare").click().run()
    go(app, "scenario")
    app.text_input(key=ed(app, "finance.sib.guarantee_share")).input("0.8").run()
    app.text_input(key=ed(app, "name")).input("With guarantee").run()
    run(app)
    app.button(key="add_compare").click().run()
    go(app, "compare")
    parties = app.table[0].value
    assert parties.shape[1] == 2 and ("Investors", "P(investor loss)") in parties.index
    table = app.dataframe[0].value
    assert len(table) == 2 and "P(investor loss)" in table.columns
    loss = [float(v.rstrip("%")) for v in table["P(investor loss)"]]
    assert loss[1] <= loss[0]  # a guarantee never makes a loss likelier (same draws)
    vfm = any(k.startswith("vfm.") for k in app.session_state["run"].indicators)
    assert len(app.image) == 2 + vfm  # overlaid distributions, risk-return (acceptability if the data exists)
    app.selectbox(key="cmp_metric").select("outcome_payments").run()
    app.radio(key="cmp_rr").set_value("irr").run()
    assert len(ok(app).image) == 2 + vfm
    # a shipped scenario run here on the same seed joins them
    app.multiselect(key="cmp_shipped").select("benchmark").run()
    assert len(ok(app).dataframe[0].value) == 3


def test_finance_models_on_the_same_draws(app):
    models = list(getattr(pytest.importorskip("sibsim.finance"), "MODELS", ["sib"]))
    if len(models) < 2:
        pytest.skip("only one finance model in this version")
    go(app, "compare")
    app.multiselect(key="cmp_models").set_value(models[:2]).run()
    parties = ok(app).table[0].value
    assert [c.rsplit(" · ", 1)[-1] for c in parties.columns] == models[:2]
    assert app.selectbox(key="cmp_metric").value == "public_cost"  # defined for every model shown
    diff = app.table[1].value  # the second model against the first, paired (same draws)
    assert "±" in diff.loc["Public cost (all outcome payers)"].iloc[0] and "independent" not in diff.to_string()
    table = app.dataframe[0].value
    assert len(table) == 2 and all(models[i] in table.index[i] for i in range(2))
    # on the Run page the other models are evaluated alongside, in a table by party
    go(app, "run")
    app.number_input(key="trials").set_value(TRIALS)
    app.multiselect(key="also").set_value([m for m in models if m != "sib"])
    ok(app.button(key="go").click().run())
    parties = app.table[0].value
    assert list(parties.columns) == models
    run_ = app.session_state["run"]
    row = parties.loc[("Commissioner (public sector)", "Commissioner cost, mean")]
    assert list(row) == [outputs.fmt(run_.model(m).metrics["commissioner_cost"].mean(), "currency", symbol="£")
                         for m in models]
    irr = parties.loc[("Investors", "P(investor loss)")]
    assert [v == "no investor" for v in irr] == [m != "sib" for m in models]


# ---------------------------------------------------------------- evidence page


def test_save_find_tag_and_rerun_in_the_evidence_base(app):
    pytest.importorskip("sibsim.store")
    go(app, "evidence")
    assert "No saved runs yet" in texts(app.info)
    assert "participants" in app.dataframe[-1].value.index  # the INDIGO reference class
    run(app)
    app.text_input(key="save_tags").input("baseline, test")
    app.text_area(key="save_note").input("first try")
    click(app, "Save to evidence base")
    assert "tagged baseline, test" in texts(ok(app).success)
    go(app, "evidence")
    listed = app.dataframe[0].value
    assert list(listed["name"]) == ["Benchmark employment SIB"] and listed["tags"].iloc[0] == "baseline, test"
    app.multiselect(key="ev_tags").select("test").run()
    assert len(ok(app).dataframe[0].value) == 1
    rid = app.selectbox(key="ev_run").value
    app.text_input(key=f"ev_tag_text_{rid}").input("baseline, reviewed")
    click(app, "Save tags and note")
    app.multiselect(key="ev_tags").set_value([]).run()
    assert ok(app).dataframe[0].value["tags"].iloc[0] == "baseline, reviewed"
    app.button(key="ev_rerun").click().run()
    assert "identical to the stored run" in texts(ok(app).success)
    assert app.download_button[-1].label == "Per-trial results (CSV)"


def test_open_a_saved_run_and_compare_it(app):
    pytest.importorskip("sibsim.store")
    run(app, seed=7)
    click(app, "Save to evidence base")
    go(app, "scenario")
    app.text_input(key=ed(app, "name")).input("Something else").run()
    go(app, "evidence")
    ok(app.button(key="ev_open").click().run())  # switches to the Run page
    assert app.session_state["scenario"].name == "Benchmark employment SIB"
    assert app.session_state["scenario_source"].startswith("evidence base run #")
    assert (app.session_state["run"].seed, app.session_state["run"].trials) == (7, TRIALS)
    assert {m.label for m in app.metric} >= {"Expected outcome payments", "P(investor loss)"}
    go(app, "compare")
    rid = app.multiselect(key="cmp_saved").options[0]
    app.multiselect(key="cmp_saved").select(rid).run()
    assert len(ok(app).dataframe[0].value) == 1 and "Comparing 1 run" in texts(app.caption)


def test_evidence_base_unavailable_is_said_plainly(app, monkeypatch, tmp_path):
    monkeypatch.setenv("SIBSIM_DB", f"sqlite:///{tmp_path / 'no' / 'such' / 'dir' / 'e.db'}")
    go(app, "evidence")
    assert "could not be opened" in texts(app.info)
    assert "participants" in app.dataframe[-1].value.index  # the reference class still shows (shipped snapshot)
    run(app)
    assert "could not be opened" in texts(app.info)
    assert app.metric  # everything else works
