"""Loading, validating, overriding and hashing scenarios.

YAML is read with ``yaml.safe_load`` only, size-limited, then validated by the
pydantic models in :mod:`sibsim.spec.model` and by the cross-field checks
below. Every problem is reported as ``(field path, message)`` so the command
line and the app can say which field, what was given and what is allowed.
"""

from __future__ import annotations

import hashlib
import json
import math
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from ..dists import PRIOR_KINDS, Fixed, correlation_matrix
from ..errors import ScenarioError
from .model import Scenario

MAX_BYTES = 1_000_000
_KEYED = {"parameters", "prices", "cap_per_outcome"}
_TAGS = {"schedule", "poisson", "float", "str", "int", *PRIOR_KINDS}


def _loc(loc: tuple) -> str:
    # drop pydantic's union-member tags (e.g. 'schedule', 'beta') from the path
    out: list[str] = []
    for part in loc:
        if out and out[-1] in _KEYED:  # a name the user chose (parameter, outcome), never a tag
            out.append(str(part))
            continue
        if isinstance(part, str) and (
            part in _TAGS or "union[" in part or part.startswith("function-")
        ):
            continue
        out.append(str(part))
    return ".".join(out)


def _problems(err: ValidationError) -> list[tuple[str, str]]:
    generic = ("Input should be a valid number", "Input should be a valid string", "Input should be a valid integer")
    seen: dict[str, str] = {}
    for e in err.errors():
        field = _loc(e["loc"])
        msg = e["msg"].removeprefix("Value error, ").replace("valid tuple", "valid list")
        if e["type"] == "extra_forbidden":
            msg = "unknown field (not part of the scenario format; check the spelling)"
        elif "input" in e and not isinstance(e["input"], (dict, list)):
            msg = f"{msg}; got {e['input']!r}"
        # a union tries each member: keep the most specific message per field
        if field not in seen or seen[field].startswith(generic):
            seen[field] = msg
    return list(seen.items())


def _names_in(value: Any) -> list[str]:
    return [value] if isinstance(value, str) else []


def semantic_problems(sc: Scenario) -> list[tuple[str, str]]:
    """Cross-field checks the field models cannot see on their own."""
    probs: list[tuple[str, str]] = []
    params = set(sc.parameters)
    allowed = ", ".join(sorted(params)) or "(none defined)"

    def ref(field: str, value: Any, *, lo: float | None = None, hi: float | None = None):
        if value is None:
            return
        if isinstance(value, str):
            if value not in params:
                probs.append((field, f"'{value}' is not a parameter; defined parameters: {allowed}"))
            return
        if not math.isfinite(value):
            probs.append((field, f"must be a finite number; got {value}"))
            return
        if lo is not None and value < lo or hi is not None and value > hi:
            rng = f"between {lo} and {hi}" if hi is not None else f">= {lo}"
            probs.append((field, f"must be {rng}; got {value}"))

    p = sc.participants
    ref("participants.engagement", p.engagement, lo=0, hi=1)
    if sc.delivery is not None:
        from .delivery import delivery_problems

        probs += delivery_problems(sc.delivery, sc.parameters, horizon_periods=sc.horizon_periods)
    elif p.starts.kind == "poisson":
        ref("participants.starts.volume", p.starts.volume, lo=0)
    if sc.measurement is not None:
        from .measure import measurement_problems

        probs += measurement_problems(sc)
    names = [o.name for o in sc.outcomes]
    if not names and not (sc.measurement is not None and sc.measurement.estimates):  # i10: s.6.5
        probs.append(("outcomes", "needs at least 1 item (an outcome), unless measurement.estimates pays; got []"))
    if len(set(names)) != len(names):
        dup = sorted({n for n in names if names.count(n) > 1})
        probs.append(("outcomes", f"outcome names must be unique; repeated: {', '.join(dup)}"))
    from .model import count_problems  # count outcomes (docs/model.md s.4.3): a mean, not a probability

    probs += count_problems(sc)
    for i, o in enumerate(sc.outcomes):
        ref(f"outcomes.{i}.baseline", o.baseline, lo=0, hi=None if o.kind == "count" else 1)
        ref(f"outcomes.{i}.effect.size", o.effect.size)
        if o.requires is not None:
            if o.requires not in names:
                probs.append((f"outcomes.{i}.requires", f"'{o.requires}' is not an outcome; outcomes: {', '.join(names)}"))
            elif names.index(o.requires) >= i:
                probs.append((f"outcomes.{i}.requires", f"'{o.requires}' must be listed before '{o.name}'"))
        elif min(o.lag.values) < 1:
            probs.append((f"outcomes.{i}.lag", "an outcome without a prerequisite is achieved at least 1 period after start"))
    rc = sc.rate_card
    for k, v in rc.prices.items():
        if k not in names:
            probs.append((f"rate_card.prices.{k}", f"'{k}' is not an outcome; outcomes: {', '.join(names)}"))
        ref(f"rate_card.prices.{k}", v, lo=0)
    for k, v in rc.cap_per_outcome.items():
        if k not in names:
            probs.append((f"rate_card.cap_per_outcome.{k}", f"'{k}' is not an outcome; outcomes: {', '.join(names)}"))
        if v < 0:
            probs.append((f"rate_card.cap_per_outcome.{k}", f"must be >= 0; got {v}"))
    ref("rate_card.cap_per_participant", rc.cap_per_participant, lo=0)
    ref("rate_card.cap_total", rc.cap_total, lo=0)
    ref("rate_card.co_payer_share", rc.co_payer_share, lo=0, hi=1)
    c = sc.costs
    for f in ("fixed_per_period", "setup", "per_start", "per_engaged", "per_engaged_per_period", "multiplier"):
        ref(f"costs.{f}", getattr(c, f), lo=0)
    if c.fixed_periods is not None:
        a, b = c.fixed_periods
        if not 0 <= a <= b < sc.horizon_periods:
            probs.append(("costs.fixed_periods", f"need 0 <= first <= last < horizon_periods ({sc.horizon_periods}); got [{a}, {b}]"))
    from .finance import finance_problems

    probs += finance_problems(sc)
    for i, cor in enumerate(sc.correlations):
        if cor.a == cor.b:
            probs.append((f"correlations.{i}", f"a parameter cannot be correlated with itself; got a = b = '{cor.a}'"))
        for side in ("a", "b"):
            name = getattr(cor, side)
            if name not in params:
                probs.append((f"correlations.{i}.{side}", f"'{name}' is not a parameter; defined parameters: {allowed}"))
    if sc.correlations and not probs:
        try:
            correlation_matrix(sorted(sc.parameters), [(c.a, c.b, c.rho) for c in sc.correlations])
        except ValueError as err:
            probs.append(("correlations", str(err)))
    return probs


def validate(data: Any, *, source: str | None = None) -> Scenario:
    """Validate a plain dict (as read from YAML or JSON) into a Scenario."""
    if not isinstance(data, dict):
        raise ScenarioError([("", f"a scenario is a mapping of fields; got {type(data).__name__}")], source=source)
    try:
        sc = Scenario.model_validate(data)
    except ValidationError as err:
        raise ScenarioError(_problems(err), source=source) from None
    probs = semantic_problems(sc)
    if probs:
        raise ScenarioError(probs, source=source)
    return sc


def loads(text: str, *, source: str | None = None) -> Scenario:
    """Parse and validate scenario YAML text (safe loader only)."""
    if len(text.encode("utf-8", "replace")) > MAX_BYTES:
        raise ScenarioError([("", f"file is larger than {MAX_BYTES:,} bytes")], source=source)
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as err:
        raise ScenarioError([("", f"not valid YAML: {err}".replace("\n", " "))], source=source) from None
    return validate(data, source=source)


def load(path: str | Path) -> Scenario:
    """Load and validate a scenario YAML file."""
    path = Path(path)
    if not path.is_file():
        raise ScenarioError([("", "no such file")], source=str(path))
    if path.stat().st_size > MAX_BYTES:
        raise ScenarioError([("", f"file is larger than {MAX_BYTES:,} bytes")], source=str(path))
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise ScenarioError([("", "file is not UTF-8 text")], source=str(path)) from None
    return loads(text, source=str(path))


def to_dict(sc: Scenario) -> dict:
    return sc.model_dump(mode="json", by_alias=True, exclude_none=True)


def dumps(sc: Scenario) -> str:
    """The scenario as YAML (round-trips through :func:`loads`)."""
    return yaml.safe_dump(to_dict(sc), sort_keys=False, allow_unicode=True)


def canonical_json(sc: Scenario) -> str:
    return json.dumps(to_dict(sc), sort_keys=True, separators=(",", ":"))


def content_hash(sc: Scenario) -> str:
    return hashlib.sha256(canonical_json(sc).encode()).hexdigest()[:16]


def with_params(sc: Scenario, values: dict[str, float]) -> Scenario:
    """Fix named parameters at values; unknown names are an error listing the names that exist."""
    unknown = [k for k in values if k not in sc.parameters]
    if unknown:
        allowed = ", ".join(sorted(sc.parameters)) or "(none)"
        raise ScenarioError(
            [(f"parameters.{k}", f"'{k}' is not a parameter of this scenario; parameters: {allowed}") for k in unknown]
        )
    params = dict(sc.parameters)
    for k, v in values.items():
        try:
            x = float(v)
        except (TypeError, ValueError):
            raise ScenarioError([(f"parameters.{k}", f"value must be a number; got {v!r}")]) from None
        if not math.isfinite(x):
            raise ScenarioError([(f"parameters.{k}", f"value must be a finite number; got {v!r}")])
        params[k] = Fixed(value=x)
    data = to_dict(sc)
    data["parameters"] = {k: (to_dict_prior(v)) for k, v in params.items()}
    return validate(data)


def to_dict_prior(v) -> Any:
    return v if isinstance(v, (int, float)) else v.model_dump(mode="json", by_alias=True, exclude_none=True)
