"""The evidence base from the command line: ``sibsim run --save`` and ``sibsim evidence ...``,
through ``sibsim.cli.main`` on a SQLite file and on PostgreSQL; and the INDIGO
reference data that a new evidence base starts with."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from datetime import datetime
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sqlalchemy import create_engine, func, select

from sibsim import indigo
from sibsim.errors import UsageError
from sibsim.store import open_store, runs
from sibsim.store.models import REFERENCE_TABLES, RefImport

from helpers import cli
from helpers import fresh_pg_database as _fresh_pg_database

ROOT = Path(__file__).resolve().parents[1]
BENCHMARK = str(ROOT / "scenarios" / "benchmark.yaml")
INDIGO_EXPORT = Path(__file__).parent / "fixtures" / "indigo"  # a small CSV export (its README)
TRIALS = 400
BAD_PG = "postgresql+psycopg2://ann:s3cret@127.0.0.1:1/runs?connect_timeout=3"


@pytest.fixture(autouse=True)
def _no_env_db(monkeypatch):
    monkeypatch.delenv("SIBSIM_DB", raising=False)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db(request, tmp_path) -> str:
    if request.param == "sqlite":
        return str(tmp_path / "evidence.db")
    return _fresh_pg_database(request.getfixturevalue("pg_url"))


@pytest.fixture
def sqlite_db(tmp_path) -> str:
    return str(tmp_path / "evidence.db")


def save(capsys, db: str, *extra: str, seed: int = 1, out: Path | None = None) -> int:
    """``sibsim run BENCHMARK --save -q``: the new id is all it prints."""
    argv = ["run", BENCHMARK, "--trials", str(TRIALS), "--seed", str(seed), "--save", "-q", "--db", db, *extra]
    if out is not None:
        argv += ["--json", str(out)]
    code, stdout, err = cli(capsys, *argv)
    assert code == 0, err
    return int(stdout.strip())


def ref_imports(url: str) -> int:
    with open_store(url, reference=False) as s, s.engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(RefImport)).scalar()


# ---------------------------------------------------------------- save, list, show, rerun


def test_save_list_show_rerun(capsys, db, tmp_path):
    run_json = tmp_path / "run.json"
    run_id = save(capsys, db, "--tag", "baseline", "--tag", "paper", "--note", "first look", seed=5, out=run_json)
    expected = json.loads(run_json.read_text())

    code, out, err = cli(capsys, "evidence", "list", "--db", db, "--json")
    assert code == 0, err
    listed = json.loads(out)
    assert [r["id"] for r in listed] == [run_id]
    r = listed[0]
    assert set(r) == {"id", "name", "hash", "seed", "trials", "tags", "note", "created"}
    assert (r["name"], r["hash"], r["seed"], r["trials"]) == (
        expected["scenario"]["name"], expected["scenario"]["hash"], 5, TRIALS)
    assert r["tags"] == ["baseline", "paper"] and r["note"] == "first look"
    assert datetime.fromisoformat(r["created"]).utcoffset().total_seconds() == 0

    code, out, _ = cli(capsys, "evidence", "list", "--db", db)
    assert code == 0 and f"{run_id}  " in out and "baseline, paper" in out and "first look" in out

    code, out, err = cli(capsys, "evidence", "show", str(run_id), "--db", db, "--json")
    assert code == 0, err
    shown = json.loads(out)
    assert shown["metrics"] == expected["metrics"]
    assert shown["probabilities"] == expected["probabilities"]
    assert shown["scenario"] == expected["scenario"]
    assert (shown["seed"], shown["trials"], shown["versions"]) == (5, TRIALS, expected["versions"])
    assert shown["tags"] == ["baseline", "paper"] and shown["note"] == "first look"
    assert datetime.fromisoformat(shown["created"]) == datetime.fromisoformat(r["created"])

    code, out, _ = cli(capsys, "evidence", "show", str(run_id), "--db", db)
    assert code == 0
    assert f"run {run_id}: Benchmark employment SIB" in out and "seed 5" in out and "investor_irr" in out

    rerun_json = tmp_path / "rerun.json"
    code, out, err = cli(capsys, "evidence", "rerun", str(run_id), "--db", db, "--json", str(rerun_json))
    assert code == 0, err
    assert f"identical to stored run {run_id}" in out
    again = json.loads(rerun_json.read_text())
    assert again["metrics"] == expected["metrics"]
    assert again["probabilities"] == expected["probabilities"]
    assert (again["seed"], again["trials"], again["scenario"]) == (5, TRIALS, expected["scenario"])


def test_run_with_set_reruns_identically(capsys, sqlite_db, tmp_path):
    run_json = tmp_path / "run.json"
    run_id = save(capsys, sqlite_db, "--set", "job_entry_uplift=0.12", out=run_json)
    code, out, err = cli(capsys, "evidence", "rerun", str(run_id), "--db", sqlite_db, "-q",
                         "--json", str(tmp_path / "again.json"))
    assert (code, out) == (0, ""), err
    assert json.loads((tmp_path / "again.json").read_text())["metrics"] == json.loads(run_json.read_text())["metrics"]


def test_rerun_runs_the_other_finance_models_again(capsys, sqlite_db, tmp_path):
    run_json = tmp_path / "run.json"
    run_id = save(capsys, sqlite_db, "--finance", "pbr,fee", out=run_json)
    expected = json.loads(run_json.read_text())
    assert expected["finance_models"] == ["sib", "pbr", "fee"] and list(expected["models"]) == ["sib", "pbr", "fee"]
    with open_store(sqlite_db) as s:
        assert s.get_run(run_id)["finance_models"] == ["sib", "pbr", "fee"]  # the evidence base records them
    code, out, err = cli(capsys, "evidence", "rerun", str(run_id), "--db", sqlite_db,
                         "--json", str(tmp_path / "again.json"))
    assert code == 0, err
    assert "3 finance models (sib, pbr, fee" in out
    again = json.loads((tmp_path / "again.json").read_text())
    assert again["metrics"] == expected["metrics"] and again["models"] == expected["models"]


def test_rerun_reports_numbers_that_differ(capsys, sqlite_db):
    import sibsim

    record = sibsim.simulate(sibsim.load(BENCHMARK), trials=TRIALS, seed=2).to_dict()
    record["metrics"]["outcome_payments"]["mean"] += 1.0
    with open_store(sqlite_db) as s:
        run_id = s.save_run(record, {})
    code, out, _ = cli(capsys, "evidence", "rerun", str(run_id), "--db", sqlite_db)
    assert code == 1
    assert f"differs from stored run {run_id} in 1 numbers (outcome_payments)" in out


def test_rerun_is_identical_only_when_every_model_is(capsys, sqlite_db):
    import sibsim

    run = sibsim.simulate(sibsim.load(BENCHMARK), trials=TRIALS, seed=2, finance=("pbr",))
    record = run.to_dict()
    record["models"]["pbr"]["metrics"]["provider_min_cash"]["p95"] += 1.0  # one number of another model
    with open_store(sqlite_db) as s:
        changed = s.save_run(record, run.per_trial())
        record = run.to_dict()
        record["models"].pop("pbr")  # a model the stored run lacks
        record["finance_models"] = ["sib"]
        fewer = s.save_run(record, {})
    code, out, _ = cli(capsys, "evidence", "rerun", str(changed), "--db", sqlite_db)
    assert code == 1 and "in 1 numbers (pbr:provider_min_cash)" in out
    code, out, _ = cli(capsys, "evidence", "rerun", str(fewer), "--db", sqlite_db)
    assert code == 0  # it reruns the models it had: sib only


def test_save_prints_the_id_and_where(capsys, sqlite_db):
    code, out, err = cli(capsys, "run", BENCHMARK, "--trials", "200", "--save", "--db", sqlite_db)
    assert code == 0, err
    assert out.strip().splitlines()[-1] == f"saved as run 1 in sqlite:///{sqlite_db}"


def test_db_defaults_to_env_then_evidence_db_in_cwd(capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert cli(capsys, "run", BENCHMARK, "--trials", "100", "--save", "-q")[0] == 0
    assert (tmp_path / "evidence.db").is_file()
    monkeypatch.setenv("SIBSIM_DB", str(tmp_path / "from_env.db"))
    assert cli(capsys, "run", BENCHMARK, "--trials", "100", "--save", "-q")[0] == 0
    code, out, _ = cli(capsys, "evidence", "list", "--json")
    assert code == 0 and len(json.loads(out)) == 1
    with open_store(tmp_path / "evidence.db") as s:
        assert len(s.list_runs()) == 1


# ---------------------------------------------------------------- compare, export, tags and notes


def test_compare_prints_both_runs_and_differences(capsys, db):
    a = save(capsys, db, seed=1)
    b = save(capsys, db, "--set", "job_entry_uplift=0.15", seed=1)
    code, out, err = cli(capsys, "evidence", "compare", str(a), str(b), "--db", db)
    assert code == 0, err
    assert f"A = run {a}: Benchmark employment SIB" in out and f"B = run {b}: Benchmark employment SIB" in out
    assert "B - A" in out and "outcome_payments" in out and "investor_loss" in out
    assert "inputs that differ (1):" in out and "parameters.job_entry_uplift" in out

    code, out, _ = cli(capsys, "evidence", "compare", str(a), str(b), "--db", db, "--json")
    got = json.loads(out)
    with open_store(db) as s:
        ma, mb = s.get_run(a)["metrics"], s.get_run(b)["metrics"]
    d = got["metrics"]["outcome_payments"]
    assert (d["a"], d["b"]) == (ma["outcome_payments"]["mean"], mb["outcome_payments"]["mean"])
    assert d["difference"] == pytest.approx(d["b"] - d["a"]) and d["difference"] > 0
    # same seed and trials: paired, and far smaller than treating the runs as independent
    assert got["paired"] and d["paired"]
    assert d["se"] < np.hypot(ma["outcome_payments"]["mcse"], mb["outcome_payments"]["mcse"])
    assert (got["a"]["id"], got["b"]["id"]) == (a, b)

    code, out, _ = cli(capsys, "evidence", "compare", str(a), str(a), "--db", db, "--json")
    got = json.loads(out)
    assert got["inputs"] == []
    assert all(v["difference"] == 0 and v["se"] == 0 for v in got["metrics"].values() if v["a"] == v["a"])


def test_export_csv_and_parquet(capsys, sqlite_db, tmp_path):
    run_id = save(capsys, sqlite_db)
    csv, parquet = tmp_path / "trials.csv", tmp_path / "trials.parquet"
    code, out, err = cli(capsys, "evidence", "export", str(run_id), "--db", sqlite_db, "--csv", str(csv))
    assert code == 0, err
    assert f"wrote {TRIALS} trials" in out
    assert cli(capsys, "evidence", "export", str(run_id), "--db", sqlite_db, "--parquet", str(parquet))[0] == 0

    from_csv = pd.read_csv(csv, index_col="trial")
    from_parquet = pd.read_parquet(parquet)
    assert len(from_csv) == len(from_parquet) == TRIALS
    assert "outcome_payments" in from_csv.columns and "investor_irr" in from_parquet.columns
    with open_store(sqlite_db) as s:
        stored = s.get_per_trial(run_id)
    pd.testing.assert_frame_equal(from_parquet, stored)
    np.testing.assert_allclose(from_csv["outcome_payments"], stored["outcome_payments"], rtol=1e-15)

    code, _, err = cli(capsys, "evidence", "export", str(run_id), "--db", sqlite_db,
                       "--csv", str(tmp_path / "no" / "dir.csv"))
    assert code == 2 and "does not exist" in err
    assert cli(capsys, "evidence", "export", str(run_id), "--db", sqlite_db)[0] == 2  # --csv or --parquet


def test_tags_and_notes(capsys, db):
    a = save(capsys, db, "--tag", "baseline")
    b = save(capsys, db, seed=2)
    code, out, _ = cli(capsys, "evidence", "tag", str(b), "pbr", "paper", "--db", db)
    assert code == 0 and out.strip() == f"run {b} tags: paper, pbr"
    code, out, _ = cli(capsys, "evidence", "tag", str(b), "paper", "--remove", "--db", db)
    assert out.strip() == f"run {b} tags: pbr"
    assert cli(capsys, "evidence", "note", str(a), "cap binds in 40% of trials", "--db", db)[0] == 0

    _, out, _ = cli(capsys, "evidence", "list", "--db", db, "--tag", "pbr", "--json")
    assert [r["id"] for r in json.loads(out)] == [b]
    _, out, _ = cli(capsys, "evidence", "show", str(a), "--db", db, "--json")
    shown = json.loads(out)
    assert shown["tags"] == ["baseline"] and shown["note"] == "cap binds in 40% of trials"
    assert cli(capsys, "evidence", "note", str(a), "", "--db", db)[1].strip() == f"run {a} note cleared"
    code, _, err = cli(capsys, "evidence", "tag", str(a), " ", "--db", db)
    assert code == 2 and "tags must be 1 to 100 characters" in err


# ---------------------------------------------------------------- failures


@pytest.mark.parametrize("argv", [
    ["evidence", "list"],
    ["evidence", "show", "1"],
    ["evidence", "import-indigo"],
    ["run", BENCHMARK, "--trials", "50", "--save"],
])
def test_bad_database_url_is_one_line_naming_it(capsys, argv):
    code, out, err = cli(capsys, *argv, "--db", BAD_PG)
    assert code == 2
    saving = argv[0] == "run"
    assert err.count("\n") == 1
    # a run checks its database before simulating: nothing is simulated or written for nothing
    assert err.startswith("sibsim: error: " + ("run not started: " if saving else "") + "evidence database ")
    if saving:
        assert out == ""
    assert "postgresql+psycopg2://ann:***@127.0.0.1:1/runs" in err
    assert "s3cret" not in err + out and "Traceback" not in err


def test_bad_database_url_in_a_real_process():
    env = {**os.environ, "SIBSIM_DB": "nosuchdb://ann:s3cret@host/runs"}
    proc = subprocess.run([sys.executable, "-m", "sibsim", "evidence", "list"], capture_output=True, text=True,
                          env=env, timeout=120)
    assert proc.returncode == 2
    assert proc.stderr.strip() == ("sibsim: error: evidence database nosuchdb://ann:***@host/runs: "
                                   "unsupported URL: Can't load plugin: sqlalchemy.dialects:nosuchdb")


def test_reading_a_missing_sqlite_file_does_not_create_it(capsys, tmp_path):
    missing = tmp_path / "typo.db"
    code, _, err = cli(capsys, "evidence", "list", "--db", str(missing))
    assert code == 2 and f"evidence database sqlite:///{missing}: no such file" in err
    assert not missing.exists()


@pytest.mark.parametrize("argv", [
    ["show", "99"], ["rerun", "99"], ["export", "99", "--csv", "x.csv"], ["tag", "99", "a"], ["note", "99", "x"],
    ["compare", "1", "99"],
])
def test_unknown_run_id(capsys, sqlite_db, tmp_path, monkeypatch, argv):
    monkeypatch.chdir(tmp_path)
    save(capsys, sqlite_db)
    code, out, err = cli(capsys, "evidence", *argv, "--db", sqlite_db)
    assert code == 2
    assert err.strip() == f"sibsim: error: no run with id 99 in sqlite:///{sqlite_db}"
    assert not (tmp_path / "x.csv").exists()


def test_run_id_must_be_a_number(capsys, sqlite_db):
    code, _, err = cli(capsys, "evidence", "show", "latest", "--db", sqlite_db)
    assert code == 2 and "invalid int value: 'latest'" in err


def test_interrupted_save_leaves_no_partial_run(capsys, db, monkeypatch):
    def interrupted(arrays):
        raise KeyboardInterrupt  # Ctrl-C while the per-trial blob is written

    monkeypatch.setattr(runs, "_encode_per_trial", interrupted)
    code, _, err = cli(capsys, "run", BENCHMARK, "--trials", "100", "--save", "--tag", "a", "--db", db)
    assert code == 130 and err == "sibsim: interrupted\n"  # 128 + SIGINT, one line
    monkeypatch.undo()
    with open_store(db) as s:
        assert s.list_runs() == []
        assert runs.count_rows(s.engine) == {"runs": 0, "run_tags": 0, "run_per_trial": 0}
    run_id = save(capsys, db, "--tag", "a")
    with open_store(db) as s:
        assert [r["id"] for r in s.list_runs()] == [run_id]
        assert runs.count_rows(s.engine) == {"runs": 1, "run_tags": 1, "run_per_trial": 1}


def test_evidence_without_a_command_prints_help(capsys):
    code, out, _ = cli(capsys, "evidence")
    assert code == 2 and "import-indigo" in out and "rerun" in out


# ---------------------------------------------------------------- INDIGO reference data


def test_import_indigo_reports_counts(capsys, db):
    code, out, err = cli(capsys, "evidence", "import-indigo", "--db", db)
    assert code == 0, err
    assert "rows kept/read: projects 319/319, rate_cards 385/385" in out
    assert "rows skipped  outcome_payments: superseded payment plan version: 1067" in out
    assert "field skipped projects.capital_raised_local: range only (min/max kept): 19" in out
    assert out.strip().splitlines()[-1].endswith("projects 319, rate_cards 385, investments 1080, "
                                                 "outcome_payments 1165, results 518")
    with open_store(db) as s:
        assert len(s.reference_projects()) == 319
        assert s.reference_import()["source"].startswith("snapshot ")
    assert ref_imports(db) == 1  # the explicit import, not an automatic one first


def test_import_indigo_from_csv_export(capsys, sqlite_db):
    code, out, err = cli(capsys, "evidence", "import-indigo", str(INDIGO_EXPORT), "--db", sqlite_db)
    assert code == 0, err
    assert f"INDIGO import from {INDIGO_EXPORT}" in out and "outcome_payments 44/116" in out


def test_import_indigo_from_the_split_layout_of_newer_exports(capsys, sqlite_db, tmp_path):
    # newer exports put the files in funds/, organisations/ and projects/ sub-folders
    for f in INDIGO_EXPORT.glob("*.csv"):
        sub = tmp_path / ("projects" if f.name.startswith("projects") else
                          "funds" if f.name.startswith("funds") else "organisations")
        sub.mkdir(exist_ok=True)
        sub.joinpath(f.name).write_bytes(f.read_bytes())
    code, out, err = cli(capsys, "evidence", "import-indigo", str(tmp_path), "--db", sqlite_db)
    assert code == 0, err
    assert "projects 11/11" in out and "outcome_payments 44/116" in out
    with open_store(sqlite_db) as s:
        assert len(s.reference_projects()) == 11


def test_import_indigo_from_a_missing_directory(capsys, sqlite_db, tmp_path):
    code, _, err = cli(capsys, "evidence", "import-indigo", str(tmp_path / "nope"), "--db", sqlite_db)
    assert code == 2 and "is not a directory" in err


def test_new_evidence_base_has_indigo(db):
    snap = indigo.load_snapshot()
    with open_store(db) as s:
        pd.testing.assert_frame_equal(s.reference_projects(), snap.projects)
        assert len(s.reference_rate_cards()) == 385
        imported = s.reference_import()
        assert "loaded automatically" in imported["source"]
        assert imported["report"].rows_kept == snap.report.rows_kept
    with open_store(db) as s:  # reopening does not load it again
        assert len(s.reference_projects()) == 319
    assert ref_imports(db) == 1


def test_saving_a_first_run_creates_an_evidence_base_with_indigo(capsys, sqlite_db):
    save(capsys, sqlite_db)
    with open_store(sqlite_db, reference=False) as s:
        assert len(s.reference_projects()) == 319


def test_reference_false_leaves_the_tables_empty(sqlite_db):
    with open_store(sqlite_db, reference=False) as s:
        with pytest.raises(UsageError, match="no INDIGO reference data"):
            s.reference_projects()
    with open_store(sqlite_db) as s:  # filled on the next ordinary open
        assert len(s.reference_projects()) == 319


def test_emptied_reference_tables_are_filled_again(sqlite_db):
    open_store(sqlite_db).close()
    engine = create_engine(f"sqlite:///{sqlite_db}")
    with engine.begin() as conn:
        for table in REFERENCE_TABLES.values():
            conn.execute(table.delete())
    engine.dispose()
    with open_store(sqlite_db) as s:
        assert len(s.reference_projects()) == 319
    assert ref_imports(sqlite_db) == 2


def test_an_imported_export_is_not_replaced_on_open(capsys, sqlite_db, tmp_path):
    small = tmp_path / "snapshot"
    data = indigo.load_snapshot()
    indigo.write_snapshot(indigo.from_frames({k: v.head(10) for k, v in data.tables.items()}, data.report), small)
    assert cli(capsys, "evidence", "import-indigo", str(small), "--db", sqlite_db)[0] == 0
    with open_store(sqlite_db) as s:
        assert len(s.reference_projects()) == 10


def test_opening_a_new_evidence_base_at_once_loads_indigo_once(db):
    """Four connections race to open a new database (processes are covered in test_store)."""
    barrier, errors = threading.Barrier(4), []

    def opener():
        try:
            barrier.wait(timeout=60)
            open_store(db).close()
        except BaseException as e:  # noqa: BLE001 - reported below
            errors.append(e)

    threads = [threading.Thread(target=opener) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert errors == []
    assert ref_imports(db) == 1
    with open_store(db) as s:
        assert len(s.reference_projects()) == 319
