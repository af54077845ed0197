"""The ``projects`` table: one row per impact bond.

Money in local currency and USD; ``duration_years`` (actual, else anticipated
duration, else from start and end dates given to the month); ``participants``
(targeted service users, else those actually engaged); the maximum outcome
payment, else the sum of the payers' commitments; the median rate-card price
per outcome.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from .columns import _V, _col, _dates, _num, _numbers, _read, _text, _usd
from .parse import _DOLLARS, normalise_currency
from .tables import ImportReport, conform

_FIN = "Overall project finance - "


def _projects(src: Path, rep: ImportReport, raw: pd.DataFrame) -> pd.DataFrame:
    t = "projects"
    df = pd.DataFrame({"project_id": _text(raw["ID"]), "name": _text(_col(raw, "Impact Bond Name")),
                       "stage": _text(_col(raw, "Stage of Development")),
                       "sector": _text(_col(raw, "Purpose and classifications - Policy sector"))})

    locations = _read(src, "projects_delivery_locations.csv", rep, "delivery_locations")
    countries = (locations.dropna(subset=["Location - Country" + _V])
                 .groupby("Project ID")["Location - Country" + _V]
                 .agg(lambda s: ";".join(sorted({c.strip().upper() for c in s}))))
    df["countries"] = df["project_id"].map(countries)
    df["country"] = df["countries"].map(lambda c: ("multi" if ";" in c else c) if isinstance(c, str) else None)

    d = "Dates - "
    df["start_date"] = _dates(_col(raw, d + "Start date of service provision"), rep, t, "start_date")
    actual_end = _dates(_col(raw, d + "Actual end date of service provision"), rep, t, "end_date")
    planned_end = _dates(_col(raw, d + "Anticipated end date of service provision"), rep, t, "end_date")
    df["end_date"] = actual_end.fillna(planned_end)
    df["end_date_kind"] = np.where(actual_end.notna(), "actual", np.where(planned_end.notna(), "anticipated", None))
    actual_m = _num(raw, d + "Actual duration of service provision", rep, t, "duration_years")
    planned_m = _num(raw, d + "Anticipated duration of service provision", rep, t, "duration_years")
    year_only = pd.Series(False, index=raw.index)
    for c in (d + "Start date of service provision", d + "Actual end date of service provision",
              d + "Anticipated end date of service provision"):
        year_only |= _col(raw, c).fillna("").str.strip().str.fullmatch(r"\d{4}")
    from_dates = ((df["end_date"].dt.year - df["start_date"].dt.year) * 12
                  + df["end_date"].dt.month - df["start_date"].dt.month)
    from_dates = from_dates.where(~year_only & (from_dates > 0))
    n_year_only = int((year_only & actual_m.isna() & planned_m.isna()
                       & df["start_date"].notna() & df["end_date"].notna()).sum())
    if n_year_only:
        rep.skip_field(t, "duration_years", "dates with year only", n=n_year_only)
    months = actual_m.fillna(planned_m).fillna(from_dates)
    df["duration_years"] = months / 12.0
    df["duration_source"] = np.select(
        [actual_m.notna(), planned_m.notna(), from_dates.notna()],
        ["actual duration", "anticipated duration", "start and end dates"], default=None)

    f = _FIN + "Total investment commitment - "
    df["currency"] = _col(raw, f + "Currency").map(normalise_currency)
    for unit, tag in (("Amount", "local"), ("Amount USD", "usd")):
        for bound, suffix in (("Exact", ""), ("Min", "_min"), ("Max", "_max")):
            name = f"capital_raised{suffix}_{tag}"
            df[name] = _num(raw, f"{f}{unit} - {bound}", rep, t, name)
    local = df["capital_raised_local"]
    range_only = local.isna() & (df["capital_raised_min_local"].notna() | df["capital_raised_max_local"].notna())
    if range_only.any():
        rep.skip_field(t, "capital_raised_local", "range only (min/max kept)", n=int(range_only.sum()))
    df["capital_raised_usd"] = _usd(local, df["capital_raised_usd"], df["currency"], rep, t, "capital_raised_usd")

    f = _FIN + "Maximum potential outcome payment - "
    cur = _col(raw, f + "Currency").map(normalise_currency)
    no_cur = cur.isna() & _col(raw, f + "Amount").notna() & df["currency"].notna()
    if no_cur.any():
        rep.filled[(t, "max_outcome_payments_currency", "capital currency")] += int(no_cur.sum())
    df["max_outcome_payments_currency"] = cur.where(~no_cur, df["currency"])
    df["max_outcome_payments_local"] = _num(raw, f + "Amount", rep, t, "max_outcome_payments_local")
    usd = _num(raw, f + "Amount USD", rep, t, "max_outcome_payments_usd")
    df["max_outcome_payments_source"] = np.where(df["max_outcome_payments_local"].notna(), "project", None)
    df = _commitments_fallback(src, rep, df, usd)

    sb = "Service and beneficiaries - "
    users = "number of unique service users or beneficiaries"
    df["participants_targeted"] = _num(raw, f"{sb}Targeted {users} (total)", rep, t, "participants_targeted")
    df["participants_engaged"] = _num(raw, f"{sb}Actual {users} engaged (total)", rep, t, "participants_engaged")
    df["participants"] = df["participants_targeted"].fillna(df["participants_engaged"])
    unit_t = _text(_col(raw, sb + "Unit type of targeted service users or beneficiaries"))
    unit_a = _text(_col(raw, sb + "Unit type of actual service users or beneficiaries engaged"))
    df["participants_unit"] = np.where(df["participants_targeted"].notna(), unit_t, unit_a)

    rate = df["capital_raised_usd"] / df["capital_raised_local"]
    same = df["max_outcome_payments_currency"] == df["currency"]
    fill = df["max_outcome_payments_usd"].isna() & df["max_outcome_payments_local"].notna() & same & rate.notna()
    df.loc[fill, "max_outcome_payments_usd"] = df["max_outcome_payments_local"] * rate
    rep.filled[(t, "max_outcome_payments_usd", "project's own USD rate (capital raised)")] += int(fill.sum())
    return df


def _add_prices(projects: pd.DataFrame, rate_cards: pd.DataFrame, rep: ImportReport):
    """Fill rate-card USD prices at the project's own USD rate, and summarise
    each project's rate card (median price per outcome)."""
    p = projects.set_index("project_id")
    rate = (p["capital_raised_usd"] / p["capital_raised_local"]).reindex(rate_cards["project_id"]).to_numpy()
    same = (p["currency"].reindex(rate_cards["project_id"]).to_numpy() == rate_cards["currency"].to_numpy())
    fill = (rate_cards["price_per_outcome_usd"].isna() & rate_cards["price_per_outcome_local"].notna()
            & same & np.isfinite(rate)).to_numpy(dtype=bool)
    rate_cards = rate_cards.copy()
    rate_cards.loc[fill, "price_per_outcome_usd"] = rate_cards.loc[fill, "price_per_outcome_local"] * rate[fill]
    rep.filled[("rate_cards", "price_per_outcome_usd", "project's own USD rate (capital raised)")] += int(fill.sum())
    prices = rate_cards.groupby("project_id").agg(
        rate_card_prices=("price_per_outcome_local", "size"),
        rate_card_currency=("currency", lambda s: s.iloc[0] if s.nunique() == 1 else "mixed"),
        price_per_outcome_median_local=("price_per_outcome_local", "median"),
        price_per_outcome_median_usd=("price_per_outcome_usd", "median"))
    df = projects.join(prices, on="project_id")
    df.loc[df["rate_card_currency"] == "mixed", "price_per_outcome_median_local"] = np.nan
    df["rate_card_prices"] = df["rate_card_prices"].fillna(0)
    return conform(df, "projects"), conform(rate_cards, "rate_cards")


def _commitments_fallback(src: Path, rep: ImportReport, df: pd.DataFrame, usd: pd.Series) -> pd.DataFrame:
    """Where a project gives no maximum outcome payment, sum its payers' commitments,
    but only when every payer's amount was read and all are in one currency."""
    t = "projects"
    raw = _read(src, "projects_outcome_payment_commitments.csv", rep, "outcome_payment_commitments")
    m = "Maximum potential Outcome payment - "
    amount, hint = _numbers(_col(raw, m + "Amount"), rep, "outcome_payment_commitments", "amount_local")
    c_usd, _ = _numbers(_col(raw, m + "Amount USD"), rep, "outcome_payment_commitments", "amount_usd")
    proj_cur = raw["Project ID"].map(df.set_index("project_id")["currency"])
    # currency: the column, else a symbol in the text (a bare "$" is the project's
    # dollar currency, else unknown), else the project's currency
    dollar = proj_cur.where(proj_cur.isin(_DOLLARS))
    from_hint = hint.where(hint != "$", dollar.where(hint == "$"))
    cur = _col(raw, m + "Currency").map(normalise_currency)
    cur = cur.where(cur.notna(), from_hint.where(hint.notna(), proj_cur))
    c = pd.DataFrame({"project_id": raw["Project ID"], "amount": amount, "usd": c_usd, "currency": cur,
                      "blank": _col(raw, m + "Amount").isna()})
    sums = {}
    for pid, g in c.groupby("project_id"):
        if g["blank"].all():
            continue
        if g["amount"].isna().any():
            reason = "commitments incomplete (a payer's amount missing or unread)"
        elif g["currency"].isna().any() or g["currency"].nunique() > 1:
            reason = "commitments in mixed or unknown currencies"
        else:
            total, currency = g["amount"].sum(), g["currency"].iloc[0]
            usd_total = g["usd"].sum() if g["usd"].notna().all() else (total if currency == "USD" else np.nan)
            sums[pid] = (total, currency, usd_total)
            continue
        if pid in set(df.loc[df["max_outcome_payments_local"].isna(), "project_id"]):
            rep.skip_field(t, "max_outcome_payments_local", reason, pid)
    need = df["max_outcome_payments_local"].isna() & df["project_id"].isin(sums)
    for i in df.index[need]:
        amount_i, cur_i, usd_i = sums[df.at[i, "project_id"]]
        df.at[i, "max_outcome_payments_local"] = amount_i
        df.at[i, "max_outcome_payments_currency"] = cur_i
        df.at[i, "max_outcome_payments_source"] = "sum of payer commitments"
        usd.at[i] = usd_i
    rep.filled[(t, "max_outcome_payments_local", "sum of payer commitments")] += int(need.sum())
    df["max_outcome_payments_usd"] = _usd(df["max_outcome_payments_local"], usd, df["max_outcome_payments_currency"],
                                          rep, t, "max_outcome_payments_usd")
    return df
