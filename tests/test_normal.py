"""The compiled normal quantile and the table cache (issue 15, start-up): a run of the benchmark scenario
imports no scipy, and gives the very numbers it gave with scipy.

- ``sibsim._normal.ndtri`` (sibsim/_normal.c) is held to ``scipy.special.ndtri``, the reference, bit for bit
  over millions of values and every edge; deliberate bugs compiled into copies of it must fail that check.
- ``sibsim.tables`` keeps each beta prior's quantile table on disk: a run's per-trial results are identical
  with the cache cold, warm, switched off, damaged or unwritable, and a warm run imports no scipy.
"""

from __future__ import annotations

import importlib.machinery
import importlib.util
import json
import os
import shlex
import subprocess
import sys
import sysconfig
from pathlib import Path

import numpy as np
import pytest
from scipy import special

from sibsim import dists, tables

from helpers import ROOT

BENCHMARK = str(ROOT / "scenarios" / "benchmark.yaml")


def _values() -> np.ndarray:
    rng = np.random.default_rng(20261206)
    edges = [0.0, 1.0, -0.1, 1.1, np.inf, -np.inf, 5e-324, 1e-310, 0.5, np.nextafter(0.5, 0), np.nextafter(0.5, 1),
             0.13533528323661269189, 1 - 0.13533528323661269189, np.exp(-32.0), 1 - 2**-53, 2**-53, dists._TAIL,
             1 - dists._TAIL]
    return np.concatenate([rng.random(1_000_000), 10 ** rng.uniform(-320, -1, 200_000),
                           1 - 10 ** rng.uniform(-16, -1, 200_000), edges])


def _mismatches(got: np.ndarray, ref: np.ndarray) -> int:
    same = (got.view(np.uint64) == ref.view(np.uint64)) | (np.isnan(got) & np.isnan(ref))
    return int((~same).sum())


def _ndtri_with(module, u: np.ndarray) -> np.ndarray:
    out = np.empty_like(u)
    module.ndtri(u, out)
    return out


@pytest.mark.skipif(dists._normal is None, reason="sibsim/_normal.c not built")
def test_compiled_quantile_is_scipys_bit_for_bit():
    u = _values()
    assert _mismatches(_ndtri_with(dists._normal, u), special.ndtri(u)) == 0
    assert np.isnan(_ndtri_with(dists._normal, np.array([np.nan])))[0]


def test_the_wrapper_keeps_shapes_and_takes_any_layout():
    u = np.random.default_rng(1).random((40, 30))
    np.testing.assert_array_equal(dists.ndtri(u), special.ndtri(u))
    np.testing.assert_array_equal(dists.ndtri(u[:, ::3]), special.ndtri(u[:, ::3]))  # not contiguous
    np.testing.assert_array_equal(dists.ndtri(u.astype(np.float32)), special.ndtri(u.astype(np.float32).astype(float)))
    assert dists.ndtri(0.975) == special.ndtri(0.975) and np.ndim(dists.ndtri(0.975)) == 0
    assert dists.ndtri([]).shape == (0,)


def test_without_the_compiled_quantile_scipys_is_used(monkeypatch):
    u = _values()[:10_000]
    monkeypatch.setattr(dists, "_normal", None)
    np.testing.assert_array_equal(dists.ndtri(u), special.ndtri(u))


def test_the_compiled_quantile_refuses_mismatched_buffers():
    if dists._normal is None:
        pytest.skip("sibsim/_normal.c not built")
    with pytest.raises(ValueError, match="one length"):
        dists._normal.ndtri(np.zeros(3), np.zeros(2))


# ---------------------------------------------------------------- deliberate bugs must fail the check

MUTANTS = {
    "centre_coefficient": ("-5.99633501014107895267E1", "-5.99633501014117895267E1"),
    "near_tail_coefficient": ("2.18663306850790267539E0", "2.18663306850780267539E0"),
    "far_tail_coefficient": ("6.79019408009981274425E-9", "6.79019408009971274425E-9"),
    "centre_boundary": ("if (y > EXP_MINUS_2) {", "if (y >= 0.14) {"),
    "tail_switch": ("if (z < 8.0)", "if (z < 7.0)"),
    "symmetry": ("return lower ? -x : x;", "return lower ? -x : x + 1e-15;"),
    "monic_order": ("for (int i = 1; i < n; i++) r = r * x + c[i];", "for (int i = 1; i < n - 1; i++) r = r * x + c[i];"),
}


def _compile_args() -> list[str]:
    sys.path.insert(0, str(ROOT / "tests" / "mutation"))
    try:
        import run as mutation  # tests/mutation/run.py: setup.py's flags
    finally:
        sys.path.pop(0)
    return mutation.compile_args()


def _build(src: str, folder: Path):
    c_file = folder / "_normal.c"
    c_file.write_text(src)
    so = folder / ("_normal" + sysconfig.get_config_var("EXT_SUFFIX"))
    cc = shlex.split(sysconfig.get_config_var("CC") or "cc")
    cmd = [*cc, *_compile_args(), "-fPIC", "-shared", f"-I{sysconfig.get_paths()['include']}", str(c_file),
           "-o", str(so), "-lm"]
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode:
        pytest.skip(f"no working C compiler here: {r.stderr.strip()[:200]}")
    loader = importlib.machinery.ExtensionFileLoader("_normal", str(so))
    spec = importlib.util.spec_from_file_location("_normal", so, loader=loader)
    module = importlib.util.module_from_spec(spec)
    loader.exec_module(module)
    return module


def test_deliberate_bugs_in_the_compiled_quantile_fail_the_check(tmp_path):
    source = (ROOT / "sibsim" / "_normal.c").read_text()
    u = _values()
    ref = special.ndtri(u)
    (tmp_path / "clean").mkdir()
    clean = _build(source, tmp_path / "clean")
    assert _mismatches(_ndtri_with(clean, u), ref) == 0  # the copy as built here is scipy's
    survivors = []
    for name, (old, new) in MUTANTS.items():
        assert source.count(old) == 1, f"mutation target of {name} not found once in _normal.c"
        folder = tmp_path / name
        folder.mkdir()
        if _mismatches(_ndtri_with(_build(source.replace(old, new), folder), u), ref) == 0:
            survivors.append(name)
    assert survivors == []


# ---------------------------------------------------------------- the table cache


def _run(tmp_path: Path, cache: str, name: str) -> tuple[bytes, list[str]]:
    csv = tmp_path / f"{name}.csv"
    code = ("import sys, json, sibsim\n"
            f"r = sibsim.simulate(sibsim.load({BENCHMARK!r}), trials=1500, seed=3)\n"
            f"r.to_frame().to_csv({str(csv)!r})\n"
            "print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] == 'scipy')))")
    env = {**os.environ, "SIBSIM_CACHE_DIR": cache}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True, cwd=ROOT)
    return csv.read_bytes(), json.loads(out.stdout.strip().splitlines()[-1])


def test_per_trial_results_do_not_depend_on_the_cache(tmp_path):
    cache = tmp_path / "cache"
    cold, cold_scipy = _run(tmp_path, str(cache), "cold")
    assert cold_scipy  # the tables were computed by scipy
    files = sorted(cache.glob("table-*.npy"))
    assert len(files) == 4  # the benchmark's four beta priors
    warm, warm_scipy = _run(tmp_path, str(cache), "warm")
    assert warm == cold and warm_scipy == []  # a warm run imports no scipy at all
    off, _ = _run(tmp_path, "off", "off")
    assert off == cold
    for f in files:  # damaged tables: ignored and replaced
        f.write_bytes(b"not a table")
    damaged, damaged_scipy = _run(tmp_path, str(cache), "damaged")
    assert damaged == cold and damaged_scipy
    assert all(np.load(f).shape == (len(dists._Z),) for f in files)


def test_a_table_failing_its_check_is_recomputed(tmp_path, monkeypatch):
    monkeypatch.setenv("SIBSIM_CACHE_DIR", str(tmp_path))
    a, b = 3.25, 7.5
    key = f"beta {a!r} {b!r} on {dists._Z_ENDS!r} x {len(dists._Z)}"
    first = tables.cached(key, len(dists._Z), lambda: dists._compute_beta_table(a, b), check=dists._is_quantile_table)
    (path,) = tmp_path.glob("table-*.npy")
    bad = first.copy()
    bad[10] = 2.0  # outside [0, 1]: not a beta quantile table
    np.save(path, bad)
    again = tables.cached(key, len(dists._Z), lambda: dists._compute_beta_table(a, b), check=dists._is_quantile_table)
    np.testing.assert_array_equal(again, first)
    np.testing.assert_array_equal(np.load(path), first)
    assert not again.flags.writeable


def test_an_unwritable_cache_is_skipped(tmp_path, monkeypatch):
    blocker = tmp_path / "file"
    blocker.write_text("a file where the cache directory would go")
    monkeypatch.setenv("SIBSIM_CACHE_DIR", str(blocker / "sub"))
    x = tables.cached("anything", 4, lambda: np.arange(4.0))
    np.testing.assert_array_equal(x, np.arange(4.0))
    assert list(tmp_path.iterdir()) == [blocker]


def test_the_key_names_the_scipy_version(tmp_path, monkeypatch):
    monkeypatch.setenv("SIBSIM_CACHE_DIR", str(tmp_path))
    p1 = tables._path("k")
    monkeypatch.setattr(tables, "scipy_version", lambda: "0.0.1")
    assert tables._path("k") != p1
    import scipy

    monkeypatch.undo()
    assert tables.scipy_version() == scipy.__version__


def test_cache_location(monkeypatch, tmp_path):
    monkeypatch.delenv("SIBSIM_CACHE_DIR", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert tables.cache_dir() == tmp_path / "sibsim"
    for off in ("off", "", "0"):
        monkeypatch.setenv("SIBSIM_CACHE_DIR", off)
        assert tables.cache_dir() is None
