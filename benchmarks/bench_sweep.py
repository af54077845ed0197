"""Benchmark a sweep of the benchmark scenario: 1 process against N local processes.

A 20-point grid over the job-entry price (GBP 2,000 to 5,000) and, by
default, 2,000 trials a point, run through :func:`sibsim.sweep.sweep` serially
and then on ``--workers`` processes. Each point is one ``simulate(...,
workers=1)``, so the processes share the points, not the trials. The two
results are checked to be identical (common random numbers, a row is a pure
function of the point).

    .venv/bin/python benchmarks/bench_sweep.py [--points 20] [--trials 2000] [--workers 2] [--repeat 1]

Prints the wall time of each and the speed-up; ``--json OUT`` also writes them.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

import numpy as np
import pandas as pd

import sibsim
from sibsim.sweep import grid, sweep

ROOT = Path(__file__).resolve().parents[1]


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--points", type=int, default=20)
    ap.add_argument("--trials", type=int, default=2000)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--repeat", type=int, default=1, help="take the best of this many timings of each")
    ap.add_argument("--json", metavar="OUT")
    args = ap.parse_args(argv)
    sc = sibsim.load(ROOT / "scenarios" / "benchmark.yaml")
    points = grid(**{"price.job_entry": list(np.linspace(2000, 5000, args.points))})
    sibsim.simulate(sc, trials=1, seed=0)  # load the JIT cache before timing

    def timed(workers):
        best, df = np.inf, None
        for _ in range(args.repeat):
            t0 = time.perf_counter()
            df = sweep(sc, points, trials=args.trials, seed=args.seed, workers=workers)
            best = min(best, time.perf_counter() - t0)
        return best, df

    t1, d1 = timed(1)
    tn, dn = timed(args.workers)
    pd.testing.assert_frame_equal(d1, dn)
    out = {"points": args.points, "trials_per_point": args.trials, "cores": os.cpu_count(),
           "serial_seconds": t1, "workers": args.workers, "parallel_seconds": tn, "speedup": t1 / tn,
           "identical": True}
    print(f"sweep of {args.points} points x {args.trials:,} trials (benchmark scenario, {os.cpu_count()} cores)")
    print(f"  1 process:    {t1:6.2f} s  ({t1 / args.points:.3f} s a point)")
    print(f"  {args.workers} processes:  {tn:6.2f} s  ({tn / args.points:.3f} s a point)")
    print(f"  speed-up:     {t1 / tn:6.2f}x  (results identical)")
    if args.json:
        Path(args.json).write_text(json.dumps(out, indent=2) + "\n")
    return out


if __name__ == "__main__":
    main()
