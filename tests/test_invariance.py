"""A trial's numbers do not depend on its batch: the whole per-trial CSV is the same, byte for byte, for any
chunk size and worker count (docs/model.md s.13), for every shipped scenario.

Chunks are computed over whole blocks of 1,000 trials, so chunk sizes 1,000,
2,500 and 7,919 put each trial among different neighbours; any reduction
across a batch that feeds a per-trial number (a BLAS matrix product in the
IRR or a present value, say) shows here as a difference in the last bits.
The delivery model is costly per trial: its scenarios run a few trials in
small chunks.
"""

from __future__ import annotations

import contextlib
import io

import pytest

import numpy as np

import sibsim
from sibsim.cli import main

from helpers import ROOT, benchmark_dict, scenario

SCENARIOS = sorted((ROOT / "scenarios").glob("*.yaml"))
MODELS = "sib,pbr,fee,hybrid"


def run_csv(path, tmp_path, *, trials: int, seed: int, chunk: int, workers: int) -> bytes:
    out = tmp_path / f"s{seed}_c{chunk}_w{workers}.csv"
    err = io.StringIO()
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(err):
        code = main(["run", str(path), "--trials", str(trials), "--seed", str(seed), "--chunk", str(chunk),
                     "--workers", str(workers), "--finance", MODELS, "--csv", str(out), "-q"])
    assert code == 0, err.getvalue()
    return out.read_bytes()


def is_delivery(path) -> bool:
    return "delivery:" in path.read_text()


@pytest.mark.parametrize("path", SCENARIOS, ids=lambda p: p.stem)
def test_per_trial_csv_is_identical_for_any_chunk_size_and_worker_count(path, tmp_path):
    if is_delivery(path):  # discrete-event trials: few of them, small chunks
        trials, plans = 9, {5: [(4, 1), (7, 2)], 12: [(3, 2)]}
        reference_chunk = 100
    else:  # 2,600 trials: chunks of 1,000 and 2,500 split the run, 7,919 does not
        trials, plans = 2600, {3: [(1000, 1), (2500, 2)], 12: [(1000, 2)]}
        reference_chunk = 7919
    for seed, plan in plans.items():
        ref = run_csv(path, tmp_path, trials=trials, seed=seed, chunk=reference_chunk, workers=1)
        assert ref.count(b"\n") == trials + 1
        for chunk, workers in plan:
            got = run_csv(path, tmp_path, trials=trials, seed=seed, chunk=chunk, workers=workers)
            assert got == ref, f"{path.stem}: seed {seed}, chunk {chunk}, {workers} workers differ from one chunk"


def test_correlated_parameters_do_not_depend_on_the_batch():
    """The Gaussian copula mixes a trial's own draws only (no matrix product across trials)."""
    d = benchmark_dict()
    d["correlations"] = [{"a": "job_entry_p0", "b": "job_entry_uplift", "rho": 0.6},
                         {"a": "engagement", "b": "job_sustained_q0", "rho": -0.3}]
    sc = scenario(d)
    a = sibsim.simulate(sc, trials=2600, seed=4, chunk=7919, workers=1)
    b = sibsim.simulate(sc, trials=2600, seed=4, chunk=1000, workers=1)
    for k in a.params:
        assert a.params[k].tobytes() == b.params[k].tobytes(), k
    for k in a.metrics:
        assert a.metrics[k].tobytes() == b.metrics[k].tobytes(), k
    assert np.corrcoef(a.params["job_entry_p0"], a.params["job_entry_uplift"])[0, 1] > 0.5


@pytest.mark.parametrize("path", SCENARIOS, ids=lambda p: p.stem)
def test_a_shorter_run_is_the_start_of_a_longer_one(path, tmp_path):
    """A run of ``n`` trials draws its last block only as far as trial ``n - 1`` (sibsim.draw): its per-trial
    CSV is the first ``n`` rows of a longer run's, for a run of one trial, one ending inside a block and one
    ending on a block's last trial."""
    if is_delivery(path):
        cuts, longest = (1, 4), 9
    else:
        cuts, longest = (1, 2, 1000, 1777), 2600
    ref = run_csv(path, tmp_path, trials=longest, seed=21, chunk=7919, workers=1).splitlines()
    for n in cuts:
        got = run_csv(path, tmp_path, trials=n, seed=21, chunk=7919, workers=1).splitlines()
        assert got == ref[:n + 1], f"{path.stem}: a run of {n} trials is not the start of a run of {longest}"
