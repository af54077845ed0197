"""The compiled participant pass (sibsim/_kernel.c) against its numpy reference (sibsim/kernel_ref.py), bit for bit.

Random inputs exercise every feature: several outcomes, prerequisites, fixed,
uniform and discrete lags, a per-participant cap that binds, counts for volume
caps, payment lag, the horizon cut, engaged-only payment, drawn or given
engagement, per-trial or shared start schedules, outcome counts by start
period, and both worlds. tests/mutation/run.py checks that these tests catch
deliberate bugs in the C pass (``make mutation``; tests/test_mutation.py).
"""

from __future__ import annotations

import contextlib
import os

import numpy as np
import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from sibsim import kernel
from sibsim.engine import simulate

from helpers import benchmark_dict, scenario

MUTATION = bool(os.environ.get("SIBSIM_KERNEL_SO"))  # run by tests/mutation/run.py on a mutant build
EXAMPLES = 300 if MUTATION else 150
PHASES = (Phase.explicit, Phase.generate) if MUTATION else tuple(Phase)  # a mutant needs a failure, not a small one
needs_c = pytest.mark.skipif(kernel._compiled() is None, reason="the compiled participant pass is not built")


@contextlib.contextmanager
def backend(name: str):
    old = os.environ.get("SIBSIM_KERNEL")
    os.environ["SIBSIM_KERNEL"] = name
    try:
        yield
    finally:
        if old is None:
            os.environ.pop("SIBSIM_KERNEL", None)
        else:
            os.environ["SIBSIM_KERNEL"] = old


def random_case(seed: int, n: int, N: int, K: int, T: int, shared_starts: bool, draw_e: bool, capped: bool,
                pay_lag: int, engaged_only: bool, counts: bool, by_start: bool) -> dict:
    """Inputs for one call of the pass, from ``seed``; the switches choose the features."""
    rng = np.random.default_rng(seed)
    i8 = np.int64
    ns = 1 if shared_starts else n
    start = rng.integers(0, T + 2, size=(ns, N)).astype(np.int16)  # values >= T: empty slots

    def probs(shape):  # a mix of certain, impossible and uncertain outcomes
        p = rng.uniform(size=shape)
        p[rng.uniform(size=shape) < 0.15] = 0.0
        p[rng.uniform(size=shape) < 0.15] = 1.0
        return p

    p0 = probs((n, K))
    p1 = np.where(rng.uniform(size=(n, K)) < 0.5, probs((n, K)), np.clip(p0 + 0.3, 0, 1))
    prereq = np.array([-1 if k == 0 or rng.uniform() < 0.4 else rng.integers(0, k) for k in range(K)], i8)
    L = 4
    lag_vals = np.zeros((K, L), i8)
    lag_cdf = np.ones((K, L))
    lag_n = np.ones(K, i8)
    lag_uniform = np.zeros(K, bool)
    for k in range(K):
        kind = rng.integers(0, 3)
        if kind == 0:  # fixed
            lag_vals[k, 0] = rng.integers(0, 4)
            lag_uniform[k] = True
        elif kind == 1:  # uniform low .. low + m - 1
            m = rng.integers(1, L + 1)
            lag_vals[k, :m] = rng.integers(0, 3) + np.arange(m)
            lag_cdf[k, :m] = np.arange(1, m + 1) / m
            lag_n[k], lag_uniform[k] = m, True
        else:  # discrete table
            m = rng.integers(1, L + 1)
            lag_vals[k, :m] = np.sort(rng.integers(0, 6, size=m))
            w = rng.uniform(0.05, 1, size=m)
            lag_cdf[k, :m] = np.cumsum(w / w.sum())
            lag_cdf[k, m - 1] = 1.0
            lag_n[k] = m
    # prices with fractions, so sums in a different order would differ in the last bits
    prices = np.round(rng.choice([0.0, 1.0, 1000.0, 3500.0], size=(n, K)) + rng.uniform(0, 5000, size=(n, K)), 3)
    prices[rng.uniform(size=(n, K)) < 0.1] = 0.0
    cap_pp = rng.uniform(0, 9000, size=n).round(2) if capped else np.full(n, np.inf)
    if capped:
        cap_pp[rng.uniform(size=n) < 0.2] = np.inf
    return dict(
        key=np.uint64(rng.integers(0, 2**63, dtype=np.int64)) * np.uint64(2) + np.uint64(1),
        first_trial=int(rng.integers(0, 10**6)),
        start=start, eng_given=rng.uniform(size=(n, N)) < 0.6,
        e=kernel.thresholds(rng.uniform(size=n)) if draw_e else np.zeros(0, i8),
        p0=kernel.thresholds(p0), p1=kernel.thresholds(p1), prereq=prereq, lag_vals=lag_vals,
        lag_cdf=kernel.thresholds(lag_cdf), lag_n=lag_n, lag_uniform=lag_uniform, prices=prices, cap_pp=cap_pp,
        pay_lag=pay_lag, pay_engaged_only=engaged_only, T=T, counts=counts, by_start=by_start)


def run_pass(case: dict, name: str) -> dict:
    n, K = case["p0"].shape
    N, T = case["start"].shape[1], case["T"]
    out = dict(amt=np.zeros((2, n, K, T + 1)),
               cnt=np.zeros((2, n, K, T + 1) if case["counts"] else (2, 1, 1, 1), np.int64),
               ach=np.zeros((2, n, K), np.int64),
               ach_start=np.zeros((2, n, K, T) if case["by_start"] else (2, 1, 1, 1), np.int64),
               eng_starts=np.zeros((n, T), np.int64))
    with backend(name):
        assert kernel.backend() == name
        kernel.participant_pass(**case, **out)
    return out


def assert_same(a: dict, b: dict):
    for name in a:
        np.testing.assert_array_equal(a[name], b[name], err_msg=name, strict=True)
        assert a[name].tobytes() == b[name].tobytes(), name  # bit for bit (0.0 vs -0.0 too)


cases = st.fixed_dictionaries(dict(
    seed=st.integers(0, 2**32 - 1), n=st.integers(1, 5), N=st.integers(1, 40), K=st.integers(1, 5),
    T=st.integers(1, 12), shared_starts=st.booleans(), draw_e=st.booleans(), capped=st.booleans(),
    pay_lag=st.integers(0, 3), engaged_only=st.booleans(), counts=st.booleans(), by_start=st.booleans()))


@needs_c
@settings(max_examples=EXAMPLES, deadline=None, derandomize=MUTATION, phases=PHASES, suppress_health_check=[HealthCheck.too_slow])
@given(cases)
def test_c_pass_equals_numpy_reference_bit_for_bit(args):
    case = random_case(**args)
    assert_same(run_pass(case, "c"), run_pass(case, "numpy"))


@needs_c
@pytest.mark.parametrize("seed", range(40))
def test_c_pass_equals_reference_with_every_feature_on(seed):
    """Fixed cases with every feature switched on (the property test also tries them off)."""
    rng = np.random.default_rng(seed)
    case = random_case(seed, n=4, N=60, K=int(rng.integers(2, 6)), T=int(rng.integers(3, 12)),
                       shared_starts=bool(seed % 2), draw_e=bool(seed % 3), capped=True, pay_lag=int(seed % 3),
                       engaged_only=bool(seed % 4 == 1), counts=True, by_start=True)
    assert_same(run_pass(case, "c"), run_pass(case, "numpy"))


def test_reference_by_hand():
    """One participant, certain outcomes: the reference's own numbers worked by hand."""
    T = 8
    case = random_case(0, n=1, N=1, K=3, T=T, shared_starts=True, draw_e=True, capped=True, pay_lag=1,
                       engaged_only=False, counts=True, by_start=True)
    thr = kernel.thresholds
    case.update(start=np.array([[2]], np.int16), e=thr(np.array([1.0])), p0=thr(np.array([[0.0, 0.0, 1.0]])),
                p1=thr(np.array([[1.0, 1.0, 1.0]])), prereq=np.array([-1, 0, -1]),
                lag_vals=np.array([[1, 0, 0, 0], [2, 0, 0, 0], [6, 0, 0, 0]]), lag_n=np.ones(3, np.int64),
                lag_uniform=np.ones(3, bool), prices=np.array([[3500.0, 4000.0, 1000.0]]), cap_pp=np.array([7000.0]))
    out = run_pass(case, "numpy")
    # treated: a at 3 (paid at 4), b at 5 (paid at 6, cut to 3,500 by the cap), c at 8 = T (after the horizon)
    amt_tr = np.zeros((3, T + 1))
    amt_tr[0, 4], amt_tr[1, 6], amt_tr[2, T] = 3500, 3500, 0.0
    np.testing.assert_array_equal(out["amt"][0, 0], amt_tr)
    # counterfactual: only c (p0 = 1), at period 8: its payment falls after the horizon; nothing within
    np.testing.assert_array_equal(out["amt"][1, 0, 2, T], 1000.0)
    assert out["amt"][1, 0, :, :T].sum() == 0
    # c's payment reaches 7,000 only after a and b used the cap: 0 in the treated world, not counted
    assert out["cnt"][0, 0].tolist() == [[0, 0, 0, 0, 1, 0, 0, 0, 0], [0, 0, 0, 0, 0, 0, 1, 0, 0],
                                         [0, 0, 0, 0, 0, 0, 0, 0, 0]]
    assert out["ach"][:, 0].tolist() == [[1, 1, 0], [0, 0, 0]]  # c achieved at period 8, not before the horizon
    assert out["ach_start"][0, 0, :, 2].tolist() == [1, 1, 1] and out["ach_start"][1, 0, :, 2].tolist() == [0, 0, 1]
    assert out["eng_starts"][0].tolist() == [0, 0, 1, 0, 0, 0, 0, 0]


def _with_volume_cap() -> dict:
    d = benchmark_dict()
    d["rate_card"]["cap_per_outcome"] = {"job_entry": 150, "qualification": 90}
    return d


@needs_c
@pytest.mark.parametrize("make", [benchmark_dict, _with_volume_cap], ids=["benchmark", "volume_cap"])
def test_whole_runs_agree_between_passes(make):
    sc = scenario(make())
    runs = {}
    for name in ("c", "numpy"):
        with backend(name):
            runs[name] = simulate(sc, trials=1000, seed=11, workers=1)
    for k, v in runs["c"].metrics.items():
        assert v.tobytes() == runs["numpy"].metrics[k].tobytes(), k
    # where every effect helps, the treated achievers contain the counterfactual ones participant by participant,
    # so what would have been paid anyway cannot exceed what is paid (the check a dropped increment failed)
    r = runs["c"]
    helps = np.all([r.params[k] >= 0 for k in r.params if k.endswith("_uplift")], axis=0)
    assert helps.sum() > 800
    ds = r.metrics["deadweight_share"][helps]
    assert np.nanmax(ds) <= 1.0 and np.nanmin(ds) > 0.3


def test_unknown_backend_is_refused():
    from sibsim.errors import UsageError

    with backend("fortran"), pytest.raises(UsageError, match="SIBSIM_KERNEL must be 'c' or 'numpy'; got 'fortran'"):
        kernel.backend()


def test_missing_extension_falls_back_with_one_notice(monkeypatch, capsys):
    monkeypatch.setattr(kernel, "_compiled", lambda: None)
    monkeypatch.setattr(kernel, "_NOTICE_SHOWN", False)
    monkeypatch.delenv("SIBSIM_KERNEL", raising=False)
    monkeypatch.setenv("SIBSIM_KERNEL_NOTICE_SHOWN", "")  # restored after the test
    assert kernel.backend() == "numpy" and kernel.backend() == "numpy"
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "numpy reference" in err
    monkeypatch.setenv("SIBSIM_KERNEL", "c")
    with pytest.raises(Exception, match="was not built"):
        kernel.backend()


def test_setup_warns_instead_of_failing_without_a_compiler(tmp_path):
    """setup.py's build_ext: no compiler means a warning and no extension, not a failed install."""
    import subprocess
    import sys

    from helpers import ROOT

    env = {**os.environ, "CC": str(tmp_path / "no-such-cc")}
    r = subprocess.run([sys.executable, str(ROOT / "setup.py"), "-q", "build_ext", "--build-lib", str(tmp_path / "lib"),
                        "--build-temp", str(tmp_path / "tmp")], cwd=ROOT, env=env, capture_output=True, text=True,
                       timeout=600)
    assert r.returncode == 0, r.stderr
    assert "WARNING: sibsim's compiled participant pass was not built" in r.stderr
    assert not list((tmp_path / "lib").rglob("_kernel*"))


@pytest.mark.slow
def test_sibsim_runs_without_the_extension_with_one_notice_and_the_same_numbers(tmp_path):
    """A copy of the package with no compiled pass, run as a fresh process on two workers."""
    import shutil
    import site
    import subprocess
    import sys

    from helpers import ROOT

    shutil.copytree(ROOT / "sibsim", tmp_path / "pkg" / "sibsim", ignore=shutil.ignore_patterns("*.so", "__pycache__"))
    bench = str(ROOT / "scenarios" / "benchmark.yaml")
    env = {k: v for k, v in os.environ.items() if not k.startswith("SIBSIM_KERNEL")}
    env["PYTHONPATH"] = os.pathsep.join([str(tmp_path / "pkg"), *site.getsitepackages()])
    # -S: no .pth files, so an editable install of sibsim cannot supply the extension
    r = subprocess.run([sys.executable, "-S", "-m", "sibsim", "run", bench, "--trials", "1200", "--seed", "3",
                        "--chunk", "500", "--workers", "2", "-q", "--csv", str(tmp_path / "numpy.csv")],
                       cwd=tmp_path, env=env, capture_output=True, text=True, timeout=1200)
    assert r.returncode == 0, r.stderr
    assert r.stderr.count("compiled participant pass not built") == 1 and r.stderr.count("\n") == 1, r.stderr
    from sibsim.cli import main

    with backend("c" if kernel._compiled() is not None else "numpy"):
        assert main(["run", bench, "--trials", "1200", "--seed", "3", "-q", "--csv", str(tmp_path / "c.csv")]) == 0
    assert (tmp_path / "numpy.csv").read_bytes() == (tmp_path / "c.csv").read_bytes()
