"""Worker processes that behave: bounded by the cores, quiet on Ctrl-C, dead with their parent.

Used by every pool sibsim starts (``sibsim.engine.simulate``, ``sibsim.sweep.execute``):

- :func:`bound_workers` caps a requested worker count at the machine's cores (warning when it does):
  more processes than cores only contend, and one process per chunk could exhaust memory.
- :func:`worker_init` is each worker's initializer: the worker ignores SIGINT (a Ctrl-C at the terminal
  reaches the whole process group; the parent alone handles it, stops the pool and prints one line),
  takes back the default SIGTERM action (the parent's handler is inherited through ``fork``), and asks
  Linux to kill it when its parent dies (``prctl(PR_SET_PDEATHSIG, SIGKILL)``, see prctl(2)), so a
  ``kill -9`` of the parent leaves no worker behind. Where prctl is not available, a daemon thread
  polls ``os.getppid()`` instead.
- :func:`forking` holds Ctrl-C and SIGTERM back while a pool forks its workers: a worker is born with them
  blocked, and :func:`worker_init` unblocks them only once it ignores SIGINT, so a Ctrl-C in the instant
  between the fork and the initializer is dropped instead of raising in the worker (a traceback on the
  terminal); in the parent it is delivered as soon as the workers are forked.
- :func:`start_method` forks the workers (they start warm, sharing what this process has loaded) when this
  process runs one thread, and spawns them otherwise: a fork copies the other threads' locks as they are at
  that instant, and a lock one of them held (a logging stream's, say) stays held in the child for ever.
- :func:`stop_executor` (a ``ProcessPoolExecutor``) and :func:`stop_pool_processes` kill a pool's processes at once (used when the parent is interrupted,
  instead of waiting for the chunks already queued).
"""

from __future__ import annotations

import os
import signal
import sys
import threading
import warnings

from .errors import SibsimWarning

PR_SET_PDEATHSIG = 1  # <linux/prctl.h>


def cores() -> int:
    """Cores this process may use (its CPU affinity where the system reports it)."""
    try:
        return len(os.sched_getaffinity(0)) or 1
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def bound_workers(workers: int, what: str = "workers") -> int:
    """``workers`` capped at :func:`cores`, with a warning naming ``what`` when capped."""
    n = cores()
    if workers > n:
        warnings.warn(f"{what} {workers} is more than the {n} cores of this machine; using {n}",
                      SibsimWarning, stacklevel=3)
        return n
    return workers


def _die_with(parent: int) -> None:
    """Kill this process when ``parent`` dies: prctl on Linux, else a thread polling the parent id."""
    if sys.platform.startswith("linux"):
        try:
            import ctypes

            libc = ctypes.CDLL(None, use_errno=True)
            if libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0) == 0:
                if os.getppid() != parent:  # the parent died before prctl took effect
                    os._exit(1)
                return
        except (OSError, AttributeError):
            pass

    def watch() -> None:
        import time

        while os.getppid() == parent:
            time.sleep(0.5)
        os._exit(1)

    threading.Thread(target=watch, daemon=True, name="sibsim-parent-watch").start()


HELD = (signal.SIGINT, signal.SIGTERM)


def start_method() -> str:
    """How to start worker processes from here: ``"fork"`` when this process runs one thread, else
    ``"spawn"``. Forking a multi-threaded process copies every lock as it is; one held by another thread
    at that instant (a logging handler's stream, the import lock) is held for ever in the child, which then
    hangs (seen once: a Dask worker forked beside a browser driver's threads). Spawned workers start cold
    (they import what they need again) and get what they run by pickle; signals are handled alike."""
    return "fork" if threading.active_count() == 1 else "spawn"


def mp_context():
    """The ``multiprocessing`` context for a pool started now (:func:`start_method`)."""
    from multiprocessing import get_context

    return get_context(start_method())


class forking:
    """``with forking():`` around the call that forks a pool's workers (an executor's first
    ``submit``): SIGINT and SIGTERM are blocked in this thread meanwhile, so the workers (and the pool's own
    threads) start with them blocked; the previous mask comes back on leaving, and a signal that arrived
    meanwhile is delivered then (raised there, so call it inside the ``try`` that stops the pool)."""

    def __enter__(self):
        self._old = signal.pthread_sigmask(signal.SIG_BLOCK, HELD)
        return self

    def __exit__(self, *exc) -> None:
        signal.pthread_sigmask(signal.SIG_SETMASK, self._old)


def worker_init(parent: int, then=None) -> None:
    """Pool initializer (see the module docstring); ``then()`` runs afterwards if given. A SIGINT that
    arrived while the worker was born (:func:`forking`) is dropped by ``SIG_IGN``; a SIGTERM ends it."""
    _quiet()
    _die_with(parent)
    if then is not None:
        then()


def stop_pool_processes(processes) -> None:
    """Kill the given ``multiprocessing`` processes (a pool's) and reap them."""
    procs = list(processes)
    for p in procs:
        try:
            p.kill()
        except (OSError, ValueError, AttributeError):
            pass
    for p in procs:
        try:
            p.join(5)
        except (OSError, ValueError, AssertionError, AttributeError):
            pass


def stop_executor(ex) -> None:
    """Stop a ``ProcessPoolExecutor`` at once (an error, Ctrl-C or SIGTERM): cancel what is queued, kill its
    processes, then wait (5 s at most) for its manager thread to wind down. Without that wait the interpreter's
    exit hook may write to the thread's wake-up pipe just as the thread closes it, printing "Exception ignored
    ... Bad file descriptor" (seen under load in tests/test_faults_save.py)."""
    procs = list((getattr(ex, "_processes", None) or {}).values())
    thread = getattr(ex, "_executor_manager_thread", None)  # taken now: shutdown() forgets it
    ex.shutdown(wait=False, cancel_futures=True)
    stop_pool_processes(procs)
    if thread is not None:
        thread.join(5)


_CHILDREN_QUIET = False  # set by the first quiet_children(); from then on every fork runs _quiet_child


def _quiet_child() -> None:
    """In a process just forked (``os.register_at_fork``): ignore SIGINT, take the default SIGTERM action,
    then unblock both (a SIGINT that arrived meanwhile is dropped, a SIGTERM ends the process)."""
    if _CHILDREN_QUIET:
        _quiet()


def _quiet() -> None:
    try:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
    except ValueError:  # not the main thread: the mask below is this thread's alone
        pass
    signal.pthread_sigmask(signal.SIG_UNBLOCK, HELD)


def dask_setup(worker) -> None:
    """A spawned Dask worker's preload (``distributed.worker.preload``, see :mod:`sibsim.dispatch`): as
    :func:`_quiet_child` for a forked one. A spawned process inherits the blocked signals through ``exec``
    but not the fork hook."""
    _quiet()


class quiet_children:
    """``with quiet_children():`` around the start of a Dask LocalCluster, whose workers fork from the
    cluster's own thread: they ignore SIGINT and take the default SIGTERM action, as :func:`worker_init`
    arranges for pools (a fork hook does it, in every process forked from here on: pools' workers do the
    same anyway). Meanwhile SIGINT and SIGTERM are blocked in the calling thread, so the cluster's thread
    and its workers are born with them blocked (the hook unblocks them in the workers); on leaving, a Ctrl-C
    or SIGTERM that arrived meanwhile is delivered here (raised on leaving: stop the cluster then)."""

    def __enter__(self):
        global _CHILDREN_QUIET
        if not _CHILDREN_QUIET:
            os.register_at_fork(after_in_child=_quiet_child)
            _CHILDREN_QUIET = True
        self._old = signal.pthread_sigmask(signal.SIG_BLOCK, HELD)
        return self

    def __exit__(self, *exc) -> None:
        signal.pthread_sigmask(signal.SIG_SETMASK, self._old)
