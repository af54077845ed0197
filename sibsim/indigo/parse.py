"""Reading the export's cells: numbers, dates and currencies from free text.

Numeric fields hold free text now and then (``"C$1.16M (estimate)"``,
``"=D41-D36"``, ``"303 children and their families"``). :func:`parse_number`
reads a number only when one reading is clear, and otherwise returns NaN with
a reason that :class:`~sibsim.indigo.tables.ImportReport` counts. Nothing is
guessed: ranges, revised values, several numbers in one cell, European
``290.000`` and formulas are skipped with their reason.
"""

from __future__ import annotations

import re
from typing import NamedTuple

import numpy as np
import pandas as pd

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
