"""Workers fork from a process that runs one thread and are spawned beside other threads.

Forking a multi-threaded process copies every lock as it is at that instant; a lock another thread held
then (a logging stream's) is held for ever in the child, which hangs. That happened once in CI: a Dask
worker forked from a test process that also ran a browser driver's threads. Each case runs
``tests/start_method_probe.py`` in a fresh process, so the threads present are the ones it starts.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

PROBE = Path(__file__).with_name("start_method_probe.py")


@pytest.mark.parametrize("threads, method", [("plain", "fork"), ("threaded", "spawn")])
def test_workers_fork_only_from_a_process_with_one_thread(threads, method):
    done = subprocess.run([sys.executable, str(PROBE), threads], capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout)
    for where in ("engine", "sweep", "dask"):  # the engine's pool, a sweep's pool, a Dask LocalCluster
        seen = out[where]["workers"]
        assert seen, where
        # every worker started the one way. Each is seen either as it was born, holding Ctrl-C and SIGTERM
        # back (a spawned one may still be importing when the first results come), or past its initializer:
        # ignoring Ctrl-C (the parent handles it) and blocking neither; never open to a Ctrl-C
        assert {w["method"] for w in seen} == {method}, (where, seen)
        assert all(w["ignores_sigint"] != w["blocked"] for w in seen), (where, seen)
        assert any(w["ignores_sigint"] for w in seen), (where, seen)
        if where == "dask":  # seen once the cluster has run a sweep: a spawned worker's preload has run
            assert all(w["ignores_sigint"] for w in seen), seen
        assert out[where]["same"], where  # the same numbers as one process, whichever way the workers started
