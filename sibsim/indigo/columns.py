"""Finding, cleaning and parsing columns of the export, counting what cannot be read.

Headers are ``Section - Field - (Value)``; :func:`_col` finds a field with or
without the ``- (Value)`` suffix. Every cell that cannot be read confidently
is left NaN and counted in the :class:`~sibsim.indigo.tables.ImportReport`.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from ..errors import UsageError
from .parse import parse_date, parse_number
from .tables import ImportReport

_V = " - (Value)"


def _read(src: Path, name: str, rep: ImportReport, table: str) -> pd.DataFrame:
    path = src / name
    if not path.is_file():
        raise UsageError(f"INDIGO export {src}: {name} not found (expected the CSV export, one file per data type)")
    df = pd.read_csv(path, dtype=object, keep_default_na=False, na_values=[""])
    df.columns = [c.strip() for c in df.columns]
    rep.rows_read[table] = rep.rows_read.get(table, 0) + len(df)
    return df


def _col(df: pd.DataFrame, name: str) -> pd.Series:
    if name in df.columns:
        return df[name]
    if name + _V in df.columns:
        return df[name + _V]
    raise UsageError(f"INDIGO export: column {name!r} not found; the export format may have changed")


def _text(s: pd.Series) -> pd.Series:
    return s.map(lambda v: v.replace("\u00a0", " ").strip() if isinstance(v, str) and v.strip() else None)


def _numbers(s: pd.Series, rep: ImportReport, table: str, name: str) -> tuple[pd.Series, pd.Series]:
    """Parse a column with :func:`parse_number`; returns ``(values, currency hints)``."""
    parsed = [parse_number(v) for v in s]
    for raw, p in zip(s, parsed):
        if p.reason:
            rep.skip_field(table, name, p.reason, raw)
    return (pd.Series([p.value for p in parsed], index=s.index, dtype=float),
            pd.Series([p.currency for p in parsed], index=s.index, dtype=object))


def _num(raw: pd.DataFrame, header: str, rep: ImportReport, table: str, name: str) -> pd.Series:
    return _numbers(_col(raw, header), rep, table, name)[0]


def _dates(s: pd.Series, rep: ImportReport, table: str, name: str) -> pd.Series:
    out = []
    for raw in s:
        ts, reason = parse_date(raw)
        if reason:
            rep.skip_field(table, name, reason, raw)
        out.append(ts)
    return pd.Series(out, index=s.index, dtype="datetime64[ns]")


def _usd(local: pd.Series, usd: pd.Series, currency: pd.Series, rep: ImportReport, table: str, name: str):
    """USD as given; where missing and the amount is already in USD, the amount itself."""
    fill = usd.isna() & local.notna() & (currency == "USD")
    if fill.any():
        rep.filled[(table, name, "currency is USD")] += int(fill.sum())
    return usd.where(~fill, local)
