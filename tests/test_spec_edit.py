"""sibsim.spec.edit: scenarios built from nothing or an INDIGO rate card, and YAML that keeps a user's text."""

from __future__ import annotations

import copy

import pytest

from sibsim import indigo, spec
from sibsim.dists import PRIOR_KINDS
from sibsim.errors import ScenarioError, UsageError
from sibsim.spec import edit

COMMENTED = """\
# my scenario, written by hand
name: Hand written   # the title
currency: GBP
horizon_periods: 8
parameters:
  uplift: {dist: normal, mean: 0.10, sd: 0.04}  # from the pilot
participants:
  starts: {kind: schedule, per_period: [50, 50]}
outcomes:
  - name: job
    baseline: 0.2
    effect: {type: absolute, size: uplift}
    lag: {dist: fixed, periods: 2}
rate_card:
  prices: {job: 3500}   # DWP rate card
"""


def test_template_is_valid_and_small():
    data = edit.template("Mine")
    sc = spec.validate(data)
    assert sc.name == "Mine" and [o.name for o in sc.outcomes] == ["outcome_1"]
    text = edit.roundtrip_yaml(data)
    # only what differs from the defaults: no currency, period, costs or finance (all defaults)
    lines = text.splitlines()
    for default_key in ("currency:", "period:", "costs:", "finance:", "payment_lag_periods", "engagement"):
        assert not any(line.startswith(default_key) or line.strip().startswith(default_key) and "per_" not in line
                       for line in lines), default_key
    assert spec.loads(text).content_hash == sc.content_hash


def test_every_default_prior_is_valid():
    for kind in PRIOR_KINDS:
        data = edit.template()
        data["parameters"] = {"p": edit.default_prior(kind)}
        data["outcomes"][0]["baseline"] = "p" if kind in ("beta", "uniform", "triangular", "pert", "fixed") else 0.2
        spec.validate(data)
    with pytest.raises(UsageError, match="kinds: fixed"):
        edit.default_prior("gamma")


def test_from_indigo_reads_the_projects_rate_card():
    tables = indigo.load()
    cards = edit.indigo_rate_cards(tables)
    pid = cards["project_id"].iloc[0]
    data = edit.from_indigo(pid, tables)
    sc = spec.validate(data)
    rows = tables.rate_cards[(tables.rate_cards.project_id == pid) & (tables.rate_cards.price_per_outcome_local > 0)]
    assert sorted(sc.rate_card.prices.values()) == sorted(rows.price_per_outcome_local.astype(float))
    assert len(sc.outcomes) == len(rows) == cards["prices"].iloc[0]
    assert sc.currency == rows.currency.iloc[0]
    with pytest.raises(UsageError, match="no rate card"):
        edit.from_indigo("INDIGO-POJ-NONE", tables)


def test_rename_and_remove_outcome_keep_the_references():
    data = spec.to_dict(spec.load("scenarios/benchmark.yaml"))
    renamed = edit.rename_outcome(data, "job_entry", "first_job")
    sc = spec.validate(renamed)
    assert "first_job" in sc.rate_card.prices and sc.outcomes[1].requires == "first_job"
    removed = edit.remove_outcome(renamed, 0)
    sc = spec.validate(removed)
    assert [o.name for o in sc.outcomes] == ["job_sustained", "qualification"]
    assert "first_job" not in sc.rate_card.prices and sc.outcomes[0].requires is None


def test_remove_parameter_drops_its_correlations_and_spec_names_its_uses():
    data = spec.to_dict(spec.load("scenarios/benchmark.yaml"))
    data["correlations"] = [{"a": "job_entry_p0", "b": "job_entry_uplift", "rho": 0.3}]
    out = edit.remove_parameter(data, "job_entry_uplift")
    assert out["correlations"] == [] and "job_entry_uplift" not in out["parameters"]
    with pytest.raises(ScenarioError) as err:
        spec.validate(out)
    assert any(f.startswith("outcomes.0.effect.size") for f, _ in err.value.problems)


def test_roundtrip_keeps_comments_order_and_style():
    full = spec.to_dict(spec.loads(COMMENTED))
    new = copy.deepcopy(full)
    new["rate_card"]["prices"]["job"] = 4000.0
    new["parameters"]["uplift"]["sd"] = 0.05
    new["finance"]["sib"]["guarantee_share"] = 0.5
    out = edit.roundtrip_yaml(new, COMMENTED)
    assert out.splitlines()[0] == "# my scenario, written by hand"
    assert "# the title" in out and "# from the pilot" in out and "# DWP rate card" in out
    assert "prices: {job: 4000}" in out
    assert "uplift: {dist: normal, mean: 0.10, sd: 0.05}" in out  # 0.10 stays as written
    assert "finance:\n  sib:\n    guarantee_share: 0.5" in out  # only the change, not every default
    keys = [line.split(":")[0] for line in out.splitlines() if line and line[0].isalpha()]
    assert keys == ["name", "currency", "horizon_periods", "parameters", "participants", "outcomes", "rate_card",
                    "finance"]
    assert spec.loads(out).content_hash == spec.validate(new).content_hash
    # nothing changed: the text comes back as written
    assert edit.roundtrip_yaml(full, COMMENTED) == COMMENTED


def test_roundtrip_removes_and_adds_list_items():
    full = spec.to_dict(spec.loads(COMMENTED))
    new = copy.deepcopy(full)
    new["outcomes"].append(edit.new_outcome(["job"]))
    new["participants"]["starts"]["per_period"] = [50, 50, 25]
    out = edit.roundtrip_yaml(new, COMMENTED)
    assert "per_period: [50, 50, 25]" in out and "name: outcome_2" in out
    assert spec.loads(out).content_hash == spec.validate(new).content_hash
    new["outcomes"].pop()
    new.pop("parameters")
    new["outcomes"][0]["effect"]["size"] = 0.1
    out = edit.roundtrip_yaml(new, COMMENTED)
    assert "outcome_2" not in out and "uplift" not in out and "# DWP rate card" in out
    assert spec.loads(out).content_hash == spec.validate(new).content_hash


@pytest.mark.parametrize("name", ["benchmark", "homelessness_delivery", "rikers", "fair_chance_fund"])
def test_minimal_is_the_same_scenario_with_less_written(repo_root, name):
    sc = spec.load(repo_root / "scenarios" / f"{name}.yaml")
    full = spec.to_dict(sc)
    small = edit.minimal(full)
    assert spec.validate(small).content_hash == sc.content_hash
    assert len(str(small)) < len(str(full))


def test_every_indigo_rate_card_gives_a_valid_scenario():
    tables = indigo.load()
    cards = edit.indigo_rate_cards(tables)
    assert len(cards) >= 20
    for pid, n in zip(cards["project_id"], cards["prices"]):
        sc = spec.validate(edit.from_indigo(pid, tables))
        assert len(sc.rate_card.prices) == n and all(v > 0 for v in sc.rate_card.prices.values()), pid
        assert sc.currency and sc.currency.lower() not in ("nan", "<na>"), pid
