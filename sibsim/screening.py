"""Inputs pydantic would coerce silently, refused before validation with the field's location.

A YAML ``true`` where a number is expected (pydantic reads it as 1) and numbers beyond +-1e15 (beyond them
sums, variances and 64-bit counts overflow) are refused by :func:`screen_inputs`, every scenario model's
before-validator (``sibsim.spec.base``, the priors of ``sibsim.dists``).
"""

from __future__ import annotations

import math
import typing

from pydantic import ValidationError
from pydantic_core import InitErrorDetails, PydanticCustomError

MAX_ABS = 1e15  # no number in a scenario is larger: beyond it sums, variances and 64-bit counts overflow


def _admits_bool(ann) -> bool:
    if ann is bool:
        return True
    if isinstance(ann, type):
        return False
    return any(_admits_bool(a) for a in typing.get_args(ann) if not isinstance(a, (str, int, float)))


def _is_dict_type(ann) -> bool:
    origin = typing.get_origin(ann)
    if origin is dict:
        return True
    if isinstance(ann, type) or origin is None:
        return False
    return any(_is_dict_type(a) for a in typing.get_args(ann) if not isinstance(a, (str, int, float)))


def _screen(value, loc: tuple, bools_ok: bool, out: list) -> None:
    if isinstance(value, bool):
        if not bools_ok:
            out.append((loc, value, f"{str(value).lower()} is a yes/no value, not a number or a name"))
    elif isinstance(value, (int, float)):
        if isinstance(value, float) and not math.isfinite(value):
            out.append((loc, value, f"must be a finite number; got {value}"))
        elif abs(value) > MAX_ABS:
            out.append((loc, value, f"{value:g} is too large; allowed: at most {MAX_ABS:g} in size"))
    elif isinstance(value, (list, tuple)) and len(loc) < 3:  # a list's items, not lists within (aliases can
        for i, x in enumerate(value):                        # make those exponentially many)
            _screen(x, (*loc, i), bools_ok, out)


_PLANS: dict = {}


def screen_inputs(cls, data):
    """A model's before-validator: refuse inputs pydantic would coerce silently.

    ``true``/``yes`` where a number is expected (pydantic reads them as 1) and
    numbers beyond +-1e15 (integers beyond 64 bits among them) are refused
    with the field's location, before any coercion. Non-finite numbers are
    refused by ``allow_inf_nan=False`` in the models' config.
    """
    if not isinstance(data, dict):
        return data
    plan = _PLANS.get(cls)
    if plan is None:  # field (and alias) -> (admits a yes/no, is a mapping of values), once per class
        plan = _PLANS[cls] = {k: (_admits_bool(f.annotation), _is_dict_type(f.annotation))
                              for n, f in cls.__pydantic_fields__.items() for k in {n, f.alias or n}}
    found: list = []
    for key, v in data.items():
        if not isinstance(key, str) or key not in plan:  # an unknown key is refused by extra="forbid"
            continue
        ok, mapping = plan[key]
        if isinstance(v, dict):
            if mapping:  # a mapping of values; a nested model screens itself
                for k, x in v.items():
                    _screen(x, (key, k), ok, found)
        else:
            _screen(v, (key,), ok, found)
    if found:
        raise ValidationError.from_exception_data(cls.__name__, [
            InitErrorDetails(type=PydanticCustomError("refused_input", "{why}", {"why": why}), loc=loc, input=v)
            for loc, v, why in found])
    return data
