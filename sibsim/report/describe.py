"""Label, unit and party of an output name, for the report's formats.

Reads the labels the figures use (:data:`sibsim.plots.runs.METRICS`); units
are ``currency``, ``share``, ``rate``, ``ratio`` or ``count``.
"""

from __future__ import annotations

from ..plots.runs import METRICS, metric_label

_UNIT = {"money": "currency", "share": "share", "rate": "rate", "ratio": "ratio", "count": "count"}
_HEADLINE = ("commissioner_cost", "commissioner_cost_pv", "outcome_fund_cost", "outcome_payments",
             "cost_per_additional_outcome", "deadweight_share", "investor_net_gain", "investor_irr", "investor_moic",
             "provider_surplus", "provider_min_cash")


def describe(name: str) -> tuple[str, str, str]:
    """(label for people, unit, party) of an output."""
    label = metric_label(name)
    if name in METRICS:
        unit = _UNIT.get(METRICS[name][1], "number")
    elif "outcomes." in name or name in ("participants", "engaged"):
        unit = "count"
    elif name.endswith(("_irr", "_share")):
        unit = "rate" if name.endswith("_irr") else "share"
    elif name.endswith("_moic"):
        unit = "ratio"
    elif any(w in name for w in ("cost", "payment", "gain", "cash", "surplus", "drawdown", "distribution", "income",
                                 "paid", "balance", "capital", "npv", "overdraft", "value")):
        unit = "currency"
    else:
        unit = "number"
    head = name.split("_", 1)[0]
    party = {"commissioner": "commissioner", "investor": "investor", "provider": "provider", "outcome": "outcome_fund",
             "intermediary": "intermediary", "guarantee": "guarantor"}.get(head, "other")
    if name.startswith(("outcome_payments", "counterfactual", "deadweight", "cost_per")):
        party = "commissioner"
    if "outcomes." in name or name in ("participants", "engaged"):
        party = "outcomes"
    if name.startswith("delivery"):
        party = "delivery"
    return label, unit, party


def headline_metrics() -> tuple[str, ...]:
    return _HEADLINE
