"""Drive the delivery model over a block of trials (docs/model.md s.12 feeding s.3).

:func:`simulate_delivery` resolves the scenario's ``delivery`` section with
each trial's parameter draws and returns the starts and engagement per period
that the cohorts consume, plus delivery metrics.

Randomness: a counter-based stream (:mod:`.draws`) addressed by (seed,
trial, item, draw), so results do not depend on how trials are split into
chunks or processes, and runs that differ only in capacity, patience or
service time share their referrals and people (common random numbers).

Engines. ``fast`` (the default) is one compiled pass per trial over its
referrals in arrival order (:mod:`.fast`, ``_queue.c``); ``simpy`` runs the
discrete-event reference (:mod:`.model`) on the same random numbers. They give
the same starts, engagement and counts trial by trial, and the same time
averages up to rounding (tests/test_delivery_fast.py), so the choice changes
speed, not results. Choose with ``engine=`` or the environment variable
``SIBSIM_DELIVERY=fast|simpy``.
"""

from __future__ import annotations

import math
import os
import sys
from dataclasses import dataclass

import numpy as np

from .. import draw
from ..errors import UsageError
from ..spec.delivery import Delivery
from . import draws

ENGINES = ("fast", "simpy")
ENV = "SIBSIM_DELIVERY"

METRICS = (
    "referrals", "turned_away", "dropouts_waiting", "waiting_at_end", "mean_wait_periods",
    "mean_time_on_list_periods", "mean_queue_length", "caseworker_utilisation", "starts_short_of_plan",
    "events",
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
      slot-time / available slot-time over the horizon), ``starts_short_of_plan``
      (planned starts minus actual starts, where planned = expected referrals
      over the horizon with this trial's volume and no loss, capped at
      ``max_participants``; negative when referrals beat the plan),
      ``events`` (referrals, allocations, drop-outs, departures before the
      horizon and capacity changes: the events a discrete-event run simulates).
    """

    starts: np.ndarray
    engaged: np.ndarray
    referrals: np.ndarray
    metrics: dict[str, np.ndarray]


_NOTICE_SHOWN = False


def fast_available() -> bool:
    """Whether the compiled delivery pass (``_queue.c``) was built at install."""
    try:
        from . import _queue  # noqa: F401
    except ImportError:
        return False
    return True


def engine_choice(engine: str | None) -> str:
    """``engine``, or the ``SIBSIM_DELIVERY`` environment variable, or ``fast`` (``simpy``, its reference, with a
    one-line notice, where the compiled pass was not built: same results, slower); checked."""
    global _NOTICE_SHOWN
    src = f"engine={engine!r}"
    if engine is None:
        engine = os.environ.get(ENV) or ("fast" if fast_available() else "simpy")
        src = f"{ENV}={engine!r}"
        if engine == "simpy" and not os.environ.get(ENV) and not _NOTICE_SHOWN:
            _NOTICE_SHOWN = True
            print("sibsim: compiled delivery pass not built (no C compiler at install?); using the SimPy "
                  "reference model (same results, slower)", file=sys.stderr)
    if engine not in ENGINES:
        raise UsageError(f"delivery engine: {src} is not known; allowed: {', '.join(ENGINES)}")
    if engine == "fast" and not fast_available():
        raise UsageError(f"delivery engine: {src} needs the compiled delivery pass, which was not built at install; "
                         f"use {ENV}=simpy")
    return engine


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


def capacity_events(capacity: np.ndarray) -> np.ndarray:
    """Capacity changes per trial as the event model counts them (blockers re-targeted)."""
    top = np.maximum(capacity.max(axis=1, initial=0), 1)
    varying = capacity.min(axis=1, initial=0) < top
    changes = (capacity[:, 0] < top).astype(np.int64) + (np.diff(capacity, axis=1) != 0).sum(axis=1)
    return np.where(varying, changes, 0)


def simulate_delivery(delivery: Delivery, params: dict[str, np.ndarray], *, horizon_periods: int, seed: int,
                      trial_offset: int, n_trials: int, max_participants: int | None = None,
                      engine: str | None = None) -> DeliveryResult:
    """Starts and engagement per period for trials ``trial_offset .. trial_offset + n_trials - 1``.

    ``params`` maps parameter names to (n_trials,) float64 draws; only the
    names ``delivery`` refers to are read. Drawn values outside a field's
    range are clipped to it (volume, caseworkers, caseload and service >= 0,
    engagement in [0, 1], patience > 0), as the engine clips probabilities.
    ``max_participants`` caps total starts: a referral is turned away when
    starts plus the waiting list already reach it. ``engine`` is ``fast`` or
    ``simpy`` (default: the ``SIBSIM_DELIVERY`` environment variable, else
    ``fast``); both give the same results.
    """
    h, n = int(horizon_periods), int(n_trials)
    if h < 1:
        raise UsageError(f"horizon_periods must be >= 1; got {horizon_periods}")
    if n < 0 or trial_offset < 0:
        raise UsageError(f"n_trials and trial_offset must be >= 0; got {n_trials}, {trial_offset}")
    if max_participants is not None and max_participants < 0:
        raise UsageError(f"max_participants must be >= 0 or None; got {max_participants}")
    engine = engine_choice(engine)
    cap = math.inf if max_participants is None else int(max_participants)

    volume = np.maximum(_resolve(delivery, "volume", params, n), 0.0)
    engagement = np.clip(_resolve(delivery, "engagement", params, n), 0.0, 1.0)
    service = np.maximum(_resolve(delivery, "service_periods", params, n), 0.0)
    patience = (None if delivery.patience_mean_periods is None
                else np.maximum(_resolve(delivery, "patience_mean_periods", params, n), 1e-12))
    fixed = delivery.service_dist == "fixed"
    means = referral_means(delivery, volume, h)
    capacity = capacity_slots(delivery, params, n, h)
    key = draw.stream_key(seed, draw.DELIVERY)
    referrals = draws.referral_counts(key, trial_offset, means)

    if engine == "fast":
        from .fast import delivery_pass

        starts, engaged, t = delivery_pass(key, trial_offset, referrals, capacity, patience=patience, service=service,
                                           fixed=fixed, engagement=engagement, max_participants=max_participants)
        n_start = t["starts"]
        left = n_start + t["dropouts_waiting"]
        with np.errstate(invalid="ignore", divide="ignore"):
            m = {
                "referrals": t["referrals"], "turned_away": t["turned_away"],
                "dropouts_waiting": t["dropouts_waiting"], "waiting_at_end": t["waiting_at_end"],
                "mean_wait_periods": np.where(n_start > 0, t["wait_started"] / n_start, np.nan),
                "mean_time_on_list_periods": np.where(left > 0, (t["wait_started"] + t["wait_dropped"]) / left, np.nan),
                "mean_queue_length": t["queue_area"] / h,
                "caseworker_utilisation": t["busy_area"] / capacity.sum(axis=1),
                "events": t["events"] + capacity_events(capacity),
            }
    else:
        from .model import TrialInputs, simulate_trial

        starts = np.zeros((n, h), np.int64)
        engaged = np.zeros((n, h), np.int64)
        m = {k: np.zeros(n) for k in METRICS if k != "starts_short_of_plan"}
        for j in range(n):
            arrivals, pat, svc, engages = draws.trial_inputs(
                key, trial_offset + j, referrals[j], patience=None if patience is None else patience[j],
                service=service[j], fixed=fixed, engagement=engagement[j])
            inputs = TrialInputs(arrival_periods=arrivals, patience_periods=pat, service_periods=svc,
                                 engages=engages, capacity=capacity[j], max_participants=max_participants)
            starts[j], engaged[j], tm = simulate_trial(inputs)
            for k, v in tm.items():
                m[k][j] = v

    planned = np.minimum(means.sum(axis=1), cap)
    m["starts_short_of_plan"] = planned - starts.sum(axis=1)
    return DeliveryResult(starts=starts, engaged=engaged, referrals=referrals,
                          metrics={f"delivery.{k}": np.asarray(m[k], dtype=float) for k in METRICS})
