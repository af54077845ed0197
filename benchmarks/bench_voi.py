"""Benchmark regression EVPPI (one run) against nested Monte Carlo (a run per outer draw): value and wall time.

The Life Chances Fund scenario, options sib, fee and none, willingness to pay
GBP 30,000 per job entry, the parameter ``job_entry_uplift``. Regression
(Strong, Oakley and Brennan 2014): one run of ``--trials`` trials, a P-spline
fit. Nested Monte Carlo: ``--outer`` values of the parameter at the
quantiles ``(k + 0.5) / outer`` of its prior, each a run of ``--inner``
trials with the parameter fixed (common seed), EVPPI = mean over values of
the best option's mean net benefit - the best overall mean. The nested
estimate is biased upward by its inner noise (a max of noisy means); the
regression needs no inner loop. Prints both values with the regression's
standard error, wall times and their ratio.

    .venv/bin/python benchmarks/bench_voi.py [--trials 4000] [--outer 40] [--inner 2000] [--seed 1]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

import sibsim
from sibsim.decision import decision
from sibsim.valueinfo import perfect

ROOT = Path(__file__).resolve().parents[1]
PARAM, WTP, OPTIONS = "job_entry_uplift", 30000, ["sib", "fee", "none"]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--trials", type=int, default=4000)
    ap.add_argument("--outer", type=int, default=40)
    ap.add_argument("--inner", type=int, default=2000)
    ap.add_argument("--seed", type=int, default=1)
    a = ap.parse_args()
    sc = sibsim.load(ROOT / "scenarios" / "life_chances_fund.yaml")

    t0 = time.perf_counter()
    run = sibsim.simulate(sc, trials=a.trials, seed=a.seed, finance=("fee",))
    nb = decision(run, options=OPTIONS, wtp=[WTP]).nb[str(WTP)]
    reg = perfect.evppi(nb, run.params[PARAM], rng=np.random.default_rng(a.seed))
    t_reg = time.perf_counter() - t0

    t0 = time.perf_counter()
    prior = sc.priors[PARAM]
    means = []
    for k in range(a.outer):
        v = float(prior.ppf(np.array([(k + 0.5) / a.outer]))[0])
        r = sibsim.simulate(sc.with_params(**{PARAM: v}), trials=a.inner, seed=a.seed + 1, finance=("fee",))
        means.append(decision(r, options=OPTIONS, wtp=[WTP]).nb[str(WTP)].mean(axis=0))
    means = np.array(means)
    nested = float(means.max(axis=1).mean() - means.mean(axis=0).max())
    t_nest = time.perf_counter() - t0

    print(f"EVPPI({PARAM}) at willingness to pay {WTP:,}, options {', '.join(OPTIONS)}")
    print(f"  regression: {reg.value:10,.0f} ± {reg.se:,.0f}   {a.trials:,} trials   {t_reg:6.1f} s")
    print(f"  nested MC:  {nested:10,.0f}          {a.outer} x {a.inner:,} trials   {t_nest:6.1f} s")
    print(f"  wall-time ratio nested / regression: {t_nest / t_reg:.1f}")


if __name__ == "__main__":
    main()
