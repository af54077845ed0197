"""Benchmark a sweep of the benchmark scenario: 1 process against N local processes.

A 20-point grid over the job-entry price (GBP 2,000 to 5,000) and, by
default, 2,000 trials a point, run through :func:`sibsim.sweep.sweep` serially
and then on ``--workers`` processes. Each point is one ``simulate(...,
workers=1)``, so the processes share the points, not the trials. The two
results are checked to be identical (common random numbers, a row is a pure
function of the point).

    .venv/bin/python benchmarks/bench_sweep.py [--points 20] [--trials 2000] [--workers 2] [--repeat 1]

OpenBLAS's own threads compete with the worker processes; compare with
``OPENBLAS_NUM_THREADS=1`` in the environment. Prints the wall and CPU time of each and the speed-up (the CPU time shows the cost of
parallelism even on a busy machine); ``--json OUT`` also writes them.
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

    def cpu() -> float:
        t = os.times()  # this process and its reaped children (the pool's workers)
        return t.user + t.system + t.children_user + t.children_system

    def timed(workers):
        t0, c0 = time.perf_counter(), cpu()
        df = sweep(sc, points, trials=args.trials, seed=args.seed, workers=workers)
        return time.perf_counter() - t0, cpu() - c0, df

    # serial and parallel alternate, best of --repeat each, so a change in the machine's load
    # during the benchmark falls on both
    load0 = os.getloadavg()[0]
    t1 = c1 = tn = cn = np.inf
    for _ in range(args.repeat):
        w, c, d1 = timed(1)
        t1, c1 = min(t1, w), min(c1, c)
        w, c, dn = timed(args.workers)
        tn, cn = min(tn, w), min(cn, c)
    load1 = os.getloadavg()[0]
    pd.testing.assert_frame_equal(d1, dn)
    out = {"points": args.points, "trials_per_point": args.trials, "cores": os.cpu_count(),
           "serial_seconds": t1, "serial_cpu_seconds": c1, "workers": args.workers, "parallel_seconds": tn,
           "parallel_cpu_seconds": cn, "speedup": t1 / tn, "identical": True, "load_average": [load0, load1]}
    blas = os.environ.get("OPENBLAS_NUM_THREADS", "default")
    out["openblas_num_threads"] = blas
    print(f"sweep of {args.points} points x {args.trials:,} trials (benchmark scenario, {os.cpu_count()} cores, "
          f"OPENBLAS_NUM_THREADS={blas}, 1-minute load average {load0:.1f} before, {load1:.1f} after)")
    print(f"  1 process:    {t1:6.2f} s wall  {c1:6.2f} s CPU  ({t1 / args.points:.3f} s a point)")
    print(f"  {args.workers} processes:  {tn:6.2f} s wall  {cn:6.2f} s CPU  ({tn / args.points:.3f} s a point)")
    print(f"  speed-up:     {t1 / tn:6.2f}x  (results identical)")
    if max(load0, load1) > os.cpu_count():
        print("  note: the machine was busy (load above the core count); the wall-clock speed-up understates "
              "what an idle machine gives")
    if args.json:
        Path(args.json).write_text(json.dumps(out, indent=2) + "\n")
    return out


if __name__ == "__main__":
    main()
