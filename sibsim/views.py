"""Tables for people: a run's figures by party, finance models side by side, paired differences.

What each party asks of a contract (docs/model.md s.10):

- the commissioner (the public sector: local commissioner and outcomes
  fund): what it costs, per additional outcome, whether it is value for
  money, and how much pays for outcomes that would have happened anyway;
- the provider: its surplus, the working capital it needs, the chance it
  runs out of cash;
- investors, where there are any: return (IRR), multiple, chance of loss.

Every label, unit and format comes from :mod:`sibsim.outputs`. A model
without investors shows "no investor", not zeros. Differences between
models on the same draws (or between runs with the same seed) are paired:
the standard error is that of the mean of the per-trial differences
(:func:`paired_difference`), which common random numbers make small.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from . import outputs
from .metrics import probability, summarise

NO_INVESTOR = "no investor"


@dataclass(frozen=True)
class Row:
    """One row of the comparison: ``stat`` of output ``name`` (``p`` for an indicator)."""

    party: str
    name: str
    stat: str
    label: str = ""
    negate: bool = False  # show minus the statistic (reserves needed = minus the P5 of the minimum cash)

    def text(self) -> str:
        if self.label:
            return self.label
        return f"{outputs.label(self.name)}, {STAT_WORDS[self.stat]}" if self.stat != "p" else \
            outputs.probability_label(self.name)


STAT_WORDS = {"mean": "mean", "p50": "median", "p5": "P5", "p95": "P95"}

PARTY_ROWS = (
    Row("commissioner", "public_cost", "mean"),
    Row("commissioner", "commissioner_cost", "mean"),
    Row("commissioner", "public_cost_per_additional_outcome", "p50"),
    Row("commissioner", "cost_per_additional_outcome_pv", "p50",
        label="Value for money: public cost per additional outcome counted (present value), median"),
    Row("commissioner", "commissioner_npv", "mean"),
    Row("commissioner", "deadweight_paid", "mean"),
    Row("provider", "provider_surplus", "mean"),
    Row("provider", "provider_min_cash", "mean"),
    Row("provider", "provider_min_cash", "p5", negate=True,
        label="Reserves needed to cover 95% of trials (minus the P5 of minimum cash)"),
    Row("provider", "insolvency", "p"),
    Row("investor", "investor_irr", "p50"),
    Row("investor", "investor_moic", "mean"),
    Row("investor", "investor_net_gain", "mean"),
    Row("investor", "investor_loss", "p"),
)


def _value(result, row: Row) -> float | None:
    """The row's number from one model's ``(metric summaries, probabilities)``; None if the model lacks it."""
    summaries, probs = result
    if row.stat == "p":
        x = probs.get(row.name)
        return None if x is None else x["p"]
    x = summaries.get(row.name)
    if x is None:
        return None
    v = x[row.stat]
    v = math.nan if v is None else float(v)
    return -v if row.negate and not math.isnan(v) else v


def party_table(results: dict, *, symbol: str = "") -> list[tuple[str, str, dict[str, str]]]:
    """``[(party heading, row label, {model: text})]``, by party.

    results: model -> (metric summaries, probabilities), shared outputs included
    (:func:`model_results`, :func:`record_results`). Rows no model has are
    left out; an investor row shows :data:`NO_INVESTOR` for a model without
    investors; an undefined statistic shows "undefined".
    """
    out = []
    for row in PARTY_ROWS:
        vals = {m: _value(r, row) for m, r in results.items()}
        if all(v is None for v in vals.values()):
            continue
        unit = "currency" if row.negate else outputs.unit(row.name)
        cells = {}
        for m, v in vals.items():
            if v is None:
                cells[m] = NO_INVESTOR if row.party == "investor" else "n/a"
            else:
                cells[m] = outputs.fmt(max(v, 0.0) if row.negate else v, unit, symbol=symbol)
        out.append((outputs.PARTIES[row.party], row.text(), cells))
    return out


def model_results(run) -> dict:
    """``model -> (metric summaries, probabilities)`` (shared outputs included) for every finance model of ``run``."""
    out = {}
    for m in run.finance_models:
        r = run.model(m)
        out[m] = (r.metric_summaries(), r.probabilities())
    return out


def record_results(rec: dict) -> dict:
    """:func:`model_results` of a run record in format 2 (``Run.to_dict()``, or a stored run)."""
    models = rec.get("models") or {}
    own = (rec.get("finance_models") or list(models) or ["sib"])[0]
    mine = models.get(own, {"metrics": {}, "probabilities": {}})
    shared = ({k: v for k, v in rec["metrics"].items() if k not in mine["metrics"]},
              {k: v for k, v in rec["probabilities"].items() if k not in mine["probabilities"]})
    return {m: ({**shared[0], **r["metrics"]}, {**shared[1], **r["probabilities"]}) for m, r in models.items()}


def format_table(rows: list[tuple[str, ...]], *, right: set[int] | None = None) -> str:
    """Rows of text as aligned columns with a rule under the header (the first row)."""
    right = set(range(1, len(rows[0]))) if right is None else right
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(c.rjust(w) if i in right else c.ljust(w) for i, (c, w) in enumerate(zip(r, widths))).rstrip()
             for r in rows]
    lines.insert(1, "-" * max(len(x) for x in lines))
    return "\n".join(lines)


def party_text(results: dict, *, symbol: str = "") -> str:
    """:func:`party_table` as text: one column per model, a heading line per party."""
    table = party_table(results, symbol=symbol)
    models = list(results)
    rows = [("", *models)]
    last = None
    for party, label, cells in table:
        if party != last:
            rows.append((party.upper(), *("" for _ in models)))
            last = party
        rows.append(("  " + label, *(cells[m] for m in models)))
    return format_table(rows)


def paired_difference(a: np.ndarray, b: np.ndarray) -> dict[str, float]:
    """Mean of ``b - a`` trial by trial and the standard error of that mean (trials where both are defined).

    For two results on the same draws (common random numbers) this is the
    right error: the standard deviation of the differences over sqrt(n), not
    the independent-runs sqrt(se_a^2 + se_b^2).
    """
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    d = (b - a)[~(np.isnan(a) | np.isnan(b))]
    n = d.size
    if n == 0:
        return {"difference": math.nan, "se": math.nan, "n": 0}
    se = float(d.std(ddof=1) / math.sqrt(n)) if n > 1 else math.nan
    return {"difference": float(d.mean()), "se": se, "n": int(n)}


def model_differences(run, names=("public_cost", "commissioner_cost", "provider_surplus", "provider_min_cash")):
    """``{model: {name: paired_difference(own, model)}}``: each other model against the scenario's own."""
    if getattr(run, "kept", "all") == "summary":  # streamed over every trial (sibsim.summaries)
        diffs = run.stats.differences
        return {m: {k: dict(diffs[m][k]) for k in names if k in diffs.get(m, {})} for m in run.finance_models[1:]}
    own = run.model(run.finance_models[0])
    out = {}
    for m in run.finance_models[1:]:
        r = run.model(m)
        out[m] = {k: paired_difference(own.metrics[k], r.metrics[k]) for k in names
                  if k in own.metrics and k in r.metrics}
    return out


def differences_text(run, *, symbol: str = "") -> str:
    own = run.finance_models[0]
    rows = [(f"mean difference from {own} (same draws)", *run.finance_models[1:])]
    diffs = model_differences(run)
    names = list(dict.fromkeys(k for d in diffs.values() for k in d))
    for k in names:
        cells = []
        for m in run.finance_models[1:]:
            d = diffs[m].get(k)
            cells.append("n/a" if d is None else
                         f"{outputs.fmt_output(k, d['difference'], symbol=symbol)} "
                         f"± {outputs.fmt_output(k, d['se'], symbol=symbol)}")
        rows.append((outputs.label(k), *cells))
    return format_table(rows)


KEY_DIFFERENCES = ("public_cost", "commissioner_cost", "outcome_payments", "provider_surplus", "provider_min_cash",
                   "investor_net_gain")


def run_differences(runs: dict, names=KEY_DIFFERENCES) -> dict[str, dict[str, dict]]:
    """``{label: {name: {difference, se, paired}}}``: each run after the first against the first.

    A "run" is anything with ``metrics``, ``seed`` and ``trials``. Runs with the same seed and
    trials share their draws (common random numbers), so the difference is paired
    (:func:`paired_difference`); otherwise the error is that of two independent means.
    """
    labels = list(runs)
    base = runs[labels[0]]
    out = {}
    for label in labels[1:]:
        r = runs[label]
        paired = (r.seed, r.trials) == (base.seed, base.trials)
        row = {}
        for k in names:
            if k not in base.metrics or k not in r.metrics:
                continue
            if paired:
                d = paired_difference(base.metrics[k], r.metrics[k])
            else:
                a, b = summarise(base.metrics[k]), summarise(r.metrics[k])
                d = {"difference": b["mean"] - a["mean"], "se": math.hypot(a["mcse"], b["mcse"])}
            row[k] = {"difference": d["difference"], "se": d["se"], "paired": paired}
        out[label] = row
    return out
