"""INDIGO impact bond data: the GO Lab CSV export as tidy tables, and reference classes.

INDIGO (International Network for Data on Impact and Government Outcomes) is
published as open data by the Government Outcomes Lab, University of Oxford:
https://golab.bsg.ox.ac.uk/knowledge-bank/indigo/ . Attribute GO Lab / INDIGO
wherever these numbers are shown.

The export has one CSV per data type with headers ``Section - Field - (Value)``.
Numeric fields hold free text now and then (``"C$1.16M (estimate)"``,
``"=D41-D36"``, ``"303 children and their families"``). :func:`parse_number`
reads a number only when one reading is clear, and otherwise returns NaN with
a reason; :class:`ImportReport` counts the reasons. Nothing is guessed: ranges,
revised values, several numbers in one cell, European ``290.000`` and formulas
are skipped and counted.

Five tidy tables (columns and dtypes in :data:`COLUMNS`):

- ``projects``: one row per impact bond; money in local currency and USD;
  ``duration_years``; ``participants`` (targeted service users, else those
  actually engaged); median rate-card price per outcome.
- ``rate_cards``: one row per priced outcome metric.
- ``investments``: one row per investor commitment.
- ``outcome_payments``: actual payments and the *latest* payment plan only;
  revised plans restate the same payments, so summing across plans would
  double count.
- ``results``: reported results per outcome metric.

``python -m sibsim.indigo build-snapshot SRC_DIR DEST_DIR`` writes the compact
snapshot shipped in ``sibsim/data/indigo``.
"""

from __future__ import annotations

import argparse
import json
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

import numpy as np
import pandas as pd

from ..errors import UsageError

SNAPSHOT_DIR = Path(__file__).parents[1] / "data" / "indigo"

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

CURRENCY_NAMES = {
    "russian ruble": "RUB", "russian rubles": "RUB", "rubles": "RUB", "roubles": "RUB",
    "japanese yen": "JPY", "yen": "JPY", "israeli new shekels": "ILS", "south african rand": "ZAR",
    "south korean won": "KRW", "nz dollar": "NZD", "swedish": "SEK", "swiss francs": "CHF",
    "pounds": "GBP", "euros": "EUR",
}
_SYMBOLS = {"US$": "USD", "C$": "CAD", "CA$": "CAD", "A$": "AUD", "AU$": "AUD", "NZ$": "NZD",
            "£": "GBP", "€": "EUR", "¥": "JPY", "$": "$"}  # bare "$": which dollar is decided by context
_DOLLARS = {"USD", "CAD", "AUD", "NZD"}


def normalise_currency(text) -> str | None:
    """ISO 4217 code for a currency as written in the export ("Russian Ruble" -> "RUB")."""
    if not isinstance(text, str) or not text.strip():
        return None
    t = text.strip()
    if re.fullmatch(r"[A-Za-z]{3}", t):
        return t.upper()
    return CURRENCY_NAMES.get(t.lower(), t)


# ---------------------------------------------------------------- parsing cells


class Parsed(NamedTuple):
    """A cell read as a number: ``value`` (NaN unless confident), a currency seen
    in the text (ISO code, ``"$"`` for a bare dollar sign, or None) and why it
    was skipped (None when parsed or blank)."""

    value: float
    currency: str | None = None
    reason: str | None = None


_PLAIN = re.compile(r"-?\d+(?:\.\d+)?")
_QUALIFIER = re.compile(r"^(?:approx(?:imately)?\.?|about|around|circa|ca?\.|~|est(?:imated)?\.?)\s*", re.I)
_SYMBOL = re.compile(r"^(US\$|CA?\$|AU?\$|NZ\$|£|€|¥|\$|[A-Z]{3}(?=\s*\d))\s*")
_NUMBER = re.compile(
    r"^(?P<num>\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d{1,3}(?:\.\d{3}){2,}|\d+(?:\.\d+)?)"
    r"\s*(?P<mult>thousand|million|mn|m|billion|bn|k)?(?![A-Za-z])",
    re.I,
)
_MULT = {"k": 1e3, "thousand": 1e3, "m": 1e6, "mn": 1e6, "million": 1e6, "bn": 1e9, "billion": 1e9}
_RANGE = re.compile(r"^\s*(?:-|–|—|to)\s*(?:US\$|C\$|\$|£|€|¥)?\s*\d", re.I)
_WORD_CURRENCY = re.compile(
    r"^\s*(" + "|".join(sorted(CURRENCY_NAMES, key=len, reverse=True)) + r"|[A-Z]{3})\b", re.I)


def parse_number(text) -> Parsed:
    """Read one number from a cell of the export, or say why not.

    >>> parse_number("C$1.16M (estimate)")
    Parsed(value=1160000.0, currency='CAD', reason=None)
    >>> parse_number("1,000-2,000").reason
    'range'
    """
    if text is None or (isinstance(text, float) and np.isnan(text)):
        return Parsed(np.nan)
    if isinstance(text, (int, float, np.number)):
        return Parsed(float(text))
    t = str(text).strip().replace("\u00a0", " ")
    if not t:
        return Parsed(np.nan)
    if _PLAIN.fullmatch(t):
        return Parsed(float(t))
    if t.startswith("="):
        return Parsed(np.nan, None, "spreadsheet formula")
    if not re.search(r"\d", t):
        return Parsed(np.nan, None, "no number")
    if re.search(r"revis|amend", t, re.I):
        return Parsed(np.nan, None, "revised value")
    rest = _QUALIFIER.sub("", t)
    currency = None
    m = _SYMBOL.match(rest)
    if m:
        currency = _SYMBOLS.get(m.group(1), m.group(1))
        rest = rest[m.end():]
    m = _NUMBER.match(rest)
    if not m:
        return Parsed(np.nan, None, "free text")
    num, tail = m.group("num"), rest[m.end():]
    if re.fullmatch(r"\d{1,3}\.\d{3}", num) and currency is not None and not m.group("mult"):
        return Parsed(np.nan, None, "ambiguous separator")  # CHF 290.000: thousands or decimals?
    if _RANGE.match(tail):
        return Parsed(np.nan, None, "range")
    if tail.lstrip().startswith("%"):
        return Parsed(np.nan, None, "percentage")
    outside = re.sub(r"\([^)]*\)", "", tail)
    if re.search(r"\d", outside):
        return Parsed(np.nan, None, "several numbers")
    wc = _WORD_CURRENCY.match(outside)
    if currency is None and wc:
        currency = normalise_currency(wc.group(1))
    digits = num.replace(",", "") if "," in num else (num.replace(".", "") if num.count(".") > 1 else num)
    value = float(digits) * _MULT.get((m.group("mult") or "").lower(), 1.0)
    return Parsed(value, currency, None)


_MONTH = re.compile(r"(\d{4})(?:-(\d{1,2}))?(?:-(\d{1,2}))?")


def parse_date(text) -> tuple[pd.Timestamp, str | None]:
    """``"2010-09"`` -> first day of that month; ``"2018"`` -> 1 January (year
    precision only); ``"2016-04-01"`` as is. Returns ``(NaT, reason)`` when
    unreadable (``"2018-13"`` has no month 13)."""
    if not isinstance(text, str) or not text.strip():
        return pd.NaT, None
    m = _MONTH.fullmatch(text.strip())
    if not m:
        return pd.NaT, "unrecognised date"
    year, month, day = int(m.group(1)), int(m.group(2) or 1), int(m.group(3) or 1)
    if not 1 <= month <= 12:
        return pd.NaT, "invalid month"
    try:
        return pd.Timestamp(year=year, month=month, day=day), None
    except ValueError:
        return pd.NaT, "invalid day"


# ---------------------------------------------------------------- the report


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


# ---------------------------------------------------------------- reading the export

_V = " - (Value)"
_FIN = "Overall project finance - "


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


def read_export(src_dir) -> IndigoTables:
    """Parse the INDIGO CSV export in ``src_dir`` into tidy tables."""
    src = Path(src_dir)
    if not src.is_dir():
        raise UsageError(f"INDIGO export: {src} is not a directory")
    rep = ImportReport(source=str(src))
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


# ---------------------------------------------------------------- the snapshot


def write_snapshot(data: IndigoTables, dest_dir) -> Path:
    """Write the tidy tables as CSV plus ``report.json`` into ``dest_dir``."""
    dest = Path(dest_dir)
    dest.mkdir(parents=True, exist_ok=True)
    for name, df in data.tables.items():
        df.to_csv(dest / f"{name}.csv", index=False, date_format="%Y-%m-%d", float_format="%.10g")
    report = data.report.to_dict()
    report["source"] = f"INDIGO CSV export {Path(data.report.source).name}/"
    (dest / "report.json").write_text(json.dumps(report, indent=1, ensure_ascii=False) + "\n")
    return dest


def from_frames(frames: dict[str, pd.DataFrame], report: ImportReport) -> IndigoTables:
    """Tables from plain DataFrames (a snapshot or the store), with the dtypes of :data:`COLUMNS`."""
    return IndigoTables(**{name: conform(frames[name], name) for name in TABLES}, report=report)


def load_snapshot(src_dir=None) -> IndigoTables:
    """The tidy tables from a snapshot directory (default: the one shipped with sibsim)."""
    src = Path(src_dir) if src_dir is not None else SNAPSHOT_DIR
    if not (src / "projects.csv").is_file():
        raise UsageError(f"INDIGO snapshot: {src} has no projects.csv; build one with "
                         "`python -m sibsim.indigo build-snapshot SRC_DIR DEST_DIR`")
    frames = {name: pd.read_csv(src / f"{name}.csv", dtype=object, keep_default_na=False, na_values=[""])
              for name in TABLES}
    report = ImportReport.from_dict(json.loads((src / "report.json").read_text()))
    report.source = f"snapshot {src} of {report.source}"
    return from_frames(frames, report)


def load(src_dir=None) -> IndigoTables:
    """A CSV export (``projects_outcome_pricings.csv`` present) or a snapshot; None is the shipped snapshot."""
    if src_dir is not None and (Path(src_dir) / "projects_outcome_pricings.csv").is_file():
        return read_export(src_dir)
    return load_snapshot(src_dir)


# ---------------------------------------------------------------- reference classes

_QUANTITIES = {  # argument -> (column stem, money?, currency column for local comparisons)
    "capital": ("capital_raised", True, "currency"),
    "max_outcome_payments": ("max_outcome_payments", True, "max_outcome_payments_currency"),
    "participants": ("participants", False, None),
    "price_per_outcome": ("price_per_outcome_median", True, "rate_card_currency"),
    "duration_years": ("duration_years", False, None),
}


def reference_class(projects_df: pd.DataFrame, *, capital=None, max_outcome_payments=None, participants=None,
                    price_per_outcome=None, duration_years=None, sector=None, currency: str = "USD") -> dict:
    """Where a scenario sits among real impact bonds.

    For each quantity given, the percentile rank of the value among projects
    with that quantity reported (ties count half), with ``n`` and the median
    and quartiles of the reference class. ``sector`` narrows the class to one
    policy sector. Money is compared in ``currency``: ``"USD"`` uses INDIGO's
    USD conversions; any other code compares local amounts among projects
    denominated in that currency (``"GBP"`` for UK bonds). ``price_per_outcome``
    is compared with each project's median rate-card price.

    Returns ``{quantity: {value, percentile, n, median, q1, q3, column, sector, currency}}``;
    ``pd.DataFrame(result).T`` gives a table.
    """
    given = {k: v for k, v in dict(capital=capital, max_outcome_payments=max_outcome_payments,
                                   participants=participants, price_per_outcome=price_per_outcome,
                                   duration_years=duration_years).items() if v is not None}
    currency = str(currency).strip().upper()
    df = projects_df
    if sector is not None:
        sectors = sorted(df["sector"].dropna().unique())
        match = [s for s in sectors if s.lower() == str(sector).strip().lower()]
        if not match:
            raise UsageError(f"reference_class: sector {sector!r} not among INDIGO sectors; "
                             f"allowed: {', '.join(sectors)}")
        df = df[df["sector"] == match[0]]
    out = {}
    for name, value in given.items():
        try:
            value = float(value)
        except (TypeError, ValueError):
            raise UsageError(f"reference_class: {name} must be a number; got {value!r}") from None
        if not np.isfinite(value):
            raise UsageError(f"reference_class: {name} must be finite; got {value!r}")
        stem, money, cur_col = _QUANTITIES[name]
        if money and currency == "USD":
            column, rows = f"{stem}_usd", df
        elif money:
            column, rows = f"{stem}_local", df[df[cur_col] == currency]
        else:
            column, rows = stem, df
        ref = pd.to_numeric(rows[column], errors="coerce").dropna().to_numpy(dtype=float)
        n = len(ref)
        if n:
            pct = 100.0 * (np.sum(ref < value) + 0.5 * np.sum(ref == value)) / n
            q1, median, q3 = np.percentile(ref, [25, 50, 75])
        else:
            pct = q1 = median = q3 = np.nan
        out[name] = {"value": value, "percentile": float(pct), "n": int(n), "median": float(median),
                     "q1": float(q1), "q3": float(q3), "column": column, "sector": sector,
                     "currency": currency if money else None}
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m sibsim.indigo", description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="command", required=True)
    b = sub.add_parser("build-snapshot", help="parse the CSV export and write the tidy tables")
    b.add_argument("src_dir")
    b.add_argument("dest_dir")
    args = ap.parse_args(argv)
    data = read_export(args.src_dir)
    write_snapshot(data, args.dest_dir)
    print(data.report)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
