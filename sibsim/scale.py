"""Contract size: scale a scenario's cohort and sweep it, to see where each finance model is best.

:func:`scale_scenario` multiplies the cohort by a factor and scales what
grows with it as the scenario says: starts (kept whole, the total rounded
once), the contract maximum, per-outcome volume caps and the contract cap,
investor capital (commitment, tranches, drawdown schedule), fixed delivery
costs and set-up times ``factor ** fixed_cost_elasticity`` (default 1: staff
grow with the cohort), and each transaction cost times ``factor **
scale_elasticity`` (its own field, default 0: fixed whatever the size).
Prices, the per-participant cap, the intermediary's management fee (a fixed
fee) and the provider's reserves, overdraft and turnover (the provider is a
given organisation) are not scaled. A field given as a parameter name is
left as it is (the parameter's prior says what it is).

:func:`size_sweep` runs every size on the same seed (common random numbers:
a participant's draws do not depend on how many others there are) and all
finance models on the same draws, and :func:`crossover` finds the contract
size at which a SIB's value for money overtakes another model's: where the
mean difference in the commissioner's net present value (or minus the public
cost, without values per outcome) changes sign, by linear interpolation
between sizes, with a bootstrap over trials for its uncertainty (Efron and
Tibshirani, An Introduction to the Bootstrap, 1993, ch. 13: percentile intervals).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .errors import UsageError
from .spec import to_dict, validate


def _num(x) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool)


def _whole(per_period, factor: float) -> list[int]:
    """Scale integer counts keeping them whole: cumulative totals rounded, so the total is round(total * f)."""
    cum = np.rint(np.cumsum(per_period) * factor).astype(int)
    return [int(v) for v in np.diff(np.concatenate([[0], cum]))]


def participants_of(sc) -> float:
    """Planned cohort size: the starts schedule's total, or the contract maximum for Poisson starts."""
    st = sc.participants.starts
    if st is None:
        raise UsageError(f"scenario '{sc.name}' has a delivery section; sizes are scaled on participants.starts")
    if st.kind == "schedule":
        return float(sum(st.per_period))
    return float(sc.participants.max_participants)


def scale_scenario(sc, factor: float, *, fixed_cost_elasticity: float = 1.0):
    """A copy of ``sc`` with the cohort ``factor`` times as large (see the module docstring)."""
    if not (np.isfinite(factor) and factor > 0):
        raise UsageError(f"size factor must be a number > 0; got {factor}")
    if sc.delivery is not None:
        raise UsageError(f"scenario '{sc.name}' has a delivery section; sizes are scaled on participants.starts")
    d = to_dict(sc)
    p = d["participants"]
    st = p["starts"]
    if st["kind"] == "schedule":
        st["per_period"] = _whole(st["per_period"], factor)
        if sum(st["per_period"]) == 0:
            raise UsageError(f"size factor {factor:g} leaves no participants")
    else:
        st["rate_per_period"] = [r * factor for r in st["rate_per_period"]]
    if p.get("max_participants") is not None:
        p["max_participants"] = max(1, int(round(p["max_participants"] * factor)))
    rc = d["rate_card"]
    if _num(rc.get("cap_total")):
        rc["cap_total"] = rc["cap_total"] * factor
    if rc.get("cap_per_outcome"):
        rc["cap_per_outcome"] = {k: int(round(v * factor)) for k, v in rc["cap_per_outcome"].items()}
    fc = factor ** fixed_cost_elasticity
    co = d.get("costs", {})
    for f in ("fixed_per_period", "setup"):
        if _num(co.get(f)):
            co[f] = co[f] * fc
    fin = d.get("finance", {})
    s = fin.get("sib", {})
    if _num(s.get("capital_commitment")):
        s["capital_commitment"] = s["capital_commitment"] * factor
    for t in s.get("tranches") or ():
        if _num(t.get("principal")):
            t["principal"] = t["principal"] * factor
    if s.get("drawdown_schedule"):
        s["drawdown_schedule"] = [x * factor for x in s["drawdown_schedule"]]
    for tc in fin.get("transaction_costs") or ():
        g = factor ** tc.get("scale_elasticity", 0.0)
        for f in ("one_off", "per_period"):
            if _num(tc.get(f)):
                tc[f] = tc[f] * g
    d["name"] = f"{sc.name} (x{factor:g})"
    return validate(d)


def vfm_metric(sc) -> str:
    """``commissioner_npv`` when the scenario values outcomes, else ``public_cost_pv`` (lower is better)."""
    ap = getattr(sc, "appraisal", None)
    return "commissioner_npv" if ap is not None and ap.value_per_outcome else "public_cost_pv"


@dataclass(frozen=True)
class SizeSweep:
    """Per-trial results of a size sweep: ``values[model][metric]`` is (sizes, trials)."""

    scenario: str
    factors: tuple[float, ...]
    participants: tuple[float, ...]
    models: tuple[str, ...]
    metric: str
    values: dict
    trials: int
    seed: int
    currency: str = "GBP"

    def vfm(self, model: str) -> np.ndarray:
        """(sizes, trials) value for money, higher is better."""
        x = self.values[model][self.metric]
        return -x if self.metric == "public_cost_pv" else x


PARTY_METRICS = ("commissioner_npv", "public_cost_pv", "provider_surplus", "investor_net_gain",
                 "transaction_costs")


def size_sweep(sc, factors, *, trials: int, seed: int, models=("sib", "pbr", "fee"), fixed_cost_elasticity=1.0,
               metric: str | None = None) -> SizeSweep:
    """Simulate ``sc`` scaled by each factor, every model on the same draws (see the module docstring)."""
    from .engine import simulate

    factors = tuple(float(f) for f in factors)
    if not factors:
        raise UsageError("give at least one size factor")
    models = tuple(dict.fromkeys(models))
    own = sc.finance.model
    metric = metric or vfm_metric(sc)
    values = {m: {} for m in models}
    parts = []
    for f in factors:
        s = scale_scenario(sc, f, fixed_cost_elasticity=fixed_cost_elasticity)
        parts.append(participants_of(s))
        run = simulate(s, trials=trials, seed=seed, workers=1, finance=tuple(m for m in models if m != own))
        for m in models:
            res = run.model(m)
            for k in dict.fromkeys((metric, *PARTY_METRICS)):
                if k in res.metrics:
                    values[m].setdefault(k, []).append(np.asarray(res.metrics[k]))
            values[m].setdefault("insolvency", []).append(np.asarray(res.indicators["insolvency"], float))
    values = {m: {k: np.stack(v) for k, v in d.items()} for m, d in values.items()}
    if metric not in values[models[0]]:
        raise UsageError(f"metric {metric!r} is not reported; try commissioner_npv or public_cost_pv")
    return SizeSweep(scenario=sc.name, factors=factors, participants=tuple(parts), models=models, metric=metric,
                     values=values, trials=trials, seed=seed, currency=sc.currency)


def crossings(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """First x at which each column of ``y`` (sizes, m) goes from below 0 to at or above it.

    Linear interpolation between sizes; ``x[0]`` where the column starts at or above 0; nan where it never gets there.
    """
    y = np.asarray(y, dtype=float)
    x = np.asarray(x, dtype=float)
    up = y >= 0
    first = np.argmax(up, axis=0)
    out = np.full(y.shape[1], np.nan)
    hit = up.any(axis=0)
    out[hit & (first == 0)] = x[0]
    mid = hit & (first > 0)
    i = first[mid]
    cols = np.flatnonzero(mid)
    y0, y1 = y[i - 1, cols], y[i, cols]
    out[mid] = x[i - 1] + (x[i] - x[i - 1]) * (-y0) / (y1 - y0)
    return out


def crossover(sw: SizeSweep, other: str, *, model: str = "sib", boot: int = 400, seed: int = 0) -> dict:
    """Cohort size at which ``model``'s value for money overtakes ``other``'s, with a bootstrap interval.

    Returns participants (point estimate; nan if not within the sizes swept,
    the smallest size if ``model`` is already ahead), p5 and p95 of the
    bootstrap estimates (over resampled trials, the same resample at every
    size: Monte Carlo error) and the share of resamples with no crossing in
    range; and ``trial_p5/p50/p95``, the spread of each trial's own crossing
    (the uncertainty about the inputs: effect, costs), with the share of
    trials in which the SIB never overtakes within the sizes swept.
    """
    diff = sw.vfm(model) - sw.vfm(other)  # (sizes, trials)
    x = np.asarray(sw.participants)
    est = float(crossings(x, diff.mean(axis=1)[:, None])[0])
    rng = np.random.default_rng(seed)
    n = diff.shape[1]
    means = np.stack([diff[:, rng.integers(0, n, n)].mean(axis=1) for _ in range(boot)], axis=1)
    b = crossings(x, means)
    ok = b[~np.isnan(b)]
    per = crossings(x, diff)  # each trial's own crossing
    pk = per[~np.isnan(per)]
    q = (lambda a, p: float(np.percentile(a, p)) if a.size else float("nan"))
    return {"model": model, "other": other, "participants": est, "p5": q(ok, 5), "p95": q(ok, 95),
            "share_no_crossing": float(np.mean(np.isnan(b))),
            "trial_p5": q(pk, 5), "trial_p50": q(pk, 50), "trial_p95": q(pk, 95),
            "trial_share_no_crossing": float(np.mean(np.isnan(per)))}


def table(sw: SizeSweep):
    """pandas DataFrame, one row per size: each model's mean value for money (± mcse), P(SIB better), best model per party."""
    import pandas as pd

    rows = []
    for i, (f, n) in enumerate(zip(sw.factors, sw.participants)):
        row = {"factor": f, "participants": n}
        for m in sw.models:
            v = sw.vfm(m)[i]
            row[f"{m}_vfm"] = float(v.mean())
            row[f"{m}_vfm_mcse"] = float(v.std(ddof=1) / np.sqrt(v.size))
            row[f"{m}_p_insolvency"] = float(sw.values[m]["insolvency"][i].mean())
            row[f"{m}_provider_surplus"] = float(sw.values[m]["provider_surplus"][i].mean())
        if "sib" in sw.models:
            for m in sw.models:
                if m != "sib":
                    row[f"p_sib_better_than_{m}"] = float(np.mean(sw.vfm("sib")[i] > sw.vfm(m)[i]))
        row["best_for_commissioner"] = max(sw.models, key=lambda m: row[f"{m}_vfm"])
        row["best_for_provider"] = min(sw.models, key=lambda m: (row[f"{m}_p_insolvency"], -row[f"{m}_provider_surplus"]))
        rows.append(row)
    return pd.DataFrame(rows)
