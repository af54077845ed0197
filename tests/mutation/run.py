"""Mutation check of the participant pass: every deliberate bug in sibsim/_kernel.c must fail a test.

Each mutant is a copy of _kernel.c with one small edit (drop an increment,
swap the worlds, an off-by-one lag, ignore a cap, ...). It is compiled into a
temporary directory with the flags setup.py uses, then the tests that hold
the pass to its reference (tests/test_kernel_ref.py) and to hand-worked
numbers (the cap tests of tests/test_engine.py) run against it through
``SIBSIM_KERNEL_SO``. A mutant that passes them all survives: the tests
missed a bug, and the check fails.

    python tests/mutation/run.py            # all mutants (make mutation)
    python tests/mutation/run.py -k swap    # those whose name contains "swap"

Exit status 0 when every mutant is killed (and the unmutated source passes).
Mutants are tested two at a time (-j); a mutant costs 5-15 s of one core.
"""

from __future__ import annotations

import argparse
import ast
import os
import shlex
import subprocess
import sys
import sysconfig
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SOURCE = ROOT / "sibsim" / "_kernel.c"
TESTS = ["tests/test_kernel_ref.py",
         "tests/test_engine.py::test_volume_cap_counts_only_payments_left_by_the_participant_cap",
         "tests/test_engine.py::test_participant_cap_in_payment_order_ties_in_outcome_order",
         "tests/test_engine.py::test_common_random_numbers_make_treated_a_superset_per_trial"]

# name -> (text in _kernel.c, replacement, how many occurrences to replace: 0 = all)
MUTANTS: dict[str, tuple[str, str, int]] = {
    "drop_counterfactual_counts": ("if (same) cnt_cf[k * T1 + pp] += pay > 0.0;", ";", 0),
    "drop_counterfactual_achieved": ("s_cf += c & (pr < T);", ";", 0),
    "drop_counterfactual_amount": ("if (same) amt_cf[k * T1 + pp] += pay;", ";", 1),
    "swap_worlds_in_payments": ("double *restrict amt_w = w == 0 ? amt_tr : amt_cf;",
                                "double *restrict amt_w = w == 0 ? amt_cf : amt_tr;", 1),
    "swap_worlds_in_effect": ("(u < (eng[j] ? q1 : q0))", "(u < (eng[j] ? q0 : q1))", 1),
    "off_by_one_uniform_lag": ("perp[j] + lv0 + ((ul * nl) >> 32)", "perp[j] + lv0 + 1 + ((ul * nl) >> 32)", 1),
    "off_by_one_discrete_lag": ("for (int64_t mm = 0; mm < nl - 1; mm++) m += ul >= lag_cdf[k * L + mm];",
                                "for (int64_t mm = 1; mm < nl - 1; mm++) m += ul >= lag_cdf[k * L + mm];", 1),
    "off_by_one_payment_lag": ("int64_t pp = per[k * N + j] + pay_lag;", "int64_t pp = per[k * N + j] + pay_lag + 1;", 1),
    "ignore_participant_cap": ("const double pay = prices[k] < left ? prices[k] : left;",
                               "const double pay = prices[k];", 1),
    "ignore_cap_on_single_payment": ("const double pay = prices[k] < cap ? prices[k] : cap;",
                                     "const double pay = prices[k];", 1),
    "count_payments_cut_to_zero": ("cnt_w[k * T1 + pp] += pay > 0.0;", "cnt_w[k * T1 + pp] += 1;", 0),
    "horizon_cut_inclusive": ("s_tr += t & (pr < T);", "s_tr += t & (pr <= T);", 0),
    "ignore_prerequisite": ("const int64_t t = (u < (eng[j] ? q1 : q0)) & atp[j], c = (u < q0) & acp[j];",
                            "const int64_t t = (u < (eng[j] ? q1 : q0)), c = (u < q0) & acp[j];", 1),
    "pay_everyone_not_only_engaged": ("n_any += any[j] & (pay_engaged_only ? eng[j] : 1);", "n_any += any[j];", 1),
    "cap_in_reverse_period_order": ("per[order[pos - 1] * N + j] > per[k * N + j]",
                                    "per[order[pos - 1] * N + j] < per[k * N + j]", 1),
    "starts_by_wrong_period": ("eng_row[start[j] < T ? start[j] : 0] += eng[j] & active[j];",
                               "eng_row[0] += eng[j] & active[j];", 1),
}


def mutate(src: str, old: str, new: str, count: int) -> str:
    n = src.count(old)
    if n == 0 or (count and n < count):
        raise SystemExit(f"mutation target not found in _kernel.c (was the source changed?): {old!r}")
    return src.replace(old, new, count or -1)


def compile_args() -> list[str]:
    """setup.py's COMPILE_ARGS, read from the file (setup.py runs setup() when imported)."""
    tree = ast.parse((ROOT / "setup.py").read_text())
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(getattr(t, "id", None) == "COMPILE_ARGS" for t in node.targets):
            return list(ast.literal_eval(node.value))
    raise SystemExit("setup.py defines no COMPILE_ARGS")


def build(src: str, out_dir: Path) -> Path:
    """Compile ``src`` as the extension module ``_kernel`` with setup.py's flags; return the .so path."""
    c_file = out_dir / "_kernel.c"
    c_file.write_text(src)
    so = out_dir / ("_kernel" + sysconfig.get_config_var("EXT_SUFFIX"))
    cc = shlex.split(sysconfig.get_config_var("CC") or "cc")
    inc = sysconfig.get_paths()["include"]
    cmd = [*cc, *compile_args(), "-fPIC", "-shared", f"-I{inc}", str(c_file), "-o", str(so), "-lm"]
    subprocess.run(cmd, check=True, capture_output=True, text=True)
    return so


def run_tests(so: Path) -> tuple[bool, str]:
    """True if the tests pass against the pass in ``so``."""
    env = {**os.environ, "SIBSIM_KERNEL_SO": str(so), "SIBSIM_KERNEL": "", "PYTHONDONTWRITEBYTECODE": "1"}
    cmd = [sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider", "-p", "no:xdist",
           "-m", "not slow", "-k", "not compiler", *TESTS]
    r = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=1800)
    tail = [ln for ln in r.stdout.splitlines() if ln.startswith(("FAILED", "ERROR"))][:1]
    last = r.stdout.strip().splitlines()[-1] if r.stdout.strip() else r.stderr.strip()[-200:]
    return r.returncode == 0, (tail[0] if tail else last)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("-k", default="", help="only mutants whose name contains this")
    ap.add_argument("-j", type=int, default=2, help="mutants tested at once (default 2)")
    args = ap.parse_args(argv)
    src = SOURCE.read_text()
    chosen = {k: v for k, v in MUTANTS.items() if args.k in k}
    with tempfile.TemporaryDirectory(prefix="sibsim-mutation-") as tmp:
        t0 = time.perf_counter()
        base = Path(tmp) / "original"
        base.mkdir()
        ok, msg = run_tests(build(src, base))
        print(f"{'original':34s} {'passes' if ok else 'FAILS'}  ({time.perf_counter() - t0:.0f} s)", flush=True)
        if not ok:
            print(f"the unmutated pass fails the tests: {msg}", file=sys.stderr)
            return 1

        def one(item):
            name, (old, new, count) = item
            t0 = time.perf_counter()
            d = Path(tmp) / name
            d.mkdir()
            ok, msg = run_tests(build(mutate(src, old, new, count), d))
            status = "SURVIVED" if ok else "killed"
            print(f"{name:34s} {status:8s} ({time.perf_counter() - t0:.0f} s)  {'' if ok else msg}", flush=True)
            return name, ok

        with ThreadPoolExecutor(max_workers=max(args.j, 1)) as ex:
            survivors = [name for name, ok in ex.map(one, chosen.items()) if ok]
    print(f"{len(chosen) - len(survivors)} of {len(chosen)} mutants killed")
    if survivors:
        print("survivors (bugs no test caught): " + ", ".join(survivors), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
