"""Plain impact estimates (docs/model.md s.6.5): payment linear in an evaluation's reported effect.

In each listed period an evaluation reports ``E_t = effect + se * Z_t`` with
``Z_t`` standard normal, independent across periods and estimates (stream
``(22, name, period)``, names hashed: chunk-independent like every other
draw), and the payer pays ``min(cap_per_period, price_per_unit * max(0, E_t))``.
The worlds of :mod:`sibsim.measure` share the ``Z_t``: treated (the trial's
``effect``), counterfactual (effect 0) and target (``target_effect``).

Closed form, for checking by hand (tests/test_measurement.py): with
``mu = effect``, ``s = se``, price ``c`` and no ceiling, one period pays on
average ``c * (mu * Phi(mu / s) + s * phi(mu / s))`` (the mean of a normal
truncated at zero, times the price), and P(no payment) is ``Phi(-mu / s)``;
its quantile ``q`` is ``c * max(0, mu + s * Phi^-1(q))`` (capped at the ceiling).
"""

from __future__ import annotations

import numpy as np

from ..cohorts import value
from .worlds import ESTIMATE, draws, key


def estimate_payments(sc, params, d, worlds) -> list[dict]:
    """For every (estimate, period): ``{"estimate": e, "period": t, "value": {w: (n,)}, "gross": {w: (n,)}}``."""
    n = d.n
    out = []
    for e in sc.measurement.estimates:
        effect = {"tr": value(e.effect, params), "cf": 0.0}
        if e.target_effect is not None:
            effect["tg"] = value(e.target_effect, params)
        se = value(e.se, params)
        price = value(e.price_per_unit, params)
        cap = None if e.cap_per_period is None else value(e.cap_per_period, params)
        for t in e.periods:
            z = draws(d, key(ESTIMATE, e.name, t), "normal", np.zeros(n), np.ones(n))
            res = {"estimate": e, "period": t, "value": {}, "gross": {}}
            for w in worlds:
                est = np.broadcast_to(effect[w] + se * z, (n,)).astype(float)
                amount = price * np.maximum(est, 0.0)
                if cap is not None:
                    amount = np.minimum(amount, cap)
                res["value"][w] = est
                res["gross"][w] = np.broadcast_to(amount, (n,)).astype(float)
            out.append(res)
    return out
