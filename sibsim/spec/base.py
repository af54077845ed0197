"""Building blocks shared by the scenario's models.

Every number a scenario may give as a parameter name declares its *use*: what
it must be where it is used (a probability, an amount of money, a share, ...)
and so the range it must lie in. A field declares its use in its type, e.g.
``engagement: Probability = 1.0`` or ``size: Annotated[Value, Use("an effect",
lo=-1)]``. The use checks a number given directly when the field is validated,
and :func:`iter_uses` finds every declared use in a scenario, so the scenario
can check each parameter's prior against every place it is used
(:mod:`sibsim.spec.uses`). A model may narrow a use that depends on its other
fields by overriding :meth:`_M.refine_use`.
"""

from __future__ import annotations

import math
import re
import typing
from dataclasses import dataclass
from typing import Annotated, Any, Iterator, Union

from pydantic import AfterValidator, BaseModel, ConfigDict, PlainSerializer, model_validator
from pydantic_core import core_schema

from ..screening import screen_inputs
from .limits import MAX_AMOUNT, MAX_MULTIPLIER

NAME_PATTERN = r"^[A-Za-z_][A-Za-z0-9_]*$"
_NAME = re.compile(NAME_PATTERN)


def _param_name(v: str) -> str:
    if not _NAME.match(v):
        raise ValueError("must be a number, or the name of a parameter (letters, digits and _, not starting with "
                         "a digit)")
    return v


def _param_key(v: str) -> str:
    if not _NAME.match(v):
        raise ValueError("a parameter name is letters, digits and _ (not starting with a digit)")
    return v


# A number, or the name of a parameter in the scenario's parameter table.
ParamName = Annotated[str, AfterValidator(_param_name)]
ParamKey = Annotated[str, AfterValidator(_param_key)]  # a name in the parameter table
Value = Union[float, ParamName]


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


# ---------------------------------------------------------------- uses


def _g(x: float) -> str:
    return f"{x:,.0f}" if abs(x) >= 1e4 and float(x).is_integer() else f"{x:g}"


@dataclass(frozen=True)
class Use:
    """What a number must be where it is used: ``what`` it is and the range ``lo .. hi`` it must lie in.

    Put it in a field's type (``Annotated[Value, Use(...)]``): a number given
    directly is checked when the field is validated; a parameter name is
    checked by the scenario, against the parameter's prior (``spec.uses``).
    """

    what: str
    lo: float | None = None
    hi: float | None = None
    lo_open: bool = False
    hi_open: bool = False
    hi_is_limit: bool = False  # ``hi`` only bounds the size (an amount of money), not the meaning

    def allowed(self, short: bool = False) -> str:
        """The range in words; ``short`` leaves out a size limit (``hi_is_limit``)."""
        lo, hi = self.lo, self.hi
        if self.hi_is_limit and lo is not None and hi is not None:
            return f"{'>' if self.lo_open else '>='} {_g(lo)}" + ("" if short else f" (and at most {_g(hi)})")
        if lo is not None and hi is not None:
            if not (self.lo_open or self.hi_open):
                return f"between {_g(lo)} and {_g(hi)}"
            return f"{'>' if self.lo_open else '>='} {_g(lo)} and {'<' if self.hi_open else '<='} {_g(hi)}"
        if lo is not None:
            return f"{'>' if self.lo_open else '>='} {_g(lo)}"
        if hi is not None:
            return f"{'<' if self.hi_open else '<='} {_g(hi)}"
        return "any finite number"

    def admits(self, x: float) -> bool:
        if not math.isfinite(x):
            return False
        if self.lo is not None and (x <= self.lo if self.lo_open else x < self.lo):
            return False
        return not (self.hi is not None and (x >= self.hi if self.hi_open else x > self.hi))

    @property
    def bounds(self) -> tuple[float, float]:
        return (-math.inf if self.lo is None else self.lo, math.inf if self.hi is None else self.hi)

    def check(self, v):
        """Validate a number given directly (a parameter name or None passes: the scenario checks those)."""
        if v is None or isinstance(v, str):
            return v
        if not math.isfinite(v):
            raise ValueError("must be a finite number")
        if self.hi_is_limit and v > self.hi:
            raise ValueError(f"must be at most {_g(self.hi)}; got {v!r} ({self.what}: a limit on size)")
        if not self.admits(v):
            raise ValueError(f"must be {self.allowed(short=True)}; got {v!r} ({self.what})")
        return v

    def __get_pydantic_core_schema__(self, source, handler):
        return core_schema.no_info_after_validator_function(self.check, handler(source))


PROBABILITY = Use("a probability", 0, 1)
SHARE = Use("a share", 0, 1)
RATE = Use("an annual rate", 0, 1)
MONEY = Use("an amount of money", 0, MAX_AMOUNT, hi_is_limit=True)
MULTIPLIER = Use("a multiplier", 0, MAX_MULTIPLIER, hi_is_limit=True)

Probability = Annotated[Value, PROBABILITY]
Share = Annotated[Value, SHARE]
Rate = Annotated[Value, RATE]
Money = Annotated[Value, MONEY]
Multiplier = Annotated[Value, MULTIPLIER]


def check_range(v, *, lo: float | None = None, hi: float | None = None, lo_open: bool = False, what: str = ""):
    """Range check for a number (a parameter name passes: it is checked against the table later).

    The message says what is allowed; the loader appends the value given.
    """
    return Use(what, lo, hi, lo_open).check(v)


# ---------------------------------------------------------------- the base model


class _M(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)

    _screen_inputs = model_validator(mode="before")(classmethod(screen_inputs))

    def refine_use(self, field: str, use: Use) -> Use:
        """The use of ``field`` (a dotted path below this model) given this model's other fields."""
        return use


def _scalar_use(ann, metadata=()) -> Use | None:
    for m in metadata:
        if isinstance(m, Use):
            return m
    origin = typing.get_origin(ann)
    if origin is Annotated:
        args = typing.get_args(ann)
        return _scalar_use(args[0], args[1:])
    if origin is Union or str(origin) == "types.UnionType" or type(ann).__name__ == "UnionType":
        for a in typing.get_args(ann):
            u = _scalar_use(a)
            if u is not None:
                return u
    return None


def _items_ann(ann):
    """The annotation of the items of a dict or tuple field (through Annotated and Optional), or None."""
    origin = typing.get_origin(ann)
    if origin is Annotated:
        return _items_ann(typing.get_args(ann)[0])
    if origin in (dict, tuple, list):
        args = [a for a in typing.get_args(ann) if a is not Ellipsis]
        return args[-1] if args else None
    if origin is Union or type(ann).__name__ == "UnionType":
        for a in typing.get_args(ann):
            r = _items_ann(a)
            if r is not None:
                return r
    return None


_PLANS: dict = {}


def _plan(cls) -> list[tuple[str, Use | None, Use | None]]:
    """(field, use of a scalar value, use of each item of a mapping or tuple) for each field, once per class."""
    plan = _PLANS.get(cls)
    if plan is None:
        plan = []
        for name, f in cls.__pydantic_fields__.items():
            items = _items_ann(f.annotation)
            plan.append((name, _scalar_use(f.annotation, tuple(f.metadata)),
                         None if items is None else _scalar_use(items)))
        _PLANS[cls] = plan
    return plan


def _refiners(model) -> bool:
    return getattr(type(model), "refine_use", _M.refine_use) is not _M.refine_use


def iter_uses(model: BaseModel, path: tuple = (), owners: tuple = ()) -> Iterator[tuple[tuple, Use, Any]]:
    """``(path, use, value)`` for every number or parameter name in ``model`` whose field declares a use.

    Each use is refined by the models that contain it (:meth:`_M.refine_use`), innermost first.
    """
    if _refiners(model):
        owners = (*owners, (model, path))
    for name, use, item_use in _plan(type(model)):
        v = getattr(model, name)
        if v is None:
            continue
        at = (*path, name)
        if isinstance(v, BaseModel):
            yield from iter_uses(v, at, owners)
        elif isinstance(v, (int, float, str)):
            if use is not None and not isinstance(v, bool):
                yield at, _refine(use, at, owners), v
        elif isinstance(v, (dict, tuple, list)):
            for k, x in (v.items() if isinstance(v, dict) else enumerate(v)):
                if isinstance(x, BaseModel):
                    yield from iter_uses(x, (*at, k), owners)
                elif item_use is not None and isinstance(x, (int, float, str)) and not isinstance(x, bool):
                    yield (*at, k), _refine(item_use, (*at, k), owners), x


def _refine(use: Use, path: tuple, owners: tuple) -> Use:
    for owner, at in reversed(owners):
        use = owner.refine_use(".".join(map(str, path[len(at):])), use)
    return use
