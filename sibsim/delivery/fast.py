"""The fast delivery model: one compiled pass per trial over its referrals (``_queue.c``).

The SimPy model (:mod:`sibsim.delivery.model`) is the reference: on the same
random numbers (:mod:`sibsim.delivery.draws`) both give the same starts,
engagement and counts per trial, and the same time averages up to rounding
(tests/test_delivery_fast.py). Why one pass in arrival order is exact is
explained in ``_queue.c`` and docs/model.md s.12.
"""

from __future__ import annotations

import numpy as np

from . import _queue

TALLIES = ("referrals", "turned_away", "dropouts_waiting", "waiting_at_end", "wait_started", "wait_dropped",
           "queue_area", "busy_area", "events", "starts")


def delivery_pass(key, first_trial: int, counts: np.ndarray, capacity: np.ndarray, *, patience: np.ndarray | None,
                  service: np.ndarray, fixed: bool, engagement: np.ndarray,
                  max_participants: int | None) -> tuple[np.ndarray, np.ndarray, dict[str, np.ndarray]]:
    """Starts (n, H), engaged (n, H) and per-trial tallies (:data:`TALLIES`) for trials ``first_trial ..``.

    ``counts`` and ``capacity`` (n, H) int; ``patience`` (mean, per trial) or
    None for infinite patience; ``service`` mean (or fixed) service time and
    ``engagement`` per trial. Capacity changes are not counted in ``events``
    (the caller adds them).
    """
    counts = np.ascontiguousarray(counts, dtype=np.int64)
    capacity = np.ascontiguousarray(capacity, dtype=np.int64)
    n, h = counts.shape
    if capacity.shape != (n, h):
        raise ValueError(f"delivery_pass: capacity must have shape {(n, h)}; got {capacity.shape}")
    if (counts < 0).any():
        raise ValueError("delivery_pass: referral counts must be >= 0")
    vec = {}
    for name, v in (("service", service), ("engagement", engagement),
                    ("patience", np.ones(n) if patience is None else patience)):
        vec[name] = np.ascontiguousarray(v, dtype=np.float64)
        if vec[name].shape != (n,):
            raise ValueError(f"delivery_pass: {name} must have shape ({n},); got {vec[name].shape}")
    starts = np.zeros((n, h), np.int64)
    engaged = np.zeros((n, h), np.int64)
    tally = np.zeros((n, len(TALLIES)), np.float64)
    _queue.delivery_pass(n, h, int(key), int(first_trial), -1 if max_participants is None else int(max_participants),
                         patience is not None, bool(fixed), counts, capacity, vec["patience"], vec["service"],
                         vec["engagement"], starts, engaged, tally)
    return starts, engaged, {k: tally[:, j] for j, k in enumerate(TALLIES)}
