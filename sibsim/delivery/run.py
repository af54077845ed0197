"""Drive the delivery model over a block of trials (docs/model.md s.12 feeding s.3).

:func:`simulate_delivery` resolves the scenario's ``delivery`` section with
each trial's parameter draws and returns the starts and engagement per period
that the cohorts consume, plus delivery metrics.

Randomness. Trial ``i`` of a run draws only from
``default_rng(SeedSequence(seed, spawn_key=(7, i)))`` (7 is the delivery
stream), in a fixed order: ``2 x H`` uniforms first (referral counts per
period by the Poisson inverse CDF, and engagement on the fast path), then, for
an event trial, per-referral arrays (offset in the period, standard
exponentials for patience and service, engagement uniform). Results therefore
do not depend on how trials are split into chunks or processes, and runs that
differ only in capacity, patience or service time share their referrals and
people (common random numbers).

Fast path. Given a trial's referral counts ``N_t``, at most
``A_t = min(N_0 + ... + N_t, max_participants)`` people can have been admitted
by the end of period ``t``, and nobody can be in service who was not admitted.
If ``A_t <= capacity_t`` in every period, every admitted referral finds a free
slot on arrival (no one waits, so no one drops out), whatever the service
times. The trial's event simulation is then skipped: starts are ``diff(A)``
and engaged ``Binomial(starts_t, engagement)``, computed for all such trials at
once. The rule is exact per trial, not a quantile bound, so the fast path is
taken exactly when capacity cannot bind; it gives the same starts as the event
path on the same seed and the same distribution of engagement.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import stats

from ..errors import UsageError
from ..spec.delivery import Delivery
from .model import TrialInputs, simulate_trial

STREAM = 7  # spawn_key prefix of the delivery stream (docs/model.md s.13)

METRICS = (
    "referrals", "turned_away", "dropouts_waiting", "waiting_at_end", "mean_wait_periods",
    "mean_time_on_list_periods", "mean_queue_length", "caseworker_utilisation", "starts_short_of_plan",
    "events", "fast_path",
)


@dataclass(frozen=True)
class DeliveryResult:
    """Starts and engagement per period, and delivery metrics, for a block of trials.

    - ``starts`` (trials, periods) int64: people allocated a caseworker in each
      period, i.e. who start the programme (docs/model.md s.3 ``s_t``).
    - ``engaged`` (trials, periods) int64: of those, who engage.
    - ``referrals`` (trials, periods) int64: referrals arriving in each period,
      including any turned away at the contract maximum.
    - ``metrics``: name -> (trials,) float64, names prefixed ``delivery.``:

      ``referrals``, ``turned_away`` (referred once starts plus the waiting
      list had reached ``max_participants``), ``dropouts_waiting``,
      ``waiting_at_end`` (still on the list at the horizon),
      ``mean_wait_periods`` (mean wait of those who started; NaN if nobody
      did), ``mean_time_on_list_periods`` (of everyone who left the list,
      started or dropped out; the ``W`` of Little's law), ``mean_queue_length``
      (time average over the horizon), ``caseworker_utilisation`` (busy
      slot-time / available slot-time over the horizon; a fast-path trial
      reports its expectation given the starts), ``starts_short_of_plan``
      (planned starts minus actual starts, where planned = expected referrals
      over the horizon with this trial's volume and no loss, capped at
      ``max_participants``; negative when referrals beat the plan),
      ``events`` (model events simulated; 0 on the fast path) and
      ``fast_path`` (1 if the trial skipped the event simulation).
    """

    starts: np.ndarray
    engaged: np.ndarray
    referrals: np.ndarray
    metrics: dict[str, np.ndarray]


def trial_rng(seed: int, trial: int) -> np.random.Generator:
    """The delivery stream of trial ``trial`` of the run with ``seed``."""
    return np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(STREAM, trial)))


def _resolve(d: Delivery, field: str, params: dict[str, np.ndarray], n: int) -> np.ndarray:
    """A ``Value`` field as an (n,) float array: a number repeated, or the named parameter's draws."""
    v = getattr(d, field)
    if not isinstance(v, str):
        return np.full(n, float(v))
    if v not in params:
        given = ", ".join(sorted(params)) or "(none)"
        raise UsageError(f"delivery.{field}: parameter '{v}' has no draws; parameters given: {given}")
    a = np.asarray(params[v], dtype=float)
    if a.shape != (n,):
        raise UsageError(f"delivery.{field}: draws of '{v}' must have shape ({n},) (one per trial); got {a.shape}")
    return a


def referral_means(d: Delivery, volume: np.ndarray, horizon: int) -> np.ndarray:
    """Expected referrals (trials, periods): base rate x ramp x volume.

    The ramp is ``min(1, tau / R)`` in continuous time, averaged over each
    period, i.e. ``min(1, (t + 0.5) / R)``; rates are constant within a period.
    """
    base = np.zeros(horizon)
    r = np.asarray(d.referrals_per_period[:horizon], dtype=float)
    base[: len(r)] = r
    if d.ramp_up_periods:
        base *= np.minimum(1.0, (np.arange(horizon) + 0.5) / d.ramp_up_periods)
    return volume[:, None] * base[None, :]


def capacity_slots(d: Delivery, params: dict[str, np.ndarray], n: int, horizon: int) -> np.ndarray:
    """Caseworker slots (trials, periods): ``floor(caseworkers_t * caseload)`` (fractional staff allowed)."""
    caseload = np.maximum(_resolve(d, "caseload", params, n), 0.0)
    if d.hiring is not None:
        h = np.asarray(d.hiring[:horizon], dtype=float)
        staff = np.concatenate([h, np.full(horizon - len(h), h[-1])])[None, :]
    else:
        staff = np.maximum(_resolve(d, "caseworkers", params, n), 0.0)[:, None] * np.ones(horizon)
    return np.floor(staff * caseload[:, None] + 1e-9).astype(np.int64)


def _expected_slot_time(engaged: np.ndarray, service: np.ndarray, fixed: bool) -> np.ndarray:
    """Expected busy slot-time within the horizon (trials,) given engaged starts (trials, H).

    An engaged start in period ``t`` arrives uniformly in ``[t, t+1)`` and holds
    its slot for ``min(S, H - arrival)``; ``S`` is fixed or exponential with
    mean ``service`` (trials,).
    """
    h = engaged.shape[1]
    r0 = (h - 1 - np.arange(h))[None, :].astype(float)
    s = service[:, None]
    if fixed:
        part = (s * s - r0 * r0) / 2 + s * (r0 + 1 - s)
        g = np.where(s <= r0, s, np.where(s >= r0 + 1, r0 + 0.5, part))
    else:
        with np.errstate(divide="ignore", invalid="ignore"):
            g = s - s * s * (np.exp(-r0 / s) - np.exp(-(r0 + 1) / s))
        g = np.where(s > 0, g, 0.0)
    return (engaged * g).sum(axis=1)


def simulate_delivery(delivery: Delivery, params: dict[str, np.ndarray], *, horizon_periods: int, seed: int,
                      trial_offset: int, n_trials: int, max_participants: int | None = None,
                      force_events: bool = False) -> DeliveryResult:
    """Starts and engagement per period for trials ``trial_offset .. trial_offset + n_trials - 1``.

    ``params`` maps parameter names to (n_trials,) float64 draws; only the
    names ``delivery`` refers to are read. Drawn values outside a field's
    range are clipped to it (volume, caseworkers, caseload and service >= 0,
    engagement in [0, 1], patience > 0), as the engine clips probabilities.
    ``max_participants`` caps total starts: a referral is turned away when
    starts plus the waiting list already reach it. ``force_events`` runs the
    event simulation even where the fast path would do (for tests).
    """
    h, n = int(horizon_periods), int(n_trials)
    if h < 1:
        raise UsageError(f"horizon_periods must be >= 1; got {horizon_periods}")
    if n < 0 or trial_offset < 0:
        raise UsageError(f"n_trials and trial_offset must be >= 0; got {n_trials}, {trial_offset}")
    if max_participants is not None and max_participants < 0:
        raise UsageError(f"max_participants must be >= 0 or None; got {max_participants}")
    cap = math.inf if max_participants is None else int(max_participants)

    volume = np.maximum(_resolve(delivery, "volume", params, n), 0.0)
    engagement = np.clip(_resolve(delivery, "engagement", params, n), 0.0, 1.0)
    service = np.maximum(_resolve(delivery, "service_periods", params, n), 0.0)
    patience = (None if delivery.patience_mean_periods is None
                else np.maximum(_resolve(delivery, "patience_mean_periods", params, n), 1e-12))
    means = referral_means(delivery, volume, h)
    capacity = capacity_slots(delivery, params, n, h)

    rngs = [trial_rng(seed, trial_offset + j) for j in range(n)]
    u = np.stack([g.random((2, h)) for g in rngs]) if n else np.zeros((0, 2, h))
    referrals = np.maximum(stats.poisson.ppf(u[:, 0], means), 0).astype(np.int64)
    admitted = np.minimum(np.cumsum(referrals, axis=1), cap)
    fast = np.all(admitted <= capacity, axis=1) & (not force_events)

    starts = np.diff(admitted, axis=1, prepend=0).astype(np.int64)
    engaged = np.maximum(stats.binom.ppf(u[:, 1], starts, engagement[:, None]), 0).astype(np.int64)
    n_starts = starts.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        wait = np.where(n_starts > 0, 0.0, np.nan)
        util = _expected_slot_time(engaged, service, delivery.service_dist == "fixed") / capacity.sum(axis=1)
    m = {
        "referrals": referrals.sum(axis=1).astype(float),
        "turned_away": (referrals.sum(axis=1) - n_starts).astype(float),
        "dropouts_waiting": np.zeros(n), "waiting_at_end": np.zeros(n),
        "mean_wait_periods": wait, "mean_time_on_list_periods": wait.copy(),
        "mean_queue_length": np.zeros(n), "caseworker_utilisation": util, "events": np.zeros(n),
    }

    for j in np.flatnonzero(~fast):
        inputs = _trial_inputs(rngs[j], referrals[j], capacity[j], patience=None if patience is None else patience[j],
                               service=service[j], fixed=delivery.service_dist == "fixed",
                               engagement=engagement[j], max_participants=max_participants)
        starts[j], engaged[j], tm = simulate_trial(inputs)
        for k, v in tm.items():
            m[k][j] = v

    planned = np.minimum(means.sum(axis=1), cap)
    m["starts_short_of_plan"] = planned - starts.sum(axis=1)
    m["fast_path"] = fast.astype(float)
    return DeliveryResult(starts=starts, engaged=engaged, referrals=referrals,
                          metrics={f"delivery.{k}": m[k] for k in METRICS})


def _trial_inputs(rng: np.random.Generator, counts: np.ndarray, capacity: np.ndarray, *, patience: float | None,
                  service: float, fixed: bool, engagement: float, max_participants: int | None) -> TrialInputs:
    """Draw one event trial's people (after the 2 x H uniforms already taken from ``rng``)."""
    total = int(counts.sum())
    offset = np.minimum(rng.random(total), 1 - 1e-9)
    arrivals = np.sort(np.repeat(np.arange(len(counts)), counts) + offset)
    e_patience = rng.standard_exponential(total)
    e_service = rng.standard_exponential(total)
    engages = rng.random(total) < engagement
    return TrialInputs(
        arrival_periods=arrivals,
        patience_periods=None if patience is None else patience * e_patience,
        service_periods=np.full(total, service) if fixed else service * e_service,
        engages=engages,
        capacity=capacity,
        max_participants=max_participants,
    )
