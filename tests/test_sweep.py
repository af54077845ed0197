"""Sweeps: invariance to how points run, common random numbers, resuming, names (sibsim.sweep)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import sibsim
from sibsim.cli import main
from sibsim.errors import UsageError
from sibsim.sweep import apply_point, grid, journal_path, lhs, read_table, sweep

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "scenarios" / "benchmark.yaml"
TRIALS = 1000  # one block of the seed tree: the cheapest run there is
SEED = 7


@pytest.fixture(scope="module")
def sc():
    return sibsim.load(BENCH)


@pytest.fixture(scope="module")
def uplift_grid():
    return grid(job_entry_uplift=[0.0, 0.05, 0.1, 0.15])


@pytest.fixture(scope="module")
def serial(sc, uplift_grid):
    return sweep(sc, uplift_grid, trials=TRIALS, seed=SEED)


def test_rows_columns_and_provenance(sc, serial, uplift_grid):
    assert len(serial) == len(uplift_grid)
    assert list(serial.columns[:4]) == ["job_entry_uplift", "seed", "trials", "scenario_hash"]
    assert serial["job_entry_uplift"].tolist() == [0.0, 0.05, 0.1, 0.15]
    assert (serial["seed"] == SEED).all() and (serial["trials"] == TRIALS).all()
    assert (serial["scenario_hash"] == sc.content_hash).all()
    for m in ("outcome_payments", "investor_irr", "additional_outcomes.job_entry"):
        for st in ("mean", "p5", "p50", "p95"):
            assert f"{m}_{st}" in serial.columns
    assert "investor_loss_p" in serial.columns
    # a row is exactly the summary of the point's own run
    run = sibsim.simulate(sc.with_params(job_entry_uplift=0.1), trials=TRIALS, seed=SEED)
    s = run.metric_summaries()["investor_net_gain"]
    row = serial.iloc[2]
    assert row["investor_net_gain_mean"] == s["mean"] and row["investor_net_gain_p95"] == s["p95"]
    assert row["investor_loss_p"] == run.probabilities()["investor_loss"]["p"]


def test_serial_equals_processes(sc, serial, uplift_grid):
    procs = sweep(sc, uplift_grid, trials=TRIALS, seed=SEED, workers=2)
    pd.testing.assert_frame_equal(serial, procs)


def test_monotone_in_effect_on_common_random_numbers(serial):
    # docs/model.md s.4.2: the treated achievers contain the counterfactual ones participant by participant,
    # so on the same draws a larger uplift never lowers payments or additional outcomes
    for col in ("outcome_payments_mean", "additional_outcomes.job_entry_mean", "outcome_payments_p50"):
        d = np.diff(serial[col].to_numpy())
        assert (d >= 0).all(), (col, serial[col].tolist())
    assert serial["outcome_payments_mean"].iloc[-1] > serial["outcome_payments_mean"].iloc[0]
    # the counterfactual world does not depend on the effect at all: the same uniforms at every point
    assert serial["counterfactual_payments_mean"].nunique() == 1


def test_prices_can_be_swept(sc):
    s2 = apply_point(sc, {"price.job_entry": 5000, "job_entry_uplift": 0.1})
    assert s2.rate_card.prices["job_entry"] == 5000
    assert s2.priors["job_entry_uplift"].dist == "fixed"
    assert sc.rate_card.prices["job_entry"] == 3500  # the original is untouched
    # price 0 for every outcome: nothing is paid, and P(investor loss) is 1
    df = sweep(sc, [{"price.job_entry": 0, "price.job_sustained": 0, "price.qualification": 0}], trials=TRIALS,
               seed=SEED)
    assert df["outcome_payments_mean"].iloc[0] == 0
    assert df["investor_loss_p"].iloc[0] == 1


def test_grid_and_lhs_designs():
    g = grid(a=[1, 2, 3], b=[10, 20])
    assert g[:3] == [{"a": 1.0, "b": 10.0}, {"a": 1.0, "b": 20.0}, {"a": 2.0, "b": 10.0}] and len(g) == 6
    pts = lhs(20, {"x": (0.0, 1.0), "y": (-5.0, 5.0)}, seed=3)
    assert pts == lhs(20, {"x": (0.0, 1.0), "y": (-5.0, 5.0)}, seed=3)
    x = np.array([p["x"] for p in pts])
    y = np.array([p["y"] for p in pts])
    # a Latin hypercube: exactly one point in each of the 20 strata of each dimension
    assert sorted(np.floor(x * 20).astype(int)) == list(range(20))
    assert sorted(np.floor((y + 5) / 10 * 20).astype(int)) == list(range(20))


def _stop_after(k):
    seen = []

    def cb(row):
        seen.append(row)
        if len(seen) == k:
            raise KeyboardInterrupt

    return cb


@pytest.mark.parametrize("ext", ["csv", "parquet"])
def test_interrupted_sweep_resumes_without_recomputing(sc, uplift_grid, serial, tmp_path, ext):
    whole = tmp_path / f"whole.{ext}"
    sweep(sc, uplift_grid, trials=TRIALS, seed=SEED, out=whole)
    out = tmp_path / f"part.{ext}"
    with pytest.raises(KeyboardInterrupt):
        sweep(sc, uplift_grid, trials=TRIALS, seed=SEED, out=out, callback=_stop_after(2))
    assert not out.exists()  # the output is only ever written whole
    lines = journal_path(out).read_text().splitlines()
    assert [json.loads(x)["job_entry_uplift"] for x in lines] == [0.0, 0.05]
    with open(journal_path(out), "a") as f:  # a line cut short by the interruption
        f.write('{"job_entry_uplift": 0.1, "seed": 7, "trials"')
    computed = []
    df = sweep(sc, uplift_grid, trials=TRIALS, seed=SEED, out=out, callback=computed.append)
    assert [r["job_entry_uplift"] for r in computed] == [0.1, 0.15]
    assert df.attrs["reused"] == 2
    assert not journal_path(out).exists()
    pd.testing.assert_frame_equal(df, serial)
    if ext == "csv":
        assert out.read_bytes() == whole.read_bytes()
    pd.testing.assert_frame_equal(read_table(out), read_table(whole))
    # run again: nothing to compute
    again = []
    sweep(sc, uplift_grid, trials=TRIALS, seed=SEED, out=out, callback=again.append)
    assert again == []


def test_parallel_sweep_interrupted_stops_its_workers(sc, uplift_grid, serial, tmp_path):
    import multiprocessing

    out = tmp_path / "p.csv"
    with pytest.raises(KeyboardInterrupt):
        sweep(sc, uplift_grid, trials=TRIALS, seed=SEED, workers=2, out=out, callback=_stop_after(1))
    assert multiprocessing.active_children() == []
    assert len(journal_path(out).read_text().splitlines()) == 1
    df = sweep(sc, uplift_grid, trials=TRIALS, seed=SEED, workers=2, out=out)
    assert df.attrs["reused"] == 1
    pd.testing.assert_frame_equal(df, serial)


def test_resume_from_prewritten_output_and_refuse_other_settings(sc, uplift_grid, serial, tmp_path):
    out = tmp_path / "s.csv"
    serial.iloc[[0, 3]].to_csv(out, index=False)
    computed = []
    df = sweep(sc, uplift_grid, trials=TRIALS, seed=SEED, out=out, callback=computed.append)
    assert [r["job_entry_uplift"] for r in computed] == [0.05, 0.1]
    pd.testing.assert_frame_equal(df, serial)
    with pytest.raises(UsageError, match="seed=7"):
        sweep(sc, uplift_grid, trials=TRIALS, seed=SEED + 1, out=out)
    with pytest.raises(UsageError, match="different sweep"):
        sweep(sc, grid(job_entry_p0=[0.2]), trials=TRIALS, seed=SEED, out=out)


def test_unknown_names_are_refused_listing_the_names(sc):
    with pytest.raises(UsageError, match=r"'bogus'.*parameters: engagement.*prices: price\.job_entry"):
        sweep(sc, [{"bogus": 1.0}], trials=TRIALS, seed=SEED)
    with pytest.raises(UsageError, match="price.job_entry"):
        apply_point(sc, {"price.nothing": 1.0})


def test_cli_sweep_and_bad_names(tmp_path, capsys):
    out = tmp_path / "s.csv"
    rc = main(["sweep", str(BENCH), "--grid", "price.job_entry=3000,4000", "--trials", str(TRIALS), "--seed", "1",
               "--out", str(out), "-q"])
    assert rc == 0
    df = read_table(out)
    assert df["price.job_entry"].tolist() == [3000.0, 4000.0]
    assert df["investor_net_gain_mean"].iloc[1] > df["investor_net_gain_mean"].iloc[0]
    capsys.readouterr()
    for args in (["--grid", "uplift=0,1"], ["--lhs", "3", "--range", "price.jobs=0:1"]):
        rc = main(["sweep", str(BENCH), *args, "--trials", "10", "--out", str(tmp_path / "x.csv")])
        err = capsys.readouterr().err
        assert rc == 2
        assert err.count("\n") == 1 and "job_entry_uplift" in err and "price.qualification" in err
    rc = main(["sweep", str(BENCH), "--grid", "job_entry_uplift=0,1", "--out", str(tmp_path / "x.txt")])
    assert rc == 2 and ".csv or .parquet" in capsys.readouterr().err


@pytest.mark.parametrize("n, workers", [(1, 2), (4, 2), (20, 2), (640, 2), (7, 3), (5, 64), (100_000, 2)])
def test_points_are_dispatched_in_contiguous_chunks(n, workers):
    import math

    from sibsim.dispatch import FINEST, SHARE, chunks

    cs = chunks(n, workers)
    sizes = list(map(len, cs))
    assert [i for c in cs for i in c] == list(range(n))  # every point once, in order
    assert sizes == sorted(sizes, reverse=True)  # large chunks first, small ones last (guided)
    assert sizes[-1] <= max(1, n // (FINEST * workers)) + 1  # the last worker busy waits for little
    assert len(cs) <= SHARE * workers * (math.log(FINEST * workers) + 1) + 1  # few tasks, whatever n
    if n >= 4 * SHARE * workers:
        assert sizes[0] == -(-n // (SHARE * workers)) > 1  # many points a task, not one


def test_processes_get_chunks_of_points(sc, serial, monkeypatch):
    import sibsim.dispatch as dp

    seen = []
    real = dp.chunks
    monkeypatch.setattr(dp, "chunks", lambda n, w: seen.append((n, w)) or real(n, w))
    pts = grid(job_entry_uplift=[0.0, 0.05, 0.1, 0.15])
    procs = sweep(sc, pts, trials=TRIALS, seed=SEED, workers=2)
    assert seen == [(4, 2)]
    pd.testing.assert_frame_equal(serial, procs)


def test_serial_equals_dask(sc, serial, uplift_grid):
    # last in this file: a Dask client leaves threads behind in this process
    from distributed import Client, LocalCluster

    with LocalCluster(n_workers=2, threads_per_worker=1, processes=False, dashboard_address=":0") as cluster, \
            Client(cluster) as client:
        dask = sweep(sc, uplift_grid, trials=TRIALS, seed=SEED, scheduler=client)
    pd.testing.assert_frame_equal(serial, dask)


def test_serial_equals_dask_local_cluster(sc, serial, uplift_grid):
    # the --scheduler local path: a LocalCluster of worker processes (spawned here, since the test above
    # leaves threads in this process: tests/test_start_method.py checks both ways)
    dask = sweep(sc, uplift_grid[:2], trials=TRIALS, seed=SEED, scheduler="local", workers=2)
    pd.testing.assert_frame_equal(serial.iloc[:2], dask)


@pytest.mark.parametrize("command", ["sweep", "portfolio"])
def test_scheduler_local_without_workers_starts_one_worker_a_core(tmp_path, monkeypatch, command):
    """`--scheduler local` alone is a LocalCluster of one worker a core (it once got one worker, and the
    Dask benchmark measured a single process against two)."""
    import sibsim.dispatch
    import sibsim.sweep
    from sibsim.procs import cores

    sizes = []

    def spy(scheduler, workers):
        c, closers = real(scheduler, workers)
        sizes.append(len(c.nthreads()))
        return c, closers

    real = sibsim.dispatch.client
    monkeypatch.setattr(sibsim.dispatch, "client", spy)
    monkeypatch.setattr(sibsim.sweep, "_client", spy)  # the portfolio's way in
    if command == "sweep":
        argv = ["sweep", str(BENCH), "--grid", "price.job_entry=2000,3000", "--trials", "50",
                "--out", str(tmp_path / "s.csv"), "-q"]
    else:
        argv = ["portfolio", str(ROOT / "portfolios" / "uk_fair_chance_fund.yaml"), "--trials", "50",
                "--json", str(tmp_path / "p.json")]
    assert main([*argv, "--scheduler", "local"]) == 0
    assert sizes == [cores()]


def _dask_errors_reach_stderr() -> bool:
    """Would an ERROR of ``distributed.worker`` reach a stream handler in this process?"""
    import logging

    log = logging.getLogger("distributed.worker")
    if not log.isEnabledFor(logging.ERROR):
        return False
    while log is not None:
        if any(isinstance(h, logging.StreamHandler) and h.level <= logging.ERROR for h in log.handlers):
            return True
        log = log.parent if log.propagate else None
    return False


@pytest.mark.parametrize("how", ["spawn", "fork"])
def test_a_local_cluster_logs_only_critical_lines_until_it_closes(how):
    """The cluster sibsim starts keeps Dask's log lines below CRITICAL off stderr, in its workers (spawned
    or forked) and here while it runs: a task's error reaches the caller as an exception, and closing a
    cluster of several workers may log a heartbeat's traceback (dask/distributed#7105: it printed one in
    CI). This process's handlers come back on close."""
    import subprocess
    import sys

    code = (
        "import threading, time, json\n"
        "from test_sweep import _dask_errors_reach_stderr as reach\n"
        f"if {how == 'spawn'}: threading.Thread(target=time.sleep, args=(60,), daemon=True).start()\n"
        "import distributed\n"  # which adds its stream handler
        "from sibsim.dispatch import client\n"
        "from sibsim.procs import start_method\n"
        "method, before = start_method(), reach()\n"
        "c, closers = client('local', 2)\n"
        "workers, here = sorted(c.run(reach).values()), reach()\n"
        "[x.close() for x in closers]\n"
        "print(json.dumps([method, before, workers, here, reach()]))\n")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300,
                       cwd=ROOT / "tests")
    assert r.returncode == 0, r.stderr
    method, before, workers, here, after = json.loads(r.stdout.strip().splitlines()[-1])
    assert method == how
    assert before is True  # Dask's default: its warnings and errors go to stderr
    assert workers == [False, False] and here is False
    assert after is True


def test_a_local_cluster_prints_nothing_when_port_8787_is_taken(tmp_path):
    """The scheduler's HTTP server takes a free local port: Dask's default, 8787, is taken by any other
    cluster on the machine (a second sweep, a notebook), and Dask then warned on stderr."""
    import socket
    import subprocess
    import sys

    held = socket.socket()
    try:
        held.bind(("", 8787))
        held.listen()
    except OSError:  # taken already: the case itself
        pass
    try:
        r = subprocess.run([sys.executable, "-m", "sibsim", "sweep", str(BENCH), "--grid",
                            "price.job_entry=2000,3000", "--trials", "100", "--scheduler", "local",
                            "--out", str(tmp_path / "s.csv"), "-q"], capture_output=True, text=True, timeout=300)
    finally:
        held.close()
    assert (r.returncode, r.stderr) == (0, "")
    assert len(pd.read_csv(tmp_path / "s.csv")) == 2


def _refuse_in_the_worker(run):
    from sibsim.errors import ScenarioError

    raise ScenarioError([("rate_card.prices.job_entry", "refused in a worker")], source="a point")


@pytest.mark.parametrize("workers", [1, 2])
def test_a_point_outside_a_use_is_refused_before_any_run_or_file(tmp_path, capsys, workers):
    out = tmp_path / "s.csv"
    try:
        code = main(["sweep", str(BENCH), "--grid", "engagement=0.5:1.5:5", "--trials", "100", "--out", str(out),
                     "--workers", str(workers)])
    except SystemExit as exc:
        code = exc.code
    _, err = capsys.readouterr()
    assert code == 2
    assert err == ("sibsim: error: invalid scenario: parameters.engagement: fixed at 1.5, it is used as a "
                   "probability at participants.engagement, which must be between 0 and 1\n")
    assert list(tmp_path.iterdir()) == []  # no output, no journal


def test_a_scenario_error_raised_in_a_worker_reaches_the_caller_whole():
    from sibsim.errors import ScenarioError
    from sibsim.sweep import evaluate

    sc = sibsim.load(BENCH)
    with pytest.raises(ScenarioError) as info:
        evaluate(sc, [{"price.job_entry": 3000 + i} for i in range(4)], trials=50, seed=1,
                 reduce=_refuse_in_the_worker, workers=2)
    assert info.value.problems == [("rate_card.prices.job_entry", "refused in a worker")]
    assert info.value.source == "a point"


def _hold_every_queue_lock(context, items):
    """In a worker: the first chunk returns at once; the others take every lock a worker may hold of every
    multiprocessing queue this process inherited (a queue's read lock, held while waiting for a task; a
    SimpleQueue's write lock, held while sending a result) and wait to be killed."""
    import gc
    import time
    from multiprocessing.queues import Queue, SimpleQueue

    if items[0] == 0:
        return items
    time.sleep(0.5)  # the first chunk's result has been sent
    for q in [o for o in gc.get_objects() if isinstance(o, (Queue, SimpleQueue))]:
        for lock in (getattr(q, "_rlock", None), getattr(q, "_wlock", None) if isinstance(q, SimpleQueue) else None):
            if lock is not None:
                lock.acquire(False)
    time.sleep(600)
    return items


def test_stopping_workers_that_hold_the_queues_locks_does_not_hang():
    # Pool.terminate() waited for ever for a lock a killed worker held (a sweep whose point failed in a
    # worker hung in CI, twice); the local workers now run on an executor whose parent side takes none
    import threading
    import time

    from sibsim import dispatch

    got = []

    def consume():
        results = dispatch.run(_hold_every_queue_lock, None, list(range(8)), workers=2)
        got.append(next(results))
        time.sleep(1.5)  # the other worker holds the locks
        results.close()  # the consumer stops (an error, Ctrl-C): the workers are killed
        got.append("stopped")

    t = threading.Thread(target=consume, daemon=True)
    t.start()
    t.join(120)  # a hang guard only
    assert not t.is_alive() and got[1:] == ["stopped"] and got[0][0] == 0
    # and the pool's own threads have ended (one left waiting would hang the interpreter's exit)
    deadline = time.monotonic() + 120  # a hang guard only
    while any(type(th).__name__ == "_ExecutorManagerThread" for th in threading.enumerate()):
        assert time.monotonic() < deadline, [th.name for th in threading.enumerate()]
        time.sleep(0.05)
