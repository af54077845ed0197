"""The Social Impact Bond: investors fund delivery and are repaid from outcome payments.

docs/model.md s.8.1; docs/finance.md. Capital comes in tranches (one unlimited
tranche by default), drawn pro rata to their principal: as costs and the
intermediary's management fee fall, all up front, or on a schedule. Drawn but
unspent capital is held by the provider (or the vehicle that contracts it)
and returned at the horizon, pro rata, to tranches still owed (up to what
they are owed; the rest stays with the provider). Each period, in this order:

1. interest accrues on what each tranche is owed (its coupon);
2. costs are met from recycled outcome payments, then capital held, then new
   drawdowns; whatever is left falls on the provider;
3. outcome payments arrive: the intermediary keeps ``intermediary_fee_share``;
   while investors are owed, the payers keep ``1 - pass_through_share`` of the
   rest (Utah: investors get 95% until repaid at 5% interest);
4. up to ``recycle_until`` the remainder is kept to fund later costs (Essex:
   GBP 3.1m of capital funded about 5.9m of costs); afterwards it, and what
   was kept, goes down the waterfall, senior first, each tranche up to its
   principal plus coupon (a tranche without a coupon takes all that reaches
   it), and what is left goes to ``excess_to``.

At the horizon (or when the contract ends early, ``settle_period``) a
guarantor repays each tranche ``guarantee_share`` of its principal loss
(Rikers Island: 75%), in all at most ``guarantee_amount`` (a guarantee of a
fixed amount; cut pro rata across tranches). A tranche held by the provider is a
deferred fee (Massachusetts): the provider funds that share of costs itself
and is repaid from outcome payments in its place in the waterfall.
"""

from __future__ import annotations

from typing import Literal

import numpy as np

from .cashflows import CashFlows, cash_flows
from .waterfall import waterfall


def _per_trial(x, n: int, J: int | None = None) -> np.ndarray:
    """A term as (n,) float (from a scalar or (n,)), or as (n, J) (from a scalar, (J,) or (n, J))."""
    return np.broadcast_to(np.asarray(x, dtype=float), (n,) if J is None else (n, J)).astype(float)


def sib(*, costs: np.ndarray, payments: np.ndarray, payer_share=1.0, principal=np.inf, coupon_per_period=np.nan,
        holders: tuple[str, ...] = ("investor",), names: tuple[str, ...] | None = None, guarantee_share=0.0,
        drawdown: Literal["as_needed", "upfront", "schedule"] = "as_needed", schedule=None,
        fee_per_period=0.0, intermediary_fee_share=0.0, pass_through_share=1.0,
        excess_to: Literal["commissioner", "provider"] = "commissioner", recycle_until: int | None = None,
        guarantee_amount=np.inf, settle_period=None) -> CashFlows:
    """Cash flows of a SIB for ``(n, T)`` delivery ``costs`` and outcome ``payments`` (rate card, all payers).

    payer_share: the local commissioner's share of each payment (the rest: the outcomes fund)
    principal, coupon_per_period, guarantee_share: per tranche, (J,) or (n, J), senior first;
        principal ``inf`` = unlimited (one tranche only), coupon ``nan`` = no cap
    holders: "investor" or "provider" for each tranche; names: label each tranche's flows
        in ``parts`` (``investor.senior``); None for the single default tranche
    schedule: (T,) amounts drawn in each period when ``drawdown == "schedule"``
    fee_per_period: intermediary management fee, funded like costs
    guarantee_amount: (n,) or scalar, the most the guarantor pays in all (a fixed-amount guarantee; ``inf``: none)
    settle_period: (n,) int, the period the contract ends (early termination, docs/model.md s.8.3):
        no drawdown after it, unspent capital returned and the guarantee paid at its end (default: ``T - 1``)
    """
    costs = np.asarray(costs, dtype=float)
    payments = np.asarray(payments, dtype=float)
    n, T = costs.shape
    J = len(holders)
    principal = _per_trial(principal, n, J)
    rate = _per_trial(coupon_per_period, n, J)
    capped = ~np.isnan(rate)
    rate = np.where(capped, rate, 0.0)
    gshare = _per_trial(guarantee_share, n, J)
    investor = np.array([h == "investor" for h in holders])
    room = principal.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        weight = np.where(np.isinf(room)[:, None], np.isinf(principal) / np.isinf(principal).sum(axis=1, keepdims=True),
                          principal / np.where(room > 0, room, 1.0)[:, None])
    fee = np.broadcast_to(np.asarray(fee_per_period, dtype=float)[..., None] if np.ndim(fee_per_period) else
                          float(fee_per_period), (n, T))
    need_all = costs + fee
    sched = np.zeros(T)
    if drawdown == "schedule":
        s = np.asarray(schedule, dtype=float)[:T]
        sched[: len(s)] = s
    end = np.full(n, T - 1, dtype=np.int64) if settle_period is None else np.minimum(
        np.asarray(settle_period, dtype=np.int64), T - 1)
    if settle_period is not None and drawdown != "as_needed":  # nothing is drawn after the contract ends
        simple = False
    ifs = _per_trial(intermediary_fee_share, n)
    keep = 1.0 - _per_trial(pass_through_share, n)

    owed = np.where(capped, 0.0, np.inf)
    drawn = np.zeros((n, J))
    got = np.zeros((n, J))
    held_pay = np.zeros(n)  # recycled outcome payments not yet spent
    held_cap = np.zeros(n)  # drawn capital not yet spent
    ifee = ifs[:, None] * payments
    rest_all = payments - ifee
    simple = drawdown == "as_needed" and recycle_until is None
    if simple:  # no state in the drawdowns: cumulative need, cut at the commitment
        d_all = np.diff(np.minimum(np.cumsum(need_all, axis=1), room[:, None]), axis=1, prepend=0.0)
    if simple and J == 1 and not capped.any() and not keep.any():
        # one open-ended tranche that gets every payment: nothing carries forward
        draws = d_all[:, None, :]
        dist = rest_all[:, None, :]
        drawn, got = draws.sum(axis=2), dist.sum(axis=2)
        kept_in = kept_out = bypass = residual = np.zeros((n, T))
    else:
        draws_t, dist_t = np.zeros((T, n, J)), np.zeros((T, n, J))
        kept_in_t, kept_out_t, bypass_t, residual_t = np.zeros((4, T, n))
        need_t, rest_t = np.ascontiguousarray(need_all.T), np.ascontiguousarray(rest_all.T)
        d_t = np.ascontiguousarray(d_all.T) if simple else None
        for t in range(T):
            owed *= 1.0 + rate
            need = need_t[t]
            if simple:
                d = d_t[t]
            else:
                use = np.minimum(held_pay, need)
                held_pay -= use
                need = need - use
                if drawdown == "as_needed":
                    d = np.minimum(np.maximum(need - held_cap, 0.0), room)
                elif drawdown == "upfront":
                    d = room.copy() if t == 0 else np.zeros(n)
                else:
                    d = np.where(t <= end, np.minimum(sched[t], room), 0.0)
                room -= d
                held_cap += d
                held_cap -= np.minimum(held_cap, need)
            dj = draws_t[t]
            np.multiply(d[:, None], weight, out=dj)
            drawn += dj
            owed += dj
            rest = rest_t[t]
            if keep.any():
                bypass_t[t] = np.where((owed > 0).any(axis=1), keep * rest, 0.0)
                rest = rest - bypass_t[t]
            if recycle_until is not None and t <= recycle_until and t < T - 1:
                held_pay += rest
                kept_in_t[t] = rest
                continue
            kept_out_t[t] = held_pay
            avail = rest + held_pay
            held_pay = np.zeros(n)
            paid = waterfall(avail, owed)
            owed -= paid
            got += paid
            dist_t[t] = paid
            residual_t[t] = avail - paid.sum(axis=1)
        draws, dist = draws_t.transpose(1, 2, 0), dist_t.transpose(1, 2, 0)
        kept_in, kept_out, bypass, residual = (x.T for x in (kept_in_t, kept_out_t, bypass_t, residual_t))

    with np.errstate(invalid="ignore", divide="ignore"):
        returned = np.where(drawn > 0, held_cap[:, None] * drawn / drawn.sum(axis=1, keepdims=True), 0.0)
    returned = np.minimum(returned, owed)  # a tranche already repaid leaves its share with the provider
    guarantee = gshare * np.maximum(drawn - returned - got, 0.0)
    amount = _per_trial(guarantee_amount, n)
    total = guarantee.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):  # a fixed amount: every tranche's cover cut pro rata
        guarantee = guarantee * np.where(total > amount, amount / np.where(total > 0, total, 1.0), 1.0)[:, None]
    at_end = np.arange(T)[None, :] == end[:, None]  # (n, T): settlement at the end of the contract
    tranche = dist - draws
    tranche += at_end[:, None, :] * (returned + guarantee)[:, :, None]
    inv = tranche[:, investor].sum(axis=1)
    prov_tranche = dist[:, ~investor].sum(axis=1)
    prov_tranche += at_end * guarantee[:, ~investor].sum(axis=1)[:, None]
    ret_inv = at_end * returned[:, investor].sum(axis=1)[:, None]
    refund = bypass + (residual if excess_to == "commissioner" else 0.0)
    share = np.asarray(payer_share, dtype=float)
    share = share[:, None] if share.ndim else share
    guar = -(at_end * guarantee.sum(axis=1)[:, None])
    extra = {
        "investor_drawdowns": (drawn - returned)[:, investor].sum(axis=1),
        "investor_distributions": got[:, investor].sum(axis=1),
        "guarantee_paid": guarantee.sum(axis=1),
        "excess_payments": residual.sum(axis=1),
        "recycled_payments": kept_in.sum(axis=1),
    }
    for j, (h, nm) in enumerate(zip(holders, names or ())):
        extra[f"{h}_{nm}_drawdowns"] = drawn[:, j] - returned[:, j]
        extra[f"{h}_{nm}_distributions"] = got[:, j]
    return cash_flows(
        (n, T),
        investor=inv,
        commissioner=-share * (payments - refund),
        outcome_fund=-(1 - share) * (payments - refund),
        provider=(draws[:, investor].sum(axis=1) - need_all + kept_in - kept_out - ret_inv + prov_tranche
                  + (residual if excess_to == "provider" else 0.0)),
        intermediary=fee + ifee,
        guarantor=guar,
        delivery=costs,
        extra=extra,
        parts={f"{h}.{nm}": tranche[:, j] for j, (h, nm) in enumerate(zip(holders, names or ()))},
    )


def sib_guarantee(sc, params, n: int, end_period=None) -> dict[str, np.ndarray]:
    """Per-trial guarantee terms: each tranche's share is ``share * share_scale + share_floor``, all capped at ``amount``.

    ``finance.sib.guarantee_amount`` alone (share 0) covers the whole loss up to
    the amount; with a share, that share up to the amount. On early termination
    (``end_period < T - 1``) with ``termination.guarantee_amount``, the guarantor
    pays that fixed sum, at most the loss, in place of these terms.
    """
    from ..cohorts import value

    s = sc.finance.sib
    floor = np.zeros(n)
    scale = np.ones(n)
    amount = np.full(n, np.inf)
    if s.guarantee_amount is not None:
        amount[:] = value(s.guarantee_amount, params)
        if isinstance(s.guarantee_share, float) and s.guarantee_share == 0.0:
            floor[:] = 1.0
    term = getattr(sc, "termination", None)
    if term is not None and term.guarantee_amount is not None and end_period is not None:
        early = np.asarray(end_period) < sc.horizon_periods - 1
        scale = np.where(early, 0.0, scale)
        floor = np.where(early, 1.0, floor)
        amount = np.where(early, value(term.guarantee_amount, params), amount)
    return {"share_scale": scale, "share_floor": floor, "amount": amount}
