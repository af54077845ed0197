"""Delivery as discrete events: referrals, caseworker capacity, waiting lists (docs/model.md s.12).

``simulate_delivery(delivery, params, horizon_periods=..., seed=..., trial_offset=..., n_trials=...)``
turns a scenario's ``delivery`` section into the starts and engagement per
period, shaped (trials, periods), that the cohorts consume (docs/model.md s.3),
plus delivery metrics (waits, drop-outs, utilisation). :mod:`.model` holds the
SimPy processes of one trial; :mod:`.run` draws the randomness, takes the
vectorised fast path where capacity cannot bind, and loops over the rest.
"""

from .run import DeliveryResult, simulate_delivery

__all__ = ["DeliveryResult", "simulate_delivery"]
