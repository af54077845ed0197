"""The per-participant pass: one walk over every participant, compiled (sibsim/_kernel.c).

Why compiled: a participant's payments depend jointly on their outcomes (the
per-participant cap applies in payment order), so the engine needs
per-participant state. numpy would make a dozen passes over ``(trials,
participants)`` arrays; the C pass makes one, in registers. It is plain C built
by setuptools when sibsim is installed (no JIT start-up on each run).

Random numbers: participant ``j`` of trial ``g`` (the trial's index in the
run) draws from a counter-based generator, SplitMix64's output function over
``key + g * G3 + j * G2 + r * G1`` (Steele, Lea & Flood 2014; odd constants),
where ``key`` is the stream's 64-bit key from ``numpy.random.SeedSequence``
(see :mod:`sibsim.draw`). Each draw depends only on (seed, trial,
participant, draw), so results are identical for any chunking or worker
count, and no uniform arrays are stored. One 64-bit hash gives two 32-bit
uniforms: outcome ``k``'s achievement and its timing.

For each participant (docs/model.md s.4-5), for each outcome ``k`` in order:
counterfactual achievement ``U_k < p0_k``, treated ``U_k < p_k`` (``p_k = p1_k``
if engaged, else ``p0_k``), both requiring the prerequisite in the same world;
period = start (or the prerequisite's period) + lag, the lag read from the
outcome's lag table with the second uniform. Then, in each world, payments in
order of (payment period, outcome), each cut to what the per-participant cap
leaves, are added to ``(trial, outcome, payment period)`` totals; period ``T``
collects payments due after the horizon (never paid). The counts (for
volume caps) count only payments still above zero after the per-participant cap.

Which pass runs: ``SIBSIM_KERNEL=c`` the compiled one (an error if it was not
built), ``SIBSIM_KERNEL=numpy`` the plain numpy reference
(:mod:`sibsim.kernel_ref`, same numbers bit for bit, slower); unset, the
compiled one if it was built, else the reference with a one-line notice on
stderr (installing on a machine with no C compiler skips the build).
``SIBSIM_KERNEL_SO`` names a compiled pass to load instead of
``sibsim._kernel`` (the mutation check, tests/mutation, builds mutants there).
"""

from __future__ import annotations

import importlib.machinery
import importlib.util
import os
import sys

import numpy as np

from . import kernel_ref
from .errors import UsageError

_NOTICE_SHOWN = False
_C = {}


def _compiled():
    """The compiled module (``sibsim._kernel``, or the file ``SIBSIM_KERNEL_SO`` names), None if absent."""
    path = os.environ.get("SIBSIM_KERNEL_SO") or ""
    if path not in _C:
        try:
            if path:
                loader = importlib.machinery.ExtensionFileLoader("_kernel", path)
                spec = importlib.util.spec_from_file_location("_kernel", path, loader=loader)
                mod = importlib.util.module_from_spec(spec)
                loader.exec_module(mod)
            else:
                from . import _kernel as mod
        except ImportError:
            if path:
                raise
            mod = None
        _C[path] = mod
    return _C[path]


def _notice() -> None:
    """Say once per run (not once per worker process) that the numpy pass stands in for the compiled one."""
    global _NOTICE_SHOWN
    if _NOTICE_SHOWN or os.environ.get("SIBSIM_KERNEL_NOTICE_SHOWN"):
        return
    _NOTICE_SHOWN = True
    os.environ["SIBSIM_KERNEL_NOTICE_SHOWN"] = "1"  # inherited by worker processes started after this
    print("sibsim: compiled participant pass not built (no C compiler at install?); using the slower numpy "
          "reference (same results)", file=sys.stderr)


def backend() -> str:
    """``"c"`` or ``"numpy"``: the participant pass this process runs (see the module docstring)."""
    choice = os.environ.get("SIBSIM_KERNEL", "").strip().lower()
    if choice not in ("", "c", "numpy"):
        raise UsageError(f"SIBSIM_KERNEL must be 'c' or 'numpy'; got {choice!r}")
    if choice == "numpy":
        return "numpy"
    if _compiled() is not None:
        return "c"
    if choice == "c":
        raise UsageError("SIBSIM_KERNEL=c but sibsim's compiled participant pass (sibsim/_kernel.c) was not built; "
                         "reinstall sibsim with a C compiler, or unset SIBSIM_KERNEL to use the numpy pass")
    _notice()
    return "numpy"


def _c(x, dtype) -> np.ndarray:
    return np.ascontiguousarray(x, dtype=dtype)


def participant_pass(key, first_trial, start, eng_given, e, p0, p1, prereq, lag_vals, lag_cdf, lag_n, lag_uniform,
                     prices, cap_pp, pay_lag, pay_engaged_only, T, counts, by_start, amt, cnt, ach, ach_start,
                     eng_starts) -> None:
    """Fill the output arrays in place; world 0 is treated, world 1 counterfactual.

    key uint64 stream key; first_trial: run index of row 0
    start (ns, N) int16, ns in {1, n}; a slot with start >= T is empty
    eng_given (n, N) bool, used when ``e`` is empty (delivery model), else
    e (n,) engagement probability
    p0, p1 (n, K) probabilities; prereq (K,) int64 (-1 none)
    lag_vals (K, L) int64, lag_cdf (K, L) cumulative probabilities, lag_n (K,) int64,
    lag_uniform (K,) bool: equally likely lags lag_vals[k, 0] + 0 .. lag_n - 1 (no table scan)
    (probabilities come as int64 thresholds ``round(p * 2**32)``, see :func:`thresholds`,
    and are compared with 32-bit uniform integers)
    prices (n, K) float64; cap_pp (n,) float64 (inf: no cap); pay_lag int; T int
    counts, by_start: bool, whether to fill ``cnt`` and ``ach_start`` (they cost time)
    amt (2, n, K, T + 1) float64 payments by payment period
    cnt (2, n, K, T + 1) int64 their number (for volume caps)
    ach (2, n, K) int64 outcomes achieved before the horizon
    ach_start (2, n, K, T) int64 outcomes achieved (at any time) by start period, for measurement
    eng_starts (n, T) int64 engaged starters by start period
    """
    i8 = np.int64
    n, K = p0.shape
    ns, N = start.shape
    L = lag_vals.shape[1]
    draw_e = e.shape[0] > 0
    expected = {
        "start": (start, np.int16, (ns, N)), "p0": (p0, i8, (n, K)), "p1": (p1, i8, (n, K)),
        "prices": (prices, np.float64, (n, K)), "cap_pp": (cap_pp, np.float64, (n,)),
        "amt": (amt, np.float64, (2, n, K, T + 1)), "ach": (ach, i8, (2, n, K)), "eng_starts": (eng_starts, i8, (n, T)),
    }
    if counts:
        expected["cnt"] = (cnt, i8, (2, n, K, T + 1))
    if by_start:
        expected["ach_start"] = (ach_start, i8, (2, n, K, T))
    for name, (arr, dtype, shape) in expected.items():
        if arr.dtype != dtype or arr.shape != shape or not arr.flags.c_contiguous:
            raise ValueError(f"participant_pass: {name} must be a C-contiguous {np.dtype(dtype)} array of shape "
                             f"{shape}; got {arr.dtype} {arr.shape}")
    for name in ("amt", "cnt", "ach", "ach_start", "eng_starts"):
        if not locals()[name].flags.writeable:
            raise ValueError(f"participant_pass: {name} must be writeable")
    if not draw_e and eng_given.shape != (n, N):
        raise ValueError(f"participant_pass: eng_given must have shape {(n, N)}; got {eng_given.shape}")
    if np.any(np.asarray(prereq) >= np.arange(K)):
        raise ValueError("participant_pass: an outcome's prerequisite must come before it")
    if backend() == "numpy":
        kernel_ref.participant_pass(
            key, first_trial, start, _c(eng_given, np.bool_), _c(e, i8), p0, p1, _c(prereq, i8), _c(lag_vals, i8),
            _c(lag_cdf, i8), _c(lag_n, i8), _c(lag_uniform, np.bool_), prices, cap_pp, pay_lag, pay_engaged_only, T,
            counts, by_start, amt, cnt, ach, ach_start, eng_starts)
        return
    _compiled().participant_pass(
        n, N, K, L, T, ns, int(key), int(first_trial), int(pay_lag),
        draw_e, bool(pay_engaged_only), bool(counts), bool(by_start),
        start, _c(eng_given, np.bool_), _c(e, i8), p0, p1, _c(prereq, i8), _c(lag_vals, i8), _c(lag_cdf, i8),
        _c(lag_n, i8), _c(lag_uniform, np.bool_), prices, cap_pp, amt, cnt, ach, ach_start, eng_starts)


def thresholds(p: np.ndarray) -> np.ndarray:
    """Probabilities as int64 thresholds for 32-bit uniform integers: ``u < round(p * 2**32)``."""
    return np.rint(np.clip(p, 0.0, 1.0) * 4294967296.0).astype(np.int64)


if os.environ.get("SIBSIM_KERNEL", "").strip().lower() in ("", "c") and _compiled() is None:
    _notice()  # at import, in the main process, before any worker is forked
