"""Errors reading a stored run or sweep that say which run and which column is damaged.

A value edited by hand or cut short on disk (JSON that no longer parses, a seed
that is not a number, a Parquet blob that cannot be read) raises deep inside
SQLAlchemy, pandas or pyarrow with no word of where it came from. :func:`reading`
turns such an error into a one-line :class:`UsageError` naming the run (or sweep)
id and the column, found by reading the row's raw text again.
"""

from __future__ import annotations

import json
from contextlib import contextmanager

from sqlalchemy import Engine, text

from ..errors import UsageError

JSON_COLUMNS = {"runs": ("scenario_json", "versions", "metrics", "probabilities", "timing"),
                "sweeps": ("scenario_json", "versions", "design", "points", "inputs")}
BLOBS = {"runs": "run_per_trial", "sweeps": "sweep_results"}
WHAT = {"runs": "run", "sweeps": "sweep"}


def bad_column(engine: Engine, table: str, row_id: int) -> str | None:
    """The first column of row ``row_id`` whose stored text does not read back (JSON, or the seed)."""
    with engine.connect() as conn:
        row = conn.execute(text(f"SELECT * FROM {table} WHERE id = :i"), {"i": int(row_id)}).mappings().first()
    if row is None:
        return None
    for col in JSON_COLUMNS[table]:
        if col == "scenario_json":
            continue  # checked when the scenario is validated, with its own message
        try:
            json.loads(row[col])
        except (TypeError, ValueError):
            return f"{table}.{col}"
    try:
        int(row["seed"])
    except (TypeError, ValueError):
        return f"{table}.seed"
    return None


def _one_line(err: BaseException) -> str:
    lines = [ln.strip() for ln in str(err).splitlines() if ln.strip()]
    return lines[0] if lines else type(err).__name__


@contextmanager
def reading(engine: Engine, table: str, row_id: int | None, *, blob: bool = False):
    """``with reading(engine, "runs", 7):`` a damaged stored value becomes a UsageError naming run 7 and its column."""
    try:
        yield
    except UsageError:
        raise
    except (ValueError, TypeError, OSError, KeyError) as err:  # json, int(), pyarrow (ArrowInvalid is a ValueError)
        if row_id is None:  # a listing: find the first damaged row
            with engine.connect() as conn:
                ids = [r[0] for r in conn.execute(text(f"SELECT id FROM {table} ORDER BY id"))]
            row_id = next((i for i in ids if bad_column(engine, table, i)), "(unknown)")
        col = f"{BLOBS[table]}.data" if blob else (
            bad_column(engine, table, row_id) if isinstance(row_id, int) else None) or f"a column of {table}"
        raise UsageError(f"{WHAT[table]} {row_id} in {engine.url.render_as_string(hide_password=True)}: the stored "
                         f"{col} is damaged and cannot be read ({_one_line(err)}); delete the {WHAT[table]} "
                         "or restore the database from a copy") from None
