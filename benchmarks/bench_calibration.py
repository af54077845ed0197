"""Simulation-based calibration of the re-forecast, larger than the test suite's (docs/monitoring.md s.4).

For R truths drawn from the benchmark's priors (trial 0 of seed 5000 + r), observed to each period U in
``--periods``, re-forecast with ``--trials`` trials: the share of 90% intervals of final outcome payments
that cover the truth (with its binomial standard error), the mean interval width, the posterior method
used, and the seconds per re-forecast. With the counterfactual job-entry rate fixed (as from a historical
baseline), the posterior of ``job_entry_uplift``: mean absolute error against the prior's, sd ratio, and
the coverage of its own 90% interval.

    .venv/bin/python benchmarks/bench_calibration.py [--reps 100] [--periods 4,8,12] [--trials 1000] [--json OUT]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

import sibsim
from sibsim.observe import synthesize
from sibsim.posterior import posterior

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reps", type=int, default=100)
    ap.add_argument("--periods", default="4,8,12")
    ap.add_argument("--trials", type=int, default=1000)
    ap.add_argument("--json", metavar="OUT")
    a = ap.parse_args()
    sc = sibsim.load(ROOT / "scenarios" / "benchmark.yaml")
    periods = [int(x) for x in a.periods.split(",")]
    out = {"reps": a.reps, "trials": a.trials, "payments": {}, "uplift": {}}
    for U in periods:
        cover, width, smc, secs = [], [], 0, 0.0
        for r in range(a.reps):
            s = synthesize(sc, until=U, seed=5000 + r)
            t0 = time.perf_counter()
            f = sibsim.reforecast(sc, s.observations, trials=a.trials, seed=r + 1)
            secs += time.perf_counter() - t0
            lo, hi = np.percentile(f.run.metrics["outcome_payments"], [5, 95])
            cover.append(lo - 1e-6 <= s.final["outcome_payments"] <= hi + 1e-6)
            width.append(hi - lo)
            smc += f.posterior.diagnostics["method"] == "smc"
        c = float(np.mean(cover))
        out["payments"][U] = {"coverage": c, "se": float(np.sqrt(0.09 / a.reps)), "mean_width": float(np.mean(width)),
                              "smc_share": smc / a.reps, "seconds_each": secs / a.reps}
        print(f"U={U:>2}: 90% interval of outcome payments covers the truth in {c:.3f} "
              f"(± {np.sqrt(0.09 / a.reps):.3f}); mean width GBP {np.mean(width):,.0f}; SMC in {smc}/{a.reps}; "
              f"{secs / a.reps:.2f} s a re-forecast")
    known = sc.with_params(job_entry_p0=0.2)
    for U in periods:
        err_post, err_prior, ratio, inside = [], [], [], []
        for r in range(a.reps):
            s = synthesize(known, until=U, seed=7000 + r)
            ps = posterior(known, s.observations, draws=a.trials, seed=r + 1).summary()["job_entry_uplift"]
            t = s.truth["job_entry_uplift"]
            err_post.append(abs(ps["posterior"]["mean"] - t))
            err_prior.append(abs(ps["prior"]["mean"] - t))
            ratio.append(ps["posterior"]["std"] / ps["prior"]["std"])
            inside.append(ps["posterior"]["p5"] <= t <= ps["posterior"]["p95"])
        out["uplift"][U] = {"mae_posterior": float(np.mean(err_post)), "mae_prior": float(np.mean(err_prior)),
                            "sd_ratio": float(np.mean(ratio)), "coverage90": float(np.mean(inside))}
        print(f"U={U:>2}, baseline known: job_entry_uplift error {np.mean(err_post):.4f} (prior {np.mean(err_prior):.4f}),"
              f" sd ratio {np.mean(ratio):.2f}, 90% interval covers the truth in {np.mean(inside):.3f}")
    if a.json:
        Path(a.json).write_text(json.dumps(out, indent=2) + "\n")


if __name__ == "__main__":
    main()
