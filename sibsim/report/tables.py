"""The tables of a report, from a Run: summaries by model and party, cash per period, inputs, provenance.

Plain lists of dicts (and one pandas frame for cash flows), shared by the
Excel workbook and the PDF, so both show the same numbers.
"""

from __future__ import annotations

import datetime as _dt
import json

import numpy as np

from .. import outputs
from ..plots.runs import PARTIES, TOTALS
from .describe import describe, headline_metrics

PERCENTILES = (5, 50, 95)


def summary_rows(run) -> list[dict]:
    """One row per (finance model, output): party, label, unit, mean, mcse, P5, P50, P95, undefined count."""
    rows = []
    for model in run.finance_models:
        res = run.model(model)
        for name, s in res.metric_summaries().items():
            label, unit, party = describe(name)
            rows.append(dict(model=model, party=party, metric=name, label=label, unit=unit, mean=s["mean"],
                             mcse=s["mcse"], p5=s["p5"], p50=s["p50"], p95=s["p95"], undefined=s["nan"]))
    order = {p: i for i, p in enumerate(PARTY_ORDER)}
    rows.sort(key=lambda r: (run.finance_models.index(r["model"]), order.get(r["party"], 99), r["label"]))
    return rows


PARTY_ORDER = tuple(outputs.PARTIES)


def headline_rows(run) -> list[dict]:
    """The few outputs a business case quotes, per model, in party order (absent outputs are left out)."""
    rows = []
    for model in run.finance_models:
        s = run.model(model).metric_summaries()
        for name in headline_metrics():
            if name in s:
                label, unit, party = describe(name)
                rows.append(dict(model=model, party=party, metric=name, label=label, unit=unit, **{
                    k: s[name][k] for k in ("mean", "p5", "p50", "p95")}))
    return rows


def probability_rows(run) -> list[dict]:
    """Every indicator's probability with its standard error, per model, in numeric order within a model."""
    rows = []
    for model in run.finance_models:
        probs = run.model(model).probabilities()
        items = sorted(probs.items(), key=lambda kv: kv[0])
        for name, v in items:
            rows.append(dict(model=model, indicator=name, label=describe(name)[0], p=v["p"], se=v["se"]))
    return rows


def cashflow_table(run):
    """pandas DataFrame: net cash per party and period under the scenario's own model: mean, P5, P50, P95.

    Over the trials whose per-period cash is kept (:data:`sibsim.run.PATH_TRIALS`); positive is cash in.
    """
    import pandas as pd

    rows = []
    for party, flows in run.paths.items():
        f = np.asarray(flows, dtype=float)
        pct = np.percentile(f, PERCENTILES, axis=0)
        for t in range(f.shape[1]):
            rows.append(dict(party=party, party_label=PARTIES.get(party) or TOTALS.get(party, party), period=t,
                             mean=float(f[:, t].mean()), p5=pct[0, t], p50=pct[1, t], p95=pct[2, t]))
    return pd.DataFrame(rows, columns=["party", "party_label", "period", "mean", "p5", "p50", "p95"])


def _prior_text(v) -> str:
    if isinstance(v, (int, float)):
        return f"fixed at {v:,.6g}"
    return str(v)


def input_rows(sc) -> list[dict]:
    """Every input of the scenario: its parameters with their priors, then every term as a dotted path."""
    rows = [dict(section="parameters", name=k, value=_prior_text(v), mean=_mean(v)) for k, v in sc.parameters.items()]
    data = json.loads(sc.canonical_json())
    for section in data:
        if section in ("parameters", "name", "description"):
            continue
        for path, value in _flatten(data[section], section):
            rows.append(dict(section=section, name=path, value=value, mean=None))
    return rows


def _mean(v):
    if isinstance(v, (int, float)):
        return float(v)
    try:
        return float(v.mean())
    except Exception:  # a prior without a closed-form mean
        return None


def _flatten(x, prefix: str):
    if isinstance(x, dict):
        for k, v in x.items():
            yield from _flatten(v, f"{prefix}.{k}")
    elif isinstance(x, list) and x and any(isinstance(v, (dict, list)) for v in x):
        for i, v in enumerate(x):
            key = v.get("name", i) if isinstance(v, dict) else i
            yield from _flatten(v, f"{prefix}[{key}]")
    else:
        yield prefix, (json.dumps(x) if isinstance(x, list) else x)


def provenance(run) -> dict:
    """What fixes every number in the report, and how to regenerate it."""
    sc = run.scenario
    others = [m for m in run.finance_models if m != sc.finance.model]
    cmd = f"sibsim run SCENARIO.yaml --trials {run.trials} --seed {run.seed}"
    if others:
        cmd += f" --finance {','.join(others)}"
    return {
        "scenario": sc.name,
        "scenario hash": sc.content_hash,
        "seed": run.seed,
        "trials": run.trials,
        "finance models": ", ".join(run.finance_models),
        "currency": sc.currency,
        **{f"{k} version": v for k, v in run.versions.items()},
        "written": _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "rerun": cmd,
    }
