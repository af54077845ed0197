"""INDIGO reference tables in the evidence base: import and queries.

``import_indigo`` replaces the contents of the ``ref_*`` tables in one
transaction, from a CSV export of INDIGO or from a tidy snapshot (by default
the one shipped with sibsim), and records the import's report in
``ref_imports``. ``ensure_indigo`` loads the shipped snapshot into an evidence
base whose reference tables are empty (a new one), so that the app and
notebooks find INDIGO there from the start. The queries return the tidy
DataFrames of ``sibsim.indigo``, with the same columns and dtypes as a fresh
parse.
"""

from __future__ import annotations

from datetime import datetime, timezone
from functools import lru_cache

import pandas as pd
from sqlalchemy import Engine, delete, func, insert, select, text
from sqlalchemy.orm import Session

from .. import indigo
from ..errors import UsageError
from .db import PG_LOCK_KEY, in_transaction
from .models import REFERENCE_TABLES, RefImport


def _records(df: pd.DataFrame, table: str) -> list[dict]:
    out = df.astype(object).where(df.notna(), None)
    for col, kind in indigo.COLUMNS[table].items():
        if kind == "date":
            out[col] = [v.date() if v is not None else None for v in out[col]]
        elif kind == "int":
            out[col] = [int(v) if v is not None else None for v in out[col]]
        elif kind == "float":
            out[col] = [float(v) if v is not None else None for v in out[col]]
    return out.to_dict("records")


MAX_SHRINK = 0.10  # an import may hold at most 10% fewer projects than the reference data it replaces


def check_shrink(before: int, after: int, *, source, replace: bool = False) -> None:
    """Refuse (UsageError) an import that would leave more than :data:`MAX_SHRINK` fewer projects than the
    ``before`` already stored, unless ``replace``: a folder of header-only CSVs must not wipe the reference data."""
    if replace or before == 0 or after >= before * (1 - MAX_SHRINK):
        return
    raise UsageError(f"import-indigo {source}: would replace the {before:,} reference projects with {after:,} "
                     f"(more than {MAX_SHRINK:.0%} fewer); the reference data is unchanged. Check the folder, or "
                     "give --replace to import it anyway (the previous data is kept as a snapshot)")


def previous_snapshot(engine: Engine) -> indigo.IndigoTables | None:
    """The reference data stored now, as tidy tables with its import report (None when there is none)."""
    last = latest_import(engine)
    if last is None:
        return None
    frames = {name: reference_table(engine, name) for name in REFERENCE_TABLES}
    return indigo.IndigoTables(**frames, report=last["report"])


def import_indigo(engine: Engine, src_dir=None, *, replace: bool = False) -> indigo.ImportReport:
    """Load INDIGO into the reference tables, replacing what was there.

    ``src_dir``: the INDIGO CSV export, or a snapshot directory; None for the
    snapshot shipped with sibsim. Returns the report of what was parsed and
    skipped. An import with more than :data:`MAX_SHRINK` fewer projects than
    those stored is refused unless ``replace`` (:func:`check_shrink`; checked
    again under the write lock).
    """
    data = indigo.load(src_dir)

    def _replace(session: Session) -> None:
        before = session.scalar(select(func.count()).select_from(REFERENCE_TABLES["projects"])) or 0
        check_shrink(before, len(data.tables["projects"]), source=src_dir or "(the shipped snapshot)",
                     replace=replace)
        _store(session, {name: _records(data.tables[name], name) for name in REFERENCE_TABLES},
               source=data.report.source or str(src_dir), report=data.report.to_dict())

    in_transaction(engine, _replace)
    return data.report


def _store(session: Session, rows: dict[str, list[dict]], *, source: str, report: dict) -> None:
    for name, table in REFERENCE_TABLES.items():
        session.execute(delete(table))
        if rows[name]:
            session.execute(insert(table), rows[name])
    session.add(RefImport(imported=datetime.now(timezone.utc), source=source, report=report))


@lru_cache(maxsize=1)
def _shipped_snapshot() -> tuple[dict[str, list[dict]], indigo.ImportReport]:
    """The shipped snapshot as rows ready to insert, parsed once per process
    (most of an import's time; tests and the app open many new stores)."""
    data = indigo.load_snapshot()
    return {name: _records(data.tables[name], name) for name in REFERENCE_TABLES}, data.report


def _has_reference(session: Session) -> bool:
    return session.scalar(select(func.count()).select_from(REFERENCE_TABLES["projects"])) > 0


def ensure_indigo(engine: Engine) -> indigo.ImportReport | None:
    """Load the shipped INDIGO snapshot if the reference tables are empty.

    Returns the import report, or None when there was reference data already.
    Safe when several processes open a new evidence base at once: the check is
    repeated under the write lock (SQLite ``BEGIN IMMEDIATE``, a PostgreSQL
    advisory lock), so exactly one of them loads the snapshot.
    """
    if in_transaction(engine, _has_reference, write=False):
        return None
    rows, report = _shipped_snapshot()

    def _fill(session: Session) -> bool:
        if engine.dialect.name == "postgresql":
            session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": PG_LOCK_KEY})
        if _has_reference(session):
            return False
        _store(session, rows, source=f"{report.source} (loaded automatically into an empty evidence base)",
               report=report.to_dict())
        return True

    return report if in_transaction(engine, _fill) else None


def reference_table(engine: Engine, name: str) -> pd.DataFrame:
    """One tidy INDIGO table (``projects``, ``rate_cards``, ``investments``,
    ``outcome_payments``, ``results``) as stored."""
    if name not in REFERENCE_TABLES:
        raise UsageError(f"reference table {name!r} unknown; allowed: {', '.join(REFERENCE_TABLES)}")
    table = REFERENCE_TABLES[name]
    cols = list(indigo.COLUMNS[name])

    def _read(session: Session):
        return session.execute(select(*[table.c[c] for c in cols]).order_by(table.c.id)).all()

    rows = in_transaction(engine, _read, write=False)
    if not rows and latest_import(engine) is None:
        raise UsageError(f"no INDIGO reference data in {engine.url.render_as_string(hide_password=True)}; "
                         "load it with Store.import_indigo()")
    return indigo.conform(pd.DataFrame([tuple(r) for r in rows], columns=cols), name)


def latest_import(engine: Engine) -> dict | None:
    """When and from where the reference tables were loaded, with the import report."""

    def _read(session: Session):
        row = session.scalars(select(RefImport).order_by(RefImport.id.desc()).limit(1)).first()
        if row is None:
            return None
        imported = row.imported if row.imported.tzinfo else row.imported.replace(tzinfo=timezone.utc)
        imported = imported.astimezone(timezone.utc)
        return {"imported": imported, "source": row.source,
                "report": indigo.ImportReport.from_dict(row.report)}

    return in_transaction(engine, _read, write=False)
