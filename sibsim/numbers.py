"""Numbers for people: thousands separators, percentages, currency symbols, no scientific notation, no "-0".

Every table, the app, the workbook and the PDF format numbers here, by unit (``sibsim.outputs.UNITS``):
:func:`sibsim.outputs.fmt_output` looks an output's unit up and calls :func:`fmt`.
"""

from __future__ import annotations

import math

SYMBOLS = {"GBP": "£", "USD": "$", "EUR": "€"}


def _no_minus_zero(text: str) -> str:
    return text[1:] if text.startswith("-") and not any(c in "123456789" for c in text) else text


def fmt(x, unit_: str | None, *, symbol: str = "", digits: int = 1) -> str:
    """A number for a table: thousands separators, percentages, no scientific notation, no "-0".

    unit_: one of ``sibsim.outputs.UNITS`` (None: a plain number); symbol: prefixed to currency amounts.
    """
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "undefined"
    x = float(x)
    if math.isinf(x):
        return "∞" if x > 0 else "-∞"
    if unit_ in ("share", "probability", "rate_per_year"):
        text = f"{x:.{digits}%}"
    elif unit_ == "currency":
        text = f"{x:,.0f}"
        text = (f"-{symbol}{text[1:]}" if text.startswith("-") else f"{symbol}{text}") if symbol else text
    elif unit_ == "multiple":
        text = f"{x:,.2f}x"
    elif abs(x) >= 100:
        text = f"{x:,.0f}"
    elif unit_ == "count":
        text = f"{x:,.1f}"
    else:
        text = f"{x:,.{max(digits, 2)}f}"
    return _no_minus_zero(text)
