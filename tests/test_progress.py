"""sibsim.simulate's progress hook (issue 14: the app's progress bar) changes no number."""

from __future__ import annotations

import numpy as np

import sibsim


def test_progress_callback_sees_every_chunk_and_changes_nothing(repo_root):
    sc = sibsim.spec.load(repo_root / "scenarios" / "benchmark.yaml")
    calls = []
    run = sibsim.simulate(sc, trials=700, seed=5, chunk=300, progress=lambda done, total: calls.append((done, total)))
    assert calls == [(300, 700), (600, 700), (700, 700)]
    plain = sibsim.simulate(sc, trials=700, seed=5)
    for k, v in plain.metrics.items():
        np.testing.assert_array_equal(run.metrics[k], v)
