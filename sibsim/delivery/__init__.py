"""Delivery as discrete events: referrals, caseworker capacity, waiting lists (MODEL.md s.7).

``simulate_delivery(delivery, params, horizon_periods=..., seed=..., trial_offset=..., n_trials=...)``
turns a scenario's ``delivery`` section into the starts and engagement per
period, shaped (trials, periods), that the cohorts consume (MODEL.md s.2),
plus delivery metrics (waits, drop-outs, utilisation). :mod:`.model` holds the
SimPy processes of one trial; :mod:`.run` draws the randomness, takes the
vectorised fast path where capacity cannot bind, and loops over the rest.
"""

from .run import DeliveryResult, simulate_delivery

__all__ = ["DeliveryResult", "simulate_delivery"]
