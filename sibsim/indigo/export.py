"""Reading the INDIGO CSV export (one file per data type) into the tidy tables.

:func:`read_export` builds ``projects`` (see :mod:`sibsim.indigo.projects`)
and these, dropping rows whose project is not in ``projects.csv``:

- ``rate_cards``: one row per priced outcome metric.
- ``investments``: one row per investor commitment.
- ``outcome_payments``: actual payments and the *latest* payment plan only;
  revised plans restate the same payments, so summing across plans would
  double count.
- ``results``: reported results per outcome metric.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import UsageError
from .columns import _col, _dates, _num, _read, _text, _usd
from .parse import normalise_currency, parse_date
from .projects import _add_prices, _projects
from .tables import TABLES, ImportReport, IndigoTables, conform


def _rate_cards(src: Path, rep: ImportReport, sectors: pd.Series) -> pd.DataFrame:
    t = "rate_cards"
    raw = _read(src, "projects_outcome_pricings.csv", rep, t)
    metrics = _read(src, "projects_outcome_metrics.csv", rep, "outcome_metrics")
    metrics = metrics.rename(columns={"Project ID": "project_id", "Id": "outcome_metric_id"})
    dup = metrics.duplicated(["project_id", "outcome_metric_id"])
    if dup.any():
        rep.skipped_rows[("outcome_metrics", "duplicate metric id (first definition used)")] += int(dup.sum())
    metrics = metrics[~dup & metrics["outcome_metric_id"].notna()]
    df = pd.DataFrame({"project_id": _text(raw["Project ID"]),
                       "outcome_metric_id": _text(_col(raw, "Outcome Metric Id")),
                       "currency": _col(raw, "Currency").map(normalise_currency)})
    local = df["price_per_outcome_local"] = _num(raw, "Price Per Unit - Amount", rep, t, "price_per_outcome_local")
    usd = _num(raw, "Price Per Unit - Amount USD", rep, t, "price_per_outcome_usd")
    df["price_per_outcome_usd"] = _usd(local, usd, df["currency"], rep, t, "price_per_outcome_usd")
    df["max_price_local"] = _num(raw, "Maximum Price if all targets achieved - Amount", rep, t, "max_price_local")
    m = metrics.set_index(["project_id", "outcome_metric_id"])
    key = pd.MultiIndex.from_frame(df[["project_id", "outcome_metric_id"]])
    definition = _col(m, "Outcome Definition").reindex(key)
    df["outcome_definition"] = [d.replace("\u00a0", " ").strip().splitlines()[0][:200]
                                if isinstance(d, str) and d.strip() else None for d in definition]
    sector = _text(_col(m, "Policy sector")).reindex(key).to_numpy()
    df["sector"] = np.where(pd.isna(sector), df["project_id"].map(sectors), sector)
    keep = df["price_per_outcome_local"].notna()
    rep.skipped_rows[(t, "no price")] += int((~keep).sum())
    return df[keep].reset_index(drop=True)


def _investments(src: Path, rep: ImportReport) -> pd.DataFrame:
    t = "investments"
    raw = _read(src, "projects_investments.csv", rep, t)
    ic = "Investment Commitment - "
    df = pd.DataFrame({"project_id": _text(raw["Project ID"]), "investment_id": _text(raw["Id"]),
                       "organisation_id": _text(_col(raw, "Organisation ID")),
                       "investor_type": _text(_col(raw, "Organisation Role Category")),
                       "investment_type": _text(_col(raw, "Investment Type")),
                       "currency": _col(raw, ic + "Currency").map(normalise_currency),
                       "max_potential_loss": _text(_col(raw, "Maximum Potential loss")),
                       "max_potential_return": _text(_col(raw, "Maximum Potential Return"))})
    df["amount_local"] = _num(raw, ic + "Amount - Exact", rep, t, "amount_local")
    df["amount_min_local"] = _num(raw, ic + "Amount - Min", rep, t, "amount_min_local")
    df["amount_max_local"] = _num(raw, ic + "Amount - Max", rep, t, "amount_max_local")
    usd = _num(raw, ic + "Amount USD - Exact", rep, t, "amount_usd")
    df["amount_usd"] = _usd(df["amount_local"], usd, df["currency"], rep, t, "amount_usd")
    return conform(df, t)


def _outcome_payments(src: Path, rep: ImportReport) -> pd.DataFrame:
    t = "outcome_payments"
    raw = _read(src, "projects_outcome_payments.csv", rep, t)
    plans = _read(src, "projects_outcome_payment_plans.csv", rep, "outcome_payment_plans")
    df = pd.DataFrame({"project_id": _text(raw["Project ID"]),
                       "plan_id": _text(_col(raw, "Outcome Payment Plan Id")).str.lower(),
                       "outcome_metric_id": _text(_col(raw, "Outcome Metric Id")),
                       "payer_ids": _text(_col(raw, "Payer Organisation ID")).str.replace(r"\s+", "", regex=True),
                       "type": _text(_col(raw, "Type")).str.lower(),
                       "currency": _col(raw, "Payments - Currency").map(normalise_currency)})
    df["period_start"] = _dates(_col(raw, "Period - Start"), rep, t, "period_start")
    df["period_end"] = _dates(_col(raw, "Period - End"), rep, t, "period_end")
    df["amount_local"] = _num(raw, "Payments - Amount", rep, t, "amount_local")
    usd = _num(raw, "Payments - Amount USD", rep, t, "amount_usd")
    df["amount_usd"] = _usd(df["amount_local"], usd, df["currency"], rep, t, "amount_usd")
    # latest plan: latest start in the plans table, then the highest plan number
    order = pd.DataFrame({"project_id": _text(plans["Project ID"]),
                          "plan_id": _text(_col(plans, "Outcome Payment Plan Id")).str.lower(),
                          "start": [parse_date(v)[0] for v in _col(plans, "Period - Start")]})
    both = pd.concat([order, df[["project_id", "plan_id"]].dropna().drop_duplicates()], ignore_index=True)
    both["number"] = both["plan_id"].str.extract(r"(\d+)$", expand=False).astype(float)
    both = both.sort_values(["project_id", "start", "number"], na_position="first")
    latest = both.groupby("project_id")["plan_id"].last()
    superseded = df["plan_id"].notna() & (df["plan_id"] != df["project_id"].map(latest))
    rep.skipped_rows[(t, "superseded payment plan version")] += int(superseded.sum())
    return conform(df[~superseded], t)


def _results(src: Path, rep: ImportReport) -> pd.DataFrame:
    t = "results"
    raw = _read(src, "projects_results.csv", rep, t)
    df = pd.DataFrame({"project_id": _text(raw["Project ID"]),
                       "outcome_metric_id": _text(_col(raw, "Outcome Metric Id")),
                       "level": _text(_col(raw, "Result level")).str.replace(" level", "").str.lower(),
                       "result_type": _text(_col(raw, "Result type")).str.lower()})
    df["period_start"] = _dates(_col(raw, "Period - Start"), rep, t, "period_start")
    df["period_end"] = _dates(_col(raw, "Period - End"), rep, t, "period_end")
    df["outcomes_achieved"] = _num(raw, "Outcomes achieved", rep, t, "outcomes_achieved")
    df["number_engaged"] = _num(raw, "Number engaged In impact bond", rep, t, "number_engaged")
    df["number_positive"] = _num(raw, "Number with Positive social outcomes", rep, t, "number_positive")
    return conform(df, t)


def projects_dir(src_dir) -> Path | None:
    """Where an export's ``projects*.csv`` files are: ``src_dir`` itself (the flat layout) or its
    ``projects/`` sub-folder (newer exports split ``funds/``, ``organisations/`` and ``projects/``);
    None if neither holds ``projects_outcome_pricings.csv``."""
    src = Path(src_dir)
    for d in (src, src / "projects"):
        if (d / "projects_outcome_pricings.csv").is_file():
            return d
    return None


def read_export(src_dir) -> IndigoTables:
    """Parse the INDIGO CSV export in ``src_dir`` (flat, or split into sub-folders) into tidy tables."""
    src = Path(src_dir)
    if not src.is_dir():
        raise UsageError(f"INDIGO export: {src} is not a directory")
    rep = ImportReport(source=str(src))
    src = projects_dir(src) or src  # only the projects tables are read
    raw = _read(src, "projects.csv", rep, "projects")
    dup = raw["ID"].duplicated() | raw["ID"].isna()
    rep.skipped_rows[("projects", "missing or duplicate project id")] += int(dup.sum())
    raw = raw[~dup].reset_index(drop=True)
    sectors = pd.Series(_text(_col(raw, "Purpose and classifications - Policy sector")).to_numpy(), index=raw["ID"])
    projects, rate_cards = _add_prices(_projects(src, rep, raw), _rate_cards(src, rep, sectors), rep)
    tables = {"projects": projects, "rate_cards": rate_cards,
              "investments": _investments(src, rep), "outcome_payments": _outcome_payments(src, rep),
              "results": _results(src, rep)}
    known = set(tables["projects"]["project_id"])
    for name in TABLES[1:]:
        orphan = ~tables[name]["project_id"].isin(known).to_numpy(dtype=bool)
        if orphan.any():
            rep.skipped_rows[(name, "project not in projects.csv")] += int(orphan.sum())
            tables[name] = tables[name][~orphan].reset_index(drop=True)
    rep.skipped_rows = Counter({k: n for k, n in rep.skipped_rows.items() if n})
    rep.filled = Counter({k: n for k, n in rep.filled.items() if n})
    for name, df in tables.items():
        rep.rows_kept[name] = len(df)
    return IndigoTables(**tables, report=rep)
