"""Measured outcomes of each cohort in three worlds, and the comparison groups they are measured against.

Worlds, all on common random numbers within a trial:

* ``tr``: treated, the effect the trial drew;
* ``cf``: counterfactual, nobody treated: zero true effect by construction, so
  the measurement applied to it gives the chance of paying for nothing (the
  commissioner's measurement risk);
* ``tg``: the effect exactly at the scenario's ``target_effect`` (the
  investor's measurement risk is the chance this world is not paid).

Cohort-level simulation (docs/model.md s.6.1, counts and binary outcomes): for each
cohort the engaged and the other starters are two groups. A count outcome's
counterfactual events in a group of size ``m`` are ``Poisson(L)`` with
``L = m * mu0``, or, overdispersed, ``L ~ Gamma(m / k, k * mu0)`` (each person
gamma-Poisson with variance ``mu0 + k mu0^2``; sums of such people are again
negative binomial). The treated events of the engaged thin each
counterfactual event with probability equal to the relative reduction
(``Binomial(E0, r)`` events removed), or add ``Poisson(L * (f - 1))`` events
for a mean multiplied by ``f > 1``. A binary outcome is ``Binomial(m, p0)``
achievers; the treated world removes achievers with probability
``1 - p1 / p0`` or adds non-achievers with probability ``(p1 - p0) / (1 - p0)``.
Removals and additions are drawn by inversion (``ppf``) of one uniform per
trial and cohort, shared by the ``tr`` and ``tg`` worlds, so a larger effect
never gives a worse measured result, trial by trial, and a beneficial effect
never gives fewer additional outcomes than zero.

``from_outcome`` measured outcomes read the participant pass's achievements by
start period (``Cohort.by_start_tr/cf``); their target world reruns the pass
with the outcome's effect set to the target (the same participant uniforms).

Draws use their own streams, ``(20, outcome, cohort, kind)`` and
``(21, outcome, cohort, kind)``, names hashed, so a trial's numbers do not
depend on chunking and adding a point or a cohort leaves the others alone
(docs/model.md s.13).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np

from .. import draw
from ..cohorts import value

SIM, COMPARISON, ESTIMATE = 20, 21, 22


def key(*parts) -> tuple[int, ...]:
    """A stream id: integers kept, names hashed (stable across runs and machines)."""
    return tuple(p if isinstance(p, int) else int.from_bytes(hashlib.blake2b(p.encode(), digest_size=4).digest(),
                                                             "little") for p in parts)


def draws(d: draw.BlockDraws, stream, method: str, *args) -> np.ndarray:
    """(n,) draws of ``Generator.<method>(*args)``, block by block, each arg an (n,) array."""
    args = [np.broadcast_to(np.asarray(a), (d.n,)) for a in args]
    out = np.empty(d.n)
    for j, g in enumerate(d.generators(stream)):
        sl = slice(j * draw.BLOCK, (j + 1) * draw.BLOCK)
        out[sl] = getattr(g, method)(*(a[sl] for a in args))
    return out


@dataclass
class Totals:
    """One measured outcome, by cohort: (n, C) arrays.

    size: the measured population; tr, cf, tg: events (count) or achievers
    (binary) among it, in each world (tg None without a target); level: (n,)
    counterfactual events per person or probability, around which comparison
    groups are drawn.
    """

    size: np.ndarray
    tr: np.ndarray
    cf: np.ndarray
    tg: np.ndarray | None
    level: np.ndarray


def _factor(mo, level, size):
    """Multiplier of the engaged's counterfactual level for an effect ``size`` (relative or absolute)."""
    sign = 1.0 if mo.direction == "increase" else -1.0
    if mo.effect.type == "relative":
        f = 1.0 + sign * size
    else:
        with np.errstate(divide="ignore", invalid="ignore"):
            f = np.where(level > 0, (level + sign * size) / level, 1.0)
    if mo.kind == "binary":
        with np.errstate(divide="ignore", invalid="ignore"):
            f = np.where(level > 0, np.clip(level * f, 0.0, 1.0) / level, 1.0)
    return np.maximum(f, 0.0)


def _change(mo, cf_events, intensity, level, group, f, u):
    """Treated events of the engaged: counterfactual events thinned (f < 1) or added to (f > 1)."""
    from scipy import stats  # imported on use: slow to import, and only measured scenarios need it

    f = np.broadcast_to(f, cf_events.shape)
    with np.errstate(divide="ignore", invalid="ignore"):
        removed = stats.binom.ppf(u, cf_events, np.clip(1.0 - f, 0.0, 1.0))
        if mo.kind == "count":
            added = stats.poisson.ppf(u, intensity * np.maximum(f - 1.0, 0.0))
        else:
            p_add = np.where(level < 1, np.clip(level * (f - 1.0) / (1.0 - level), 0.0, 1.0), 0.0)
            added = stats.binom.ppf(u, group - cf_events, p_add)
    removed = np.nan_to_num(np.maximum(removed, 0.0))
    added = np.nan_to_num(np.maximum(added, 0.0))
    return np.where(f < 1.0, cf_events - removed, np.where(f > 1.0, cf_events + added, cf_events))


def _group(mo, d, stream, m, level, k):
    """Counterfactual events (count) or achievers (binary) of a group of ``m`` people, and its intensity."""
    if mo.kind == "binary":
        return draws(d, (*stream, 0), "binomial", np.rint(m).astype(np.int64), np.clip(level, 0, 1)), m * level
    lam = m * level
    if np.any(k > 0):
        with np.errstate(divide="ignore", invalid="ignore"):
            shape = np.where(k > 0, m / k, 0.0)
        mixed = draws(d, (*stream, 1), "gamma", np.maximum(shape, 1e-300), k * level)
        lam = np.where((k > 0) & (m > 0), mixed, lam)
    return draws(d, (*stream, 0), "poisson", lam), lam


def cohort_totals(sc, mo, params, cohort, d, bounds) -> Totals:
    """Simulate measured outcome ``mo`` for each cohort (``bounds``: first, last start period)."""
    if mo.from_outcome is not None:
        return _from_outcome(sc, mo, params, cohort, d, bounds)
    n, C = d.n, len(bounds)
    level = np.broadcast_to(np.maximum(value(mo.baseline, params), 0.0), (n,)).astype(float)
    k = np.broadcast_to(np.maximum(value(mo.overdispersion, params), 0.0), (n,)).astype(float)
    f_tr = _factor(mo, level, value(mo.effect.size, params))
    f_tg = None if mo.target_effect is None else _factor(mo, level, value(mo.target_effect, params))
    out = {w: np.zeros((n, C)) for w in ("size", "tr", "cf", "tg")}
    for c, (a, b) in enumerate(bounds):
        s = key(SIM, mo.name, sc.measurement.cohorts[c].name)
        eng = cohort.engaged_starts[:, a:b + 1].sum(axis=1)
        rest = cohort.starts[:, a:b + 1].sum(axis=1) - eng
        cf_e, lam_e = _group(mo, d, (*s, 0), eng, level, k)
        u = d.uniform((*s, 2))
        out["cf"][:, c] = cf_e
        out["tr"][:, c] = _change(mo, cf_e, lam_e, level, eng, f_tr, u)
        if f_tg is not None:
            out["tg"][:, c] = _change(mo, cf_e, lam_e, level, eng, f_tg, u)
        out["size"][:, c] = eng
        if mo.population == "all":
            cf_r, _ = _group(mo, d, (*s, 1), rest, level, k)
            for w in ("cf", "tr", "tg"):
                out[w][:, c] += cf_r
            out["size"][:, c] += rest
    return Totals(out["size"], out["tr"], out["cf"], out["tg"] if f_tg is not None else None, level)


def _unconditional_p0(sc, name, params):
    """Counterfactual probability of a rate-card outcome, through its chain of prerequisites."""
    by = {o.name: o for o in sc.outcomes}
    p, o = 1.0, by[name]
    while True:
        p = p * np.clip(value(o.baseline, params), 0.0, 1.0)
        if o.requires is None:
            return p
        o = by[o.requires]


def _from_outcome(sc, mo, params, cohort, d, bounds) -> Totals:
    from ..cohorts import simulate_cohort

    k = [o.name for o in sc.outcomes].index(mo.from_outcome)
    tg_cohort = None
    if mo.target_effect is not None:
        o = sc.outcomes[k]
        target = o.model_copy(update={"effect": o.effect.model_copy(update={"size": mo.target_effect})})
        outcomes = tuple(target if j == k else x for j, x in enumerate(sc.outcomes))
        sc_tg = sc.model_copy(update={"outcomes": outcomes})
        if sc.delivery is None:
            tg_cohort = simulate_cohort(sc_tg, params, d)
        else:
            tg_cohort = simulate_cohort(sc_tg, params, d, delivery_starts=cohort.starts.astype(np.int64),
                                        delivery_engaged=cohort.engaged_starts.astype(np.int64))
    cut = lambda x: np.stack([x[:, a:b + 1].sum(axis=1) for a, b in bounds], axis=1)  # noqa: E731
    level = np.broadcast_to(_unconditional_p0(sc, mo.from_outcome, params), (d.n,)).astype(float)
    return Totals(cut(cohort.starts), cut(cohort.by_start_tr[:, k]), cut(cohort.by_start_cf[:, k]),
                  None if tg_cohort is None else cut(tg_cohort.by_start_tr[:, k]), level)


def comparison(sc, mo, params, d, totals: Totals) -> tuple[np.ndarray, np.ndarray] | None:
    """(events or achievers, members) of each cohort's comparison group, (n, C); None if known exactly.

    Drawn around the counterfactual level (times ``1 + drift`` for a
    historical baseline); one group per cohort, shared by every point that
    measures the cohort, so a pooled result is measured against the union of
    the cohorts' groups. The ``estimate`` design has no group (None).
    """
    des = mo.design
    if des.kind == "estimate":
        return None
    level = totals.level * (1.0 + value(des.drift, params))
    if mo.kind == "binary":
        level = np.clip(level, 0.0, 1.0)
    if des.size is None and des.size_per_participant is None:
        return None
    if des.size is not None:
        size = np.broadcast_to(np.asarray(value(des.size, params), dtype=float), (d.n,))
        members = np.repeat(np.maximum(np.rint(size), 1.0)[:, None], totals.size.shape[1], axis=1)
    else:
        ratio = np.broadcast_to(np.asarray(value(des.size_per_participant, params), dtype=float), (d.n,))
        members = np.rint(totals.size * ratio[:, None])
        members = np.where(totals.size > 0, np.maximum(members, 1.0), 0.0)
    k = np.broadcast_to(np.maximum(value(mo.overdispersion, params), 0.0), (d.n,)).astype(float)
    events = np.zeros_like(members)
    for c, coh in enumerate(sc.measurement.cohorts):
        events[:, c], _ = _group(mo, d, key(COMPARISON, mo.name, coh.name), members[:, c], level, k)
    return events, members


def exact_level(mo, params, totals: Totals) -> np.ndarray:
    """(n,) the historical baseline known without sampling error: level times ``1 + drift``."""
    lv = totals.level * (1.0 + value(mo.design.drift, params))
    return np.clip(lv, 0.0, 1.0) if mo.kind == "binary" else lv
