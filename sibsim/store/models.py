"""The evidence base schema (SQLAlchemy 2 declarative).

Runs keep their provenance (STYLE convention 9): scenario canonical JSON and
hash, seed, trials, library versions and creation time, so that a stored run
can be regenerated exactly. Summaries are JSON; per-trial metrics are one
compressed Parquet blob per run, kept in a table of their own so that listing
runs never reads them. Sweeps keep the same provenance, their design (the
points and how they were made) and their results table, likewise one Parquet
blob in a table of its own.

The schema is created and changed only by the Alembic migrations in
``sibsim/store/migrations``; ``tests/test_store.py`` checks that the migrated
database matches these models.
"""

from __future__ import annotations

import json
import math
from datetime import datetime

from sqlalchemy import (
    Column, Date, DateTime, Float, ForeignKey, Integer, LargeBinary, MetaData, String, Table, Text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship
from sqlalchemy.types import TypeDecorator

from .. import indigo

_NONFINITE = {"NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf}


def _encode(value):
    if isinstance(value, float) and not math.isfinite(value):
        return "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")
    if isinstance(value, dict):
        return {str(k): _encode(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_encode(v) for v in value]
    if hasattr(value, "item"):  # numpy scalars
        return _encode(value.item())
    return value


def _decode(value):
    if isinstance(value, str) and value in _NONFINITE:
        return _NONFINITE[value]
    if isinstance(value, dict):
        return {k: _decode(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_decode(v) for v in value]
    return value


class JSONText(TypeDecorator):
    """JSON kept as text, identical on SQLite and PostgreSQL.

    Strict JSON has no NaN or infinity (PostgreSQL rejects them), yet a metric
    summary may hold NaN (an IRR undefined in every trial); those are written
    as the strings ``"NaN"``, ``"Infinity"``, ``"-Infinity"`` and read back as
    floats.
    """

    impl = Text
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        return json.dumps(_encode(value), sort_keys=True, allow_nan=False, separators=(",", ":"))

    def process_result_value(self, value, dialect):
        return None if value is None else _decode(json.loads(value))


NAMING = {"ix": "ix_%(column_0_label)s", "uq": "uq_%(table_name)s_%(column_0_name)s",
          "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s", "pk": "pk_%(table_name)s"}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class Run(Base):
    __tablename__ = "runs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(200), index=True)
    scenario_hash: Mapped[str] = mapped_column(String(128), index=True)
    scenario_json: Mapped[str] = mapped_column(Text)
    # decimal text: a SeedSequence entropy may exceed 64 bits
    seed: Mapped[str] = mapped_column(String(80))
    trials: Mapped[int] = mapped_column(Integer)
    versions: Mapped[dict] = mapped_column(JSONText)
    created: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    note: Mapped[str] = mapped_column(Text, default="")
    metrics: Mapped[dict] = mapped_column(JSONText)
    probabilities: Mapped[dict] = mapped_column(JSONText)
    timing: Mapped[dict] = mapped_column(JSONText)
    # the run record's format (1: other models' metrics under prefixes in ``metrics``; 2: in ``models``)
    format: Mapped[int] = mapped_column(Integer, server_default="1")
    finance_models: Mapped[list | None] = mapped_column(JSONText, nullable=True)  # the scenario's own first
    models: Mapped[dict | None] = mapped_column(JSONText, nullable=True)  # {name: {metrics, probabilities}}

    tags: Mapped[list[RunTag]] = relationship(back_populates="run", cascade="all, delete-orphan",
                                              passive_deletes=True, order_by="RunTag.tag")
    per_trial: Mapped[RunPerTrial | None] = relationship(back_populates="run", cascade="all, delete-orphan",
                                                         passive_deletes=True)


class RunTag(Base):
    __tablename__ = "run_tags"

    run_id: Mapped[int] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"), primary_key=True)
    tag: Mapped[str] = mapped_column(String(100), primary_key=True, index=True)
    run: Mapped[Run] = relationship(back_populates="tags")


class RunPerTrial(Base):
    """Per-trial metrics of one run: ``{metric: (trials,) array}`` as one blob."""

    __tablename__ = "run_per_trial"

    run_id: Mapped[int] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"), primary_key=True)
    format: Mapped[str] = mapped_column(String(40))  # "parquet-zstd"
    data: Mapped[bytes] = mapped_column(LargeBinary)
    run: Mapped[Run] = relationship(back_populates="per_trial")


class Sweep(Base):
    """A saved sweep: its provenance and design; its results table is in ``sweep_results``."""

    __tablename__ = "sweeps"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(200), index=True)
    scenario_hash: Mapped[str] = mapped_column(String(128), index=True)
    scenario_json: Mapped[str] = mapped_column(Text)
    seed: Mapped[str] = mapped_column(String(80))  # decimal text, as for runs
    trials: Mapped[int] = mapped_column(Integer)
    # how the points were made: {"method": "grid", "values": {...}} | {"method": "lhs", "n", "ranges", "seed"}
    # | {"method": "points"}; the points themselves (a list of {name: value}) in ``points``
    design: Mapped[dict] = mapped_column(JSONText)
    points: Mapped[list] = mapped_column(JSONText, deferred=True)
    inputs: Mapped[list] = mapped_column(JSONText)  # the names the points set, in column order
    rows: Mapped[int] = mapped_column(Integer)  # rows of the results table (distinct points)
    versions: Mapped[dict] = mapped_column(JSONText)
    created: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    note: Mapped[str] = mapped_column(Text, default="")

    tags: Mapped[list[SweepTag]] = relationship(back_populates="sweep", cascade="all, delete-orphan",
                                                passive_deletes=True, order_by="SweepTag.tag")
    results: Mapped[SweepResults | None] = relationship(back_populates="sweep", cascade="all, delete-orphan",
                                                        passive_deletes=True)


class SweepTag(Base):
    __tablename__ = "sweep_tags"

    sweep_id: Mapped[int] = mapped_column(ForeignKey("sweeps.id", ondelete="CASCADE"), primary_key=True)
    tag: Mapped[str] = mapped_column(String(100), primary_key=True, index=True)
    sweep: Mapped[Sweep] = relationship(back_populates="tags")


class SweepResults(Base):
    """A sweep's results table (one row per point) as one blob."""

    __tablename__ = "sweep_results"

    sweep_id: Mapped[int] = mapped_column(ForeignKey("sweeps.id", ondelete="CASCADE"), primary_key=True)
    format: Mapped[str] = mapped_column(String(40))  # "parquet-zstd"
    data: Mapped[bytes] = mapped_column(LargeBinary)
    sweep: Mapped[Sweep] = relationship(back_populates="results")


class RefImport(Base):
    """One row per INDIGO import; the latest describes the reference tables' contents."""

    __tablename__ = "ref_imports"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    imported: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    source: Mapped[str] = mapped_column(Text)
    report: Mapped[dict] = mapped_column(JSONText)


_SQL_TYPES = {"str": Text, "float": Float, "int": Integer, "date": Date}

# The INDIGO tidy tables, one SQL table each with the columns of indigo.COLUMNS
# and a surrogate key (rate cards and payments have no natural one).
REFERENCE_TABLES: dict[str, Table] = {
    name: Table(f"ref_{name}", Base.metadata,
                Column("id", Integer, primary_key=True, autoincrement=True),
                *[Column(col, _SQL_TYPES[kind](), index=(col == "project_id")) for col, kind in cols.items()])
    for name, cols in indigo.COLUMNS.items()
}


from . import observations as _observations  # noqa: E402,F401  (observation sets: their table is part of the schema)
