"""Building blocks shared by the scenario's models."""

from __future__ import annotations

import math
from typing import Annotated, Union

from pydantic import AfterValidator, BaseModel, ConfigDict, PlainSerializer

# A number, or the name of a parameter in the scenario's parameter table.
Value = Union[float, str]


class ReadOnlyDict(dict):
    """A dict that refuses changes (and still pickles, for worker processes)."""

    __slots__ = ()

    def _read_only(self, *args, **kwargs):
        raise TypeError("scenarios are immutable: use scenario.with_params(...), or edit "
                        "sibsim.spec.to_dict(scenario) and validate it again")

    __setitem__ = __delitem__ = clear = pop = popitem = setdefault = update = __ior__ = _read_only

    def __reduce__(self):
        return (type(self), (dict(self),))


def FrozenDict(key, value):
    """A dict field that is read-only once validated, so a frozen scenario stays frozen."""
    return Annotated[dict[key, value], AfterValidator(ReadOnlyDict), PlainSerializer(dict)]


class _M(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


def check_range(v, *, lo: float | None = None, hi: float | None = None, lo_open: bool = False, what: str = ""):
    """Range check for a number (a parameter name passes: it is checked against the table later).

    The message says what is allowed; the loader appends the value given.
    """
    if v is None or isinstance(v, str):
        return v
    note = f" ({what})" if what else ""
    if not math.isfinite(v):
        raise ValueError(f"must be a finite number{note}")
    if lo is not None and (v <= lo if lo_open else v < lo) or hi is not None and v > hi:
        if hi is None:
            allowed = f"> {lo}" if lo_open else f">= {lo}"
        else:
            allowed = f"between {lo} and {hi}"
        raise ValueError(f"must be {allowed}{note}")
    return v
