"""The declaration of every output (sibsim.outputs): the engine refuses what is not declared; one place for labels."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

import sibsim
from sibsim import engine, outputs
from sibsim import finance as fin
from sibsim.outputs import OutputError

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "scenarios" / "benchmark.yaml"


def test_a_layer_returning_an_undeclared_output_fails(monkeypatch):
    real = engine.per_trial

    def leaky(*a, **kw):
        m, ind = real(*a, **kw)
        m["mystery_metric"] = np.zeros_like(m["participants"])
        return m, ind

    monkeypatch.setattr(engine, "per_trial", leaky)
    with pytest.raises(OutputError, match="undeclared output 'mystery_metric'"):
        sibsim.simulate(BENCH, trials=50, seed=1)


def test_an_investor_output_under_a_model_without_investors_is_refused(monkeypatch):
    real = fin.cash_metrics

    def zero_investor(sc, cf, *, model="sib", **kw):
        m, ind = real(sc, cf, model=model, **kw)
        m.setdefault("investor_irr", np.zeros(len(m["commissioner_cost"])))  # the old habit: zero, not absent
        return m, ind

    monkeypatch.setattr(fin, "cash_metrics", zero_investor)
    with pytest.raises(OutputError, match="'investor_irr' for finance model 'pbr'; it is declared of sib only"):
        sibsim.simulate(BENCH, trials=50, seed=1, finance=("pbr",))


def test_a_model_output_reported_as_shared_or_twice_is_refused():
    sc = sibsim.load(BENCH)
    x = np.zeros(3)
    with pytest.raises(OutputError, match="belongs to one finance model"):
        outputs.check(sc, shared=({"commissioner_cost": x}, {}), models={})
    with pytest.raises(OutputError, match="shared by every model"):
        outputs.check(sc, shared=({}, {}), models={"sib": ({"outcome_payments": x}, {})})
    with pytest.raises(OutputError, match="declared as a indicator|declared as a metric"):
        outputs.check(sc, shared=({}, {}), models={"sib": ({}, {"commissioner_cost": x > 0})})
    with pytest.raises(OutputError, match="outcome 'no_such_outcome'"):
        outputs.check(sc, shared=({"additional_outcomes.no_such_outcome": x}, {}), models={})


@pytest.mark.parametrize("path", sorted((ROOT / "scenarios").glob("*.yaml")), ids=lambda p: p.stem)
def test_every_shipped_scenario_reports_exactly_the_declared_outputs(path):
    sc = sibsim.load(path)
    run = sibsim.simulate(sc, trials=5 if sc.delivery is not None else 20, seed=1,
                          finance=tuple(fin.MODELS))  # the engine checks every name on the way
    (sm, si), per = outputs.expected(sc, tuple(fin.MODELS))
    assert set(run.shared_metrics) == sm and set(run.shared_indicators) == si
    assert list(per) == list(run.finance_models)
    for name in run.finance_models:
        own = run.models[name]
        assert (set(own.metrics), set(own.indicators)) == per[name], name
        r = run.model(name)
        for k in [*r.metrics, *r.indicators]:
            assert outputs.unit(k) in outputs.UNITS, k
            assert "<" not in outputs.label(k) and "{" not in outputs.label(k), k
        assert r.has_investors == (name in outputs.HAS_INVESTORS), name


def test_the_declared_conditions_follow_the_scenario():
    from sibsim import spec

    data = spec.to_dict(sibsim.load(ROOT / "scenarios" / "utah_preschool.yaml"))
    (sm, si), per = outputs.expected(spec.validate(data))
    tranche = {k for k in per["sib"][0] if k.endswith("_irr") and k != "investor_irr"}
    assert tranche == {f"investor_{t['name']}_irr" for t in data["finance"]["sib"]["tranches"]}
    assert ("contract_cap_reached" in si) == (data["rate_card"].get("cap_total") is not None)
    data.pop("appraisal", None)
    (sm, si), per = outputs.expected(spec.validate(data))
    assert not any(k.startswith("vfm.") for k in si) and "commissioner_npv" not in per["sib"][0]


def test_labels_units_and_parties_come_from_the_declaration():
    assert outputs.label("investor_irr") == "Investor IRR (annual)"
    assert outputs.label("additional_outcomes.job_entry") == "Additional outcomes: job entry"
    assert outputs.label("investor_senior_irr") == "Investor tranche senior: IRR (annual)"
    assert outputs.unit("commissioner_cost") == "currency" and outputs.unit("insolvency") == "probability"
    assert outputs.party("public_cost") == "commissioner" and outputs.party("provider_min_cash") == "provider"
    groups = outputs.by_party(["investor_irr", "provider_surplus", "public_cost", "participants"])
    assert list(groups) == ["commissioner", "provider", "investor", "outcomes"]


@pytest.mark.parametrize("x, unit, text", [
    (1234567.4, "currency", "1,234,567"), (-0.3, "currency", "0"), (-1e-12, "share", "0.0%"),
    (0.1234, "probability", "12.3%"), (0.05, "rate_per_year", "5.0%"), (1.234, "multiple", "1.23x"),
    (float("nan"), "currency", "undefined"), (1e-7, None, "0.00"), (123456.0, "count", "123,456"), (11.0, "count", "11.0"),
    (2.5, "periods", "2.50"), (-2500.0, "currency", "-2,500"),
])
def test_numbers_for_people(x, unit, text):
    got = outputs.fmt(x, unit)
    assert got == text
    assert not re.search(r"\de[+-]\d", got)  # never scientific notation


def test_currency_symbol_and_no_minus_zero_with_a_symbol():
    assert outputs.fmt(-2500.0, "currency", symbol="£") == "-£2,500"
    assert outputs.fmt(-0.2, "currency", symbol="£") == "£0"


def test_the_flat_column_naming_and_the_format_1_reader_are_inverse_of_their_writers():
    assert outputs.split_column(outputs.column("pbr", "commissioner_cost")) == ("pbr", "commissioner_cost")
    assert outputs.split_column("additional_outcomes.job_entry") == (None, "additional_outcomes.job_entry")
    assert outputs.split_format1("pbr.provider_min_cash") == ("pbr", "provider_min_cash")
    assert outputs.split_format1("outcomes.job_entry") == (None, "outcomes.job_entry")


def test_flat_result_columns_are_formatted_by_the_unit_of_their_output():
    assert outputs.fmt_column("investor_irr_p50", 0.0712) == "7.1%"
    assert outputs.fmt_column("outcome_payments_mean", 1234567.8) == "1,234,568"
    assert outputs.fmt_column("insolvency_se", 0.0041) == "0.4%"
    assert outputs.fmt_column("pbr:commissioner_cost", 2.5e6) == "2,500,000"
    assert outputs.fmt_column("job_entry_uplift", 0.15) == "0.15"
