"""The participant pass built for a portable baseline against ``-march=native``, side by side.

setup.py builds sibsim/_kernel.c with the compiler's default target (on
x86-64 the x86-64 baseline: SSE2, no AVX), so a wheel or shared install built
on one CPU runs on any other. This measures what that costs: the same source
is compiled twice into a temporary directory, with setup.py's flags and with
``-march=native`` added, and the two are timed alternately on the same
inputs (the benchmark scenario's participant pass for ``--trials`` trials,
and a whole ``simulate`` run in this process), best of ``--repeat``, in CPU
seconds of this process (less disturbed than wall time by other work on a
shared machine: everything timed runs in one thread); the numpy reference pass
(sibsim/kernel_ref.py, what runs where no compiler was available) is timed
on the pass too. Results are checked identical bit for bit.

    .venv/bin/python benchmarks/bench_kernel.py [--trials 5000] [--repeat 5] [--json OUT]
"""

from __future__ import annotations

import argparse
import ast
import json
import os
import shlex
import subprocess
import sysconfig
import tempfile
import time
from pathlib import Path

import numpy as np

import sibsim
from sibsim import cohorts, draw, kernel
from sibsim.engine import sample_params

ROOT = Path(__file__).resolve().parents[1]
SCENARIO = ROOT / "scenarios" / "benchmark.yaml"


def setup_compile_args() -> list[str]:
    """setup.py's COMPILE_ARGS (read, not imported: importing setup.py runs setup())."""
    for node in ast.parse((ROOT / "setup.py").read_text()).body:
        if isinstance(node, ast.Assign) and any(getattr(t, "id", None) == "COMPILE_ARGS" for t in node.targets):
            return list(ast.literal_eval(node.value))
    raise SystemExit("setup.py defines no COMPILE_ARGS")


def build(flags: list[str], out_dir: Path) -> Path:
    so = out_dir / ("_kernel" + sysconfig.get_config_var("EXT_SUFFIX"))
    cc = shlex.split(sysconfig.get_config_var("CC") or "cc")
    cmd = [*cc, *flags, "-fPIC", "-shared", f"-I{sysconfig.get_paths()['include']}", str(ROOT / "sibsim" / "_kernel.c"),
           "-o", str(so), "-lm"]
    subprocess.run(cmd, check=True, capture_output=True, text=True)
    return so


def native_arch() -> str:
    cc = shlex.split(sysconfig.get_config_var("CC") or "cc")
    r = subprocess.run([*cc, "-march=native", "-Q", "--help=target"], capture_output=True, text=True)
    for line in r.stdout.splitlines():
        if line.strip().startswith("-march="):
            return line.split()[-1]
    return "unknown"


def pass_inputs(trials: int) -> dict:
    """The arguments the engine gives the participant pass for the benchmark's first ``trials`` trials."""
    sc = sibsim.load(SCENARIO)
    d = draw.BlockDraws(1, 0, -(-trials // draw.BLOCK))
    params = sample_params(sc, d)
    seen = {}
    real = kernel.participant_pass

    def record(*args):
        names = real.__code__.co_varnames[: real.__code__.co_argcount]
        seen.update(dict(zip(names, args)))
        return real(*args)

    cohorts.participant_pass = record
    try:
        cohorts.simulate_cohort(sc, params, d)
    finally:
        cohorts.participant_pass = real
    return seen


def time_pass(inputs: dict, so: Path | None) -> tuple[float, dict]:
    """CPU seconds for one call of the pass (``so``: a compiled build; None: the numpy reference) and its outputs."""
    out = {k: np.zeros_like(inputs[k]) for k in ("amt", "cnt", "ach", "ach_start", "eng_starts")}
    args = {**inputs, **out}
    if so is None:
        os.environ["SIBSIM_KERNEL"] = "numpy"
    else:
        os.environ["SIBSIM_KERNEL"], os.environ["SIBSIM_KERNEL_SO"] = "c", str(so)
    t = time.process_time()
    kernel.participant_pass(**args)
    return time.process_time() - t, out


def time_run(so: Path, trials: int) -> float:
    os.environ["SIBSIM_KERNEL"], os.environ["SIBSIM_KERNEL_SO"] = "c", str(so)
    t = time.process_time()
    sibsim.simulate(SCENARIO, trials=trials, seed=1, workers=1)
    return time.process_time() - t


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--trials", type=int, default=5000)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--json", metavar="OUT")
    args = ap.parse_args(argv)
    base_flags = setup_compile_args()
    load0 = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="sibsim-bench-kernel-") as tmp:
        builds = {}
        for name, flags in (("baseline", base_flags), ("native", [*base_flags, "-march=native"])):
            (Path(tmp) / name).mkdir()
            builds[name] = build(flags, Path(tmp) / name)
        inputs = pass_inputs(args.trials)
        best = {"baseline": np.inf, "native": np.inf, "numpy": np.inf}
        run_best = {"baseline": np.inf, "native": np.inf}
        outs = {}
        for name, so in builds.items():  # warm up: load each build once
            time_pass(inputs, so)
            time_run(so, 1000)
        for r in range(args.repeat):  # alternate, so a change in the machine's load falls on both
            for name, so in builds.items():
                t, outs[name] = time_pass(inputs, so)
                best[name] = min(best[name], t)
                run_best[name] = min(run_best[name], time_run(so, args.trials))
            if r < 2:  # the reference is slow: a couple of timings suffice
                t, outs["numpy"] = time_pass(inputs, None)
                best["numpy"] = min(best["numpy"], t)
    for name in ("native", "numpy"):
        for k, v in outs["baseline"].items():
            assert v.tobytes() == outs[name][k].tobytes(), (name, k)
    load1 = os.getloadavg()[0]
    res = {"trials": args.trials, "baseline_flags": base_flags, "native_arch": native_arch(),
           "pass_seconds": best, "run_seconds": run_best,
           "pass_baseline_over_native": best["baseline"] / best["native"],
           "run_baseline_over_native": run_best["baseline"] / run_best["native"],
           "pass_numpy_over_baseline": best["numpy"] / best["baseline"],
           "identical": True, "load_average": [load0, load1]}
    print(f"participant pass, benchmark scenario, {args.trials:,} trials (best of {args.repeat}; "
          f"-march=native is {res['native_arch']} here; load average {load0:.1f} -> {load1:.1f})")
    print(f"  baseline {' '.join(base_flags):14s} pass {best['baseline']:7.3f} s   whole run {run_best['baseline']:7.3f} s  (CPU)")
    print(f"  -march=native           pass {best['native']:7.3f} s   whole run {run_best['native']:7.3f} s")
    print(f"  numpy reference         pass {best['numpy']:7.3f} s")
    print(f"  baseline / native:      pass {res['pass_baseline_over_native']:.2f}x   whole run "
          f"{res['run_baseline_over_native']:.2f}x   (numpy / baseline: {res['pass_numpy_over_baseline']:.1f}x)")
    print("  outputs identical bit for bit")
    if args.json:
        Path(args.json).write_text(json.dumps(res, indent=2) + "\n")
    return res


if __name__ == "__main__":
    main()
