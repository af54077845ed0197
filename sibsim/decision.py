"""The commissioner's decision: options, willingness to pay and net benefit, defined once (docs/voi.md).

A commissioner chooses one option, on the same draws (common random numbers):
each finance model the run computed (``sib``, ``pbr``, ``fee``, ``hybrid``)
or ``none`` (do not commission: no public cost, no additional outcomes). For
one option and one trial the **net benefit** is

    NB = w * Q - C           (w a number: willingness to pay per outcome)
    NB = V - C               (w = "appraisal": the scenario's own values)

with ``Q`` the additional outcomes counted (``additional_outcomes_counted``:
over ``appraisal.effect_outcomes``, times the option's effect share), ``V``
their present value at ``appraisal.value_per_outcome``
(``value_of_additional_outcomes_pv``) and ``C`` the public cost in present
value, fees uplifted by the optimism bias (``public_cost_pv``); see
:mod:`sibsim.finance.appraisal`. ``none`` has ``Q = V = C = 0``.

**Willingness to pay** ``w`` is what the public sector would pay for one more
counted outcome (GBP per outcome, undiscounted count against discounted cost,
as the acceptability curve has always been); the acceptability curve
(:func:`sibsim.finance.appraisal.acceptability_indicators`) calls
:func:`net_benefit` too, so the two never disagree. The word ``appraisal``
in a list of willingness-to-pay values stands for the scenario's appraisal
values instead of one price per outcome.

This module imports nothing from sibsim but its errors, so every layer (the
finance layer included) can use it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping, Sequence

import numpy as np

from .errors import UsageError

NONE = "none"
APPRAISAL = "appraisal"
OPTIONS = ("sib", "pbr", "fee", "hybrid", NONE)


def wtp_key(w) -> str:
    """The label of a willingness-to-pay value: ``5000`` for 5000.0, ``2500.5``, or ``appraisal``."""
    if isinstance(w, str):
        return w
    w = float(w)
    return str(int(w)) if w.is_integer() else f"{w:.10g}"


def parse_wtp(values) -> tuple[float | str, ...]:
    """Willingness-to-pay values from numbers, strings or one comma-separated string; errors name the value."""
    if isinstance(values, str):
        values = [v for v in values.split(",") if v.strip()]
    out: list[float | str] = []
    for v in values:
        if isinstance(v, str) and v.strip().lower() == APPRAISAL:
            out.append(APPRAISAL)
            continue
        try:
            x = float(v)
        except (TypeError, ValueError):
            raise UsageError(f"willingness to pay {v!r} is not a number; give numbers >= 0 (GBP per additional "
                             f"outcome) or '{APPRAISAL}'") from None
        if not (np.isfinite(x) and x >= 0):
            raise UsageError(f"willingness to pay must be a number >= 0 (GBP per additional outcome); got {v!r}")
        out.append(x)
    if not out:
        raise UsageError("give at least one willingness-to-pay value")
    if len({wtp_key(w) for w in out}) != len(out):
        raise UsageError(f"willingness-to-pay values must be distinct; got {[wtp_key(w) for w in out]}")
    return tuple(out)


def net_benefit(w: float, *, outcomes, cost_pv, value_pv=None) -> np.ndarray:
    """Per-trial net benefit ``w * outcomes - cost_pv`` (GBP); with ``w == "appraisal"``, ``value_pv - cost_pv``.

    outcomes: (n,) additional outcomes counted; cost_pv: (n,) public cost, present value;
    value_pv: (n,) present value of the additional outcomes at the appraisal's values.
    """
    cost_pv = np.asarray(cost_pv, dtype=float)
    if isinstance(w, str):
        if w != APPRAISAL:
            raise UsageError(f"willingness to pay {w!r} is not a number or '{APPRAISAL}'")
        if value_pv is None:
            raise UsageError("willingness to pay 'appraisal' needs the scenario's appraisal.value_per_outcome; "
                             "this scenario gives none: give numbers (GBP per additional outcome)")
        return np.asarray(value_pv, dtype=float) - cost_pv
    return float(w) * np.asarray(outcomes, dtype=float) - cost_pv


@dataclass(frozen=True)
class Decision:
    """Per-trial net benefit of each option at each willingness to pay.

    options: option names, in column order; nb: wtp key -> (trials, options) GBP;
    params: parameter name -> (trials,) draws (the uncertain inputs);
    wtp: the willingness-to-pay values, in the order given.
    """

    options: tuple[str, ...]
    wtp: tuple[float | str, ...]
    nb: Mapping[str, np.ndarray]
    params: Mapping[str, np.ndarray]

    @property
    def trials(self) -> int:
        return next(iter(self.nb.values())).shape[0]

    def expected(self) -> dict[str, dict[str, float]]:
        """wtp key -> option -> mean net benefit."""
        return {k: dict(zip(self.options, v.mean(axis=0).tolist())) for k, v in self.nb.items()}

    def best(self) -> dict[str, str]:
        """wtp key -> the option with the highest expected net benefit (the decision under current evidence)."""
        return {k: self.options[int(np.argmax(v.mean(axis=0)))] for k, v in self.nb.items()}


def check_options(options: Sequence[str], available: Sequence[str]) -> tuple[str, ...]:
    """Options validated against the finance models run (plus ``none``); at least two, no repeats."""
    options = tuple(o.strip() for o in options if o.strip())
    allowed = tuple(available) + (NONE,)
    for o in options:
        if o not in allowed:
            raise UsageError(f"option {o!r} is not available; options: {', '.join(allowed)}")
    if len(set(options)) != len(options):
        raise UsageError(f"options must be distinct; got {', '.join(options)}")
    if len(options) < 2:
        raise UsageError(f"a decision needs at least two options; got {', '.join(options) or 'none'}")
    return options


def decision(run, *, options: Sequence[str], wtp) -> Decision:
    """The decision on a Run's draws: ``options`` among ``run.finance_models`` and ``none``.

    Per-model results are read through ``run.model(name)``; the run must have
    been simulated with every finance model in ``options``
    (``simulate(..., finance=options)``).
    """
    options = check_options(options, run.finance_models)
    wtp = parse_wtp(wtp)
    n = run.trials
    nb = {}
    for w in wtp:
        cols = []
        for o in options:
            if o == NONE:
                cols.append(np.zeros(n))
                continue
            m = run.model(o).metrics
            cols.append(net_benefit(w, outcomes=m["additional_outcomes_counted"], cost_pv=m["public_cost_pv"],
                                    value_pv=m.get("value_of_additional_outcomes_pv")))
        nb[wtp_key(w)] = np.column_stack(cols)
    return Decision(options=options, wtp=wtp, nb=nb, params=dict(run.params))
