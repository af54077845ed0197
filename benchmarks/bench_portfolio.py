"""Benchmark portfolios and readiness as side-by-side ratios (issue 13).

    .venv/bin/python benchmarks/bench_portfolio.py [--trials 10000]

- portfolio: the shipped Fair Chance Fund portfolio (7 contracts) serially,
  on 2 worker processes, and its cost per contract-trial relative to one
  ``sibsim.simulate`` of the scenario with the same number of contract-trials;
- readiness: ``readiness`` (4 finance models, the reserves search) relative to
  one ``simulate`` of the same scenario evaluating the same 4 models.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import sibsim
from sibsim.portfolio import simulate_portfolio
from sibsim.readiness import readiness

ROOT = Path(__file__).resolve().parents[1]


def wall(f) -> float:
    t = time.perf_counter()
    f()
    return time.perf_counter() - t


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--trials", type=int, default=10_000)
    n = ap.parse_args().trials
    pf = ROOT / "portfolios" / "uk_fair_chance_fund.yaml"
    fcf = sibsim.load(ROOT / "scenarios" / "fair_chance_fund.yaml")
    serial = wall(lambda: simulate_portfolio(pf, trials=n, seed=1))
    two = wall(lambda: simulate_portfolio(pf, trials=n, seed=1, workers=2))
    one = wall(lambda: sibsim.simulate(fcf, trials=7 * n, seed=1, workers=1))
    print(f"portfolio, {n:,} trials x 7 contracts: serial {serial:.2f} s; 2 workers {two:.2f} s "
          f"(speed-up {serial / two:.2f}x); per contract-trial {serial / one:.2f}x one simulate of {7 * n:,} trials")
    lcf = sibsim.load(ROOT / "scenarios" / "life_chances_fund.yaml")
    rd = wall(lambda: readiness(lcf, trials=n, seed=1))
    sim = wall(lambda: sibsim.simulate(lcf, trials=n, seed=1, workers=1, finance=("pbr", "fee", "hybrid")))
    print(f"readiness, {n:,} trials, 4 models: {rd:.2f} s = {rd / sim:.2f}x one simulate of the same models ({sim:.2f} s)")


if __name__ == "__main__":
    main()
