"""Saved sweeps in the evidence base, on SQLite and PostgreSQL: the store API
(round trips, one transaction per save, listing, deletion), the command line
(``sibsim sweep --save``, ``sibsim evidence sweeps`` and ``sibsim evidence
sweep``), and the upgrade of an evidence base made before sweeps (revision 0001)."""

from __future__ import annotations

import json
import math
from datetime import datetime, timedelta, timezone
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sqlalchemy import inspect, text

import sibsim
from sibsim.errors import UsageError
from sibsim.store import db, open_store, runs, sweep_record, sweeps
from sibsim.sweep import grid, read_table, sweep
from helpers import fresh_pg_database as _fresh_pg_database
from helpers import cli

ROOT = Path(__file__).resolve().parents[1]
BENCHMARK = ROOT / "scenarios" / "benchmark.yaml"
TRIALS = 200
SEED = 3
BAD_PG = "postgresql+psycopg2://ann:s3cret@127.0.0.1:1/runs?connect_timeout=3"


# ---------------------------------------------------------------- fixtures


@pytest.fixture(autouse=True)
def _no_env_db(monkeypatch):
    monkeypatch.delenv("SIBSIM_DB", raising=False)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_url(request, tmp_path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'evidence.db'}"
    return _fresh_pg_database(request.getfixturevalue("pg_url"))


@pytest.fixture
def store(db_url):
    with open_store(db_url, reference=False) as s:
        yield s


@pytest.fixture(scope="module")
def sc():
    return sibsim.load(BENCHMARK)


VALUES = {"job_entry_uplift": [0.0, 0.1]}


@pytest.fixture(scope="module")
def table(sc) -> pd.DataFrame:
    """A real sweep table: 2 points of 200 trials."""
    return sweep(sc, grid(**VALUES), trials=TRIALS, seed=SEED)


@pytest.fixture(scope="module")
def record(sc) -> dict:
    return sweep_record(sc, grid(**VALUES), trials=TRIALS, seed=SEED, design={"method": "grid", "values": VALUES})


def _odd_table() -> pd.DataFrame:
    """Every kind of column a results table might hold, and a non-default index."""
    return pd.DataFrame({
        "b_first": [0.5, np.nan, np.inf],
        "count32": np.arange(3, dtype="int32"),
        "flag": [True, False, True],
        "label": pd.Series(["x", None, "z"], dtype="str"),
        "obj": pd.Series(["p", "q", "r"], dtype=object),
        "cat": pd.Categorical(["u", "v", "u"]),
        "nullable": pd.array([1, None, 3], dtype="Int64"),
        "when": pd.to_datetime(["2020-01-01", "2021-06-30", None], utc=True),
    }, index=pd.RangeIndex(5, 8))


def _one_line_error(code: int, err: str, *needles: str) -> None:
    assert code == 2, err
    assert err.startswith("sibsim: error: ") and err.count("\n") == 1 and "Traceback" not in err, err
    assert "s3cret" not in err
    for needle in needles:
        assert needle in err, err


# ---------------------------------------------------------------- store API


def test_round_trip(store, record, table):
    before = datetime.now(timezone.utc)
    sweep_id = store.save_sweep(record, table, tags=["b", "a", "a"], note="first sweep")

    got = store.get_sweep_table(sweep_id)
    pd.testing.assert_frame_equal(got, table, check_exact=True)
    assert list(got.columns) == list(table.columns)
    assert (got.dtypes == table.dtypes).all()
    assert got.attrs == {}  # sweep()'s "reused" is about that call, not the results

    rec = store.get_sweep(sweep_id)
    assert {k: rec[k] for k in record} == record
    assert rec["design"]["points"] == [{"job_entry_uplift": 0.0}, {"job_entry_uplift": 0.1}]
    assert (rec["id"], rec["name"], rec["scenario_hash"]) == (sweep_id, "Benchmark employment SIB",
                                                              record["scenario"]["hash"])
    assert (rec["method"], rec["inputs"], rec["rows"]) == ("grid", ["job_entry_uplift"], 2)
    assert rec["tags"] == ["a", "b"] and rec["note"] == "first sweep"
    assert set(rec["versions"]) == {"sibsim", "numpy", "scipy"}
    assert rec["created"].utcoffset() == timedelta(0)
    assert before - timedelta(seconds=5) <= rec["created"] <= datetime.now(timezone.utc) + timedelta(seconds=5)


def test_any_table_comes_back_identical(store, sc):
    odd = _odd_table()
    sweep_id = store.save_sweep(sweep_record(sc, [{"price.job_entry": 3000}], trials=1, seed=2**100), odd)
    pd.testing.assert_frame_equal(store.get_sweep_table(sweep_id), odd, check_exact=True)
    rec = store.get_sweep(sweep_id)
    assert rec["seed"] == 2**100 and rec["design"] == {"method": "points", "points": [{"price.job_entry": 3000.0}]}


def test_list_filter_and_delete(store, sc, record, table):
    lhs_record = sweep_record(sc, [{"job_entry_uplift": 0.05}], trials=TRIALS, seed=SEED,
                              design={"method": "lhs", "n": 1, "ranges": {"job_entry_uplift": (0, 0.2)}, "seed": 9})
    a = store.save_sweep(record, table, tags=["baseline"])
    b = store.save_sweep(lhs_record, table.iloc[:1], tags=["baseline", "lhs"])
    c = store.save_sweep(record, table)
    assert store.get_sweep(b)["design"]["ranges"] == {"job_entry_uplift": [0.0, 0.2]}

    listed = store.list_sweeps()
    assert [r["id"] for r in listed] == [a, b, c]
    assert set(listed[0]) == {"id", "name", "scenario_hash", "method", "inputs", "rows", "seed", "trials", "tags",
                              "note", "created"}
    assert [(r["method"], r["rows"]) for r in listed] == [("grid", 2), ("lhs", 1), ("grid", 2)]
    assert [r["id"] for r in store.list_sweeps(tag="baseline")] == [a, b]
    assert [r["id"] for r in store.list_sweeps(tag="lhs")] == [b]
    assert store.list_sweeps(tag="nope") == [] and store.list_sweeps(name="nope") == []

    store.delete_sweep(b)
    assert [r["id"] for r in store.list_sweeps()] == [a, c]
    assert sweeps.count_rows(store.engine) == {"sweeps": 2, "sweep_tags": 1, "sweep_results": 2}
    for call in (store.get_sweep, store.get_sweep_table, store.delete_sweep):
        with pytest.raises(UsageError, match=f"no sweep with id {b} in "):
            call(b)


def test_interrupted_save_leaves_nothing(store, monkeypatch, record, table):
    def broken(df):
        raise RuntimeError("disk full while writing the results table")

    monkeypatch.setattr(sweeps, "_encode_table", broken)
    with pytest.raises(RuntimeError, match="disk full"):
        store.save_sweep(record, table, tags=["a", "b"], note="never stored")
    assert store.list_sweeps() == []
    assert sweeps.count_rows(store.engine) == {"sweeps": 0, "sweep_tags": 0, "sweep_results": 0}

    monkeypatch.undo()
    sweep_id = store.save_sweep(record, table, tags=["a"])
    assert store.get_sweep(sweep_id)["tags"] == ["a"]
    assert sweeps.count_rows(store.engine) == {"sweeps": 1, "sweep_tags": 1, "sweep_results": 1}


@pytest.mark.parametrize("change, message", [
    (lambda r: r.pop("seed"), "record lacks seed"),
    (lambda r: r["scenario"].pop("hash"), "lacks scenario.hash"),
    (lambda r: r.update(trials=0), "trials must be a positive integer"),
    (lambda r: r.update(design={"method": "sobol", "points": [{"a": 1}]}), "design.method must be one of"),
    (lambda r: r["design"].pop("values"), "a grid design needs design.values"),
    (lambda r: r["design"].update(points=[]), "design.points must be a non-empty list"),
    (lambda r: r.update(seed=SEED + 1), "the table's seed column does not match"),
])
def test_invalid_record_is_refused(store, record, table, change, message):
    r = json.loads(json.dumps(record))
    change(r)
    with pytest.raises(UsageError, match=message):
        store.save_sweep(r, table)
    assert store.list_sweeps() == []


def test_invalid_table_is_refused(store, record, table):
    with pytest.raises(UsageError, match="the table has no rows"):
        store.save_sweep(record, table.iloc[:0])
    with pytest.raises(UsageError, match="the table must be a pandas DataFrame"):
        store.save_sweep(record, table.to_dict("records"))
    with pytest.raises(UsageError, match="column names must be distinct strings"):
        store.save_sweep(record, table.set_axis([*table.columns[:-1], table.columns[0]], axis=1))
    assert store.list_sweeps() == []


# ---------------------------------------------------------------- command line


def test_sweep_save_list_show_export(capsys, db_url, tmp_path):
    out = tmp_path / "sweep.csv"
    code, stdout, err = cli(capsys, "sweep", BENCHMARK, "--grid", "job_entry_uplift=0,0.1", "--trials", TRIALS,
                            "--seed", SEED, "--out", out, "--save", "--db", db_url, "--tag", "uplift",
                            "--tag", "paper", "--note", "two points")
    assert code == 0, err
    last = stdout.strip().splitlines()[-1]
    assert last.startswith("saved as sweep ") and " in " in last
    sweep_id = int(last.split()[3])

    code, stdout, err = cli(capsys, "evidence", "sweeps", "--db", db_url, "--json")
    assert code == 0, err
    [r] = json.loads(stdout)
    assert r["id"] == sweep_id and (r["method"], r["inputs"], r["points"]) == ("grid", ["job_entry_uplift"], 2)
    assert (r["seed"], r["trials"], r["tags"], r["note"]) == (SEED, TRIALS, ["paper", "uplift"], "two points")
    assert datetime.fromisoformat(r["created"]).utcoffset() == timedelta(0)
    code, stdout, _ = cli(capsys, "evidence", "sweeps", "--db", db_url, "--tag", "paper")
    assert code == 0 and f"{sweep_id}  " in stdout and "grid: job_entry_uplift" in stdout
    code, stdout, _ = cli(capsys, "evidence", "sweeps", "--db", db_url, "--tag", "nope")
    assert code == 0 and "no saved sweeps tagged 'nope'" in stdout

    code, stdout, err = cli(capsys, "evidence", "sweep", sweep_id, "--db", db_url)
    assert code == 0, err
    assert f"sweep {sweep_id}: Benchmark employment SIB" in stdout
    assert f"seed {SEED}, {TRIALS} trials per point" in stdout
    assert "grid of 2 points over job_entry_uplift (2 values)" in stdout
    assert "outcome_payments_mean" in stdout and "(2 points, " in stdout

    code, stdout, err = cli(capsys, "evidence", "sweep", sweep_id, "--db", db_url, "--json", "--head", "1")
    assert code == 0, err
    shown = json.loads(stdout)
    saved = read_table(out)
    assert shown["design"] == {"method": "grid", "values": VALUES,
                               "points": [{"job_entry_uplift": 0.0}, {"job_entry_uplift": 0.1}]}
    assert (shown["seed"], shown["trials"], shown["points"]) == (SEED, TRIALS, 2)
    assert shown["scenario"]["hash"] == saved["scenario_hash"][0] and shown["columns"] == list(saved.columns)
    assert len(shown["head"]) == 1 and shown["head"][0]["outcome_payments_mean"] == saved["outcome_payments_mean"][0]

    # the export is the file `sibsim sweep --out` wrote
    code, stdout, err = cli(capsys, "evidence", "sweep", sweep_id, "--db", db_url, "--csv", tmp_path / "x.csv")
    assert code == 0 and f"wrote 2 points x {saved.shape[1]} columns of sweep {sweep_id}" in stdout, err
    assert (tmp_path / "x.csv").read_bytes() == out.read_bytes()
    code, _, err = cli(capsys, "evidence", "sweep", sweep_id, "--db", db_url, "--parquet", tmp_path / "x.parquet")
    assert code == 0, err
    pd.testing.assert_frame_equal(read_table(tmp_path / "x.parquet"), saved)
    with open_store(db_url) as s:
        pd.testing.assert_frame_equal(s.get_sweep_table(sweep_id), saved)

    code, _, err = cli(capsys, "evidence", "sweep", 999, "--db", db_url)
    _one_line_error(code, err, "no sweep with id 999 in ")
    code, _, err = cli(capsys, "evidence", "sweep", 999, "--db", db_url, "--csv", tmp_path / "y.csv")
    _one_line_error(code, err, "no sweep with id 999 in ")
    assert not (tmp_path / "y.csv").exists()


def test_lhs_save_without_out_quiet_prints_the_id(capsys, tmp_path):
    db_file = tmp_path / "new" / "evidence.db"
    db_file.parent.mkdir()
    argv = ["sweep", BENCHMARK, "--lhs", "2", "--range", "job_entry_uplift=0:0.2", "--trials", TRIALS,
            "--seed", 5, "--save", "--db", db_file]
    code, stdout, err = cli(capsys, *argv, "-q")
    assert code == 0, err
    sweep_id = int(stdout.strip())
    with open_store(db_file) as s:
        rec = s.get_sweep(sweep_id)
        assert rec["design"]["method"] == "lhs"
        assert rec["design"]["ranges"] == {"job_entry_uplift": [0.0, 0.2]} and rec["design"]["seed"] == 5
        assert len(rec["design"]["points"]) == 2 and len(s.get_sweep_table(sweep_id)) == 2
    assert list(tmp_path.glob("*.csv")) == []


def test_sweep_save_checks_the_database_first(capsys, tmp_path, monkeypatch):
    import sibsim.sweep as sw

    def never(*a, **k):
        raise AssertionError("the sweep ran although the database is unusable")

    monkeypatch.setattr(sw, "sweep", never)
    argv = ["sweep", BENCHMARK, "--grid", "job_entry_uplift=0,0.1", "--trials", TRIALS, "--save"]
    code, _, err = cli(capsys, *argv, "--db", BAD_PG, "--out", tmp_path / "s.csv")
    _one_line_error(code, err, "sweep not started: evidence database postgresql+psycopg2://ann:***@127.0.0.1:1/runs",
                    "cannot open")
    code, _, err = cli(capsys, *argv, "--db", "postgresql://ann:s3cret@db.example:notaport/runs")
    _one_line_error(code, err, "malformed URL")
    code, _, err = cli(capsys, *argv, "--db", tmp_path / "no" / "dir" / "e.db")
    _one_line_error(code, err, "sweep not started", "unable to open database file")
    assert not (tmp_path / "s.csv").exists()

    # usage mistakes
    code, _, err = cli(capsys, "sweep", BENCHMARK, "--grid", "job_entry_uplift=0,0.1")
    _one_line_error(code, err, "give --out OUT.csv|OUT.parquet, --save (the evidence base), or both")
    code, _, err = cli(capsys, "sweep", BENCHMARK, "--grid", "job_entry_uplift=0,0.1", "--out", tmp_path / "s.csv",
                       "--tag", "x")
    _one_line_error(code, err, "--db, --tag and --note go with --save")


def test_evidence_sweeps_bad_database(capsys, tmp_path):
    missing = tmp_path / "missing.db"
    code, _, err = cli(capsys, "evidence", "sweeps", "--db", missing)
    _one_line_error(code, err, f"evidence database sqlite:///{missing}: no such file")
    assert not missing.exists()
    code, _, err = cli(capsys, "evidence", "sweep", "1", "--db", BAD_PG)
    _one_line_error(code, err, "postgresql+psycopg2://ann:***@127.0.0.1:1/runs", "cannot open")
    code, _, err = cli(capsys, "evidence", "sweeps", "--db", "nosuchdb://ann:s3cret@host/runs")
    _one_line_error(code, err, "nosuchdb://ann:***@host/runs", "unsupported URL")


# ---------------------------------------------------------------- migration


def _record_0001() -> dict:
    return {"scenario": {"name": "old", "hash": "sha256:old", "canonical_json": '{"meta":{"name":"old"}}'},
            "seed": 11, "trials": 3, "versions": {"sibsim": "0.1.0", "numpy": np.__version__, "scipy": "1.14.1"},
            "metrics": {"investor_irr": {"mean": math.nan, "std": 0.1, "mcse": 0.01, "p5": 0.0, "p50": 0.1,
                                         "p95": 0.2, "nan": 1}},
            "probabilities": {"investor_loss": {"p": 0.5, "se": 0.1}}, "timing": {"engine_seconds": 0.01}}


def test_upgrade_from_0001_keeps_runs(db_url, record, table):
    from alembic import command
    from alembic.runtime.migration import MigrationContext

    # an evidence base as sibsim made it before sweeps: schema at revision 0001, one run saved
    url = db.resolve_url(db_url)
    engine = db.create_store_engine(url)
    with engine.execution_options(sibsim_write=True).begin() as conn:
        command.upgrade(db.alembic_config(conn), "0001")
    with engine.connect() as conn:
        assert MigrationContext.configure(conn).get_current_revision() == "0001"
        assert "runs" in inspect(conn).get_table_names() and "sweeps" not in inspect(conn).get_table_names()
    per_trial = {"investor_irr": np.array([np.nan, 0.05, 0.2])}
    rec = _record_0001()
    with engine.execution_options(sibsim_write=True).begin() as conn:  # the rows as sibsim then wrote them
        conn.execute(text(
            "INSERT INTO runs (name, scenario_hash, scenario_json, seed, trials, versions, created, note, metrics, "
            "probabilities, timing) VALUES ('old', :hash, :json, '11', 3, :versions, :created, 'before sweeps', "
            ":metrics, :probs, :timing)"),
            {"hash": rec["scenario"]["hash"], "json": rec["scenario"]["canonical_json"],
             "versions": json.dumps(rec["versions"]), "created": datetime.now(timezone.utc),
             "metrics": json.dumps(rec["metrics"]).replace("NaN", '"NaN"'),
             "probs": json.dumps(rec["probabilities"]), "timing": json.dumps(rec["timing"])})
        run_id = conn.execute(text("SELECT max(id) FROM runs")).scalar()
        conn.execute(text("INSERT INTO run_tags (run_id, tag) VALUES (:i, 'old')"), {"i": run_id})
        conn.execute(text("INSERT INTO run_per_trial (run_id, format, data) VALUES (:i, 'parquet-zstd', :d)"),
                     {"i": run_id, "d": runs.parquet_bytes(pd.DataFrame(per_trial))})
    engine.dispose()

    with open_store(db_url, reference=False) as s:
        with s.engine.connect() as conn:
            assert MigrationContext.configure(conn).get_current_revision() == db.head_revision()
            assert {"sweeps", "sweep_tags", "sweep_results"} <= set(inspect(conn).get_table_names())
        [listed] = s.list_runs()
        assert (listed["id"], listed["tags"], listed["note"]) == (run_id, ["old"], "before sweeps")
        assert math.isnan(s.get_run(run_id)["metrics"]["investor_irr"]["mean"])
        np.testing.assert_array_equal(s.get_per_trial(run_id)["investor_irr"], per_trial["investor_irr"])
        sweep_id = s.save_sweep(record, table)
    with open_store(db_url, reference=False) as s:  # reopening is a no-op
        assert [r["id"] for r in s.list_runs()] == [run_id]
        pd.testing.assert_frame_equal(s.get_sweep_table(sweep_id), table)


def test_migrated_schema_matches_models(store):
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    from sibsim.store.models import Base

    with store.engine.connect() as conn:
        ctx = MigrationContext.configure(conn, opts={"compare_type": True})
        assert ctx.get_current_revision() == db.head_revision()
        assert compare_metadata(ctx, Base.metadata) == []
