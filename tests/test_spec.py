"""Tests for sibsim.spec: loading, validation messages, round trips, hashing, with_params.

Every refusal is checked for what the user sees: the dotted field path in
``ScenarioError.problems`` and a message that says what was given and what is
allowed.
"""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path

import numpy as np
import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

import sibsim
from sibsim.dists import Fixed, Normal
from sibsim.errors import ScenarioError
from sibsim.spec import Scenario, canonical_json, content_hash, dumps, load, loads, to_dict, validate, with_params

ROOT = Path(__file__).resolve().parents[1]
SCENARIO_FILES = sorted((ROOT / "scenarios").glob("*.yaml")) + sorted((ROOT / "scenarios").glob("*.yml"))
BENCHMARK_PARAMS = [
    "cost_multiplier", "engagement", "job_entry_p0", "job_entry_uplift", "job_sustained_q0",
    "job_sustained_uplift", "qualification_p0", "qualification_uplift",
]


def benchmark_dict() -> dict:
    return yaml.safe_load((ROOT / "scenarios" / "benchmark.yaml").read_text())


def kitchen_sink() -> dict:
    """A scenario that touches every optional part of the format."""
    return {
        "name": "kitchen sink",
        "description": "every prior kind, Poisson starts, correlations, caps, discrete lags",
        "currency": "EUR",
        "period": "month",
        "horizon_periods": 36,
        "discount_rate_annual": 0.05,
        "parameters": {
            "plain": 0.25,
            "fixed": {"dist": "fixed", "value": 1.5},
            "volume": {"dist": "uniform", "low": 0.8, "high": 1.2},
            "uplift": {"dist": "triangular", "low": 0.0, "mode": 0.05, "high": 0.2},
            "unit_cost": {"dist": "pert", "low": 900, "mode": 1000, "high": 1500, "lam": 3},
            "effect": {"dist": "normal", "mean": 0.1, "sd": 0.05, "low": 0.0, "high": 0.3},
            "overrun": {"dist": "lognormal", "mean": 1.0, "sd": 0.2},
            "p0": {"dist": "beta", "mean": 0.3, "sd": 0.05},
            "engage": {"dist": "beta", "a": 8, "b": 2},
            "fee": {"dist": "empirical", "values": [100, 120, 150]},
        },
        "correlations": [{"a": "p0", "b": "effect", "rho": -0.3}],
        "participants": {
            "starts": {"kind": "poisson", "rate_per_period": [5, 10, 10, 10], "volume": "volume"},
            "max_participants": 30,
            "engagement": "engage",
            "payment_on": "engaged",
        },
        "outcomes": [
            {"name": "entry", "baseline": "p0", "effect": {"type": "relative", "size": "effect"},
             "lag": {"dist": "discrete", "probabilities": [0.5, 0.3, 0.2]}},
            {"name": "sustained", "requires": "entry", "baseline": 0.5, "effect": {"size": "uplift"},
             "lag": {"dist": "fixed", "periods": 3}},
            {"name": "reoffence", "direction": "reduce", "baseline": 0.4, "effect": {"size": 0.1},
             "lag": {"dist": "uniform", "low": 1, "high": 6}},
        ],
        "rate_card": {
            "prices": {"entry": 2000, "sustained": "fee", "reoffence": 500},
            "payment_lag_periods": 2,
            "cap_per_participant": 5000,
            "cap_per_outcome": {"entry": 25},
            "cap_total": 80000,
            "co_payer_share": 0.3,
        },
        "costs": {"fixed_per_period": 1000, "fixed_periods": [0, 11], "setup": 5000, "per_start": 100,
                  "per_engaged": "unit_cost", "per_engaged_per_period": 50, "service_periods": 3,
                  "multiplier": "overrun"},
        "finance": {"model": "sib", "sib": {"capital_commitment": 100000, "drawdown": "upfront",
                                            "management_fee_per_period": 200, "return_cap_annual": 0.1,
                                            "excess_to": "provider", "guarantee_share": 0.5}},
    }


def problems_of(data) -> list[tuple[str, str]]:
    with pytest.raises(ScenarioError) as info:
        validate(data)
    return info.value.problems


def problem_at(problems, field: str) -> str:
    """The message for ``field``; fails with every problem listed if there is none."""
    for f, msg in problems:
        if f == field:
            return msg
    pytest.fail(f"no problem at {field!r}; got {problems}")


def set_path(d: dict, path: str, value) -> dict:
    d = copy.deepcopy(d)
    *head, last = [int(p) if p.isdigit() else p for p in path.split(".")]
    t = d
    for k in head:
        t = t[k]
    t[last] = value
    return d


# --------------------------------------------------------------------------
# Every scenario shipped validates
# --------------------------------------------------------------------------


def test_there_are_scenarios():
    assert ROOT / "scenarios" / "benchmark.yaml" in SCENARIO_FILES


@pytest.mark.parametrize("path", SCENARIO_FILES, ids=lambda p: p.name)
def test_every_scenario_file_loads_and_validates(path):
    sc = load(path)
    assert isinstance(sc, Scenario)
    assert sc == loads(path.read_text()) == sibsim.load(str(path))
    assert sc == validate(yaml.safe_load(path.read_text()))


def test_benchmark_matches_benchmark_md():
    sc = load(ROOT / "scenarios" / "benchmark.yaml")
    assert sorted(sc.parameters) == BENCHMARK_PARAMS
    assert [o.name for o in sc.outcomes] == ["job_entry", "job_sustained", "qualification"]
    assert sc.period == "quarter" and sc.periods_per_year == 4 and sc.horizon_periods == 24
    assert list(sc.participants.starts.per_period) == [100] * 10
    assert sc.rate_card.prices == {"job_entry": 3500, "job_sustained": 4000, "qualification": 1000}
    assert sc.priors["job_entry_uplift"] == Normal(mean=0.10, sd=0.04)


def test_kitchen_sink_validates():
    sc = validate(kitchen_sink())
    assert sc.priors["plain"] == Fixed(value=0.25)
    assert sc.outcomes[0].lag.values == [1, 2, 3]


# --------------------------------------------------------------------------
# Round trips, canonical JSON, content hash
# --------------------------------------------------------------------------


@pytest.mark.parametrize("make", [benchmark_dict, kitchen_sink])
def test_dumps_loads_round_trip(make):
    sc = validate(make())
    again = loads(dumps(sc))
    assert again == sc
    assert canonical_json(again) == canonical_json(sc)
    assert again.content_hash == sc.content_hash
    assert validate(to_dict(sc)) == sc


@pytest.mark.parametrize("make", [benchmark_dict, kitchen_sink])
def test_canonical_json_is_sorted_compact_json_and_stable(make):
    sc = validate(make())
    text = canonical_json(sc)
    assert text == sc.canonical_json() == canonical_json(validate(make()))
    data = json.loads(text)
    assert json.dumps(data, sort_keys=True, separators=(",", ":")) == text
    assert validate(data) == sc
    assert re.fullmatch(r"[0-9a-f]{16}", content_hash(sc))
    assert content_hash(sc) == sc.content_hash == content_hash(validate(make()))


def test_hash_ignores_key_order_and_number_spelling():
    d = benchmark_dict()
    shuffled = {k: d[k] for k in reversed(list(d))}
    shuffled["rate_card"] = {k: d["rate_card"][k] for k in reversed(list(d["rate_card"]))}
    text = (ROOT / "scenarios" / "benchmark.yaml").read_text().replace("3500", "3500.0").replace("0.80", "0.8")
    h = validate(d).content_hash
    assert validate(shuffled).content_hash == h
    assert loads(text).content_hash == h


@pytest.mark.parametrize(
    "path, value",
    [
        ("name", "Benchmark employment SIB (copy)"),
        ("rate_card.prices.job_entry", 3600),
        ("parameters.job_entry_uplift.sd", 0.05),
        ("outcomes.1.lag.periods", 3),
        ("horizon_periods", 25),
        ("discount_rate_annual", 0.03),
        ("participants.payment_on", "engaged"),
    ],
)
def test_a_different_scenario_has_a_different_hash(path, value):
    base = validate(benchmark_dict())
    other = validate(set_path(benchmark_dict(), path, value))
    assert other != base
    assert other.content_hash != base.content_hash
    assert canonical_json(other) != canonical_json(base)


def test_equal_scenarios_with_one_hash_give_the_same_run():
    d = benchmark_dict()
    d["correlations"] = [{"a": "engagement", "b": "cost_multiplier", "rho": 0.5}]
    sc = validate(d)
    rebuilt = validate(json.loads(sc.canonical_json()))  # what a stored run keeps
    assert rebuilt == sc and rebuilt.content_hash == sc.content_hash
    a = sibsim.simulate(sc, trials=300, seed=4)
    b = sibsim.simulate(rebuilt, trials=300, seed=4)
    for k in a.params:
        np.testing.assert_array_equal(a.params[k], b.params[k], err_msg=k)


@settings(max_examples=40, deadline=None, derandomize=True)
@given(
    low=st.floats(-1e9, 1e9, allow_nan=False, allow_subnormal=False),
    width=st.floats(1e-6, 1e9, allow_nan=False),
    price=st.floats(0, 1e7, allow_nan=False, allow_subnormal=False),
    name=st.text(min_size=1, max_size=30).filter(lambda s: s.strip() == s and s),
)
def test_round_trip_holds_for_any_numbers_and_names(low, width, price, name):
    d = benchmark_dict()
    d["name"] = name
    d["parameters"]["volume_noise"] = {"dist": "uniform", "low": low, "high": low + width}
    d["rate_card"]["prices"]["qualification"] = price
    sc = validate(d)
    assert loads(dumps(sc)) == sc
    assert validate(json.loads(canonical_json(sc))).content_hash == sc.content_hash


# --------------------------------------------------------------------------
# Refusals: field path and message
# --------------------------------------------------------------------------


def test_unknown_top_level_key():
    msg = problem_at(problems_of({**benchmark_dict(), "bogus": 1}), "bogus")
    assert "unknown field" in msg


@pytest.mark.parametrize(
    "where, field",
    [
        ("costs", "costs.bogus"),
        ("rate_card", "rate_card.bogus"),
        ("participants", "participants.bogus"),
        ("outcomes.0", "outcomes.0.bogus"),
        ("outcomes.1.lag", "outcomes.1.lag.bogus"),
        ("finance.sib", "finance.sib.bogus"),
        ("participants.starts", "participants.starts.bogus"),
        ("parameters.job_entry_uplift", "parameters.job_entry_uplift.bogus"),
    ],
)
def test_unknown_nested_key_is_reported_with_its_path(where, field):
    d = benchmark_dict()
    t = d
    for k in where.split("."):
        t = t[int(k)] if k.isdigit() else t[k]
    t["bogus"] = 1
    assert "unknown field" in problem_at(problems_of(d), field)


def test_field_path_keeps_a_parameter_named_like_a_prior_kind():
    d = benchmark_dict()
    d["parameters"]["beta"] = {"dist": "uniform", "low": 1.0, "high": 0.0}
    problems = problems_of(d)
    assert "must be greater than low" in problem_at(problems, "parameters.beta")


@pytest.mark.parametrize(
    "path, value, field, words",
    [
        ("horizon_periods", "abc", "horizon_periods", ["valid integer", "'abc'"]),
        ("horizon_periods", 0, "horizon_periods", ["greater than 0", "got 0"]),
        ("horizon_periods", 601, "horizon_periods", ["less than or equal to 600", "got 601"]),
        ("period", "week", "period", ["'month', 'quarter' or 'year'", "'week'"]),
        ("participants.payment_on", "some", "participants.payment_on", ["'all' or 'engaged'", "'some'"]),
        ("outcomes", "job_entry", "outcomes", ["valid list", "'job_entry'"]),
        ("outcomes", [], "outcomes", ["at least 1 item"]),
        ("rate_card.payment_lag_periods", -1, "rate_card.payment_lag_periods", ["greater than or equal to 0", "got -1"]),
        ("rate_card.prices", [3500], "rate_card.prices", ["valid dictionary"]),
        ("outcomes.0.lag", {"dist": "uniform", "low": 4, "high": 1}, "outcomes.0.lag", ["low <= high", "low=4, high=1"]),
        ("outcomes.0.lag", {"dist": "discrete", "probabilities": [0.5, 0.6]}, "outcomes.0.lag", ["sum to 1", "[0.5, 0.6]"]),
        ("outcomes.0.name", "job entry", "outcomes.0.name", ["pattern", "'job entry'"]),
        ("parameters.engagement", "abc", "parameters.engagement", ["'abc'"]),
        ("parameters.engagement", {"dist": "gamma", "a": 1}, "parameters.engagement", ["'gamma'", "'beta'", "'pert'"]),
        ("parameters.engagement", {"dist": "beta", "mean": 0.5, "sd": 0.6}, "parameters.engagement",
         ["sd must be below", "got 0.6"]),
        ("participants.starts.per_period", [10, -1], "participants.starts.per_period", [">= 0", "got -1"]),
        ("correlations", [{"a": "engagement", "b": "job_entry_p0", "rho": 1.5}], "correlations.0.rho",
         ["less than or equal to 1", "got 1.5"]),
        ("discount_rate_annual", 2, "discount_rate_annual", ["less than or equal to 1", "got 2"]),
    ],
)
def test_wrong_types_and_values_say_what_was_given_and_what_is_allowed(path, value, field, words):
    msg = problem_at(problems_of(set_path(benchmark_dict(), path, value)), field)
    for w in words:
        assert w in msg, (w, msg)


@pytest.mark.parametrize("field", ["outcomes.0.baseline", "outcomes.2.effect.size", "participants.engagement",
                                   "costs.per_engaged", "rate_card.cap_total", "finance.sib.capital_commitment"])
def test_a_reference_to_an_undefined_parameter_lists_the_defined_ones(field):
    msg = problem_at(problems_of(set_path(benchmark_dict(), field, "job_entry_upflit")), field)
    assert "'job_entry_upflit' is not a parameter" in msg
    assert "defined parameters: " + ", ".join(BENCHMARK_PARAMS) in msg


def test_undefined_parameter_in_a_scenario_without_parameters():
    d = benchmark_dict()
    d["parameters"] = {}
    msg = problem_at(problems_of(d), "outcomes.0.baseline")
    assert "(none defined)" in msg


def test_a_correlation_of_an_undefined_parameter():
    d = benchmark_dict()
    d["correlations"] = [{"a": "engagement", "b": "nope", "rho": 0.3}]
    msg = problem_at(problems_of(d), "correlations.0.b")
    assert "'nope' is not a parameter" in msg and "engagement" in msg


def test_a_price_for_an_unknown_outcome():
    d = benchmark_dict()
    d["rate_card"]["prices"]["job_exit"] = 100
    msg = problem_at(problems_of(d), "rate_card.prices.job_exit")
    assert "'job_exit' is not an outcome" in msg
    assert "job_entry, job_sustained, qualification" in msg


def test_a_volume_cap_for_an_unknown_outcome():
    d = benchmark_dict()
    d["rate_card"]["cap_per_outcome"] = {"nope": 10}
    assert "'nope' is not an outcome" in problem_at(problems_of(d), "rate_card.cap_per_outcome.nope")


def test_a_prerequisite_must_be_listed_before():
    d = benchmark_dict()
    d["outcomes"][1]["requires"] = "qualification"
    msg = problem_at(problems_of(d), "outcomes.1.requires")
    assert "'qualification' must be listed before 'job_sustained'" in msg


def test_a_prerequisite_must_exist():
    d = benchmark_dict()
    d["outcomes"][1]["requires"] = "job_start"
    msg = problem_at(problems_of(d), "outcomes.1.requires")
    assert "'job_start' is not an outcome" in msg and "job_entry" in msg


def test_an_outcome_cannot_require_itself():
    d = benchmark_dict()
    d["outcomes"][0]["requires"] = "job_entry"
    assert "must be listed before" in problem_at(problems_of(d), "outcomes.0.requires")


def test_duplicate_outcome_names():
    d = benchmark_dict()
    d["outcomes"][2]["name"] = "job_entry"
    msg = problem_at(problems_of(d), "outcomes")
    assert "unique" in msg and "repeated: job_entry" in msg


@pytest.mark.parametrize(
    "field, value",
    [
        ("outcomes.0.baseline", 1.5),
        ("outcomes.2.baseline", -0.1),
        ("participants.engagement", 1.01),
        ("participants.engagement", -0.2),
        ("rate_card.co_payer_share", 2),
        ("finance.sib.guarantee_share", -0.5),
    ],
)
def test_probabilities_given_as_numbers_must_lie_in_0_1(field, value):
    msg = problem_at(problems_of(set_path(benchmark_dict(), field, value)), field)
    assert "must be between 0 and 1" in msg and f"got {value}" in msg


@pytest.mark.parametrize("field", ["rate_card.prices.job_entry", "costs.per_engaged", "rate_card.cap_total"])
def test_money_given_as_numbers_must_not_be_negative(field):
    msg = problem_at(problems_of(set_path(benchmark_dict(), field, -5)), field)
    assert ">= 0" in msg and "amount of money" in msg and "got -5" in msg


@pytest.mark.parametrize("field", ["outcomes.0.baseline", "participants.engagement"])
def test_a_probability_given_as_nan_is_refused(field):
    d = set_path(benchmark_dict(), field, float("nan"))
    problem_at(problems_of(d), field)


def test_poisson_starts_need_max_participants():
    d = benchmark_dict()
    d["participants"]["starts"] = {"kind": "poisson", "rate_per_period": [50, 50]}
    msg = problem_at(problems_of(d), "participants")
    assert "Poisson starts need max_participants" in msg
    d["participants"]["max_participants"] = 100
    assert validate(d).participants.max_participants == 100


def test_correlations_that_are_not_positive_definite():
    d = benchmark_dict()
    d["correlations"] = [
        {"a": "engagement", "b": "job_entry_p0", "rho": 0.9},
        {"a": "job_entry_p0", "b": "qualification_p0", "rho": 0.9},
        {"a": "engagement", "b": "qualification_p0", "rho": -0.9},
    ]
    assert "positive-definite" in problem_at(problems_of(d), "correlations")
    d["correlations"] = [{"a": "engagement", "b": "job_entry_p0", "rho": 1.0}]  # singular
    assert "positive-definite" in problem_at(problems_of(d), "correlations")


def test_a_parameter_cannot_be_correlated_with_itself():
    d = benchmark_dict()
    d["correlations"] = [{"a": "engagement", "b": "engagement", "rho": 0.5}]
    problem_at(problems_of(d), "correlations.0")


# --------------------------------------------------------------------------
# Text and files
# --------------------------------------------------------------------------


@pytest.mark.parametrize("text, kind", [("- a\n- b\n", "list"), ("just words\n", "str"), ("", "NoneType"),
                                        ("42\n", "int")])
def test_yaml_that_is_not_a_mapping(text, kind):
    with pytest.raises(ScenarioError) as info:
        loads(text)
    assert info.value.problems == [("", f"a scenario is a mapping of fields; got {kind}")]


@pytest.mark.parametrize("text", ["name: [unclosed\n", "a: b: c\n", "name: x\n\tbad: tab\n", "{"])
def test_invalid_yaml(text):
    with pytest.raises(ScenarioError) as info:
        loads(text, source="s.yaml")
    (field, msg), = info.value.problems
    assert field == "" and msg.startswith("not valid YAML:")
    assert "line" in msg and "\n" not in msg
    assert str(info.value).startswith("s.yaml: invalid scenario: not valid YAML")


def test_oversized_text_is_refused_before_parsing():
    text = "name: x\n" + "# padding\n" * 100_001
    with pytest.raises(ScenarioError) as info:
        loads(text)
    assert info.value.problems == [("", "file is larger than 1,000,000 bytes")]


def test_oversized_file_is_refused(tmp_path):
    p = tmp_path / "big.yaml"
    p.write_text((ROOT / "scenarios" / "benchmark.yaml").read_text() + "#" * 1_000_001)
    with pytest.raises(ScenarioError) as info:
        load(p)
    assert info.value.problems == [("", "file is larger than 1,000,000 bytes")]
    assert str(p) in str(info.value)


def test_missing_and_non_utf8_files(tmp_path):
    with pytest.raises(ScenarioError, match="no such file") as info:
        load(tmp_path / "nope.yaml")
    assert info.value.source == str(tmp_path / "nope.yaml")
    p = tmp_path / "latin1.yaml"
    p.write_bytes("name: caf\xe9\n".encode("latin-1"))
    with pytest.raises(ScenarioError, match="not UTF-8"):
        load(p)


@pytest.mark.parametrize(
    "template",
    [
        '!!python/object/apply:os.system ["touch {marker}"]\n',
        'name: !!python/object/apply:os.system ["touch {marker}"]\n',
        'name: !!python/object/apply:subprocess.check_call [["touch", "{marker}"]]\n',
        'name: !!python/object/new:subprocess.Popen [["touch", "{marker}"]]\n',
        'name: !!python/name:os.system\n',
    ],
)
def test_hostile_yaml_is_refused_by_the_safe_loader_and_nothing_runs(tmp_path, template):
    marker = tmp_path / "pwned"
    text = template.format(marker=marker)
    with pytest.raises(ScenarioError) as info:
        loads(text)
    (field, msg), = info.value.problems
    assert field == "" and msg.startswith("not valid YAML") and "could not determine a constructor" in msg
    f = tmp_path / "hostile.yaml"
    f.write_text(text)
    with pytest.raises(ScenarioError):
        load(f)
    assert not marker.exists()


def test_error_text_names_source_field_and_every_problem():
    d = benchmark_dict()
    d["outcomes"][0]["baseline"] = 2
    d["costs"]["bogus"] = 1
    with pytest.raises(ScenarioError) as info:
        validate(d, source="mine.yaml")
    text = str(info.value)
    assert text.startswith("mine.yaml: invalid scenario:")
    assert "costs.bogus: unknown field" in text
    assert isinstance(info.value, ValueError) and isinstance(info.value, sibsim.SibsimError)


# --------------------------------------------------------------------------
# with_params and immutability
# --------------------------------------------------------------------------


def test_with_params_fixes_a_parameter_and_leaves_the_others_draws_alone():
    sc = validate(benchmark_dict())
    fixed = sc.with_params(job_entry_uplift=0.07)
    assert fixed.priors["job_entry_uplift"] == Fixed(value=0.07)
    assert with_params(sc, {"job_entry_uplift": 0.07}) == fixed
    a = sibsim.simulate(sc, trials=300, seed=8)
    b = sibsim.simulate(fixed, trials=300, seed=8)
    assert np.all(b.params["job_entry_uplift"] == 0.07)
    assert np.std(a.params["job_entry_uplift"]) > 0
    for k in sc.parameters:
        if k != "job_entry_uplift":
            np.testing.assert_array_equal(a.params[k], b.params[k], err_msg=k)


def test_with_params_accepts_several_and_numeric_strings():
    sc = validate(benchmark_dict())
    new = sc.with_params(engagement=1, cost_multiplier="1.2")
    assert new.priors["engagement"] == Fixed(value=1.0)
    assert new.priors["cost_multiplier"] == Fixed(value=1.2)


def test_with_params_unknown_name_lists_the_parameters():
    sc = validate(benchmark_dict())
    with pytest.raises(ScenarioError) as info:
        sc.with_params(job_entry_upflit=0.1, engagement=0.5)
    (field, msg), = info.value.problems
    assert field == "parameters.job_entry_upflit"
    assert "'job_entry_upflit' is not a parameter" in msg
    assert "parameters: " + ", ".join(BENCHMARK_PARAMS) in msg


def test_with_params_value_must_be_a_number():
    sc = validate(benchmark_dict())
    with pytest.raises(ScenarioError) as info:
        sc.with_params(engagement="high")
    assert info.value.problems == [("parameters.engagement", "value must be a number; got 'high'")]


def test_with_params_leaves_the_original_unchanged():
    sc = validate(benchmark_dict())
    before_json, before_hash = sc.canonical_json(), sc.content_hash
    new = sc.with_params(job_entry_uplift=0.0)
    assert sc.priors["job_entry_uplift"] == Normal(mean=0.10, sd=0.04)
    assert sc.canonical_json() == before_json and sc.content_hash == before_hash
    assert new.content_hash != before_hash
    assert sc.with_params() == sc


@pytest.mark.parametrize(
    "target, attr, value",
    [
        (lambda sc: sc, "name", "changed"),
        (lambda sc: sc, "parameters", {}),
        (lambda sc: sc.outcomes[0], "baseline", 0.5),
        (lambda sc: sc.rate_card, "cap_total", 1.0),
        (lambda sc: sc.participants.starts, "per_period", [1]),
        (lambda sc: sc.priors["engagement"], "sd", 0.1),
    ],
    ids=["name", "parameters", "outcome", "rate_card", "starts", "prior"],
)
def test_scenarios_are_frozen(target, attr, value):
    sc = validate(benchmark_dict())
    with pytest.raises(ValidationError, match="frozen"):
        setattr(target(sc), attr, value)
    assert sc == validate(benchmark_dict())


def test_scenarios_cannot_be_changed_through_their_containers():
    sc = validate(benchmark_dict())
    h = sc.content_hash
    with pytest.raises(TypeError):
        sc.parameters["engagement"] = 0.1
    with pytest.raises((TypeError, AttributeError)):
        sc.outcomes.append(sc.outcomes[0])
    assert sc.content_hash == h
    hash(sc)


# ---------------------------------------------------------------- declared uses (spec.base.Use)


def test_a_new_field_adopts_a_use_by_its_type_alone():
    """How another section declares what its numbers must be: the generic mechanism, on a throwaway model."""
    from typing import Annotated

    from sibsim.spec.base import Money, Probability, Use, Value, _M, iter_uses

    class Turnover(_M):
        rate: Probability = 0.0
        cost: Money = 0.0
        per_type: dict[str, Annotated[Value, Use("a count", 0, 10)]] = {}
        kind: str = "flat"

        def refine_use(self, field, use):
            return Use("a small probability", 0, 0.5) if field == "rate" and self.kind == "capped" else use

    t = Turnover(rate="churn", cost=12.0, per_type={"a": "n", "b": 3.0})
    found = {".".join(map(str, p)): (u.what, v) for p, u, v in iter_uses(t)}
    assert found == {"rate": ("a probability", "churn"), "cost": ("an amount of money", 12.0),
                     "per_type.a": ("a count", "n"), "per_type.b": ("a count", 3.0)}
    with pytest.raises(ValidationError, match="must be between 0 and 1; got 1.5 \\(a probability\\)"):
        Turnover(rate=1.5)
    with pytest.raises(ValidationError, match="a count"):
        Turnover(per_type={"a": 11})
    with pytest.raises(ValidationError, match="yes/no"):
        Turnover(cost=True)
    with pytest.raises(ValidationError, match="finite"):
        Turnover(cost=float("inf"))
    capped = Turnover(rate=0.7, kind="capped")  # a refined use is checked by the scenario (spec.uses)
    assert [u.what for p, u, v in iter_uses(capped) if p == ("rate",)] == ["a small probability"]


def test_every_check_is_in_the_type_and_one_range_check_serves_every_section():
    import inspect

    from sibsim.spec import delivery, finance, load as load_mod, measure

    for mod in (delivery, finance, load_mod, measure):
        src = inspect.getsource(mod)
        assert "def _number(" not in src and "def ref(" not in src and "def _values(" not in src
    d = benchmark_dict()
    d["rate_card"]["prices"]["job_entry"] = -3500
    with pytest.raises(ScenarioError, match="rate_card.prices.job_entry: must be >= 0; got -3500"):
        Scenario.model_validate(d)
