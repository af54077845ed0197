"""The portfolio file: the contracts an outcomes fund pays into and what they share (issue 13).

A portfolio lists contracts -- a scenario file (shipped or the user's), how
many copies, when each starts, and optionally its size and capital -- and the
uncertainty the contracts share: a parameter whose prior is drawn on common
ground for every contract of a kind (``shared``: the effect of one
intervention is uncertain, and if it is weaker than hoped it is weaker
everywhere), and economic shocks that multiply named parameters in every
contract that has them (``shocks``). Paths of scenario files are relative to
the portfolio file. See docs/model.md (portfolios) and :mod:`sibsim.portfolio`.
"""

from __future__ import annotations

import re
from pathlib import Path

import yaml
from pydantic import Field, ValidationError, field_validator, model_validator

from ..dists import Prior
from ..paths import not_a_file
from ..errors import ScenarioError
from .base import FrozenDict, _M

_NAME = r"^[A-Za-z_][A-Za-z0-9_]*$"
_START = re.compile(r"^(\d{4})(?:-(\d{2}))?$")


class Contract(_M):
    name: str = Field(pattern=_NAME, description="label in the results")
    scenario: str = Field(description="scenario YAML file, relative to the portfolio file")
    kind: str | None = Field(None, description="contracts of one kind can share parameters (default: the name)")
    count: int = Field(1, ge=1, le=1000, description="independent copies of this contract")
    start: str = Field(description="first period of the contract: YYYY or YYYY-MM")
    every_months: int | None = Field(None, ge=1, le=600, description="copies start this many months apart "
                                                                      "(default: all at start)")
    participants: float | None = Field(None, gt=0, description="cohort size: the scenario is scaled to it "
                                                               "(sibsim.scale.scale_scenario)")
    capital: float | None = Field(None, ge=0, description="investor capital: sets finance.sib.capital_commitment")
    set: FrozenDict(str, float) = Field(default_factory=dict, description="fix named parameters (like --set)")
    source: str = Field("", description="where the contract's numbers come from (e.g. an INDIGO project id)")

    @field_validator("start")
    @classmethod
    def _start(cls, v):
        m = _START.match(v)
        if not m or (m.group(2) and not 1 <= int(m.group(2)) <= 12):
            raise ValueError(f"must be YYYY or YYYY-MM (e.g. 2019-04); got {v!r}")
        return v

    @property
    def start_year(self) -> float:
        """Start as a fractional calendar year (2019-04 -> 2019.25)."""
        m = _START.match(self.start)
        return int(m.group(1)) + ((int(m.group(2)) - 1) / 12 if m.group(2) else 0.0)


class Shared(_M):
    """Parameters drawn on common ground for every contract of the given kinds that has them.

    ``rho`` is the correlation of the contracts' normal scores (a one-factor
    Gaussian copula): 1 draws one value for all of them, 0 leaves them
    independent.
    """

    name: str = Field(pattern=_NAME)
    parameters: tuple[str, ...] = Field(min_length=1)
    kinds: tuple[str, ...] | None = Field(None, description="contract kinds that share them (default: all)")
    rho: float = Field(1.0, ge=0, le=1)


class Shock(_M):
    """A common economic shock: one draw per trial multiplies the named parameters in every contract that has them."""

    name: str = Field(pattern=_NAME)
    prior: Prior
    multiplies: tuple[str, ...] = Field(min_length=1, description="parameter names")
    kinds: tuple[str, ...] | None = None


class Portfolio(_M):
    name: str = Field(min_length=1)
    description: str = ""
    currency: str = "GBP"
    payer: str = Field("outcome_fund", pattern=r"^(outcome_fund|commissioner|public)$",
                       description="whose spend is totalled: the central outcome_fund, the local commissioner, "
                                   "or public (both)")
    budget: float | None = Field(None, gt=0, description="the payer's budget for all the contracts")
    contracts: tuple[Contract, ...] = Field(min_length=1)
    shared: tuple[Shared, ...] = ()
    shocks: tuple[Shock, ...] = ()

    @model_validator(mode="after")
    def _unique(self):
        names = [c.name for c in self.contracts]
        dup = sorted({n for n in names if names.count(n) > 1})
        if dup:
            raise ValueError(f"contract names must be unique; repeated: {', '.join(dup)}")
        return self


def read_portfolio(path: str | Path) -> Portfolio:
    """Read and validate a portfolio YAML file (the contracts' scenarios are loaded by sibsim.portfolio)."""
    path = Path(path)
    if (reason := not_a_file(path)) is not None:  # a directory, a FIFO or /dev/zero: say which
        raise ScenarioError([("", reason)], source=str(path))
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (yaml.YAMLError, UnicodeDecodeError) as err:
        raise ScenarioError([("", f"not valid YAML: {err}".replace("\n", " "))], source=str(path)) from None
    try:
        return Portfolio.model_validate(data)
    except ValidationError as err:
        from .load import _problems  # noqa: PLC2701  (the one place pydantic errors become field messages)

        raise ScenarioError(_problems(err), source=str(path)) from None
