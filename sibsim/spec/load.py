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
from ..paths import not_a_file
from ..errors import ScenarioError
from .limits import MAX_ABS, MAX_DEPTH, over
from .model import Scenario

MAX_BYTES = 1_000_000
_KEYED = {"parameters", "prices", "cap_per_outcome"}
_TAGS = {"schedule", "poisson", "float", "str", "int", *PRIOR_KINDS}


def _loc(loc: tuple) -> str:
    # drop pydantic's union-member tags (e.g. 'schedule', 'beta') from the path
    if "[key]" in loc:  # a bad key of a mapping: the mapping is the field
        loc = loc[: max(loc.index("[key]") - 1, 0)]
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
        elif e["type"] in ("scenario", "refused_input"):  # the message names the value itself
            pass
        elif "input" in e and not isinstance(e["input"], (dict, list)) and "; got " not in msg:
            msg = f"{msg}; got {e['input']!r}"
        # a union tries each member: keep the most specific message per field
        if field not in seen or seen[field].startswith(generic):
            seen[field] = msg
    # a union member's generic complaint ("should be a valid number") at a field whose parts say what is wrong
    return [(f, m) for f, m in seen.items()
            if not (m.startswith(generic) and any(g.startswith(f + ".") for g in seen))]


def _names_in(value: Any) -> list[str]:
    return [value] if isinstance(value, str) else []


def semantic_problems(sc: Scenario) -> list[tuple[str, str]]:
    """Cross-field checks the field models cannot see on their own (run by ``Scenario``'s own validator).

    Parameter names and priors against every use (:mod:`sibsim.spec.uses`),
    names of outcomes, periods within the horizon, sizes within the limits
    (:mod:`sibsim.spec.limits`) and the correlations.
    """
    from .uses import use_problems

    probs: list[tuple[str, str]] = use_problems(sc)
    params = set(sc.parameters)
    allowed = ", ".join(sorted(params)) or "(none defined)"
    T = sc.horizon_periods
    p = sc.participants
    if p.max_participants is not None and (msg := over("participants", p.max_participants)):
        probs.append(("participants.max_participants", msg))
    if sc.delivery is not None:
        from .delivery import delivery_problems

        probs += delivery_problems(sc.delivery, sc.parameters, horizon_periods=T)
        probs += _referral_volume(sc)
    elif p.starts is not None:
        per = p.starts.per_period if p.starts.kind == "schedule" else p.starts.rate_per_period
        field = "participants.starts." + ("per_period" if p.starts.kind == "schedule" else "rate_per_period")
        if len(per) > T:
            probs.append((field, f"has {len(per)} periods but the horizon is {T}; allowed: at most {T} "
                                 "(starts after the horizon would never be simulated)"))
        elif p.starts.kind == "schedule" and (msg := over("participants", sum(per))):
            probs.append((field, msg))
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
        if o.requires is not None:
            if o.requires not in names:
                probs.append((f"outcomes.{i}.requires", f"'{o.requires}' is not an outcome; outcomes: {', '.join(names)}"))
            elif names.index(o.requires) >= i:
                probs.append((f"outcomes.{i}.requires", f"'{o.requires}' must be listed before '{o.name}'"))
        elif min(o.lag.values) < 1:
            probs.append((f"outcomes.{i}.lag", "an outcome without a prerequisite is achieved at least 1 period after start"))
    rc = sc.rate_card
    for k in rc.prices:
        if k not in names:
            probs.append((f"rate_card.prices.{k}", f"'{k}' is not an outcome; outcomes: {', '.join(names)}"))
    for k in rc.cap_per_outcome:
        if k not in names:
            probs.append((f"rate_card.cap_per_outcome.{k}", f"'{k}' is not an outcome; outcomes: {', '.join(names)}"))
    c = sc.costs
    if c.fixed_periods is not None:
        a, b = c.fixed_periods
        if not 0 <= a <= b < T:
            probs.append(("costs.fixed_periods", f"need 0 <= first <= last < horizon_periods ({T}); got [{a}, {b}]"))
    from .finance import finance_problems

    probs += finance_problems(sc)
    pairs: dict[frozenset, int] = {}
    for i, cor in enumerate(sc.correlations):
        if cor.a == cor.b:
            probs.append((f"correlations.{i}", f"a parameter cannot be correlated with itself; got a = b = '{cor.a}'"))
        for side in ("a", "b"):
            name = getattr(cor, side)
            if name not in params:
                probs.append((f"correlations.{i}.{side}", f"'{name}' is not a parameter; defined parameters: {allowed}"))
        key = frozenset((cor.a, cor.b))
        if key in pairs:
            probs.append((f"correlations.{i}", f"the pair {cor.a}, {cor.b} is already correlated (correlations."
                                               f"{pairs[key]}); give each pair once"))
        pairs.setdefault(key, i)
    if sc.correlations and not probs:
        try:
            correlation_matrix(sorted(sc.parameters), [(c.a, c.b, c.rho) for c in sc.correlations])
        except ValueError as err:
            probs.append(("correlations", str(err)))
    return list(dict.fromkeys(probs))


def _referral_volume(sc: Scenario) -> list[tuple[str, str]]:
    """Expected referrals over the horizon at the volume's highest value, within the limit."""
    from .uses import support

    d = sc.delivery
    v = d.volume
    if isinstance(v, str):
        prior = sc.priors.get(v)
        if prior is None:
            return []
        hi = support(prior)[1]
        v = hi if math.isfinite(hi) else prior.quantile(0.999)
    total = sum(d.referrals_per_period[: sc.horizon_periods]) * v
    msg = over("referrals", total)
    return [("delivery.referrals_per_period", msg + " (referral rates times the largest volume)")] if msg else []


def validate(data: Any, *, source: str | None = None) -> Scenario:
    """Validate a plain dict (as read from YAML or JSON) into a Scenario."""
    if not isinstance(data, dict):
        raise ScenarioError([("", f"a scenario is a mapping of fields; got {type(data).__name__}")], source=source)
    try:
        return Scenario.model_validate(data)  # every check is the type's own: a Scenario that exists is valid
    except ScenarioError as err:
        raise ScenarioError(err.problems, source=source) from None


class _Loader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):
    """The safe loader, refusing what would be read other than as written.

    A key given twice in one mapping (PyYAML keeps the last silently) and
    nesting deeper than MAX_DEPTH (:func:`_check_depth`) are errors. The
    parser and composer are libyaml's where PyYAML was built with it (about
    ten times faster than PyYAML's own: 2 ms for the benchmark scenario);
    the constructor is PyYAML's, with this check of keys.
    """

    def construct_mapping(self, node, deep=False):
        seen: dict = {}
        for key, _ in node.value:
            if isinstance(key, yaml.ScalarNode) and key.tag != "tag:yaml.org,2002:merge":
                k = (key.tag, key.value)
                if k in seen:
                    raise yaml.constructor.ConstructorError(
                        None, None, f"key '{key.value}' is given twice (first on line {seen[k] + 1}); "
                                    "give each key once", key.start_mark)
                seen[k] = key.start_mark.line
        return super().construct_mapping(node, deep)


def _check_depth(root) -> None:
    """Refuse a document nested more than MAX_DEPTH levels deep (the document itself is level 1; a
    mapping's keys and values one level below it), walking the composed nodes without recursion."""
    deepest: dict[int, int] = {}  # a node reached again through an alias is walked again only if deeper
    todo = [(root, 1)]
    while todo:
        node, depth = todo.pop()
        if deepest.get(id(node), 0) >= depth:
            continue
        deepest[id(node)] = depth
        if depth > MAX_DEPTH:
            raise yaml.composer.ComposerError(None, None, f"nested more than {MAX_DEPTH} levels deep",
                                              node.start_mark)
        if isinstance(node, yaml.SequenceNode):
            todo.extend((child, depth + 1) for child in node.value)
        elif isinstance(node, yaml.MappingNode):
            todo.extend((child, depth + 1) for pair in node.value for child in pair)


def _parse(text: str):
    """The document in ``text`` as plain data (safe loader only: :class:`_Loader`)."""
    loader = _Loader(text)
    try:
        try:
            node = loader.get_single_node()
        except yaml.YAMLError as err:  # libyaml stops at 1,000 levels of brackets: say it as for 51
            if "maximum nesting depth" not in str(getattr(err, "problem", "")):
                raise
            raise yaml.composer.ComposerError(None, None, f"nested more than {MAX_DEPTH} levels deep",
                                              err.problem_mark) from None
        if node is None:
            return None
        _check_depth(node)
        return loader.construct_document(node)
    finally:
        loader.dispose()


def loads(text: str, *, source: str | None = None) -> Scenario:
    """Parse and validate scenario YAML text (safe loader only)."""
    if len(text.encode("utf-8", "replace")) > MAX_BYTES:
        raise ScenarioError([("", f"file is larger than {MAX_BYTES:,} bytes")], source=source)
    try:
        data = _parse(text)
    except yaml.YAMLError as err:
        raise ScenarioError([("", " ".join(f"not valid YAML: {err}".split()))], source=source) from None
    except RecursionError:
        raise ScenarioError([("", f"nested too deeply (a scenario is at most {MAX_DEPTH} levels deep)")],
                            source=source) from None
    return validate(data, source=source)


def load(path: str | Path) -> Scenario:
    """Load and validate a scenario YAML file."""
    path = Path(path)
    if (reason := not_a_file(path)) is not None:  # a directory, a FIFO or /dev/zero: say which
        raise ScenarioError([("", reason)], source=str(path))
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
    # a Scenario holds finite numbers only; allow_nan=False makes sure none ever becomes null or Infinity
    return json.dumps(to_dict(sc), sort_keys=True, separators=(",", ":"), allow_nan=False)


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
        if abs(x) > MAX_ABS:
            raise ScenarioError([(f"parameters.{k}", f"value is too large; allowed: at most {MAX_ABS:g} in size; "
                                                     f"got {v!r}")])
        params[k] = Fixed(value=x)
    data = to_dict(sc)
    data["parameters"] = {k: (to_dict_prior(v)) for k, v in params.items()}
    return validate(data)


def to_dict_prior(v) -> Any:
    return v if isinstance(v, (int, float)) else v.model_dump(mode="json", by_alias=True, exclude_none=True)
