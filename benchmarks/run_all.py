"""sibsim benchmarks (README, Benchmarks): every figure a ratio of two timings taken in the same run.

Run with ``make bench`` (or ``.venv/bin/python benchmarks/run_all.py [--quick] [--repeats 3] [--only delivery,sweep]``).

The two sides of each ratio are interleaved (A, B, A, B, ...), so a change in
the machine's load falls on both; each figure reports the ratio of the
fastest timings (min) and the median of the per-pair ratios (median). Every
sibsim timing is a fresh process run as a user runs it.

- ``run_10000``, ``run_100000``: ``sibsim run scenarios/benchmark.yaml
  --trials n`` against the floor: the wall time numpy's default generator
  needs to draw the uniforms a per-participant engine needs (1,000
  participants x 6 draws a trial) for n trials on every core, in worker
  processes already running (targets: 100,000 trials <= 1.5x).
- ``help``, ``run_1_trial``: ``sibsim --help`` and ``sibsim run ... --trials
  1`` against ``python -c "import numpy"`` (targets <= 1.5x and <= 3x).
- ``delivery_per_trial``: ``sibsim run scenarios/homelessness_delivery.yaml``
  against the benchmark scenario, both 10,000 trials, whole process (target
  <= 5x), and ``delivery_engine_per_trial`` the same in one process
  (``simulate`` only); ``simpy_over_fast`` the SimPy reference engine
  against the fast one on the delivery model alone (100 trials).
- ``sweep_2_processes``: a 20-point sweep (``sibsim sweep --grid
  price.job_entry=2000:5000:20 --trials 2000``, the default trials) on 1
  process against 2 (a speed-up; target >= 1.8x); ``dask_local_over_processes``:
  the same sweep on ``--scheduler local`` (a cluster of one worker a core)
  against ``--workers 2`` (target <= 1.3x, cluster start included). Without
  ``--quick``, the same two at 10,000 trials a point (``..._10k``).
- ``sobol_2_processes``: ``sibsim sensitivity --method sobol --samples 64
  --trials 1000`` on 1 process against 2 (a speed-up; target >= 1.7x).
- ``peak_memory_1m``: the largest total resident memory of ``sibsim run``
  and its workers over 1,000,000 trials, sampled every 20 ms (< 1 GB);
  ``peak_memory_10m_summary`` the same over 10,000,000 trials with ``--keep
  summary`` (streamed summaries and a reservoir of 100,000 trials; < 1 GB).

Results are printed and written to bench-results/benchmark.json.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Callable

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
SIBSIM = [sys.executable, "-m", "sibsim"]
BENCH = str(ROOT / "scenarios" / "benchmark.yaml")
DELIVERY = str(ROOT / "scenarios" / "homelessness_delivery.yaml")


def _draw(args):
    seed, trials = args
    rng = np.random.default_rng(seed)
    out = np.empty((min(trials, 1000), 6000))
    done = 0
    while done < trials:
        k = min(1000, trials - done)
        rng.random(out=out[:k])
        done += k
    return float(out[0, 0])


class Floor:
    """The RNG floor on ``workers`` warm processes."""

    def __init__(self, workers: int):
        self.workers = workers
        self.ex = ProcessPoolExecutor(workers)
        list(self.ex.map(_draw, [(i, 10) for i in range(workers)]))  # start the workers
        self.calls = 0

    def __call__(self, trials: int) -> float:
        self.calls += 1
        per = [trials // self.workers + (i < trials % self.workers) for i in range(self.workers)]
        t = time.perf_counter()
        list(self.ex.map(_draw, [(100 * self.calls + i, n) for i, n in enumerate(per)]))
        return time.perf_counter() - t


_CPU = [float("nan")]  # CPU seconds (user + system) of the last command timed by wall(), workers included


def wall(cmd: list[str], env: dict | None = None) -> float:
    import resource

    r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    t = time.perf_counter()
    subprocess.run(cmd, check=True, cwd=ROOT, stdout=subprocess.DEVNULL, env=env)
    elapsed = time.perf_counter() - t
    r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    _CPU[0] = (r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime)
    return elapsed


def paired(name: str, base: Callable[[], float], test: Callable[[], float], repeats: int, *, speedup=False,
           note: str = "") -> dict:
    """Interleave ``base`` and ``test`` ``repeats`` times; ratio test/base (or base/test for a speed-up)."""
    a, b, ca, cb = [], [], [], []
    for _ in range(repeats):
        _CPU[0] = float("nan")
        a.append(base())
        ca.append(_CPU[0])
        _CPU[0] = float("nan")
        b.append(test())
        cb.append(_CPU[0])
    if speedup:
        ratio_min, pairs = min(a) / min(b), [x / y for x, y in zip(a, b)]
    else:
        ratio_min, pairs = min(b) / min(a), [y / x for x, y in zip(a, b)]
    out = {"base_s": a, "test_s": b, "ratio_min": ratio_min, "ratio_median": statistics.median(pairs),
           "base_cpu_s": ca, "test_cpu_s": cb, "load_average": os.getloadavg()[0]}
    kind = "speed-up" if speedup else "ratio"
    cpu = ""
    if speedup and not np.isnan(min(ca + cb)):
        # the work's CPU cost on each side: on a busy machine wall-clock speed-ups understate what an idle one
        # gives; processes x (CPU of 1 process / CPU of n processes) is the speed-up cores to spare would give
        out["cpu_ratio"] = min(ca) / min(cb)
        cpu = f"  CPU {min(ca):.2f} s vs {min(cb):.2f} s"
    print(f"  {name:<28} {kind} {ratio_min:6.2f}x (min) {out['ratio_median']:6.2f}x (median)   "
          f"base {min(a):7.3f} s  test {min(b):7.3f} s{cpu}  {note}", flush=True)
    return out


def peak_memory_mb(trials: int, extra: list[str] = ()) -> tuple[float, float]:
    import psutil

    with tempfile.TemporaryDirectory() as tmp:
        t = time.perf_counter()
        proc = subprocess.Popen([*SIBSIM, "run", BENCH, "--trials", str(trials), "--quiet", *extra,
                                 "--json", f"{tmp}/out.json"], cwd=ROOT)
        ps = psutil.Process(proc.pid)
        peak = 0
        while proc.poll() is None:
            try:
                rss = ps.memory_info().rss + sum(c.memory_info().rss for c in ps.children(recursive=True))
                peak = max(peak, rss)
            except psutil.Error:
                pass
            time.sleep(0.02)
        if proc.returncode:
            raise SystemExit(f"sibsim run --trials {trials} failed")
        return peak / 2**20, time.perf_counter() - t


def engine_ratio(repeats: int) -> dict:
    """In one process: simulate() of the delivery scenario against the benchmark, 10,000 trials each."""
    import sibsim

    bench, dlv = sibsim.load(BENCH), sibsim.load(DELIVERY)
    sibsim.simulate(bench, trials=100, seed=0)
    sibsim.simulate(dlv, trials=100, seed=0)

    def timer(sc):
        def f():
            t = time.perf_counter()
            sibsim.simulate(sc, trials=10_000, seed=1)
            return time.perf_counter() - t
        return f

    return paired("delivery_engine_per_trial", timer(bench), timer(dlv), repeats, note="(target <= 5x)")


def simpy_ratio(repeats: int) -> dict:
    """The delivery model alone: the SimPy reference engine against the fast one, 100 trials."""
    import sibsim
    from sibsim import draw
    from sibsim.delivery import simulate_delivery
    from sibsim.engine import sample_params

    sc = sibsim.load(DELIVERY)
    params = {k: v[:100] for k, v in sample_params(sc, draw.BlockDraws(1, 0, 1)).items()}
    kw = dict(horizon_periods=sc.horizon_periods, seed=1, trial_offset=0, n_trials=100,
              max_participants=sc.participants.max_participants)

    def timer(engine):
        def f():
            t = time.perf_counter()
            simulate_delivery(sc.delivery, params, engine=engine, **kw)
            return time.perf_counter() - t
        return f

    return paired("simpy_over_fast", timer("fast"), timer("simpy"), repeats, note="(delivery model only)")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="smaller sensitivity design, no 1,000,000-trial memory run")
    ap.add_argument("--repeats", type=int, default=3, help="timings of each side of each ratio (default 3)")
    ap.add_argument("--only", metavar="GROUPS", default="run,startup,delivery,sweep,sobol,memory",
                    help="comma-separated groups to run (default all: run,startup,delivery,sweep,sobol,memory)")
    args = ap.parse_args()
    only = set(args.only.split(","))
    rep = args.repeats
    workers = os.cpu_count() or 1
    # byte-compile sibsim as an installed copy is (pip compiles on install; an editable one on first import),
    # even where PYTHONDONTWRITEBYTECODE is set: the timings are of running sibsim, not of compiling it
    import compileall

    compileall.compile_dir(str(ROOT / "sibsim"), quiet=1)
    subprocess.run([*SIBSIM, "run", BENCH, "--trials", "2000", "--quiet"], check=True, cwd=ROOT)  # warm disk caches
    res: dict = {"cores": workers, "repeats": rep}
    print(f"sibsim benchmarks on {workers} cores, {rep} interleaved timings a side "
          f"(1-minute load average {os.getloadavg()[0]:.1f})")
    floor = Floor(workers)
    tmp = tempfile.mkdtemp()
    for n in (10_000, 100_000) if "run" in only else ():
        res[f"run_{n}"] = paired(f"run {n:,} trials / floor", lambda n=n: floor(n),
                                 lambda n=n: wall([*SIBSIM, "run", BENCH, "--trials", str(n), "--quiet",
                                                   "--json", f"{tmp}/out.json"]),
                                 rep, note="(target <= 1.5x)" if n == 100_000 else "")
    numpy_import = [sys.executable, "-c", "import numpy"]
    if "startup" in only:
        res.update(startup(numpy_import, rep))
    if "delivery" in only:
        res.update(delivery(rep))
    if "sweep" in only:
        res.update(sweeps(tmp, rep, args.quick))
    if "sobol" in only:
        samples = "8" if args.quick else "64"
        sobol = [*SIBSIM, "sensitivity", BENCH, "--method", "sobol", "--samples", samples, "--trials", "1000",
                 "--output", "investor_net_gain", "-q"]
        res["sobol_2_processes"] = paired(f"sobol {samples} samples: 1 / 2 proc",
                                          lambda: wall([*sobol, "--workers", "1"]),
                                          lambda: wall([*sobol, "--workers", "2"]), rep,
                                          speedup=True, note="(target >= 1.7x)")
    if not args.quick and "memory" in only:
        mb, secs = peak_memory_mb(1_000_000)
        res["peak_memory_1m"] = {"peak_rss_mb": mb, "seconds": secs}
        print(f"  1,000,000 trials: peak resident memory {mb:,.0f} MB (target < 1,024 MB), {secs:.1f} s")
        mb, secs = peak_memory_mb(10_000_000, ["--keep", "summary"])
        res["peak_memory_10m_summary"] = {"peak_rss_mb": mb, "seconds": secs}
        print(f"  10,000,000 trials --keep summary: peak resident memory {mb:,.0f} MB (target < 1,024 MB), "
              f"{secs:.1f} s")
    out = ROOT / "bench-results"
    out.mkdir(exist_ok=True)
    (out / "benchmark.json").write_text(json.dumps(res, indent=2) + "\n")
    print(f"written {out / 'benchmark.json'}")


def startup(numpy_import: list[str], rep: int) -> dict:
    res = {}
    res["help"] = paired("--help / import numpy", lambda: wall(numpy_import), lambda: wall([*SIBSIM, "--help"]),
                         rep, note="(target <= 1.5x)")
    res["run_1_trial"] = paired("run 1 trial / import numpy", lambda: wall(numpy_import),
                                lambda: wall([*SIBSIM, "run", BENCH, "--trials", "1", "--quiet"]), rep,
                                note="(target <= 3x)")
    return res


def delivery(rep: int) -> dict:
    res = {}
    res["delivery_per_trial"] = paired(
        "delivery / benchmark", lambda: wall([*SIBSIM, "run", BENCH, "--trials", "10000", "--quiet"]),
        lambda: wall([*SIBSIM, "run", DELIVERY, "--trials", "10000", "--quiet"]), rep,
        note="(10,000 trials each, whole process; target <= 5x)")
    res["delivery_engine_per_trial"] = engine_ratio(rep)
    res["simpy_over_fast"] = simpy_ratio(1)
    return res


def sweeps(tmp: str, rep: int, quick: bool) -> dict:
    """The 20-point sweep at its default 2,000 trials a point (about 4 s of work on one core), and, unless
    ``quick``, at 10,000 trials a point: the start-up before the workers start (about 0.8 s: Python, the
    scenario model, the engine) is the same in both, so the second shows how the speed-up grows with the work."""
    res = {}
    for trials in (2000,) if quick else (2000, 10_000):
        sweep = [*SIBSIM, "sweep", BENCH, "--grid", "price.job_entry=2000:5000:20", "--trials", str(trials), "-q",
                 "--out", f"{tmp}/sweep.csv"]

        def sweep_on(*extra, sweep=sweep):
            return lambda: (Path(f"{tmp}/sweep.csv").unlink(missing_ok=True), wall([*sweep, *extra]))[1]

        tag = "" if trials == 2000 else f"_{trials // 1000}k"
        res[f"sweep_2_processes{tag}"] = paired(f"sweep 20 x {trials:,}: 1 / 2 proc", sweep_on("--workers", "1"),
                                                sweep_on("--workers", "2"), rep, speedup=True,
                                                note="(target >= 1.8x)")
        res[f"dask_local_over_processes{tag}"] = paired(f"sweep 20 x {trials:,}: dask / 2 proc",
                                                        sweep_on("--workers", "2"), sweep_on("--scheduler", "local"),
                                                        rep, note="(cluster start included; target <= 1.3x)")
    return res


if __name__ == "__main__":
    main()
