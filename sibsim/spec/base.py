"""Building blocks shared by the scenario's models."""

from __future__ import annotations

from typing import Union

from pydantic import BaseModel, ConfigDict

# A number, or the name of a parameter in the scenario's parameter table.
Value = Union[float, str]


class _M(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
