"""The evidence base: saved runs and sweeps with their provenance, and INDIGO reference data.

One front door::

    from sibsim.store import open_store
    store = open_store()                     # $SIBSIM_DB, else ./evidence.db
    run_id = store.save_run(run.to_dict(), run.per_trial, tags=["baseline"])
    store.list_runs(tag="baseline")          # list of dicts
    store.get_run(run_id)["metrics"]
    store.get_per_trial(run_id)              # DataFrame, one row per trial
    sweep_id = store.save_sweep(sweep_record(sc, points, trials=T, seed=S, design=...), table)
    store.list_sweeps(tag=None); store.get_sweep(sweep_id); store.get_sweep_table(sweep_id)
    store.import_indigo()                    # reference tables from the shipped snapshot
    store.reference_projects()

``open_store(url)`` takes a SQLAlchemy URL (SQLite or PostgreSQL), a SQLite
file path, or None; it creates or upgrades the schema (Alembic), loads the
INDIGO snapshot shipped with sibsim when the reference tables are empty (a new
evidence base starts with the reference data; ``reference=False`` skips this),
and raises :class:`sibsim.errors.UsageError` with a one-line message naming
the URL (password masked) when the database cannot be used.
"""

from __future__ import annotations

import pandas as pd
from sqlalchemy import exc

from .. import indigo
from . import reference, runs, sweeps
from .db import describe_error, open_engine
from .reference import ensure_indigo
from .sweeps import sweep_record

__all__ = ["Store", "open_store", "sweep_record"]


class Store:
    """An open evidence base. Methods are thin wrappers over ``runs``, ``sweeps`` and ``reference``."""

    def __init__(self, engine, url):
        self.engine = engine
        self.url = url.render_as_string(hide_password=True)

    def __repr__(self) -> str:
        return f"Store({self.url!r})"

    # runs
    def save_run(self, run_record: dict, per_trial: dict, *, tags=(), note: str = "") -> int:
        return runs.save_run(self.engine, run_record, per_trial, tags=tags, note=note)

    def list_runs(self, tag: str | None = None, name: str | None = None) -> list[dict]:
        return runs.list_runs(self.engine, tag=tag, name=name)

    def get_run(self, run_id: int) -> dict:
        return runs.get_run(self.engine, run_id)

    def get_per_trial(self, run_id: int) -> pd.DataFrame:
        return runs.get_per_trial(self.engine, run_id)

    def add_tags(self, run_id: int, tags) -> list[str]:
        return runs.add_tags(self.engine, run_id, tags)

    def remove_tags(self, run_id: int, tags) -> list[str]:
        return runs.remove_tags(self.engine, run_id, tags)

    def set_note(self, run_id: int, note: str) -> None:
        runs.set_note(self.engine, run_id, note)

    def delete_run(self, run_id: int) -> None:
        runs.delete_run(self.engine, run_id)

    # sweeps
    def save_sweep(self, record: dict, table: pd.DataFrame, *, tags=(), note: str = "") -> int:
        """Store a sweep (``sweep_record(...)``) with its results table; returns its id."""
        return sweeps.save_sweep(self.engine, record, table, tags=tags, note=note)

    def list_sweeps(self, tag: str | None = None, name: str | None = None) -> list[dict]:
        return sweeps.list_sweeps(self.engine, tag=tag, name=name)

    def get_sweep(self, sweep_id: int) -> dict:
        return sweeps.get_sweep(self.engine, sweep_id)

    def get_sweep_table(self, sweep_id: int) -> pd.DataFrame:
        return sweeps.get_sweep_table(self.engine, sweep_id)

    def delete_sweep(self, sweep_id: int) -> None:
        sweeps.delete_sweep(self.engine, sweep_id)

    # INDIGO reference data
    def import_indigo(self, src_dir=None, *, replace: bool = False) -> indigo.ImportReport:
        return reference.import_indigo(self.engine, src_dir, replace=replace)

    def reference_projects(self) -> pd.DataFrame:
        return reference.reference_table(self.engine, "projects")

    def reference_rate_cards(self) -> pd.DataFrame:
        return reference.reference_table(self.engine, "rate_cards")

    def reference_table(self, name: str) -> pd.DataFrame:
        return reference.reference_table(self.engine, name)

    def reference_import(self) -> dict | None:
        return reference.latest_import(self.engine)

    # lifetime
    def close(self) -> None:
        self.engine.dispose()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def open_store(url=None, *, reference: bool = True, read_only: bool = False) -> Store:
    """Open (creating or upgrading) the evidence base at ``url``.

    ``reference``: load the shipped INDIGO snapshot if the reference tables
    are empty (about half a second, once per evidence base). ``read_only``:
    write nothing (a SQLite file is opened read-only; no upgrade, no loading).
    A SQLite file of another application is refused, never written into.
    """
    engine, resolved = open_engine(url, read_only=read_only)
    if reference and not read_only:
        try:
            ensure_indigo(engine)
        except (exc.SQLAlchemyError, OSError) as e:
            engine.dispose()
            raise describe_error(resolved, e, "cannot load the INDIGO reference data") from None
        except BaseException:
            engine.dispose()
            raise
    return Store(engine, resolved)
