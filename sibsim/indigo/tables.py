"""The tidy tables: their columns and dtypes, and the report of how they were read.

:data:`COLUMNS` is the schema every producer conforms to (the export reader,
the snapshot, the evidence base's ``ref_*`` tables); :class:`ImportReport`
says what an import read, kept, skipped and filled in.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

import pandas as pd

COLUMNS: dict[str, dict[str, str]] = {
    "projects": {
        "project_id": "str", "name": "str", "stage": "str", "country": "str", "countries": "str",
        "sector": "str", "start_date": "date", "end_date": "date", "end_date_kind": "str",
        "duration_years": "float", "duration_source": "str", "currency": "str",
        "capital_raised_local": "float", "capital_raised_usd": "float",
        "capital_raised_min_local": "float", "capital_raised_max_local": "float",
        "capital_raised_min_usd": "float", "capital_raised_max_usd": "float",
        "max_outcome_payments_currency": "str", "max_outcome_payments_local": "float",
        "max_outcome_payments_usd": "float", "max_outcome_payments_source": "str",
        "participants": "float", "participants_targeted": "float", "participants_engaged": "float",
        "participants_unit": "str", "rate_card_currency": "str", "rate_card_prices": "int",
        "price_per_outcome_median_local": "float", "price_per_outcome_median_usd": "float",
    },
    "rate_cards": {
        "project_id": "str", "outcome_metric_id": "str", "outcome_definition": "str",
        "sector": "str", "currency": "str", "price_per_outcome_local": "float",
        "price_per_outcome_usd": "float", "max_price_local": "float",
    },
    "investments": {
        "project_id": "str", "investment_id": "str", "organisation_id": "str", "investor_type": "str",
        "investment_type": "str", "currency": "str", "amount_local": "float", "amount_usd": "float",
        "amount_min_local": "float", "amount_max_local": "float",
        "max_potential_loss": "str", "max_potential_return": "str",
    },
    "outcome_payments": {
        "project_id": "str", "plan_id": "str", "outcome_metric_id": "str", "period_start": "date",
        "period_end": "date", "payer_ids": "str", "type": "str", "currency": "str",
        "amount_local": "float", "amount_usd": "float",
    },
    "results": {
        "project_id": "str", "outcome_metric_id": "str", "level": "str", "result_type": "str",
        "period_start": "date", "period_end": "date", "outcomes_achieved": "float",
        "number_engaged": "float", "number_positive": "float",
    },
}
TABLES = tuple(COLUMNS)


@dataclass
class ImportReport:
    """What an import read, kept, skipped and filled in, with reasons.

    ``skipped_fields[(table, field, reason)]`` counts non-blank cells that could
    not be read confidently (left NaN); ``skipped_rows[(table, reason)]`` counts
    rows dropped; ``filled[(table, field, how)]`` counts values derived rather
    than read (a USD amount equal to the local one when the currency is USD).
    """

    source: str = ""
    rows_read: dict = field(default_factory=dict)
    rows_kept: dict = field(default_factory=dict)
    skipped_rows: Counter = field(default_factory=Counter)
    skipped_fields: Counter = field(default_factory=Counter)
    filled: Counter = field(default_factory=Counter)
    examples: dict = field(default_factory=dict)

    def skip_field(self, table: str, name: str, reason: str, raw=None, n: int = 1) -> None:
        key = (table, name, reason)
        self.skipped_fields[key] += n
        if raw is not None and len(self.examples.setdefault(key, [])) < 3:
            self.examples[key].append(str(raw)[:80])

    def to_frame(self) -> pd.DataFrame:
        """One row per (kind, table, field, reason) with its count and examples."""
        rows = [("row skipped", t, "", r, n, "") for (t, r), n in self.skipped_rows.items()]
        rows += [("field skipped", t, f, r, n, " | ".join(self.examples.get((t, f, r), [])))
                 for (t, f, r), n in self.skipped_fields.items()]
        rows += [("filled", t, f, how, n, "") for (t, f, how), n in self.filled.items()]
        return pd.DataFrame(rows, columns=["kind", "table", "field", "reason", "count", "examples"])

    def to_dict(self) -> dict:
        return {
            "source": self.source, "rows_read": self.rows_read, "rows_kept": self.rows_kept,
            "skipped_rows": [[*k, n] for k, n in sorted(self.skipped_rows.items())],
            "skipped_fields": [[*k, n, self.examples.get(k, [])] for k, n in sorted(self.skipped_fields.items())],
            "filled": [[*k, n] for k, n in sorted(self.filled.items())],
        }

    @classmethod
    def from_dict(cls, d: dict) -> ImportReport:
        rep = cls(source=d["source"], rows_read=dict(d["rows_read"]), rows_kept=dict(d["rows_kept"]))
        for t, r, n in d["skipped_rows"]:
            rep.skipped_rows[(t, r)] = n
        for t, f, r, n, ex in d["skipped_fields"]:
            rep.skipped_fields[(t, f, r)] = n
            if ex:
                rep.examples[(t, f, r)] = list(ex)
        for t, f, how, n in d["filled"]:
            rep.filled[(t, f, how)] = n
        return rep

    def __str__(self) -> str:
        kept = ", ".join(f"{t} {n}/{self.rows_read.get(t, n)}" for t, n in self.rows_kept.items())
        aux = ", ".join(f"{t} {n}" for t, n in self.rows_read.items() if t not in self.rows_kept)
        lines = [f"INDIGO import from {self.source}", f"  rows kept/read: {kept}", f"  also read: {aux}"]
        lines += [f"  rows skipped  {t}: {r}: {n}" for (t, r), n in sorted(self.skipped_rows.items())]
        lines += [f"  field skipped {t}.{f}: {r}: {n}" for (t, f, r), n in sorted(self.skipped_fields.items())]
        return "\n".join(lines)


def conform(df: pd.DataFrame, table: str) -> pd.DataFrame:
    """``df`` with exactly the columns of ``COLUMNS[table]``, in order, with their dtypes."""
    out = pd.DataFrame(index=range(len(df)))
    for name, kind in COLUMNS[table].items():
        col = df[name].reset_index(drop=True)
        if kind == "float":
            out[name] = pd.to_numeric(col, errors="coerce").astype(float)
        elif kind == "int":
            out[name] = pd.to_numeric(col, errors="coerce").astype("Int64")
        elif kind == "date":
            out[name] = pd.to_datetime(col, errors="coerce").astype("datetime64[ns]")
        else:
            out[name] = col.astype(object).where(col.notna(), None).astype("string")
    return out


@dataclass(frozen=True)
class IndigoTables:
    """The tidy tables and the report of how they were read."""

    projects: pd.DataFrame
    rate_cards: pd.DataFrame
    investments: pd.DataFrame
    outcome_payments: pd.DataFrame
    results: pd.DataFrame
    report: ImportReport

    @property
    def tables(self) -> dict[str, pd.DataFrame]:
        return {name: getattr(self, name) for name in TABLES}


def from_frames(frames: dict[str, pd.DataFrame], report: ImportReport) -> IndigoTables:
    """Tables from plain DataFrames (a snapshot or the store), with the dtypes of :data:`COLUMNS`."""
    return IndigoTables(**{name: conform(frames[name], name) for name in TABLES}, report=report)
