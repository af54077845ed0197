"""Faults, signals and hostile outputs (issue 17, items 4-7): nothing simulated and then lost, nothing
half-written, no traceback, no process left behind.

The signal tests start real ``sibsim sweep --workers 2`` processes, wait until work is under way (the sweep's
journal has a line: never a fixed sleep), send SIGINT to the process group (as Ctrl-C does), SIGTERM or SIGKILL
to the parent, and check the exit code, the one line on stderr, that every worker recorded before the signal
is gone within 5 s, that no temporary file is left, that the evidence base is intact and that the sweep resumes.
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
import warnings
from pathlib import Path

import pandas as pd
import psutil
import pytest
from sqlalchemy import text

import sibsim
from helpers import fresh_pg_database as _fresh_pg_database
from helpers import cli
from helpers import gone as _gone
from sibsim.errors import SibsimWarning, UsageError
from sibsim.store import open_store

ROOT = Path(__file__).resolve().parents[1]
BENCHMARK = str(ROOT / "scenarios" / "benchmark.yaml")
POINTS = 16  # 8 chunks of 2 points over 2 workers: the first journal line comes well before the end
WAIT = 180  # generous: the machine may be busy; never a bound on speed


@pytest.fixture(autouse=True)
def _no_env_db(monkeypatch):
    monkeypatch.delenv("SIBSIM_DB", raising=False)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db(request, tmp_path) -> str:
    if request.param == "sqlite":
        return str(tmp_path / "evidence.db")
    return _fresh_pg_database(request.getfixturevalue("pg_url"))


def _leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.endswith(".tmp") or ".tmp" in p.name)


# ---------------------------------------------------------------- signals (real processes)


def _sweep_argv(out: Path, db: str, *execution: str) -> list[str]:
    return [sys.executable, "-m", "sibsim", "sweep", BENCHMARK, "--grid", f"job_entry_uplift=0:0.2:{POINTS}",
            "--trials", "200", "--out", str(out), "--save", "--db", db, "-q", *execution]


def _start_and_wait(argv: list[str], journal: Path) -> tuple[subprocess.Popen, list[psutil.Process]]:
    p = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True,
                         cwd=journal.parent)
    deadline = time.monotonic() + WAIT
    while not (journal.exists() and journal.read_text().count("\n") >= 1):
        if p.poll() is not None:
            pytest.fail(f"sweep ended before any work was journalled: {p.returncode} {p.stderr.read()}")
        if time.monotonic() > deadline:
            p.kill()
            pytest.fail("no journal line within the timeout")
        time.sleep(0.05)
    children = psutil.Process(p.pid).children(recursive=True)
    return p, children


def _store_intact(db: str) -> None:
    if "://" not in db:
        with sqlite3.connect(db) as con:
            assert con.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    with open_store(db) as s:
        assert s.list_sweeps() == []  # the sweep is saved only once it has finished
        assert len(s.reference_projects()) == 319


@pytest.mark.parametrize("how", ["ctrl-c", "sigterm", "kill-9"])
def test_signal_during_parallel_sweep(tmp_path, db, how):
    out = tmp_path / "sweep.csv"
    journal = tmp_path / "sweep.csv.partial"
    argv = _sweep_argv(out, db, "--workers", "2")
    p, children = _start_and_wait(argv, journal)
    assert len(children) >= 2  # the two workers (and any helper processes)
    if how == "ctrl-c":
        os.killpg(p.pid, signal.SIGINT)  # a terminal's Ctrl-C reaches the whole foreground group
    elif how == "sigterm":
        p.send_signal(signal.SIGTERM)
    else:
        p.send_signal(signal.SIGKILL)
    _, err = p.communicate(timeout=WAIT)
    expected = {"ctrl-c": (130, "sibsim: interrupted\n"), "sigterm": (143, "sibsim: terminated\n"),
                "kill-9": (-signal.SIGKILL, "")}[how]
    assert (p.returncode, err) == expected
    assert _gone(children) == []
    assert not out.exists() and _leftovers(tmp_path) == []
    done = len(journal.read_text().splitlines())
    assert 1 <= done < POINTS
    _store_intact(db)
    # resumable: the rerun computes only what the journal lacks and gives every point once
    again = subprocess.run(argv, capture_output=True, text=True, cwd=tmp_path, timeout=WAIT * 2)
    assert again.returncode == 0, again.stderr
    df = pd.read_csv(out)
    assert len(df) == POINTS and df["job_entry_uplift"].is_unique
    assert not journal.exists() and _leftovers(tmp_path) == []
    with open_store(db) as s:
        assert [sw["rows"] for sw in s.list_sweeps()] == [POINTS]


def test_ctrl_c_during_dask_local_cluster(tmp_path):
    db = str(tmp_path / "evidence.db")
    out, journal = tmp_path / "sweep.csv", tmp_path / "sweep.csv.partial"
    p, children = _start_and_wait(_sweep_argv(out, db, "--scheduler", "local"), journal)
    os.killpg(p.pid, signal.SIGINT)
    _, err = p.communicate(timeout=WAIT)
    assert (p.returncode, err) == (130, "sibsim: interrupted\n")
    assert _gone(children) == []
    assert not out.exists() and _leftovers(tmp_path) == []


def test_workers_die_with_a_killed_parent_during_a_run(tmp_path):
    # `sibsim run` with 2 workers: kill -9 the parent mid-run; the workers must not outlive it
    argv = [sys.executable, "-m", "sibsim", "run", BENCHMARK, "--trials", "400000", "--chunk", "2000",
            "--workers", "2", "--json", str(tmp_path / "run.json"), "-q"]
    p = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)
    deadline = time.monotonic() + WAIT
    children = []
    while len(children) < 2:
        assert p.poll() is None, p.stderr.read()
        assert time.monotonic() < deadline, "no workers started"
        children = [c for c in psutil.Process(p.pid).children(recursive=True) if c.status() != psutil.STATUS_ZOMBIE]
        time.sleep(0.05)
    p.kill()
    p.wait(timeout=WAIT)
    assert _gone(children) == []
    assert not (tmp_path / "run.json").exists() and _leftovers(tmp_path) == []


def test_workers_are_bounded_by_the_cores():
    from sibsim.procs import bound_workers, cores

    with pytest.warns(SibsimWarning, match=f"workers 1000 is more than the {cores()} cores"):
        assert bound_workers(1000) == cores()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert bound_workers(1) == 1


def test_stop_executor_waits_for_the_manager_thread():
    """After ``stop_executor`` the executor's manager thread has ended and closed its wake-up pipe, so the
    interpreter's exit hook has nothing left to write to (CI saw "Bad file descriptor" when it did not)."""
    from concurrent.futures import ProcessPoolExecutor
    from concurrent.futures import process as cf_process
    from multiprocessing import get_context

    from sibsim.procs import stop_executor

    ex = ProcessPoolExecutor(max_workers=2, mp_context=get_context("fork"))
    futs = [ex.submit(time.sleep, 30) for _ in range(4)]
    while not any(f.running() for f in futs):
        time.sleep(0.01)
    thread, wakeup = ex._executor_manager_thread, ex._executor_manager_thread_wakeup
    stop_executor(ex)
    assert not thread.is_alive()
    assert wakeup._closed and cf_process._threads_wakeups.get(thread) in (None, wakeup)


_CTRL_C_AT_EVERY_FORK = """
import os, signal, sys
import numpy as np
import sibsim
from sibsim import portfolio, sweep

# a Ctrl-C that reaches every worker the instant it is forked, before its pool's initializer has run
os.register_at_fork(after_in_child=lambda: os.kill(os.getpid(), signal.SIGINT))
sc = sibsim.load(sys.argv[1])
one, two = (sibsim.simulate(sc, trials=3000, seed=4, chunk=1000, workers=w) for w in (1, 2))
assert all(np.array_equal(one.metrics[k], two.metrics[k], equal_nan=True) for k in one.metrics)
pts = sweep.grid(**{"price.job_entry": [2000.0, 3000.0, 4000.0, 5000.0]})
assert sweep.evaluate(sc, pts, trials=200, seed=4, workers=2) == sweep.evaluate(sc, pts, trials=200, seed=4)
a, b = (portfolio.simulate_portfolio(sys.argv[2], trials=2000, seed=4, chunk=500, workers=w) for w in (1, 2))
assert np.array_equal(a.by_year, b.by_year) and np.array_equal(a.spend, b.spend)
print("ok")
"""


def test_a_ctrl_c_as_a_worker_is_forked_is_dropped_by_the_worker(tmp_path):
    """Workers are forked with SIGINT and SIGTERM blocked (``sibsim.procs.forking``) and unblock them only
    once they ignore SIGINT: a Ctrl-C that reaches a worker before its initializer has run is dropped,
    not raised there (which printed the worker's traceback, and made ``multiprocessing.Pool`` fork
    replacement after replacement). Engine, sweep and portfolio pools."""
    r = subprocess.run([sys.executable, "-c", _CTRL_C_AT_EVERY_FORK, BENCHMARK,
                        str(ROOT / "portfolios" / "uk_fair_chance_fund.yaml")],
                       capture_output=True, text=True, timeout=WAIT, cwd=tmp_path)
    assert (r.returncode, r.stdout, r.stderr) == (0, "ok\n", "")


def test_workers_1000_warns_in_one_line_and_runs(tmp_path):
    out = tmp_path / "s.csv"
    r = subprocess.run([sys.executable, "-m", "sibsim", "sweep", BENCHMARK, "--grid", "job_entry_uplift=0.05,0.1,0.15",
                        "--trials", "100", "--workers", "1000", "--out", str(out), "-q"],
                       capture_output=True, text=True, timeout=WAIT)
    assert r.returncode == 0, r.stderr
    lines = r.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("sibsim: warning: workers 1000 is more than the")
    assert len(pd.read_csv(out)) == 3


# ---------------------------------------------------------------- outputs and the order of checks


def _no_simulation(monkeypatch):
    def refuse(*a, **k):
        raise AssertionError("simulated although an output or the store was bad")

    monkeypatch.setattr(sibsim, "simulate", refuse)


@pytest.mark.parametrize("make, expect", [
    (lambda d: "", "--json: an empty path"),
    (lambda d: str(d), "is a directory"),
    (lambda d: (os.mkfifo(d / "f"), str(d / "f"))[1], "is a FIFO (named pipe)"),
    (lambda d: "/dev/zero", "is a character device"),
    (lambda d: str(d / "nope" / "x.json"), "does not exist"),
])
def test_bad_json_output_refused_before_simulating(capsys, monkeypatch, tmp_path, make, expect):
    _no_simulation(monkeypatch)
    code, _, err = cli(capsys, "run", BENCHMARK, "--trials", "50", "--json", make(tmp_path))
    assert code == 2 and expect in err and "--json" in err and err.count("\n") == 1


def test_two_options_on_one_file_refused(capsys, monkeypatch, tmp_path):
    _no_simulation(monkeypatch)
    f = tmp_path / "x"
    (tmp_path / "link").symlink_to(f)
    code, _, err = cli(capsys, "run", BENCHMARK, "--json", str(f), "--csv", str(tmp_path / "link"))
    assert code == 2 and "the same file as --json" in err


def test_symlink_is_written_through(capsys, tmp_path):
    target, link = tmp_path / "target.json", tmp_path / "link.json"
    target.write_text("old")
    link.symlink_to(target)
    code, _, err = cli(capsys, "run", BENCHMARK, "--trials", "50", "--json", str(link), "-q")
    assert code == 0, err
    assert link.is_symlink() and link.resolve() == target
    assert json.loads(target.read_text())["trials"] == 50


def test_failed_csv_leaves_no_json_and_no_temporary_but_the_run_is_saved(capsys, monkeypatch, tmp_path):
    db = str(tmp_path / "ev.db")
    from sibsim.run import Run

    def disk_full(self):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(Run, "to_frame", disk_full)
    code, _, err = cli(capsys, "run", BENCHMARK, "--trials", "50", "--json", str(tmp_path / "r.json"),
                       "--csv", str(tmp_path / "r.csv"), "--save", "--db", db, "-q")
    assert code == 2 and err.startswith("sibsim: error: --csv ") and "No space left on device" in err
    assert sorted(p.name for p in tmp_path.iterdir() if not p.name.startswith("ev.db")) == []
    with open_store(db) as s:  # saved first: the simulated run is not lost
        assert len(s.list_runs()) == 1


@pytest.mark.parametrize("tag, expect", [
    ("x" * 101, "tags must be 1 to 100 characters"),
    ("a\x00b", "NUL"),
    ("caf\udce9", "not valid UTF-8"),  # a Latin-1 byte on the command line (surrogateescape)
])
def test_bad_tag_refused_before_simulating(capsys, monkeypatch, tmp_path, tag, expect):
    _no_simulation(monkeypatch)
    code, _, err = cli(capsys, "run", BENCHMARK, "--save", "--db", str(tmp_path / "e.db"), "--tag", tag)
    assert code == 2 and expect in err and err.count("\n") == 1
    assert not (tmp_path / "e.db").exists()


def _record(name="benchmark", seed=1):
    run = sibsim.simulate(BENCHMARK, trials=20, seed=0)
    rec = run.to_dict()
    rec["scenario"] = {**rec["scenario"], "name": name}
    rec["seed"] = seed
    return rec, dict(run.metrics)


@pytest.mark.parametrize("change, expect", [
    (dict(name="n" * 201), "at most 200 allowed"),
    (dict(name="a\x00b"), "NUL"),
    (dict(seed=10**85), "at most 80 can be stored"),
])
def test_both_stores_refuse_the_same_values(db, change, expect):
    rec, per_trial = _record(**change)
    with open_store(db) as s:
        with pytest.raises(UsageError, match=expect):
            s.save_run(rec, per_trial)
        with pytest.raises(UsageError, match="NUL"):
            s.save_run(*_record(), note="a\x00b")
        assert s.list_runs() == []


# ---------------------------------------------------------------- data loss


def test_header_only_indigo_import_refused(capsys, tmp_path):
    db = str(tmp_path / "ev.db")
    from sibsim.indigo import SNAPSHOT_DIR

    empty = tmp_path / "empty"
    empty.mkdir()
    for f in SNAPSHOT_DIR.glob("*.csv"):
        (empty / f.name).write_text(f.read_text().splitlines()[0] + "\n")
    (empty / "report.json").write_text((SNAPSHOT_DIR / "report.json").read_text())
    assert cli(capsys, "evidence", "import-indigo", "--db", db)[0] == 0
    code, _, err = cli(capsys, "evidence", "import-indigo", str(empty), "--db", db)
    assert code == 2 and "would replace the 319 reference projects with 0" in err and "--replace" in err
    with open_store(db) as s:
        assert len(s.reference_projects()) == 319
    backup = tmp_path / "kept"
    code, out, err = cli(capsys, "evidence", "import-indigo", str(empty), "--db", db, "--replace", "--backup",
                         str(backup))
    assert code == 0, err and f"snapshot {backup}" in out
    with open_store(db, reference=False) as s:  # (reference=True would reload the shipped snapshot into it)
        assert len(s.reference_projects()) == 0
    assert cli(capsys, "evidence", "import-indigo", str(backup), "--db", db)[0] == 0  # the previous data, back
    with open_store(db) as s:
        assert len(s.reference_projects()) == 319


def test_sweep_out_with_another_design_refused(capsys, tmp_path):
    out = tmp_path / "s.csv"
    base = ["sweep", BENCHMARK, "--trials", "100", "--out", str(out), "-q"]
    assert cli(capsys, *base, "--grid", "job_entry_uplift=0.05,0.1")[0] == 0
    before = out.read_bytes()
    code, _, err = cli(capsys, *base, "--grid", "job_entry_uplift=0.2,0.3")
    assert code == 2 and "holds 2 points that this sweep's design lacks" in err
    assert out.read_bytes() == before
    code, _, err = cli(capsys, *base, "--grid", "job_entry_uplift=0.05,0.1,0.15")  # a larger design resumes
    assert code == 0, err and len(pd.read_csv(out)) == 3


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_another_applications_sqlite_file_is_never_written(capsys, tmp_path, monkeypatch):
    other = tmp_path / "other_app.db"
    with sqlite3.connect(other) as con:
        con.execute("CREATE TABLE users (id INTEGER, name TEXT)")
        con.execute("INSERT INTO users VALUES (1, 'ann')")
    before = _digest(other)
    for argv in (["evidence", "list"], ["evidence", "sweeps"], ["evidence", "import-indigo"]):
        code, _, err = cli(capsys, *argv, "--db", str(other))
        assert code == 2 and "is not a sibsim evidence base (it holds other tables: users)" in err
    _no_simulation(monkeypatch)
    code, _, err = cli(capsys, "run", BENCHMARK, "--save", "--db", str(other))
    assert code == 2 and "not a sibsim evidence base" in err
    assert _digest(other) == before


def test_a_read_command_never_writes_and_a_read_only_base_lists(capsys, tmp_path):
    db = tmp_path / "ev.db"
    assert cli(capsys, "run", BENCHMARK, "--trials", "50", "--save", "--db", str(db), "-q")[0] == 0
    with sqlite3.connect(db) as con:  # fold the WAL into the file, as a copied or archived base would be
        con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    before = _digest(db)
    os.chmod(db, 0o444)
    try:
        code, out, err = cli(capsys, "evidence", "list", "--db", str(db))
        assert code == 0, err and "Benchmark employment SIB" in out
        assert cli(capsys, "evidence", "show", "1", "--db", str(db))[0] == 0
    finally:
        os.chmod(db, 0o644)
    assert _digest(db) == before


# ---------------------------------------------------------------- messages


@pytest.mark.parametrize("make, expect", [
    (lambda d: str(d), "is a directory, not a file"),
    (lambda d: (os.mkfifo(d / "f.yaml"), str(d / "f.yaml"))[1], "is a FIFO (named pipe), not a file"),
    (lambda d: "/dev/zero", "is a character device, not a file"),
    (lambda d: str(d / "missing.yaml"), "no such file"),
])
def test_a_scenario_path_says_what_is_there(capsys, tmp_path, make, expect):
    code, _, err = cli(capsys, "validate", make(tmp_path))
    assert code == 2 and expect in err


@pytest.mark.parametrize("db_path, expect", [
    (lambda d: str(d), "is a directory"),
    (lambda d: (os.mkfifo(d / "f.db"), str(d / "f.db"))[1], "is a FIFO (named pipe)"),
    (lambda d: "/dev/zero", "is a character device"),
])
def test_an_evidence_path_says_what_is_there(capsys, tmp_path, db_path, expect):
    code, _, err = cli(capsys, "evidence", "list", "--db", db_path(tmp_path))
    assert code == 2 and expect in err and "no such file" not in err


@pytest.mark.parametrize("argv, expect", [
    (["--target", "investor_irr.p50=nan"], "--target 'investor_irr.p50=nan': the value must be a finite number"),
    (["--target", "investor_irr.p50=0.05", "--bounds=-inf:inf"], "--bounds -inf:inf: '-inf' is not a finite"),
])
def test_solve_refuses_non_finite_values_naming_the_option(capsys, argv, expect):
    code, _, err = cli(capsys, "solve", BENCHMARK, "--vary", "job_entry_uplift", "--trials", "50", *argv)
    assert code == 2 and expect in err


def test_escape_sequences_in_tags_and_names_are_printed_escaped(capsys, tmp_path):
    db = str(tmp_path / "ev.db")
    nasty = "\x1b[2J\x1b[31mred\nline"
    sc = tmp_path / "s.yaml"
    sc.write_text(Path(BENCHMARK).read_text().replace("name: Benchmark employment SIB", "name: \"bad\\x1b[31m\""))
    code, out, err = cli(capsys, "run", str(sc), "--trials", "50", "--save", "--db", db, "--tag", nasty,
                         "--note", nasty)
    assert code == 0, err
    assert "\x1b" not in out and "'bad\\x1b[31m'" in out
    for argv in (["evidence", "list"], ["evidence", "show", "1"]):
        code, out, _ = cli(capsys, *argv, "--db", db)
        assert code == 0 and "\x1b" not in out and "\\x1b[2J" in out
        assert "\nline" not in out


@pytest.mark.parametrize("column, value, expect", [
    ("metrics", "{bad", "the stored runs.metrics is damaged"),
    ("seed", "abc", "the stored runs.seed is damaged"),
])
def test_a_damaged_stored_value_names_the_run_and_column(capsys, db, column, value, expect):
    with open_store(db) as s:
        s.save_run(*_record())
        bad = s.save_run(*_record())
        with s.engine.begin() as conn:
            conn.execute(text(f"UPDATE runs SET {column} = :v WHERE id = :i"), {"v": value, "i": bad})
    for argv in (["evidence", "show", str(bad)], ["evidence", "list"]):
        code, _, err = cli(capsys, *argv, "--db", db)
        assert code == 2 and f"run {bad} in " in err and expect in err and err.count("\n") == 1


def test_a_damaged_per_trial_blob_names_the_run(capsys, db, tmp_path):
    with open_store(db) as s:
        run_id = s.save_run(*_record())
        with s.engine.begin() as conn:
            conn.execute(text("UPDATE run_per_trial SET data = :v WHERE run_id = :i"), {"v": b"\x01\x02", "i": run_id})
    code, _, err = cli(capsys, "evidence", "export", str(run_id), "--csv", str(tmp_path / "x.csv"), "--db", db)
    assert code == 2 and f"run {run_id} in " in err and "run_per_trial.data is damaged" in err
    assert not (tmp_path / "x.csv").exists() and _leftovers(tmp_path) == []
