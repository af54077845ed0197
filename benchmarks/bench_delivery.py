"""Benchmark the delivery model where capacity binds: simulated events per wall second.

A monthly employment programme: referrals ramp up over 6 months to 25 a month
for 24 months, caseworkers are hired 2 -> 4 (caseload 12, so 24 -> 48 slots),
engaged participants are served for 3 months on average and people on the
waiting list give up after 2 months on average. The offered load (25 x 0.75 x
3 = 56 cases) exceeds capacity, so a waiting list forms in every trial.

    .venv/bin/python benchmarks/bench_delivery.py [--trials 1000] [--seed 1] [--engine fast|simpy]

Prints wall time, model events (referrals, allocations, drop-outs, departures,
capacity changes) and events per second, plus a few delivery metrics. Then the
cost of a 1,000-trial run of the shipped delivery scenario
(scenarios/homelessness_delivery.yaml) relative to the same scenario without
its delivery section (Poisson starts at the same referral rates, drawn by the
vectorised engine), and relative to the same scenario with capacity that
cannot bind (where the delivery model skips the event simulation).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

import sibsim

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
    ap.add_argument("--engine", choices=["fast", "simpy"], default="fast")
    args = ap.parse_args(argv)
    n = args.trials
    g = np.random.default_rng(args.seed)
    params = {"referral_volume": g.lognormal(-0.02, 0.2, n), "engagement": g.beta(30, 10, n)}
    t0 = time.perf_counter()
    res = simulate_delivery(DELIVERY, params, horizon_periods=HORIZON, seed=args.seed, trial_offset=0,
                            n_trials=n, max_participants=700, engine=args.engine)
    wall = time.perf_counter() - t0
    m = res.metrics
    events = float(m["delivery.events"].sum())
    out = {
        "trials": n,
        "wall_seconds": wall,
        "events": events,
        "events_per_second": events / wall,
        "mean_starts": float(res.starts.sum(axis=1).mean()),
        "mean_wait_periods": float(np.nanmean(m["delivery.mean_wait_periods"])),
        "mean_dropouts_waiting": float(m["delivery.dropouts_waiting"].mean()),
        "mean_utilisation": float(m["delivery.caseworker_utilisation"].mean()),
    }
    print(f"delivery ({args.engine} engine): {n} trials in {wall:.2f} s; {events:,.0f} model events, "
          f"{out['events_per_second']:,.0f} events/s")
    print(f"  mean starts {out['mean_starts']:.1f}, wait {out['mean_wait_periods']:.2f} periods, "
          f"drop-outs {out['mean_dropouts_waiting']:.1f}, utilisation {out['mean_utilisation']:.2f}")
    out.update(relative_cost(n, args.seed))
    return out


def relative_cost(trials: int, seed: int) -> dict[str, float]:
    """Wall time of the shipped delivery scenario against the same scenario without (or with ample) delivery."""
    sc = sibsim.load(Path(__file__).resolve().parents[1] / "scenarios" / "homelessness_delivery.yaml")
    d = sibsim.spec.to_dict(sc)
    dv = d.pop("delivery")
    rates = list(dv["referrals_per_period"])
    ramp = dv.get("ramp_up_periods", 0) or 0
    rates = [r * min(1.0, (t + 0.5) / ramp) if ramp else r for t, r in enumerate(rates)]
    plain = dict(d, participants={**d["participants"], "starts": {"kind": "poisson", "rate_per_period": rates,
                                                                  "volume": dv.get("volume", 1.0)},
                                  "engagement": dv.get("engagement", 1.0)})
    ample = dict(d, delivery={**dv, "hiring": None, "caseworkers": 1000})
    times = {}
    for name, scen in (("delivery", sc), ("no_delivery", sibsim.spec.validate(plain)),
                       ("delivery_ample_capacity", sibsim.spec.validate(ample))):
        sibsim.simulate(scen, trials=50, seed=seed)  # warm
        t0 = time.perf_counter()
        sibsim.simulate(scen, trials=trials, seed=seed)
        times[name] = time.perf_counter() - t0
    base = times["no_delivery"]
    print(f"{trials:,} trials of {sc.name}: with delivery {times['delivery']:.2f} s, "
          f"without {base:.2f} s ({times['delivery'] / base:.0f}x); "
          f"with capacity that cannot bind {times['delivery_ample_capacity']:.2f} s "
          f"({times['delivery_ample_capacity'] / base:.1f}x)")
    return {f"{k}_seconds": v for k, v in times.items()} | {"delivery_over_plain": times["delivery"] / base}


if __name__ == "__main__":
    main()
