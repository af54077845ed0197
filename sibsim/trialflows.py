"""Every trial's per-period cash flows under each finance model (for readiness and portfolios).

:func:`sibsim.simulate` keeps per-period cash for the first 2,000 trials only
(fan charts); readiness (reserves, working capital) and portfolios (a fund's
spend by year) need it for every trial. :func:`contract_flows` runs the same
layers as the engine for trials ``a .. b-1`` -- parameters, both worlds,
payments, delivery costs, each model's :class:`~sibsim.finance.CashFlows`
through :func:`sibsim.finance.model_flows` -- on the same seed tree, so trial
``i`` has the same numbers here as in ``simulate(..., seed)``. ``draws``
replaces the :class:`~sibsim.draw.BlockDraws` (a portfolio shares some
parameter streams between contracts).
"""

from __future__ import annotations

import math
from typing import Callable

import numpy as np

from . import draw
from .engine import contract, sample_params
from .errors import UsageError
from .finance import MODELS, model_flows


def check_models(models) -> tuple[str, ...]:
    models = tuple(dict.fromkeys(models))
    unknown = [m for m in models if m not in MODELS]
    if unknown or not models:
        raise UsageError(f"finance model {unknown[0] if unknown else ''!r} is not known; models: {', '.join(MODELS)}")
    return models


def contract_flows(sc, seed: int, a: int, b: int, *, models=("sib", "pbr", "fee", "hybrid"),
                   draws: Callable[[int, int, int], draw.BlockDraws] | None = None,
                   params_hook: Callable[[dict, draw.BlockDraws], dict] | None = None) -> dict:
    """Trials ``a .. b-1`` of ``sc``: params, costs, payments (n, T) and each model's CashFlows.

    Returns ``{"params": {name: (n,)}, "costs": (n, T), "payments": (n, T),
    "flows": {model: CashFlows}}``, all cut to the ``b - a`` trials asked for.
    ``params_hook(params, draws)`` may return changed parameter draws (whole blocks) before they are used.
    """
    models = check_models(models)
    b0, b1 = a // draw.BLOCK, math.ceil(b / draw.BLOCK)
    d = (draws or draw.BlockDraws)(seed, b0, b1 - b0)
    params = sample_params(sc, d)
    if params_hook is not None:  # a portfolio's common shocks
        params = params_hook(params, d)
    c = contract(sc, params, d, seed=seed, a=a, b=b)  # the engine's own layers, early termination included
    pay, costs = c.pay, c.costs
    off = a - b0 * draw.BLOCK
    sl = slice(off, off + (b - a))
    out = {"params": {k: v[sl] for k, v in params.items()}, "costs": costs[sl], "payments": pay.treated[sl],
           "flows": {}}
    for m in models:
        cf = model_flows(m, sc, params, costs=costs, payments=pay.treated,
                         **({} if c.end is None else {"end_period": c.end}))
        out["flows"][m] = type(cf)({k: v[sl] for k, v in cf.flows.items()},
                                   {k: v[sl] for k, v in cf.extra.items()},
                                   {k: v[sl] for k, v in cf.parts.items()})
    return out


def chunks(trials: int, chunk: int = 5_000) -> list[tuple[int, int]]:
    return [(a, min(a + chunk, trials)) for a in range(0, trials, chunk)]


def concat(parts: list[dict]) -> dict:
    """Join :func:`contract_flows` results of consecutive trial ranges."""
    first = parts[0]
    out = {"params": {k: np.concatenate([p["params"][k] for p in parts]) for k in first["params"]},
           "costs": np.concatenate([p["costs"] for p in parts]),
           "payments": np.concatenate([p["payments"] for p in parts]), "flows": {}}
    for m, cf in first["flows"].items():
        out["flows"][m] = type(cf)({k: np.concatenate([p["flows"][m].flows[k] for p in parts]) for k in cf.flows},
                                   {k: np.concatenate([p["flows"][m].extra[k] for p in parts]) for k in cf.extra},
                                   {k: np.concatenate([p["flows"][m].parts[k] for p in parts]) for k in cf.parts})
    return out


def all_flows(sc, *, trials: int, seed: int, models=("sib", "pbr", "fee", "hybrid"), chunk: int = 5_000) -> dict:
    """:func:`contract_flows` for trials ``0 .. trials-1`` (chunked; the numbers do not depend on ``chunk``)."""
    return concat([contract_flows(sc, seed, a, b, models=models) for a, b in chunks(trials, chunk)])
