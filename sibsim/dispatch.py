"""Where the items of a design run: in this process, on local worker processes, or on a Dask cluster.

A design (a sweep's points, a sensitivity analysis's samples) is a list of
items and one context they share (the base scenario, trials, seed, what to
keep of each run). :func:`run` yields ``fn(context, items)`` for the items in
contiguous chunks, many items a task at first and fewer towards the end
(:func:`chunks`), each chunk's results as the chunk finishes:

- in this process (``workers=1``): one item at a time;
- on local processes: the workers fork from this process after ``warm()`` has
  loaded what they need (the engine, the priors' tables), and receive the
  context once, through the fork (the pool's initializer), so a task carries
  only its items;
- on Dask: one task per chunk, carrying the context; ``"local"`` starts a
  LocalCluster of processes (one thread each, no dashboard) forked from this
  warm process, an address (``tcp://host:8786``) or a ``distributed.Client``
  is used as it is.

Workers fork only from a process that runs one thread; beside other threads
(a notebook's kernel, a browser driver) they are spawned, cold, and get the
context by pickle (:func:`sibsim.procs.start_method`).

``meanwhile()``, if given, runs in this process once the work is handed out,
while the workers compute (the caller's own imports, say), so it adds no wall
time. Stopped early (an error, Ctrl-C, SIGTERM, a consumer that stops
iterating), local workers are killed at once (:mod:`sibsim.procs`).
"""

from __future__ import annotations

import os
from functools import partial
from typing import Callable, Iterator, Sequence

from .errors import UsageError

SHARE = 2  # a chunk takes 1 / (SHARE * workers) of the items not yet handed out
FINEST = 32  # ... and no fewer than 1 / (FINEST * workers) of all the items (and one)


def chunks(n: int, workers: int) -> list[range]:
    """Split indices ``0 .. n-1`` into contiguous chunks of decreasing size (guided self-scheduling).

    Each chunk takes ``1 / (SHARE * workers)`` of the items left, so the first chunks are large (many items a
    task, few tasks) and the last small: a worker that finds no work left waits at most for one small chunk,
    whether the items cost the same or not, and whatever else the machine is doing. About
    ``SHARE * workers * ln(FINEST * workers)`` chunks, whatever ``n``.
    """
    w = max(1, workers)
    least = max(1, n // (FINEST * w))
    out, a = [], 0
    while a < n:
        b = min(n, a + max(least, -(-(n - a) // (SHARE * w))))
        out.append(range(a, b))
        a = b
    return out


# ---------------------------------------------------------------- in the workers

_CONTEXT: tuple = ()  # a local worker's context, set once by the pool's initializer (inherited through fork)


def _set_context(fn: Callable, context) -> None:
    global _CONTEXT
    _CONTEXT = (fn, context)


def _pool_task(items: list) -> list:
    fn, context = _CONTEXT
    return fn(context, items)


def _dask_task(fn: Callable, context, items: list) -> list:
    return fn(context, items)


# ---------------------------------------------------------------- Dask

def client(scheduler, workers: int | None):
    """(client, things to close) for a Dask scheduler given as 'local', an address or a Client."""
    from distributed import Client, LocalCluster

    if isinstance(scheduler, Client):
        return scheduler, []
    if scheduler == "local":
        import logging

        import dask

        # the workers fork from this process, which has loaded the engine and built the tables (warm):
        # they start warm instead of importing everything again (spawn, Dask's default, is taken only when
        # other threads run here: sibsim.procs.start_method); one thread a worker (the engine holds the
        # GIL), no dashboard (an HTTP server nobody reads)
        from .procs import bound_workers, cores, quiet_children, start_method

        n = bound_workers(workers) if workers else cores()
        method = start_method()
        how = {"distributed.worker.multiprocessing-method": method}
        if method == "spawn":  # a spawned worker quiets its signals in a preload (sibsim.procs.dask_setup)
            how["distributed.worker.preload"] = [*dask.config.get("distributed.worker.preload", []), "sibsim.procs"]
        cluster = None
        try:
            # a Ctrl-C or SIGTERM while the cluster starts is held back until it has started, then raised here
            with dask.config.set(how), quiet_children():
                # the scheduler's HTTP server (health checks) on a free local port: its default, 8787, is
                # taken by any other cluster on the machine (a warning on stderr). Dask's own log lines are
                # silenced below CRITICAL in the workers and, until the cluster closes, here: a task's error
                # reaches the caller as an exception, and a cluster of several workers may log a traceback
                # while it closes (a heartbeat meeting the closed scheduler, dask/distributed#7105; seen in CI)
                cluster = LocalCluster(n_workers=n, threads_per_worker=1, processes=True, dashboard_address=None,
                                       scheduler_kwargs={"dashboard_address": "127.0.0.1:0"},
                                       silence_logs=logging.CRITICAL)
            c = Client(cluster)
        except BaseException:  # an error, Ctrl-C or SIGTERM while starting or connecting: leave no worker behind
            if cluster is not None:
                _kill_local_workers(cluster)
                cluster.close()
            raise
        return c, [c, cluster]
    try:
        c = Client(scheduler, timeout="10s")
    except (OSError, TimeoutError, ValueError) as err:
        raise UsageError(f"--scheduler {scheduler}: cannot connect ({err})") from None
    return c, [c]


def _kill_local_workers(cluster) -> None:
    """Stopped early (an error, Ctrl-C, SIGTERM): kill a LocalCluster's worker processes at once, quietly,
    rather than let them finish their tasks and log each cancellation."""
    import logging
    import signal

    logging.getLogger("distributed").setLevel(logging.CRITICAL)
    for nanny in list(getattr(cluster, "workers", {}).values()):
        pid = getattr(nanny, "pid", None)
        if pid:
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass


def _on_dask(fn, context, items, scheduler, workers, warm, meanwhile) -> Iterator[list]:
    from distributed import as_completed

    if scheduler == "local" and warm is not None:
        warm()
    c, closers = client(scheduler, workers)
    finished = False
    try:
        slots = sum(c.nthreads().values()) or 1
        parts = [[items[i] for i in ch] for ch in chunks(len(items), slots)]
        futs = c.map(_dask_task, [fn] * len(parts), [context] * len(parts), parts, pure=False)
        if meanwhile is not None:
            meanwhile()
        try:
            for _, res in as_completed(futs, with_results=True):
                yield res
            finished = True
        finally:
            if finished or scheduler != "local":
                c.cancel(futs)
    finally:
        if not finished and scheduler == "local":
            _kill_local_workers(closers[-1])
        for x in closers:
            x.close()


# ---------------------------------------------------------------- local

def _on_processes(fn, context, items, workers, warm, meanwhile) -> Iterator[list]:
    from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait

    from .procs import bound_workers, forking, mp_context, stop_executor, worker_init

    if warm is not None:
        warm()
    workers = bound_workers(workers)
    parts = [[items[i] for i in ch] for ch in chunks(len(items), workers)]
    # the context reaches the workers through the fork (the initializer's arguments are not pickled; when
    # this process runs other threads the workers are spawned instead, sibsim.procs.start_method, and get it
    # by pickle).
    # A ProcessPoolExecutor, not a multiprocessing.Pool: stopping a Pool whose killed worker held one of the
    # queues' locks (an idle worker holds the task queue's, one sending a result the result queue's) waits
    # for ever in Pool.terminate(); the executor's parent side takes no lock a worker shares (a sweep hung in CI)
    ex = ProcessPoolExecutor(max_workers=min(workers, len(parts)), mp_context=mp_context(),
                             initializer=worker_init, initargs=(os.getpid(), partial(_set_context, fn, context)))
    finished = False
    try:
        with forking():  # the first submit forks the workers
            todo = {ex.submit(_pool_task, part) for part in parts}
        if meanwhile is not None:
            meanwhile()
        while todo:
            done, todo = wait(todo, return_when=FIRST_COMPLETED)
            for f in done:
                yield f.result()
        finished = True
    finally:
        if finished:
            ex.shutdown(wait=True)
        else:  # an error, Ctrl-C, SIGTERM or a consumer that stopped: kill the workers at once
            stop_executor(ex)


def run(fn: Callable, context, items: Sequence, *, workers: int | None = None, scheduler=None,
        warm: Callable[[], None] | None = None, meanwhile: Callable[[], None] | None = None) -> Iterator[list]:
    """Yield ``fn(context, chunk)`` for contiguous chunks of ``items``, each as it finishes (any order).

    ``fn`` must be a module-level function (workers find it by name) returning one result per item, in a
    list; ``context`` and the items must be picklable for Dask. ``scheduler``: None (``workers`` local
    processes; 1 or None = in this process), ``"local"`` (a Dask LocalCluster of ``workers`` processes,
    None = one a core), a Dask scheduler address or a ``distributed.Client``. ``warm()`` prepares this
    process before local workers fork from it; ``meanwhile()`` runs here while they compute (see the
    module docstring).
    """
    items = list(items)
    if not items:
        return
    if scheduler is not None:
        yield from _on_dask(fn, context, items, scheduler, workers, warm, meanwhile)
        return
    workers = 1 if workers is None else workers
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        import numpy as np

        if not (isinstance(workers, np.integer) and workers >= 1):
            raise UsageError(f"workers must be a whole number >= 1; got {workers!r}")
        workers = int(workers)
    if workers == 1 or len(items) == 1:
        for item in items:
            yield fn(context, [item])
        return
    yield from _on_processes(fn, context, items, workers, warm, meanwhile)
