"""Upper bounds on sizes, so a typo cannot ask for gigabytes or a run that never ends.

Each limit has a default that a laptop handles and, where a user may mean a
larger value, an environment variable that raises it (README, "Limits").
Limits are read when they are checked, so the variable can be set per command.
"""

from __future__ import annotations

import os

from ..screening import MAX_ABS  # noqa: F401  (any number in a scenario: larger ones overflow; defined there)

# name: (default, environment variable or None, what is counted)
LIMITS: dict[str, tuple[float, str | None, str]] = {
    "participants": (100_000, "SIBSIM_MAX_PARTICIPANTS", "participants (starts over the horizon)"),
    "referrals": (1_000_000, "SIBSIM_MAX_REFERRALS", "expected referrals over the horizon"),
    "periods": (600, None, "periods"),
    "trials": (10_000_000, "SIBSIM_MAX_TRIALS", "trials"),
    "chunk": (200_000, "SIBSIM_MAX_CHUNK", "trials computed at once"),
    "points": (100_000, "SIBSIM_MAX_POINTS", "points in a sweep"),
    "caseworkers": (10_000, None, "caseworkers"),
    "caseload": (10_000, None, "cases per caseworker"),
}
MAX_AMOUNT = 1e12  # any amount of money, multiplier-free (a trillion: far above any outcomes contract)
MAX_MULTIPLIER = 1e3  # per-trial multipliers (volume, cost overrun)
MAX_INT = 2**63 - 1  # whole numbers are stored in 64 bits
MAX_DEPTH = 50  # nesting of a scenario file
TOLERANCE = 1e-3  # most prior mass an unbounded prior may put outside a use's range (the rest is clipped)


def limit(name: str) -> float:
    """The current limit ``name`` (its environment variable, if set to a positive number, else the default)."""
    default, env, _ = LIMITS[name]
    if env and os.environ.get(env, "").strip():
        raw = os.environ[env].strip()
        try:
            v = float(raw.replace("_", ""))
        except ValueError:
            v = float("nan")
        if not (v >= 1 and v < MAX_INT):
            from ..errors import UsageError

            raise UsageError(f"environment variable {env}={raw!r}: must be a whole number >= 1")
        return int(v)
    return default


def over(name: str, value: float, *, allowed_note: str = "") -> str | None:
    """A message if ``value`` exceeds limit ``name``, else None."""
    lim = limit(name)
    if value <= lim:
        return None
    _, env, what = LIMITS[name]
    raise_it = f" (set {env} to raise it)" if env else ""
    return f"{value:,.0f} {what} is above the limit of {lim:,.0f}{raise_it}{allowed_note}"
