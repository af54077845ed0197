"""The ``finance`` section of a scenario: who pays costs and who bears risk (MODEL.md s.5)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from .base import Value, _M


class Sib(_M):
    capital_commitment: Value | None = Field(None, description="investor capital; unlimited if omitted")
    drawdown: Literal["as_needed", "upfront"] = "as_needed"
    management_fee_per_period: Value = Field(0.0, description="intermediary fee, funded by investors")
    return_cap_annual: Value | None = Field(None, description="investors' return is capped at this annual rate")
    excess_to: Literal["commissioner", "provider"] = "commissioner"
    guarantee_share: Value = Field(0.0, description="share of investors' principal loss repaid by a guarantor")


class Finance(_M):
    model: Literal["sib"] = "sib"
    sib: Sib = Sib()
