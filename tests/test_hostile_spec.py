"""Hostile input to scenarios: every bad input is refused with a message naming field, value and allowed range.

Hand-made cases for each class of issue 17 (values against their uses,
non-finite and oversized numbers, YAML that is not what it seems), cases
generated from every numeric field of every shipped scenario, and
property-based mutation (hypothesis) of every shipped scenario: a mutation is
either refused by the library's validation error (``ScenarioError``, each
problem naming a field) or it simulates without NaN costs. A few cases go
through the command line (in process, and two in a real process) to check
exit status 2 with one line and no traceback.
"""

from __future__ import annotations

import copy
from contextlib import nullcontext
import json
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import sibsim
from sibsim import spec
from sibsim.dists import Fixed, Normal
from sibsim.engine import _check_int, sample_params
from sibsim.errors import ScenarioError, SibsimError, UsageError
from sibsim.spec.base import PROBABILITY, Use, iter_uses
from sibsim.spec.limits import TOLERANCE
from sibsim.spec.model import Scenario
from sibsim.spec.uses import mass_outside, prior_problem, uses_of

from helpers import cli

ROOT = Path(__file__).resolve().parents[1]
SHIPPED = sorted((ROOT / "scenarios").glob("*.yaml"))
NAMES = [p.stem for p in SHIPPED]
BENCH = ROOT / "scenarios" / "benchmark.yaml"


def raw(name: str = "benchmark") -> dict:
    return yaml.safe_load((ROOT / "scenarios" / f"{name}.yaml").read_text())


def problems(data) -> list[tuple[str, str]]:
    """The problems spec reports for ``data`` (the test fails if it is accepted)."""
    with pytest.raises(ScenarioError) as info:
        spec.validate(data)
    probs = info.value.problems
    assert probs and all(isinstance(f, str) and m for f, m in probs), probs
    return probs


def problem_at(data, field: str, *words: str) -> str:
    """The message for ``field``, which must contain ``words``."""
    probs = problems(data)
    msgs = [m for f, m in probs if f == field]
    assert msgs, (field, probs)
    for w in words:
        assert w in msgs[0], (w, msgs[0])
    return msgs[0]


def get(d, path):
    for p in path:
        d = d[p]
    return d


def put(d, path, v):
    for p in path[:-1]:
        d = d[p]
    d[path[-1]] = v


def numeric_leaves(d, path=()):
    """Paths of every number (not a yes/no) in a plain scenario dict."""
    if isinstance(d, dict):
        for k, v in d.items():
            yield from numeric_leaves(v, (*path, k))
    elif isinstance(d, list):
        for i, v in enumerate(d):
            yield from numeric_leaves(v, (*path, i))
    elif isinstance(d, (int, float)) and not isinstance(d, bool):
        yield path


def dotted(path) -> str:
    return ".".join(map(str, path))


# ---------------------------------------------------------------- 1. values against their uses

USE_CASES = [
    # (parameters to set, field path to point at the parameter, value, words in the message at parameters.<name>)
    ({"job_entry_p0": 5.0}, None, "parameters.job_entry_p0", ["fixed at 5", "probability", "outcomes.0.baseline",
                                                               "between 0 and 1"]),
    ({"engagement": -2.0}, None, "parameters.engagement", ["fixed at -2", "participants.engagement"]),
    ({"cost_multiplier": -10.0}, None, "parameters.cost_multiplier", ["fixed at -10", "multiplier",
                                                                      "costs.multiplier", ">= 0"]),
    ({"job_entry_p0": 1.5}, None, "parameters.job_entry_p0", ["fixed at 1.5", "probability"]),
    ({"job_entry_uplift": 1.5}, None, "parameters.job_entry_uplift", ["absolute effect", "between -1 and 1"]),
    ({"pr": -3500.0}, ("rate_card", "prices", "job_entry"), "parameters.pr",
     ["fixed at -3500", "amount of money", "rate_card.prices.job_entry", ">= 0"]),
    ({"cs": 3.0}, ("rate_card", "co_payer_share"), "parameters.cs", ["fixed at 3", "share", "between 0 and 1"]),
    ({"cap": -1.0}, ("rate_card", "cap_total"), "parameters.cap", ["amount of money"]),
    ({"setup": -5.0}, ("costs", "setup"), "parameters.setup", ["amount of money", "costs.setup"]),
    ({"capital": -1.0}, ("finance", "sib", "capital_commitment"), "parameters.capital",
     ["finance.sib.capital_commitment"]),
    ({"g": 1.2}, ("finance", "sib", "guarantee_share"), "parameters.g", ["share", "finance.sib.guarantee_share"]),
    ({"rc": 2.0}, ("finance", "sib", "return_cap_annual"), "parameters.rc", ["annual rate"]),
    ({"fee": -0.1}, ("finance", "sib", "management_fee_per_period"), "parameters.fee", ["amount of money"]),
    ({"job_entry_p0": {"dist": "uniform", "low": -0.1, "high": 0.5}}, None, "parameters.job_entry_p0",
     ["uniform", "draws values from -0.1 to 0.5", "probability"]),
    ({"job_entry_p0": {"dist": "triangular", "low": 0.1, "mode": 0.5, "high": 1.2}}, None, "parameters.job_entry_p0",
     ["1.2", "probability"]),
    ({"job_entry_p0": {"dist": "pert", "low": -1, "mode": 0.2, "high": 0.5}}, None, "parameters.job_entry_p0",
     ["probability"]),
    ({"job_entry_p0": {"dist": "empirical", "values": [0.1, 0.2, 1.4]}}, None, "parameters.job_entry_p0",
     ["takes the value 1.4"]),
    ({"job_entry_p0": {"dist": "lognormal", "mean": 0.5, "sd": 0.5}}, None, "parameters.job_entry_p0",
     ["lognormal", "of its draws outside", "0.1%"]),
    ({"job_entry_p0": {"dist": "normal", "mean": 0.2, "sd": 0.1}}, None, "parameters.job_entry_p0",
     ["2.28%", "clipped"]),
    ({"job_entry_p0": {"dist": "normal", "mean": 0.5, "sd": 0.1, "low": -0.5, "high": 0.9}}, None,
     "parameters.job_entry_p0", ["draws values from -0.5 to 0.9"]),
    ({"cost_multiplier": {"dist": "normal", "mean": 1, "sd": 1}}, None, "parameters.cost_multiplier",
     ["multiplier", "15.87%"]),
    ({"engagement": {"dist": "uniform", "low": 0.5, "high": 2}}, None, "parameters.engagement", ["probability"]),
]


@pytest.mark.parametrize("params, point, field, words", USE_CASES)
def test_a_parameter_is_checked_against_every_use(params, point, field, words):
    d = raw()
    d["parameters"].update(params)
    if point is not None:
        put(d, point, next(iter(params)))
    problem_at(d, field, *words)


def test_the_same_parameter_used_twice_is_checked_against_both_uses():
    d = raw()
    d["parameters"]["x"] = 50.0  # a fine price, not a fine probability
    d["rate_card"]["prices"]["job_entry"] = "x"
    d["outcomes"][0]["baseline"] = "x"
    msgs = [m for f, m in problems(d) if f == "parameters.x"]
    assert len(msgs) == 1 and "outcomes.0.baseline" in msgs[0]
    d["parameters"]["x"] = 0.5
    sc = spec.validate(d)
    assert sc.parameter_bounds["x"] == (0, 1)  # the intersection of both uses


@pytest.mark.parametrize("setter, field, words", [
    (lambda d: d["rate_card"]["prices"].update(job_entry=-3500), "rate_card.prices.job_entry", [">= 0", "-3500"]),
    (lambda d: d["rate_card"].update(co_payer_share=1.5), "rate_card.co_payer_share", ["between 0 and 1", "1.5"]),
    (lambda d: d["rate_card"].update(cap_total=2e13), "rate_card.cap_total", ["at most 1,000,000,000,000"]),
    (lambda d: d["participants"].update(engagement=1.01), "participants.engagement", ["probability"]),
    (lambda d: d["outcomes"][0].update(baseline=-0.1), "outcomes.0.baseline", ["probability", "-0.1"]),
    (lambda d: d["outcomes"][0]["effect"].update(size=1.5), "outcomes.0.effect.size",
     ["between -1 and 1", "absolute effect"]),
    (lambda d: d["outcomes"][0].update(direction="reduce", effect={"type": "relative", "size": 1.5}),
     "outcomes.0.effect.size", ["<= 1", "relative reduction"]),
    (lambda d: d["outcomes"][0].update(effect={"type": "relative", "size": -1.5}), "outcomes.0.effect.size",
     [">= -1", "relative increase"]),
    (lambda d: d["costs"].update(per_engaged=-1), "costs.per_engaged", [">= 0"]),
    (lambda d: d["costs"].update(multiplier=5000), "costs.multiplier", ["at most 1000", "5000"]),
    (lambda d: d["rate_card"]["prices"].update(job_entry="nope"), "rate_card.prices.job_entry",
     ["'nope' is not a parameter", "job_entry_p0"]),
    (lambda d: d["costs"].update(setup="missing"), "costs.setup", ["not a parameter"]),
    (lambda d: d["finance"].update(sib={"guarantee_share": 2}), "finance.sib.guarantee_share", ["between 0 and 1"]),
    (lambda d: d["finance"].update(sib={"capital_commitment": "ghost"}), "finance.sib.capital_commitment",
     ["not a parameter"]),
])
def test_numbers_given_directly_are_checked_against_their_use(setter, field, words):
    d = raw()
    setter(d)
    problem_at(d, field, *words)


def test_relative_effects_are_allowed_beyond_one_in_the_beneficial_direction():
    d = raw()
    d["outcomes"][0]["effect"] = {"type": "relative", "size": 1.5}  # increase by 150%: fine
    spec.validate(d)


def test_model_validate_checks_everything_itself():
    """Issue 9 item 5: Scenario.model_validate used to skip the cross-field checks."""
    d = raw()
    d["rate_card"]["prices"]["job_entry"] = -3500
    with pytest.raises(ScenarioError, match="rate_card.prices.job_entry"):
        Scenario.model_validate(d)
    d = raw()
    d["rate_card"]["prices"]["job_entry"] = "nope"
    with pytest.raises(ScenarioError, match="'nope' is not a parameter"):
        Scenario.model_validate(d)
    d = raw()
    d["parameters"]["pr"] = -3500.0
    d["rate_card"]["prices"]["job_entry"] = "pr"
    with pytest.raises(ScenarioError, match="parameters.pr"):
        Scenario.model_validate(d)
    assert isinstance(Scenario.model_validate(raw()), Scenario)


def _models(ann):
    import typing

    from pydantic import BaseModel

    if isinstance(ann, type) and issubclass(ann, BaseModel):
        yield ann
    for a in typing.get_args(ann):
        if not isinstance(a, (str, int, float)):
            yield from _models(a)


def test_every_field_that_may_name_a_parameter_declares_its_use():
    """A field typed ``Value`` (a number or a parameter name) must say what it is used as (spec.base.Use)."""
    from sibsim.spec.base import ParamName, _items_ann, _scalar_use

    def names_a_parameter(ann) -> bool:
        import typing

        return ann is ParamName or any(names_a_parameter(a) for a in typing.get_args(ann)
                                       if not isinstance(a, (str, int, float)))

    seen, todo, missing = set(), [Scenario], []
    while todo:
        cls = todo.pop()
        if cls in seen:
            continue
        seen.add(cls)
        for n, f in cls.model_fields.items():
            if names_a_parameter(f.annotation):
                items = _items_ann(f.annotation)
                if _scalar_use(f.annotation, tuple(f.metadata)) is None and (items is None or _scalar_use(items) is None):
                    missing.append(f"{cls.__name__}.{n}")
            todo.extend(_models(f.annotation))
    assert len(seen) > 20 and not missing, missing


@pytest.mark.parametrize("name", NAMES)
def test_every_shipped_scenario_declares_a_use_for_each_parameter_it_names(name):
    sc = sibsim.load(ROOT / "scenarios" / f"{name}.yaml")
    used = uses_of(sc)
    assert used, name
    assert set(used) <= set(sc.parameters)
    # every number or name in a field that says what it is must be checked against something finite
    for path, use, v in iter_uses(sc):
        lo, hi = use.bounds
        assert lo < hi and (math.isfinite(lo) or math.isfinite(hi)), (path, use)


# ---------------------------------------------------------------- tolerance for unbounded priors


def test_benchmark_normal_uplifts_have_negligible_mass_outside_their_use():
    sc = sibsim.load(BENCH)
    uses = uses_of(sc)
    for name in ("job_entry_uplift", "job_sustained_uplift", "qualification_uplift"):
        prior = sc.priors[name]
        assert prior.dist == "normal" and prior.low is None and prior.high is None
        for field, use in uses[name]:
            m = mass_outside(prior, use)
            assert m < 1e-100, (name, field, m)  # 0.1 +- 0.05 against [-1, 1]: about 18 sd away
            assert prior_problem(prior, use, field) is None


@pytest.mark.parametrize("z, ok", [(3.2, True), (3.1, True), (3.0, False), (2.5, False)])
def test_the_tolerance_is_one_in_a_thousand_outside(z, ok):
    # Normal(mean z * sd, sd) as a probability: mass below 0 is Phi(-z) (3.2: 0.069%, 3.0: 0.135%)
    prior = Normal(mean=z * 0.05, sd=0.05)
    m = mass_outside(prior, PROBABILITY)
    from scipy.stats import norm

    assert m == pytest.approx(norm.cdf(-z) + norm.sf((1 - z * 0.05) / 0.05), rel=1e-9)
    assert (m <= TOLERANCE) == ok
    assert (prior_problem(prior, PROBABILITY, "outcomes.0.baseline") is None) == ok


def test_lognormal_mass_above_a_limit_is_computed_exactly():
    from scipy.stats import lognorm

    prior = sibsim.dists.LogNormal(mean=100.0, sd=80.0)
    mu, s = prior._musigma()
    use = Use("a thing", 0, 150)
    assert mass_outside(prior, use) == pytest.approx(lognorm.sf(150, s, scale=math.exp(mu)), rel=1e-9)


def test_draws_outside_the_allowed_range_are_clipped():
    d = raw()
    d["parameters"]["job_entry_p0"] = {"dist": "normal", "mean": 0.16, "sd": 0.05}  # 0.069% below 0: accepted
    sc = spec.validate(d)
    from sibsim import draw

    x = sample_params(sc, draw.BlockDraws(7, 0, 40))["job_entry_p0"]  # 40,000 draws: about 27 below 0
    assert x.min() == 0.0 and (x == 0).sum() > 5
    raw_draws = sc.priors["job_entry_p0"].ppf(draw.BlockDraws(7, 0, 40).uniform(draw.param_stream("job_entry_p0")))
    assert np.array_equal(x, np.clip(raw_draws, 0, 1))


# ---------------------------------------------------------------- 2. non-finite and oversized values


@pytest.mark.parametrize("entry, field", [
    ({"dist": "fixed", "value": float("nan")}, "parameters.engagement.value"),
    (float("inf"), "parameters.engagement"),
    (float("-inf"), "parameters.engagement"),
    ({"dist": "normal", "mean": 0.5, "sd": float("inf")}, "parameters.engagement.sd"),
    ({"dist": "uniform", "low": float("-inf"), "high": float("inf")}, "parameters.engagement.low"),
    ({"dist": "empirical", "values": [float("nan")]}, "parameters.engagement.values.0"),
    ({"dist": "normal", "mean": 0.5, "sd": 1e308}, "parameters.engagement.sd"),
    ({"dist": "beta", "a": float("nan"), "b": 2}, "parameters.engagement.a"),
    ({"dist": "pert", "low": 0, "mode": 0.5, "high": float("inf")}, "parameters.engagement.high"),
])
def test_non_finite_priors_are_refused(entry, field):
    d = raw()
    d["parameters"]["engagement"] = entry
    msg = problem_at(d, field)
    assert "finite" in msg or "too large" in msg


def test_inf_cannot_reach_the_canonical_json():
    for text in ("+.inf", "-.inf", ".inf", ".nan"):
        d = raw()
        d["rate_card"]["cap_total"] = yaml.safe_load(text)
        problem_at(d, "rate_card.cap_total", "finite")
    for path in SHIPPED:
        j = sibsim.load(path).canonical_json()
        assert "null" not in j and "Infinity" not in j and "NaN" not in j
        assert json.loads(j) == spec.to_dict(sibsim.load(path))


@pytest.mark.parametrize("setter, field, words", [
    (lambda d: d["participants"]["starts"].update(per_period=[10**19]), "participants.starts.per_period.0",
     ["too large"]),
    (lambda d: d["participants"]["starts"].update(per_period=[10**8]), "participants.starts.per_period",
     ["100,000,000", "limit of 100,000", "SIBSIM_MAX_PARTICIPANTS"]),
    (lambda d: d["rate_card"].update(payment_lag_periods=10**18), "rate_card.payment_lag_periods", ["too large"]),
    (lambda d: d["rate_card"].update(payment_lag_periods=601), "rate_card.payment_lag_periods", ["600"]),
    (lambda d: d["outcomes"][0].update(lag={"dist": "uniform", "low": 1, "high": 10**12}), "outcomes.0.lag.high",
     ["600"]),
    (lambda d: d["rate_card"].update(cap_per_outcome={"job_entry": 10**20}), "rate_card.cap_per_outcome.job_entry",
     ["too large"]),
    (lambda d: d["participants"].update(max_participants=10**9), "participants.max_participants",
     ["limit of 100,000"]),
    (lambda d: d["costs"].update(service_periods=10**6), "costs.service_periods", ["600"]),
])
def test_oversized_values_are_refused_with_the_limit(setter, field, words):
    d = raw()
    setter(d)
    problem_at(d, field, *words)


def test_delivery_referrals_are_bounded():
    d = raw("homelessness_delivery")
    d["delivery"]["referrals_per_period"] = [1e9] * 4
    problem_at(d, "delivery.referrals_per_period", "limit of 1,000,000", "SIBSIM_MAX_REFERRALS")


def test_a_limit_can_be_raised_by_its_environment_variable(monkeypatch):
    d = raw()
    d["participants"]["starts"]["per_period"] = [150_000]
    problems(d)
    monkeypatch.setenv("SIBSIM_MAX_PARTICIPANTS", "200000")
    assert spec.validate(d).participants.starts.per_period == (150_000,)
    monkeypatch.setenv("SIBSIM_MAX_PARTICIPANTS", "lots")
    with pytest.raises(SibsimError, match="SIBSIM_MAX_PARTICIPANTS='lots': must be a whole number"):
        spec.validate(d)


def test_trials_and_chunk_are_bounded(monkeypatch):
    with pytest.raises(UsageError, match="trials: 1,000,000,000 trials is above the limit of 10,000,000"):
        _check_int("trials", 10**9, 1, "trials")
    with pytest.raises(UsageError, match="SIBSIM_MAX_CHUNK"):
        _check_int("chunk", 10**9, 1, "chunk")
    with pytest.raises(UsageError, match="limit"):
        sibsim.simulate(BENCH, trials=10**9, seed=1, chunk=10**9)
    monkeypatch.setenv("SIBSIM_MAX_TRIALS", str(2 * 10**9))
    assert _check_int("trials", 10**9, 1, "trials") == 10**9


def test_sweep_grids_are_bounded():
    from sibsim.sweep import grid, lhs

    with pytest.raises(UsageError, match="100,000,000 points in a sweep is above the limit of 100,000"):
        grid(a=range(10_000), b=range(10_000))
    with pytest.raises(UsageError, match="SIBSIM_MAX_POINTS"):
        lhs(10**8, {"a": (0, 1)}, seed=1)
    assert len(grid(a=[1, 2], b=[3, 4, 5])) == 6


# ---------------------------------------------------------------- generated: every number of every scenario

BAD = [float("nan"), float("inf"), float("-inf"), True, 10**19, -(10**20)]


@pytest.mark.parametrize("name", NAMES)
def test_every_number_of_every_shipped_scenario_refuses_non_finite_yes_no_and_huge_values(name):
    base = raw(name)
    leaves = list(numeric_leaves(base))
    assert len(leaves) > 10
    checked = 0
    for i, path in enumerate(leaves):
        bad = BAD[i % len(BAD)]
        d = copy.deepcopy(base)
        put(d, path, bad)
        probs = problems(d)
        field = dotted(path)
        # the problem is reported at the number itself (or, in a parameter table, at the parameter)
        at = [f for f, _ in probs if f == field or field.startswith(f + ".") and f.startswith("parameters.")]
        assert at, (field, bad, probs)
        checked += 1
    assert checked == len(leaves)


@pytest.mark.parametrize("name", NAMES)
def test_yes_no_values_are_never_numbers(name):
    base = raw(name)
    for path in list(numeric_leaves(base))[::3]:
        d = copy.deepcopy(base)
        put(d, path, "yes")  # PyYAML reads yes/true as True; a string 'yes' is a parameter name at most
        with pytest.raises(ScenarioError):
            spec.validate(yaml.safe_load(yaml.safe_dump(d).replace("'yes'", "yes")))


# ---------------------------------------------------------------- 3. YAML that is not what it seems

TEXT = BENCH.read_text()


@pytest.mark.parametrize("text, words", [
    (TEXT + "\nhorizon_periods: 30\n", ["horizon_periods", "twice"]),
    (TEXT.replace("  engagement: {dist: beta, mean: 0.80, sd: 0.05}",
                  "  engagement: {dist: beta, mean: 0.80, sd: 0.05}\n  engagement: 0.5"), ["'engagement'", "twice"]),
    (TEXT.replace("prices: {job_entry: 3500,", "prices: {job_entry: 3500, job_entry: 10,"), ["'job_entry'", "twice"]),
    (TEXT.replace("mean: 0.80, sd: 0.05}", "mean: 0.80, mean: 0.7, sd: 0.05}"), ["'mean'", "twice"]),
    ("a: " + "[" * 2000 + "]" * 2000, ["nested more than 50"]),
    ("a: " + "{b: " * 2000 + "1" + "}" * 2000, ["nested more than 50"]),
    ("".join("  " * i + f"k{i}:\n" for i in range(300)), ["nested more than 50"]),
    (TEXT.replace("horizon_periods: 24", "horizon_periods: true"), ["horizon_periods", "yes/no"]),
    (TEXT.replace("horizon_periods: 24", "horizon_periods: yes"), ["horizon_periods", "yes/no"]),
    (TEXT.replace("per_period: [100, 100,", "per_period: [yes, 100,"), ["per_period.0", "yes/no"]),
    (TEXT.replace("payment_lag_periods: 1", "payment_lag_periods: on"), ["payment_lag_periods", "yes/no"]),
    (TEXT.replace("[100, 100, 100, 100, 100, 100, 100, 100, 100, 100]", "[" + ", ".join(["100"] * 30) + "]"),
     ["per_period", "30 periods but the horizon is 24"]),
    (TEXT.replace("  engagement: {dist: beta", "  '': 0.5\n  engagement: {dist: beta"), ["parameters", "letters"]),
    (TEXT.replace("  engagement: {dist: beta", "  2x: 0.5\n  engagement: {dist: beta"), ["parameters", "letters"]),
    (TEXT + "correlations:\n  - {a: engagement, b: job_entry_p0, rho: 0.3}\n"
            "  - {a: job_entry_p0, b: engagement, rho: -0.3}\n", ["correlations.1", "already correlated"]),
    (TEXT.replace("job_entry: 3500,", "job_entry: '1,5',"), ["rate_card.prices.job_entry", "'1,5'"]),
    (TEXT.replace("cap_total: 2000000", "cap_total: .inf"), ["rate_card.cap_total", "finite"]),
    (TEXT.replace("cap_total: 2000000", "cap_total: -.inf"), ["rate_card.cap_total", "finite"]),
    (TEXT.replace("cap_total: 2000000", "cap_total: .nan"), ["rate_card.cap_total", "finite"]),
])
def test_yaml_that_is_not_what_it_seems_is_refused(text, words):
    with pytest.raises(ScenarioError) as info:
        spec.loads(text, source="x.yaml")
    msg = str(info.value)
    assert msg.startswith("x.yaml: invalid scenario")
    for w in words:
        assert w in msg, (w, msg)


class _PureLoader(yaml.SafeLoader):
    """The reference for the fast loader: PyYAML's own parser, its depth counted as it composes."""

    depth = 0

    def compose_node(self, parent, index):
        self.depth += 1
        try:
            if self.depth > 50:
                raise yaml.composer.ComposerError(None, None, "nested more than 50 levels deep",
                                                  self.peek_event().start_mark)
            return super().compose_node(parent, index)
        finally:
            self.depth -= 1


def test_the_fast_loader_reads_what_pyyaml_reads():
    # spec.loads parses with libyaml; PyYAML's pure parser is the reference, on every shipped file
    from sibsim.spec.limits import MAX_DEPTH
    from sibsim.spec.load import _parse

    assert MAX_DEPTH == 50
    files = sorted((ROOT / "scenarios").glob("*.yaml")) + sorted((ROOT / "portfolios").glob("*.yaml"))
    assert len(files) >= 10
    for f in files:
        text = f.read_text()
        assert _parse(text) == yaml.load(text, Loader=_PureLoader), f.name  # noqa: S506
    # the depth limit falls where the reference puts it, in brackets, braces and indentation
    for n in (48, 49, 50, 51):
        for text, depth in (("a: " + "[" * n + "]" * n, n + 1), ("a: " + "{b: " * n + "1" + "}" * n, n + 2),
                            ("".join("  " * i + f"k{i}:\n" for i in range(n)) + "  " * n + "end", n + 1)):
            try:
                yaml.load(text, Loader=_PureLoader)  # noqa: S506
                refused = False
            except yaml.YAMLError as err:
                assert "nested more than 50" in str(err)
                refused = True
            with (pytest.raises(yaml.YAMLError, match="nested more than 50") if refused else nullcontext()):
                _parse(text)
            assert refused == (depth > 50), text[:60]


def test_deep_nesting_given_as_data_is_a_clean_error():
    d = raw()
    deep: dict = {}
    cur = deep
    for _ in range(5000):
        cur["a"] = {}
        cur = cur["a"]
    d["parameters"]["engagement"] = {"dist": "empirical", "values": deep}
    problems(d)  # a ScenarioError, not RecursionError
    nested: list = []
    for _ in range(5000):
        nested = [nested]
    d["parameters"]["engagement"] = {"dist": "empirical", "values": nested}
    problems(d)


def test_an_alias_bomb_is_refused_without_expanding_it():
    # 9 ** 9 (387 million) ones through YAML aliases: PyYAML shares the lists; nothing may walk them all
    bomb = "a0: &a0 [1, 1, 1, 1, 1, 1, 1, 1, 1]\n" + "".join(
        f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 9) + "]\n" for i in range(1, 10))
    text = bomb + TEXT.replace("per_period: [100, 100, 100, 100, 100, 100, 100, 100, 100, 100]", "per_period: *a9")
    with pytest.raises(ScenarioError, match="per_period.0"):
        spec.loads(text)
    text = bomb + TEXT.replace("  engagement: {dist: beta, mean: 0.80, sd: 0.05}", "  engagement: {dist: empirical, "
                                                                                    "values: *a9}")
    with pytest.raises(ScenarioError, match="parameters.engagement.values.0"):
        spec.loads(text)


def test_numbers_written_with_an_exponent_are_numbers():
    sc = spec.loads(TEXT.replace("cap_total: 2000000", "cap_total: 2e6"))  # PyYAML reads 2e6 as a string
    assert sc.rate_card.cap_total == 2e6


# ---------------------------------------------------------------- property-based mutation of every scenario

SCENARIOS = {p.stem: raw(p.stem) for p in SHIPPED}
LEAVES = {k: list(numeric_leaves(v)) for k, v in SCENARIOS.items()}
NUMBERS = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.floats(min_value=-2, max_value=2),
    st.integers(min_value=-(10**20), max_value=10**20),
    st.sampled_from([0, 1, -1, 0.5, 1e-300, 1e15, 1e16, 600, 601, True, False, "", "nope", "1,5"]),
)
PRIORS = st.one_of(
    st.builds(lambda v: {"dist": "fixed", "value": v}, st.floats(-3, 3)),
    st.builds(lambda a, w: {"dist": "uniform", "low": a, "high": a + w}, st.floats(-2, 2), st.floats(0.01, 3)),
    st.builds(lambda m, s: {"dist": "normal", "mean": m, "sd": s}, st.floats(-1, 2), st.floats(0, 1)),
    st.builds(lambda m, s: {"dist": "lognormal", "mean": m, "sd": s}, st.floats(0.01, 3), st.floats(0.01, 2)),
    st.builds(lambda a, b: {"dist": "beta", "a": a, "b": b}, st.floats(0.1, 10), st.floats(0.1, 10)),
)
SIMULATED = {"n": 0}


def _check_mutation(name: str, d: dict) -> None:
    try:
        sc = spec.validate(d)
    except ScenarioError as err:
        assert err.problems
        for field, msg in err.problems:
            assert msg and "Traceback" not in msg
        return
    for path, use, v in iter_uses(sc):  # what is accepted is within every declared use
        if not isinstance(v, str):
            assert use.admits(v), (path, v)
    if SIMULATED["n"] < 40 and sc.delivery is None:  # simulating every example would be slow
        SIMULATED["n"] += 1
        run = sibsim.simulate(sc, trials=30, seed=3, workers=1)
        for m in ("delivery_cost", "outcome_payments", "commissioner_cost"):
            assert not np.isnan(run.metrics[m]).any(), (name, m)


@pytest.mark.parametrize("name", NAMES)
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow], derandomize=True)
@given(data=st.data())
def test_mutating_a_number_of_a_shipped_scenario_is_refused_or_simulates(name, data):
    d = copy.deepcopy(SCENARIOS[name])
    for _ in range(data.draw(st.integers(1, 3))):
        path = data.draw(st.sampled_from(LEAVES[name]))
        put(d, path, data.draw(NUMBERS))
    _check_mutation(name, d)


@pytest.mark.parametrize("name", NAMES)
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow], derandomize=True)
@given(data=st.data())
def test_replacing_a_prior_of_a_shipped_scenario_is_refused_or_simulates(name, data):
    d = copy.deepcopy(SCENARIOS[name])
    if not d.get("parameters"):
        return
    p = data.draw(st.sampled_from(sorted(d["parameters"])))
    d["parameters"][p] = data.draw(PRIORS)
    _check_mutation(name, d)


def test_a_valid_mutation_simulates_without_nan_costs():
    d = raw()
    d["parameters"]["job_entry_p0"] = {"dist": "normal", "mean": 0.2, "sd": 0.06}  # 0.04% below 0: clipped
    d["rate_card"]["prices"]["job_entry"] = 0
    run = sibsim.simulate(spec.validate(d), trials=200, seed=2, workers=1)
    assert run.params["job_entry_p0"].min() >= 0
    for m in ("delivery_cost", "outcome_payments", "commissioner_cost"):
        assert np.isfinite(run.metrics[m]).all()


# ---------------------------------------------------------------- with_params, sweeps and solve


def test_set_values_are_checked_against_their_uses():
    sc = sibsim.load(BENCH)
    with pytest.raises(ScenarioError, match="parameters.job_entry_p0: fixed at 5, it is used as a probability"):
        sc.with_params(job_entry_p0=5)
    with pytest.raises(ScenarioError, match="finite"):
        sc.with_params(job_entry_p0=float("nan"))
    with pytest.raises(ScenarioError, match="too large"):
        sc.with_params(cost_multiplier=1e300)
    assert sc.with_params(job_entry_p0=0.3).priors["job_entry_p0"] == Fixed(value=0.3)


def test_a_sweep_point_outside_a_use_is_refused_before_any_run():
    from sibsim.sweep import apply_point

    sc = sibsim.load(BENCH)
    with pytest.raises(ScenarioError, match="engagement"):
        apply_point(sc, {"engagement": 1.5})
    with pytest.raises(ScenarioError, match="rate_card.prices.job_entry"):
        apply_point(sc, {"price.job_entry": -3500})


# ---------------------------------------------------------------- library messages name no option


def test_library_errors_do_not_name_command_line_options():
    from sibsim.sensitivity import sensitivity

    for kw, word in ((dict(method="magic"), "method"), (dict(samples=1), "samples"),
                     (dict(names=["nope"]), "parameters")):
        with pytest.raises(UsageError) as info:
            sensitivity(BENCH, output="investor_net_gain", trials=10, seed=1, **{"method": "tornado", **kw})
        assert "--" not in str(info.value) and word in str(info.value)


# ---------------------------------------------------------------- the command line


def write(tmp_path, text: str, name="s.yaml") -> str:
    p = tmp_path / name
    p.write_text(text)
    return str(p)


@pytest.mark.parametrize("text, words", [
    (TEXT + "\nhorizon_periods: 30\n", ["twice"]),
    ("a: " + "[" * 2000 + "]" * 2000, ["nested"]),
    (TEXT.replace("horizon_periods: 24", "horizon_periods: true"), ["horizon_periods", "yes/no"]),
    (TEXT.replace("job_entry: 3500,", "job_entry: -3500,"), ["rate_card.prices.job_entry", "-3500", ">= 0"]),
    (TEXT.replace("cap_total: 2000000", "cap_total: .inf"), ["cap_total", "finite"]),
    (TEXT.replace("job_entry_p0: {dist: beta, mean: 0.20, sd: 0.03}", "job_entry_p0: 1.5"),
     ["parameters.job_entry_p0", "probability", "between 0 and 1"]),
])
def test_validate_exits_2_with_one_line(tmp_path, capsys, text, words):
    code, out, err = cli(capsys, "validate", write(tmp_path, text))
    assert code == 2 and "Traceback" not in err and err.strip().count("\n") == 0, err
    for w in words:
        assert w in err, (w, err)


@pytest.mark.parametrize("argv, words", [
    (["--set", "job_entry_p0=5"], ["job_entry_p0", "probability", "between 0 and 1"]),
    (["--set", "engagement=-2"], ["engagement", "probability"]),
    (["--set", "cost_multiplier=-10"], ["cost_multiplier", "multiplier"]),
    (["--set", "cost_multiplier=nan"], ["cost_multiplier", "finite"]),
    (["--trials", "1000000000", "--chunk", "1000000000"], ["limit of 10,000,000", "SIBSIM_MAX_TRIALS"]),
])
def test_run_exits_2_with_one_line(capsys, argv, words):
    code, out, err = cli(capsys, "run", str(BENCH), "-q", *argv)
    assert code == 2 and "Traceback" not in err and err.strip().count("\n") == 0, err
    for w in words:
        assert w in err, (w, err)


def test_sweep_grid_too_large_exits_2(capsys, tmp_path):
    code, out, err = cli(capsys, "sweep", str(BENCH), "--grid", "engagement=0:1:100000000", "--trials", "10",
                         "--out", str(tmp_path / "s.csv"))
    assert code == 2 and "limit of 100,000" in err and "Traceback" not in err


@pytest.mark.parametrize("text", [
    "a: " + "[" * 2000 + "]" * 2000,
    TEXT.replace("job_entry_p0: {dist: beta, mean: 0.20, sd: 0.03}", "job_entry_p0: {dist: fixed, value: .nan}"),
])
def test_the_installed_command_exits_2_without_traceback(tmp_path, text):
    exe = Path(sys.executable).with_name("sibsim")
    cmd = [str(exe)] if exe.exists() else [sys.executable, "-m", "sibsim"]
    res = subprocess.run([*cmd, "validate", write(tmp_path, text)], capture_output=True, text=True, timeout=120)
    assert res.returncode == 2 and "Traceback" not in res.stderr and res.stderr.strip().count("\n") == 0, res.stderr


# ---------------------------------------------------------------- the app (issue 17 item 8)


def test_the_scenario_page_shows_hostile_edits_beside_their_field(repo_root, tmp_path, monkeypatch):
    pytest.importorskip("streamlit")
    from streamlit.testing.v1 import AppTest

    monkeypatch.setenv("SIBSIM_DB", f"sqlite:///{tmp_path / 'e.db'}")
    at = AppTest.from_file(str(repo_root / "app.py"), default_timeout=120)
    at.run()
    at.switch_page("app_pages/scenario.py").run()
    assert not at.exception, [e.value for e in at.exception]

    def key(name):
        return f"ed{at.session_state['scenario_version']}.{name}"

    def errors():
        return "\n".join(str(e.value) for e in at.error)

    # a normal prior's sd of 1e308: refused beside the parameter, no OverflowError drawing it
    at.number_input(key=key("p.job_entry_uplift.sd")).set_value(1e308).run()
    assert not at.exception, [e.value for e in at.exception]
    assert "parameters.job_entry_uplift.sd" in errors() and "too large" in errors()
    at.number_input(key=key("p.job_entry_uplift.sd")).set_value(0.04).run()
    assert not at.exception and at.session_state["scenario"] is not None
    # "1,5" in a money field is not 15: the text is kept and spec's message is shown beside the field
    at.text_input(key=key("finance.sib.capital_commitment")).input("1,5").run()
    assert not at.exception
    assert at.session_state["scenario_data"]["finance"]["sib"]["capital_commitment"] == "1,5"
    assert "finance.sib.capital_commitment" in errors() and "'1,5'" in errors()
    at.text_input(key=key("finance.sib.capital_commitment")).input("1,500,000").run()
    assert at.session_state["scenario"].finance.sib.capital_commitment == 1_500_000
    # a fixed .nan parameter (YAML box) is refused with its field, and nothing crashes
    text = BENCH.read_text().replace("job_entry_p0: {dist: beta, mean: 0.20, sd: 0.03}",
                                     "job_entry_p0: {dist: fixed, value: .nan}")
    box = next(t for t in at.text_area if t.label == "Scenario YAML")
    box.set_value(text)
    next(b for b in at.button if b.label == "Apply YAML").click().run()
    assert not at.exception, [e.value for e in at.exception]
    assert "parameters.job_entry_p0.value" in errors() and "finite" in errors()
    # 2,000 levels of nesting in the YAML box: a clean message
    box = next(t for t in at.text_area if t.label == "Scenario YAML")
    box.set_value("a: " + "[" * 2000 + "]" * 2000)
    next(b for b in at.button if b.label == "Apply YAML").click().run()
    assert not at.exception and "nested more than 50" in errors()
