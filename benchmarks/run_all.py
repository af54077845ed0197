"""sibsim benchmarks (README, Benchmarks): speed as a ratio to the RNG floor, and peak memory.

Run with ``make bench`` (or ``.venv/bin/python benchmarks/run_all.py [--quick]``).

- floor(n): wall time for numpy's default generator to draw the uniforms a
  per-participant engine needs (1,000 participants x 6 draws a trial) for n
  trials, on every core, in worker processes that are already running.
- sibsim(n): wall time of ``sibsim run scenarios/benchmark.yaml --trials n``
  as a fresh process (process start, imports, JIT cache load, simulation,
  JSON written), measured in the same run on the same machine.
- peak memory: the largest total resident memory of the ``sibsim run`` process
  and its workers while running 1,000,000 trials, sampled every 20 ms.

Results are printed and written to bench-results/benchmark.json.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
SIBSIM = [sys.executable, "-m", "sibsim"]
SCENARIO = str(ROOT / "scenarios" / "benchmark.yaml")


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


def floor_seconds(trials: int, workers: int, repeats: int = 3) -> float:
    """Best of ``repeats`` wall times to draw 1,000 x 6 uniforms per trial on ``workers`` processes."""
    per = [trials // workers + (i < trials % workers) for i in range(workers)]
    best = float("inf")
    with ProcessPoolExecutor(workers) as ex:
        list(ex.map(_draw, [(i, 10) for i in range(workers)]))  # start the workers
        for r in range(repeats):
            t = time.perf_counter()
            list(ex.map(_draw, [(100 * r + i, n) for i, n in enumerate(per)]))
            best = min(best, time.perf_counter() - t)
    return best


def sibsim_seconds(trials: int, repeats: int = 3) -> float:
    best = float("inf")
    with tempfile.TemporaryDirectory() as tmp:
        for r in range(repeats):
            t = time.perf_counter()
            subprocess.run([*SIBSIM, "run", SCENARIO, "--trials", str(trials), "--seed", str(r + 1), "--quiet",
                            "--json", f"{tmp}/out.json"], check=True, cwd=ROOT)
            best = min(best, time.perf_counter() - t)
        data = json.loads(Path(f"{tmp}/out.json").read_text())
        assert data["trials"] == trials
    return best


def peak_memory_mb(trials: int) -> tuple[float, float]:
    import psutil

    with tempfile.TemporaryDirectory() as tmp:
        t = time.perf_counter()
        proc = subprocess.Popen([*SIBSIM, "run", SCENARIO, "--trials", str(trials), "--quiet",
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


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="skip the 1,000,000-trial memory run")
    args = ap.parse_args()
    workers = os.cpu_count() or 1
    subprocess.run([*SIBSIM, "run", SCENARIO, "--trials", "2000", "--quiet"], check=True, cwd=ROOT)  # JIT cache
    results = {"cores": workers}
    print(f"sibsim benchmark on {workers} cores ({SCENARIO})")
    for n in (10_000, 100_000):
        fl = floor_seconds(n, workers)
        sb = sibsim_seconds(n)
        results[f"trials_{n}"] = {"floor_s": fl, "sibsim_s": sb, "ratio": sb / fl}
        print(f"  {n:>9,} trials: floor {fl:6.3f} s   sibsim run {sb:6.3f} s   ratio {sb / fl:5.2f}x"
              f"{'   (target <= 3x)' if n == 100_000 else ''}")
    if not args.quick:
        mb, secs = peak_memory_mb(1_000_000)
        results["trials_1000000"] = {"peak_rss_mb": mb, "seconds": secs}
        print(f"  1,000,000 trials: peak resident memory {mb:,.0f} MB (target < 1,024 MB), {secs:.1f} s")
    for extra in sorted((ROOT / "benchmarks").glob("bench_*.py")):
        print(f"\n{extra.name}:")
        subprocess.run([sys.executable, str(extra)], check=False, cwd=ROOT)
    out = ROOT / "bench-results"
    out.mkdir(exist_ok=True)
    (out / "benchmark.json").write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
