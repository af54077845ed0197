"""The app's state in its address (app_pages/links.py): a link reopens the same scenario and run; a bad link
is explained and changes nothing; the source banner and the shipped-scenario box follow edits."""

from __future__ import annotations

import pytest

pytest.importorskip("streamlit")
from streamlit.testing.v1 import AppTest  # noqa: E402

import sibsim  # noqa: E402
from app_pages import links  # noqa: E402

TIMEOUT = 600  # generous: a busy machine must not fail a test for being slow


@pytest.fixture()
def db(tmp_path, monkeypatch):
    url = f"sqlite:///{tmp_path / 'e.db'}"
    monkeypatch.setenv("SIBSIM_DB", url)
    return url


def open_app(repo_root, page: str | None = None, **params) -> AppTest:
    at = AppTest.from_file(str(repo_root / "app.py"), default_timeout=TIMEOUT)
    for k, v in params.items():
        at.query_params[k] = str(v)
    at.run()
    if page:
        at.switch_page(f"app_pages/{page}.py").run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def params(at: AppTest) -> dict[str, str]:
    return {k: (v[0] if isinstance(v, list) else v) for k, v in at.query_params.items()}


def test_a_shipped_scenario_and_its_run_from_the_link(repo_root, db):
    at = open_app(repo_root, "run", scenario="life_chances_fund", trials=300, seed=2, run=1, also="pbr")
    ss = at.session_state
    assert ss["scenario"] == sibsim.load(repo_root / "scenarios" / "life_chances_fund.yaml")
    run = ss["run"]
    assert (run.trials, run.seed, run.finance_models) == (300, 2, ("sib", "pbr"))
    want = sibsim.simulate(ss["scenario"], trials=300, seed=2, finance=("pbr",))
    assert run.metric_summaries() == want.metric_summaries()
    assert at.number_input(key="trials").value == 300
    assert params(at) == {"scenario": "life_chances_fund", "trials": "300", "seed": "2", "run": "1", "also": "pbr"}


def test_an_edited_scenario_travels_in_the_link(repo_root, db):
    at = open_app(repo_root)
    key = f"ed{at.session_state['scenario_version']}.name"
    at.text_input(key=key).set_value("My own SIB").run()
    sc = at.session_state["scenario"]
    assert sc.name == "My own SIB"
    assert "edited, from scenarios/benchmark.yaml" in "\n".join(str(s.value) for s in at.success)
    assert at.selectbox(key="src_file").value is None  # the box no longer claims the file is loaded
    q = params(at)
    assert "spec" in q and "scenario" not in q
    assert links.decode_spec(q["spec"]) == sc.canonical_json()
    again = open_app(repo_root, **q)
    assert again.session_state["scenario"].content_hash == sc.content_hash
    # choosing the shipped benchmark now reloads it (before, choosing the shown name did nothing)
    at.selectbox(key="src_file").set_value("benchmark").run()
    assert at.session_state["scenario"].name == "Benchmark employment SIB"
    assert params(at)["scenario"] == "benchmark"


@pytest.mark.parametrize("bad, words", [
    ({"scenario": "nope"}, "no shipped scenario has that name"),
    ({"spec": "!!!not-base64"}, "could not be read"),
    ({"spec": links.encode_spec('{"name": "x"}')}, "not valid"),
    ({"scenario": "benchmark", "trials": "1e9"}, "not a whole number from 100 to 200,000"),
    ({"scenario": "benchmark", "also": "pbr,zzz"}, "zzz not a finance model"),
    ({"evidence": "999"}, "999"),
])
def test_a_bad_link_is_explained_and_changes_nothing_else(repo_root, db, bad, words):
    at = open_app(repo_root, **bad)
    warned = "\n".join(str(w.value) for w in at.warning)
    assert "From the link" in warned and words in warned, warned
    assert at.session_state["scenario"] is not None  # a valid scenario is current (the default or the named one)


def test_a_saved_run_has_a_link_that_reopens_it(repo_root, db):
    at = open_app(repo_root, "run")
    at.number_input(key="trials").set_value(200)
    at.button(key="go").click().run()
    at.text_input(key="save_tags").set_value("linked")
    next(b for b in at.button if b.label == "Save to evidence base").click().run()
    msg = "\n".join(str(s.value) for s in at.success)
    assert "Saved as run #1" in msg and "run?evidence=1&trials=200&seed=1&run=1" in msg
    again = open_app(repo_root, "run", evidence=1, run=1)
    assert again.session_state["run"].metric_summaries() == at.session_state["run"].metric_summaries()
    assert params(again)["evidence"] == "1"
