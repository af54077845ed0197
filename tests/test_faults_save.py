"""Faults at the moment of a save, and signals to the portfolio's pool (issue 17): no process left behind,
no partial file, an intact evidence base holding the whole save or none of it, and a rerun that saves.

"During the save" is hit without sleeping on the clock: the store's fault-injection hook
(``sibsim.store.db._fault_hold``, enabled by the environment variable ``SIBSIM_FAULT_HOLD_SAVE=<gate>`` while
the file ``<gate>`` exists) holds the first write transaction open after its rows have been sent to the
database, and creates ``<gate>.ready``. The test waits for that file, then sends SIGINT to the process group
(as Ctrl-C does), SIGTERM, or SIGKILL. Pool tests wait until both workers have run their initializer (SIGINT
ignored in /proc/PID/status): work has been handed out. Timeouts are hang guards only.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

import pandas as pd
import psutil
import pytest
from sqlalchemy import create_engine, text

from helpers import fresh_pg_database, gone
from sibsim.store import open_store
from sibsim.store.db import BUSY_TIMEOUT_MS, FAULT_HOLD_SAVE, resolve_url
from sibsim.store.models import Base

ROOT = Path(__file__).resolve().parents[1]
BENCHMARK = str(ROOT / "scenarios" / "benchmark.yaml")
PORTFOLIO = str(ROOT / "portfolios" / "uk_fair_chance_fund.yaml")
WAIT = 180  # a hang guard: the machine may be busy; never a bound on speed
GRID = "job_entry_uplift=0.05,0.1,0.15,0.2"
EXPECT = {"ctrl-c": (130, "sibsim: interrupted\n"), "sigterm": (143, "sibsim: terminated\n"),
          "kill-9": (-signal.SIGKILL, "")}
SIGNALS = list(EXPECT)


@pytest.fixture(autouse=True)
def _no_env(monkeypatch):
    monkeypatch.delenv("SIBSIM_DB", raising=False)
    monkeypatch.delenv(FAULT_HOLD_SAVE, raising=False)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db(request, tmp_path) -> str:
    if request.param == "sqlite":
        (tmp_path / "store").mkdir()
        return str(tmp_path / "store" / "evidence.db")
    return fresh_pg_database(request.getfixturevalue("pg_url"))


# ---------------------------------------------------------------- the evidence base


@contextmanager
def _reading(db: str):
    """A plain connection to the store (no schema upgrade, no write lock: it can read during a held save)."""
    engine = create_engine(resolve_url(db))
    try:
        with engine.connect() as conn:
            yield conn
    finally:
        engine.dispose()


def _counts(db: str) -> dict[str, int]:
    """Rows in every table of the schema."""
    with _reading(db) as conn:
        return {t.name: conn.execute(text(f"SELECT count(*) FROM {t.name}")).scalar_one()
                for t in Base.metadata.sorted_tables}


def _orphans(db: str) -> list[str]:
    """``child.column`` for every foreign key with a row whose parent row does not exist."""
    found = []
    with _reading(db) as conn:
        for t in Base.metadata.sorted_tables:
            for fk in t.foreign_keys:
                child, parent = fk.parent, fk.column
                n = conn.execute(text(
                    f"SELECT count(*) FROM {t.name} c WHERE c.{child.name} IS NOT NULL AND NOT EXISTS "
                    f"(SELECT 1 FROM {parent.table.name} p WHERE p.{parent.name} = c.{child.name})")).scalar_one()
                if n:
                    found.append(f"{t.name}.{child.name}")
    return found


def _intact(db: str) -> dict[str, int]:
    """Check the store (SQLite's integrity check, no orphan rows); its row counts."""
    if "://" not in db:
        with sqlite3.connect(db) as con:
            assert con.execute("PRAGMA integrity_check").fetchone() == ("ok",)
            assert con.execute("PRAGMA foreign_key_check").fetchall() == []
    assert _orphans(db) == []
    return _counts(db)


# ---------------------------------------------------------------- processes


def _session_left(sid: int, timeout: float = 5.0) -> list[int]:
    """Pids still alive in session ``sid`` (the command's, started with start_new_session) after ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        alive = []
        for proc in psutil.process_iter(["status"]):
            try:
                if os.getsid(proc.pid) == sid and proc.info["status"] != psutil.STATUS_ZOMBIE:
                    alive.append(proc.pid)
            except (ProcessLookupError, PermissionError, psutil.Error):
                pass
        if not alive or time.monotonic() > deadline:
            return alive
        time.sleep(0.1)


def _signal(p: subprocess.Popen, how: str) -> None:
    if how == "ctrl-c":
        os.killpg(p.pid, signal.SIGINT)  # a terminal's Ctrl-C reaches the whole foreground group
    elif how == "sigterm":
        p.send_signal(signal.SIGTERM)
    else:
        p.send_signal(signal.SIGKILL)


def _wait_for(p: subprocess.Popen, ready, what: str) -> None:
    deadline = time.monotonic() + WAIT
    while not ready():
        if p.poll() is not None:
            out, err = p.communicate()
            pytest.fail(f"ended before {what}: {p.returncode}\n{out}\n{err}")
        if time.monotonic() > deadline:
            p.kill()
            pytest.fail(f"no {what} within {WAIT} s")
        time.sleep(0.02)


def _leftovers(*folders: Path) -> list[str]:
    return sorted(str(p) for d in folders for p in d.rglob("*") if ".tmp" in p.name or p.name.endswith(".partial"))


# ---------------------------------------------------------------- a signal while a save's transaction is open

# (what the command adds to the store when it saves; None: the store's own count of that table)
COMMANDS = {
    "run": {"runs": 1, "run_tags": 1, "run_per_trial": 1},
    "sweep": {"sweeps": 1, "sweep_tags": 1, "sweep_results": 1},
    "import-indigo": {"ref_imports": 1},
    "new-base": {"runs": 1, "run_tags": 1, "run_per_trial": 1},  # the first save into a new evidence base
}


def _argv(command: str, db: str, out: Path) -> list[str]:
    sibsim = [sys.executable, "-m", "sibsim"]
    if command in ("run", "new-base"):
        return [*sibsim, "run", BENCHMARK, "--trials", "500", "--json", str(out / "run.json"), "--save", "--db", db,
                "--tag", "fault", "-q"]
    if command == "sweep":
        return [*sibsim, "sweep", BENCHMARK, "--grid", GRID, "--trials", "100", "--workers", "2",
                "--out", str(out / "sweep.csv"), "--save", "--db", db, "--tag", "fault", "-q"]
    return [*sibsim, "evidence", "import-indigo", "--db", db]


def _check_outputs(command: str, out: Path, how: str) -> None:
    """The files of an interrupted command: whole or absent, never partial, no temporary."""
    assert _leftovers(out) == []
    if command in ("run", "new-base"):
        run_json = out / "run.json"
        if command == "run" and how != "kill-9":  # simulated, then interrupted while saving: its file is kept
            assert json.loads(run_json.read_text())["trials"] == 500
        elif run_json.exists():
            assert json.loads(run_json.read_text())["trials"] == 500
        if command == "new-base":  # interrupted before simulating (while loading INDIGO into the new base)
            assert not run_json.exists()
    elif command == "sweep":  # the sweep had written its table before saving
        df = pd.read_csv(out / "sweep.csv")
        assert len(df) == 4 and df["job_entry_uplift"].is_unique
    else:
        assert sorted(p.name for p in out.iterdir()) == []


@pytest.mark.parametrize("how", SIGNALS)
@pytest.mark.parametrize("command", list(COMMANDS))
def test_signal_while_a_save_is_in_progress(tmp_path, db, command, how):
    out, gates = tmp_path / "out", tmp_path / "gate"
    out.mkdir()
    gates.mkdir()
    if command == "new-base":  # held while the new base is given the INDIGO reference data, before simulating
        before = dict.fromkeys((t.name for t in Base.metadata.sorted_tables), 0)
    else:
        with open_store(db):  # the schema and the 319 INDIGO reference projects
            pass
        before = _intact(db)
        assert before["ref_projects"] == 319
    gate = gates / "hold"
    gate.touch()
    argv = _argv(command, db, out)
    p = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True,
                         cwd=out, env={**os.environ, FAULT_HOLD_SAVE: str(gate)})
    try:
        _wait_for(p, (gates / "hold.ready").exists, "the save's transaction was open")
        children = psutil.Process(p.pid).children(recursive=True)
        # held inside the transaction (the schema is there): none of its rows can be seen from outside
        assert _counts(db) == before
        _signal(p, how)
        _, err = p.communicate(timeout=WAIT)
    finally:
        if p.poll() is None:
            p.kill()
    assert (p.returncode, err) == EXPECT[how]
    assert gone(children) == [] and _session_left(p.pid) == []
    _check_outputs(command, out, how)
    assert _intact(db) == before  # none of the save: rolled back (or never committed, for kill -9)
    if command != "new-base":
        assert _counts(db)["ref_projects"] == 319

    # the same command again, not held, saves normally (the sweep resumes from its table: nothing recomputed)
    again = subprocess.run(argv, capture_output=True, text=True, cwd=out, timeout=WAIT * 2)
    assert again.returncode == 0, again.stderr
    after = _intact(db)
    if command == "new-base":
        assert after["ref_projects"] == 319
        before = {k: v for k, v in before.items() if not k.startswith("ref_")}
        after = {k: v for k, v in after.items() if not k.startswith("ref_")}
    assert after == {k: v + COMMANDS[command].get(k, 0) for k, v in before.items()}
    assert _leftovers(out) == []
    with open_store(db) as s:
        assert len(s.reference_projects()) == 319
        if command in ("run", "new-base"):
            (saved,) = s.list_runs()
            assert saved["tags"] == ["fault"] and len(s.get_per_trial(saved["id"])) == 500
        elif command == "sweep":
            (saved,) = s.list_sweeps()
            assert saved["rows"] == 4 and len(s.get_sweep_table(saved["id"])) == 4


def test_a_held_save_commits_when_released(tmp_path, db):
    """The hook itself: while held nothing is visible; released, the run is saved whole."""
    out, gates = tmp_path / "out", tmp_path / "gate"
    out.mkdir()
    gates.mkdir()
    with open_store(db):
        pass
    before = _intact(db)
    gate = gates / "hold"
    gate.touch()
    p = subprocess.Popen(_argv("run", db, out), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                         start_new_session=True, cwd=out, env={**os.environ, FAULT_HOLD_SAVE: str(gate)})
    try:
        _wait_for(p, (gates / "hold.ready").exists, "the save's transaction was open")
        assert _counts(db) == before
        gate.unlink()
        stdout, err = p.communicate(timeout=WAIT)
    finally:
        if p.poll() is None:
            p.kill()
    assert p.returncode == 0, err
    assert _intact(db) == {k: v + COMMANDS["run"].get(k, 0) for k, v in before.items()}
    assert json.loads((out / "run.json").read_text())["trials"] == 500


def test_the_hook_is_inert_without_its_gate(tmp_path, monkeypatch):
    db = str(tmp_path / "e.db")
    monkeypatch.setenv(FAULT_HOLD_SAVE, str(tmp_path / "absent"))  # set, but no gate file: no hold
    r = subprocess.run(_argv("run", db, tmp_path), capture_output=True, text=True, cwd=tmp_path, timeout=WAIT)
    assert r.returncode == 0, r.stderr
    assert not (tmp_path / "absent.ready").exists()
    with open_store(db) as s:
        assert len(s.list_runs()) == 1


# ---------------------------------------------------------------- a signal while a save waits for a lock


@contextmanager
def _locked(db: str):
    """Hold the lock a save needs: SQLite's write lock, or on PostgreSQL an EXCLUSIVE lock on ``runs`` (reads
    go on; an INSERT waits)."""
    if "://" not in db:
        con = sqlite3.connect(db, isolation_level=None)
        con.execute("BEGIN IMMEDIATE")
        try:
            yield
        finally:
            con.execute("ROLLBACK")
            con.close()
        return
    engine = create_engine(resolve_url(db))
    try:
        with engine.connect() as conn:
            conn.execute(text("LOCK TABLE runs IN EXCLUSIVE MODE"))
            try:
                yield
            finally:
                conn.rollback()
    finally:
        engine.dispose()


def _waiting_for_the_lock(db: str, pid: int):
    """A sign that the command waits for the lock: on PostgreSQL a backend of the base waits on a lock; on
    SQLite the process has the file open (it connects, then asks for the write lock)."""
    if "://" not in db:
        target = os.path.realpath(db)

        def has_file() -> bool:
            try:
                return any(os.path.realpath(f.path) == target for f in psutil.Process(pid).open_files())
            except psutil.Error:
                return False

        return has_file

    def waits() -> bool:
        with _reading(db) as conn:
            return conn.execute(text("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                                     "AND wait_event_type = 'Lock'")).scalar_one() > 0

    return waits


@pytest.mark.parametrize("how", ["ctrl-c", "sigterm"])
def test_signal_while_a_save_waits_for_a_lock(tmp_path, db, how):
    """Ctrl-C or SIGTERM reach a save that waits for another writer's lock: it stops at once (not when the lock
    is released, nor after SQLite's 30 s busy timeout), saves nothing, and a rerun saves."""
    out = tmp_path / "out"
    out.mkdir()
    with open_store(db):
        pass
    before = _intact(db)
    argv = _argv("run", db, out)
    with _locked(db):
        p = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                             start_new_session=True, cwd=out)
        try:
            _wait_for(p, _waiting_for_the_lock(db, p.pid), "a save waiting for the lock")
            _signal(p, how)
            t0 = time.monotonic()
            _, err = p.communicate(timeout=WAIT)  # the lock is still held: the command must not wait for it
            took = time.monotonic() - t0
        finally:
            if p.poll() is None:
                p.kill()
    assert (p.returncode, err) == EXPECT[how]
    # a hang guard rather than a speed bound: SQLite would have held the signal for its whole 30 s busy wait
    assert took < BUSY_TIMEOUT_MS / 1000 / 2
    assert _session_left(p.pid) == [] and _leftovers(out) == []
    assert _intact(db) == before
    again = subprocess.run(argv, capture_output=True, text=True, cwd=out, timeout=WAIT * 2)
    assert again.returncode == 0, again.stderr
    assert _intact(db) == {k: v + COMMANDS["run"].get(k, 0) for k, v in before.items()}


# ---------------------------------------------------------------- the portfolio's pools


def _in_mask(pid: int, field: str, sig: int) -> bool:
    """Whether ``sig`` is in the signal mask ``field`` (SigIgn, SigBlk) of process ``pid``'s main thread."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return False
    mask = int(next(ln.split()[1] for ln in status.splitlines() if ln.startswith(field + ":")), 16)
    return bool(mask & (1 << (sig - 1)))


def _ignores_sigint(pid: int) -> bool:
    """Whether process ``pid`` ignores SIGINT (the sign that a pool worker's initializer has run)."""
    return _in_mask(pid, "SigIgn", signal.SIGINT)


def _live_children(pid: int) -> list[psutil.Process]:
    try:
        kids = psutil.Process(pid).children(recursive=True)
    except psutil.Error:
        return []
    out = []
    for c in kids:
        try:
            if c.status() != psutil.STATUS_ZOMBIE:
                out.append(c)
        except psutil.Error:
            pass
    return out


def _portfolio_argv(out: Path, *execution: str) -> list[str]:
    return [sys.executable, "-m", "sibsim", "portfolio", PORTFOLIO, "--trials", "400000",
            "--json", str(out / "pf.json"), "--csv", str(out / "pf.csv"), "-q", *execution]


def _signal_portfolio(out: Path, how: str, ready, what: str, *execution: str):
    """Start a portfolio run with ``execution`` in ``out``, wait until ``ready(pid)``, send ``how``: its pid
    (the session's id), exit code, stderr and the processes it had when signalled."""
    p = subprocess.Popen(_portfolio_argv(out, *execution), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         text=True, start_new_session=True, cwd=out)
    try:
        _wait_for(p, lambda: ready(p.pid), what)
        children = _live_children(p.pid)
        _signal(p, how)
        _, err = p.communicate(timeout=WAIT)
    finally:
        if p.poll() is None:
            p.kill()
    return p.pid, p.returncode, err, children


def _two_quiet_workers(pid: int) -> bool:
    """Two children ignore SIGINT: both pool workers have run worker_init, or both Dask workers are up."""
    return sum(_ignores_sigint(c.pid) for c in _live_children(pid)) >= 2


@pytest.mark.parametrize("how", SIGNALS)
def test_signal_during_parallel_portfolio(tmp_path, how):
    # both workers have run worker_init (so the chunks have been handed to the pool)
    pid, code, err, children = _signal_portfolio(tmp_path, how, _two_quiet_workers, "two initialised workers",
                                                 "--workers", "2")
    assert (code, err) == EXPECT[how]
    assert gone(children) == [] and _session_left(pid) == []
    assert sorted(x.name for x in tmp_path.iterdir()) == []  # no output, no temporary


def test_ctrl_c_during_portfolio_on_a_dask_local_cluster(tmp_path):
    # the cluster's two workers are up and the parent no longer holds Ctrl-C back (quiet_children ended)
    pid, code, err, children = _signal_portfolio(
        tmp_path, "ctrl-c", lambda pid: not _in_mask(pid, "SigBlk", signal.SIGINT) and _two_quiet_workers(pid),
        "a started local cluster", "--scheduler", "local", "--workers", "2")
    assert (code, err) == (130, "sibsim: interrupted\n")
    assert gone(children) == [] and _session_left(pid) == []
    assert sorted(x.name for x in tmp_path.iterdir()) == []


@pytest.mark.parametrize("how", ["ctrl-c", "sigterm"])
def test_signal_while_a_dask_local_cluster_starts(tmp_path, how):
    """A Ctrl-C or SIGTERM while the LocalCluster starts is held back until it has started, then stops the
    run like any other (it was ignored: the parent ignored SIGINT while its workers forked)."""
    pid, code, err, _ = _signal_portfolio(tmp_path, how, lambda pid: _in_mask(pid, "SigBlk", signal.SIGINT),
                                          "a cluster starting", "--scheduler", "local", "--workers", "2")
    assert (code, err) == EXPECT[how]
    assert _session_left(pid) == []
    assert sorted(x.name for x in tmp_path.iterdir()) == []


def test_portfolio_workers_are_bounded_by_the_cores(tmp_path):
    from sibsim.procs import cores

    r = subprocess.run([sys.executable, "-m", "sibsim", "portfolio", PORTFOLIO, "--trials", "4000", "--workers",
                        "1000", "--json", str(tmp_path / "pf.json"), "-q"],
                       capture_output=True, text=True, timeout=WAIT)
    assert r.returncode == 0, r.stderr
    assert r.stderr == f"sibsim: warning: workers 1000 is more than the {cores()} cores of this machine; using " \
                       f"{cores()}\n"
    assert json.loads((tmp_path / "pf.json").read_text())["summary"]["trials"] == 4000
