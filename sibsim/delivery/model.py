"""One trial of the delivery model as discrete events (SimPy; docs/model.md s.12).

Time is in periods, as floats: period ``t`` is ``[t, t + 1)`` and events fall
anywhere inside it. As in SimPy's own examples, each actor is a generator
function:

- :func:`referrals` -- the referral source: admits each referral onto the
  waiting list, or turns it away once the contract maximum is committed;
- :func:`person` -- one referred person: waits for a caseworker slot (or drops
  out when their patience runs out), starts, engages and is served, or leaves;
- :func:`staffing` -- the service manager: keeps capacity equal to the hiring
  schedule by blocking the slots of caseworkers not (yet) in post.

Slots are one ``PriorityResource`` sized to the largest capacity in the run.
Capacity below that is held by "blocker" requests with priority over the
waiting list, so a falling capacity lets current cases finish (nobody is
dropped mid-service) and then withholds the freed slots; a rising capacity
releases blockers, and their slots go to the head of the waiting list. The
capacity change at the start of period ``t`` is an URGENT event: it comes
before any case ending at the same instant (which matters only with fixed
service times), the rule the fast model (``_queue.c``) follows too.

All randomness is drawn beforehand by the caller (:mod:`sibsim.delivery.run`)
and passed in as arrays indexed by referral order, so the event logic is
deterministic and two runs that differ only in capacity see the same people
(common random numbers).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import simpy

PRIORITY_BLOCKER = 0
PRIORITY_PERSON = 1


@dataclass(frozen=True)
class TrialInputs:
    """One trial's referrals and their pre-drawn fates, indexed by referral order.

    ``arrival_periods`` (N,) sorted arrival times in periods; ``patience_periods``
    (N,) time each would wait before dropping out, or None for infinite
    patience; ``service_periods`` (N,) time an engaged person holds a slot;
    ``engages`` (N,) bool; ``capacity`` (H,) int slots in each period;
    ``max_participants`` the contract maximum on starts, or None.
    """

    arrival_periods: np.ndarray
    patience_periods: np.ndarray | None
    service_periods: np.ndarray
    engages: np.ndarray
    capacity: np.ndarray
    max_participants: int | None


class Ward:
    """The trial's state: slots, waiting list, tallies and time integrals.

    ``starts`` and ``engaged`` are (H,) counts by the period of allocation.
    ``events`` counts model events: referral, allocation, drop-out, departure
    (end of service, or leaving at once without engaging) and capacity change.
    """

    def __init__(self, env: simpy.Environment, inputs: TrialInputs):
        h = len(inputs.capacity)
        self.env = env
        self.inputs = inputs
        # plain lists: indexing them per person is much cheaper than numpy scalars
        self.patience = None if inputs.patience_periods is None else inputs.patience_periods.tolist()
        self.service = inputs.service_periods.tolist()
        self.engages = inputs.engages.tolist()
        self.horizon = h
        slots = max(1, int(inputs.capacity.max()))
        self.varying = int(inputs.capacity.min()) < slots
        # priorities (blockers before the waiting list) are only needed when capacity varies
        self.slots = simpy.PriorityResource(env, slots) if self.varying else simpy.Resource(env, slots)
        self.starts = [0] * h
        self.engaged = [0] * h
        self.waiting = 0
        self.busy = 0
        self.committed = 0
        self.referrals = 0
        self.turned_away = 0
        self.dropouts = 0
        self.wait_started = 0.0
        self.wait_dropped = 0.0
        self.events = 0
        self._last = 0.0
        self.queue_area = 0.0
        self.busy_area = 0.0

    def tick(self) -> None:
        """Accumulate the waiting-list and busy-slot integrals up to now."""
        now = self.env.now
        dt = now - self._last
        if dt:
            self.queue_area += self.waiting * dt
            self.busy_area += self.busy * dt
            self._last = now


def referrals(env: simpy.Environment, ward: Ward):
    """The referral source: one referral at each arrival time, in order."""
    cap = ward.inputs.max_participants
    for i, at in enumerate(ward.inputs.arrival_periods.tolist()):
        yield env.timeout(at - env.now)
        ward.referrals += 1
        ward.events += 1
        if cap is not None and ward.committed >= cap:
            ward.turned_away += 1
            continue
        ward.tick()
        ward.waiting += 1
        ward.committed += 1
        env.process(person(env, ward, i))


def person(env: simpy.Environment, ward: Ward, i: int):
    """One referred person, from joining the waiting list to leaving the service."""
    arrived = env.now
    req = ward.slots.request(priority=PRIORITY_PERSON) if ward.varying else ward.slots.request()
    if ward.patience is None or req.triggered:  # a free slot is granted at once: no wait to give up on
        yield req
    else:
        yield req | env.timeout(ward.patience[i])
        if not req.triggered:
            req.cancel()
            ward.tick()
            ward.waiting -= 1
            ward.committed -= 1
            ward.dropouts += 1
            ward.wait_dropped += env.now - arrived
            ward.events += 1
            return
    ward.tick()
    ward.waiting -= 1
    ward.wait_started += env.now - arrived
    ward.events += 1
    period = min(int(env.now), ward.horizon - 1)
    ward.starts[period] += 1
    if not ward.engages[i]:
        ward.slots.release(req)
        ward.events += 1
        return
    ward.engaged[period] += 1
    ward.busy += 1
    yield env.timeout(ward.service[i])
    ward.tick()
    ward.busy -= 1
    ward.slots.release(req)
    ward.events += 1


class _Urgent(simpy.events.Event):
    """A timeout processed before the ordinary events due at the same instant."""

    def __init__(self, env: simpy.Environment, delay: float):
        super().__init__(env)
        self._ok = True
        self._value = None
        env.schedule(self, simpy.core.URGENT, delay)


def staffing(env: simpy.Environment, ward: Ward):
    """The service manager: block ``max - capacity_t`` slots from the start of period ``t``."""
    slots = ward.slots
    blockers: list = []
    for t, cap in enumerate(ward.inputs.capacity.tolist()):
        if t:
            yield _Urgent(env, t - env.now)
        target = slots.capacity - cap
        if len(blockers) != target:
            ward.events += 1
        while len(blockers) > target:
            req = blockers.pop()
            if req.triggered:
                slots.release(req)
            else:
                req.cancel()
        while len(blockers) < target:
            blockers.append(slots.request(priority=PRIORITY_BLOCKER))


def simulate_trial(inputs: TrialInputs) -> tuple[np.ndarray, np.ndarray, dict[str, float]]:
    """Run one trial to the horizon; return ``starts`` (H,), ``engaged`` (H,) and scalar metrics.

    The metrics are those of :class:`sibsim.delivery.run.DeliveryResult`
    (without the ``delivery.`` prefix) that the event run itself can measure.
    """
    env = simpy.Environment()
    ward = Ward(env, inputs)
    if ward.varying:
        env.process(staffing(env, ward))
    env.process(referrals(env, ward))
    env.run(until=ward.horizon)
    ward.tick()
    starts = np.asarray(ward.starts, dtype=np.int64)
    engaged = np.asarray(ward.engaged, dtype=np.int64)
    n_start = int(starts.sum())
    left_list = n_start + ward.dropouts
    slot_time = float(inputs.capacity.sum())
    metrics = {
        "referrals": float(ward.referrals),
        "turned_away": float(ward.turned_away),
        "dropouts_waiting": float(ward.dropouts),
        "waiting_at_end": float(ward.waiting),
        "mean_wait_periods": ward.wait_started / n_start if n_start else math.nan,
        "mean_time_on_list_periods": (ward.wait_started + ward.wait_dropped) / left_list if left_list else math.nan,
        "mean_queue_length": ward.queue_area / ward.horizon,
        "caseworker_utilisation": ward.busy_area / slot_time if slot_time else math.nan,
        "events": float(ward.events),
    }
    return starts, engaged, metrics
