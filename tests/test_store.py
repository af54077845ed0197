"""The evidence base on SQLite and PostgreSQL: round trips, transactions,
concurrency, failure messages, migrations and INDIGO reference tables."""

from __future__ import annotations

import math
import multiprocessing as mp
import sqlite3
from datetime import datetime, timedelta, timezone
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sqlalchemy import create_engine, text

from sibsim import indigo
from sibsim.errors import UsageError
from sibsim.store import db, open_store, reference, runs
from helpers import fresh_pg_database as _fresh_pg_database

INDIGO_EXPORT = Path(__file__).parent / "fixtures" / "indigo"  # a small CSV export (its README)


# ---------------------------------------------------------------- fixtures


def _record(seed: int = 7, trials: int = 5, name: str = "benchmark") -> dict:
    """A run record shaped like the engine's Run.to_dict()."""
    return {
        "scenario": {"name": name, "hash": f"sha256:{name}-hash",
                     "canonical_json": '{"meta":{"name":"%s"},"periods":12}' % name},
        "seed": seed,
        "trials": trials,
        "versions": {"sibsim": "0.1.0", "numpy": np.__version__, "scipy": "1.14.1"},
        "metrics": {
            "investor_irr": {"mean": 0.061, "std": 0.08, "mcse": 0.0036, "p5": -0.09, "p50": 0.07,
                             "p95": 0.17, "nan": 1},
            "undefined_everywhere": {"mean": math.nan, "std": math.nan, "mcse": math.nan, "p5": math.nan,
                                     "p50": math.nan, "p95": math.inf, "nan": trials},
            "payments_gbp": {"mean": 1.25e6, "std": 2.1e5, "mcse": 9.4e3, "p5": 9.0e5, "p50": 1.26e6,
                             "p95": 1.6e6, "nan": 0},
        },
        "probabilities": {"investor_loss": {"p": 0.2, "se": 0.179}, "threshold_met": {"p": 1.0, "se": 0.0}},
        "timing": {"engine_seconds": 0.123},
    }


def _per_trial(trials: int = 5, seed: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    irr = rng.normal(0.06, 0.08, trials)
    irr[0] = np.nan
    return {"investor_irr": irr, "payments_gbp": rng.uniform(9e5, 1.6e6, trials),
            "investor_loss": irr < 0}


def _same(a, b) -> bool:
    """Equality of nested dicts where NaN equals NaN."""
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    return a == b


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_url(request, tmp_path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'evidence.db'}"
    return _fresh_pg_database(request.getfixturevalue("pg_url"))


@pytest.fixture
def store(db_url):
    with open_store(db_url) as s:
        yield s


# ---------------------------------------------------------------- runs


def test_save_and_get_round_trip(store):
    record, per_trial = _record(), _per_trial()
    before = datetime.now(timezone.utc)
    run_id = store.save_run(record, per_trial, tags=["baseline", "paper"], note="first look")
    got = store.get_run(run_id)

    assert _same({k: got[k] for k in record}, record)
    assert got["id"] == run_id and got["name"] == "benchmark"
    assert got["scenario_hash"] == "sha256:benchmark-hash"
    assert got["tags"] == ["baseline", "paper"] and got["note"] == "first look"
    assert got["created"].tzinfo is not None
    assert before - timedelta(seconds=5) <= got["created"] <= datetime.now(timezone.utc) + timedelta(seconds=5)
    assert math.isnan(got["metrics"]["undefined_everywhere"]["mean"])
    assert got["metrics"]["undefined_everywhere"]["p95"] == math.inf


def test_per_trial_blob_round_trip(store):
    per_trial = _per_trial(trials=1000, seed=3)
    run_id = store.save_run(_record(trials=1000), per_trial)
    df = store.get_per_trial(run_id)

    assert list(df.columns) == list(per_trial)
    assert len(df) == 1000 and df.index.name == "trial"
    for name, values in per_trial.items():
        assert df[name].dtype == values.dtype
        np.testing.assert_array_equal(df[name].to_numpy(), values)


def test_empty_per_trial_and_huge_seed(store):
    seed = 2**100 + 12345  # SeedSequence entropy can exceed 64 bits
    run_id = store.save_run(_record(seed=seed), {})
    assert store.get_run(run_id)["seed"] == seed
    assert store.get_per_trial(run_id).empty


def test_list_runs_filters_by_tag_and_name(store):
    a = store.save_run(_record(seed=1, name="benchmark"), _per_trial(), tags=["baseline"])
    b = store.save_run(_record(seed=2, name="peterborough"), _per_trial(), tags=["baseline", "pbr"])
    c = store.save_run(_record(seed=3, name="peterborough"), _per_trial())

    listed = store.list_runs()
    assert [r["id"] for r in listed] == [a, b, c]
    assert set(listed[0]) == {"id", "name", "scenario_hash", "seed", "trials", "tags", "note", "created"}
    assert [r["seed"] for r in listed] == [1, 2, 3]
    assert [r["id"] for r in store.list_runs(tag="baseline")] == [a, b]
    assert [r["id"] for r in store.list_runs(tag="pbr")] == [b]
    assert [r["id"] for r in store.list_runs(name="peterborough")] == [b, c]
    assert [r["id"] for r in store.list_runs(tag="baseline", name="peterborough")] == [b]
    assert store.list_runs(tag="nope") == []


def test_tags_and_notes(store):
    run_id = store.save_run(_record(), _per_trial(), tags=["b", "a", "a"])
    assert store.get_run(run_id)["tags"] == ["a", "b"]
    assert store.add_tags(run_id, ["c", "a", " d "]) == ["a", "b", "c", "d"]
    assert store.add_tags(run_id, "e") == ["a", "b", "c", "d", "e"]
    assert store.remove_tags(run_id, ["b", "zz"]) == ["a", "c", "d", "e"]
    assert store.get_run(run_id)["tags"] == ["a", "c", "d", "e"]
    store.set_note(run_id, "cap binds in 40% of trials")
    assert store.get_run(run_id)["note"] == "cap binds in 40% of trials"
    assert store.list_runs(tag="d")[0]["note"] == "cap binds in 40% of trials"
    with pytest.raises(UsageError, match="tags must be"):
        store.add_tags(run_id, [""])


def test_delete_run_removes_everything(store):
    keep = store.save_run(_record(seed=1), _per_trial(), tags=["x"])
    gone = store.save_run(_record(seed=2), _per_trial(), tags=["x", "y"])
    store.delete_run(gone)

    assert [r["id"] for r in store.list_runs()] == [keep]
    assert runs.count_rows(store.engine) == {"runs": 1, "run_tags": 1, "run_per_trial": 1}
    for call in (store.get_run, store.get_per_trial, store.delete_run):
        with pytest.raises(UsageError, match=f"no run with id {gone}"):
            call(gone)
    with pytest.raises(UsageError, match="no run with id 999"):
        store.add_tags(999, ["a"])


def test_interrupted_save_leaves_nothing(store, monkeypatch):
    def broken(arrays):
        raise RuntimeError("disk full while writing the per-trial blob")

    monkeypatch.setattr(runs, "_encode_per_trial", broken)
    with pytest.raises(RuntimeError, match="disk full"):
        store.save_run(_record(), _per_trial(), tags=["a", "b"], note="never stored")
    assert store.list_runs() == []
    assert runs.count_rows(store.engine) == {"runs": 0, "run_tags": 0, "run_per_trial": 0}

    monkeypatch.undo()
    run_id = store.save_run(_record(), _per_trial(), tags=["a"])
    assert store.get_run(run_id)["tags"] == ["a"]
    assert runs.count_rows(store.engine) == {"runs": 1, "run_tags": 1, "run_per_trial": 1}


@pytest.mark.parametrize("change, message", [
    (lambda r: r.pop("seed"), "run_record lacks seed"),
    (lambda r: r["scenario"].pop("hash"), "lacks scenario.hash"),
    (lambda r: r.update(trials=0), "trials must be a positive integer"),
    (lambda r: r.update(seed=None), "seed must be a non-negative integer"),
])
def test_invalid_record_is_refused(store, change, message):
    record = _record()
    change(record)
    with pytest.raises(UsageError, match=message):
        store.save_run(record, {})
    assert store.list_runs() == []


def test_per_trial_shape_must_match_trials(store):
    with pytest.raises(UsageError, match=r"'payments_gbp' has shape \(4,\); expected \(5,\)"):
        store.save_run(_record(trials=5), {"payments_gbp": np.zeros(4)})
    assert store.list_runs() == []


# ---------------------------------------------------------------- concurrency


def _save_in_process(url: str, seed: int, barrier) -> None:
    barrier.wait(timeout=60)  # open (and migrate) at the same moment ...
    with open_store(url) as s:
        barrier.wait(timeout=60)  # ... and save at the same moment
        s.save_run(_record(seed=seed, trials=200), _per_trial(trials=200, seed=seed), tags=[f"p{seed}"])


def test_four_processes_save_concurrently(db_url):
    ctx = mp.get_context("spawn")
    barrier = ctx.Barrier(4)
    procs = [ctx.Process(target=_save_in_process, args=(db_url, seed, barrier)) for seed in range(4)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(timeout=120)
    assert [p.exitcode for p in procs] == [0, 0, 0, 0]

    with open_store(db_url) as s:
        saved = s.list_runs()
        assert sorted(r["seed"] for r in saved) == [0, 1, 2, 3]
        for r in saved:
            assert r["tags"] == [f"p{r['seed']}"]
            np.testing.assert_array_equal(s.get_per_trial(r["id"])["payments_gbp"],
                                          _per_trial(trials=200, seed=r["seed"])["payments_gbp"])


def test_in_memory_store():
    with open_store(":memory:") as s:
        run_id = s.save_run(_record(), _per_trial(), tags=["scratch"])
        assert s.list_runs(tag="scratch")[0]["id"] == run_id
        assert len(s.get_per_trial(run_id)) == 5
    with open_store(":memory:") as s:
        assert s.list_runs() == []


@pytest.mark.postgres
def test_created_is_utc_whatever_the_session_zone(pg_url):
    db_url = _fresh_pg_database(pg_url)
    with open_store(db_url) as s:
        run_id = s.save_run(_record(), {})
    engine = create_engine(db_url, connect_args={"options": "-c timezone=Asia/Tokyo"})
    got = runs.get_run(engine, run_id)["created"]
    engine.dispose()
    assert got.utcoffset() == timedelta(0)
    assert abs(datetime.now(timezone.utc) - got) < timedelta(minutes=1)


def test_sqlite_uses_wal(tmp_path):
    path = tmp_path / "wal.db"
    open_store(path).close()
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


# ---------------------------------------------------------------- URLs and failures


def test_url_resolution(tmp_path, monkeypatch):
    monkeypatch.delenv("SIBSIM_DB", raising=False)
    assert db.resolve_url(None).render_as_string() == "sqlite:///./evidence.db"
    monkeypatch.setenv("SIBSIM_DB", "postgresql://u@h/db")
    # a bare postgresql:// URL uses the driver sibsim installs (psycopg2)
    assert db.resolve_url(None).render_as_string() == "postgresql+psycopg2://u@h/db"
    assert db.resolve_url("sqlite:///x.db").render_as_string() == "sqlite:///x.db"  # explicit beats env
    bare = db.resolve_url(tmp_path / "runs.db")
    assert bare.get_backend_name() == "sqlite" and bare.database == str(tmp_path / "runs.db")
    assert db.resolve_url("relative/runs.db").database == "relative/runs.db"


def test_default_location_is_evidence_db_in_cwd(tmp_path, monkeypatch):
    monkeypatch.delenv("SIBSIM_DB", raising=False)
    monkeypatch.chdir(tmp_path)
    with open_store() as s:
        s.save_run(_record(), {})
    assert (tmp_path / "evidence.db").is_file()
    monkeypatch.setenv("SIBSIM_DB", str(tmp_path / "from_env.db"))
    open_store().close()
    assert (tmp_path / "from_env.db").is_file()


def _one_line_usage_error(url, *needles):
    with pytest.raises(UsageError) as info:
        open_store(url)
    msg = str(info.value)
    assert "\n" not in msg
    assert "s3cret" not in msg
    for needle in needles:
        assert needle in msg, msg
    return msg


def test_malformed_url():
    _one_line_usage_error("postgresql://ann:s3cret@db.example:notaport/runs",
                          "postgresql://ann:***@db.example:notaport/runs", "malformed URL")


def test_unknown_backend():
    _one_line_usage_error("nosuchdb://ann:s3cret@host/runs", "nosuchdb://ann:***@host/runs", "unsupported URL")


def test_unreachable_postgres():
    msg = _one_line_usage_error("postgresql+psycopg2://ann:s3cret@127.0.0.1:1/runs?connect_timeout=3",
                                "postgresql+psycopg2://ann:***@127.0.0.1:1/runs", "cannot open")
    assert "refused" in msg.lower() or "could not connect" in msg.lower()


def test_sqlite_in_missing_directory(tmp_path):
    _one_line_usage_error(tmp_path / "no" / "such" / "dir" / "e.db", "unable to open database file")


def test_sqlite_file_that_is_not_a_database(tmp_path):
    bad = tmp_path / "notes.txt"
    bad.write_text("these are my notes, not a database\n" * 100)
    _one_line_usage_error(bad, str(bad), "file is not a database")


# ---------------------------------------------------------------- migrations


def test_migrated_schema_matches_models(store):
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    from sibsim.store.models import Base

    with store.engine.connect() as conn:
        ctx = MigrationContext.configure(conn, opts={"compare_type": True})
        assert ctx.get_current_revision() == db.head_revision()
        assert compare_metadata(ctx, Base.metadata) == []


def test_reopen_is_a_no_op_and_keeps_runs(db_url):
    with open_store(db_url) as s:
        run_id = s.save_run(_record(), _per_trial())
    with open_store(db_url) as s:
        assert [r["id"] for r in s.list_runs()] == [run_id]


def test_database_from_a_newer_sibsim_is_refused(db_url):
    open_store(db_url).close()
    engine = create_engine(db_url)
    with engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = '9999_future'"))
    engine.dispose()
    with pytest.raises(UsageError, match="schema revision 9999_future is newer"):
        open_store(db_url)


def test_migrations_ship_inside_the_package():
    assert (db.MIGRATIONS / "env.py").is_file()
    assert db.MIGRATIONS.is_relative_to(Path(indigo.__file__).parents[1])  # sibsim/
    assert db.head_revision() == "0004"  # 0002: saved sweeps; 0003: finance models of a run; 0004: observation sets


# ---------------------------------------------------------------- INDIGO reference tables


def test_import_packaged_snapshot(store):
    report = store.import_indigo()
    snap = indigo.load_snapshot()
    assert report.rows_kept == snap.report.rows_kept
    assert report.rows_kept["projects"] == 319

    pd.testing.assert_frame_equal(store.reference_projects(), snap.projects)
    pd.testing.assert_frame_equal(store.reference_rate_cards(), snap.rate_cards)
    for name in ("investments", "outcome_payments", "results"):
        pd.testing.assert_frame_equal(store.reference_table(name), snap.tables[name])

    peterborough = store.reference_projects().set_index("project_id").loc["INDIGO-POJ-0153"]
    assert peterborough["capital_raised_local"] == 5_000_000 and peterborough["currency"] == "GBP"

    imported = store.reference_import()
    assert imported["report"].skipped_rows == snap.report.skipped_rows
    assert imported["imported"].tzinfo is not None


def test_import_replaces_previous_contents(store):
    store.import_indigo()
    store.import_indigo()
    assert len(store.reference_projects()) == 319
    assert len(store.reference_rate_cards()) == 385


def test_failed_import_keeps_previous_contents(store, monkeypatch):
    store.import_indigo()
    original = reference._records

    def fail_on_results(df, table):
        if table == "results":
            raise RuntimeError("interrupted half-way")
        return original(df, table)

    monkeypatch.setattr(reference, "_records", fail_on_results)
    with pytest.raises(RuntimeError, match="interrupted"):
        store.import_indigo()
    assert len(store.reference_projects()) == 319
    assert len(store.reference_table("results")) == 518


def test_import_from_csv_export(store):
    report = store.import_indigo(INDIGO_EXPORT, replace=True)  # 11 projects replace 319
    assert report.source == str(INDIGO_EXPORT)
    assert report.skipped_rows[("outcome_payments", "superseded payment plan version")] == 72
    assert len(store.reference_table("outcome_payments")) == 116 - 72
    assert len(store.reference_projects()) == 11


def test_reference_queries_before_import(db_url):
    # a new evidence base loads the shipped snapshot unless asked not to
    with open_store(db_url, reference=False) as store:
        with pytest.raises(UsageError, match="no INDIGO reference data"):
            store.reference_projects()
        with pytest.raises(UsageError, match="reference table 'funds' unknown"):
            store.reference_table("funds")
