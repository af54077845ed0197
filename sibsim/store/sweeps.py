"""Saved sweeps: save, list, read, delete.

A sweep record has the provenance of a run record and the sweep's design::

    {"scenario": {"name", "hash", "canonical_json"}, "seed", "trials",
     "versions": {"sibsim", "numpy", "scipy"},
     "design": {"method": "grid", "values": {name: [v, ...]}, "points": [...]}
             | {"method": "lhs", "n": N, "ranges": {name: [low, high]}, "seed": S, "points": [...]}
             | {"method": "points", "points": [...]}}

where ``points`` is the list of points swept, each ``{name: value}``
(:func:`sweep_record` builds it). The results table is the DataFrame that
:func:`sibsim.sweep.sweep` returns, one row per distinct point; it is stored
as one compressed Parquet blob and read back identical (columns, their order
and dtypes, index). A save is one transaction: the sweep row, its tags and its
results are stored together or not at all.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timezone

import numpy as np
import pandas as pd
from sqlalchemy import Engine, delete, func, select
from sqlalchemy.orm import Session, selectinload

from ..errors import UsageError
from .db import in_transaction
from .models import Sweep, SweepResults, SweepTag
from .checks import check_save
from .corrupt import reading
from .runs import BLOB_FORMAT, parquet_bytes, read_parquet_bytes

METHODS = {"grid": ("values",), "lhs": ("n", "ranges", "seed"), "points": ()}
_REQUIRED = ("scenario", "seed", "trials", "versions", "design")
_PROVENANCE = ("seed", "trials", "scenario_hash")  # columns of a sweep table (sibsim.sweep.PROVENANCE)


def sweep_record(scenario, points: Sequence[Mapping[str, float]], *, trials: int, seed: int,
                 design: Mapping | None = None) -> dict:
    """The record :func:`save_sweep` takes, for a sweep of ``scenario`` (a Scenario) over ``points``.

    ``design``: how the points were made, ``{"method": "grid", "values": {...}}``
    or ``{"method": "lhs", "n": N, "ranges": {name: (low, high)}, "seed": S}``;
    None for points given one by one (``{"method": "points"}``).
    """
    from ..run import versions

    d = {"method": "points"} if design is None else dict(design)
    d["points"] = [{str(k): float(v) for k, v in p.items()} for p in points]
    if "values" in d:
        d["values"] = {str(k): [float(x) for x in v] for k, v in d["values"].items()}
    if "ranges" in d:
        d["ranges"] = {str(k): [float(lo), float(hi)] for k, (lo, hi) in d["ranges"].items()}
    return {"scenario": {"name": scenario.name, "hash": scenario.content_hash,
                         "canonical_json": scenario.canonical_json()},
            "seed": int(seed), "trials": int(trials), "versions": versions(), "design": d}


def _check(record: dict, table) -> tuple[dict, list, list[str]]:
    """(design without points, points, input names) of a valid record and table; else UsageError."""
    if not isinstance(record, dict):
        raise UsageError(f"save_sweep: record must be a dict (sweep_record(...)); got {type(record).__name__}")
    missing = [k for k in _REQUIRED if k not in record]
    missing += [f"scenario.{k}" for k in ("name", "hash", "canonical_json") if k not in (record.get("scenario") or {})]
    if missing:
        raise UsageError(f"save_sweep: record lacks {', '.join(missing)}")
    trials, seed = record["trials"], record["seed"]
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise UsageError(f"save_sweep: seed must be a non-negative integer; got {seed!r}")
    if isinstance(trials, bool) or not isinstance(trials, (int, np.integer)) or trials < 1:
        raise UsageError(f"save_sweep: trials must be a positive integer; got {trials!r}")
    design = record["design"]
    if not isinstance(design, Mapping) or design.get("method") not in METHODS:
        got = design.get("method") if isinstance(design, Mapping) else design
        raise UsageError(f"save_sweep: design.method must be one of {', '.join(METHODS)}; got {got!r}")
    lacks = [f"design.{k}" for k in (*METHODS[design["method"]], "points") if k not in design]
    if lacks:
        raise UsageError(f"save_sweep: a {design['method']} design needs {', '.join(lacks)}")
    points = design["points"]
    if not isinstance(points, Sequence) or isinstance(points, str) or not points \
            or not all(isinstance(p, Mapping) and p for p in points):
        raise UsageError("save_sweep: design.points must be a non-empty list of {name: value} points")
    inputs = [str(k) for k in points[0]]
    if not isinstance(table, pd.DataFrame):
        raise UsageError(f"save_sweep: the table must be a pandas DataFrame; got {type(table).__name__}")
    if len(table) == 0:
        raise UsageError("save_sweep: the table has no rows")
    if not all(isinstance(c, str) for c in table.columns) or table.columns.has_duplicates:
        raise UsageError("save_sweep: the table's column names must be distinct strings")
    want = {"seed": int(seed), "trials": int(trials), "scenario_hash": str(record["scenario"]["hash"])}
    for col in _PROVENANCE:
        if col in table.columns and not (table[col].astype(str) == str(want[col])).all():
            raise UsageError(f"save_sweep: the table's {col} column does not match the record's "
                             f"{col} ({want[col]}); is this the table of another sweep?")
    return {k: v for k, v in design.items() if k != "points"}, list(points), inputs


def _encode_table(table: pd.DataFrame) -> bytes:
    t = table.copy(deep=False)
    t.attrs = {}  # e.g. sweep()'s "reused": about this call, not the results
    # index=None: a RangeIndex is kept as metadata, any other index as columns; both come back
    return parquet_bytes(t, index=None)


def _decode_table(fmt: str, data: bytes) -> pd.DataFrame:
    if fmt != BLOB_FORMAT:
        raise UsageError(f"sweep results blob format {fmt!r} is not known to this sibsim; upgrade sibsim")
    return read_parquet_bytes(data)


def save_sweep(engine: Engine, record: dict, table: pd.DataFrame, *, tags=(), note: str = "") -> int:
    """Store a sweep with its results table; returns its id."""
    design, points, inputs = _check(record, table)
    sc = record["scenario"]
    tags = check_save(name=sc["name"], scenario_hash=str(sc["hash"]), seed=record["seed"], trials=record["trials"],
                      tags=tags, note=note)

    def _save(session: Session) -> int:
        sw = Sweep(name=str(sc["name"]), scenario_hash=str(sc["hash"]), scenario_json=str(sc["canonical_json"]),
                   seed=str(int(record["seed"])), trials=int(record["trials"]), design=design, points=points,
                   inputs=inputs, rows=len(table), versions=dict(record["versions"]),
                   created=datetime.now(timezone.utc), note=str(note or ""))
        session.add(sw)
        session.flush()
        session.add_all(SweepTag(sweep_id=sw.id, tag=t) for t in tags)
        # encoded inside the transaction: if this fails, the row above goes too
        session.add(SweepResults(sweep_id=sw.id, format=BLOB_FORMAT, data=_encode_table(table)))
        return sw.id

    return in_transaction(engine, _save)


def _summary(sw: Sweep) -> dict:
    created = sw.created.replace(tzinfo=timezone.utc) if sw.created.tzinfo is None else sw.created
    return {"id": sw.id, "name": sw.name, "scenario_hash": sw.scenario_hash, "method": sw.design["method"],
            "inputs": list(sw.inputs), "rows": sw.rows, "seed": int(sw.seed), "trials": sw.trials,
            "tags": [t.tag for t in sw.tags], "note": sw.note, "created": created.astimezone(timezone.utc)}


def _get(session: Session, sweep_id: int, engine: Engine) -> Sweep:
    sw = session.get(Sweep, int(sweep_id), options=[selectinload(Sweep.tags)])
    if sw is None:
        raise UsageError(f"no sweep with id {sweep_id} in {engine.url.render_as_string(hide_password=True)}")
    return sw


def list_sweeps(engine: Engine, *, tag: str | None = None, name: str | None = None) -> list[dict]:
    """Sweeps, oldest first, without points or results: id, name, scenario_hash, method,
    inputs, rows, seed, trials, tags, note, created."""
    q = select(Sweep).options(selectinload(Sweep.tags)).order_by(Sweep.id)
    if tag is not None:
        q = q.where(Sweep.id.in_(select(SweepTag.sweep_id).where(SweepTag.tag == str(tag).strip())))
    if name is not None:
        q = q.where(Sweep.name == name)
    with reading(engine, "sweeps", None):
        return in_transaction(engine, lambda s: [_summary(r) for r in s.scalars(q)], write=False)


def get_sweep(engine: Engine, sweep_id: int) -> dict:
    """A sweep's provenance and design in the shape it was saved in (scenario, seed,
    trials, versions, design with its points), plus the listing's fields."""

    def _read(session: Session) -> dict:
        sw = _get(session, sweep_id, engine)
        out = _summary(sw)
        out.update(scenario={"name": sw.name, "hash": sw.scenario_hash, "canonical_json": sw.scenario_json},
                   versions=sw.versions, design={**sw.design, "points": sw.points})
        return out

    with reading(engine, "sweeps", sweep_id):
        return in_transaction(engine, _read, write=False)


def get_sweep_table(engine: Engine, sweep_id: int) -> pd.DataFrame:
    """A sweep's results table, as saved."""

    def _read(session: Session):
        _get(session, sweep_id, engine)
        blob = session.get(SweepResults, int(sweep_id))
        return None if blob is None else (blob.format, blob.data)

    got = in_transaction(engine, _read, write=False)
    if got is None:
        raise UsageError(f"sweep {sweep_id} has no results table")
    with reading(engine, "sweeps", sweep_id, blob=True):
        return _decode_table(*got)


def delete_sweep(engine: Engine, sweep_id: int) -> None:
    """Delete a sweep with its tags and results."""

    def _delete(session: Session) -> None:
        sw = _get(session, sweep_id, engine)
        session.execute(delete(SweepTag).where(SweepTag.sweep_id == sw.id))
        session.execute(delete(SweepResults).where(SweepResults.sweep_id == sw.id))
        session.execute(delete(Sweep).where(Sweep.id == sw.id))

    in_transaction(engine, _delete)


def count_rows(engine: Engine) -> dict[str, int]:
    """Rows in each sweep table (for checks that nothing was left behind)."""
    return in_transaction(engine, lambda s: {m.__tablename__: s.scalar(select(func.count()).select_from(m))
                                             for m in (Sweep, SweepTag, SweepResults)}, write=False)
