"""Benchmark the delivery model where capacity binds: simulated events per wall second.

A monthly employment programme: referrals ramp up over 6 months to 25 a month
for 24 months, caseworkers are hired 2 -> 4 (caseload 12, so 24 -> 48 slots),
engaged participants are served for 3 months on average and people on the
waiting list give up after 2 months on average. The offered load (25 x 0.75 x
3 = 56 cases) exceeds capacity, so every trial runs the event simulation.

    .venv/bin/python benchmarks/bench_delivery.py [--trials 1000] [--seed 1]

Prints wall time, model events (referrals, allocations, drop-outs, departures,
capacity changes) and events per second, plus a few delivery metrics.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from sibsim.delivery import simulate_delivery
from sibsim.spec.delivery import Delivery

DELIVERY = Delivery(
    referrals_per_period=[25.0] * 24,
    ramp_up_periods=6,
    volume="referral_volume",
    caseworkers=None,
    hiring=[2] * 3 + [3] * 3 + [4],
    caseload=12,
    patience_mean_periods=2.0,
    engagement="engagement",
    service_periods=3.0,
    service_dist="exponential",
)
HORIZON = 36


def main(argv: list[str] | None = None) -> dict[str, float]:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--trials", type=int, default=1000)
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args(argv)
    n = args.trials
    g = np.random.default_rng(args.seed)
    params = {"referral_volume": g.lognormal(-0.02, 0.2, n), "engagement": g.beta(30, 10, n)}
    t0 = time.perf_counter()
    res = simulate_delivery(DELIVERY, params, horizon_periods=HORIZON, seed=args.seed, trial_offset=0,
                            n_trials=n, max_participants=700)
    wall = time.perf_counter() - t0
    m = res.metrics
    events = float(m["delivery.events"].sum())
    out = {
        "trials": n,
        "wall_seconds": wall,
        "events": events,
        "events_per_second": events / wall,
        "event_trials": float((m["delivery.fast_path"] == 0).sum()),
        "mean_starts": float(res.starts.sum(axis=1).mean()),
        "mean_wait_periods": float(np.nanmean(m["delivery.mean_wait_periods"])),
        "mean_dropouts_waiting": float(m["delivery.dropouts_waiting"].mean()),
        "mean_utilisation": float(m["delivery.caseworker_utilisation"].mean()),
    }
    print(f"delivery: {n} trials in {wall:.2f} s; {events:,.0f} events, "
          f"{out['events_per_second']:,.0f} events/s ({out['event_trials']:.0f} event trials)")
    print(f"  mean starts {out['mean_starts']:.1f}, wait {out['mean_wait_periods']:.2f} periods, "
          f"drop-outs {out['mean_dropouts_waiting']:.1f}, utilisation {out['mean_utilisation']:.2f}")
    return out


if __name__ == "__main__":
    main()
