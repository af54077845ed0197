"""Label, unit and party of an output name, for the report's formats: read from :mod:`sibsim.outputs`.

Units in the report's vocabulary: ``currency``, ``share``, ``rate``, ``ratio``, ``count`` or ``number``.
"""

from __future__ import annotations

from .. import outputs

_UNIT = {"currency": "currency", "share": "share", "probability": "share", "rate_per_year": "rate",
         "multiple": "ratio", "count": "count", "periods": "number"}
_HEADLINE = ("commissioner_cost", "commissioner_cost_pv", "outcome_fund_cost", "public_cost", "outcome_payments",
             "cost_per_additional_outcome", "public_cost_per_additional_outcome", "deadweight_share",
             "investor_net_gain", "investor_irr", "investor_moic", "provider_surplus", "provider_min_cash")


def describe(name: str) -> tuple[str, str, str]:
    """(label for people, unit, party) of an output, as declared."""
    return outputs.label(name), _UNIT.get(outputs.unit(name), "number"), outputs.party(name)


def headline_metrics() -> tuple[str, ...]:
    return _HEADLINE
