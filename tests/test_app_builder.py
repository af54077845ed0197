"""The scenario builder (issue 14) through streamlit.testing: a scenario built from nothing, checked and run."""

from __future__ import annotations

import pytest

pytest.importorskip("streamlit")

import sibsim  # noqa: E402
from sibsim import indigo, spec  # noqa: E402
from sibsim.spec import edit  # noqa: E402
from tests.test_app import TIMEOUT, app, click, ed, go, ok, run, texts  # noqa: E402,F401  (app: the fixture)

COMMENTED = """\
# written by hand: keep this comment
name: Commented   # the title
horizon_periods: 8
participants:
  starts: {kind: schedule, per_period: [50, 50]}
outcomes:
  - name: job
    baseline: 0.2
    effect: {type: absolute, size: 0.1}
    lag: {dist: fixed, periods: 2}
rate_card:
  prices: {job: 3500}   # DWP rate card
"""


def after(at, key: str):
    """The elements drawn right after the widget with ``key``, in page order (what the user sees beside it)."""
    nodes = list(at.main)
    i = next(i for i, n in enumerate(nodes) if getattr(n, "key", None) == key)
    return nodes[i + 1:i + 3]


def yaml_text(at) -> str:
    return next(t.value for t in at.text_area if str(t.key).startswith("yaml."))


def new_scenario(at, name="Built here"):
    at.radio(key="src_kind").set_value("A new scenario").run()
    at.text_input(key="new_name").set_value(name)
    return ok(at.button(key="new_create").click().run())


def test_build_a_scenario_from_nothing_validate_and_run_it(app):
    new_scenario(app)
    sc = app.session_state["scenario"]
    assert sc.name == "Built here" and [o.name for o in sc.outcomes] == ["outcome_1"] and not sc.parameters
    assert app.session_state["scenario_source"] == "the template"

    # a second outcome, renamed, requiring the first; its price follows the rename
    ok(app.button(key=ed(app, "outcomes.add")).click().run())
    app.text_input(key=ed(app, "outcomes.1.name")).input("sustained").run()
    app.selectbox(key=ed(app, "outcomes.1.requires")).select("outcome_1").run()
    app.session_state[ed(app, "rate_card")] = {"edited_rows": {1: {"price": "2,500"}}, "added_rows": [],
                                               "deleted_rows": []}
    ok(app.run())

    # a parameter with a prior, used as the first outcome's effect
    app.text_input(key=ed(app, "newparam.name")).input("uplift")
    app.selectbox(key=ed(app, "newparam.kind")).select("normal")
    ok(app.button(key=ed(app, "newparam.add")).click().run())
    app.number_input(key=ed(app, "p.uplift.sd")).set_value(0.03).run()
    app.text_input(key=ed(app, "outcomes.0.effect.size")).input("uplift").run()

    # SIB terms
    app.text_input(key=ed(app, "finance.sib.capital_commitment")).input("400,000").run()
    app.text_input(key=ed(app, "finance.sib.return_cap_annual")).input("0.08").run()
    app.text_input(key=ed(app, "finance.sib.guarantee_share")).input("0.5").run()

    # a bad value is shown beside its field, and the scenario is not usable until it is fixed
    key = ed(app, "outcomes.1.baseline")
    app.text_input(key=key).input("1.5").run()
    assert ok(app).session_state["scenario"] is None
    beside = after(app, key)
    assert type(beside[0]).__name__ == "Error", beside  # the next thing on the page, in the same column
    assert "outcomes.1.baseline" in beside[0].value and "1.5" in beside[0].value
    app.text_input(key=key).input("0.5").run()

    sc = ok(app).session_state["scenario"]
    assert sc is not None, app.session_state["problems"]
    assert [o.name for o in sc.outcomes] == ["outcome_1", "sustained"] and sc.outcomes[1].requires == "outcome_1"
    assert sc.rate_card.prices == {"outcome_1": 1000, "sustained": 2500}
    assert sc.parameters["uplift"].dist == "normal" and sc.parameters["uplift"].sd == pytest.approx(0.03)
    assert sc.outcomes[0].effect.size == "uplift"
    sib = sc.finance.sib
    assert (sib.capital_commitment, sib.return_cap_annual, sib.guarantee_share) == (400_000, 0.08, 0.5)

    # the YAML holds what was built, and only what differs from the defaults
    text = yaml_text(app)
    assert spec.loads(text).content_hash == sc.content_hash
    assert "payment_lag_periods" not in text and "management_fee_per_period" not in text

    run(app, trials=300)
    ref = sibsim.simulate(sc, trials=300, seed=1)
    metrics = {m.label: m.value for m in app.metric}
    assert metrics["P(investor loss)"] == f"{ref.indicators['investor_loss'].mean():.1%}"


def test_remove_outcome_parameter_and_add_a_correlation(app):
    ok(app.button(key=ed(app, "p.qualification_uplift.remove")).click().run())
    assert "'qualification_uplift' is not a parameter" in texts(app.error)  # its use is reported
    ok(app.button(key=ed(app, "outcomes.2.remove")).click().run())  # qualification, and with it its price
    sc = app.session_state["scenario"]
    assert sc is not None and [o.name for o in sc.outcomes] == ["job_entry", "job_sustained"]
    assert "qualification" not in sc.rate_card.prices
    ok(app.button(key=ed(app, "correlations.add")).click().run())
    app.selectbox(key=ed(app, "correlations.0.a")).select("job_entry_p0").run()
    app.selectbox(key=ed(app, "correlations.0.b")).select("job_entry_uplift").run()
    app.text_input(key=ed(app, "correlations.0.rho")).input("2").run()
    assert "correlations.0.rho" in texts(ok(app).error)
    app.text_input(key=ed(app, "correlations.0.rho")).input("-0.4").run()
    (cor,) = ok(app).session_state["scenario"].correlations
    assert (cor.a, cor.b, cor.rho) == ("job_entry_p0", "job_entry_uplift", -0.4)


def test_every_section_edits_its_field(app):
    edits = {
        "participants.starts.per_period": ("200, 200", lambda sc: sc.participants.starts.per_period == (200, 200)),
        "participants.max_participants": ("350", lambda sc: sc.participants.max_participants == 350),
        "costs.per_start": ("250", lambda sc: sc.costs.per_start == 250),
        "rate_card.co_payer_share": ("0.25", lambda sc: sc.rate_card.co_payer_share == 0.25),
        "finance.provider.reserves": ("50000", lambda sc: sc.finance.provider.reserves == 50_000),
        "finance.fee.margin": ("0.1", lambda sc: sc.finance.fee.margin == 0.1),
        "finance.hybrid.fee_share": ("0.3", lambda sc: sc.finance.hybrid.fee_share == 0.3),
        "appraisal.value_per_outcome.job_entry": ("9000", lambda sc: sc.appraisal.value_per_outcome["job_entry"]
                                                  == 9000),
    }
    for field, (value, check) in edits.items():
        app.text_input(key=ed(app, field)).input(value).run()
        sc = ok(app).session_state["scenario"]
        assert sc is not None and check(sc), (field, app.session_state["problems"])
    app.selectbox(key=ed(app, "finance.model")).select("hybrid").run()
    assert ok(app).session_state["scenario"].finance.model == "hybrid"


def test_yaml_download_keeps_the_authors_comments_and_order(app):
    app.radio(key="src_kind").set_value("An uploaded YAML file").run()
    app.file_uploader(key="upload").set_value(("mine.yaml", COMMENTED.encode(), "application/x-yaml")).run()
    assert yaml_text(ok(app)) == COMMENTED  # as written, not regenerated
    app.session_state[ed(app, "rate_card")] = {"edited_rows": {0: {"price": "4000"}}, "added_rows": [],
                                               "deleted_rows": []}
    ok(app.run())
    ok(app.button(key=ed(app, "outcomes.add")).click().run())  # a structural edit keeps the text too
    text = yaml_text(app)
    assert text.startswith("# written by hand: keep this comment\nname: Commented   # the title\n")
    assert "prices: {job: 4000}   # DWP rate card" in text and "name: outcome_2" in text
    assert spec.loads(text).content_hash == app.session_state["scenario"].content_hash


def test_a_shipped_scenario_downloads_as_its_file(app, repo_root):
    assert yaml_text(app) == (repo_root / "scenarios" / "benchmark.yaml").read_text()


def test_new_scenario_from_an_indigo_rate_card(app):
    tables = indigo.load()
    pid = edit.indigo_rate_cards(tables)["project_id"].iloc[0]
    app.radio(key="src_kind").set_value("An INDIGO rate card").run()
    app.selectbox(key="indigo_project").select(pid).run()
    ok(app.button(key="indigo_create").click().run())
    sc = app.session_state["scenario"]
    assert sc is not None and sc == spec.validate(edit.from_indigo(pid, tables))
    assert f"INDIGO {pid}" in app.session_state["scenario_source"]


def test_delivery_scenario_suggests_fewer_trials(app):
    app.selectbox(key="src_file").select("homelessness_delivery").run()
    go(ok(app), "run")
    assert app.number_input(key="trials").value == 2_000
    go(app, "scenario")
    app.selectbox(key="src_file").select("benchmark").run()
    go(ok(app), "run")
    assert app.number_input(key="trials").value == 10_000
    app.number_input(key="trials").set_value(700).run()  # the user's choice then stays
    go(app, "scenario")
    app.selectbox(key="src_file").select("homelessness_delivery").run()
    go(ok(app), "run")
    assert app.number_input(key="trials").value == 700
