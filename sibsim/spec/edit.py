"""Building and editing scenarios as plain dicts, and writing them back as YAML a person wrote.

What the app's scenario builder needs that is not Streamlit: a minimal valid
scenario to start from (:func:`template`), a scenario started from a real
impact bond's rate card in the INDIGO snapshot (:func:`from_indigo`), a
default prior of each kind (:func:`default_prior`), small edits that keep a
scenario consistent (:func:`rename_outcome`, :func:`remove_outcome`), the
scenario reduced to what differs from the schema's defaults (:func:`minimal`)
and YAML that keeps the comments and key order of the text it was loaded from
(:func:`roundtrip_yaml`, with ruamel.yaml's round-trip mode,
https://yaml.readthedocs.io/ ).
"""

from __future__ import annotations

import copy
import io
import math
import re
from typing import Any

from .load import loads, to_dict, validate

# a valid prior of each kind (sibsim.dists.PRIOR_KINDS), for a parameter just added
DEFAULT_PRIORS: dict[str, dict] = {
    "fixed": {"dist": "fixed", "value": 0.5},
    "uniform": {"dist": "uniform", "low": 0.0, "high": 1.0},
    "triangular": {"dist": "triangular", "low": 0.0, "mode": 0.5, "high": 1.0},
    "pert": {"dist": "pert", "low": 0.0, "mode": 0.5, "high": 1.0},
    "normal": {"dist": "normal", "mean": 0.1, "sd": 0.05},
    "lognormal": {"dist": "lognormal", "mean": 1.0, "sd": 0.1},
    "beta": {"dist": "beta", "mean": 0.5, "sd": 0.1},
    "empirical": {"dist": "empirical", "values": [0.0, 0.5, 1.0]},
}

NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def default_prior(kind: str) -> dict:
    """A valid prior of ``kind`` (one of ``sibsim.dists.PRIOR_KINDS``) to edit from."""
    if kind not in DEFAULT_PRIORS:
        from ..errors import UsageError

        raise UsageError(f"prior kind {kind!r} is not known; kinds: {', '.join(DEFAULT_PRIORS)}")
    return copy.deepcopy(DEFAULT_PRIORS[kind])


def new_outcome(existing: list[str]) -> dict:
    """An outcome to edit from, named ``outcome_<n>`` (a name not in ``existing``)."""
    n = len(existing) + 1
    while f"outcome_{n}" in existing:
        n += 1
    return {"name": f"outcome_{n}", "direction": "increase", "baseline": 0.2,
            "effect": {"type": "absolute", "size": 0.05}, "lag": {"dist": "fixed", "periods": 2}}


def template(name: str = "New scenario") -> dict:
    """The smallest valid scenario: 100 starts a quarter for a year, one outcome priced at 1,000, a SIB."""
    return {
        "name": name,
        "description": "Built in the sibsim app from the template: every number is an ASSUMPTION to replace.",
        "currency": "GBP",
        "period": "quarter",
        "horizon_periods": 12,
        "parameters": {},
        "participants": {"starts": {"kind": "schedule", "per_period": [100, 100, 100, 100]}},
        "outcomes": [new_outcome([]) | {"name": "outcome_1"}],
        "rate_card": {"prices": {"outcome_1": 1000.0}},
        "finance": {"model": "sib", "sib": {"drawdown": "as_needed"}},
    }


def _slug(text: str, taken: set[str]) -> str:
    words = re.findall(r"[a-z0-9]+", str(text).lower())[:5]
    base = "_".join(words) or "outcome"
    if base[0].isdigit():
        base = "o_" + base
    name, k = base, 2
    while name in taken:
        name, k = f"{base}_{k}", k + 1
    taken.add(name)
    return name


def _text(v) -> str:
    """A cell as text ("" for a blank: NaN, None, pandas' NA)."""
    import pandas as pd

    return "" if v is None or pd.isna(v) else str(v).strip()


def indigo_rate_cards(tables=None):
    """INDIGO projects that publish prices: ``project_id, name, currency, prices`` (a DataFrame)."""
    if tables is None:
        from .. import indigo

        tables = indigo.load()
    rc = tables.rate_cards
    rc = rc[rc["price_per_outcome_local"].astype(float) > 0]
    counts = rc.groupby("project_id").agg(currency=("currency", "first"), prices=("project_id", "size"))
    names = tables.projects.set_index("project_id")["name"]
    out = counts.join(names, how="left").reset_index()
    return out[["project_id", "name", "currency", "prices"]].sort_values("project_id", ignore_index=True)


def from_indigo(project_id: str, tables=None) -> dict:
    """A scenario started from an INDIGO project's rate card (GO Lab INDIGO impact bond dataset).

    Outcomes are the rate card's (names made from their definitions, the
    definition kept as the description), prices in the project's currency;
    participants, duration and the cap on total payments come from the
    project's row where it gives them. Baselines and effects are not in
    INDIGO: they start as ASSUMPTION placeholders (baseline 0.2, effect +0.05)
    for the user to replace.
    """
    if tables is None:
        from .. import indigo

        tables = indigo.load()
    rc = tables.rate_cards
    rows = rc[(rc["project_id"] == project_id) & (rc["price_per_outcome_local"].astype(float) > 0)]
    if rows.empty:
        from ..errors import UsageError

        known = sorted(set(rc["project_id"]))
        raise UsageError(f"INDIGO project {project_id!r} has no rate card with prices; projects with one: "
                         f"{', '.join(known[:8])}{', ...' if len(known) > 8 else ''}")
    proj = tables.projects[tables.projects["project_id"] == project_id]
    p = proj.iloc[0] if len(proj) else None

    def num(col):
        if p is None or col not in p or not _text(p[col]):
            return None
        v = float(p[col])
        return v if math.isfinite(v) and v > 0 else None

    years = num("duration_years") or 4.0
    horizon = max(4, min(600, int(round(years * 4)) + 4))  # quarters, and a year for the last outcomes to pay
    people = int(num("participants") or 400)
    starts_periods = max(1, min(horizon - 2, int(round(years * 4 * 0.5))))  # recruitment over the first half
    per = [people // starts_periods + (1 if i < people % starts_periods else 0) for i in range(starts_periods)]
    taken: set[str] = set()
    outcomes, prices, notes = [], {}, []
    for _, r in rows.iterrows():
        label = _text(r["outcome_definition"]) or _text(r["outcome_metric_id"]) or "outcome"
        name = _slug(label, taken)
        o = new_outcome([o["name"] for o in outcomes]) | {"name": name}
        o["lag"] = {"dist": "uniform", "low": 1, "high": 4}
        outcomes.append(o)
        prices[name] = float(r["price_per_outcome_local"])
        notes.append(f"{name}: {label}")
    currency = _text(rows["currency"].iloc[0]) or "GBP"
    title = (_text(p["name"]) if p is not None else "") or project_id
    data = {
        "name": f"{title} (from INDIGO)"[:200],
        "description": (f"Rate card of INDIGO project {project_id} (GO Lab INDIGO impact bond dataset, "
                        "https://golab.bsg.ox.ac.uk/knowledge-bank/indigo/). Outcomes: " + "; ".join(notes)
                        + ". Baselines, effects, lags and costs are ASSUMPTION placeholders."),
        "currency": currency,
        "period": "quarter",
        "horizon_periods": horizon,
        "parameters": {},
        "participants": {"starts": {"kind": "schedule", "per_period": per}},
        "outcomes": outcomes,
        "rate_card": {"prices": prices},
        "finance": {"model": "sib", "sib": {"drawdown": "as_needed"}},
    }
    cap = num("max_outcome_payments_local")
    if cap is not None and p is not None and _text(p.get("max_outcome_payments_currency")) == currency:
        data["rate_card"]["cap_total"] = cap
    return data


def rename_outcome(data: dict, old: str, new: str) -> dict:
    """A copy of ``data`` with outcome ``old`` named ``new`` wherever a name refers to it."""
    data = copy.deepcopy(data)
    for o in data.get("outcomes", []):
        if o.get("name") == old:
            o["name"] = new
        if o.get("requires") == old:
            o["requires"] = new
    rc = data.get("rate_card") or {}
    for key in ("prices", "cap_per_outcome"):
        if old in (rc.get(key) or {}):
            rc[key] = {(new if k == old else k): v for k, v in rc[key].items()}
    ap = data.get("appraisal") or {}
    if old in (ap.get("value_per_outcome") or {}):
        ap["value_per_outcome"] = {(new if k == old else k): v for k, v in ap["value_per_outcome"].items()}
    return data


def remove_outcome(data: dict, index: int) -> dict:
    """A copy of ``data`` without outcome ``index``, its prices, caps and values (a dependant's requires goes)."""
    data = copy.deepcopy(data)
    name = data["outcomes"].pop(index).get("name")
    for o in data["outcomes"]:
        if o.get("requires") == name:
            o.pop("requires")
    for section, key in (("rate_card", "prices"), ("rate_card", "cap_per_outcome"), ("appraisal", "value_per_outcome")):
        (data.get(section) or {}).get(key, {}).pop(name, None)
    return data


def remove_parameter(data: dict, name: str) -> dict:
    """A copy of ``data`` without parameter ``name`` and its correlations (uses of it are then reported by spec)."""
    data = copy.deepcopy(data)
    (data.get("parameters") or {}).pop(name, None)
    if data.get("correlations"):
        data["correlations"] = [c for c in data["correlations"] if name not in (c.get("a"), c.get("b"))]
    return data


def minimal(data: dict) -> dict:
    """The scenario with only what differs from the schema's defaults (validates to the same scenario)."""
    sc = validate(copy.deepcopy(data))
    small = _tags(sc.model_dump(mode="json", by_alias=True, exclude_none=True, exclude_defaults=True), to_dict(sc))
    if validate(copy.deepcopy(small)).content_hash != sc.content_hash:  # a default the schema reads otherwise
        return to_dict(sc)
    return small


_TAG_KEYS = ("kind", "dist")  # the fields that say which kind a union member is: always written


def _tags(small, full):
    if isinstance(small, dict) and isinstance(full, dict):
        out = {k: full[k] for k in _TAG_KEYS if k in full and k not in small
               and (k != "kind" or full[k] in ("schedule", "poisson"))}  # an outcome's kind: written if not binary
        out.update({k: _tags(v, full.get(k)) for k, v in small.items()})
        return out
    if isinstance(small, list) and isinstance(full, list) and len(small) == len(full):
        return [_tags(a, b) for a, b in zip(small, full)]
    return small


# ---------------------------------------------------------------- YAML


def _yaml():
    from ruamel.yaml import YAML

    y = YAML(typ="rt")
    y.preserve_quotes = True
    y.width = 110
    y.indent(mapping=2, sequence=4, offset=2)
    return y


def _apply(node, old, new):
    """Change ``node`` (ruamel's CommentedMap/Seq as loaded) where ``new`` differs from ``old``; keep the rest."""
    from ruamel.yaml.comments import CommentedMap, CommentedSeq

    if isinstance(new, dict) and isinstance(node, CommentedMap):
        old = old if isinstance(old, dict) else {}
        for k in [k for k in node if k not in new]:
            del node[k]
        for k, v in new.items():
            if k in old and old[k] == v:
                continue
            if k in node and isinstance(v, (dict, list)):
                node[k] = _apply(node[k], old.get(k), v)
            elif k not in node and isinstance(v, dict) and isinstance(old.get(k), dict):
                node[k] = _apply(CommentedMap(), old[k], v)  # a section written only as its defaults: the change
            else:
                node[k] = _plain(v)
        return node
    if isinstance(new, list) and isinstance(node, CommentedSeq) and isinstance(old, list):
        while len(node) > len(new):
            node.pop()
        for i, v in enumerate(new):
            if i < len(node):
                if i < len(old) and old[i] == v:
                    continue
                node[i] = _apply(node[i], old[i] if i < len(old) else None, v) if isinstance(v, (dict, list)) \
                    else _plain(v)
            else:
                node.append(_plain(v))
        return node
    return _plain(new)


def _plain(v):
    """Numbers written as people write them (100, not 100.0)."""
    if isinstance(v, float) and v.is_integer() and abs(v) < 1e15:
        return int(v)
    if isinstance(v, dict):
        return {k: _plain(x) for k, x in v.items()}
    if isinstance(v, list):
        return [_plain(x) for x in v]
    return v


def _flow(v):
    """Short lists and mappings of plain values on one line, as the shipped scenarios write them."""
    from ruamel.yaml.comments import CommentedMap, CommentedSeq

    if isinstance(v, dict):
        m = CommentedMap((k, _flow(x)) for k, x in v.items())
        if 0 < len(v) <= 6 and not any(isinstance(x, (dict, list)) for x in v.values()) and len(str(v)) < 90:
            m.fa.set_flow_style()
        return m
    if isinstance(v, list):
        s = CommentedSeq(_flow(x) for x in v)
        if v and not any(isinstance(x, (dict, list)) for x in v):
            s.fa.set_flow_style()
        return s
    return v


def roundtrip_yaml(data: dict, original: str | None = None) -> str:
    """YAML of the scenario ``data``.

    With ``original`` (the text the scenario was loaded from), the text is
    loaded with ruamel.yaml's round-trip loader and only what the edits
    changed is rewritten: comments, key order, flow style and the numbers
    as written stay. Without it (a new scenario), the YAML holds only what
    differs from the defaults (:func:`minimal`) when ``data`` is valid, and
    ``data`` as it is otherwise.
    """
    y = _yaml()
    buf = io.StringIO()
    if original is None:
        try:
            out = minimal(data)
        except Exception:  # noqa: BLE001 - a scenario with problems is written as it is, to fix elsewhere
            out = data
        y.dump(_flow(_plain(out)), buf)
        return buf.getvalue()
    doc = y.load(original)
    try:
        old = to_dict(loads(original))
    except Exception:  # noqa: BLE001 - the original had problems: compare with what it said
        import yaml as pyyaml

        old = pyyaml.safe_load(original)
    doc = _apply(doc, old, data)
    y.dump(doc, buf)
    return buf.getvalue()


def read_yaml(text: str) -> Any:
    """The plain data of YAML text (safe loader), for tests and callers comparing documents."""
    import yaml as pyyaml

    return pyyaml.safe_load(text)
