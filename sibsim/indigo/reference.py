"""Where a scenario sits among real impact bonds (reference classes from INDIGO)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..errors import UsageError

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
