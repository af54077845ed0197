"""Saved runs: save, list, read, tag, annotate, delete.

A run record has the shape of the engine's ``Run.to_dict()`` (format 2)::

    {"format": 2, "scenario": {"name", "hash", "canonical_json"}, "seed", "trials",
     "versions": {"sibsim", "numpy", "scipy"}, "finance_models": [own, ...],
     "metrics": {name: {mean, std, mcse, p5, p50, p95, nan}},
     "probabilities": {name: {"p", "se"}}, "timing": {"engine_seconds"},
     "models": {model: {"metrics": {...}, "probabilities": {...}}}}

and per-trial outputs are ``{name: array of shape (trials,)}`` (``Run.per_trial()``:
other models' under ``<model>:<name>``). Records saved in format 1 (other
models under prefixes such as ``pbr.provider_min_cash``) are read back in
format 2 (:func:`upgrade_record`). A save is one
transaction: the run row, its tags and its per-trial blob are stored together
or not at all.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from datetime import datetime, timezone

import numpy as np
import pandas as pd
from sqlalchemy import Engine, delete, func, select
from sqlalchemy.orm import Session, selectinload

from .. import outputs
from ..errors import UsageError
from .checks import check_save, check_tags, check_text
from .corrupt import reading
from .db import in_transaction
from .models import Run, RunPerTrial, RunTag

BLOB_FORMAT = "parquet-zstd"
_REQUIRED = ("scenario", "seed", "trials", "versions", "metrics", "probabilities", "timing")


def _check_record(record: dict, per_trial: dict) -> dict[str, np.ndarray]:
    if not isinstance(record, dict):
        raise UsageError(f"save_run: run_record must be a dict (Run.to_dict()); got {type(record).__name__}")
    missing = [k for k in _REQUIRED if k not in record]
    missing += [f"scenario.{k}" for k in ("name", "hash", "canonical_json")
                if k not in (record.get("scenario") or {})]
    if missing:
        raise UsageError(f"save_run: run_record lacks {', '.join(missing)}")
    trials, seed = record["trials"], record["seed"]
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise UsageError(f"save_run: seed must be a non-negative integer; got {seed!r}")
    if not isinstance(trials, (int, np.integer)) or trials < 1:
        raise UsageError(f"save_run: trials must be a positive integer; got {trials!r}")
    arrays = {}
    for name, values in (per_trial or {}).items():
        a = np.asarray(values)
        if a.shape != (trials,):
            raise UsageError(f"save_run: per-trial metric {name!r} has shape {a.shape}; expected ({trials},)")
        arrays[str(name)] = a
    return arrays


def _clean_tags(tags: Iterable[str]) -> list[str]:
    return check_tags(tags)  # the same limits on SQLite and PostgreSQL (sibsim.store.checks)


def parquet_bytes(df: pd.DataFrame, *, index: bool | None = False) -> bytes:
    """``df`` as zstd-compressed Parquet (the ``BLOB_FORMAT``)."""
    import pyarrow as pa

    sink = pa.BufferOutputStream()
    df.to_parquet(sink, engine="pyarrow", compression="zstd", index=index)
    return sink.getvalue().to_pybytes()


def read_parquet_bytes(data: bytes) -> pd.DataFrame:
    """The DataFrame of :func:`parquet_bytes`, as ``pandas.read_parquet`` reads it from a file."""
    import pyarrow as pa

    # Read from memory Arrow owns, never from a Python object (io.BytesIO, or bytes wrapped in
    # a PyBuffer): Arrow may drop its last reference to the source on one of its worker threads
    # after the read has returned, and releasing a Python object there needs the GIL -- at
    # interpreter exit that aborts the process ("terminate called without an active
    # exception", apache/arrow#34314), now and then, after the command has done its work.
    sink = pa.BufferOutputStream()
    sink.write(data)
    return pd.read_parquet(pa.BufferReader(sink.getvalue()), engine="pyarrow")


def _encode_per_trial(arrays: dict[str, np.ndarray]) -> bytes:
    return parquet_bytes(pd.DataFrame(arrays))


def _decode_per_trial(fmt: str, data: bytes) -> pd.DataFrame:
    if fmt != BLOB_FORMAT:
        raise UsageError(f"per-trial blob format {fmt!r} is not known to this sibsim; upgrade sibsim")
    df = read_parquet_bytes(data)
    df.index.name = "trial"

    def name(col):  # format 1 blobs: pbr.provider_min_cash -> pbr:provider_min_cash
        model, rest = outputs.split_format1(col)
        return col if model is None else outputs.column(model, rest)

    return df.rename(columns=name)


def _own_model(canonical_json: str) -> str:
    import json

    try:
        return (json.loads(canonical_json).get("finance") or {}).get("model") or "sib"
    except (ValueError, AttributeError):
        return "sib"


def upgrade_record(rec: dict) -> dict:
    """A run record in format 2, whatever format it was saved in.

    Format 1 kept other models' summaries under prefixes in ``metrics`` and
    ``probabilities`` and reported every model's investor outputs (zeros
    where there were no investors): they move to ``models``, and outputs a
    model does not have are dropped (absent, not zero).
    """
    if int(rec.get("format") or 1) >= 2 and rec.get("models") is not None:
        return rec
    own = _own_model(rec["scenario"]["canonical_json"])
    top = {"metrics": {}, "probabilities": {}}
    models: dict[str, dict] = {own: {"metrics": {}, "probabilities": {}}}
    for group in ("metrics", "probabilities"):
        for k, v in (rec.get(group) or {}).items():
            model, name = outputs.split_format1(k)
            found = outputs.match(name)
            if model is None:
                top[group][k] = v
                if found is not None and found[0].scope == "model":
                    model = own
            if model is not None:
                if found is not None and not outputs.exists_for(name, model):
                    if model == own:
                        top[group].pop(k, None)
                    continue
                models.setdefault(model, {"metrics": {}, "probabilities": {}})[group][name] = v
    return {**rec, **top, "format": 2, "models": models, "finance_models": list(models)}


def save_run(engine: Engine, record: dict, per_trial: dict, *, tags=(), note: str = "") -> int:
    """Store a run with its per-trial metrics; returns its id."""
    arrays = _check_record(record, per_trial)
    sc = record["scenario"]
    tags = check_save(name=sc["name"], scenario_hash=str(sc["hash"]), seed=record["seed"], trials=record["trials"],
                      tags=tags, note=note)

    def _save(session: Session) -> int:
        run = Run(name=str(sc["name"]), scenario_hash=str(sc["hash"]), scenario_json=str(sc["canonical_json"]),
                  seed=str(int(record["seed"])), trials=int(record["trials"]), versions=dict(record["versions"]),
                  created=datetime.now(timezone.utc), note=str(note or ""), metrics=record["metrics"],
                  probabilities=record["probabilities"], timing=record["timing"],
                  format=int(record.get("format", 1)), finance_models=record.get("finance_models"),
                  models=record.get("models"))
        session.add(run)
        session.flush()
        session.add_all(RunTag(run_id=run.id, tag=t) for t in tags)
        # encoded inside the transaction: if this fails, the row above goes too
        session.add(RunPerTrial(run_id=run.id, format=BLOB_FORMAT, data=_encode_per_trial(arrays)))
        return run.id

    return in_transaction(engine, _save)


def _summary(run: Run) -> dict:
    # SQLite keeps no offset (we store UTC); PostgreSQL answers in the session's zone
    created = run.created.replace(tzinfo=timezone.utc) if run.created.tzinfo is None else run.created
    created = created.astimezone(timezone.utc)
    return {"id": run.id, "name": run.name, "scenario_hash": run.scenario_hash, "seed": int(run.seed),
            "trials": run.trials, "tags": [t.tag for t in run.tags], "note": run.note, "created": created}


def _get(session: Session, run_id: int, engine: Engine) -> Run:
    run = session.get(Run, int(run_id), options=[selectinload(Run.tags)])
    if run is None:
        raise UsageError(f"no run with id {run_id} in {engine.url.render_as_string(hide_password=True)}")
    return run


def list_runs(engine: Engine, *, tag: str | None = None, name: str | None = None) -> list[dict]:
    """Runs, oldest first, without metrics: id, name, scenario_hash, seed, trials, tags, note, created."""
    q = select(Run).options(selectinload(Run.tags)).order_by(Run.id)
    if tag is not None:
        q = q.where(Run.id.in_(select(RunTag.run_id).where(RunTag.tag == str(tag).strip())))
    if name is not None:
        q = q.where(Run.name == name)
    with reading(engine, "runs", None):
        return in_transaction(engine, lambda s: [_summary(r) for r in s.scalars(q)], write=False)


def get_run(engine: Engine, run_id: int) -> dict:
    """A run's provenance, summaries and scenario, in the shape it was saved in
    (plus id, name, scenario_hash, tags, note, created)."""

    def _read(session: Session) -> dict:
        run = _get(session, run_id, engine)
        out = _summary(run)
        out.update(scenario={"name": run.name, "hash": run.scenario_hash, "canonical_json": run.scenario_json},
                   versions=run.versions, metrics=run.metrics, probabilities=run.probabilities, timing=run.timing,
                   format=run.format or 1, finance_models=run.finance_models, models=run.models)
        return upgrade_record(out)

    with reading(engine, "runs", run_id):
        return in_transaction(engine, _read, write=False)


def get_per_trial(engine: Engine, run_id: int) -> pd.DataFrame:
    """Per-trial metrics of a run: one column per metric, one row per trial."""

    def _read(session: Session):
        _get(session, run_id, engine)
        blob = session.get(RunPerTrial, int(run_id))
        return None if blob is None else (blob.format, blob.data)

    got = in_transaction(engine, _read, write=False)
    with reading(engine, "runs", run_id, blob=True):
        return pd.DataFrame(index=pd.RangeIndex(0, name="trial")) if got is None else _decode_per_trial(*got)


def add_tags(engine: Engine, run_id: int, tags) -> list[str]:
    """Add tags (existing ones are kept); returns the run's tags."""
    tags = _clean_tags(tags)

    def _tag(session: Session) -> list[str]:
        run = _get(session, run_id, engine)
        have = {t.tag for t in run.tags}
        session.add_all(RunTag(run_id=run.id, tag=t) for t in tags if t not in have)
        return sorted(have | set(tags))

    return in_transaction(engine, _tag)


def remove_tags(engine: Engine, run_id: int, tags) -> list[str]:
    """Remove tags (absent ones are ignored); returns the run's tags."""
    tags = _clean_tags(tags)

    def _untag(session: Session) -> list[str]:
        run = _get(session, run_id, engine)
        session.execute(delete(RunTag).where(RunTag.run_id == run.id, RunTag.tag.in_(tags)))
        return sorted({t.tag for t in run.tags} - set(tags))

    return in_transaction(engine, _untag)


def set_note(engine: Engine, run_id: int, note: str) -> None:
    check_text("note", str(note or ""))

    def _note(session: Session) -> None:
        _get(session, run_id, engine).note = str(note or "")

    in_transaction(engine, _note)


def delete_run(engine: Engine, run_id: int) -> None:
    """Delete a run with its tags and per-trial metrics."""

    def _delete(session: Session) -> None:
        run = _get(session, run_id, engine)
        session.execute(delete(RunTag).where(RunTag.run_id == run.id))
        session.execute(delete(RunPerTrial).where(RunPerTrial.run_id == run.id))
        session.execute(delete(Run).where(Run.id == run.id))

    in_transaction(engine, _delete)


def count_rows(engine: Engine) -> dict[str, int]:
    """Rows in each run table (for checks that nothing was left behind)."""
    return in_transaction(engine, lambda s: {m.__tablename__: s.scalar(select(func.count()).select_from(m))
                                             for m in (Run, RunTag, RunPerTrial)}, write=False)


def _same(a, b) -> bool:
    """Exact equality of nested records, NaN equal to NaN (and to None, as JSON writes it)."""
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    nan_a = a is None or (isinstance(a, float) and math.isnan(a))
    nan_b = b is None or (isinstance(b, float) and math.isnan(b))
    if nan_a or nan_b:
        return nan_a and nan_b
    return a == b


def differences(rec: dict, new: dict) -> list[str]:
    """Every stored output (shared, each model's, each probability) that ``new`` (a regenerated record) does
    not reproduce exactly, or that one of them lacks; a model run by one and not the other counts too.
    Names: ``commissioner_cost``, ``P(insolvency)``, ``pbr:provider_min_cash``, ``model fee``."""
    differ = [m for m in rec["metrics"].keys() | new["metrics"].keys()
              if not _same(rec["metrics"].get(m, "absent"), new["metrics"].get(m, "absent"))]
    differ += [f"P({k})" for k in rec["probabilities"].keys() | new["probabilities"].keys()
               if not _same(rec["probabilities"].get(k, "absent"), new["probabilities"].get(k, "absent"))]
    old_models, new_models = rec.get("models") or {}, new.get("models") or {}
    for model in old_models.keys() | new_models.keys():
        a, b = old_models.get(model), new_models.get(model)
        if a is None or b is None:
            differ.append(f"model {model}")
            continue
        for group in ("metrics", "probabilities"):
            differ += [outputs.column(model, k) for k in a[group].keys() | b[group].keys()
                       if not _same(a[group].get(k, "absent"), b[group].get(k, "absent"))]
    return sorted(differ)
